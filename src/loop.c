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
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

static const netev__backend *find_backend(const char *name)
{
    if (!name || !*name) {
#ifdef __linux__
        return &netev__backend_epoll;
#else
        return &netev__backend_poll;
#endif
    }
#ifdef __linux__
    if (strcmp(name, "epoll") == 0)
        return &netev__backend_epoll;
#endif
    if (strcmp(name, "poll") == 0)
        return &netev__backend_poll;
    return 0;
}

static int open_wakeup(netev_loop *loop)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -1;
    loop->wake_rfd = loop->wake_wfd = fd;
#else
    int p[2];
    if (pipe(p) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
        netev__set_nonblock(p[i]);
    }
    loop->wake_rfd = p[0];
    loop->wake_wfd = p[1];
#endif
    return 0;
}

static void close_wakeup(netev_loop *loop)
{
    if (loop->wake_rfd >= 0)
        close(loop->wake_rfd);
    if (loop->wake_wfd >= 0 && loop->wake_wfd != loop->wake_rfd)
        close(loop->wake_wfd);
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
    loop->wake_rfd = loop->wake_wfd = -1;
    atomic_init(&loop->wake_pending, 0);
    if (open_wakeup(loop) < 0 || b->init(loop) < 0) {
        int e = errno;
        close_wakeup(loop);
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
    close_wakeup(loop);
    free(loop->socks);
    free(loop->starved);
    free(loop);
}

const char *netev_loop_backend(const netev_loop *loop)
{
    return loop ? loop->backend->name : 0;
}

/* ---- socket table ---- */

static int grow_table(netev_loop *loop, netev_socket s)
{
    if (s < loop->nsocks)
        return 0;
    int64_t n = loop->nsocks ? loop->nsocks : 64;
    while (n <= s)
        n *= 2;
    if (n > INT32_MAX)
        return NETEV_ENOMEM;
    netev__sock *t = realloc(loop->socks, (size_t)n * sizeof *t);
    if (!t)
        return NETEV_ENOMEM;
    for (int64_t i = loop->nsocks; i < n; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].next = -1;
        t[i].batch_idx = -1;
    }
    loop->socks = t;
    loop->nsocks = (int32_t)n;
    return 0;
}

/* What kind of socket is this, and what holds already?  *dead_err: the
 * error of a connection that ended before it was selected (else 0). */
static int probe_state(netev_socket s, int *state, int *dead_err)
{
    *dead_err = 0;
    int type;
    socklen_t len = sizeof type;
    if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return netev__map_errno(errno);
    if (type != SOCK_STREAM && type != SOCK_SEQPACKET) {
        *state = NETEV__DATAGRAM;
        return 0;
    }
    struct sockaddr_storage peer;
    len = sizeof peer;
    if (getpeername(s, (struct sockaddr *)&peer, &len) == 0) {
        *state = NETEV__CONNECTED;
        return 0;
    }
    int listening = 0;
    len = sizeof listening;
    if (getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) {
        *state = NETEV__LISTENING;
        return 0;
    }
    *state = NETEV__UNCONNECTED;
    /* Accepted, but reset while it waited in the accept queue: no peer any
     * more, and only its pending error tells it from a fresh socket. */
    int e = netev__so_error(s);
    if (e) {
        *state = NETEV__CONNECTED;
        *dead_err = e;
        return 0;
    }
#ifdef TCP_INFO
    /* connect() started outside netev: report WRITE (not CONNECT) when it completes */
    struct tcp_info ti;
    len = sizeof ti;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == 2 /* SYN_SENT */)
        *state = NETEV__CONNECTING;
#endif
    return 0;
}

static int register_socket(netev_loop *loop, netev_socket s, netev__sock **out)
{
    if (s < 0)
        return NETEV_EBADF;
    int state = NETEV__UNCONNECTED, dead_err = 0, err = probe_state(s, &state, &dead_err);
    if (err)
        return err;
    if ((err = netev__set_nonblock(s)))
        return netev__map_errno(err);
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    if ((err = grow_table(loop, s)))
        return err;
    netev__sock *sk = &loop->socks[s];
    /* A stale queue entry of an earlier socket with this number stays linked. */
    uint16_t queued = sk->flags & NETEV__F_QUEUED;
    int32_t next = sk->next;
    memset(sk, 0, sizeof *sk);
    sk->next = next;
    sk->batch_idx = -1;
    sk->flags = NETEV__F_REGISTERED | queued;
    sk->state = (uint8_t)state;
    if ((err = loop->backend->add(loop, s, sk))) {
        sk->flags = queued;
        return err;
    }
    if (dead_err) {
        /* The connection is already over: CLOSE with its error, and nothing else. */
        sk->flags |= NETEV__F_DEAD | NETEV__F_RD_EOF;
        netev__record(loop, sk, NETEV_CLOSE, dead_err == EPIPE ? NETEV_ECONNRESET : netev__map_errno(dead_err));
    } else if (state == NETEV__CONNECTED || state == NETEV__DATAGRAM) {
        /* WRITE is recorded when a socket is first seen connected (and for datagram sockets). */
        netev__record(loop, sk, NETEV_WRITE, 0);
    }
    *out = sk;
    return 0;
}

int netev__track(netev_loop *loop, netev_socket s, netev__sock **out)
{
    *out = netev__lookup(loop, s);
    return *out ? 0 : register_socket(loop, s, out);
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
    netev__sock *sk;
    int err = netev__track(loop, s, &sk);
    if (err)
        return err;
    sk->mask = (uint8_t)events;
    sk->udata = udata;
    /* Recorded but unreported events of the new mask are reported at the next wait. */
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + (ts.tv_nsec + 999999) / 1000000;
}

int netev_wait(netev_loop *loop, netev_event *out, int max, int timeout_ms)
{
    if (!loop || !out || max <= 0)
        return NETEV_EINVAL;
    if (timeout_ms < -1)
        timeout_ms = -1;
    loop->batch = out;
    loop->batch_n = 0;
    int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    int remaining = timeout_ms;
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
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return 0;
            remaining = left > INT32_MAX ? INT32_MAX : (int)left;
        }
    }
}

int netev_wakeup(netev_loop *loop)
{
    if (!loop)
        return NETEV_EINVAL;
    if (atomic_exchange(&loop->wake_pending, 1))
        return 0; /* a wakeup is already on its way */
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(loop->wake_wfd, &one, sizeof one);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EAGAIN)
        return netev__map_errno(errno);
    return 0;
}

void netev__drain_wakeup(netev_loop *loop)
{
    uint64_t buf[8];
    for (;;) {
        ssize_t r = read(loop->wake_rfd, buf, sizeof buf);
        if (r <= 0 && !(r < 0 && errno == EINTR))
            break;
    }
    /* After draining: a wakeup racing with us is not lost, this wait returns. */
    atomic_store(&loop->wake_pending, 0);
}
