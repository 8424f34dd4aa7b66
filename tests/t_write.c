/* WRITE: reported when first connected, then only after a send fell short
 * and space became free (design.md, research §5 C). */
#include "util.h"

#include <signal.h>

#define ALL NETEV_ALL

/* C1, C2: WRITE on the first select only; re-selecting does not bring it back. */
TEST(c1_c2_first_select_only)
{
    util_fixture f = util_fixture_new(ALL);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, ALL, 0));
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, 0, 0));
    CHECK_OK(netev_select(f.loop, f.s, ALL, 0));
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* C3: a send that takes everything causes no WRITE. */
TEST(c3_complete_send_no_write)
{
    util_fixture f = util_fixture_new(ALL);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    CHECK_EQ(netev_send(f.loop, f.s, "hello", 5, 0), 5);
    EXPECT_NONE(f.loop);
    char buf[8];
    CHECK_EQ(util_recv_some(f.c, buf, sizeof buf), 5);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* C4: sends until EAGAIN; WRITE comes once the peer drains, once; re-select does not repeat it. */
TEST(c4_would_block_then_drained)
{
    util_fixture f = util_fixture_new(ALL & ~NETEV_READ);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    size_t sent = util_fill_quiet(f.loop, f.s); /* full: no WRITE while nothing is read */
    CHECK(sent > 0);
    util_drain(f.c, sent);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, ALL & ~NETEV_READ, 0));
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* A send that takes fewer bytes than asked arms WRITE just like EAGAIN. */
TEST(short_send_arms_write)
{
    util_fixture f = util_fixture_new(NETEV_WRITE);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    enum { BIG = 16 << 20 };
    char *big = calloc(1, BIG);
    CHECK(big != NULL);
    ptrdiff_t n = netev_send(f.loop, f.s, big, BIG, 0);
    CHECK(n > 0 && n < BIG);
    util_drain(f.c, (size_t)n);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    EXPECT_NONE(f.loop);
    free(big);
    util_fixture_free(&f);
}

/* After WRITE, sending more and blocking again arms it again, every time. */
TEST(write_rearms_each_block)
{
    util_fixture f = util_fixture_new(NETEV_WRITE);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    for (int round = 0; round < 5; round++) {
        size_t sent = util_fill_quiet(f.loop, f.s);
        util_drain(f.c, sent);
        EXPECT(f.loop, f.s, NETEV_WRITE);
    }
    util_fixture_free(&f);
}

/* C5: WRITE recorded while not selected is reported once selected. */
TEST(c5_unselected_write_kept)
{
    util_fixture f = util_fixture_new(NETEV_READ | NETEV_CLOSE);
    util_send_all(f.c, "data", 4);
    EXPECT(f.loop, f.s, NETEV_READ);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_READ | NETEV_CLOSE | NETEV_WRITE, 0));
    EXPECT(f.loop, f.s, NETEV_WRITE);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* C6: a successful send does not clear a recorded, unreported WRITE. */
TEST(c6_send_keeps_pending_write)
{
    util_fixture f = util_fixture_new(ALL);
    CHECK_EQ(netev_send(f.loop, f.s, "x", 1, 0), 1);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    util_fixture_free(&f);
}

/* An EAGAIN send clears a recorded, unreported WRITE: it comes back only when space frees. */
TEST(blocked_send_clears_pending_write)
{
    util_fixture f = util_fixture_new(0);
    size_t sent = util_fill(f.loop, f.s);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_WRITE, 0));
    sent += util_refill_until_quiet(f.loop, f.s); /* the WRITE recorded at select was cleared by the fill */
    util_drain(f.c, sent);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    util_fixture_free(&f);
}

/* Sending into a connection the peer closed fails with an error, never SIGPIPE. */
TEST(send_after_peer_close_no_sigpipe)
{
#ifdef SIGPIPE
    signal(SIGPIPE, SIG_DFL); /* the default action would kill the test */
#endif
    util_fixture f = util_fixture_new(NETEV_CLOSE);
    util_close(f.c);
    EXPECT(f.loop, f.s, NETEV_CLOSE);
    ptrdiff_t r = 0;
    for (int i = 0; i < 100 && r >= 0; i++) {
        r = netev_send(f.loop, f.s, "data", 4, 0);
        if (r >= 0)
            util_sleep_ms(5);
    }
    CHECK(r == NETEV_EPIPE || r == NETEV_ECONNRESET);
    CHECK_OK(netev_close(f.loop, f.s));
    netev_loop_free(f.loop);
}

TEST(send_bad_calls)
{
    util_fixture f = util_fixture_new(ALL);
    CHECK_EQ(netev_send(f.loop, f.s, NULL, 4, 0), NETEV_EINVAL);
    CHECK_EQ(netev_send(0, f.s, "x", 1, 0), NETEV_EINVAL);
    CHECK_EQ(netev_send(f.loop, f.s, "x", 1, 0x40000000), NETEV_EINVAL);
    CHECK_EQ(netev_send(f.loop, util_unused_socket_number(), "x", 1, 0), NETEV_EBADF);
    netev_socket ns = util_not_a_socket();
    CHECK_EQ(netev_send(f.loop, ns, "x", 1, 0), NETEV_ENOTSOCK);
    util_close_not_a_socket(ns);
    CHECK_EQ(netev_send(f.loop, f.s, "", 0, 0), 0);
    util_fixture_free(&f);
}

RUN_TESTS(CASE(c1_c2_first_select_only), CASE(c3_complete_send_no_write), CASE(c4_would_block_then_drained),
          CASE(short_send_arms_write), CASE(write_rearms_each_block), CASE(c5_unselected_write_kept),
          CASE(c6_send_keeps_pending_write), CASE(blocked_send_clears_pending_write),
          CASE(send_after_peer_close_no_sigpipe), CASE(send_bad_calls))
