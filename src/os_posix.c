/* POSIX: the loop's wakeup descriptor, the clock, and one-syscall probes of
 * a socket's state, used where readiness alone cannot tell. */
#define _GNU_SOURCE
#include "netev_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

/* ---- the loop's wakeup descriptor ---- */

int netev__os_open(netev_loop *loop)
{
    loop->wake_rfd = loop->wake_wfd = -1;
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -1;
    loop->wake_rfd = loop->wake_wfd = fd;
#else
    int p[2];
    if (pipe(p) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
        netev__set_nonblock(p[i]);
    }
    loop->wake_rfd = p[0];
    loop->wake_wfd = p[1];
#endif
    return 0;
}

void netev__os_close(netev_loop *loop)
{
    if (loop->wake_rfd >= 0)
        close(loop->wake_rfd);
    if (loop->wake_wfd >= 0 && loop->wake_wfd != loop->wake_rfd)
        close(loop->wake_wfd);
}

int netev__wake_signal(netev_loop *loop)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(loop->wake_wfd, &one, sizeof one);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EAGAIN)
        return netev__map_errno(errno);
    return 0;
}

void netev__drain_wakeup(netev_loop *loop)
{
    uint64_t buf[8];
    for (;;) {
        ssize_t r = read(loop->wake_rfd, buf, sizeof buf);
        if (r <= 0 && !(r < 0 && errno == EINTR))
            break;
    }
    /* After draining: a wakeup racing with us is not lost, this wait returns. */
    atomic_store(&loop->wake_pending, 0);
}

int64_t netev__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- probes ---- */

/* What kind of socket is this, and what holds already?  *dead_err: the
 * error (NETEV_E*) of a connection that ended before it was selected, else 0;
 * *message: a connection that keeps message boundaries (SOCK_SEQPACKET). */
int netev__probe_state(netev_socket s, int *state, int *dead_err, int *message)
{
    *dead_err = 0;
    *message = 0;
    int type;
    socklen_t len = sizeof type;
    if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return netev__map_errno(errno);
    if (type != SOCK_STREAM && type != SOCK_SEQPACKET) {
        *state = NETEV__DATAGRAM;
        return 0;
    }
    *message = type == SOCK_SEQPACKET;
    struct sockaddr_storage peer;
    len = sizeof peer;
    if (getpeername(s, (struct sockaddr *)&peer, &len) == 0) {
        *state = NETEV__CONNECTED;
        return 0;
    }
    int listening = 0;
    len = sizeof listening;
    if (getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) {
        *state = NETEV__LISTENING;
        return 0;
    }
    *state = NETEV__UNCONNECTED;
    /* Accepted, but reset while it waited in the accept queue: no peer any
     * more, and only its pending error tells it from a fresh socket. */
    int e = netev__so_error(s);
    if (e) {
        *state = NETEV__CONNECTED;
        *dead_err = e == EPIPE ? NETEV_ECONNRESET : netev__map_errno(e);
        return 0;
    }
#ifdef TCP_INFO
    /* connect() started outside netev: report WRITE (not CONNECT) when it completes */
    struct tcp_info ti;
    len = sizeof ti;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == 2 /* SYN_SENT */)
        *state = NETEV__CONNECTING;
#endif
    return 0;
}

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

int netev__readable(netev_socket s)
{
    return (netev__poll1(s, POLLIN) & POLLIN) != 0;
}

int netev__urgent_left(netev_socket s)
{
    return (netev__poll1(s, POLLPRI) & POLLPRI) != 0;
}

int netev__at_mark(netev_socket s)
{
    /* sockatmark(3), with the answer's memory set first: glibc's leaves it
     * unset, which valgrind reports as the kernel reading it. */
#ifdef SIOCATMARK
    int at = 0;
    return ioctl(s, SIOCATMARK, &at) == 0 && at;
#else
    return sockatmark(s) == 1;
#endif
}

int netev__keeps_messages(netev_socket s)
{
    int type = 0;
    socklen_t len = sizeof type;
    return getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET;
}

int netev__message_queued(netev_socket s)
{
    /* poll's IN covers an empty message, which FIONREAD counts as 0 bytes;
     * but after the peer's shutdown it also means the end of the stream,
     * which is CLOSE's news: then only bytes left count. */
#ifdef POLLRDHUP
    unsigned r = netev__poll1(s, POLLIN | POLLRDHUP);
#else
    unsigned r = netev__poll1(s, POLLIN);
#endif
    if (!(r & POLLIN))
        return 0;
#ifdef POLLRDHUP
    if (!(r & (POLLRDHUP | POLLHUP)))
#else
    if (!(r & POLLHUP))
#endif
        return 1;
    return netev__fionread(s) > 0;
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
