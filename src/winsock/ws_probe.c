/* One-syscall probes of a socket, and the wait behind Winsock's blocking mode. */
#define _GNU_SOURCE
#include "ws_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

/* Blocking calls wait in slices, so that a socket closed meanwhile by
 * another thread is noticed (Windows aborts such a call). */
#define BLOCK_SLICE_MS 200

int ws_fionread(SOCKET s)
{
    int n = 0;
    if (ioctl(s, FIONREAD, &n) < 0)
        return 0;
    return n;
}

int ws_urgent_byte(SOCKET s)
{
    unsigned char c;
    ssize_t n;
    do
        n = recv(s, &c, 1, MSG_OOB | MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n == 1 ? c : -1;
}

int ws_accept_queue(SOCKET s)
{
#ifdef TCP_INFO
    /* For a listener Linux reports its accept queue length in tcpi_unacked. */
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
        return (int)ti.tcpi_unacked;
#endif
    /* Unknown: every readiness counts as news (at worst a spurious FD_ACCEPT). */
    static int ticks;
    return ++ticks;
}

int ws_peer_finished(SOCKET s)
{
#ifdef TCP_INFO
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return 1;
    switch (ti.tcpi_state) {
    case TCP_CLOSE_WAIT:
    case TCP_LAST_ACK:
    case TCP_CLOSING:
    case TCP_TIME_WAIT:
    case TCP_CLOSE:
        return 1;
    default:
        return 0;
    }
#else
    (void)s;
    return 1; /* cannot tell: report the close as it comes */
#endif
}

int ws_listening(SOCKET s)
{
    int on = 0;
    socklen_t len = sizeof on;
    return getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

int ws_set_fd_nonblock(SOCKET s, int on)
{
    int fl = fcntl(s, F_GETFL);
    if (fl < 0)
        return errno;
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl && fcntl(s, F_SETFL, want) < 0)
        return errno;
    return 0;
}

/* The size of a sockaddr of this family; 0 leaves the length to the system. */
static int addr_size(int family)
{
    switch (family) {
    case AF_INET:
        return (int)sizeof(struct sockaddr_in);
    case AF_INET6:
        return (int)sizeof(struct sockaddr_in6);
    default:
        return 0;
    }
}

int ws_name_len_check(const struct sockaddr *name, int namelen)
{
    if (namelen < (int)sizeof name->sa_family)
        return WSAEFAULT;
    return namelen < addr_size(name->sa_family) ? WSAEFAULT : 0;
}

int ws_sock_name_len_check(SOCKET s, int namelen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    /* Not a socket: the call itself says so, as Windows checks that first. */
    if (getsockname(s, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    return namelen < addr_size(ss.ss_family) ? WSAEFAULT : 0;
}

void ws_block(SOCKET s, short events)
{
    struct pollfd p = {.fd = s, .events = events};
    poll(&p, 1, BLOCK_SLICE_MS);
}
