#define _GNU_SOURCE
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

static int slow = 1;

void util_init(void)
{
    const char *s = getenv("NETEV_TEST_SLOW");
    if (s && atoi(s) > 1)
        slow = atoi(s);
    setvbuf(stdout, 0, _IOLBF, 0);
}

const char *util_backend(void)
{
    const char *b = getenv("NETEV_BACKEND");
    return b && *b ? b : "default";
}

int util_slow(void) { return slow; }

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

netev_loop *util_loop(void)
{
    netev_loop *loop = netev_loop_new(NULL);
    CHECK(loop != NULL);
    return loop;
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

util_fixture util_fixture_new(unsigned mask)
{
    util_fixture f;
    f.loop = util_loop();
    util_pair(&f.c, &f.s);
    CHECK_OK(netev_select(f.loop, f.s, mask, 0));
    return f;
}

void util_fixture_free(util_fixture *f)
{
    CHECK_OK(netev_close(f->loop, f->s));
    if (f->c != NETEV_INVALID_SOCKET)
        util_close(f->c);
    netev_loop_free(f->loop);
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

void util_loopback(int family, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        *len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *a;
    }
}

int util_closed_port(void)
{
    int port;
    netev_socket l = util_listener(&port);
    close(l);
    return port;
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

size_t util_fill(netev_loop *loop, netev_socket s)
{
    static char chunk[65536];
    size_t total = 0;
    for (;;) {
        ptrdiff_t n = netev_send(loop, s, chunk, sizeof chunk, 0);
        if (n == NETEV_EAGAIN)
            return total;
        CHECK(n > 0);
        total += (size_t)n;
        if ((size_t)n < sizeof chunk)
            return total; /* a short send arms WRITE just as EAGAIN does */
    }
}

void util_drain(netev_socket s, size_t len)
{
    static char buf[65536];
    while (len) {
        size_t n = util_recv_some(s, buf, len < sizeof buf ? len : sizeof buf);
        CHECK(n > 0);
        len -= n;
    }
}

const char *util_events_str(unsigned ev)
{
    static char buf[8][64];
    static int k;
    char *b = buf[k++ % 8];
    static const char *names[] = {"READ", "WRITE", "OOB", "ACCEPT", "CONNECT", "CLOSE"};
    b[0] = 0;
    for (int i = 0; i < NETEV_MAX_EVENTS; i++)
        if (ev & (1u << i)) {
            if (b[0])
                strcat(b, "|");
            strcat(b, names[i]);
        }
    if (ev & ~(unsigned)NETEV_ALL)
        strcat(b, "|?");
    if (!b[0])
        strcpy(b, "none");
    return b;
}

/* The records must stay valid until the next wait (netev_close writes into them): static. */
static netev_event expect_out[8];

netev_event util_expect(netev_loop *loop, netev_socket s, unsigned events, const char *file, int line)
{
    netev_event *out = expect_out;
    int n = netev_wait(loop, out, 8, 2000 * slow);
    CHECK_OK(n);
    if (n == 0)
        check_fail(file, line, "expected %s on socket %d, got nothing", util_events_str(events), (int)s);
    if (n != 1 || out[0].sock != s || out[0].events != events)
        check_fail(file, line, "expected one record %s on socket %d, got %d records, first %s on socket %d",
                   util_events_str(events), (int)s, n, util_events_str(out[0].events), (int)out[0].sock);
    return out[0];
}

void util_expect_none(netev_loop *loop, const char *file, int line)
{
    netev_event *out = expect_out;
    int n = netev_wait(loop, out, 8, 60 * slow);
    CHECK_OK(n);
    if (n != 0)
        check_fail(file, line, "expected nothing, got %d records, first %s on socket %d", n,
                   util_events_str(out[0].events), (int)out[0].sock);
}

void util_expect_idle(netev_loop *loop, int ms, const char *file, int line)
{
    long long t0 = util_now_us(), cpu0 = util_cpu_us();
    int n = netev_wait(loop, expect_out, 8, ms);
    long long waited = util_now_us() - t0, cpu = util_cpu_us() - cpu0;
    if (n != 0)
        check_fail(file, line, "expected nothing, got %d records, first %s on socket %d", n,
                   util_events_str(expect_out[0].events), (int)expect_out[0].sock);
    if (waited < ms * 1000LL - 1000)
        check_fail(file, line, "a %d ms wait returned after %lld us", ms, waited);
    if (cpu > waited / 5 + 5000LL * util_slow())
        check_fail(file, line, "spinning: %lld us of CPU in a %lld us wait", cpu, waited);
}
