/* A client thread: opens its connections, sends messages taken from the
 * shared pattern, checks every echoed byte, and records latencies.
 *
 * A connection's stream is cut into messages of cfg->size bytes; message k is
 * stream bytes [k*size, (k+1)*size) and is complete when that many bytes came
 * back.  Its latency runs from the moment it was issued (for --rate, the moment
 * it was due, so a slow server cannot hide its queueing) to its completion. */
#define _GNU_SOURCE
#include "worker.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#define MAX_RECORDS 1024
#define MAX_CONNECTING 256 /* connects in progress per worker: keeps the server's accept queue short */
#define CHECK_EVERY_NS 250000000LL
#define MAX_ERRORS_PRINTED 5

enum { C_FREE, C_CONNECTING, C_UP, C_CLOSED };

struct eb_conn {
    netev_socket sock;
    uint8_t state;
    uint8_t in_ready; /* on the --rate ring */
    uint8_t in_pending; /* on the list of connections with bytes to send */
    uint8_t probed;   /* --idle: its probe came back (or it died first) */
    uint32_t id;      /* stream number: picks the pattern offset */
    uint32_t start;   /* pattern offset of stream byte 0 */
    uint64_t issued, done; /* messages */
    uint64_t sent, recvd;  /* bytes */
    int64_t t_connect;
};

int64_t eb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void bump(_Atomic uint64_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by, memory_order_relaxed);
}

static void drop1(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - 1, memory_order_relaxed);
}

static int phase(const eb_worker *w)
{
    return atomic_load_explicit(&w->sh->phase, memory_order_acquire);
}

/* Whether messages flow: in the window and in the warm-up before it. */
static int traffic(int ph)
{
    return ph == EB_PHASE_WARM || ph == EB_PHASE_RUN;
}

void eb_say(eb_shared *sh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    if (sh->progress_open)
        fputc('\n', stderr);
    sh->progress_open = 0;
    fputs("echobench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

static void describe(eb_worker *w, const eb_conn *c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void describe(eb_worker *w, const eb_conn *c, const char *fmt, ...)
{
    if (atomic_fetch_add(&w->sh->errors_printed, 1) >= MAX_ERRORS_PRINTED)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    eb_say(w->sh, "connection %u: %s", c->id, msg);
}

static const eb_config *cfg_of(const eb_worker *w)
{
    return w->sh->cfg;
}

/* ---- connections ---- */

static void settle(eb_worker *w, eb_conn *c)
{
    if (cfg_of(w)->mode == EB_IDLE && !c->probed) {
        c->probed = 1;
        bump(&w->ctr.settled, 1);
    }
}

static void close_conn(eb_worker *w, eb_conn *c)
{
    if (c->state == C_FREE || c->state == C_CLOSED)
        return;
    if (c->state == C_CONNECTING)
        w->connecting--;
    else
        drop1(&w->ctr.up);
    w->inflight -= c->issued - c->done;
    netev_close(w->loop, c->sock);
    c->sock = NETEV_INVALID_SOCKET;
    c->state = C_CLOSED;
}

/* A connection of the first round is up or failed: the connect time ends with the last one. */
static void resolved(eb_worker *w)
{
    atomic_store(&w->t_resolved, eb_now_ns());
    bump(&w->ctr.resolved, 1);
}

static void connect_failed(eb_worker *w, eb_conn *c, const char *why)
{
    if (phase(w) == EB_PHASE_STOP) {
        close_conn(w, c);
        return;
    }
    describe(w, c, "connect failed: %s", why);
    bump(&w->ctr.connect_fail, 1);
    if (cfg_of(w)->mode != EB_RECONNECT)
        resolved(w);
    settle(w, c);
    close_conn(w, c);
}

/* The server closed or reset a connection we were using. */
static void lost(eb_worker *w, eb_conn *c, const char *why)
{
    if (phase(w) == EB_PHASE_STOP) {
        close_conn(w, c);
        return;
    }
    describe(w, c, "lost: %s (%llu of %llu bytes echoed)", why, (unsigned long long)c->recvd,
             (unsigned long long)c->sent);
    bump(&w->ctr.lost, 1);
    settle(w, c);
    close_conn(w, c);
}

static uint32_t stream_start(uint32_t id)
{
    return (uint32_t)(((uint64_t)id * 2654435761u) % EB_PATTERN_LEN);
}

static void open_conn(eb_worker *w, eb_conn *c, uint32_t id)
{
    const eb_config *cfg = cfg_of(w);
    uint8_t in_pending = c->in_pending; /* the slot may still be on the list: never twice */
    memset(c, 0, sizeof *c);
    c->in_pending = in_pending;
    c->id = id;
    c->start = stream_start(id);
    c->state = C_CONNECTING;
    c->t_connect = eb_now_ns();
    w->connecting++;
    c->sock = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->sock < 0) {
        w->connecting--;
        c->state = C_FREE;
        connect_failed(w, c, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (w->sh->nsrcs) {
        const struct sockaddr_storage *src = &w->sh->srcs[id % (uint32_t)w->sh->nsrcs];
#ifdef IP_BIND_ADDRESS_NO_PORT
        /* Let connect pick the port per destination, not bind per address. */
        setsockopt(c->sock, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
        socklen_t len = src->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        if (bind(c->sock, (const struct sockaddr *)src, len) < 0) {
            connect_failed(w, c, strerror(errno));
            return;
        }
    }
    int err = netev_select(w->loop, c->sock, NETEV_CONNECT | NETEV_READ | NETEV_WRITE | NETEV_CLOSE, c);
    if (!err)
        err = netev_connect(w->loop, c->sock, (const struct sockaddr *)&cfg->addr, cfg->addrlen);
    if (err)
        connect_failed(w, c, netev_strerror(err));
}

/* ---- sending ---- */

static int64_t *stamp_of(eb_worker *w, eb_conn *c, uint64_t msg)
{
    int depth = cfg_of(w)->depth;
    return &w->stamps[(size_t)(c - w->conns) * (size_t)depth + msg % (uint64_t)depth];
}

static void issue(eb_worker *w, eb_conn *c, int64_t stamp)
{
    *stamp_of(w, c, c->issued) = stamp;
    c->issued++;
    w->issued++;
    w->inflight++;
}

/* Sends what has been issued and not sent; a short send waits for WRITE. */
static void send_now(eb_worker *w, eb_conn *c)
{
    uint64_t end = c->issued * cfg_of(w)->size;
    while (c->state == C_UP && c->sent < end) {
        uint64_t left = end - c->sent;
        size_t chunk = left < EB_CHUNK ? (size_t)left : EB_CHUNK;
        const unsigned char *p = w->sh->pattern + (c->start + c->sent) % EB_PATTERN_LEN;
        ptrdiff_t n = netev_send(w->loop, c->sock, p, chunk, 0);
        if (n == NETEV_EAGAIN)
            return;
        if (n < 0) {
            lost(w, c, netev_strerror((int)n));
            return;
        }
        c->sent += (uint64_t)n;
        if ((size_t)n < chunk)
            return;
    }
}

/* Bytes to send wait for the end of the round: send_pending sends them all
 * in one netev_send_batch. */
static void queue_send(eb_worker *w, eb_conn *c)
{
    if (c->in_pending || c->state != C_UP)
        return;
    c->in_pending = 1;
    w->pending[w->npending++] = (int32_t)(c - w->conns);
}

/* One netev_send_batch for every connection with bytes to send, before the
 * worker waits: on Linux one io_uring_enter instead of a send(2) each.  The
 * client then spends less per message, so on a machine with few cores it
 * saturates later and the servers' own speed shows more in messages/s.
 * Each connection's first chunk goes in the batch; the rest of a long
 * message (past EB_CHUNK bytes) follows at once through send_now. */
static void send_pending(eb_worker *w)
{
    const eb_config *cfg = cfg_of(w);
    int n = 0;
    for (int k = 0; k < w->npending; k++) {
        eb_conn *c = &w->conns[w->pending[k]];
        c->in_pending = 0;
        uint64_t end = c->issued * cfg->size;
        if (c->state != C_UP || c->sent >= end)
            continue;
        uint64_t left = end - c->sent;
        size_t chunk = left < EB_CHUNK ? (size_t)left : EB_CHUNK;
        w->reqs[n] = (netev_send_req){c->sock, w->sh->pattern + (c->start + c->sent) % EB_PATTERN_LEN, chunk, 0, 0};
        w->pending[n++] = w->pending[k]; /* n <= k: the list is compacted in place */
    }
    w->npending = 0;
    if (!n)
        return;
    netev_send_batch(w->loop, w->reqs, n);
    for (int k = 0; k < n; k++) {
        eb_conn *c = &w->conns[w->pending[k]];
        ptrdiff_t r = w->reqs[k].result;
        if (r == NETEV_EAGAIN)
            continue; /* full: WRITE comes */
        if (r < 0) {
            lost(w, c, netev_strerror((int)r));
            continue;
        }
        c->sent += (uint64_t)r;
        if ((size_t)r == w->reqs[k].len)
            send_now(w, c);
    }
}

static int may_issue(const eb_worker *w)
{
    return traffic(phase(w)) && (!w->has_quota || w->issued < w->quota);
}

static void ready_push(eb_worker *w, eb_conn *c)
{
    if (c->in_ready || c->state != C_UP || c->issued - c->done >= (uint64_t)cfg_of(w)->depth)
        return;
    c->in_ready = 1;
    w->ready[(w->ready_head + w->ready_len++) % w->nconns] = (int32_t)(c - w->conns);
}

static eb_conn *ready_pop(eb_worker *w)
{
    while (w->ready_len) {
        eb_conn *c = &w->conns[w->ready[w->ready_head]];
        w->ready_head = (w->ready_head + 1) % w->nconns;
        w->ready_len--;
        c->in_ready = 0;
        if (c->state == C_UP)
            return c;
    }
    return 0;
}

/* Where the n-th event of this thread (message sent, connection opened)
 * falls on a schedule of per_s events per second in all, from t0.  The
 * threads' events interleave: this thread's n-th is event n * T + index of
 * the whole schedule.  Each thread on a schedule of its own from t0 made
 * every thread act at the same instants: bursts of T events, T / per_s
 * apart, and the first T events all at t0 (with -T 8, --ramp 4 opened 8
 * connections at once). */
static int64_t scheduled(const eb_worker *w, uint64_t n, int64_t t0, double per_s)
{
    double k = (double)n * (double)cfg_of(w)->threads + (double)w->index;
    return t0 + (int64_t)(k * 1e9 / per_s);
}

static int64_t due_time(const eb_worker *w, uint64_t msg, int64_t t_go)
{
    return scheduled(w, msg, t_go, cfg_of(w)->rate);
}

/* --rate: issue every message that is due to a connection that can take one.
 * Returns the ns until the next one is due, or -1 when there is nothing to
 * wait for but the network (a backlog, or no more messages). */
static int64_t issue_due(eb_worker *w, int64_t now)
{
    int64_t t_go = atomic_load(&w->sh->t_go);
    while (may_issue(w) && due_time(w, w->issued, t_go) <= now) {
        eb_conn *c = ready_pop(w);
        if (!c)
            return -1; /* a backlog: wait for a completion to free a connection */
        issue(w, c, due_time(w, w->issued, t_go));
        queue_send(w, c);
        ready_push(w, c);
    }
    return may_issue(w) ? due_time(w, w->issued, t_go) - now : -1;
}

/* Keeps the closed loop going: depth messages in flight per connection. */
static void refill(eb_worker *w, eb_conn *c, int64_t now)
{
    if (w->rate > 0) {
        ready_push(w, c);
        return;
    }
    while (c->state == C_UP && c->issued - c->done < (uint64_t)cfg_of(w)->depth && may_issue(w))
        issue(w, c, now);
    queue_send(w, c);
}

/* ---- receiving ---- */

static void next_cycle(eb_worker *w, eb_conn *c);

static void completed(eb_worker *w, eb_conn *c, int64_t now)
{
    const eb_config *cfg = cfg_of(w);
    int measuring = phase(w) == EB_PHASE_RUN;
    while (c->done < c->issued && (c->done + 1) * cfg->size <= c->recvd) {
        int64_t t0 = cfg->mode == EB_RECONNECT ? c->t_connect : *stamp_of(w, c, c->done);
        c->done++;
        w->inflight--;
        if (measuring) {
            eb_hist_add(&w->lat, now - t0);
            bump(&w->ctr.msgs, 1);
        }
    }
    switch (cfg->mode) {
    case EB_ECHO:
        refill(w, c, now);
        break;
    case EB_IDLE:
        if (c->done == c->issued)
            settle(w, c);
        break;
    case EB_RECONNECT:
        if (c->done == c->issued) {
            close_conn(w, c);
            next_cycle(w, c);
        }
        break;
    }
}

static void mismatch(eb_worker *w, eb_conn *c, const unsigned char *got, size_t n)
{
    const unsigned char *want = w->sh->pattern + (c->start + c->recvd) % EB_PATTERN_LEN;
    size_t i = 0;
    while (i < n && got[i] == want[i])
        i++;
    if (c->recvd + n > c->sent && i == n)
        describe(w, c, "mismatch: the server sent %llu bytes more than it was sent",
                 (unsigned long long)(c->recvd + n - c->sent));
    else
        describe(w, c, "mismatch at stream byte %llu: got 0x%02x, sent 0x%02x", (unsigned long long)(c->recvd + i),
                 got[i], want[i]);
    bump(&w->ctr.mismatch, 1);
    settle(w, c);
    close_conn(w, c);
}

/* One recv (READ is reported again if data is left).  Returns 1 after
 * data, 0 when nothing was there, -1 when the connection is gone. */
static int on_readable(eb_worker *w, eb_conn *c, int64_t now)
{
    static _Thread_local unsigned char buf[EB_CHUNK];
    ptrdiff_t n = netev_recv(w->loop, c->sock, buf, sizeof buf, 0);
    if (n == NETEV_EAGAIN)
        return 0;
    if (n <= 0) {
        lost(w, c, n == 0 ? "the server closed it" : netev_strerror((int)n));
        return -1;
    }
    /* Extra bytes never sent, or bytes that differ from what was sent. */
    const unsigned char *want = w->sh->pattern + (c->start + c->recvd) % EB_PATTERN_LEN;
    if (c->recvd + (uint64_t)n > c->sent || memcmp(buf, want, (size_t)n) != 0) {
        mismatch(w, c, buf, (size_t)n);
        return -1;
    }
    c->recvd += (uint64_t)n;
    completed(w, c, now);
    return 1;
}

/* ---- connection life ---- */

static void start_traffic(eb_worker *w, eb_conn *c, int64_t now)
{
    switch (cfg_of(w)->mode) {
    case EB_ECHO:
        refill(w, c, now);
        break;
    case EB_IDLE:
    case EB_RECONNECT:
        issue(w, c, now);
        queue_send(w, c);
        break;
    }
}

static void on_connected(eb_worker *w, eb_conn *c, int64_t now)
{
    c->state = C_UP;
    w->connecting--;
    bump(&w->ctr.up, 1);
    eb_hist_add(&w->conn_lat, now - c->t_connect);
    if (cfg_of(w)->mode != EB_RECONNECT)
        resolved(w);
    if (traffic(phase(w)))
        start_traffic(w, c, now);
}

/* --reconnect: a slot starts its next connection, unless the quota is spent. */
static void next_cycle(eb_worker *w, eb_conn *c)
{
    if (!traffic(phase(w)) || (w->has_quota && w->cycles_started >= w->quota))
        return;
    w->cycles_started++;
    uint32_t id = (uint32_t)(w->next_cycle_id++ * (uint64_t)cfg_of(w)->threads + (uint64_t)w->index);
    open_conn(w, c, id);
}

static void on_record(eb_worker *w, const netev_event *e, int64_t now)
{
    eb_conn *c = e->udata;
    unsigned ev = e->events;
    if (!ev || !c || c->sock != e->sock)
        return;
    if (ev & NETEV_CONNECT) {
        if (e->error[NETEV_CONNECT_BIT]) {
            connect_failed(w, c, netev_strerror(e->error[NETEV_CONNECT_BIT]));
            return;
        }
        on_connected(w, c, now);
    }
    if ((ev & NETEV_READ) && c->state == C_UP && on_readable(w, c, now) < 0)
        return;
    if ((ev & NETEV_WRITE) && c->state == C_UP)
        queue_send(w, c);
    if ((ev & NETEV_CLOSE) && c->state == C_UP) {
        /* What came before the close is still checked; then it is lost
         * (after a FIN recv ends with 0, after a reset with an error). */
        uint64_t sock = (uint64_t)c->sock;
        for (int i = 0; i < 64 && c->state == C_UP && (uint64_t)c->sock == sock; i++)
            if (on_readable(w, c, now) <= 0)
                break;
        if (c->state == C_UP && (uint64_t)c->sock == sock)
            lost(w, c, e->error[NETEV_CLOSE_BIT] ? netev_strerror(e->error[NETEV_CLOSE_BIT]) : "the server closed it");
    }
}

/* ---- the thread ---- */

/* Connects or echoes slower than --timeout are errors. */
static void check_timeouts(eb_worker *w, int64_t now)
{
    const eb_config *cfg = cfg_of(w);
    int64_t limit = (int64_t)(cfg->timeout * 1e9);
    for (int i = 0; i < w->nconns; i++) {
        eb_conn *c = &w->conns[i];
        if (c->state == C_CONNECTING && now - c->t_connect > limit) {
            connect_failed(w, c, "timed out");
        } else if (c->state == C_UP && c->done < c->issued && now - *stamp_of(w, c, c->done) > limit) {
            describe(w, c, "no echo within %.3g s (%llu of %llu bytes echoed)", cfg->timeout,
                     (unsigned long long)c->recvd, (unsigned long long)c->sent);
            bump(&w->ctr.timeouts, 1);
            settle(w, c);
            close_conn(w, c);
        }
    }
}

/* First round of connections (not --reconnect): paced by --ramp and by
 * MAX_CONNECTING.  Returns the ns until the next may be opened, or -1. */
static int64_t open_more(eb_worker *w, int64_t now)
{
    while (w->next_open < w->nconns && w->connecting < MAX_CONNECTING) {
        if (w->ramp > 0) {
            int64_t at = scheduled(w, (uint64_t)w->next_open, w->sh->t_start, cfg_of(w)->ramp);
            if (at > now)
                return at - now;
        }
        eb_conn *c = &w->conns[w->next_open];
        open_conn(w, c, w->first_id + (uint32_t)w->next_open);
        w->next_open++;
    }
    return -1;
}

/* Phase DRAIN: a --reconnect slot still connecting has sent nothing, so
 * there is nothing to wait for on it. */
static void start_drain(eb_worker *w)
{
    if (cfg_of(w)->mode != EB_RECONNECT)
        return;
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].state == C_CONNECTING)
            close_conn(w, &w->conns[i]);
}

static void start_run(eb_worker *w, int64_t now)
{
    if (cfg_of(w)->mode == EB_RECONNECT) {
        for (int i = 0; i < w->nconns; i++)
            next_cycle(w, &w->conns[i]);
        return;
    }
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].state == C_UP)
            start_traffic(w, &w->conns[i], now);
}

/* Nothing more to do before phase STOP: quota done, or nothing left alive.
 * A quota of 0 (-n below -T) is done as soon as the connections are up.
 * --reconnect: a slot in use is always connecting or waiting for its echo,
 * since a cycle's end opens the next at once; with neither left, every slot
 * spent the quota or was retired by a failure (connect_failed, lost,
 * mismatch and timeouts close it without a next cycle, so that a dead
 * server is not hammered with reconnects). */
static int finished(const eb_worker *w)
{
    if (w->inflight || w->connecting || w->next_open < w->nconns)
        return 0;
    if (phase(w) == EB_PHASE_DRAIN)
        return 1; /* every echo outstanding came back, timed out or was lost */
    switch (cfg_of(w)->mode) {
    case EB_ECHO:
        return (w->has_quota && w->issued >= w->quota) || atomic_load(&w->ctr.up) == 0;
    case EB_RECONNECT:
        return 1;
    case EB_IDLE:
        break;
    }
    return 0;
}

/* Waits are in microseconds (netev_wait_us): a --rate schedule needs finer
 * steps than whole milliseconds, or each message would go out up to 1 ms
 * late and the latency measured from its due time would be mostly that.
 * Rounded up, so that a wait never ends before the next message is due. */
static int64_t us_until(int64_t ns)
{
    if (ns < 0)
        return -1;
    int64_t us = (ns + 999) / 1000;
    return us > 1000000 ? 1000000 : us;
}

static int64_t min_timeout(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static void run(eb_worker *w)
{
    static _Thread_local netev_event recs[MAX_RECORDS];
    const eb_config *cfg = cfg_of(w);
    int running = 0, draining = 0;
    w->t_start = eb_now_ns();
    w->next_check = w->t_start + CHECK_EVERY_NS;
    if (cfg->mode == EB_RECONNECT) {
        w->next_open = w->nconns; /* slots open their connections in phase RUN */
        bump(&w->ctr.resolved, (uint64_t)w->nconns);
    }
    for (;;) {
        int64_t now = eb_now_ns();
        int ph = phase(w);
        if (ph == EB_PHASE_STOP)
            return;
        if (ph >= EB_PHASE_WARM && !running) {
            running = 1; /* a short window may be over before this thread saw it */
            if (traffic(ph))
                start_run(w, now);
        }
        if (ph == EB_PHASE_DRAIN && !draining) {
            draining = 1;
            start_drain(w);
        }
        int64_t timeout = us_until(open_more(w, now));
        if (running && w->rate > 0)
            timeout = min_timeout(timeout, us_until(issue_due(w, now)));
        if (running && finished(w)) {
            atomic_store(&w->t_done, eb_now_ns());
            return;
        }
        timeout = min_timeout(timeout, us_until(w->next_check - now));
        if (w->rate <= 0 && timeout > 0) /* nothing is due on a schedule: whole ms, a plain epoll_wait */
            timeout = (timeout + 999) / 1000 * 1000;
        send_pending(w);
        int n = netev_wait_us(w->loop, recs, MAX_RECORDS, timeout);
        if (n < 0) {
            eb_say(w->sh, "netev_wait: %s", netev_strerror(n));
            return;
        }
        for (int i = 0; i < n; i++)
            on_record(w, &recs[i], eb_now_ns());
        now = eb_now_ns();
        if (now >= w->next_check) {
            check_timeouts(w, now);
            w->next_check = now + CHECK_EVERY_NS;
        }
    }
}

void *eb_worker_main(void *arg)
{
    eb_worker *w = arg;
    const eb_config *cfg = cfg_of(w);
    w->conns = calloc((size_t)w->nconns, sizeof *w->conns);
    w->stamps = calloc((size_t)w->nconns * (size_t)cfg->depth, sizeof *w->stamps);
    w->ready = calloc((size_t)w->nconns, sizeof *w->ready);
    w->pending = calloc((size_t)w->nconns, sizeof *w->pending);
    w->reqs = calloc((size_t)w->nconns, sizeof *w->reqs);
    if (!w->conns || !w->stamps || !w->ready || !w->pending || !w->reqs) {
        eb_say(w->sh, "out of memory");
        /* Count every slot as failed so that the main thread does not wait for them. */
        bump(&w->ctr.connect_fail, (uint64_t)w->nconns);
        bump(&w->ctr.resolved, (uint64_t)w->nconns);
        bump(&w->ctr.settled, (uint64_t)w->nconns);
    } else {
        for (int i = 0; i < w->nconns; i++)
            w->conns[i].sock = NETEV_INVALID_SOCKET;
        run(w);
        for (int i = 0; i < w->nconns; i++)
            close_conn(w, &w->conns[i]);
    }
    free(w->conns);
    free(w->stamps);
    free(w->ready);
    free(w->pending);
    free(w->reqs);
    w->conns = 0;
    w->stamps = 0;
    w->ready = 0;
    w->pending = 0;
    w->reqs = 0;
    atomic_store(&w->done, 1);
    return 0;
}
