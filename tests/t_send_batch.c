/* netev_send_batch: netev_send's results and records for every request, the
 * order of a socket's requests, and the rule that after a short or failed
 * send a socket's later requests are not tried.  On Linux it runs twice:
 * through io_uring and with NETEV_NO_IO_URING=1 (one netev_send each). */
#define _GNU_SOURCE
#include "util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "util_ring.h"

enum { PAIRS = 4 };

/* One loop and PAIRS connected sockets selected for WRITE|CLOSE, their first
 * WRITE already taken. */
typedef struct pairs {
    netev_loop *loop;
    netev_socket c[PAIRS], s[PAIRS];
    netev_event ev[PAIRS]; /* the last records live as long as the loop: netev_close may mark them */
} pairs;

static void pairs_open(pairs *p)
{
    p->loop = util_loop();
    for (int i = 0; i < PAIRS; i++) {
        util_pair(&p->c[i], &p->s[i]);
        CHECK_OK(netev_select(p->loop, p->s[i], NETEV_WRITE | NETEV_CLOSE, 0));
    }
    int got = 0;
    for (int tries = 0; got < PAIRS && tries < 100; tries++) {
        int n = netev_wait(p->loop, p->ev, PAIRS, 100);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++)
            CHECK_EQ(p->ev[i].events, NETEV_WRITE);
        got += n;
    }
    CHECK_EQ(got, PAIRS);
}

static void pairs_close(pairs *p)
{
    for (int i = 0; i < PAIRS; i++) {
        CHECK_OK(netev_close(p->loop, p->s[i]));
        if (p->c[i] != NETEV_INVALID_SOCKET)
            util_close(p->c[i]);
    }
    netev_loop_free(p->loop);
}

static netev_send_req req(netev_socket s, const void *buf, size_t len)
{
    netev_send_req r = {s, buf, len, 0, 12345};
    return r;
}

static void expect_bytes(netev_socket c, const char *want)
{
    size_t n = strlen(want);
    char got[64];
    CHECK(n < sizeof got);
    size_t have = 0;
    while (have < n)
        have += util_recv_some(c, got + have, n - have);
    CHECK(memcmp(got, want, n) == 0);
}

TEST(bad_calls)
{
    pairs p;
    pairs_open(&p);
    netev_send_req r = req(p.s[0], "x", 1);
    CHECK_EQ(netev_send_batch(0, &r, 1), NETEV_EINVAL);
    CHECK_EQ(netev_send_batch(p.loop, &r, -1), NETEV_EINVAL);
    CHECK_EQ(netev_send_batch(p.loop, NULL, 2), NETEV_EINVAL);
    CHECK_EQ(r.result, 12345); /* untouched */
    CHECK_EQ(netev_send_batch(p.loop, NULL, 0), 0);
    EXPECT_NONE(p.loop);
    pairs_close(&p);
}

/* Sends that take everything: every result the length, the bytes in order,
 * and no WRITE afterwards (as with netev_send, C3). */
TEST(complete_sends_no_write)
{
    pairs p;
    pairs_open(&p);
    netev_send_req r[] = {req(p.s[0], "ab", 2), req(p.s[1], "x", 1), req(p.s[0], "cd", 2),
                          req(p.s[2], "", 0), req(p.s[3], "hello", 5), req(p.s[0], "ef", 2)};
    int n = (int)(sizeof r / sizeof *r);
    CHECK_EQ(netev_send_batch(p.loop, r, n), n);
    for (int i = 0; i < n; i++)
        CHECK_EQ(r[i].result, (ptrdiff_t)r[i].len);
    expect_bytes(p.c[0], "abcdef");
    expect_bytes(p.c[1], "x");
    expect_bytes(p.c[3], "hello");
    EXPECT_NONE(p.loop);
    pairs_close(&p);
}

/* A full socket: its first request is short or gets NETEV_EAGAIN (the
 * kernel may free a little room even while the peer reads nothing), its
 * later ones are not tried (NETEV_EAGAIN, nothing sent), other sockets are
 * not held up, and WRITE comes once the peer drains, once. */
TEST(full_socket_later_requests_not_tried)
{
    pairs p;
    pairs_open(&p);
    CHECK_OK(netev_select(p.loop, p.s[0], 0, 0));
    size_t sent = util_fill(p.loop, p.s[0]);
    CHECK_OK(netev_select(p.loop, p.s[0], NETEV_WRITE | NETEV_CLOSE, 0));
    sent += util_refill_until_quiet(p.loop, p.s[0]);
    enum { MORE = 1 << 20 };
    char *more = calloc(1, MORE);
    CHECK(more != NULL);
    netev_send_req r[] = {req(p.s[0], more, MORE), req(p.s[1], "y", 1), req(p.s[0], "w", 1)};
    CHECK_EQ(netev_send_batch(p.loop, r, 3), 3);
    CHECK(r[0].result == NETEV_EAGAIN || (r[0].result >= 0 && r[0].result < MORE));
    CHECK_EQ(r[1].result, 1);
    CHECK_EQ(r[2].result, NETEV_EAGAIN);
    expect_bytes(p.c[1], "y");
    if (r[0].result > 0)
        sent += (size_t)r[0].result;
    util_drain(p.c[0], sent); /* exactly the fill and the short send: "w" never went */
    free(more);
    EXPECT(p.loop, p.s[0], NETEV_WRITE);
    EXPECT_NONE(p.loop);
    CHECK_EQ(netev_send(p.loop, p.s[0], "k", 1, 0), 1);
    expect_bytes(p.c[0], "k");
    pairs_close(&p);
}

/* A short send arms WRITE, and the socket's next request is not tried. */
TEST(short_send_arms_write)
{
    pairs p;
    pairs_open(&p);
    enum { BIG = 16 << 20 };
    char *big = calloc(1, BIG);
    CHECK(big != NULL);
    netev_send_req r[] = {req(p.s[0], big, BIG), req(p.s[0], "tail", 4), req(p.s[1], "ok", 2)};
    CHECK_EQ(netev_send_batch(p.loop, r, 3), 3);
    CHECK(r[0].result > 0 && r[0].result < BIG);
    CHECK_EQ(r[1].result, NETEV_EAGAIN);
    CHECK_EQ(r[2].result, 2);
    expect_bytes(p.c[1], "ok");
    util_drain(p.c[0], (size_t)r[0].result);
    EXPECT(p.loop, p.s[0], NETEV_WRITE);
    free(big);
    pairs_close(&p);
}

/* What netev_send says about a bad request, the batch says too, and the
 * good requests beside it go out, but not the later ones for its socket. */
TEST(bad_requests_get_netev_send_results)
{
    pairs p;
    pairs_open(&p);
    netev_socket ns = util_not_a_socket();
    netev_send_req r[] = {req(util_unused_socket_number(), "x", 1), req(p.s[0], "a", 1), req(ns, "x", 1),
                          req(p.s[1], NULL, 4), req(p.s[2], "b", 1), req(p.s[3], "x", 1), req(p.s[1], "c", 1)};
    r[5].flags = 0x40000000;
    CHECK_EQ(netev_send_batch(p.loop, r, 7), 7);
    CHECK_EQ(r[0].result, NETEV_EBADF);
    CHECK_EQ(r[1].result, 1);
    CHECK_EQ(r[2].result, NETEV_ENOTSOCK);
    CHECK_EQ(r[3].result, NETEV_EINVAL);
    CHECK_EQ(r[4].result, 1);
    CHECK_EQ(r[5].result, NETEV_EINVAL);
    CHECK_EQ(r[6].result, NETEV_EAGAIN); /* after its socket's failed request: not tried */
    expect_bytes(p.c[0], "a");
    expect_bytes(p.c[2], "b");
    util_close_not_a_socket(ns);
    EXPECT_NONE(p.loop);
    util_set_blocking(p.c[1], 0);
    char b;
    CHECK(recv(p.c[1], &b, 1, 0) < 0); /* "c" never went */
    pairs_close(&p);
}

/* A connection the peer reset: its send fails with the error, never SIGPIPE. */
TEST(reset_peer_fails_alone)
{
#ifdef SIGPIPE
    signal(SIGPIPE, SIG_DFL); /* the default action would kill the test */
#endif
    pairs p;
    pairs_open(&p);
    util_rst(p.c[0]);
    p.c[0] = NETEV_INVALID_SOCKET;
    EXPECT(p.loop, p.s[0], NETEV_CLOSE);
    netev_send_req r[] = {req(p.s[0], "x", 1), req(p.s[1], "y", 1)};
    CHECK_EQ(netev_send_batch(p.loop, r, 2), 2);
    CHECK(r[0].result == NETEV_ECONNRESET || r[0].result == NETEV_EPIPE);
    CHECK_EQ(r[1].result, 1);
    expect_bytes(p.c[1], "y");
    pairs_close(&p);
}

/* More requests than the ring holds at once (1,024): all go, in order. */
TEST(more_than_a_ring)
{
    enum { SOCKS = 1100 };
    util_raise_fd_limit(2 * SOCKS + 64);
    netev_loop *loop = util_loop();
    netev_socket *c = malloc(SOCKS * sizeof *c), *s = malloc(SOCKS * sizeof *s);
    netev_send_req *r = malloc(2 * SOCKS * sizeof *r);
    CHECK(c && s && r);
    for (int i = 0; i < SOCKS; i++) {
        util_pair(&c[i], &s[i]);
        CHECK_OK(netev_select(loop, s[i], NETEV_CLOSE, 0));
        r[i] = req(s[i], "1", 1);
        r[SOCKS + i] = req(s[i], "2", 1);
    }
    CHECK_EQ(netev_send_batch(loop, r, 2 * SOCKS), 2 * SOCKS);
    for (int i = 0; i < 2 * SOCKS; i++)
        CHECK_EQ(r[i].result, 1);
    for (int i = 0; i < SOCKS; i++) {
        expect_bytes(c[i], "12");
        CHECK_OK(netev_close(loop, s[i]));
        util_close(c[i]);
    }
    free(c);
    free(s);
    free(r);
    netev_loop_free(loop);
}

/* Two requests on two sockets; both must arrive. */
static void batch_of_two(pairs *p, const char *a, const char *b)
{
    netev_send_req r[] = {req(p->s[0], a, 1), req(p->s[1], b, 1)};
    CHECK_EQ(netev_send_batch(p->loop, r, 2), 2);
    CHECK_EQ(r[0].result, 1);
    CHECK_EQ(r[1].result, 1);
    expect_bytes(p->c[0], a);
    expect_bytes(p->c[1], b);
}

static void two_open(void *p)
{
    pairs_open(p);
}

static void two(void *p, int round)
{
    batch_of_two(p, round ? "c" : "a", round ? "d" : "b");
}

static void two_close(void *p)
{
    pairs_close(p);
}

/* Linux: the batch uses an io_uring where it may, and works on where
 * io_uring_enter is refused (tests/util_ring.h). */
TEST(ring_used_where_available)
{
    pairs p;
    util_batch_of_two b = {two_open, two, two_close, &p};
    util_check_ring_used(&b);
}

TEST(refused_ring_falls_back)
{
    pairs p;
    util_batch_of_two b = {two_open, two, two_close, &p};
    util_check_refused_ring(&b);
}

#ifdef NETEV_HAVE_RING
/* Linux: a wait for completions that fails outright (faked: see
 * util_fake_lost_wait) leaves the requests' fate unknown.  Each fails with
 * NETEV_EIO instead of being sent again by a plain call, the ring is
 * retired, and the next batch is sent, once, without it. */
static void lost(void *pp, int ring)
{
    pairs *p = pp;
    netev_send_req r[] = {req(p->s[0], "ab", 2), req(p->s[1], "x", 1)};
    CHECK_EQ(netev_send_batch(p->loop, r, 2), 2);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(r[i].result, (ring ? NETEV_EIO : (ptrdiff_t)r[i].len));
    if (ring) {
        char got;
        CHECK(recv(p->c[0], &got, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN); /* not sent again */
        CHECK(recv(p->c[1], &got, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN);
    }
    netev_send_req again[] = {req(p->s[2], "cd", 2), req(p->s[3], "e", 1)};
    CHECK_EQ(netev_send_batch(p->loop, again, 2), 2);
    CHECK_EQ(again[0].result, 2);
    CHECK_EQ(again[1].result, 1);
    expect_bytes(p->c[2], "cd");
    expect_bytes(p->c[3], "e");
}

#endif

TEST(lost_wait_fails_requests_without_resending)
{
#ifdef NETEV_HAVE_RING
    pairs p;
    util_lost_wait t = {two_open, lost, two_close, &p};
    util_check_lost_wait(&t);
#else
    printf("# no io_uring in this build: not run\n");
#endif
}

RUN_TESTS(CASE(bad_calls), CASE(complete_sends_no_write), CASE(full_socket_later_requests_not_tried),
          CASE(short_send_arms_write), CASE(bad_requests_get_netev_send_results), CASE(reset_peer_fails_alone),
          CASE(more_than_a_ring), CASE(ring_used_where_available), CASE(refused_ring_falls_back),
          CASE(lost_wait_fails_requests_without_resending))
