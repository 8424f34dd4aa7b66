/* The re-enabling socket calls (recv, send, accept), connect, shutdown and
 * closesocket, with Windows' signatures and rules.
 *
 * Sockets the loop tracks are always non-blocking underneath; Winsock's
 * blocking mode is emulated: try the non-blocking call, and while it would
 * block, wait for readiness without holding any lock.  Sockets the loop does
 * not track (never selected, never non-blocking) use the plain calls.  Either
 * way a call that blocks is counted on its socket (ws_wait_begin), so that
 * closesocket from another thread aborts it, as on Windows. */
#define _GNU_SOURCE
#include "ws_int.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#define G netev__ws

/* Winsock's recv flags, and MSG_DONTWAIT for POSIX callers; any other is
 * WSAEINVAL ("an unknown flag"), and must not reach Linux, where 0x20 (Windows'
 * MSG_PUSH_IMMEDIATE) is MSG_TRUNC, which discards the data. */
#define RECV_FLAGS (MSG_OOB | MSG_PEEK | MSG_WAITALL | MSG_DONTWAIT)

/* Linux tells a peer's reset once, to whichever call asks first (recv or
 * send fail with ECONNRESET; recv with EPIPE after the peer's FIN), and then
 * says end of stream or EPIPE; Windows keeps failing with WSAECONNRESET.  So
 * the call that hears it records it (table owned; ws may be NULL). */
static void heard_reset(ws_sock *ws)
{
    if (ws && !ws->abort_error)
        ws->abort_error = WSAECONNRESET;
}

static int blocking_call(const ws_sock *ws, int flags)
{
    return !(ws->flags & WS_NONBLOCK) && !(flags & MSG_DONTWAIT);
}

/* A recv's outcome as Windows reports it (table owned; ws may be NULL): n
 * bytes, or wsa_error (WSAECONNRESET: a reset, heard by this call). */
static int recv_result(ws_sock *ws, ptrdiff_t n, int wsa_error, int len)
{
    if (wsa_error == WSAECONNRESET)
        heard_reset(ws);
    if (ws && n > 0)
        ws->flags |= WS_CONNECTED;
    /* The end of a stream that was reset is that reset again. */
    if (ws && ws->abort_error && (wsa_error == WSAECONNRESET || (!wsa_error && n == 0 && len > 0)))
        return ws_fail(ws->abort_error);
    return wsa_error ? ws_fail(wsa_error) : (int)n;
}

/* recv on a socket the loop does not track: the system's call, which may
 * block.  Entered with the table owned; returns with it released. */
static int plain_recv(SOCKET s, ws_sock *ws, char *buf, int len, int flags)
{
    int tracked = ws != 0;
    if (tracked)
        ws_wait_begin(ws, 0);
    ws_unlock();
    ssize_t n;
    do
        n = recv(s, buf, (size_t)len, flags);
    while (n < 0 && errno == EINTR);
    int wsa_error = n < 0 ? ws_from_errno(errno) : 0;
    if (!tracked)
        return wsa_error ? ws_fail(wsa_error) : (int)n;
    int err = ws_wait_end(s, 0);
    if (err)
        return ws_fail(err);
    int r = recv_result(ws_peek(s), n < 0 ? 0 : n, wsa_error, len);
    ws_unlock();
    return r;
}

/* What recv and send do first: lock, check the arguments, find s's record
 * (NULL for a socket the layer does not know).  On a bad call the lock is
 * released and the Winsock error returned, with nothing touched: an invalid
 * call re-enables nothing and leaves the record alone (§5 D5). */
static int io_begin(SOCKET s, const char *buf, int len, int bad_flags, ws_sock **ws)
{
    *ws = 0;
    int err = ws_lock_core();
    if (err)
        return err;
    if (len < 0 || (!buf && len > 0))
        err = WSAEFAULT;
    else if (bad_flags)
        err = WSAEINVAL;
    else
        *ws = ws_find(s, &err);
    if (err)
        ws_unlock();
    return err;
}

int netev_ws_recv(SOCKET s, char *buf, int len, int flags)
{
    ws_sock *ws;
    int err = io_begin(s, buf, len, flags & ~RECV_FLAGS, &ws);
    if (err)
        return ws_fail(err);
    for (;;) {
        if (!ws || !(ws->flags & WS_IN_CORE))
            return plain_recv(s, ws, buf, len, flags);
        /* Re-enabling, even when the call fails: the record is cleared too. */
        ws->pending &= (uint16_t) ~((flags & MSG_OOB) ? FD_OOB : FD_READ);
        ptrdiff_t n = netev_recv(G.loop, s, buf, (size_t)len, flags);
        if (n != NETEV_EAGAIN || !blocking_call(ws, flags)) {
            int r = recv_result(ws, n < 0 ? 0 : n, n < 0 ? ws_from_netev((int)n) : 0, len);
            ws_unlock();
            return r;
        }
        if ((err = ws_wait_ready(s, ws, (flags & MSG_OOB) ? POLLPRI : POLLIN, 0)))
            return ws_fail(err);
        ws = ws_peek(s);
    }
}

/* Whether s ever had a connection, from what the layer saw of it.  A
 * socket it did not make may have connected unseen: of those, only a
 * listener is known never to have. */
static int ever_connected(SOCKET s, const ws_sock *ws)
{
    if (ws && (ws->flags & WS_CONNECTED))
        return 1;
    if (ws && (ws->flags & WS_OWNED))
        return 0;
    return !ws_listening(s);
}

/* Why a send failed, as Windows says it (table owned; ws may be NULL).  e is
 * the errno when it tells something apart, wsa_error the plain mapping.
 * Linux says EPIPE after our own shutdown (Windows: WSAESHUTDOWN), after a
 * reset already told, or in place of ECONNRESET for one after the peer's
 * FIN (WSAECONNRESET), and on a socket that never connected, a listener
 * included (WSAENOTCONN). */
static int send_error(SOCKET s, ws_sock *ws, int e, int wsa_error)
{
    if (e == ECONNRESET)
        heard_reset(ws);
    if (ws && (ws->flags & WS_WR_SHUT))
        return (e == EPIPE || e == ECONNRESET) ? WSAESHUTDOWN : wsa_error;
    if (ws && ws->abort_error)
        return ws->abort_error;
    if (e != EPIPE)
        return wsa_error;
    if (!ever_connected(s, ws))
        return WSAENOTCONN;
    heard_reset(ws);
    return WSAECONNRESET;
}

/* The errno behind a netev error, where send_error tells them apart. */
static int send_errno(ptrdiff_t n)
{
    return n == NETEV_ECONNRESET ? ECONNRESET : n == NETEV_EPIPE ? EPIPE : 0;
}

/* send on a socket the loop does not track: the system's call, which may
 * block.  Entered with the table owned; returns with it released. */
static int plain_send(SOCKET s, ws_sock *ws, const char *buf, int len, int flags)
{
    int tracked = ws != 0;
    if (tracked)
        ws_wait_begin(ws, 1);
    ws_unlock();
    ssize_t n;
    do
        n = send(s, buf, (size_t)len, flags | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int e = n < 0 ? errno : 0;
    if (!tracked)
        return n < 0 ? ws_fail(send_error(s, 0, e, ws_from_errno(e))) : (int)n;
    int err = ws_wait_end(s, 1);
    if (err)
        return ws_fail(err);
    ws = ws_peek(s);
    if (n > 0)
        ws->flags |= WS_CONNECTED;
    int r = n < 0 ? ws_fail(send_error(s, ws, e, ws_from_errno(e))) : (int)n;
    ws_unlock();
    return r;
}

int netev_ws_send(SOCKET s, const char *buf, int len, int flags)
{
    ws_sock *ws;
    int err = io_begin(s, buf, len, 0, &ws);
    if (err)
        return ws_fail(err);
    int total = 0;
    for (;;) {
        if (!ws || !(ws->flags & WS_IN_CORE)) {
            int n = plain_send(s, ws, buf + total, len - total, flags);
            return n < 0 ? (total ? total : n) : total + n;
        }
        ptrdiff_t n = netev_send(G.loop, s, buf + total, (size_t)(len - total), flags);
        /* A send that fell short re-enables FD_WRITE; a complete one leaves a
         * recorded FD_WRITE alone (§5 C6). */
        if (n == NETEV_EAGAIN || (n >= 0 && n < len - total))
            ws->pending &= (uint16_t)~FD_WRITE;
        if (n > 0)
            ws->flags |= WS_CONNECTED;
        int blocking = blocking_call(ws, flags);
        int wsa_error = n < 0 && n != NETEV_EAGAIN ? send_error(s, ws, send_errno(n), ws_from_netev((int)n))
                        : n == NETEV_EAGAIN && !blocking ? WSAEWOULDBLOCK
                                                          : 0;
        if (n > 0)
            total += (int)n;
        if (wsa_error || total == len || !blocking) {
            ws_unlock();
            return total ? total : wsa_error ? ws_fail(wsa_error) : 0;
        }
        /* Blocking mode sends everything, as Windows does. */
        if ((err = ws_wait_ready(s, ws, POLLOUT, 1)))
            return ws_fail(err);
        ws = ws_peek(s);
    }
}

/* A descriptor number handed out again: forget what an earlier socket of
 * that number left (one closed without closesocket). */
static ws_sock *fresh_record(SOCKET s)
{
    ws_sock *old = ws_peek(s);
    if (old && (old->flags & WS_IN_CORE))
        netev_forget(G.loop, s);
    ws_drop(s);
    return ws_get(s);
}

static SOCKET accept_failed(int wsa_error)
{
    ws_fail(wsa_error);
    return INVALID_SOCKET;
}

/* The accepted socket has the listener's properties: its event object, its
 * mask and its blocking mode (§1.3); its FD_WRITE is recorded at once. */
static SOCKET adopt_accepted(SOCKET out, WSAEVENT event, uint16_t mask, int nonblock)
{
    ws_sock *nws = fresh_record(out);
    int err = WSAENOBUFS;
    if (!nws)
        goto fail;
    nws->flags = WS_OWNED | WS_CONNECTED;
    if (mask) {
        if ((err = ws_ensure_core(out, nws)))
            goto fail;
        nws->event = event;
        nws->mask = mask;
        nonblock = 1;
    }
    if (nonblock)
        nws->flags |= WS_NONBLOCK;
    if (ws_set_fd_nonblock(out, nonblock)) {
        err = WSAENOBUFS;
        goto fail;
    }
    return out;
fail:
    if (nws && (nws->flags & WS_IN_CORE))
        netev_close(G.loop, out);
    else
        close(out);
    ws_drop(out);
    return accept_failed(err);
}

/* accept on a listener the loop does not track: the system's call, which
 * may block.  Entered with the table owned; returns with it released. */
static SOCKET plain_accept(SOCKET s, ws_sock *lws, struct sockaddr *addr, int *addrlen)
{
    int nonblock = lws && (lws->flags & WS_NONBLOCK), tracked = lws != 0;
    socklen_t len = addr ? (socklen_t)*addrlen : 0;
    if (tracked)
        ws_wait_begin(lws, 0);
    ws_unlock();
    int fd;
    do
        fd = accept4(s, addr, addr ? &len : 0, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));
    while (fd < 0 && errno == EINTR);
    int e = fd < 0 ? errno : 0;
    int err = tracked ? ws_wait_end(s, 0) : ws_lock_core();
    if (err) {
        if (fd >= 0)
            close(fd);
        return accept_failed(err);
    }
    if (fd < 0) {
        ws_unlock();
        return accept_failed(ws_from_errno(e));
    }
    SOCKET out = adopt_accepted(fd, WSA_INVALID_EVENT, 0, nonblock);
    ws_unlock();
    if (out != INVALID_SOCKET && addr)
        *addrlen = (int)len;
    return out;
}

SOCKET netev_ws_accept(SOCKET s, struct sockaddr *addr, int *addrlen)
{
    int err = ws_lock_core();
    if (err)
        return accept_failed(err);
    ws_sock *lws = 0;
    if (addr && (!addrlen || *addrlen < 0))
        err = WSAEFAULT;
    else if (addr) /* before anything is accepted or re-enabled: the connection stays queued */
        err = ws_sock_name_len_check(s, *addrlen);
    if (!err)
        lws = ws_find(s, &err);
    if (err) {
        ws_unlock();
        return accept_failed(err);
    }
    for (;;) {
        if (!lws || !(lws->flags & WS_IN_CORE))
            return plain_accept(s, lws, addr, addrlen);
        lws->pending &= (uint16_t)~FD_ACCEPT;
        netev_socket out;
        socklen_t len = addr ? (socklen_t)*addrlen : 0;
        int r = netev_accept(G.loop, s, &out, addr, addr ? &len : 0);
        int nonblock = lws->flags & WS_NONBLOCK;
        if (r == 0) {
            /* lws is not used past this call: adopting may move the table. */
            SOCKET res = adopt_accepted(out, lws->event, lws->mask, nonblock);
            ws_unlock();
            if (res != INVALID_SOCKET && addr)
                *addrlen = (int)len;
            return res;
        }
        if (r != NETEV_EAGAIN || nonblock) {
            ws_unlock();
            return accept_failed(ws_from_netev(r));
        }
        if ((err = ws_wait_ready(s, lws, POLLIN, 0)))
            return accept_failed(err);
        lws = ws_peek(s);
    }
}

static int is_connect_outcome(int e)
{
    return e == ECONNREFUSED || e == ETIMEDOUT || e == ENETUNREACH || e == EHOSTUNREACH ||
           e == ECONNRESET || e == ENETDOWN;
}

/* Blocking connect on a socket the loop does not track: the plain call.
 * Entered with the table owned; returns with it released. */
static int connect_plain(SOCKET s, ws_sock *ws, const struct sockaddr *name, int namelen)
{
    ws_wait_begin(ws, 0);
    ws_unlock();
    int e = connect(s, name, (socklen_t)namelen) < 0 ? errno : 0;
    if (e == EINTR) {
        /* The connection goes on: wait for its outcome. */
        struct pollfd p = {.fd = s, .events = POLLOUT};
        while (poll(&p, 1, -1) < 0 && errno == EINTR)
            ;
        socklen_t len = sizeof e;
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
            e = errno;
    }
    int err = ws_wait_end(s, 0);
    if (err)
        return ws_fail(err);
    ws = ws_peek(s);
    if (e == 0) {
        /* Windows records FD_CONNECT even for a blocking connect: a later
         * WSAEventSelect reports it (§5 B5). */
        ws->flags |= WS_CONNECTED;
        ws->pending |= FD_CONNECT;
        ws->err[FD_CONNECT_BIT] = 0;
        ws->connect_error = 0;
    } else if (is_connect_outcome(e)) {
        ws->connect_error = ws_from_errno(e);
    }
    ws_unlock();
    return e ? ws_fail(ws_from_errno(e)) : 0;
}

int netev_ws_connect(SOCKET s, const struct sockaddr *name, int namelen)
{
    int err = ws_lock_core();
    if (err)
        return ws_fail(err);
    ws_sock *ws = 0;
    err = WSAEFAULT;
    if (!name || namelen <= 0)
        goto fail;
    if ((err = ws_socket_check(s)) || (err = ws_name_len_check(name, namelen)))
        goto fail;
    err = WSAENOBUFS;
    if (!(ws = ws_get(s)))
        goto fail;
    if (!(ws->flags & (WS_IN_CORE | WS_NONBLOCK)))
        return connect_plain(s, ws, name, namelen);
    if ((err = ws_ensure_core(s, ws)))
        goto fail;
    int r = netev_connect(G.loop, s, name, (socklen_t)namelen);
    if (r) {
        err = ws_from_netev(r);
        goto fail;
    }
    /* The outcome arrives as FD_CONNECT, even if it is known already. */
    ws->connect_error = 0;
    ws->flags |= WS_CONNECTING;
    if (ws->flags & WS_NONBLOCK) {
        err = WSAEWOULDBLOCK;
        goto fail;
    }
    /* Blocking mode on a socket the loop tracks: wait for FD_CONNECT's record. */
    do {
        if ((err = ws_wait_ready(s, ws, POLLOUT, 0)))
            return ws_fail(err);
        ws_harvest();
        ws = ws_peek(s);
    } while (ws->flags & WS_CONNECTING);
    err = ws->connect_error;
    ws_unlock();
    return err ? ws_fail(err) : 0;
fail:
    ws_unlock();
    return ws_fail(err);
}

int netev_ws_shutdown(SOCKET s, int how)
{
    int err = ws_lock_core();
    if (err)
        return ws_fail(err);
    err = (how < SD_RECEIVE || how > SD_BOTH) ? WSAEINVAL : ws_closing(s) ? WSAENOTSOCK : 0;
    if (err) {
        ws_unlock();
        return ws_fail(err);
    }
    int r = shutdown(s, how);
    int e = r < 0 ? errno : 0;
    ws_sock *ws = r == 0 ? ws_get(s) : 0;
    if (ws && how != SD_RECEIVE)
        ws->flags |= WS_WR_SHUT;
    if (ws && how != SD_SEND)
        ws->flags |= WS_RD_SHUT;
    ws_unlock();
    return e ? ws_fail(ws_from_errno(e)) : 0;
}

int closesocket(SOCKET s)
{
    int err = ws_lock_core();
    if (err)
        return ws_fail(err);
    /* Only sockets: closing another descriptor by mistake would be worse than an error. */
    if ((err = ws_socket_check(s))) {
        ws_unlock();
        return ws_fail(err);
    }
    ws_sock *ws = ws_peek(s);
    int r = 0;
    if (ws && (ws->waiting_rd || ws->waiting_wr)) {
        /* Threads are blocked on it: Windows aborts their calls.  Wake
         * them; the last one closes the descriptor. */
        ws_close_under_waiters(s, ws);
        ws_unlock();
        return 0;
    }
    if (ws && (ws->flags & WS_IN_CORE))
        r = netev_close(G.loop, s) ? -1 : 0;
    else if (close(s) < 0 && errno != EINTR) /* Linux closes even on EINTR: never retry */
        r = -1;
    ws_drop(s);
    ws_unlock();
    return r ? ws_fail(WSAENOTSOCK) : 0;
}
