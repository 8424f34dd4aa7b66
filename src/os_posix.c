/* One-syscall probes of a socket's state, used where readiness alone cannot tell. */
#define _GNU_SOURCE
#include "netev_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

int netev__so_error(netev_socket s)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        return errno;
    return e;
}

int netev__fionread(netev_socket s)
{
    int n = 0;
    if (ioctl(s, FIONREAD, &n) < 0)
        return 0;
    return n;
}

unsigned netev__poll1(netev_socket s, short events)
{
    struct pollfd p = {.fd = s, .events = events};
    int r;
    do
        r = poll(&p, 1, 0);
    while (r < 0 && errno == EINTR);
    return r > 0 ? (unsigned)p.revents : 0;
}

int netev__set_nonblock(netev_socket s)
{
    int fl = fcntl(s, F_GETFL);
    if (fl < 0)
        return errno;
    if (!(fl & O_NONBLOCK) && fcntl(s, F_SETFL, fl | O_NONBLOCK) < 0)
        return errno;
    return 0;
}

int netev__accept_queue_len(netev_socket s)
{
#if defined(__linux__) && defined(TCP_INFO)
    /* For a listener, Linux reports its accept queue length in tcpi_unacked. */
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
        return (int)ti.tcpi_unacked;
#else
    (void)s;
#endif
    return -1;
}
