/* netev_recv_batch: netev_recv's results and records for every request, as
 * if the requests were made one after another in array order.  On Linux it
 * runs twice: through io_uring and with NETEV_NO_IO_URING=1 (one netev_recv
 * each, the path of every other platform). */
#define _GNU_SOURCE
#include "util.h"
#include "util_ring.h"

#include <stdlib.h>
#include <string.h>

enum { PAIRS = 4 };

/* One loop and PAIRS connected sockets selected for READ|CLOSE. */
typedef struct pairs {
    netev_loop *loop;
    netev_socket c[PAIRS], s[PAIRS];
    char buf[PAIRS * 2][64];
} pairs;

static void pairs_open(pairs *p)
{
    p->loop = util_loop();
    for (int i = 0; i < PAIRS; i++) {
        util_pair(&p->c[i], &p->s[i]);
        CHECK_OK(netev_select(p->loop, p->s[i], NETEV_READ | NETEV_CLOSE, 0));
    }
    EXPECT_NONE(p->loop);
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

static netev_recv_req req(netev_socket s, void *buf, size_t len)
{
    netev_recv_req r = {s, buf, len, 0, 12345};
    return r;
}

/* The client sends text on pair i, and the server's READ for it is taken,
 * so that the batch finds the data there and READ disabled. */
static void arrive(pairs *p, int i, const char *text)
{
    util_send_all(p->c[i], text, strlen(text));
    EXPECT(p->loop, p->s[i], NETEV_READ);
}

static void expect_result(const netev_recv_req *r, const char *want)
{
    CHECK_EQ(r->result, (ptrdiff_t)strlen(want));
    CHECK(memcmp(r->buf, want, strlen(want)) == 0);
}

TEST(bad_calls)
{
    pairs p;
    pairs_open(&p);
    netev_recv_req r = req(p.s[0], p.buf[0], 1);
    CHECK_EQ(netev_recv_batch(0, &r, 1), NETEV_EINVAL);
    CHECK_EQ(netev_recv_batch(p.loop, &r, -1), NETEV_EINVAL);
    CHECK_EQ(netev_recv_batch(p.loop, NULL, 2), NETEV_EINVAL);
    CHECK_EQ(r.result, 12345); /* untouched */
    CHECK_EQ(netev_recv_batch(p.loop, NULL, 0), 0);
    EXPECT_NONE(p.loop);
    pairs_close(&p);
}

/* Each request gets what a recv in its place gets: the data there, a
 * buffer's worth of it, NETEV_EAGAIN on an empty socket; a socket's second
 * request reads on where its first stopped. */
TEST(reads_what_is_there)
{
    pairs p;
    pairs_open(&p);
    arrive(&p, 0, "ab");
    arrive(&p, 1, "x");
    arrive(&p, 3, "hello");
    netev_recv_req r[] = {req(p.s[0], p.buf[0], 64), req(p.s[1], p.buf[1], 64), req(p.s[2], p.buf[2], 64),
                          req(p.s[3], p.buf[3], 2),  req(p.s[3], p.buf[4], 64), req(p.s[0], p.buf[5], 64)};
    int n = (int)(sizeof r / sizeof *r);
    CHECK_EQ(netev_recv_batch(p.loop, r, n), n);
    expect_result(&r[0], "ab");
    expect_result(&r[1], "x");
    CHECK_EQ(r[2].result, NETEV_EAGAIN);
    expect_result(&r[3], "he");
    expect_result(&r[4], "llo");
    CHECK_EQ(r[5].result, NETEV_EAGAIN);
    EXPECT_NONE(p.loop); /* everything read: no READ left over */
    /* Every socket's READ is enabled again, the empty one's too. */
    for (int i = 0; i < PAIRS; i++)
        arrive(&p, i, "more");
    pairs_close(&p);
}

/* A request that fills its buffer leaves data behind: READ is reported
 * again at once, as after a netev_recv (D3). */
TEST(full_buffer_reports_read_again)
{
    pairs p;
    pairs_open(&p);
    arrive(&p, 0, "hello");
    arrive(&p, 1, "hi");
    netev_recv_req r[] = {req(p.s[0], p.buf[0], 2), req(p.s[1], p.buf[1], 64)};
    CHECK_EQ(netev_recv_batch(p.loop, r, 2), 2);
    expect_result(&r[0], "he");
    expect_result(&r[1], "hi");
    EXPECT(p.loop, p.s[0], NETEV_READ);
    EXPECT_NONE(p.loop);
    CHECK_EQ(netev_recv(p.loop, p.s[0], p.buf[0], 64, 0), 3);
    EXPECT_NONE(p.loop);
    pairs_close(&p);
}

/* After the peer's FIN: the data, then 0, with CLOSE reported once and no
 * READ for the end of the stream; a reset socket's request fails alone. */
TEST(end_of_stream_and_reset)
{
    pairs p;
    pairs_open(&p);
    util_send_all(p.c[0], "bye", 3);
    CHECK(shutdown(p.c[0], 1) == 0); /* SHUT_WR, SD_SEND */
    /* READ and CLOSE may come in one record or two (Windows posts them as
     * it pleases); CLOSE may even wait until the data is read. */
    unsigned seen = 0;
    for (int tries = 0; tries < 20 * util_slow() && seen != (NETEV_READ | NETEV_CLOSE); tries++) {
        netev_event ev;
        int n = netev_wait(p.loop, &ev, 1, seen & NETEV_READ ? 50 : 100);
        CHECK(n >= 0);
        if (n) {
            CHECK(ev.sock == p.s[0]);
            CHECK(!(ev.events & NETEV_CLOSE) || ev.error[NETEV_CLOSE_BIT] == 0);
            seen |= ev.events;
        }
    }
    CHECK(seen & NETEV_READ);
    util_rst(p.c[1]);
    p.c[1] = NETEV_INVALID_SOCKET;
    EXPECT(p.loop, p.s[1], NETEV_CLOSE);
    arrive(&p, 2, "z");
    netev_recv_req r[] = {req(p.s[0], p.buf[0], 64), req(p.s[1], p.buf[1], 64), req(p.s[2], p.buf[2], 64),
                          req(p.s[0], p.buf[3], 64)};
    CHECK_EQ(netev_recv_batch(p.loop, r, 4), 4);
    expect_result(&r[0], "bye");
    CHECK(r[1].result == NETEV_ECONNRESET || r[1].result == 0);
    expect_result(&r[2], "z");
    CHECK_EQ(r[3].result, 0);
    if (!(seen & NETEV_CLOSE))
        CHECK_EQ(EXPECT(p.loop, p.s[0], NETEV_CLOSE).error[NETEV_CLOSE_BIT], 0);
    EXPECT_NONE(p.loop);
    pairs_close(&p);
}

/* What netev_recv says about a bad request, the batch says too, and the
 * good requests beside it are served; flags other than 0 (MSG_PEEK here)
 * act as they do for netev_recv. */
TEST(bad_requests_get_netev_recv_results)
{
    pairs p;
    pairs_open(&p);
    arrive(&p, 0, "a");
    arrive(&p, 2, "b");
    arrive(&p, 3, "peek");
    netev_socket ns = util_not_a_socket();
    netev_recv_req r[] = {req(util_unused_socket_number(), p.buf[0], 1), req(p.s[0], p.buf[1], 64),
                          req(ns, p.buf[2], 1),                          req(p.s[1], NULL, 4),
                          req(p.s[2], p.buf[3], 64),                     req(p.s[3], p.buf[4], 64),
                          req(p.s[3], p.buf[5], 64),                     req(p.s[1], p.buf[6], 64)};
    r[5].flags = NETEV_MSG_PEEK;
    r[7].flags = 0x40000000;
    CHECK_EQ(netev_recv_batch(p.loop, r, 8), 8);
    CHECK_EQ(r[0].result, NETEV_EBADF);
    expect_result(&r[1], "a");
    CHECK_EQ(r[2].result, NETEV_ENOTSOCK);
    CHECK_EQ(r[3].result, NETEV_EINVAL);
    expect_result(&r[4], "b");
    expect_result(&r[5], "peek");
    expect_result(&r[6], "peek"); /* the peek left it there */
    CHECK_EQ(r[7].result, NETEV_EINVAL);
    util_close_not_a_socket(ns);
    EXPECT_NONE(p.loop);
    pairs_close(&p);
}

/* More requests than the ring holds at once (1,024): all served. */
TEST(more_than_a_ring)
{
    enum { SOCKS = 1100 };
    util_raise_fd_limit(2 * SOCKS + 64);
    netev_loop *loop = util_loop();
    netev_socket *c = malloc(SOCKS * sizeof *c), *s = malloc(SOCKS * sizeof *s);
    netev_recv_req *r = malloc(SOCKS * sizeof *r);
    char *bufs = malloc(SOCKS * 4);
    CHECK(c && s && r && bufs);
    for (int i = 0; i < SOCKS; i++) {
        util_pair(&c[i], &s[i]);
        CHECK_OK(netev_select(loop, s[i], NETEV_READ | NETEV_CLOSE, 0));
        util_send_all(c[i], "123", 3);
        r[i] = req(s[i], bufs + 4 * i, 4);
    }
    /* Every socket's data has arrived once each has reported READ. */
    netev_event ev[256];
    int ready = 0;
    for (int tries = 0; ready < SOCKS && tries < 100 * util_slow(); tries++) {
        int n = netev_wait(loop, ev, 256, 100);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++)
            CHECK_EQ(ev[i].events, NETEV_READ);
        ready += n;
    }
    CHECK_EQ(ready, SOCKS);
    CHECK_EQ(netev_recv_batch(loop, r, SOCKS), SOCKS);
    for (int i = 0; i < SOCKS; i++) {
        CHECK_EQ(r[i].result, 3);
        CHECK(memcmp(r[i].buf, "123", 3) == 0);
        CHECK_OK(netev_close(loop, s[i]));
        util_close(c[i]);
    }
    free(c);
    free(s);
    free(r);
    free(bufs);
    netev_loop_free(loop);
}

/* Two requests on two sockets; both read what was sent. */
static void batch_of_two(pairs *p, const char *a, const char *b)
{
    arrive(p, 0, a);
    arrive(p, 1, b);
    netev_recv_req r[] = {req(p->s[0], p->buf[0], 64), req(p->s[1], p->buf[1], 64)};
    CHECK_EQ(netev_recv_batch(p->loop, r, 2), 2);
    expect_result(&r[0], a);
    expect_result(&r[1], b);
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

/* Linux: a wait for completions that fails outright (faked: see
 * util_fake_lost_wait) leaves the requests' fate unknown: a recv made again
 * by a plain call could return later bytes as if they were the first.  Each
 * fails with NETEV_EIO, the ring is retired, and the next batch reads
 * without it. */
static void lost(void *pp, int ring)
{
    pairs *p = pp;
    arrive(p, 0, "ab");
    arrive(p, 1, "x");
    netev_recv_req r[] = {req(p->s[0], p->buf[0], 64), req(p->s[1], p->buf[1], 64)};
    CHECK_EQ(netev_recv_batch(p->loop, r, 2), 2);
    if (ring) {
        CHECK_EQ(r[0].result, NETEV_EIO);
        CHECK_EQ(r[1].result, NETEV_EIO);
        /* The fake left the bytes in place: poll reports their READ again. */
        netev_event ev[PAIRS];
        while (netev_wait(p->loop, ev, PAIRS, 0) > 0)
            continue;
    } else {
        expect_result(&r[0], "ab");
        expect_result(&r[1], "x");
    }
    arrive(p, 2, "cd");
    arrive(p, 3, "e");
    netev_recv_req again[] = {req(p->s[2], p->buf[2], 64), req(p->s[3], p->buf[3], 64)};
    CHECK_EQ(netev_recv_batch(p->loop, again, 2), 2);
    expect_result(&again[0], "cd");
    expect_result(&again[1], "e");
}

TEST(lost_wait_fails_requests)
{
    pairs p;
    util_lost_wait t = {two_open, lost, two_close, &p};
    util_check_lost_wait(&t);
}

RUN_TESTS(CASE(bad_calls), CASE(reads_what_is_there), CASE(full_buffer_reports_read_again),
          CASE(end_of_stream_and_reset), CASE(bad_requests_get_netev_recv_results), CASE(more_than_a_ring),
          CASE(ring_used_where_available), CASE(refused_ring_falls_back), CASE(lost_wait_fails_requests))
