/* netev_select: associate once, change the mask any time; recorded events
 * survive mask changes and are never reported twice (research §1.3, §5 G). */
#include "util.h"

/* An event recorded under a mask that excludes it is reported when the mask covers it. */
TEST(mask_change_keeps_unreported)
{
    util_fixture f = util_fixture_new(NETEV_CLOSE);
    util_send_all(f.c, "x", 1);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_CLOSE | NETEV_READ, 0));
    EXPECT(f.loop, f.s, NETEV_READ);
    util_fixture_free(&f);
}

/* Only the selected part of the record is reported; the rest waits for its bit. */
TEST(partial_mask_reports_part)
{
    util_skip_on_wine(WINE_F4_CLOSE_AFTER_DATA);
    util_fixture f = util_fixture_new(0);
    util_send_all(f.c, "x", 1);
    util_close(f.c);
    f.c = util_tcp_socket(AF_INET); /* teardown closes something */
    util_sleep_ms(20);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_CLOSE, 0));
    EXPECT(f.loop, f.s, NETEV_CLOSE);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_CLOSE | NETEV_WRITE, 0));
    EXPECT(f.loop, f.s, NETEV_WRITE);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_ALL, 0));
    EXPECT(f.loop, f.s, NETEV_READ);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* Mask 0 stops reporting but keeps recording; everything comes once selected again. */
TEST(mask_zero_keeps_recording)
{
    util_skip_on_wine(WINE_F4_CLOSE_AFTER_DATA);
    util_fixture f = util_fixture_new(NETEV_ALL);
    EXPECT(f.loop, f.s, NETEV_WRITE);
    CHECK_OK(netev_select(f.loop, f.s, 0, 0));
    util_send_all(f.c, "data", 4);
    CHECK(shutdown(f.c, 1) == 0);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_ALL, 0));
    EXPECT(f.loop, f.s, NETEV_READ | NETEV_CLOSE);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* G1: five select+wait rounds on a connected socket: WRITE in the first round only. */
TEST(g1_repeated_select)
{
    util_fixture f = util_fixture_new(0);
    for (int round = 0; round < 5; round++) {
        CHECK_OK(netev_select(f.loop, f.s, NETEV_READ | NETEV_WRITE, 0));
        if (round == 0)
            EXPECT(f.loop, f.s, NETEV_WRITE);
        else
            EXPECT_NONE(f.loop);
    }
    util_fixture_free(&f);
}

/* A new udata applies to the next records. */
TEST(udata_follows_select)
{
    int a, b;
    util_fixture f = util_fixture_new(NETEV_READ);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_READ, &a));
    util_send_all(f.c, "1", 1);
    CHECK(EXPECT(f.loop, f.s, NETEV_READ).udata == &a);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_READ, &b));
    char ch;
    CHECK_EQ(netev_recv(f.loop, f.s, &ch, 1, 0), 1);
    util_send_all(f.c, "2", 1);
    CHECK(EXPECT(f.loop, f.s, NETEV_READ).udata == &b);
    util_fixture_free(&f);
}

/* Selecting makes the socket non-blocking. */
TEST(select_makes_nonblocking)
{
    util_fixture f = util_fixture_new(NETEV_READ);
    CHECK(util_is_nonblocking(f.s));
    char ch;
    CHECK_EQ(netev_recv(f.loop, f.s, &ch, 1, 0), NETEV_EAGAIN);
    util_fixture_free(&f);
}

/* Bad calls fail clearly and change nothing. */
TEST(select_bad_calls)
{
    util_fixture f = util_fixture_new(NETEV_READ);
    CHECK_EQ(netev_select(f.loop, f.s, 0x40, 0), NETEV_EINVAL);
    CHECK_EQ(netev_select(f.loop, f.s, NETEV_READ | 0x100, 0), NETEV_EINVAL);
    CHECK_EQ(netev_select(f.loop, f.s, ~0u, 0), NETEV_EINVAL);
    CHECK_EQ(netev_select(0, f.s, NETEV_READ, 0), NETEV_EINVAL);
    CHECK_EQ(netev_select(f.loop, util_unused_socket_number(), NETEV_READ, 0), NETEV_EBADF);
    CHECK_EQ(netev_select(f.loop, (netev_socket)-1, NETEV_READ, 0), NETEV_EBADF);
    netev_socket ns = util_not_a_socket();
    CHECK_EQ(netev_select(f.loop, ns, NETEV_READ, 0), NETEV_ENOTSOCK);
    util_close_not_a_socket(ns);
    /* the socket's selection is unchanged */
    util_send_all(f.c, "x", 1);
    EXPECT(f.loop, f.s, NETEV_READ);
    util_fixture_free(&f);
}

/* netev_forget: no more records, the socket stays open and usable; selecting
 * it again starts afresh (WRITE again, as for a first select). */
TEST(forget)
{
    util_fixture f = util_fixture_new(NETEV_ALL);
    CHECK_OK(netev_forget(f.loop, f.s));
    EXPECT_NONE(f.loop);
    CHECK_EQ(netev_forget(f.loop, f.s), NETEV_EBADF);
    util_send_all(f.c, "x", 1);
    EXPECT_NONE(f.loop);
    char ch;
    CHECK_EQ(netev_recv(f.loop, f.s, &ch, 1, 0), 1);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_ALL, 0));
    EXPECT(f.loop, f.s, NETEV_WRITE);
    CHECK_EQ(netev_forget(0, f.s), NETEV_EINVAL);
    util_fixture_free(&f);
}

/* Two loops track their own sockets independently. */
TEST(two_loops)
{
    util_fixture f = util_fixture_new(NETEV_READ);
    netev_loop *other = util_loop();
    netev_socket c2, s2;
    util_pair(&c2, &s2);
    CHECK_OK(netev_select(other, s2, NETEV_READ, 0));
    util_send_all(c2, "y", 1);
    EXPECT_NONE(f.loop);
    EXPECT(other, s2, NETEV_READ);
    CHECK_OK(netev_close(other, s2));
    util_close(c2);
    netev_loop_free(other);
    util_fixture_free(&f);
}

RUN_TESTS(CASE(mask_change_keeps_unreported), CASE(partial_mask_reports_part), CASE(mask_zero_keeps_recording),
          CASE(g1_repeated_select), CASE(udata_follows_select), CASE(select_makes_nonblocking),
          CASE(select_bad_calls), CASE(forget), CASE(two_loops))
