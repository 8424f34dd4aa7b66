/* Winsock error numbers: the thread's last error, and where they come from. */
#define _GNU_SOURCE
#include "ws_int.h"

#include <errno.h>

static _Thread_local int last_error;

int WSAGetLastError(void)
{
    return last_error;
}

void WSASetLastError(int iError)
{
    last_error = iError;
}

int ws_fail(int wsa_error)
{
    last_error = wsa_error;
    return SOCKET_ERROR;
}

int ws_from_errno(int e)
{
    switch (e) {
    case 0: return 0;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINPROGRESS: /* a non-blocking connect: Windows says "would block" */
        return WSAEWOULDBLOCK;
    case EALREADY: return WSAEALREADY;
    case EINTR: return WSAEINTR;
    case EBADF:
    case ENOTSOCK: return WSAENOTSOCK;
    case EFAULT: return WSAEFAULT;
    case EINVAL: return WSAEINVAL;
    case EMFILE:
    case ENFILE: return WSAEMFILE;
    case EACCES:
    case EPERM: return WSAEACCES;
    case EDESTADDRREQ: return WSAEDESTADDRREQ;
    case EMSGSIZE: return WSAEMSGSIZE;
    case EPROTOTYPE: return WSAEPROTOTYPE;
    case ENOPROTOOPT: return WSAENOPROTOOPT;
    case EPROTONOSUPPORT: return WSAEPROTONOSUPPORT;
    case ESOCKTNOSUPPORT: return WSAESOCKTNOSUPPORT;
    case EOPNOTSUPP:
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
        return WSAEOPNOTSUPP;
    case EPFNOSUPPORT: return WSAEPFNOSUPPORT;
    case EAFNOSUPPORT: return WSAEAFNOSUPPORT;
    case EADDRINUSE: return WSAEADDRINUSE;
    case EADDRNOTAVAIL: return WSAEADDRNOTAVAIL;
    case ENETDOWN: return WSAENETDOWN;
    case ENETUNREACH: return WSAENETUNREACH;
    case ENETRESET: return WSAENETRESET;
    case ECONNABORTED: return WSAECONNABORTED;
    case ECONNRESET:
    case EPIPE: /* the peer is gone (send refines this after a local shutdown) */
        return WSAECONNRESET;
    case ENOBUFS:
    case ENOMEM: return WSAENOBUFS;
    case EISCONN: return WSAEISCONN;
    case ENOTCONN: return WSAENOTCONN;
    case ESHUTDOWN: return WSAESHUTDOWN;
    case ETIMEDOUT: return WSAETIMEDOUT;
    case ECONNREFUSED: return WSAECONNREFUSED;
    case ELOOP: return WSAELOOP;
    case ENAMETOOLONG: return WSAENAMETOOLONG;
    case EHOSTDOWN: return WSAEHOSTDOWN;
    case EHOSTUNREACH: return WSAEHOSTUNREACH;
    default: return WSASYSCALLFAILURE;
    }
}

int ws_from_netev(int err)
{
    switch (err) {
    case 0: return 0;
    case NETEV_EAGAIN:
    case NETEV_EINPROGRESS: return WSAEWOULDBLOCK;
    case NETEV_EINVAL: return WSAEINVAL;
    case NETEV_EBADF:
    case NETEV_ENOTSOCK: return WSAENOTSOCK;
    case NETEV_ENOMEM:
    case NETEV_ENOBUFS: return WSAENOBUFS;
    case NETEV_EMFILE:
    case NETEV_ENFILE: return WSAEMFILE;
    case NETEV_ECONNRESET:
    case NETEV_EPIPE: return WSAECONNRESET;
    case NETEV_ECONNABORTED: return WSAECONNABORTED;
    case NETEV_ECONNREFUSED: return WSAECONNREFUSED;
    case NETEV_ETIMEDOUT: return WSAETIMEDOUT;
    case NETEV_ENETUNREACH: return WSAENETUNREACH;
    case NETEV_EHOSTUNREACH: return WSAEHOSTUNREACH;
    case NETEV_EADDRINUSE: return WSAEADDRINUSE;
    case NETEV_EADDRNOTAVAIL: return WSAEADDRNOTAVAIL;
    case NETEV_EAFNOSUPPORT: return WSAEAFNOSUPPORT;
    case NETEV_ENOTCONN: return WSAENOTCONN;
    case NETEV_EISCONN: return WSAEISCONN;
    case NETEV_EALREADY: return WSAEALREADY;
    case NETEV_ENETDOWN: return WSAENETDOWN;
    case NETEV_EMSGSIZE: return WSAEMSGSIZE;
    case NETEV_EOPNOTSUPP: return WSAEOPNOTSUPP;
    case NETEV_EACCES: return WSAEACCES;
    case NETEV_EFAULT: return WSAEFAULT;
    default: return WSASYSCALLFAILURE;
    }
}

/* FD_CLOSE: 0 for a graceful close.  Windows reports a peer's reset as
 * WSAECONNABORTED (observed, §5 F7; its docs say WSAECONNRESET), and its docs
 * give WSAECONNABORTED for "time-out or other failure" too: every abortive
 * end but a network going down is WSAECONNABORTED here. */
int ws_close_error(int err)
{
    if (err == 0)
        return 0;
    if (err == NETEV_ENETDOWN)
        return WSAENETDOWN;
    return WSAECONNABORTED;
}

int ws_socket_check(SOCKET s)
{
    /* Closed by closesocket: the descriptor stays open only until the
     * threads blocked on it have gone (ws_close_under_waiters). */
    if (ws_closing(s))
        return WSAENOTSOCK;
    int type;
    socklen_t len = sizeof type;
    if (s < 0 || getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return WSAENOTSOCK;
    return 0;
}
