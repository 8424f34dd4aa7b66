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
    netev__sock *sk = netev__lookup(loop, s);
    unsigned bit = (flags & MSG_OOB) ? NETEV_OOB : NETEV_READ;
    if (sk) {
        sk->disabled &= (uint8_t)~bit;
        sk->pending &= (uint8_t)~bit;
    }
    int want = clamp_len(len);
    int n = recv(s, buf, want, flags);
    int err = n == SOCKET_ERROR ? netev__map_wsa_sock(WSAGetLastError(), s) : 0;
    if (sk) {
        if (bit == NETEV_OOB) {
            /* No reliable probe for more urgent data (SIOCATMARK differs
             * under Wine), but Windows re-signals FD_OOB by itself if some
             * is left, and that sets F_URGENT again. */
            if (n > 0)
                sk->flags &= ~NETEV__F_URGENT;
        } else if (n > 0 && (sk->flags & NETEV__F_URGENT)) {
            /* Reads may stop short at the urgent mark, where FIONREAD can say 0
             * though data follows; poll knows better. */
            if (netev__poll1(s, POLLRDNORM) & POLLRDNORM)
                netev__record(loop, sk, NETEV_READ, 0);
        } else if (n > 0 && (n == want || (flags & MSG_PEEK) || sk->state == NETEV__DATAGRAM)) {
            /* A short read emptied the queue; a full one may have left data behind. */
            if (netev__fionread(s) > 0)
                netev__record(loop, sk, NETEV_READ, 0);
        }
    }
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
    if (err == NETEV_EAGAIN || done < len) {
        netev__sock *sk = netev__lookup(loop, s);
        if (sk) {
            /* The only way WRITE comes back: a send that fell short, whose
             * WSAEWOULDBLOCK has armed FD_WRITE. */
            sk->disabled &= (uint8_t)~NETEV_WRITE;
            sk->pending &= (uint8_t)~NETEV_WRITE;
            sk->flags |= NETEV__F_WRITE_BLOCKED;
        }
    }
    /* Bytes taken before a failure are reported; the failure shows again. */
    return done ? (ptrdiff_t)done : (err ? err : 0);
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
        int err = netev__map_wsa_sock(e, listener);
        if (sk && (err == NETEV_EMFILE || err == NETEV_ENOBUFS || err == NETEV_ENOMEM)) {
            int e2 = netev__starve(loop, listener, sk);
            if (e2)
                return e2;
        }
        return err;
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
    if (sk && (netev__poll1(listener, POLLRDNORM) & POLLRDNORM))
        netev__record(loop, sk, NETEV_ACCEPT, 0);
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
        /* listening, connectionless, or failed: a failed socket is closed, not reused */
        return NETEV_EINVAL;
    }
    int e = connect(s, addr, addrlen) == SOCKET_ERROR ? WSAGetLastError() : 0;
    if (e == 0) {
        sk->state = NETEV__CONNECTED;
        sk->flags |= NETEV__F_VIA_CONNECT;
        netev__record(loop, sk, NETEV_CONNECT, 0);
        netev__record(loop, sk, NETEV_WRITE, 0);
    } else if (e == WSAEWOULDBLOCK || e == WSAEINPROGRESS) {
        /* The outcome arrives as FD_CONNECT. */
        sk->state = NETEV__CONNECTING;
        sk->flags |= NETEV__F_VIA_CONNECT;
    } else if (is_connect_outcome(e)) {
        sk->state = NETEV__FAILED;
        sk->flags |= NETEV__F_VIA_CONNECT | NETEV__F_DEAD;
        netev__record(loop, sk, NETEV_CONNECT, netev__map_wsa(e));
    } else if (family_mismatch(s, addr)) {
        return NETEV_EAFNOSUPPORT;
    } else {
        return netev__map_wsa_sock(e, s);
    }
    return 0;
}

int netev_close(netev_loop *loop, netev_socket s)
{
    if (!loop)
        return NETEV_EINVAL;
    if (s == INVALID_SOCKET)
        return NETEV_EBADF;
    netev__sock *sk = netev__lookup(loop, s);
    if (sk)
        netev__unregister(loop, s, sk);
    int err = closesocket(s) == SOCKET_ERROR ? netev__map_wsa_sock(WSAGetLastError(), s) : 0;
    if (loop->nstarved && err == 0)
        netev__starved_rearm(loop);
    return err;
}
