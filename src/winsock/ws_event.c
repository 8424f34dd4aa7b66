/* Event objects (manual-reset, created non-signalled) and the wait on them.
 *
 * A handle encodes a table index and a generation, so that a closed handle
 * is recognised as invalid (WSA_INVALID_HANDLE) instead of touching freed
 * memory.  Waiting checks the events; while none is signalled, one waiting
 * thread blocks in netev_wait on behalf of all (ws_pump) and the records it
 * brings set the sockets' events; other waiters sleep on the condition
 * variable until something changes. */
#define _GNU_SOURCE
#include "ws_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>

#define G netev__ws

#define IDX_BITS 20
#define IDX_MASK ((1u << IDX_BITS) - 1)
#define GEN_MASK (UINTPTR_MAX >> IDX_BITS)

static WSAEVENT make_handle(int32_t idx, uintptr_t gen)
{
    return (WSAEVENT)((gen << IDX_BITS) | (uintptr_t)(idx + 1));
}

ws_event_slot *ws_event_lookup(WSAEVENT h)
{
    uintptr_t v = (uintptr_t)h;
    if (!v)
        return 0;
    int32_t idx = (int32_t)(v & IDX_MASK) - 1;
    if (idx < 0 || idx >= G.nevents)
        return 0;
    ws_event_slot *e = &G.events[idx];
    if (!e->used || e->gen != (v >> IDX_BITS))
        return 0;
    return e;
}

void ws_event_signal(WSAEVENT h)
{
    ws_event_slot *e = ws_event_lookup(h);
    if (e)
        e->signalled = 1;
}

WSAEVENT WSACreateEvent(void)
{
    ws_lock();
    int32_t idx = -1;
    if (G.free_events > 0) {
        idx = G.free_events - 1;
        G.free_events = G.events[idx].next_free;
    } else if (G.nevents < (int32_t)IDX_MASK) {
        if (G.nevents == G.cap_events) {
            int32_t cap = G.cap_events ? G.cap_events * 2 : 64;
            ws_event_slot *t = realloc(G.events, (size_t)cap * sizeof *t);
            if (t) {
                G.events = t;
                G.cap_events = cap;
            }
        }
        if (G.nevents < G.cap_events) {
            idx = G.nevents++;
            G.events[idx].gen = 0;
        }
    }
    if (idx < 0) {
        ws_unlock();
        WSASetLastError(WSA_NOT_ENOUGH_MEMORY);
        return WSA_INVALID_EVENT;
    }
    ws_event_slot *e = &G.events[idx];
    e->gen = (e->gen + 1) & GEN_MASK;
    if (!e->gen)
        e->gen = 1;
    e->used = 1;
    e->signalled = 0;
    e->next_free = 0;
    WSAEVENT h = make_handle(idx, e->gen);
    ws_unlock();
    return h;
}

/* Takes the lock and finds the event; on a bad handle, releases the lock,
 * sets WSA_INVALID_HANDLE and returns NULL. */
static ws_event_slot *lock_event(WSAEVENT h)
{
    ws_lock();
    ws_event_slot *e = ws_event_lookup(h);
    if (!e) {
        ws_unlock();
        WSASetLastError(WSA_INVALID_HANDLE);
    }
    return e;
}

BOOL WSACloseEvent(WSAEVENT hEvent)
{
    ws_event_slot *e = lock_event(hEvent);
    if (!e)
        return FALSE;
    /* Sockets still associated keep the old handle: it no longer matches. */
    int32_t idx = (int32_t)(e - G.events);
    e->used = 0;
    e->signalled = 0;
    e->next_free = G.free_events;
    G.free_events = idx + 1;
    ws_unlock();
    return TRUE;
}

BOOL WSASetEvent(WSAEVENT hEvent)
{
    ws_event_slot *e = lock_event(hEvent);
    if (!e)
        return FALSE;
    if (!e->signalled) {
        e->signalled = 1;
        if (G.pumping)
            netev_wakeup(G.loop); /* the pumper may be waiting for this one */
    }
    ws_unlock();
    return TRUE;
}

BOOL WSAResetEvent(WSAEVENT hEvent)
{
    ws_event_slot *e = lock_event(hEvent);
    if (!e)
        return FALSE;
    e->signalled = 0;
    ws_unlock();
    return TRUE;
}

/* -1: none ready; -2: a handle is invalid; else the index to return. */
static int ready_index(DWORD n, const WSAEVENT *evs, BOOL all)
{
    /* Windows references every handle before it looks at any state: an
     * invalid one fails the wait even behind a signalled one. */
    for (DWORD i = 0; i < n; i++)
        if (!ws_event_lookup(evs[i]))
            return -2;
    int signalled = 0;
    for (DWORD i = 0; i < n; i++) {
        ws_event_slot *e = ws_event_lookup(evs[i]);
        if (e->signalled) {
            if (!all)
                return (int)i; /* the lowest signalled index, as Windows */
            signalled++;
        }
    }
    return all && signalled == (int)n ? 0 : -1;
}

static struct timespec deadline_after(DWORD ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Milliseconds left until the deadline, rounded up; -1 = no deadline. */
static int ms_left(const struct timespec *deadline)
{
    if (!deadline)
        return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (long long)(deadline->tv_sec - now.tv_sec) * 1000000000LL + (deadline->tv_nsec - now.tv_nsec);
    if (ns <= 0)
        return 0;
    long long ms = (ns + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static DWORD wait_failed(int err)
{
    WSASetLastError(err);
    return WSA_WAIT_FAILED;
}

DWORD WSAWaitForMultipleEvents(DWORD cEvents, const WSAEVENT *lphEvents, BOOL fWaitAll, DWORD dwTimeout,
                               BOOL fAlertable)
{
    (void)fAlertable; /* no APCs here: WSA_WAIT_IO_COMPLETION never happens */
    if (cEvents == 0 || cEvents > WSA_MAXIMUM_WAIT_EVENTS || !lphEvents)
        return wait_failed(WSA_INVALID_PARAMETER);
    if (fWaitAll)
        for (DWORD i = 0; i < cEvents; i++)
            for (DWORD j = i + 1; j < cEvents; j++)
                if (lphEvents[i] == lphEvents[j])
                    return wait_failed(WSA_INVALID_PARAMETER);
    struct timespec deadline_at, *deadline = 0;
    if (dwTimeout != WSA_INFINITE) {
        deadline_at = deadline_after(dwTimeout);
        deadline = &deadline_at;
    }
    ws_lock();
    int pumped = 0;
    for (;;) {
        int r = ready_index(cEvents, lphEvents, fWaitAll);
        if (r == -2) {
            ws_unlock();
            return wait_failed(WSA_INVALID_HANDLE);
        }
        if (r >= 0) {
            ws_unlock();
            return WSA_WAIT_EVENT_0 + (DWORD)r;
        }
        int left = ms_left(deadline);
        int can_pump = G.started && !G.pumping && !G.core_waiters;
        if (left == 0 && (pumped || !can_pump)) {
            ws_unlock();
            return WSA_WAIT_TIMEOUT;
        }
        if (can_pump) {
            int n = ws_pump(left);
            pumped = 1;
            if (n < 0) {
                ws_unlock();
                return wait_failed(ws_from_netev(n));
            }
        } else {
            ws_cond_wait(deadline);
        }
    }
}
