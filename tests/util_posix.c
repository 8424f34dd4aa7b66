/* Test helpers that talk to the operating system directly: POSIX versions
 * (util_win.c has the Windows ones; util.c the portable rest). */
#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

void util_os_init(void) {}

int util_under_wine(void) { return 0; }

int util_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

int util_open_handles_all(void) { return util_open_fds(); }

void util_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

long long util_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

netev_socket util_listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(s, 4096) == 0); /* generous: an overflowing backlog makes the kernel drop or reset connections */
    socklen_t len = sizeof a;
    CHECK(getsockname(s, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return s;
}

netev_socket util_bound(int type, int *port)
{
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(s, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return s;
}

netev_socket util_connect(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0);
    return s;
}

void util_pair(netev_socket *client, netev_socket *server)
{
    int port;
    netev_socket l = util_listener(&port);
    *client = util_connect(port);
    *server = accept(l, 0, 0);
    CHECK(*server >= 0);
    fcntl(*server, F_SETFD, FD_CLOEXEC);
    close(l);
}

void util_rst(netev_socket s)
{
    struct linger lg = {1, 0};
    CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
    close(s);
}

void util_close(netev_socket s) { close(s); }

void util_send_all(netev_socket s, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(s, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        CHECK(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

size_t util_recv_some(netev_socket s, void *buf, size_t len)
{
    ssize_t n;
    do
        n = recv(s, buf, len, 0);
    while (n < 0 && errno == EINTR);
    CHECK(n >= 0);
    return (size_t)n;
}

void util_set_blocking(netev_socket s, int blocking)
{
    int fl = fcntl(s, F_GETFL);
    CHECK(fl >= 0);
    fl = blocking ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
    CHECK(fcntl(s, F_SETFL, fl) == 0);
}

int util_is_nonblocking(netev_socket s) { return (fcntl(s, F_GETFL) & O_NONBLOCK) != 0; }

int util_is_cloexec(netev_socket s) { return (fcntl(s, F_GETFD) & FD_CLOEXEC) != 0; }

static int not_socket_peer = -1;

netev_socket util_not_a_socket(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    not_socket_peer = p[1];
    return p[0];
}

void util_close_not_a_socket(netev_socket s)
{
    close(s);
    close(not_socket_peer);
}

netev_socket util_unused_socket_number(void) { return 19999; }

netev_socket util_tcp_socket(int family)
{
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(s >= 0);
    return s;
}

long long util_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void util_setenv(const char *name, const char *value)
{
    CHECK((value ? setenv(name, value, 1) : unsetenv(name)) == 0);
}

int util_raise_fd_limit(int want)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want) {
        rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)want) ? (rlim_t)want : rl.rlim_max;
        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT32_MAX ? INT32_MAX : (int)rl.rlim_cur;
}
