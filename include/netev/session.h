/* netev sessions: a TCP listener plus sessions with send backlogs, on the netev core.
 *
 * Pull-based like the core: the program calls netev_wait() and dispatches the
 * records itself.  For a record of its listener it calls netev_session_accept();
 * for a record of a session it calls
 *
 *     r = netev_session_ready(tab, &ev);          // flushes the backlog on WRITE, ends on reset
 *     while (r >= 0 && (r = netev_session_recv(tab, &ev, buf, len)) > 0)
 *         r = netev_session_send(tab, ev.sock, reply, reply_len);
 *     if (r < 0) ... the session is closed: r says why ...
 *
 * In the steady state (nothing waiting to be sent) a READ record costs exactly
 * one recv and one send system call, and no allocation.
 *
 * After the peer's FIN, the loop above reads to the end of the stream in one
 * go, which with a small max_pending keeps every other session waiting.  A
 * fair server reads once per record and keeps a record that still has
 * NETEV_CLOSE set: the bits are the credit, so it may be passed to
 * netev_session_ready/recv again after the next netev_wait (merged with a
 * new record of the same socket, if the wait returns one; apps/echod.c and
 * echod_records.c do this).
 *
 * What a session guarantees:
 *  - bytes a send could not take at once stay in the session's backlog and go
 *    out, in order, when WRITE is reported; later sends queue behind them;
 *  - back-pressure: while the backlog holds max_pending bytes or more the
 *    session stops reading (netev_session_recv returns 0 without a system
 *    call), so TCP flow control slows the peer down; reading resumes when the
 *    backlog drains.  A recv never reads more than the room left below
 *    max_pending, so an echo peer that never reads costs at most max_pending
 *    bytes (a program whose replies are larger than what it reads, or that
 *    sends unprompted, bounds its own backlogs with netev_session_pending);
 *  - the peer's FIN: everything it sent is still read and its replies sent,
 *    then the session closes (NETEV_SESSION_DONE);
 *  - a reset or any socket error closes the session at once.
 *
 * Memory: an idle session allocates nothing; the table costs one pointer per
 * descriptor number, in pages allocated as descriptor numbers grow.  A backlog
 * is allocated when a send falls short and freed as soon as it drains.
 *
 * Return values: every call that can end a session returns a negative value
 * once it has closed it: NETEV_SESSION_DONE for an orderly end, a NETEV_E*
 * code for an error (NETEV_ECONNRESET for a peer's reset).  After that the
 * socket number is no longer the program's.
 */
#ifndef NETEV_SESSION_H
#define NETEV_SESSION_H

#include "netev.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The session ended in order: the peer finished sending, everything was sent back. */
#define NETEV_SESSION_DONE (NETEV_ERRNO_MIN - 1)

typedef struct netev_sessions netev_sessions;

/* Opens a TCP listener on addr ("0.0.0.0", "::1", "[::1]", "fe80::1%eth0",
 * ...; NULL = all IPv4 interfaces) and port (0 = any free port) with
 * SO_REUSEADDR, and selects it for ACCEPT with udata.  Returns 0 and *out,
 * NETEV_EINVAL for an address that is not a numeric IPv4/IPv6 address (an
 * IPv6 one may name its scope after '%': an interface name or number) or a
 * port outside 0..65535, or the socket/bind/listen error (NETEV_EADDRINUSE,
 * NETEV_EADDRNOTAVAIL, ...; also NETEV_EINVAL: Linux's bind refuses a
 * link-local IPv6 address without a scope -- netev_listener_address tells
 * the two NETEV_EINVALs apart). */
int netev_listener_open(netev_loop *loop, const char *addr, int port, void *udata, netev_socket *out);
/* As netev_listener_open, and with SO_REUSEPORT: listeners opened this way
 * by the same user, one per process or thread (each on its own loop), share
 * addr:port, and the kernel spreads new connections among them by a hash of
 * the client's address and port.  Port 0: the first gets a free port, the
 * others pass that port.  NETEV_EAFNOSUPPORT where the system has no
 * SO_REUSEPORT; NETEV_EADDRINUSE if a listener that is not shared holds the port. */
int netev_listener_open_shared(netev_loop *loop, const char *addr, int port, void *udata, netev_socket *out);
/* Parses addr and port as netev_listener_open does, into *ss and *len:
 * 0, or NETEV_EINVAL if they would not parse there (nothing is opened). */
int netev_listener_address(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len);
/* Whether a listener that does not share could open addr:port now: binds a
 * socket with SO_REUSEADDR and without SO_REUSEPORT, never listens on it and
 * closes it at once.  0, or the error netev_listener_open would return:
 * NETEV_EADDRINUSE while any listener holds the port, shared or not.  For a
 * program about to start shared listeners on a fixed port, whose first
 * netev_listener_open_shared would silently join a group of the same user
 * already there.  The answer may be stale at once: a listener can take the
 * port between the probe and the next open. */
int netev_listener_probe(const char *addr, int port);
/* The local port of a bound socket (what port 0 became), or a NETEV_E* code. */
int netev_listener_port(netev_socket listener);

/* A session table on loop.  max_pending: backlog bytes at which a session
 * stops reading (>= 1).  NULL if out of memory or max_pending is 0. */
netev_sessions *netev_sessions_new(netev_loop *loop, size_t max_pending);
/* Closes every session still open and frees the table. */
void netev_sessions_free(netev_sessions *tab);
/* Sessions open now. */
size_t netev_sessions_count(const netev_sessions *tab);

/* Accepts one connection from listener (netev_accept: NETEV_EAGAIN when none
 * is queued, NETEV_EMFILE/ENFILE when out of descriptors), turns TCP_NODELAY
 * on and selects it for READ, WRITE and CLOSE with udata (the records'
 * udata stays the program's).  Returns 0 and *out, or a NETEV_E* code. */
int netev_session_accept(netev_sessions *tab, netev_socket listener, void *udata, netev_socket *out,
                         struct sockaddr *addr, socklen_t *addrlen);

/* First call for each record of a session.  Ends the session on a reset;
 * on WRITE sends what the backlog holds; when the backlog drains below
 * max_pending, gives back to the record the READ (and CLOSE) it held while
 * reading was stopped.  Returns the bytes sent from the backlog (>= 0), or
 * a negative value if the session ended. */
ptrdiff_t netev_session_ready(netev_sessions *tab, netev_event *ev);

/* Reads what the record allows into buf: after READ one recv, after the
 * peer's FIN (CLOSE with error 0) until the end of the stream.  Consumes the
 * record's READ/CLOSE bits as it goes.  Returns the bytes read (> 0; the
 * caller must use them now: buf may be shared), 0 when there is nothing more
 * to read for this record (or reading is stopped by the backlog), or a
 * negative value if the session ended (at the peer's FIN with nothing left
 * to send: NETEV_SESSION_DONE).  NETEV_EINVAL (a NULL ev or buf, or len 0)
 * is the one negative result that leaves the session open. */
ptrdiff_t netev_session_recv(netev_sessions *tab, netev_event *ev, void *buf, size_t len);

/* One netev_session_recv of a batch: the record, and buf and len as
 * there; result is filled in with what netev_session_recv returns. */
typedef struct netev_session_recv_req {
    netev_event *ev;
    void *buf;
    size_t len;
    ptrdiff_t result;
} netev_session_recv_req;

/* netev_session_recv for each request, its return value in result; the
 * recvs go to the kernel together through netev_recv_batch (one system call
 * on Linux).  Each buf must be the request's own.  One request per session
 * (the records of one netev_wait are one per socket): a second would read
 * without seeing what the first took, past the max_pending bound, and gets
 * NETEV_EBADF if the first ended the session.  Returns n, or NETEV_EINVAL
 * for a NULL tab, a negative n or NULL reqs with n > 0. */
int netev_session_recv_batch(netev_sessions *tab, netev_session_recv_req *reqs, int n);

/* Sends buf: what the socket takes now goes at once, the rest is copied to
 * the backlog (everything is, if the backlog is not empty: order is kept).
 * Returns the bytes sent at once (>= 0), or a negative value if the session
 * ended (a send error, or NETEV_ENOMEM for the backlog).  Two negative
 * results end nothing: NETEV_EBADF (s is no session) and NETEV_EINVAL (buf
 * NULL with len > 0). */
ptrdiff_t netev_session_send(netev_sessions *tab, netev_socket s, const void *buf, size_t len);

/* netev_session_send for each request (sock, buf, len; flags ignored), its
 * return value in result; the sends of sessions with nothing pending go
 * out together through netev_send_batch (one system call on Linux), the
 * others queue behind their backlogs.  A session's requests keep their
 * order; one that an earlier request ended gets NETEV_EBADF.  Returns n, or
 * NETEV_EINVAL for a NULL tab, a negative n or NULL reqs with n > 0. */
int netev_session_send_batch(netev_sessions *tab, netev_send_req *reqs, int n);

/* Bytes waiting in the session's backlog, or NETEV_EBADF if s is no session. */
ptrdiff_t netev_session_pending(const netev_sessions *tab, netev_socket s);

/* Closes the session now, dropping its backlog.  NETEV_EBADF if s is no session. */
int netev_session_close(netev_sessions *tab, netev_socket s);

/* Why a session ended, in words: "peer closed" for NETEV_SESSION_DONE, else netev_strerror(). */
const char *netev_session_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* NETEV_SESSION_H */
