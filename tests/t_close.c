/* CLOSE: one-shot, error 0 for the peer's FIN, NETEV_ECONNRESET for a reset
 * (design.md, research §5 F). */
#include "util.h"

#ifdef __linux__
#include <netinet/tcp.h>
#endif

#define NO_WRITE (NETEV_ACCEPT | NETEV_READ | NETEV_OOB | NETEV_CONNECT | NETEV_CLOSE)

/* F1: the peer closes: CLOSE with error 0, once; re-selecting does not repeat it; recv gives 0. */
TEST(f1_peer_close)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_close(f.c);
    netev_event e = EXPECT(f.loop, f.s, NETEV_CLOSE); /* EOF never shows up as READ */
    CHECK_EQ(e.error[NETEV_CLOSE_BIT], 0);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, 0));
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, 0, 0));
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, 0));
    EXPECT_NONE(f.loop);
    char buf[8];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 0);
    EXPECT_NONE(f.loop);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 0);
    EXPECT_IDLE(f.loop, 200); /* EOF stays readable: nothing may spin on it */
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

/* F2: the peer shuts down its sending side: CLOSE; we can still send, and the
 * peer's later close reports nothing more. */
TEST(f2_peer_shutdown_send)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    CHECK(shutdown(f.c, 1) == 0);
    netev_event e = EXPECT(f.loop, f.s, NETEV_CLOSE);
    CHECK_EQ(e.error[NETEV_CLOSE_BIT], 0);
    CHECK_EQ(netev_send(f.loop, f.s, "still", 5, 0), 5);
    char buf[8];
    CHECK_EQ(util_recv_some(f.c, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "still", 5) == 0);
    util_close(f.c);
    EXPECT_NONE(f.loop);
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

/* F4: data then FIN: READ and CLOSE (merged when both arrived), the data stays
 * readable until recv returns 0. */
TEST(f4_data_then_close)
{
    util_skip_on_wine(WINE_F4_CLOSE_AFTER_DATA);
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "12345", 5);
    util_close(f.c);
    util_sleep_ms(20);
    EXPECT(f.loop, f.s, NETEV_READ | NETEV_CLOSE);
    char buf[8];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, 3, 0), 3);
    EXPECT(f.loop, f.s, NETEV_READ); /* data remains */
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 2);
    CHECK(memcmp(buf, "45", 2) == 0);
    EXPECT_NONE(f.loop);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 0);
    EXPECT_NONE(f.loop);
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

/* FIN while READ is reported but unconsumed: CLOSE still comes at once. */
TEST(close_while_read_unconsumed)
{
    util_skip_on_wine(WINE_F4_CLOSE_AFTER_DATA);
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "abc", 3);
    EXPECT(f.loop, f.s, NETEV_READ);
    util_close(f.c);
    EXPECT(f.loop, f.s, NETEV_CLOSE);
    char buf[8];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 3);
    EXPECT_NONE(f.loop);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 0);
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

/* F5: the peer closed before the first select: CLOSE at the next wait. */
TEST(f5_closed_before_select)
{
    util_fixture f = util_fixture_new(0);
    util_close(f.c);
    util_sleep_ms(20);
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, 0));
    EXPECT(f.loop, f.s, NETEV_CLOSE);
    EXPECT_NONE(f.loop);
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

/* F5 for a socket never selected before the close happened. */
TEST(f5_first_select_after_close)
{
    netev_loop *loop = util_loop();
    netev_socket c, s;
    util_pair(&c, &s);
    util_close(c);
    util_sleep_ms(20);
    CHECK_OK(netev_select(loop, s, NETEV_READ | NETEV_CLOSE, 0));
    EXPECT(loop, s, NETEV_CLOSE);
    CHECK_OK(netev_close(loop, s));
    netev_loop_free(loop);
}

/* F6: CLOSE recorded while not selected is reported once selected. */
TEST(f6_unselected_close_kept)
{
    util_fixture f = util_fixture_new(NETEV_READ);
    util_close(f.c);
    EXPECT_NONE(f.loop); /* and no READ for the EOF */
    CHECK_OK(netev_select(f.loop, f.s, NETEV_READ | NETEV_CLOSE, 0));
    EXPECT(f.loop, f.s, NETEV_CLOSE);
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

/* F7: a reset gives CLOSE with NETEV_ECONNRESET, once; recv then gives 0 or NETEV_ECONNRESET. */
TEST(f7_reset)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_rst(f.c);
    netev_event e = EXPECT(f.loop, f.s, NETEV_CLOSE);
    if (!util_wine_differs(WINE_F7_RESET_AS_FIN))
        CHECK_EQ(e.error[NETEV_CLOSE_BIT], NETEV_ECONNRESET);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, 0));
    EXPECT_NONE(f.loop);
    char buf[8];
    ptrdiff_t r = netev_recv(f.loop, f.s, buf, sizeof buf, 0);
    CHECK(r == 0 || r == NETEV_ECONNRESET);
    EXPECT_IDLE(f.loop, 200); /* a dead socket stays readable and hung up: nothing may spin */
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

/* A reset after a FIN was reported adds nothing: CLOSE is one-shot. */
TEST(reset_after_fin_is_silent)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    CHECK(shutdown(f.c, 1) == 0);
    EXPECT(f.loop, f.s, NETEV_CLOSE);
    util_rst(f.c);
    EXPECT_NONE(f.loop);
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

/* A reset while a send is blocked: CLOSE(reset), then sending fails without SIGPIPE. */
TEST(reset_while_write_blocked)
{
    /* Under Wine the reset looks like a FIN, after which WRITE is legitimate news. */
    util_skip_on_wine(WINE_F7_RESET_AS_FIN);
    util_fixture f = util_fixture_new(NETEV_ALL);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    util_fill_quiet(f.loop, f.s);
    util_rst(f.c);
    netev_event e = EXPECT(f.loop, f.s, NETEV_CLOSE);
    CHECK_EQ(e.error[NETEV_CLOSE_BIT], NETEV_ECONNRESET);
    ptrdiff_t r = netev_send(f.loop, f.s, "x", 1, 0);
    CHECK(r == NETEV_EPIPE || r == NETEV_ECONNRESET);
    EXPECT_IDLE(f.loop, 200);
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

/* F7 when the program's own call hears the reset before a wait does (the
 * kernel tells it once): CLOSE still carries NETEV_ECONNRESET. */
static void reset_heard_first(int by_send)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_rst(f.c);
    util_sleep_ms(20);
    char buf[8] = "x";
    ptrdiff_t r = by_send ? netev_send(f.loop, f.s, buf, 1, 0) : netev_recv(f.loop, f.s, buf, sizeof buf, 0);
    if (r == NETEV_ECONNRESET || !util_wine_differs(WINE_F7_RESET_AS_FIN)) {
        CHECK_EQ(r, NETEV_ECONNRESET);
        netev_event e = EXPECT(f.loop, f.s, NETEV_CLOSE);
        CHECK_EQ(e.error[NETEV_CLOSE_BIT], NETEV_ECONNRESET);
    } else {
        netev_event out[4]; /* Wine: the reset came as a FIN, whose CLOSE may follow */
        int n = netev_wait(f.loop, out, 4, 500 * util_slow());
        CHECK(n == 0 || (n == 1 && out[0].events == NETEV_CLOSE));
    }
    EXPECT_IDLE(f.loop, 200);
    f.c = NETEV_INVALID_SOCKET; /* closed by the test */
    util_fixture_free(&f);
}

TEST(reset_heard_by_recv_first)
{
    reset_heard_first(0);
}

TEST(reset_heard_by_send_first)
{
    reset_heard_first(1);
}

#if defined(__linux__) && defined(TCP_USER_TIMEOUT)
/* A connection the kernel gives up on (here: the peer's window stays shut
 * longer than TCP_USER_TIMEOUT, which Linux counts since 5.11) is over, and
 * CLOSE says why: NETEV_ETIMEDOUT, whether a wait or the program's own call
 * heard it first -- not 0, which would read as the peer's orderly FIN.
 * heard_by: 0 a wait, 1 netev_send, 2 netev_recv. */
static void timed_out(int heard_by)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    int small = 4096, ms = 200;
    CHECK(setsockopt(f.c, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
    CHECK(setsockopt(f.s, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms) == 0);
    util_fill(f.loop, f.s); /* the peer reads nothing: its window shuts */
    if (heard_by) {
        static char buf[65536];
        ptrdiff_t r = NETEV_EAGAIN;
        /* Until the call fails (200 ms, and the probes' back-off); the window
         * may still open a little on the way, which a send takes. */
        for (int i = 0; i < 300 && (r >= 0 || r == NETEV_EAGAIN); i++) {
            util_sleep_ms(20);
            r = heard_by == 1 ? netev_send(f.loop, f.s, buf, sizeof buf, 0)
                              : netev_recv(f.loop, f.s, buf, sizeof buf, 0);
        }
        CHECK_EQ(r, NETEV_ETIMEDOUT);
    }
    netev_event e = EXPECT(f.loop, f.s, NETEV_CLOSE);
    CHECK_EQ(e.error[NETEV_CLOSE_BIT], NETEV_ETIMEDOUT);
    EXPECT_IDLE(f.loop, 200);
    util_fixture_free(&f);
}

TEST(timeout_heard_by_wait)
{
    timed_out(0);
}

TEST(timeout_heard_by_send_first)
{
    timed_out(1);
}

TEST(timeout_heard_by_recv_first)
{
    timed_out(2);
}
#define TIMEOUT_CASES , CASE(timeout_heard_by_wait), CASE(timeout_heard_by_send_first), CASE(timeout_heard_by_recv_first)
#else
#define TIMEOUT_CASES
#endif

RUN_TESTS(CASE(f1_peer_close), CASE(f2_peer_shutdown_send), CASE(f4_data_then_close),
          CASE(close_while_read_unconsumed), CASE(f5_closed_before_select), CASE(f5_first_select_after_close),
          CASE(f6_unselected_close_kept), CASE(f7_reset), CASE(reset_after_fin_is_silent),
          CASE(reset_while_write_blocked), CASE(reset_heard_by_recv_first), CASE(reset_heard_by_send_first)
              TIMEOUT_CASES)
