/* POSIX: the re-enabling calls (recv, send, accept, connect, close).
 *
 * The system calls and their errno are here; what each call means for the
 * socket's records is in reenable.c, shared with the Windows build. */
#define _GNU_SOURCE
#include "netev_int.h"

#include <errno.h>
#include <fcntl.h>
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
    netev__sock *sk = netev__reenable(loop, s, (flags & MSG_OOB) ? NETEV_OOB : NETEV_READ);
    ssize_t n;
    do
        n = recv(s, buf, len, flags);
    while (n < 0 && errno == EINTR);
    int e = n < 0 ? errno : 0, err = netev__map_errno(e);
    netev__recv_done(loop, s, sk, flags, n, len, err);
    if (e)
        netev__connect_error_heard(loop, s, e);
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
    int e = n < 0 ? errno : 0, err = netev__map_errno(e);
    netev__send_done(loop, s, err, n > 0 ? (size_t)n : 0, len);
    if (e)
        netev__connect_error_heard(loop, s, e);
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
    netev__sock *sk = netev__reenable(loop, listener, NETEV_ACCEPT);
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
        return netev__accept_failed(loop, listener, sk, netev__map_errno(errno));
    }
    netev__accept_done(loop, listener, sk);
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
    netev__sock *sk;
    int err = netev__connect_begin(loop, s, addr, addrlen, &sk);
    if (err)
        return err;
    int e = connect(s, addr, addrlen) < 0 ? errno : 0;
    if (e == EINPROGRESS || e == EINTR) /* EINTR: the connection goes on in the background */
        netev__connect_done(loop, s, sk, NETEV_EINPROGRESS);
    else if (e == 0 || is_connect_outcome(e))
        netev__connect_done(loop, s, sk, netev__map_errno(e));
    else
        return netev__map_errno(e);
    return 0;
}

int netev_close(netev_loop *loop, netev_socket s)
{
    if (!loop)
        return NETEV_EINVAL;
    if (s < 0)
        return NETEV_EBADF;
    netev__close_begin(loop, s);
    /* Linux closes the descriptor even when close reports EINTR: never retry. */
    int err = close(s) < 0 && errno != EINTR ? netev__map_errno(errno) : 0;
    return netev__close_done(loop, err);
}
