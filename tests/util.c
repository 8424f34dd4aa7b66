/* Test helpers that only use netev and portable socket types; the ones that
 * talk to the operating system are in util_posix.c and util_win.c. */
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int slow = 1;

void util_init(void)
{
    const char *s = getenv("NETEV_TEST_SLOW");
    if (s && atoi(s) > 1)
        slow = atoi(s);
    setvbuf(stdout, 0, _IOLBF, 0);
    util_os_init();
}

const char *util_backend(void)
{
    const char *b = getenv("NETEV_BACKEND");
    return b && *b ? b : "default";
}

int util_slow(void) { return slow; }

netev_loop *util_loop(void)
{
    netev_loop *loop = netev_loop_new(NULL);
    CHECK(loop != NULL);
    return loop;
}

void util_skip_on_wine(const char *row, const char *why)
{
    if (util_under_wine())
        check_skip("Wine differs from Windows here (research section 5, row %s): %s", row, why);
}

int util_wine_differs(const char *row, const char *why)
{
    if (!util_under_wine())
        return 0;
    printf("# skip one check of %s [%s]: Wine differs from Windows here (research section 5, row %s): %s\n",
           check_current, util_backend(), row, why);
    return 1;
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
    util_close(l);
    return port;
}

size_t util_fill(netev_loop *loop, netev_socket s)
{
    static char chunk[65536];
    size_t total = 0;
    /* Until a send still gets EAGAIN after a pause: right after the first
     * EAGAIN the peer's kernel may still be taking data in (and ACKing it),
     * which frees space here although the peer program reads nothing. */
    for (int quiet = 0; quiet < 2;) {
        ptrdiff_t n = netev_send(loop, s, chunk, sizeof chunk, 0);
        if (n == NETEV_EAGAIN || (n > 0 && (size_t)n < sizeof chunk)) {
            total += n > 0 ? (size_t)n : 0;
            quiet++;
            util_sleep_ms(20);
            continue;
        }
        CHECK(n > 0);
        total += (size_t)n;
        quiet = 0;
    }
    return total;
}

size_t util_refill_until_quiet(netev_loop *loop, netev_socket s)
{
    static netev_event out[8]; /* records stay valid until the next wait */
    size_t total = 0;
    for (int round = 0; round < 20; round++) {
        int n = netev_wait(loop, out, 8, 60 * util_slow());
        CHECK_OK(n);
        if (n == 0)
            return total;
        if (n != 1 || out[0].sock != s || out[0].events != NETEV_WRITE)
            check_fail(__FILE__, __LINE__, "while the peer reads nothing: %d records, first %s on socket %d", n,
                       util_events_str(out[0].events), (int)out[0].sock);
        CHECK_EQ(netev_send(loop, s, "x", 1, 0), 1); /* the WRITE was true */
        total += 1 + util_fill(loop, s);
    }
    check_fail(__FILE__, __LINE__, "WRITE keeps coming although the peer reads nothing");
}

size_t util_fill_quiet(netev_loop *loop, netev_socket s)
{
    size_t total = util_fill(loop, s);
    return total + util_refill_until_quiet(loop, s);
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
