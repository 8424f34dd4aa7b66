/* The loop: socket table, ready queue, netev_select and netev_wait.
 *
 * Every tracked socket has a small record indexed by its descriptor.  Events
 * are "recorded" into it (by readiness from the backend, or by the re-enabling
 * calls in io.c); a recorded event whose bit is selected puts the socket on a
 * FIFO ready queue, and netev_wait pops from the front.  A socket reported
 * again goes to the back, which is what makes delivery fair. */
#define _GNU_SOURCE
#include "netev_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The first one is the platform's default. */
static const netev__backend *const backends[] = {
#ifdef _WIN32
    &netev__backend_wsa,
#else
#ifdef __linux__
    &netev__backend_epoll,
#endif
    &netev__backend_poll,
#endif
};

static const netev__backend *find_backend(const char *name)
{
    if (!name || !*name)
        return backends[0];
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(name, backends[i]->name) == 0)
            return backends[i];
    return 0;
}

netev_loop *netev_loop_new(const char *backend)
{
    if (!backend)
        backend = getenv("NETEV_BACKEND");
    const netev__backend *b = find_backend(backend);
    if (!b) {
        errno = EINVAL;
        return 0;
    }
    netev_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return 0;
    loop->backend = b;
    loop->head = loop->tail = -1;
    atomic_init(&loop->wake_pending, 0);
    int opened = netev__os_open(loop) == 0;
    if (!opened || b->init(loop) < 0) {
        int e = errno;
        if (opened)
            netev__os_close(loop);
        free(loop);
        errno = e;
        return 0;
    }
    return loop;
}

void netev_loop_free(netev_loop *loop)
{
    if (!loop)
        return;
    loop->backend->free(loop);
    netev__ring_free(loop);
    free(loop->batch_scratch);
    netev__os_close(loop);
    netev__zfree(loop->socks, (size_t)loop->nsocks * sizeof *loop->socks);
    free(loop->starved);
    free(loop);
}

const char *netev_loop_backend(const netev_loop *loop)
{
    return loop ? loop->backend->name : 0;
}

/* ---- socket table ---- */

/* Zeroed entries are unregistered and unqueued: growing touches nothing else. */
int netev__table_grow(netev_loop *loop, int64_t min_size)
{
    if (min_size <= loop->nsocks)
        return 0;
    int64_t n = loop->nsocks ? loop->nsocks : 64;
    while (n < min_size)
        n *= 2;
    if (n > INT32_MAX)
        return NETEV_ENOMEM;
    netev__sock *t = netev__zgrow(loop->socks, (size_t)loop->nsocks * sizeof *t, (size_t)n * sizeof *t);
    if (!t)
        return NETEV_ENOMEM;
    loop->socks = t;
    loop->nsocks = (int32_t)n;
    return 0;
}

/* known_state < 0: ask the socket what it is; otherwise the caller knows
 * (netev_accept_select: connected, non-blocking, keeping message boundaries
 * if known_message) and no system call is needed. */
static int register_socket(netev_loop *loop, netev_socket s, int known_state, int known_message, netev__sock **out)
{
    int state = known_state, dead_err = 0, message = known_message, err = 0;
    if (known_state < 0) {
        if ((err = netev__probe_state(s, &state, &dead_err, &message)))
            return err;
        if ((err = netev__set_nonblock(s)))
            return netev__map_sockerr(err);
    }
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    int32_t slot;
    if ((err = netev__slot_acquire(loop, s, &slot)))
        return err;
    netev__sock *sk = &loop->socks[slot];
    /* A stale queue entry of an earlier socket with this number stays linked. */
    uint16_t queued = sk->flags & NETEV__F_QUEUED;
    int32_t next = sk->next;
    memset(sk, 0, sizeof *sk);
    sk->next = next;
    sk->batch_idx = -1;
    sk->flags = (uint16_t)(NETEV__F_REGISTERED | queued | (message ? NETEV__F_MESSAGE : 0));
    sk->state = (uint8_t)state;
    if ((err = loop->backend->add(loop, s, sk))) {
        sk->flags = queued;
        netev__slot_release(loop, s, slot);
        return err;
    }
    if (dead_err) {
        netev__connection_over(loop, sk, dead_err); /* already over: CLOSE with its error, nothing else */
    } else if (state == NETEV__CONNECTED || state == NETEV__DATAGRAM) {
        /* WRITE is recorded when a socket is first seen connected (and for datagram sockets). */
        netev__record(loop, sk, NETEV_WRITE, 0);
    }
    *out = sk;
    return 0;
}

void netev__reprobe(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    int state, dead_err, message;
    if (netev__probe_state(s, &state, &dead_err, &message) || state == NETEV__UNCONNECTED)
        return;
    if (message)
        sk->flags |= NETEV__F_MESSAGE;
    if (dead_err) {
        /* A connect of its own that failed (its error is now read): CLOSE, as
         * for any connect started outside netev_connect. */
        sk->state = NETEV__FAILED;
        sk->flags |= NETEV__F_DEAD;
        netev__record(loop, sk, NETEV_CLOSE, dead_err);
    } else {
        sk->state = (uint8_t)state;
        if (state == NETEV__CONNECTED) /* first seen connected, as in register_socket */
            netev__record(loop, sk, NETEV_WRITE, 0);
    }
    netev__changed(loop, s, sk); /* level-triggered backends: new interest */
}

int netev__track(netev_loop *loop, netev_socket s, netev__sock **out)
{
    *out = netev__lookup(loop, s);
    return *out ? 0 : register_socket(loop, s, -1, 0, out);
}

/* Forget a socket; its queue entry stays linked and is skipped when popped. */
void netev__unregister(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    loop->backend->del(loop, s, sk);
    if (sk->batch_idx >= 0 && sk->batch_idx < loop->batch_n && loop->batch[sk->batch_idx].sock == s)
        loop->batch[sk->batch_idx].events = 0;
    uint16_t queued = sk->flags & NETEV__F_QUEUED;
    int32_t next = sk->next;
    memset(sk, 0, sizeof *sk);
    sk->next = next;
    sk->batch_idx = -1;
    sk->flags = queued;
    netev__slot_release(loop, s, netev__slot(loop, sk));
}

/* ---- recording and the ready queue ---- */

static void enqueue(netev_loop *loop, netev__sock *sk)
{
    if (sk->flags & NETEV__F_QUEUED)
        return;
    int32_t slot = netev__slot(loop, sk);
    sk->flags |= NETEV__F_QUEUED;
    sk->next = -1;
    if (loop->tail < 0)
        loop->head = slot;
    else
        loop->socks[loop->tail].next = slot;
    loop->tail = slot;
}

void netev__record(netev_loop *loop, netev__sock *sk, unsigned bit, int err)
{
    if (bit == NETEV_ACCEPT)
        sk->flags &= ~NETEV__F_STARVED; /* the listener is worth trying again */
    if (sk->disabled & bit)
        return; /* reported and not yet re-enabled: the program has not asked again */
    sk->disabled |= bit;
    sk->pending |= bit;
    if (bit == NETEV_CLOSE)
        sk->err_close = (int8_t)err;
    else if (bit & (NETEV_CONNECT | NETEV_ACCEPT))
        sk->err_open = (int8_t)err;
    if (sk->mask & bit)
        enqueue(loop, sk);
}

/* Fill records from the front of the queue; entries of closed sockets and
 * of sockets whose mask no longer covers their pending bits are dropped. */
static int pop_records(netev_loop *loop, netev_event *out, int max)
{
    int n = 0;
    while (n < max && loop->head >= 0) {
        int32_t slot = loop->head;
        netev__sock *sk = &loop->socks[slot];
        loop->head = sk->next;
        if (loop->head < 0)
            loop->tail = -1;
        sk->flags &= ~NETEV__F_QUEUED;
        unsigned ev = sk->pending & sk->mask;
        if (!(sk->flags & NETEV__F_REGISTERED) || !ev)
            continue;
        sk->pending &= (uint8_t)~ev;
        netev_event *e = &out[n];
        e->sock = netev__slot_socket(loop, slot);
        e->udata = sk->udata;
        e->events = ev;
        memset(e->error, 0, sizeof e->error);
        e->error[NETEV_CONNECT_BIT] = (ev & NETEV_CONNECT) ? sk->err_open : 0;
        e->error[NETEV_ACCEPT_BIT] = (ev & NETEV_ACCEPT) ? sk->err_open : 0;
        e->error[NETEV_CLOSE_BIT] = (ev & NETEV_CLOSE) ? sk->err_close : 0;
        sk->batch_idx = n++;
    }
    return n;
}

/* ---- public calls ---- */

int netev_select(netev_loop *loop, netev_socket s, unsigned events, void *udata)
{
    if (!loop || (events & ~(unsigned)NETEV_ALL))
        return NETEV_EINVAL;
    netev__sock *sk = netev__lookup(loop, s);
    if (sk && sk->state == NETEV__UNCONNECTED)
        netev__reprobe(loop, s, sk); /* selected before listen() or a connect() of its own */
    int err = sk ? 0 : register_socket(loop, s, -1, 0, &sk);
    if (err)
        return err;
    sk->mask = (uint8_t)events;
    sk->udata = udata;
    /* Recorded but unreported events of the new mask are reported at the next wait. */
    if (sk->pending & sk->mask)
        enqueue(loop, sk);
    return 0;
}

int netev_accept_select(netev_loop *loop, netev_socket listener, unsigned events, void *udata, netev_socket *out,
                        struct sockaddr *addr, socklen_t *addrlen)
{
    if (!loop || !out || (events & ~(unsigned)NETEV_ALL))
        return NETEV_EINVAL;
    int err = netev_accept(loop, listener, out, addr, addrlen);
    if (err)
        return err;
    /* A connection reset while it was queued is still "connected" here: its
     * error shows as readiness at the next wait and becomes CLOSE.  The
     * listener's type is the connection's: a SOCK_SEQPACKET one's recvs take
     * one message each, and a short one can leave more behind (without
     * F_MESSAGE the READ for it would be lost on epoll). */
    const netev__sock *lsk = netev__lookup(loop, listener);
    int message = lsk ? (lsk->flags & NETEV__F_MESSAGE) != 0 : netev__keeps_messages(*out);
    netev__sock *sk;
    if ((err = register_socket(loop, *out, NETEV__CONNECTED, message, &sk))) {
        netev_close(loop, *out);
        *out = NETEV_INVALID_SOCKET;
        return err;
    }
    sk->mask = (uint8_t)events;
    sk->udata = udata;
    if (sk->pending & sk->mask)
        enqueue(loop, sk);
    return 0;
}

int netev_forget(netev_loop *loop, netev_socket s)
{
    if (!loop)
        return NETEV_EINVAL;
    netev__sock *sk = netev__lookup(loop, s);
    if (!sk)
        return NETEV_EBADF;
    netev__unregister(loop, s, sk);
    return 0;
}

int netev_recorded(netev_loop *loop, netev_socket s)
{
    if (!loop)
        return NETEV_EINVAL;
    const netev__sock *sk = netev__lookup(loop, s);
    if (!sk)
        return NETEV_EBADF;
    return sk->pending & sk->mask;
}

int netev_wait_us(netev_loop *loop, netev_event *out, int max, int64_t timeout_us)
{
    if (!loop || !out || max <= 0)
        return NETEV_EINVAL;
    if (timeout_us < -1)
        timeout_us = -1;
    loop->batch = out;
    loop->batch_n = 0;
    /* Saturated: a timeout near INT64_MAX means "as good as forever", and
     * now + timeout must not overflow on the way. */
    int64_t now = timeout_us > 0 ? netev__now_us() : 0;
    int64_t deadline = timeout_us <= 0 ? 0 : timeout_us > INT64_MAX - now ? INT64_MAX : now + timeout_us;
    int64_t remaining = timeout_us;
    for (;;) {
        /* Always ask the kernel, even with a full queue: new events must not
         * wait behind sockets that are always ready. */
        int woken = loop->backend->wait(loop, loop->head >= 0 ? 0 : remaining);
        if (woken < 0)
            return woken;
        int n = pop_records(loop, out, max);
        loop->batch_n = n;
        if (n > 0 || woken || remaining == 0)
            return n;
        if (remaining > 0) {
            remaining = deadline - netev__now_us();
            if (remaining <= 0)
                return 0;
        }
    }
}

int netev_wait(netev_loop *loop, netev_event *out, int max, int timeout_ms)
{
    return netev_wait_us(loop, out, max, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000);
}

void netev__set_resignal(netev_loop *loop, netev__resignal_fn fn, void *ctx)
{
    loop->resignal = fn;
    loop->resignal_ctx = ctx;
}

int netev_wakeup(netev_loop *loop)
{
    if (!loop)
        return NETEV_EINVAL;
    if (atomic_exchange(&loop->wake_pending, 1))
        return 0; /* a wakeup is already on its way */
    return netev__wake_signal(loop);
}
