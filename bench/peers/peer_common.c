/* Options, listener and echo helpers shared by the benchmark peers. */
#define _GNU_SOURCE
#include "peer_common.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

static void usage(const char *name, int status)
{
    fprintf(status ? stderr : stdout,
            "usage: %s [-p PORT] [-b ADDR]\n"
            "  single-threaded TCP echo server (netev benchmark peer)\n"
            "  -p, --port PORT   port to listen on (default 7777)\n"
            "  -b, --bind ADDR   address to listen on (default: all interfaces)\n",
            name);
    exit(status);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int listen_on(const char *name, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int err = getaddrinfo(host, port, &hints, &res);
    if (err) {
        fprintf(stderr, "%s: %s:%s: %s\n", name, host ? host : "*", port, gai_strerror(err));
        exit(1);
    }
    /* With no address, prefer IPv4's wildcard, as echod does. */
    struct addrinfo *ai = res;
    for (struct addrinfo *p = res; !host && p; p = p->ai_next)
        if (p->ai_family == AF_INET) {
            ai = p;
            break;
        }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
        fprintf(stderr, "%s: cannot listen on %s:%s: %s\n", name, host ? host : "*", port, strerror(errno));
        exit(1);
    }
    freeaddrinfo(res);
    return fd;
}

int peer_start(int argc, char **argv, const char *name)
{
    static const struct option opts[] = {
        {"port", required_argument, 0, 'p'}, {"bind", required_argument, 0, 'b'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *port = "7777", *host = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "p:b:h", opts, 0)) != -1) {
        switch (c) {
        case 'p':
            port = optarg;
            break;
        case 'b':
            host = optarg;
            break;
        case 'h':
            usage(name, 0);
            break;
        default:
            usage(name, 2);
        }
    }
    if (optind != argc)
        usage(name, 2);
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    return listen_on(name, host, port);
}

void peer_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int peer_accept(int listener)
{
    int fd;
    do
        fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd;
}

ssize_t peer_send(int fd, const void *buf, size_t len)
{
    ssize_t n;
    do
        n = send(fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
}

ssize_t peer_recv(int fd, void *buf, size_t len)
{
    ssize_t n;
    do
        n = recv(fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    return n;
}

int peer_backlog_keep(peer_backlog *b, const char *buf, size_t len)
{
    size_t left = b->len - b->off;
    char *d = malloc(left + len);
    if (!d)
        return -1;
    if (left)
        memcpy(d, b->data + b->off, left);
    memcpy(d + left, buf, len);
    free(b->data);
    b->data = d;
    b->len = left + len;
    b->off = 0;
    return 0;
}

int peer_backlog_flush(peer_backlog *b, int fd)
{
    while (b->off < b->len) {
        ssize_t n = peer_send(fd, b->data + b->off, b->len - b->off);
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        b->off += (size_t)n;
    }
    peer_backlog_free(b);
    return 1;
}

void peer_backlog_free(peer_backlog *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->off = 0;
}

int peer_echo(peer_backlog *b, int fd, const char *buf, size_t len)
{
    ssize_t n = peer_send(fd, buf, len);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        n = 0;
    }
    if ((size_t)n == len)
        return 1;
    return peer_backlog_keep(b, buf + n, len - (size_t)n) < 0 ? -1 : 0;
}
