/* wsa backend: native WSAEventSelect, past the 64-handle wait limit.
 *
 * WSAWaitForMultipleEvents waits on at most 64 handles, but WSAEventSelect
 * lets any number of sockets share one event object.  So sockets are spread
 * over at most 63 groups, each with one manual-reset event (the 64th handle
 * is the loop's wakeup event): the first 63 sockets get a group each, later
 * ones join the smallest group.  One wait covers every socket.
 *
 * A signalled group does not say which of its sockets signalled, so the
 * whole group is swept: reset its event first, then WSAEnumNetworkEvents on
 * each member without an event handle.  Resetting before the sweep (not per
 * socket) means a record that lands during the sweep sets the event again
 * and is seen at the next wait instead of being lost.
 *
 * Fairness: Windows returns the lowest signalled index.  After it, the rest
 * of the array is waited on again with timeout 0, repeatedly, so every
 * signalled group is swept in every wait; the core's FIFO queue then hands
 * out the records in turn.  No socket waits behind a busy lower index.
 *
 * Every socket is selected once for all six events, whatever its netev mask:
 * the mask, the "disabled" bits and re-enabling live in user space as on the
 * other backends (ready_win.c), so netev_select costs no Winsock call. */
#include "netev_int.h"

#include <errno.h>
#include <stdlib.h>

#define MAX_GROUPS (WSA_MAXIMUM_WAIT_EVENTS - 1)
#define ALL_FD_EVENTS (FD_READ | FD_WRITE | FD_OOB | FD_ACCEPT | FD_CONNECT | FD_CLOSE)

typedef struct wsa_group {
    int32_t *slots; /* member sockets' slots */
    int32_t n, cap;
} wsa_group;

typedef struct wsa_state {
    WSAEVENT handles[WSA_MAXIMUM_WAIT_EVENTS]; /* [0] wakeup, [1 + g] group g */
    wsa_group groups[MAX_GROUPS];
    int ngroups;
    uint8_t *group_of; /* slot -> group */
    int32_t *pos_of;   /* slot -> index in its group's slots */
    int32_t cap;       /* capacity of group_of and pos_of */
} wsa_state;

static int wsa_init(netev_loop *loop)
{
    wsa_state *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    st->handles[0] = loop->wake_event;
    loop->bstate = st;
    return 0;
}

static void wsa_free(netev_loop *loop)
{
    wsa_state *st = loop->bstate;
    for (int g = 0; g < st->ngroups; g++) {
        /* The sockets stay the caller's: back to plain sockets, which can
         * be made blocking again or selected by another loop. */
        for (int32_t i = 0; i < st->groups[g].n; i++)
            WSAEventSelect(netev__slot_socket(loop, st->groups[g].slots[i]), NULL, 0);
        WSACloseEvent(st->handles[1 + g]);
        free(st->groups[g].slots);
    }
    free(st->group_of);
    free(st->pos_of);
    free(st);
}

/* The smallest group, or a new one while fewer than MAX_GROUPS exist and
 * every existing group has members. */
static int pick_group(wsa_state *st)
{
    int best = -1;
    for (int g = 0; g < st->ngroups; g++)
        if (best < 0 || st->groups[g].n < st->groups[best].n)
            best = g;
    if ((best < 0 || st->groups[best].n > 0) && st->ngroups < MAX_GROUPS) {
        WSAEVENT ev = WSACreateEvent();
        if (ev != WSA_INVALID_EVENT) {
            int g = st->ngroups++;
            st->handles[1 + g] = ev;
            st->groups[g] = (wsa_group){0};
            return g;
        }
    }
    return best;
}

static int reserve(wsa_state *st, int32_t slot)
{
    if (slot < st->cap)
        return 0;
    int32_t n = st->cap ? st->cap : 64;
    while (n <= slot)
        n *= 2;
    uint8_t *go = realloc(st->group_of, (size_t)n * sizeof *go);
    if (!go)
        return NETEV_ENOMEM;
    st->group_of = go;
    int32_t *po = realloc(st->pos_of, (size_t)n * sizeof *po);
    if (!po)
        return NETEV_ENOMEM;
    st->pos_of = po;
    st->cap = n;
    return 0;
}

static int wsa_add(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    wsa_state *st = loop->bstate;
    int32_t slot = netev__slot(loop, sk);
    int err = reserve(st, slot);
    if (err)
        return err;
    int g = pick_group(st);
    if (g < 0)
        return NETEV_ENOMEM;
    wsa_group *gr = &st->groups[g];
    if (gr->n == gr->cap) {
        int32_t cap = gr->cap ? gr->cap * 2 : 4;
        int32_t *t = realloc(gr->slots, (size_t)cap * sizeof *t);
        if (!t)
            return NETEV_ENOMEM;
        gr->slots = t;
        gr->cap = cap;
    }
    /* Events recorded before this call are kept by Windows and signal the
     * event at once (research §1.3), so nothing that already holds is lost. */
    if (WSAEventSelect(s, st->handles[1 + g], ALL_FD_EVENTS) == SOCKET_ERROR)
        return netev__map_wsa_sock(WSAGetLastError(), s);
    st->group_of[slot] = (uint8_t)g;
    st->pos_of[slot] = gr->n;
    gr->slots[gr->n++] = slot;
    return 0;
}

static void wsa_del(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    wsa_state *st = loop->bstate;
    int32_t slot = netev__slot(loop, sk);
    /* Needed for netev_forget (the socket lives on); before a close it is
     * one call more than necessary. */
    WSAEventSelect(s, NULL, 0);
    wsa_group *gr = &st->groups[st->group_of[slot]];
    int32_t i = st->pos_of[slot];
    int32_t last = gr->slots[--gr->n];
    gr->slots[i] = last;
    st->pos_of[last] = i;
}

static void sweep(netev_loop *loop, wsa_state *st, int g)
{
    wsa_group *gr = &st->groups[g];
    WSAResetEvent(st->handles[1 + g]);
    for (int32_t i = 0; i < gr->n; i++) {
        int32_t slot = gr->slots[i];
        WSANETWORKEVENTS ne = {0};
        if (WSAEnumNetworkEvents(netev__slot_socket(loop, slot), NULL, &ne) == SOCKET_ERROR)
            continue;
        if (ne.lNetworkEvents)
            netev__ready_wsa(loop, &loop->socks[slot], ne.lNetworkEvents, ne.iErrorCode);
    }
}

static int wsa_wait(netev_loop *loop, int64_t timeout_us)
{
    wsa_state *st = loop->bstate;
    int timeout_ms = netev__ms_ceil(timeout_us); /* Windows waits in whole ms */
    DWORD n = 1 + (DWORD)st->ngroups;
    DWORD r = WSAWaitForMultipleEvents(n, st->handles, FALSE, timeout_ms < 0 ? WSA_INFINITE : (DWORD)timeout_ms,
                                       FALSE);
    if (r == WSA_WAIT_TIMEOUT)
        return 0;
    if (r == WSA_WAIT_FAILED)
        return netev__map_wsa(WSAGetLastError());
    int woken = 0;
    for (DWORD i = r - WSA_WAIT_EVENT_0;;) {
        if (i == 0) {
            netev__drain_wakeup(loop);
            woken = 1;
        } else {
            sweep(loop, st, (int)i - 1);
        }
        /* Only the lowest signalled index was returned: look past it. */
        if (++i >= n)
            break;
        r = WSAWaitForMultipleEvents(n - i, st->handles + i, FALSE, 0, FALSE);
        if (r >= WSA_WAIT_EVENT_0 + (n - i))
            break; /* timeout: nothing else signalled */
        i += r - WSA_WAIT_EVENT_0;
    }
    return woken;
}

const netev__backend netev__backend_wsa = {
    .name = "wsa",
    .init = wsa_init,
    .free = wsa_free,
    .add = wsa_add,
    .del = wsa_del,
    .update = 0,
    .wait = wsa_wait,
};
