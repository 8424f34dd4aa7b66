/* Windows: the re-enabling calls (the counterpart of io.c; same rules).
 *
 * Winsock re-enables FD_READ, FD_OOB, FD_ACCEPT and FD_WRITE itself when
 * recv, accept and send are called; netev's user-space bits are re-enabled
 * here exactly as in io.c, so that both agree.  The level re-check after a
 * full recv or an accept is kept although Windows re-signals by itself: its
 * re-signal may reach the event a moment later, and netev promises the
 * record at the very next wait.
 *
 * One difference needs work: Windows signals FD_WRITE again only after a
 * send *failed* with WSAEWOULDBLOCK, while netev promises WRITE after a
 * short send too.  So a short send is followed at once by another send of
 * the rest: either it takes more (and the caller gets the larger count) or
 * it fails with WSAEWOULDBLOCK, which arms FD_WRITE.  That costs one extra
 * call per short send, which only happens when the send buffer is full. */
#include "netev_int.h"

#include <limits.h>
#include <windows.h>

#define RECV_FLAGS (MSG_OOB | MSG_PEEK | MSG_WAITALL)
#define SEND_FLAGS (MSG_OOB | MSG_DONTROUTE)

static int clamp_len(size_t len)
{
    return len > INT_MAX ? INT_MAX : (int)len;
}

ptrdiff_t netev_recv(netev_loop *loop, netev_socket s, void *buf, size_t len, int flags)
{
    /* Invalid calls must not re-enable anything. */
    if (!loop || (!buf && len) || len > PTRDIFF_MAX || (flags & ~RECV_FLAGS))
        return NETEV_EINVAL;
    netev__sock *sk = netev__reenable(loop, s, (flags & MSG_OOB) ? NETEV_OOB : NETEV_READ);
    int want = clamp_len(len);
    int n = recv(s, buf, want, flags);
    int err = n == SOCKET_ERROR ? netev__map_wsa_sock(WSAGetLastError(), s) : 0;
    netev__recv_done(loop, s, sk, flags, n, (size_t)want, err);
    return err ? err : n;
}

ptrdiff_t netev_send(netev_loop *loop, netev_socket s, const void *buf, size_t len, int flags)
{
    if (!loop || (!buf && len) || len > PTRDIFF_MAX || (flags & ~SEND_FLAGS))
        return NETEV_EINVAL;
    const char *p = buf;
    size_t done = 0;
    int err = 0;
    do {
        int n = send(s, p + done, clamp_len(len - done), flags);
        if (n == SOCKET_ERROR) {
            err = netev__map_wsa_sock(WSAGetLastError(), s);
            break;
        }
        done += (size_t)n;
    } while (done < len);
    netev__send_done(loop, s, err, done, len);
    /* Bytes taken before a failure are reported; the failure shows again. */
    return done ? (ptrdiff_t)done : (err ? err : 0);
}

int netev_accept(netev_loop *loop, netev_socket listener, netev_socket *out, struct sockaddr *addr,
                 socklen_t *addrlen)
{
    if (!loop || !out || (addr && !addrlen))
        return NETEV_EINVAL;
    *out = NETEV_INVALID_SOCKET;
    netev__sock *sk = netev__reenable(loop, listener, NETEV_ACCEPT);
    socklen_t len0 = addrlen ? *addrlen : 0;
    SOCKET a;
    int tries = 0;
    for (;;) {
        if (addrlen)
            *addrlen = len0;
        a = accept(listener, addr, addrlen);
        if (a != INVALID_SOCKET)
            break;
        int e = WSAGetLastError();
        /* A connection that died in the queue is not the caller's problem: take the next. */
        if ((e == WSAECONNRESET || e == WSAECONNABORTED) && ++tries < 64)
            continue;
        return netev__accept_failed(loop, listener, sk, netev__map_wsa_sock(e, listener));
    }
    /* The accepted socket inherits the listener's event and mask (research
     * §1.3): detach it, or it would signal the listener's group until the
     * program selects it.  Then: non-blocking and not inherited, as promised. */
    if (sk)
        WSAEventSelect(a, NULL, 0);
    u_long one = 1;
    if (ioctlsocket(a, FIONBIO, &one) == SOCKET_ERROR) {
        int err = netev__map_wsa(WSAGetLastError());
        closesocket(a);
        return err;
    }
    SetHandleInformation((HANDLE)a, HANDLE_FLAG_INHERIT, 0);
    netev__accept_done(loop, listener, sk);
    *out = a;
    return 0;
}

/* An address of another family than the socket's is EAFNOSUPPORT on POSIX
 * and on Windows; Wine says WSAEADDRNOTAVAIL.  Asked only on that error path. */
static int family_mismatch(netev_socket s, const struct sockaddr *addr)
{
    WSAPROTOCOL_INFOW info;
    int len = sizeof info;
    return getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) == 0 &&
           info.iAddressFamily != addr->sa_family;
}

/* Outcomes that arrive as CONNECT rather than as the call's result. */
static int is_connect_outcome(int e)
{
    return e == WSAECONNREFUSED || e == WSAETIMEDOUT || e == WSAENETUNREACH || e == WSAEHOSTUNREACH ||
           e == WSAEHOSTDOWN || e == WSAECONNRESET || e == WSAENETDOWN;
}

int netev_connect(netev_loop *loop, netev_socket s, const struct sockaddr *addr, socklen_t addrlen)
{
    netev__sock *sk;
    int err = netev__connect_begin(loop, s, addr, addrlen, &sk);
    if (err)
        return err;
    int e = connect(s, addr, addrlen) == SOCKET_ERROR ? WSAGetLastError() : 0;
    if (e == WSAEWOULDBLOCK || e == WSAEINPROGRESS) /* the outcome arrives as FD_CONNECT */
        netev__connect_done(loop, s, sk, NETEV_EINPROGRESS);
    else if (e == 0 || is_connect_outcome(e))
        netev__connect_done(loop, s, sk, netev__map_wsa(e));
    else if (family_mismatch(s, addr))
        return NETEV_EAFNOSUPPORT;
    else
        return netev__map_wsa_sock(e, s);
    return 0;
}

int netev_close(netev_loop *loop, netev_socket s)
{
    if (!loop)
        return NETEV_EINVAL;
    if (s == INVALID_SOCKET)
        return NETEV_EBADF;
    netev__close_begin(loop, s);
    int err = closesocket(s) == SOCKET_ERROR ? netev__map_wsa_sock(WSAGetLastError(), s) : 0;
    return netev__close_done(loop, err);
}
