/* netev: the WSAEventSelect socket model, portable and fast.
 *
 * Register a socket's interest once with netev_select(); wait on any number of
 * sockets with netev_wait(); get back one record per ready socket saying which
 * network events happened (ACCEPT, READ, WRITE, CLOSE, CONNECT, OOB), each with
 * its own error code.  The exact rules are in docs/semantics.md; in short:
 *
 *  - ACCEPT, READ and OOB are level events re-enabled by netev_accept() and
 *    netev_recv(): reported once, then not again until that call is made; after
 *    it, reported again at the next wait if the condition still holds.
 *  - WRITE is reported when a socket is first connected, and afterwards only
 *    after a netev_send() returned NETEV_EAGAIN or took fewer bytes than asked,
 *    once space is free again.
 *  - CONNECT (outcome of netev_connect) and CLOSE (peer FIN or reset) are
 *    reported once.
 *
 * A loop is used by one thread at a time; only netev_wakeup() may be called
 * from any thread.
 */
#ifndef NETEV_H
#define NETEV_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
typedef SOCKET netev_socket;
#define NETEV_INVALID_SOCKET INVALID_SOCKET
#else
#include <sys/socket.h>
typedef int netev_socket;
#define NETEV_INVALID_SOCKET (-1)
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define NETEV_VERSION_MAJOR 0
#define NETEV_VERSION_MINOR 1
#define NETEV_VERSION_PATCH 0
#define NETEV_VERSION_STRING "0.1.0"

/* Network events: the same values as Winsock's FD_* constants. */
#define NETEV_READ    0x01
#define NETEV_WRITE   0x02
#define NETEV_OOB     0x04
#define NETEV_ACCEPT  0x08
#define NETEV_CONNECT 0x10
#define NETEV_CLOSE   0x20
#define NETEV_ALL     0x3f

enum { NETEV_READ_BIT, NETEV_WRITE_BIT, NETEV_OOB_BIT, NETEV_ACCEPT_BIT,
       NETEV_CONNECT_BIT, NETEV_CLOSE_BIT, NETEV_MAX_EVENTS };

/* Flags for netev_recv / netev_send: the platform's own MSG_* values. */
#define NETEV_MSG_OOB  MSG_OOB
#define NETEV_MSG_PEEK MSG_PEEK

/* Error codes: negative, the same on every platform.  0 means success. */
enum {
    NETEV_EAGAIN        = -1,  /* would block; the event will be reported again */
    NETEV_EINVAL        = -2,  /* bad argument or bad call for the socket's state */
    NETEV_EBADF         = -3,  /* not an open descriptor */
    NETEV_ENOMEM        = -4,
    NETEV_EMFILE        = -5,  /* per-process descriptor limit reached */
    NETEV_ENFILE        = -6,  /* system-wide descriptor limit reached */
    NETEV_ECONNRESET    = -7,  /* peer reset the connection */
    NETEV_ECONNABORTED  = -8,
    NETEV_ECONNREFUSED  = -9,
    NETEV_ETIMEDOUT     = -10,
    NETEV_ENETUNREACH   = -11,
    NETEV_EHOSTUNREACH  = -12,
    NETEV_EPIPE         = -13, /* sending on a connection that is shut down */
    NETEV_EINPROGRESS   = -14,
    NETEV_ENOTSOCK      = -15, /* descriptor is not a socket */
    NETEV_EADDRINUSE    = -16,
    NETEV_EADDRNOTAVAIL = -17,
    NETEV_EAFNOSUPPORT  = -18,
    NETEV_ENOTCONN      = -19,
    NETEV_EISCONN       = -20,
    NETEV_EALREADY      = -21,
    NETEV_ENOBUFS       = -22,
    NETEV_ENETDOWN      = -23,
    NETEV_EMSGSIZE      = -24,
    NETEV_EOPNOTSUPP    = -25,
    NETEV_EACCES        = -26,
    NETEV_EFAULT        = -27,
    NETEV_EIO           = -28, /* any other operating-system error */
    NETEV_ERRNO_MIN     = -28
};

typedef struct netev_event {
    netev_socket sock;
    void *udata;                  /* as given to netev_select */
    unsigned events;              /* NETEV_* bits that happened; 0 = skip (socket closed during the walk) */
    int error[NETEV_MAX_EVENTS];  /* per bit: 0 or a negative NETEV_E* code; valid only for set bits */
} netev_event;

typedef struct netev_loop netev_loop;

/* backend: NULL = $NETEV_BACKEND if set, else the platform's best.
 * Known names: "epoll" (Linux), "poll" (POSIX), "wsa" (Windows).
 * Returns NULL on failure (unknown or unavailable backend: errno = EINVAL). */
netev_loop *netev_loop_new(const char *backend);
/* Frees the loop.  Sockets still selected stay open: they belong to the caller. */
void netev_loop_free(netev_loop *loop);
const char *netev_loop_backend(const netev_loop *loop);

/* The WSAEventSelect analogue: associate s with the loop (first call), or
 * change its mask and udata (later calls; no system call).  The socket is made
 * non-blocking.  A socket selected before listen(), or before a connect() not
 * made by netev_connect, reports nothing: select it again afterwards (that
 * call then asks the socket what it has become; docs/semantics.md).  events == 0 stops reporting but keeps recording: what
 * happens meanwhile is reported once the socket is selected again.
 * Returns 0, NETEV_EINVAL (bits outside NETEV_ALL, NULL loop), NETEV_EBADF,
 * NETEV_ENOTSOCK or NETEV_ENOMEM. */
int netev_select(netev_loop *loop, netev_socket s, unsigned events, void *udata);

/* Stop tracking s without closing it (it stays non-blocking).  Records for s
 * in the current batch are marked events == 0.  NETEV_EBADF if not tracked. */
int netev_forget(netev_loop *loop, netev_socket s);

/* The events recorded for s that the next netev_wait will report (bits of
 * its mask), or NETEV_EINVAL (NULL loop) / NETEV_EBADF (s not tracked).  No
 * system call: it tells what the loop knows, not what the kernel has yet to
 * say.  Its use: right after netev_accept, ACCEPT here means another
 * connection is queued (the call checks), so a server can accept a burst
 * without a netev_wait per connection and without a last accept that fails. */
int netev_recorded(netev_loop *loop, netev_socket s);

/* Waits until at least one selected event is ready, the timeout expires
 * (timeout_ms = -1: forever, 0: just check) or netev_wakeup() is called.
 * Fills up to max records, one per ready socket, all its bits merged; sockets
 * just reported go to the back of the line.  Returns the number of records
 * (0 on timeout or wakeup) or a negative NETEV_E* code.
 * The array stays the caller's and must stay valid until the next netev_wait
 * or netev_loop_free: netev_close/netev_forget during the walk set the closed
 * socket's record to events == 0, so a later record never names it. */
int netev_wait(netev_loop *loop, netev_event *out, int max, int timeout_ms);

/* netev_wait with the timeout in microseconds (-1: forever; any negative
 * timeout means forever in both calls).  For a program that paces its own
 * work finer than 1 ms (a game tick, a load generator's send schedule).
 * Linux waits to the microsecond (epoll_pwait2 from Linux 5.11, else whole
 * ms; ppoll); elsewhere the timeout is rounded up to whole ms.  Never early. */
int netev_wait_us(netev_loop *loop, netev_event *out, int max, int64_t timeout_us);

/* Any thread: a blocked netev_wait returns at once; with no wait blocked,
 * the next netev_wait returns at once. */
int netev_wakeup(netev_loop *loop);

/* recv: bytes, 0 at end of stream (or for an empty datagram, or len 0), or
 * NETEV_E* (NETEV_EAGAIN: nothing to read).  Re-enables READ (OOB with
 * NETEV_MSG_OOB).  flags: NETEV_MSG_OOB, NETEV_MSG_PEEK, and the platform's
 * MSG_WAITALL (and MSG_DONTWAIT on POSIX); others are NETEV_EINVAL.
 * send's flags: NETEV_MSG_OOB, MSG_DONTROUTE (and MSG_DONTWAIT on POSIX). */
ptrdiff_t netev_recv(netev_loop *loop, netev_socket s, void *buf, size_t len, int flags);
/* send: bytes taken or NETEV_E*; never raises SIGPIPE.  NETEV_EAGAIN or a
 * short count arms WRITE, which is reported once space is free again. */
ptrdiff_t netev_send(netev_loop *loop, netev_socket s, const void *buf, size_t len, int flags);
/* One send of a batch: sock, buf, len and flags as for netev_send; result
 * is filled in with what netev_send would return. */
typedef struct netev_send_req {
    netev_socket sock;
    const void *buf;
    size_t len;
    int flags;
    ptrdiff_t result;
} netev_send_req;
/* Sends every request, with netev_send's results and records, in fewer
 * system calls: on Linux one io_uring_enter for the batch (where io_uring
 * is available, NETEV_NO_IO_URING is unset and netev was built against
 * kernel headers 5.6 or newer), elsewhere one send each.
 * Each result is known when it returns, as with netev_send.  Requests for
 * the same socket go out in array order; after one of them is short or
 * fails, the later ones for that socket are not tried: NETEV_EAGAIN (the
 * socket is full, WRITE comes).  Returns n, or NETEV_EINVAL for a NULL
 * loop, a negative n or NULL reqs with n > 0. */
int netev_send_batch(netev_loop *loop, netev_send_req *reqs, int n);
/* One recv of a batch: sock, buf, len and flags as for netev_recv; result
 * is filled in with what netev_recv would return. */
typedef struct netev_recv_req {
    netev_socket sock;
    void *buf;
    size_t len;
    int flags;
    ptrdiff_t result;
} netev_recv_req;
/* Receives for every request, with netev_recv's results and records, in
 * fewer system calls: on Linux one io_uring_enter for the batch (as for
 * netev_send_batch), elsewhere one recv each.  Each result is known when it
 * returns, and is what netev_recv would have returned had the requests been
 * made one after another in array order (a socket's later requests are
 * plain recvs after its first).  Returns n, or NETEV_EINVAL for a NULL loop,
 * a negative n or NULL reqs with n > 0. */
int netev_recv_batch(netev_loop *loop, netev_recv_req *reqs, int n);
/* accept: 0 and *out = the new socket (non-blocking, close-on-exec, not yet
 * selected), or NETEV_E*.  Re-enables ACCEPT.  NETEV_EMFILE / NETEV_ENFILE
 * leave the connection queued; ACCEPT is reported again after a netev_close
 * on this loop or when a new connection arrives. addr/addrlen may be NULL. */
int netev_accept(netev_loop *loop, netev_socket listener, netev_socket *out,
                 struct sockaddr *addr, socklen_t *addrlen);
/* netev_accept, then netev_select(*out, events, udata), in one call and with
 * fewer system calls: the new socket's state is known, nothing is probed.
 * If it cannot be tracked (NETEV_ENOMEM), the connection is closed. */
int netev_accept_select(netev_loop *loop, netev_socket listener, unsigned events, void *udata,
                        netev_socket *out, struct sockaddr *addr, socklen_t *addrlen);
/* connect: 0 = started; the outcome always arrives as CONNECT (with WRITE on
 * success), even when it completes at once.  NETEV_E* for bad arguments or
 * a socket in the wrong state.  Tracks s (mask 0) if it is not yet selected. */
int netev_connect(netev_loop *loop, netev_socket s, const struct sockaddr *addr, socklen_t addrlen);
/* Unregister and close.  No record for s is returned afterwards, even if a
 * new socket reuses the number.  Also closes sockets the loop does not track. */
int netev_close(netev_loop *loop, netev_socket s);

/* A short English description of a NETEV_E* code (or 0). Never NULL. */
const char *netev_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* NETEV_H */
