/* Internal structures shared by the core, the re-enabling calls and the backends. */
#ifndef NETEV_INT_H
#define NETEV_INT_H

#include "netev.h"
#include "netev_hooks.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Connection state of a tracked socket, learned at registration and from readiness. */
enum netev__state {
    NETEV__UNCONNECTED, /* nothing to report until netev_connect */
    NETEV__LISTENING,
    NETEV__CONNECTING,
    NETEV__CONNECTED,
    NETEV__DATAGRAM,
    NETEV__FAILED /* connect failed: nothing more to report */
};

enum netev__flag {
    NETEV__F_REGISTERED = 1 << 0,
    NETEV__F_QUEUED = 1 << 1,        /* on the ready queue (possibly stale: checked at pop) */
    NETEV__F_WRITE_BLOCKED = 1 << 2, /* a send fell short: WRITE when space frees */
    NETEV__F_VIA_CONNECT = 1 << 3,   /* connect started by netev_connect: report CONNECT */
    NETEV__F_RD_EOF = 1 << 4,        /* peer's FIN seen: no more data will arrive */
    NETEV__F_DEAD = 1 << 5,          /* reset, error or full hang-up: nothing left to watch */
    NETEV__F_URGENT = 1 << 6,        /* urgent data seen: recv may stop short at the mark */
    NETEV__F_STARVED = 1 << 7,       /* listener whose accept ran out of descriptors */
    NETEV__F_MESSAGE = 1 << 8        /* connected, but keeps message boundaries (SOCK_SEQPACKET) */
};

/* Per-socket record: 24 bytes, indexed by slot (the descriptor on POSIX).  The "disabled" bits are
 * Windows' reported-but-not-re-enabled events (pending is always a subset);
 * an event is recorded only while its bit is not disabled. */
typedef struct netev__sock {
    void *udata;
    int32_t next;      /* ready queue link, -1 = end */
    int32_t batch_idx; /* index of its record in the last batch, -1 = none */
    uint8_t mask;      /* selected events */
    uint8_t pending;   /* recorded, not yet reported */
    uint8_t disabled;  /* recorded, waiting for the re-enabling call */
    uint8_t state;     /* enum netev__state */
    uint16_t flags;    /* enum netev__flag */
    int8_t err_open;   /* CONNECT error (connector) or ACCEPT error (listener) */
    int8_t err_close;  /* CLOSE error */
} netev__sock;

/* Readiness in a portable vocabulary, as a backend observed it. */
enum { NETEV__IN = 1, NETEV__OUT = 2, NETEV__PRI = 4, NETEV__RDHUP = 8, NETEV__HUP = 16, NETEV__ERR = 32 };

typedef struct netev__backend {
    const char *name;
    int (*init)(netev_loop *loop);
    void (*free)(netev_loop *loop);
    int (*add)(netev_loop *loop, netev_socket s, netev__sock *sk);
    void (*del)(netev_loop *loop, netev_socket s, netev__sock *sk);
    /* Interest follows the socket's bits (level-triggered backends); NULL if it never changes. */
    void (*update)(netev_loop *loop, netev_socket s, netev__sock *sk);
    /* Waits for readiness (timeout_us -1: forever) and calls netev__ready()
     * per socket.  Returns 1 if the wakeup fired, 0 otherwise (EINTR
     * included), or a NETEV_E* code. */
    int (*wait)(netev_loop *loop, int64_t timeout_us);
} netev__backend;

/* For system calls that count in milliseconds: rounded up, so that a wait
 * never ends early; -1 stays "forever". */
static inline int netev__ms_ceil(int64_t timeout_us)
{
    if (timeout_us < 0)
        return -1;
    int64_t ms = timeout_us / 1000 + (timeout_us % 1000 != 0);
    return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

typedef struct netev__starved {
    netev_socket s;
    int queue_len; /* accept queue length when accept failed, -1 unknown */
} netev__starved;

#ifdef _WIN32
/* SOCKET handles are arbitrary numbers: a small open-addressing hash maps
 * them to dense table slots (sockmap_win.c). */
typedef struct netev__sockmap {
    netev_socket *sock;   /* slot -> socket (valid while the slot is registered) */
    int32_t *hash;        /* linear probing; each entry a slot, -1 = empty */
    uint32_t hmask;       /* hash capacity - 1 (capacity a power of two) */
    int32_t count;        /* sockets in the hash */
    int32_t top;          /* slots handed out so far (0..top-1) */
    int32_t cap;          /* capacity of sock and free_slots */
    int32_t *free_slots;  /* released slots, reused last-in first-out */
    int32_t nfree;
} netev__sockmap;
#endif

struct netev_loop {
    const netev__backend *backend;
    void *bstate;
    netev__sock *socks;
    int32_t nsocks; /* capacity of socks */
    int32_t head, tail; /* ready queue (FIFO of socket indexes) */
    netev_event *batch; /* the last netev_wait's records, for netev_close */
    int batch_n;
    netev__starved *starved; /* listeners whose accept hit EMFILE/ENFILE */
    int nstarved, cap_starved;
    netev__resignal_fn resignal; /* loop option of netev_hooks.h, NULL = native rule */
    void *resignal_ctx;
    atomic_int wake_pending;
    void *batch_scratch; /* netev_send_batch's and netev_recv_batch's bookkeeping (batch.c) */
    size_t batch_scratch_cap;
    void *ring;          /* their io_uring (ring.c), made at first use */
    int ring_state;      /* 0 not tried, 1 made, -1 unavailable */
#ifdef _WIN32
    void *wake_event; /* WSAEVENT (manual reset) set by netev_wakeup */
    netev__sockmap map;
#else
    int wake_rfd, wake_wfd; /* eventfd (both the same) or a pipe */
#endif
};

#ifdef _WIN32
extern const netev__backend netev__backend_wsa;
#else
extern const netev__backend netev__backend_poll;
#endif
#ifdef __linux__
extern const netev__backend netev__backend_epoll;
#endif

/* loop.c.  The table is indexed by "slot"; on POSIX the slot is the
 * descriptor itself, so finding a socket's record costs one bounds check. */
int netev__table_grow(netev_loop *loop, int64_t min_size); /* 0 or NETEV_ENOMEM */
#ifdef _WIN32
static inline uint32_t netev__sock_hash(netev_socket s)
{
    return (uint32_t)(((uint64_t)s * UINT64_C(0x9E3779B97F4A7C15)) >> 32);
}
static inline netev__sock *netev__lookup(netev_loop *loop, netev_socket s)
{
    const netev__sockmap *m = &loop->map;
    if (!m->hash)
        return 0;
    for (uint32_t i = netev__sock_hash(s) & m->hmask;; i = (i + 1) & m->hmask) {
        int32_t slot = m->hash[i];
        if (slot < 0)
            return 0;
        if (m->sock[slot] == s)
            return &loop->socks[slot];
    }
}
static inline netev_socket netev__slot_socket(const netev_loop *loop, int32_t slot)
{
    return loop->map.sock[slot];
}
/* sockmap_win.c */
int netev__slot_acquire(netev_loop *loop, netev_socket s, int32_t *slot);
void netev__slot_release(netev_loop *loop, netev_socket s, int32_t slot);
void netev__sockmap_free(netev_loop *loop);
#else
static inline netev__sock *netev__lookup(netev_loop *loop, netev_socket s)
{
    if (s < 0 || s >= loop->nsocks)
        return 0;
    netev__sock *sk = &loop->socks[s];
    return (sk->flags & NETEV__F_REGISTERED) ? sk : 0;
}
static inline netev_socket netev__slot_socket(const netev_loop *loop, int32_t slot)
{
    (void)loop;
    return (netev_socket)slot;
}
static inline int netev__slot_acquire(netev_loop *loop, netev_socket s, int32_t *slot)
{
    if (s < 0)
        return NETEV_EBADF;
    *slot = s;
    return netev__table_grow(loop, (int64_t)s + 1);
}
static inline void netev__slot_release(netev_loop *loop, netev_socket s, int32_t slot)
{
    (void)loop, (void)s, (void)slot;
}
#endif
static inline int32_t netev__slot(const netev_loop *loop, const netev__sock *sk)
{
    return (int32_t)(sk - loop->socks);
}
void netev__record(netev_loop *loop, netev__sock *sk, unsigned bit, int err);
/* The connection is over (reset, fatal error, both directions shut): CLOSE
 * with err, and nothing left to watch or read. */
static inline void netev__connection_over(netev_loop *loop, netev__sock *sk, int err)
{
    sk->flags |= NETEV__F_DEAD | NETEV__F_RD_EOF;
    /* A reset or fatal error after a CLOSE already reported as graceful is
     * kept all the same, for netev__close_error (netev_hooks.h); a CLOSE not
     * yet reported keeps the error it was recorded with. */
    if (err && !sk->err_close && (sk->disabled & NETEV_CLOSE) && !(sk->pending & NETEV_CLOSE))
        sk->err_close = (int8_t)err;
    netev__record(loop, sk, NETEV_CLOSE, err);
}
static inline void netev__changed(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    if (loop->backend->update)
        loop->backend->update(loop, s, sk);
}
int netev__track(netev_loop *loop, netev_socket s, netev__sock **out); /* lookup, or register */
void netev__unregister(netev_loop *loop, netev_socket s, netev__sock *sk);
void netev__drain_wakeup(netev_loop *loop);

/* zalloc.c: tables indexed by descriptor; the part a grow adds is zero */
void *netev__zgrow(void *p, size_t old_bytes, size_t new_bytes);
void netev__zfree(void *p, size_t bytes);

/* ready.c: what a backend's readiness means for a socket's records */
void netev__ready(netev_loop *loop, netev_socket s, unsigned readiness);
#ifndef _WIN32
/* A recv or send on a socket still connecting returned errno e: the kernel
 * tells a connect's error once, and this call took it from the wait that
 * would have reported it, so a failure here is the connect's outcome. */
void netev__connect_error_heard(netev_loop *loop, netev_socket s, int e);
#endif
#ifdef _WIN32
/* ready_win.c: the same for a WSAEnumNetworkEvents record (FD_* bits, WSA errors) */
void netev__ready_wsa(netev_loop *loop, netev__sock *sk, long events, const int *errors);
#endif

/* reenable.c: what the re-enabling calls mean for the records (io.c and
 * io_win.c make the system calls around these) */
netev__sock *netev__reenable(netev_loop *loop, netev_socket s, unsigned bit); /* NULL: untracked */
void netev__recv_done(netev_loop *loop, netev_socket s, netev__sock *sk, int flags, ptrdiff_t n, size_t len,
                      int err);
void netev__send_done(netev_loop *loop, netev_socket s, int err, size_t sent, size_t len);
int netev__accept_failed(netev_loop *loop, netev_socket listener, netev__sock *sk, int err);
void netev__accept_done(netev_loop *loop, netev_socket listener, netev__sock *sk);
int netev__connect_begin(netev_loop *loop, netev_socket s, const struct sockaddr *addr, socklen_t addrlen,
                         netev__sock **out);
/* outcome: 0 connected at once, NETEV_EINPROGRESS, or the failure (reported as CONNECT) */
void netev__connect_done(netev_loop *loop, netev_socket s, netev__sock *sk, int outcome);
void netev__close_begin(netev_loop *loop, netev_socket s);
int netev__close_done(netev_loop *loop, int err);

/* ring.c (Linux, kernel headers 5.6 or newer: NETEV_HAVE_RING): sends or
 * receives reqs[i] where use[i], in one io_uring_enter, with netev_send's /
 * netev_recv's results and records.  0 when done (a result of NETEV__REDO
 * asks for the plain call), -1 when there is no ring (nothing was done).
 * Elsewhere there never is one. */
#define NETEV__REDO PTRDIFF_MIN
#ifdef NETEV_HAVE_RING
int netev__send_ring(netev_loop *loop, netev_send_req *reqs, int n, const uint8_t *use);
int netev__recv_ring(netev_loop *loop, netev_recv_req *reqs, int n, const uint8_t *use);
void netev__ring_free(netev_loop *loop);
#else
static inline int netev__send_ring(netev_loop *loop, netev_send_req *reqs, int n, const uint8_t *use)
{
    (void)loop, (void)reqs, (void)n, (void)use;
    return -1;
}
static inline int netev__recv_ring(netev_loop *loop, netev_recv_req *reqs, int n, const uint8_t *use)
{
    (void)loop, (void)reqs, (void)n, (void)use;
    return -1;
}
static inline void netev__ring_free(netev_loop *loop)
{
    (void)loop;
}
#endif

/* starve.c: accept without descriptors must not spin */
int netev__starve(netev_loop *loop, netev_socket s, netev__sock *sk);
void netev__starved_rearm(netev_loop *loop);
void netev__starved_check(netev_loop *loop);

/* error.c (errno) and error_win.c (WSA errors): the OS's socket error
 * numbers as NETEV_E* codes. */
int netev__map_errno(int e);
#ifdef _WIN32
int netev__map_wsa(int e);
int netev__map_wsa_sock(int e, netev_socket s); /* tells a bad handle (EBADF) from a non-socket */
#define netev__map_sockerr netev__map_wsa
#else
#define netev__map_sockerr netev__map_errno
#endif

/* os_posix.c / os_win.c: the loop's own resources, and one-call probes.
 * Errors from the probes are the OS's numbers (netev__map_sockerr). */
int netev__os_open(netev_loop *loop);         /* wakeup object (and Winsock); -1 and errno on failure */
void netev__os_close(netev_loop *loop);
int netev__wake_signal(netev_loop *loop);     /* 0 or NETEV_E* */
int64_t netev__now_us(void);                  /* monotonic clock, microseconds */
/* 0 or NETEV_E*: enum netev__state of a new socket; *dead_err: NETEV_E* of a
 * connection that ended before it was selected, else 0 */
int netev__probe_state(netev_socket s, int *state, int *dead_err, int *message);
/* A socket selected while unconnected: has it since listened or connected? */
void netev__reprobe(netev_loop *loop, netev_socket s, netev__sock *sk);
int netev__so_error(netev_socket s);          /* pending socket error (errno value), cleared */
int netev__fionread(netev_socket s);          /* bytes readable now, 0 on error */
unsigned netev__poll1(netev_socket s, short events); /* revents of a zero-timeout poll */
int netev__readable(netev_socket s);         /* data, EOF or a queued connection now */
int netev__urgent_left(netev_socket s);      /* urgent data still unread (0 where unknown) */
int netev__at_mark(netev_socket s);         /* the next byte is the urgent mark's (0 where unknown) */
int netev__set_nonblock(netev_socket s);      /* 0 or the OS's error number */
int netev__keeps_messages(netev_socket s);    /* SOCK_SEQPACKET: 1, else (or unknown) 0 */
int netev__message_queued(netev_socket s);    /* such a socket has a message (an empty one too) to read */
int netev__accept_queue_len(netev_socket s);  /* queued connections, -1 if unknown */

#endif
