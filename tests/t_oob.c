/* OOB: urgent data, a level event re-enabled by netev_recv(NETEV_MSG_OOB)
 * (design.md, research §5 E).  Linux keeps one urgent byte at a time. */
#include "util.h"

#define NO_WRITE (NETEV_ACCEPT | NETEV_READ | NETEV_OOB | NETEV_CONNECT | NETEV_CLOSE)

static void send_urgent(netev_socket c, char ch)
{
    CHECK_EQ(send(c, &ch, 1, MSG_OOB), 1);
}

/* E1: urgent data is reported once; re-selecting does not repeat it.
 * E2 (native rule): a second urgent byte does not re-report an unconsumed OOB. */
TEST(e1_e2_reported_once)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    send_urgent(f.c, 'U');
    EXPECT(f.loop, f.s, NETEV_OOB);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, 0));
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, 0, 0));
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, 0));
    EXPECT_NONE(f.loop);
    send_urgent(f.c, 'V');
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* E3: recv(MSG_OOB) takes the urgent byte and re-enables OOB; none is left, so
 * nothing is reported; a new urgent byte is reported again. */
TEST(e3_recv_oob_reenables)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    send_urgent(f.c, 'U');
    EXPECT(f.loop, f.s, NETEV_OOB);
    char ch = 0;
    CHECK_EQ(netev_recv(f.loop, f.s, &ch, 1, NETEV_MSG_OOB), 1);
    CHECK_EQ(ch, 'U');
    EXPECT_NONE(f.loop);
    send_urgent(f.c, 'W');
    EXPECT(f.loop, f.s, NETEV_OOB);
    CHECK_EQ(netev_recv(f.loop, f.s, &ch, 1, NETEV_MSG_OOB), 1);
    CHECK_EQ(ch, 'W');
    util_fixture_free(&f);
}

/* E4: urgent data recorded while the mask is 0 is reported once selected. */
TEST(e4_recorded_while_mask_zero)
{
    util_fixture f = util_fixture_new(0);
    send_urgent(f.c, 'U');
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, 0));
    EXPECT(f.loop, f.s, NETEV_OOB);
    util_fixture_free(&f);
}

/* "abc", urgent 'X', "def" from the peer: READ and OOB are reported. */
static util_fixture urgent_between(void)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "abc", 3);
    send_urgent(f.c, 'X');
    util_send_all(f.c, "def", 3);
    util_sleep_ms(20);
    EXPECT(f.loop, f.s, NETEV_READ | NETEV_OOB);
    return f;
}

/* Normal data around an urgent byte: a read stops at the mark and READ comes
 * back for the rest; the urgent byte is read apart.  (Linux drops an urgent
 * byte that normal reads pass over, so it is read when OOB is reported.) */
TEST(normal_data_around_urgent)
{
    util_fixture f = urgent_between();
    char buf[16];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    EXPECT(f.loop, f.s, NETEV_READ); /* stopped at the mark: more to read */
    char ch;
    CHECK_EQ(netev_recv(f.loop, f.s, &ch, 1, NETEV_MSG_OOB), 1);
    CHECK_EQ(ch, 'X');
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 3);
    CHECK(memcmp(buf, "def", 3) == 0);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* The urgent byte read first: the next normal read still stops at the mark,
 * and READ comes back for the data past it (on epoll no new edge would). */
TEST(read_after_oob_stops_at_mark)
{
    util_fixture f = urgent_between();
    char ch, buf[16];
    CHECK_EQ(netev_recv(f.loop, f.s, &ch, 1, NETEV_MSG_OOB), 1);
    CHECK_EQ(ch, 'X');
    ptrdiff_t n = netev_recv(f.loop, f.s, buf, sizeof buf, 0);
    CHECK(n == 3 || n == 6); /* Linux stops at the mark; a system that does not reads on */
    CHECK(memcmp(buf, "abcdef", (size_t)n) == 0);
    if (n == 3) {
        EXPECT(f.loop, f.s, NETEV_READ);
        CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 3);
        CHECK(memcmp(buf, "def", 3) == 0);
    }
    EXPECT_NONE(f.loop);
    /* Past the mark, plain data is plain again. */
    util_send_all(f.c, "gh", 2);
    EXPECT(f.loop, f.s, NETEV_READ);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 2);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* Urgent data never read apart, then the peer's FIN: the data is read to
 * the end, and no READ is reported for the end of the stream (poll says
 * "readable" there, but EOF is CLOSE's news). */
TEST(urgent_then_fin_no_read_at_eof)
{
    util_skip_on_wine(WINE_F4_CLOSE_AFTER_DATA);
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "abc", 3);
    send_urgent(f.c, 'X');
    util_send_all(f.c, "def", 3);
    CHECK(shutdown(f.c, 1) == 0); /* SHUT_WR, SD_SEND */
    util_sleep_ms(20);
    netev_event e = EXPECT(f.loop, f.s, NETEV_READ | NETEV_OOB | NETEV_CLOSE);
    CHECK_EQ(e.error[NETEV_CLOSE_BIT], 0);
    char buf[16];
    size_t got = 0;
    for (int i = 0; i < 4 && got < 6; i++) { /* Linux stops at the mark, and passes over the urgent byte */
        ptrdiff_t n = netev_recv(f.loop, f.s, buf + got, sizeof buf - got, 0);
        CHECK(n > 0);
        got += (size_t)n;
    }
    CHECK_EQ(got, 6);
    CHECK(memcmp(buf, "abcdef", 6) == 0);
    EXPECT_NONE(f.loop);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 0);
    util_fixture_free(&f);
}

RUN_TESTS(CASE(e1_e2_reported_once), CASE(e3_recv_oob_reenables), CASE(e4_recorded_while_mask_zero),
          CASE(normal_data_around_urgent), CASE(read_after_oob_stops_at_mark),
          CASE(urgent_then_fin_no_read_at_eof))
