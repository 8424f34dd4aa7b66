/* The re-enabling calls: recv, send, accept, connect, close.
 *
 * As on Windows, calling the function that consumes an event re-enables its
 * recording; if the condition still holds afterwards the event is recorded
 * again at once.  Checking that costs a system call, so it is done only when
 * the call itself cannot tell (a recv that filled the whole buffer, an accept
 * that succeeded). */
#define _GNU_SOURCE
#include "netev_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SO_NOSIGPIPE is set at registration instead */
#endif

#define RECV_FLAGS (MSG_OOB | MSG_PEEK | MSG_WAITALL | MSG_DONTWAIT)
#define SEND_FLAGS (MSG_OOB | MSG_DONTROUTE | MSG_DONTWAIT)

ptrdiff_t netev_recv(netev_loop *loop, netev_socket s, void *buf, size_t len, int flags)
{
    /* Invalid calls must not re-enable anything. */
    if (!loop || (!buf && len) || len > PTRDIFF_MAX || (flags & ~RECV_FLAGS))
        return NETEV_EINVAL;
    netev__sock *sk = netev__lookup(loop, s);
    unsigned bit = (flags & MSG_OOB) ? NETEV_OOB : NETEV_READ;
    if (sk) {
        /* Re-enable before reading: data that arrives meanwhile is caught by its own edge. */
        sk->disabled &= (uint8_t)~bit;
        sk->pending &= (uint8_t)~bit;
    }
    ssize_t n;
    do
        n = recv(s, buf, len, flags);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? netev__map_errno(errno) : 0;
    if (sk) {
        if (bit == NETEV_OOB) {
            if (netev__poll1(s, POLLPRI) & POLLPRI)
                netev__record(loop, sk, NETEV_OOB, 0);
            else if (n > 0)
                sk->flags &= ~NETEV__F_URGENT;
        } else if (n > 0 && (sk->flags & NETEV__F_URGENT)) {
            /* Reads stop short at the urgent mark, where FIONREAD says 0 though
             * data follows; poll knows better. */
            if (netev__poll1(s, POLLIN) & POLLIN)
                netev__record(loop, sk, NETEV_READ, 0);
        } else if (n > 0 && ((size_t)n == len || (flags & MSG_PEEK) || sk->state == NETEV__DATAGRAM)) {
            /* A short read emptied the queue; a full one may have left data behind. */
            if (netev__fionread(s) > 0)
                netev__record(loop, sk, NETEV_READ, 0);
        }
        netev__changed(loop, s, sk);
    }
    return err ? err : n;
}

ptrdiff_t netev_send(netev_loop *loop, netev_socket s, const void *buf, size_t len, int flags)
{
    if (!loop || (!buf && len) || len > PTRDIFF_MAX || (flags & ~SEND_FLAGS))
        return NETEV_EINVAL;
    ssize_t n;
    do
        n = send(s, buf, len, flags | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? netev__map_errno(errno) : 0;
    if (err == NETEV_EAGAIN || (n >= 0 && (size_t)n < len)) {
        netev__sock *sk = netev__lookup(loop, s);
        if (sk) {
            /* The only way WRITE comes back: a send that fell short. */
            sk->disabled &= (uint8_t)~NETEV_WRITE;
            sk->pending &= (uint8_t)~NETEV_WRITE;
            sk->flags |= NETEV__F_WRITE_BLOCKED;
            netev__changed(loop, s, sk);
        }
    }
    return err ? err : n;
}

static int accept_nonblock(netev_socket listener, struct sockaddr *addr, socklen_t *addrlen)
{
#ifdef __linux__
    return accept4(listener, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(listener, addr, addrlen);
    if (fd >= 0) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (netev__set_nonblock(fd)) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
    return fd;
#endif
}

int netev_accept(netev_loop *loop, netev_socket listener, netev_socket *out, struct sockaddr *addr,
                 socklen_t *addrlen)
{
    if (!loop || !out || (addr && !addrlen))
        return NETEV_EINVAL;
    *out = NETEV_INVALID_SOCKET;
    netev__sock *sk = netev__lookup(loop, listener);
    if (sk) {
        sk->disabled &= (uint8_t)~NETEV_ACCEPT;
        sk->pending &= (uint8_t)~NETEV_ACCEPT;
    }
    socklen_t len0 = addrlen ? *addrlen : 0;
    int fd, tries = 0;
    for (;;) {
        if (addrlen)
            *addrlen = len0;
        fd = accept_nonblock(listener, addr, addrlen);
        if (fd >= 0)
            break;
        /* A connection that died in the queue is not the caller's problem: take the next. */
        if (errno == EINTR || ((errno == ECONNABORTED || errno == EPROTO) && ++tries < 64))
            continue;
        int err = netev__map_errno(errno);
        if (sk && (err == NETEV_EMFILE || err == NETEV_ENFILE || err == NETEV_ENOBUFS || err == NETEV_ENOMEM)) {
            /* The connection stays queued: wait for a descriptor, do not spin. */
            int e2 = netev__starve(loop, listener, sk);
            netev__changed(loop, listener, sk);
            if (e2)
                return e2;
        } else if (sk) {
            netev__changed(loop, listener, sk);
        }
        return err;
    }
    if (sk) {
        if (netev__poll1(listener, POLLIN) & POLLIN)
            netev__record(loop, sk, NETEV_ACCEPT, 0);
        netev__changed(loop, listener, sk);
    }
    *out = fd;
    return 0;
}

/* Outcomes that arrive as CONNECT rather than as the call's result. */
static int is_connect_outcome(int e)
{
#ifdef EHOSTDOWN
    if (e == EHOSTDOWN)
        return 1;
#endif
    return e == ECONNREFUSED || e == ETIMEDOUT || e == ENETUNREACH || e == EHOSTUNREACH ||
           e == ECONNRESET || e == ENETDOWN;
}

int netev_connect(netev_loop *loop, netev_socket s, const struct sockaddr *addr, socklen_t addrlen)
{
    if (!loop || !addr || addrlen <= 0)
        return NETEV_EINVAL;
    netev__sock *sk;
    int err = netev__track(loop, s, &sk);
    if (err)
        return err;
    switch (sk->state) {
    case NETEV__UNCONNECTED:
        break;
    case NETEV__CONNECTING:
        return NETEV_EALREADY;
    case NETEV__CONNECTED:
        return NETEV_EISCONN;
    default:
        /* listening, connectionless, or failed: as on Windows, a failed socket is closed, not reused */
        return NETEV_EINVAL;
    }
    int r = connect(s, addr, addrlen);
    int e = r < 0 ? errno : 0;
    if (r == 0) {
        sk->state = NETEV__CONNECTED;
        sk->flags |= NETEV__F_VIA_CONNECT;
        netev__record(loop, sk, NETEV_CONNECT, 0);
        netev__record(loop, sk, NETEV_WRITE, 0);
    } else if (e == EINPROGRESS || e == EINTR) {
        /* EINTR: the connection goes on in the background, as EINPROGRESS. */
        sk->state = NETEV__CONNECTING;
        sk->flags |= NETEV__F_VIA_CONNECT;
    } else if (is_connect_outcome(e)) {
        sk->state = NETEV__FAILED;
        sk->flags |= NETEV__F_VIA_CONNECT | NETEV__F_DEAD;
        netev__record(loop, sk, NETEV_CONNECT, netev__map_errno(e));
    } else {
        return netev__map_errno(e);
    }
    netev__changed(loop, s, sk);
    return 0;
}

int netev_close(netev_loop *loop, netev_socket s)
{
    if (!loop)
        return NETEV_EINVAL;
    if (s < 0)
        return NETEV_EBADF;
    netev__sock *sk = netev__lookup(loop, s);
    if (sk)
        netev__unregister(loop, s, sk);
    /* Linux closes the descriptor even when close reports EINTR: never retry. */
    int r = close(s);
    int err = r < 0 && errno != EINTR ? netev__map_errno(errno) : 0;
    if (loop->nstarved && err == 0)
        netev__starved_rearm(loop);
    return err;
}
