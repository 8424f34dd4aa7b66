/* What echod checks before it listens, and what it says when it cannot. */
#include "echod.h"
#include "netev/session.h"

#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

/* A link-local IPv6 address without a scope: Linux's bind refuses it with
 * EINVAL, which alone would read as if the address were wrong. */
static int needs_scope(const char *bind)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (netev_listener_address(bind, 0, &ss, &len) || ss.ss_family != AF_INET6)
        return 0;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
    return IN6_IS_ADDR_LINKLOCAL(&v6->sin6_addr) && v6->sin6_scope_id == 0;
}

void echod_print_listen_error(const char *bind, int port, int err)
{
    fprintf(stderr, "echod: cannot listen on %s port %d: %s%s\n", bind, port, netev_strerror(err),
            err == NETEV_EINVAL && needs_scope(bind) ? "; a link-local IPv6 address needs a scope, as in fe80::1%eth0"
                                                     : "");
}

/* Parsed here, before anything listens: netev_listener_open's NETEV_EINVAL
 * also comes from bind, so only this tells a wrong address from a refused one. */
int echod_check_address(const echod_options *o)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (netev_listener_address(o->bind, o->port, &ss, &len) == 0)
        return 0;
    fprintf(stderr, "echod: cannot listen on %s port %d: %s\n", o->bind, o->port,
            strchr(o->bind, '%') ? "not a numeric IPv6 address with an existing interface after '%'"
                                 : "not a numeric IPv4 or IPv6 address");
    return 1;
}

/* --workers on a fixed port: the first worker's SO_REUSEPORT listener would
 * join any listener group of this user already on the port (another
 * echod --workers, say) and share its clients without a word.  A bind
 * without SO_REUSEPORT fails on such a port, so the probe sees it.  It is
 * closed before the first worker binds: a group that takes the port in
 * between is still joined (a window of one fork and bind). */
int echod_check_port_free(const echod_options *o)
{
    int err = netev_listener_probe(o->bind, o->port);
    if (err == 0)
        return 0;
    echod_print_listen_error(o->bind, o->port, err);
    return 1;
}
