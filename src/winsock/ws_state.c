/* Process-wide state: the lock protocol, the socket table, and turning the
 * loop's records into Winsock's pending events (see ws_int.h). */
#define _GNU_SOURCE
#include "ws_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

ws_state netev__ws = {.mu = PTHREAD_MUTEX_INITIALIZER};
#define G netev__ws

static pthread_once_t cv_once = PTHREAD_ONCE_INIT;

static void init_cv(void)
{
    /* Timed waits measure a monotonic clock, as Windows' waits do. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&G.cv, &attr);
    pthread_condattr_destroy(&attr);
}

void ws_lock(void)
{
    pthread_once(&cv_once, init_cv);
    pthread_mutex_lock(&G.mu);
}

void ws_unlock(void)
{
    if (G.sleepers)
        pthread_cond_broadcast(&G.cv);
    pthread_mutex_unlock(&G.mu);
}

void ws_cond_wait(const struct timespec *deadline)
{
    G.sleepers++;
    if (deadline)
        pthread_cond_timedwait(&G.cv, &G.mu, deadline);
    else
        pthread_cond_wait(&G.cv, &G.mu);
    G.sleepers--;
}

void ws_lock_table(void)
{
    ws_lock();
    while (G.pumping) {
        /* The pumper blocks in netev_wait: wake it, and wait until it lets go. */
        G.core_waiters++;
        netev_wakeup(G.loop);
        ws_cond_wait(NULL);
        G.core_waiters--;
    }
}

int ws_lock_core(void)
{
    ws_lock_table();
    if (!G.started) {
        ws_unlock();
        return WSANOTINITIALISED;
    }
    return 0;
}

ws_sock *ws_peek(SOCKET s)
{
    if (s < 0 || s >= G.nsocks || !G.socks[s].used)
        return 0;
    return &G.socks[s];
}

ws_sock *ws_get(SOCKET s)
{
    if (s < 0)
        return 0;
    if (s >= G.nsocks) {
        int n = G.nsocks ? G.nsocks : 64;
        while (n <= s)
            n *= 2;
        ws_sock *t = realloc(G.socks, (size_t)n * sizeof *t);
        if (!t)
            return 0;
        memset(t + G.nsocks, 0, (size_t)(n - G.nsocks) * sizeof *t);
        G.socks = t;
        G.nsocks = n;
    }
    ws_sock *ws = &G.socks[s];
    ws->used = 1;
    return ws;
}

void ws_drop(SOCKET s)
{
    if (s >= 0 && s < G.nsocks) {
        if (G.socks[s].flags & WS_CLOSE_HELD)
            G.held_closes--;
        memset(&G.socks[s], 0, sizeof G.socks[s]);
    }
}

int ws_closing(SOCKET s)
{
    ws_sock *ws = ws_peek(s);
    return ws && (ws->flags & WS_CLOSING);
}

ws_sock *ws_find(SOCKET s, int *err)
{
    *err = 0;
    ws_sock *ws = ws_peek(s);
    if (ws && (ws->flags & WS_CLOSING)) {
        *err = WSAENOTSOCK;
        return 0;
    }
    if (!ws && ws_socket_check(s) == 0)
        ws = ws_get(s);
    return ws;
}

void ws_wait_begin(ws_sock *ws, int writer)
{
    if (writer)
        ws->waiting_wr++;
    else
        ws->waiting_rd++;
}

/* A table the last WSACleanup had to keep for waiting threads goes with the last of them. */
static void free_table_if_unused(void)
{
    for (SOCKET s = 0; s < G.nsocks; s++)
        if (G.socks[s].used)
            return;
    free(G.socks);
    G.socks = 0;
    G.nsocks = 0;
}

int ws_wait_end(SOCKET s, int writer)
{
    ws_lock_table();
    ws_sock *ws = ws_peek(s);
    if (!ws) { /* not reached: the number stays ours while we wait */
        ws_unlock();
        return WSAEINTR;
    }
    if (writer)
        ws->waiting_wr--;
    else
        ws->waiting_rd--;
    int last = !ws->waiting_rd && !ws->waiting_wr;
    int err = (ws->flags & WS_CLOSING) ? WSAEINTR : !G.started ? WSANOTINITIALISED : 0;
    if (!err)
        return 0;
    if (last && (ws->flags & WS_CLOSING))
        close(s); /* closesocket's close, left to us; Linux closes even on EINTR */
    if (last) {
        ws_drop(s);
        if (!G.started)
            free_table_if_unused();
    }
    ws_unlock();
    return err;
}

int ws_wait_ready(SOCKET s, ws_sock *ws, short events, int writer)
{
    ws_wait_begin(ws, writer);
    ws_unlock();
    ws_block(s, events);
    return ws_wait_end(s, writer);
}

/* Forgets all the record of s says but the threads waiting on it, and gives it these flags. */
static void keep_waiters_only(SOCKET s, ws_sock *ws, uint16_t flags)
{
    if (ws->flags & WS_IN_CORE)
        netev_forget(G.loop, s);
    uint16_t rd = ws->waiting_rd, wr = ws->waiting_wr;
    ws_drop(s);
    ws = ws_get(s); /* s is in the table: no allocation, no failure */
    ws->flags = flags;
    ws->waiting_rd = rd;
    ws->waiting_wr = wr;
}

void ws_close_under_waiters(SOCKET s, ws_sock *ws)
{
    /* SHUT_RD wakes a recv (end of stream), an accept and a connect (Linux
     * disconnects a listener or a connecting socket on any shutdown, for
     * this very use) and a wait for readability, and sends nothing; SHUT_WR
     * wakes a sender but sends a FIN first, which would come before the
     * reset of an abortive close: only when a sender waits. */
    shutdown(s, ws->waiting_wr ? SHUT_RDWR : SHUT_RD);
    keep_waiters_only(s, ws, WS_CLOSING);
}

void ws_detach_waited(SOCKET s, ws_sock *ws)
{
    keep_waiters_only(s, ws, 0);
}

int ws_ensure_core(SOCKET s, ws_sock *ws)
{
    if (ws->flags & WS_IN_CORE)
        return 0;
    int err = netev_select(G.loop, s, NETEV_ALL, 0);
    if (err)
        return ws_from_netev(err);
    ws->flags |= WS_IN_CORE;
    return 0;
}

static int error_for(unsigned bit, int netev_err)
{
    switch (bit) {
    case NETEV_CLOSE_BIT:
        return ws_close_error(netev_err);
    case NETEV_CONNECT_BIT:
    case NETEV_ACCEPT_BIT:
        return ws_from_netev(netev_err);
    default:
        return 0;
    }
}

/* Linux reports our own shutdown(SHUT_RD) like the peer's FIN; Windows'
 * FD_CLOSE means the peer's (§5 F3). */
static unsigned hold_own_close(SOCKET s, ws_sock *ws, unsigned ev, int err)
{
    if (!(ev & FD_CLOSE) || err || !(ws->flags & WS_RD_SHUT) || ws_peer_finished(s))
        return ev;
    ws->flags |= WS_CLOSE_HELD;
    G.held_closes++;
    return ev & ~(unsigned)FD_CLOSE;
}

static void record(ws_sock *ws, unsigned bit_index, int wsa_error)
{
    unsigned bit = 1u << bit_index;
    ws->err[bit_index] = wsa_error;
    ws->pending |= (uint16_t)bit;
    if ((bit & ws->mask) && ws->event)
        ws_event_signal(ws->event);
}

static void release_held_closes(void)
{
    for (SOCKET s = 0; s < G.nsocks && G.held_closes > 0; s++) {
        ws_sock *ws = ws_peek(s);
        if (!ws || !(ws->flags & WS_CLOSE_HELD) || !ws_peer_finished(s))
            continue;
        ws->flags &= (uint16_t)~WS_CLOSE_HELD;
        G.held_closes--;
        /* The peer's end may have been a reset, heard by the core after it
         * reported our own shutdown as a graceful close (F3, then F7). */
        record(ws, FD_CLOSE_BIT, error_for(NETEV_CLOSE_BIT, netev__close_error(G.loop, s)));
    }
}

void ws_absorb(const netev_event *e, int n)
{
    for (int i = 0; i < n; i++) {
        ws_sock *ws = ws_peek(e[i].sock);
        unsigned ev = e[i].events;
        if (!ws || !ev)
            continue;
        ev = hold_own_close(e[i].sock, ws, ev, e[i].error[NETEV_CLOSE_BIT]);
        for (unsigned bit = 0; bit < NETEV_MAX_EVENTS; bit++)
            if (ev & (1u << bit))
                ws->err[bit] = error_for(bit, e[i].error[bit]);
        if ((ev & FD_CLOSE) && e[i].error[NETEV_CLOSE_BIT])
            ws->abort_error = e[i].error[NETEV_CLOSE_BIT] == NETEV_ECONNRESET
                                  ? WSAECONNRESET
                                  : ws_from_netev(e[i].error[NETEV_CLOSE_BIT]);
        if (ev & FD_CONNECT) {
            ws->connect_error = ws->err[FD_CONNECT_BIT];
            ws->flags &= (uint16_t)~WS_CONNECTING;
            if (!ws->connect_error)
                ws->flags |= WS_CONNECTED;
        }
        if (G.resignal) {
            /* What this report has seen: only more than this re-signals. */
            if (ev & FD_READ)
                ws->rd_seen = ws_fionread(e[i].sock);
            if (ev & FD_OOB) {
                ws->oob_seen = ws_fionread(e[i].sock);
                ws->oob_byte = ws_urgent_byte(e[i].sock);
            }
            if (ev & FD_ACCEPT)
                ws->acc_seen = ws_accept_queue(e[i].sock);
        }
        ws->pending |= (uint16_t)ev;
        if ((ev & ws->mask) && ws->event)
            ws_event_signal(ws->event);
    }
}

/* Windows' event-mode rule (§5 D3, A5, E2), asked by the core for readiness
 * on a reported, not yet re-enabled READ / OOB / ACCEPT.  Runs inside
 * netev_wait, in the thread that owns the core. */
int ws_resignal_cb(void *ctx, netev_socket s, unsigned bit)
{
    (void)ctx;
    ws_sock *ws = ws_peek(s);
    if (!ws)
        return 0;
    int *seen, now;
    switch (bit) {
    case NETEV_READ:
        seen = &ws->rd_seen;
        now = ws_fionread(s);
        break;
    case NETEV_OOB: {
        /* FIONREAD stops at the urgent mark, so it grows when a new urgent
         * byte moves the mark, not when ordinary data arrives behind it.  An
         * unread urgent byte at the head of the stream is dropped by Linux
         * when a new one comes: the mark stays, the byte changes. */
        int byte = ws_urgent_byte(s), changed = byte >= 0 && byte != ws->oob_byte;
        ws->oob_byte = byte;
        seen = &ws->oob_seen;
        now = ws_fionread(s);
        if (changed) {
            *seen = now;
            return 1;
        }
        break;
    }
    case NETEV_ACCEPT:
        seen = &ws->acc_seen;
        now = ws_accept_queue(s);
        break;
    default:
        return 0;
    }
    int news = now > *seen;
    *seen = now;
    return news;
}

void ws_harvest(void)
{
    for (;;) {
        int n = netev_wait(G.loop, G.recs, WS_RECORDS, 0);
        if (n > 0)
            ws_absorb(G.recs, n);
        if (n < WS_RECORDS)
            break;
    }
    if (G.held_closes)
        release_held_closes();
}

/* The loop does not watch a socket it considers closed: a held close is
 * looked at this often while a wait blocks. */
#define HELD_CLOSE_CHECK_MS 50

int ws_pump(int timeout_ms)
{
    if (G.held_closes && (timeout_ms < 0 || timeout_ms > HELD_CLOSE_CHECK_MS))
        timeout_ms = HELD_CLOSE_CHECK_MS;
    G.pumping = 1;
    pthread_mutex_unlock(&G.mu);
    int n = netev_wait(G.loop, G.recs, WS_RECORDS, timeout_ms);
    pthread_mutex_lock(&G.mu);
    G.pumping = 0;
    if (n > 0) {
        ws_absorb(G.recs, n);
    }
    if (n == WS_RECORDS || G.held_closes)
        ws_harvest();
    /* Threads waiting for the core, or for events just set, go on. */
    pthread_cond_broadcast(&G.cv);
    return n;
}
