/* The listener, and turning its connections into sessions. */
#define _GNU_SOURCE
#include "session_int.h"
/* errno values become NETEV_E* codes through the core's own table
 * (netev__map_errno), so that these calls report what the core's would: a
 * closed descriptor is NETEV_EBADF, a file NETEV_ENOTSOCK (a table of our own
 * had made both NETEV_EIO). */
#include "netev_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

static int set_reuseport(netev_socket s)
{
#ifdef SO_REUSEPORT
    int one = 1;
    return setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#else
    (void)s;
    errno = EAFNOSUPPORT; /* reported as NETEV_EAFNOSUPPORT: the system cannot share a port */
    return -1;
#endif
}

/* addr without the brackets an IPv6 address may have, into text; -1 if too long. */
static int unbracket(const char *addr, char *text, size_t size)
{
    size_t n = strlen(addr);
    if (n >= size)
        return -1;
    if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
        memcpy(text, addr + 1, n - 2);
        text[n - 2] = 0;
    } else {
        memcpy(text, addr, n + 1);
    }
    return 0;
}

/* The scope after '%' in "fe80::1%eth0": an interface name or number, as
 * getaddrinfo takes it.  A link-local address means nothing without one
 * (Linux's bind refuses it with EINVAL), so the caller must be able to give it. */
static int parse_scope(const char *scope, uint32_t *id)
{
    if (*scope >= '0' && *scope <= '9') {
        char *end;
        errno = 0;
        unsigned long v = strtoul(scope, &end, 10);
        if (*end || errno || v > UINT32_MAX)
            return NETEV_EINVAL;
        *id = (uint32_t)v;
        return 0;
    }
    unsigned idx = if_nametoindex(scope);
    if (!idx)
        return NETEV_EINVAL;
    *id = idx;
    return 0;
}

/* A numeric IPv4 or IPv6 address (brackets allowed around IPv6, and a scope
 * after '%') and a port.  inet_pton, not getaddrinfo: that one would also
 * take "127.1" and "0x7f.0.0.1". */
static int parse_address(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    if (port < 0 || port > 65535 || unbracket(addr ? addr : "0.0.0.0", text, sizeof text) < 0)
        return NETEV_EINVAL;
    char *scope = strchr(text, '%');
    if (scope)
        *scope++ = 0;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (!scope && inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1 && (!scope || parse_scope(scope, &v6->sin6_scope_id) == 0)) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return 0;
    }
    return NETEV_EINVAL;
}

/* A TCP socket bound to ss with SO_REUSEADDR (a restarted server need not
 * wait for its old connections' TIME_WAIT), and SO_REUSEPORT if shared:
 * 0 and *out, or a NETEV_E* code. */
static int bound_socket(const struct sockaddr_storage *ss, socklen_t len, int shared, netev_socket *out)
{
    netev_socket s = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return netev__map_errno(errno);
    int one = 1;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || (shared && set_reuseport(s) < 0) ||
        bind(s, (const struct sockaddr *)ss, len) < 0) {
        int err = netev__map_errno(errno);
        close(s);
        return err;
    }
    *out = s;
    return 0;
}

static int listener_open(netev_loop *loop, const char *addr, int port, int shared, void *udata, netev_socket *out)
{
    if (!loop || !out)
        return NETEV_EINVAL;
    *out = NETEV_INVALID_SOCKET;
    struct sockaddr_storage ss;
    socklen_t len;
    netev_socket s = NETEV_INVALID_SOCKET; /* set by bound_socket; gcc -O3 cannot see that */
    int err = parse_address(addr, port, &ss, &len);
    if (err || (err = bound_socket(&ss, len, shared, &s)))
        return err;
    if (listen(s, SOMAXCONN) < 0) {
        err = netev__map_errno(errno);
        close(s);
        return err;
    }
    if ((err = netev_select(loop, s, NETEV_ACCEPT, udata))) {
        close(s);
        return err;
    }
    *out = s;
    return 0;
}

int netev_listener_address(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!ss || !len)
        return NETEV_EINVAL;
    return parse_address(addr, port, ss, len);
}

/* Bound, never listening, closed at once: no connection can land on it, and
 * the port is held no longer than the bind itself. */
int netev_listener_probe(const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    netev_socket s = NETEV_INVALID_SOCKET; /* set by bound_socket; gcc -O3 cannot see that */
    int err = parse_address(addr, port, &ss, &len);
    if (err || (err = bound_socket(&ss, len, 0, &s)))
        return err;
    close(s);
    return 0;
}

int netev_listener_open(netev_loop *loop, const char *addr, int port, void *udata, netev_socket *out)
{
    return listener_open(loop, addr, port, 0, udata, out);
}

int netev_listener_open_shared(netev_loop *loop, const char *addr, int port, void *udata, netev_socket *out)
{
    return listener_open(loop, addr, port, 1, udata, out);
}

int netev_listener_port(netev_socket listener)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(listener, (struct sockaddr *)&ss, &len) < 0)
        return netev__map_errno(errno);
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return NETEV_EAFNOSUPPORT;
}

int netev_session_accept(netev_sessions *tab, netev_socket listener, void *udata, netev_socket *out,
                         struct sockaddr *addr, socklen_t *addrlen)
{
    if (!tab || !out)
        return NETEV_EINVAL;
    netev_socket s;
    int err = netev_accept_select(tab->loop, listener, NETEV_READ | NETEV_WRITE | NETEV_CLOSE, udata, &s, addr,
                                  addrlen);
    *out = NETEV_INVALID_SOCKET;
    if (err)
        return err;
    /* Echoes and game updates are small and latency-bound: no Nagle delay. */
    int one = 1;
    (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    backlog **e = netev__session_entry_make(tab, s);
    if (!e) {
        netev_close(tab->loop, s);
        return NETEV_ENOMEM;
    }
    *e = IDLE;
    tab->count++;
    *out = s;
    return 0;
}
