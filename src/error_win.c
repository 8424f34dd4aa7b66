/* Windows: WSA error numbers as the same NETEV_E* codes as errno on POSIX. */
#include "netev_int.h"

#include <windows.h>

int netev__map_wsa(int e)
{
    switch (e) {
    case 0: return 0;
    case WSAEWOULDBLOCK: return NETEV_EAGAIN;
    case WSAEINVAL:
    case WSA_INVALID_PARAMETER:
        return NETEV_EINVAL;
    case WSAEBADF:
    case WSA_INVALID_HANDLE:
        return NETEV_EBADF;
    case WSA_NOT_ENOUGH_MEMORY: return NETEV_ENOMEM;
    case WSAEMFILE: return NETEV_EMFILE;
    case WSAECONNRESET: return NETEV_ECONNRESET;
    case WSAECONNABORTED: return NETEV_ECONNABORTED;
    case WSAECONNREFUSED: return NETEV_ECONNREFUSED;
    case WSAETIMEDOUT: return NETEV_ETIMEDOUT;
    case WSAENETUNREACH:
    case WSAENETRESET:
        return NETEV_ENETUNREACH;
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN:
        return NETEV_EHOSTUNREACH;
    case WSAESHUTDOWN: return NETEV_EPIPE; /* sending after shutdown(SD_SEND) */
    case WSAEINPROGRESS: return NETEV_EINPROGRESS;
    case WSAENOTSOCK: return NETEV_ENOTSOCK;
    case WSAEADDRINUSE: return NETEV_EADDRINUSE;
    case WSAEADDRNOTAVAIL: return NETEV_EADDRNOTAVAIL;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
        return NETEV_EAFNOSUPPORT;
    case WSAENOTCONN: return NETEV_ENOTCONN;
    case WSAEISCONN: return NETEV_EISCONN;
    case WSAEALREADY: return NETEV_EALREADY;
    case WSAENOBUFS: return NETEV_ENOBUFS;
    case WSAENETDOWN: return NETEV_ENETDOWN;
    case WSAEMSGSIZE: return NETEV_EMSGSIZE;
    case WSAEOPNOTSUPP: return NETEV_EOPNOTSUPP;
    case WSAEACCES: return NETEV_EACCES;
    case WSAEFAULT: return NETEV_EFAULT;
    default: return NETEV_EIO;
    }
}

/* Winsock answers WSAENOTSOCK both for a handle of another kind and for a
 * number that is no handle at all; POSIX tells these apart (ENOTSOCK, EBADF),
 * and so does netev.  Asked only on that error path. */
int netev__map_wsa_sock(int e, netev_socket s)
{
    if (e == WSAENOTSOCK) {
        DWORD flags;
        if (s == INVALID_SOCKET || !GetHandleInformation((HANDLE)s, &flags))
            return NETEV_EBADF;
    }
    return netev__map_wsa(e);
}
