/* Internal structures shared by the core, the re-enabling calls and the backends. */
#ifndef NETEV_INT_H
#define NETEV_INT_H

#include "netev.h"

#include <stdatomic.h>
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
    NETEV__F_STARVED = 1 << 7        /* listener whose accept ran out of descriptors */
};

/* Per-socket record: 24 bytes, indexed by descriptor.  The "disabled" bits are
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
    /* Waits for readiness and calls netev__ready() per socket.  Returns 1 if
     * the wakeup fired, 0 otherwise (EINTR included), or a NETEV_E* code. */
    int (*wait)(netev_loop *loop, int timeout_ms);
} netev__backend;

typedef struct netev__starved {
    netev_socket s;
    int queue_len; /* accept queue length when accept failed, -1 unknown */
} netev__starved;

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
    atomic_int wake_pending;
    int wake_rfd, wake_wfd; /* eventfd (both the same) or a pipe */
};

extern const netev__backend netev__backend_poll;
#ifdef __linux__
extern const netev__backend netev__backend_epoll;
#endif

/* loop.c.  The table is indexed by "slot"; on POSIX the slot is the
 * descriptor itself, so finding a socket's record costs one bounds check. */
static inline netev__sock *netev__lookup(netev_loop *loop, netev_socket s)
{
    if (s < 0 || s >= loop->nsocks)
        return 0;
    netev__sock *sk = &loop->socks[s];
    return (sk->flags & NETEV__F_REGISTERED) ? sk : 0;
}
static inline int32_t netev__slot(const netev_loop *loop, const netev__sock *sk)
{
    return (int32_t)(sk - loop->socks);
}
static inline netev_socket netev__slot_socket(const netev_loop *loop, int32_t slot)
{
    (void)loop;
    return (netev_socket)slot;
}
void netev__record(netev_loop *loop, netev__sock *sk, unsigned bit, int err);
static inline void netev__changed(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    if (loop->backend->update)
        loop->backend->update(loop, s, sk);
}
int netev__track(netev_loop *loop, netev_socket s, netev__sock **out); /* lookup, or register */
void netev__unregister(netev_loop *loop, netev_socket s, netev__sock *sk);
void netev__drain_wakeup(netev_loop *loop);

/* ready.c: what a backend's readiness means for a socket's records */
void netev__ready(netev_loop *loop, netev_socket s, unsigned readiness);

/* starve.c: accept without descriptors must not spin */
int netev__starve(netev_loop *loop, netev_socket s, netev__sock *sk);
void netev__starved_rearm(netev_loop *loop);
void netev__starved_check(netev_loop *loop);

/* error.c */
int netev__map_errno(int e);

/* os_posix.c: one-syscall probes */
int netev__so_error(netev_socket s);          /* pending socket error (errno value), cleared */
int netev__fionread(netev_socket s);          /* bytes readable now, 0 on error */
unsigned netev__poll1(netev_socket s, short events); /* revents of a zero-timeout poll */
int netev__set_nonblock(netev_socket s);      /* 0 or errno */
int netev__accept_queue_len(netev_socket s);  /* queued connections, -1 if unknown */

#endif
