/* NETEV_E* codes: the same numbers on every platform, mapped from errno here
 * (and from WSA errors in the Windows build). */
#include "netev_int.h"

#include <errno.h>

int netev__map_errno(int e)
{
    switch (e) {
    case 0: return 0;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return NETEV_EAGAIN;
    case EINVAL: return NETEV_EINVAL;
    case EBADF: return NETEV_EBADF;
    case ENOMEM: return NETEV_ENOMEM;
    case EMFILE: return NETEV_EMFILE;
    case ENFILE: return NETEV_ENFILE;
    case ECONNRESET: return NETEV_ECONNRESET;
    case ECONNABORTED: return NETEV_ECONNABORTED;
    case ECONNREFUSED: return NETEV_ECONNREFUSED;
    case ETIMEDOUT: return NETEV_ETIMEDOUT;
    case ENETUNREACH: return NETEV_ENETUNREACH;
    case EHOSTUNREACH:
#ifdef EHOSTDOWN
    case EHOSTDOWN:
#endif
        return NETEV_EHOSTUNREACH;
    case EPIPE: return NETEV_EPIPE;
    case EINPROGRESS: return NETEV_EINPROGRESS;
    case ENOTSOCK: return NETEV_ENOTSOCK;
    case EADDRINUSE: return NETEV_EADDRINUSE;
    case EADDRNOTAVAIL: return NETEV_EADDRNOTAVAIL;
    case EAFNOSUPPORT: return NETEV_EAFNOSUPPORT;
    case ENOTCONN: return NETEV_ENOTCONN;
    case EISCONN: return NETEV_EISCONN;
    case EALREADY: return NETEV_EALREADY;
    case ENOBUFS: return NETEV_ENOBUFS;
    case ENETDOWN: return NETEV_ENETDOWN;
    case EMSGSIZE: return NETEV_EMSGSIZE;
    case EOPNOTSUPP:
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
        return NETEV_EOPNOTSUPP;
    case EACCES:
    case EPERM:
        return NETEV_EACCES;
    case EFAULT: return NETEV_EFAULT;
    default: return NETEV_EIO;
    }
}

const char *netev_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case NETEV_EAGAIN: return "operation would block (NETEV_EAGAIN)";
    case NETEV_EINVAL: return "invalid argument (NETEV_EINVAL)";
    case NETEV_EBADF: return "bad or unknown socket (NETEV_EBADF)";
    case NETEV_ENOMEM: return "out of memory (NETEV_ENOMEM)";
    case NETEV_EMFILE: return "too many open files in this process (NETEV_EMFILE)";
    case NETEV_ENFILE: return "too many open files in the system (NETEV_ENFILE)";
    case NETEV_ECONNRESET: return "connection reset by peer (NETEV_ECONNRESET)";
    case NETEV_ECONNABORTED: return "connection aborted (NETEV_ECONNABORTED)";
    case NETEV_ECONNREFUSED: return "connection refused (NETEV_ECONNREFUSED)";
    case NETEV_ETIMEDOUT: return "connection timed out (NETEV_ETIMEDOUT)";
    case NETEV_ENETUNREACH: return "network unreachable (NETEV_ENETUNREACH)";
    case NETEV_EHOSTUNREACH: return "host unreachable (NETEV_EHOSTUNREACH)";
    case NETEV_EPIPE: return "connection shut down for sending (NETEV_EPIPE)";
    case NETEV_EINPROGRESS: return "operation in progress (NETEV_EINPROGRESS)";
    case NETEV_ENOTSOCK: return "not a socket (NETEV_ENOTSOCK)";
    case NETEV_EADDRINUSE: return "address already in use (NETEV_EADDRINUSE)";
    case NETEV_EADDRNOTAVAIL: return "address not available (NETEV_EADDRNOTAVAIL)";
    case NETEV_EAFNOSUPPORT: return "address family not supported (NETEV_EAFNOSUPPORT)";
    case NETEV_ENOTCONN: return "socket not connected (NETEV_ENOTCONN)";
    case NETEV_EISCONN: return "socket already connected (NETEV_EISCONN)";
    case NETEV_EALREADY: return "connect already in progress (NETEV_EALREADY)";
    case NETEV_ENOBUFS: return "no buffer space (NETEV_ENOBUFS)";
    case NETEV_ENETDOWN: return "network down (NETEV_ENETDOWN)";
    case NETEV_EMSGSIZE: return "message too long (NETEV_EMSGSIZE)";
    case NETEV_EOPNOTSUPP: return "operation not supported (NETEV_EOPNOTSUPP)";
    case NETEV_EACCES: return "permission denied (NETEV_EACCES)";
    case NETEV_EFAULT: return "bad address (NETEV_EFAULT)";
    case NETEV_EIO: return "operating-system error (NETEV_EIO)";
    default: return "unknown netev error";
    }
}
