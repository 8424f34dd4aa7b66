/* ACCEPT: a level event re-enabled by netev_accept (design.md, research §5 A). */
#define _GNU_SOURCE
#include "util.h"

#define ALL_BUT_WRITE (NETEV_ACCEPT | NETEV_READ | NETEV_OOB | NETEV_CONNECT | NETEV_CLOSE)

static void accept_one(netev_loop *loop, netev_socket l)
{
    netev_socket c;
    CHECK_OK(netev_accept(loop, l, &c, 0, 0));
    CHECK(c != NETEV_INVALID_SOCKET);
    CHECK_OK(netev_close(loop, c));
}

/* A client that connects, is reported, and resets while still queued. */
static void reset_while_queued(netev_loop *loop, netev_socket l, int port)
{
    netev_socket c = util_connect(port);
    EXPECT(loop, l, NETEV_ACCEPT);
    util_rst(c);
    util_sleep_ms(50);
}

static void connect_clients(int port, netev_socket *cs, int n)
{
    for (int i = 0; i < n; i++)
        cs[i] = util_connect(port);
}

static void close_clients(netev_socket *cs, int n)
{
    for (int i = 0; i < n; i++)
        util_close(cs[i]);
}

/* A1, A2: nothing until a client connects; then ACCEPT once. */
TEST(a1_a2_reported_once)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, ALL_BUT_WRITE, &port));
    EXPECT_NONE(loop);
    netev_socket c = util_connect(port);
    netev_event e = EXPECT(loop, l, NETEV_ACCEPT);
    CHECK(e.udata == &port);
    CHECK_EQ(e.error[NETEV_ACCEPT_BIT], 0);
    EXPECT_NONE(loop);
    accept_one(loop, l);
    util_close(c);
    util_close(l);
    netev_loop_free(loop);
}

/* A3, A4: re-selecting (same mask, or 0 then back) does not re-report. */
TEST(a3_a4_reselect_does_not_rereport)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, ALL_BUT_WRITE, 0));
    netev_socket c = util_connect(port);
    EXPECT(loop, l, NETEV_ACCEPT);
    CHECK_OK(netev_select(loop, l, ALL_BUT_WRITE, 0));
    EXPECT_NONE(loop);
    CHECK_OK(netev_select(loop, l, 0, 0));
    CHECK_OK(netev_select(loop, l, ALL_BUT_WRITE, 0));
    EXPECT_NONE(loop);
    accept_one(loop, l);
    EXPECT_NONE(loop);
    util_close(c);
    util_close(l);
    netev_loop_free(loop);
}

/* A5 (native rule): a new arrival does not re-report an unconsumed ACCEPT;
 * A6: each accept re-reports while connections remain queued. */
TEST(a5_a6_arrival_and_accept)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, ALL_BUT_WRITE, 0));
    netev_socket c1 = util_connect(port);
    EXPECT(loop, l, NETEV_ACCEPT);
    netev_socket c2 = util_connect(port);
    EXPECT_NONE(loop); /* a program that is not accepting is not woken */
    accept_one(loop, l);
    EXPECT(loop, l, NETEV_ACCEPT); /* the second is still queued */
    accept_one(loop, l);
    EXPECT_NONE(loop);
    netev_socket c;
    CHECK_EQ(netev_accept(loop, l, &c, 0, 0), NETEV_EAGAIN);
    CHECK_EQ(c, NETEV_INVALID_SOCKET);
    EXPECT_NONE(loop);
    /* A7: a fresh connection after the queue emptied is reported */
    netev_socket c3 = util_connect(port);
    EXPECT(loop, l, NETEV_ACCEPT);
    accept_one(loop, l);
    EXPECT_NONE(loop);
    util_close(c1);
    util_close(c2);
    util_close(c3);
    util_close(l);
    netev_loop_free(loop);
}

/* A8: a connection queued before netev_select is reported at the next wait. */
TEST(a8_queued_before_select)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    netev_socket c = util_connect(port);
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT, 0));
    EXPECT(loop, l, NETEV_ACCEPT);
    accept_one(loop, l);
    EXPECT_NONE(loop);
    util_close(c);
    util_close(l);
    netev_loop_free(loop);
}

/* A10: recorded while not selected, reported once selected. */
TEST(a10_recorded_while_unselected)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, NETEV_READ | NETEV_CLOSE, 0));
    netev_socket c = util_connect(port);
    EXPECT_NONE(loop);
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT | NETEV_READ, 0));
    EXPECT(loop, l, NETEV_ACCEPT);
    accept_one(loop, l);
    util_close(c);
    util_close(l);
    netev_loop_free(loop);
}

/* A11: an accept while ACCEPT is not selected clears the latent record. */
TEST(a11_accept_clears_latent_record)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, NETEV_READ, 0));
    netev_socket c = util_connect(port);
    EXPECT_NONE(loop);
    accept_one(loop, l);
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT, 0));
    EXPECT_NONE(loop);
    util_close(c);
    util_close(l);
    netev_loop_free(loop);
}

/* A12/B4: the accepted socket is non-blocking, close-on-exec, not selected;
 * its first select reports WRITE only (never CONNECT). */
TEST(a12_accepted_socket)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, NETEV_ALL, 0));
    netev_socket c = util_connect(port);
    EXPECT(loop, l, NETEV_ACCEPT);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    netev_socket a;
    CHECK_OK(netev_accept(loop, l, &a, (struct sockaddr *)&peer, &len));
    CHECK_EQ(len, sizeof peer);
    CHECK_EQ(peer.sin_family, AF_INET);
    CHECK_EQ(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
    CHECK(util_is_nonblocking(a));
    CHECK(util_is_cloexec(a));
    EXPECT_NONE(loop); /* not selected: nothing reported for it */
    CHECK_OK(netev_select(loop, a, NETEV_ALL, 0));
    EXPECT(loop, a, NETEV_WRITE);
    EXPECT_NONE(loop);
    CHECK_OK(netev_close(loop, a));
    util_close(c);
    util_close(l);
    netev_loop_free(loop);
}

/* A connection the peer reset while it waited in the accept queue: accept
 * still returns it (Linux), and its first select must say it is gone, or the
 * program never learns and keeps the descriptor forever. */
TEST(a13_reset_before_accept)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT, 0));
    reset_while_queued(loop, l, port);
    netev_socket a;
    CHECK_OK(netev_accept(loop, l, &a, 0, 0));
    CHECK_OK(netev_select(loop, a, NETEV_ALL, 0));
    netev_event e = EXPECT(loop, a, NETEV_CLOSE);
    if (!util_wine_differs(WINE_F7_RESET_AS_FIN))
        CHECK_EQ(e.error[NETEV_CLOSE_BIT], NETEV_ECONNRESET);
    EXPECT_NONE(loop);
    CHECK_OK(netev_close(loop, a));
    util_close(l);
    netev_loop_free(loop);
}

/* netev_accept_select: accept and select in one call; the new socket reports
 * as a selected accepted socket does (WRITE, data already there), with its udata. */
TEST(accept_select)
{
    netev_loop *loop = util_loop();
    int port, tag;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT, 0));
    netev_socket out;
    CHECK_EQ(netev_accept_select(loop, l, NETEV_ALL, &tag, &out, 0, 0), NETEV_EAGAIN);
    netev_socket c = util_connect(port);
    EXPECT(loop, l, NETEV_ACCEPT);
    CHECK_EQ(netev_accept_select(loop, l, 0x40, &tag, &out, 0, 0), NETEV_EINVAL); /* nothing taken */
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    CHECK_OK(netev_accept_select(loop, l, NETEV_READ | NETEV_WRITE | NETEV_CLOSE, &tag, &out,
                                 (struct sockaddr *)&peer, &len));
    CHECK_EQ(peer.sin_family, AF_INET);
    CHECK(util_is_nonblocking(out));
    CHECK(util_is_cloexec(out));
    util_send_all(c, "hi", 2);
    util_sleep_ms(20);
    netev_event e = EXPECT(loop, out, NETEV_WRITE | NETEV_READ);
    CHECK(e.udata == &tag);
    char buf[4];
    CHECK_EQ(netev_recv(loop, out, buf, sizeof buf, 0), 2);
    util_close(c);
    EXPECT(loop, out, NETEV_CLOSE);
    CHECK_OK(netev_close(loop, out));
    CHECK_OK(netev_close(loop, l));
    netev_loop_free(loop);
}

/* A connection reset while queued and taken with netev_accept_select reports its reset. */
TEST(accept_select_reset_before_accept)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT, 0));
    reset_while_queued(loop, l, port);
    netev_socket a;
    CHECK_OK(netev_accept_select(loop, l, NETEV_ALL, 0, &a, 0, 0));
    netev_event e = EXPECT(loop, a, NETEV_WRITE | NETEV_CLOSE); /* Windows' F8: WRITE and the reset */
    if (!util_wine_differs(WINE_F7_RESET_AS_FIN))
        CHECK_EQ(e.error[NETEV_CLOSE_BIT], NETEV_ECONNRESET);
    EXPECT_NONE(loop);
    CHECK_OK(netev_close(loop, a));
    util_close(l);
    netev_loop_free(loop);
}

/* A burst of connections is accepted completely, one accept per report. */
TEST(burst_accepted_one_per_report)
{
    enum { N = 50 };
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    netev_socket cs[N];
    connect_clients(port, cs, N);
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT, 0));
    for (int i = 0; i < N; i++) {
        EXPECT(loop, l, NETEV_ACCEPT);
        accept_one(loop, l);
    }
    EXPECT_NONE(loop);
    close_clients(cs, N);
    util_close(l);
    netev_loop_free(loop);
}

/* netev_recorded after each accept of a queued burst: ACCEPT while another
 * connection waits, nothing after the last, and no ACCEPT reported later. */
TEST(recorded_tells_when_the_queue_is_empty)
{
    enum { N = 5 };
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    netev_socket cs[N];
    connect_clients(port, cs, N);
    CHECK_EQ(netev_recorded(loop, l), NETEV_EBADF); /* not tracked yet */
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT, 0));
    EXPECT(loop, l, NETEV_ACCEPT);
    CHECK_EQ(netev_recorded(loop, l), 0); /* just reported */
    for (int i = 0; i < N; i++) {
        accept_one(loop, l);
        CHECK_EQ(netev_recorded(loop, l), i < N - 1 ? NETEV_ACCEPT : 0);
    }
    EXPECT_NONE(loop);
    netev_socket late = util_connect(port);
    EXPECT(loop, l, NETEV_ACCEPT);
    accept_one(loop, l);
    CHECK_EQ(netev_recorded(loop, l), 0);
    CHECK_EQ(netev_recorded(0, l), NETEV_EINVAL);
    util_close(late);
    close_clients(cs, N);
    util_close(l);
    netev_loop_free(loop);
}

/* A socket selected before listen() (Windows allows it), then a client:
 * ACCEPT once.  reselect: netev_select again after listen(). */
static void listen_after_select(int reselect)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_bound(SOCK_STREAM, &port);
    CHECK_OK(netev_select(loop, l, ALL_BUT_WRITE, 0));
    EXPECT_NONE(loop); /* an unconnected socket has nothing to report */
    CHECK(listen(l, 16) == 0);
    if (reselect)
        CHECK_OK(netev_select(loop, l, ALL_BUT_WRITE, 0));
    netev_socket c = util_connect(port);
    EXPECT(loop, l, NETEV_ACCEPT);
    accept_one(loop, l);
    EXPECT_NONE(loop);
    util_close(c);
    CHECK_OK(netev_close(loop, l));
    netev_loop_free(loop);
}

/* Selecting it again after listen() makes it a listener on every backend. */
TEST(selected_before_listen)
{
    listen_after_select(1);
}

/* Without selecting again: epoll and Windows see the first connection
 * arrive; poll never watches an unconnected socket (its HUP would wake every
 * wait), so there the second select is needed. */
TEST(selected_before_listen_noticed)
{
    if (strcmp(util_backend(), "poll") == 0) {
        printf("  skipped: the poll backend needs netev_select again after listen()\n");
        return;
    }
    listen_after_select(0);
}

TEST(accept_bad_calls)
{
    netev_loop *loop = util_loop();
    netev_socket c, s;
    util_pair(&c, &s);
    netev_socket out;
    CHECK_EQ(netev_accept(loop, s, &out, 0, 0), NETEV_EINVAL); /* not a listener */
    CHECK_EQ(netev_accept(loop, s, 0, 0, 0), NETEV_EINVAL);
    struct sockaddr_in a;
    CHECK_EQ(netev_accept(loop, s, &out, (struct sockaddr *)&a, 0), NETEV_EINVAL);
    CHECK_EQ(netev_accept(0, s, &out, 0, 0), NETEV_EINVAL);
    netev_socket ns = util_not_a_socket();
    CHECK_EQ(netev_accept(loop, ns, &out, 0, 0), NETEV_ENOTSOCK);
    util_close_not_a_socket(ns);
    CHECK_EQ(netev_accept(loop, util_unused_socket_number(), &out, 0, 0), NETEV_EBADF);
    util_close(c);
    util_close(s);
    netev_loop_free(loop);
}

RUN_TESTS(CASE(a1_a2_reported_once), CASE(a3_a4_reselect_does_not_rereport), CASE(a5_a6_arrival_and_accept),
          CASE(a8_queued_before_select), CASE(a10_recorded_while_unselected),
          CASE(a11_accept_clears_latent_record), CASE(a12_accepted_socket), CASE(a13_reset_before_accept), CASE(accept_select),
          CASE(accept_select_reset_before_accept), CASE(burst_accepted_one_per_report),
          CASE(recorded_tells_when_the_queue_is_empty), CASE(selected_before_listen),
          CASE(selected_before_listen_noticed), CASE(accept_bad_calls))
