/* READ: a level event re-enabled by netev_recv (design.md, research §5 D). */
#include "util.h"

#define NO_WRITE (NETEV_ACCEPT | NETEV_READ | NETEV_OOB | NETEV_CONNECT | NETEV_CLOSE)

/* D1, D2: nothing without data; data is reported once; re-selecting does not re-report. */
TEST(d1_d2_reported_once)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    EXPECT_NONE(f.loop);
    util_send_all(f.c, "hello", 5);
    EXPECT(f.loop, f.s, NETEV_READ);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, &f));
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, 0, &f));
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, &f));
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* D3 (native rule): new data does not re-report an unconsumed READ.
 * D4: a recv that leaves data re-reports READ; one that empties the queue does not. */
TEST(d3_d4_new_data_and_partial_recv)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "hello", 5);
    EXPECT(f.loop, f.s, NETEV_READ);
    util_send_all(f.c, "world", 5);
    EXPECT_NONE(f.loop);
    char buf[64];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, 2, 0), 2);
    EXPECT(f.loop, f.s, NETEV_READ);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 8);
    CHECK(memcmp(buf, "lloworld", 8) == 0);
    EXPECT_NONE(f.loop);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), NETEV_EAGAIN);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* D6: one-byte reads re-report until the queue is empty. */
TEST(d6_one_byte_reads)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "abcdefgh", 8);
    EXPECT(f.loop, f.s, NETEV_READ);
    for (int i = 0; i < 8; i++) {
        char ch;
        CHECK_EQ(netev_recv(f.loop, f.s, &ch, 1, 0), 1);
        CHECK_EQ(ch, "abcdefgh"[i]);
        if (i < 7)
            EXPECT(f.loop, f.s, NETEV_READ);
        else
            EXPECT_NONE(f.loop);
    }
    util_fixture_free(&f);
}

/* D5: a recv with invalid arguments does not re-enable READ. */
TEST(d5_invalid_recv_does_not_reenable)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "hello", 5);
    EXPECT(f.loop, f.s, NETEV_READ);
    CHECK_EQ(netev_recv(f.loop, f.s, NULL, 10, 0), NETEV_EINVAL);
    char buf[8];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0x40000000), NETEV_EINVAL);
    util_send_all(f.c, "more", 4);
    EXPECT_NONE(f.loop);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, 1, 0), 1);
    EXPECT(f.loop, f.s, NETEV_READ);
    util_fixture_free(&f);
}

/* D7: data recorded while the mask is 0 is reported once selected again.
 * D8: data consumed meanwhile is not. */
TEST(d7_d8_recorded_while_mask_zero)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    CHECK_OK(netev_select(f.loop, f.s, 0, &f));
    util_send_all(f.c, "abc", 3);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, &f));
    EXPECT(f.loop, f.s, NETEV_READ);
    char buf[16];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 3);
    /* D8 */
    CHECK_OK(netev_select(f.loop, f.s, 0, &f));
    util_send_all(f.c, "def", 3);
    util_sleep_ms(20);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 3);
    CHECK_OK(netev_select(f.loop, f.s, NO_WRITE, &f));
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* D9: READ recorded while not selected is reported, merged with a never-reported WRITE. */
TEST(d9_unselected_read_kept)
{
    util_fixture f = util_fixture_new(NETEV_CLOSE);
    util_send_all(f.c, "x", 1);
    EXPECT_NONE(f.loop);
    CHECK_OK(netev_select(f.loop, f.s, NETEV_READ | NETEV_WRITE, &f));
    EXPECT(f.loop, f.s, NETEV_READ | NETEV_WRITE);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* Data queued before the first netev_select is reported at the next wait. */
TEST(data_before_select)
{
    netev_loop *loop = util_loop();
    netev_socket c, s;
    util_pair(&c, &s);
    util_send_all(c, "early", 5);
    util_sleep_ms(10);
    CHECK_OK(netev_select(loop, s, NO_WRITE, 0));
    EXPECT(loop, s, NETEV_READ);
    CHECK_OK(netev_close(loop, s));
    util_close(c);
    netev_loop_free(loop);
}

/* Back-pressure: a program that does not read is not woken, however much arrives. */
TEST(not_reading_is_not_woken)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "first", 5);
    EXPECT(f.loop, f.s, NETEV_READ);
    static char chunk[1000];
    for (int i = 0; i < 100; i++) {
        util_send_all(f.c, chunk, sizeof chunk);
        util_sleep_ms(1);
    }
    EXPECT_IDLE(f.loop, 300); /* blocked, not spinning */
    /* Reading once brings READ back, and the data is all there. */
    char buf[4096];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), sizeof buf);
    EXPECT(f.loop, f.s, NETEV_READ);
    util_fixture_free(&f);
}

/* After a recv that emptied the queue, new data is reported again. */
TEST(new_data_after_drain)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    char buf[64];
    for (int round = 0; round < 20; round++) {
        util_send_all(f.c, "ping", 4);
        EXPECT(f.loop, f.s, NETEV_READ);
        CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 4);
        EXPECT_NONE(f.loop);
    }
    util_fixture_free(&f);
}

/* A peek consumes nothing: READ is reported again. */
TEST(peek_rereports)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "peek", 4);
    EXPECT(f.loop, f.s, NETEV_READ);
    char buf[64];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, NETEV_MSG_PEEK), 4);
    EXPECT(f.loop, f.s, NETEV_READ);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 4);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* A large stream read with small buffers arrives complete and in order. */
TEST(large_stream_in_order)
{
    enum { TOTAL = 4 << 20 };
    util_fixture f = util_fixture_new(NETEV_READ | NETEV_CLOSE);
    unsigned char *src = malloc(TOTAL), *dst = malloc(TOTAL + 1); /* +1: room to notice extra bytes */
    CHECK(src && dst);
    for (size_t i = 0; i < TOTAL; i++)
        src[i] = (unsigned char)(i * 7 + (i >> 13));
    size_t sent = 0, got = 0;
    int closed = 0;
    util_set_blocking(f.c, 0);
    netev_event out[4];
    while (!closed) {
        if (sent < TOTAL) {
            ptrdiff_t n = netev_send(f.loop, f.c, src + sent, TOTAL - sent, 0);
            if (n > 0)
                sent += (size_t)n;
            if (sent == TOTAL)
                shutdown(f.c, 1 /* write side */);
        }
        int n = netev_wait(f.loop, out, 4, 2000 * util_slow());
        CHECK(n > 0);
        CHECK_EQ(out[0].sock, f.s);
        if (out[0].events & NETEV_READ) {
            ptrdiff_t r = netev_recv(f.loop, f.s, dst + got, 16384 < TOTAL - got ? 16384 : TOTAL - got, 0);
            CHECK(r > 0 || r == NETEV_EAGAIN);
            if (r > 0)
                got += (size_t)r;
        }
        if (out[0].events & NETEV_CLOSE) {
            /* CLOSE may come with data still unread: read until recv returns 0 */
            ptrdiff_t r;
            while ((r = netev_recv(f.loop, f.s, dst + got, TOTAL - got + 1, 0)) > 0)
                got += (size_t)r;
            CHECK_EQ(r, 0);
            closed = 1;
        }
    }
    CHECK_EQ(got, TOTAL);
    CHECK(memcmp(src, dst, TOTAL) == 0);
    free(src);
    free(dst);
    util_fixture_free(&f);
}

/* A recv into an empty buffer takes nothing: READ comes back while data is left. */
TEST(zero_length_recv_keeps_read)
{
    util_fixture f = util_fixture_new(NO_WRITE);
    util_send_all(f.c, "hello", 5);
    EXPECT(f.loop, f.s, NETEV_READ);
    char buf[8];
    CHECK_EQ(netev_recv(f.loop, f.s, buf, 0, 0), 0);
    EXPECT(f.loop, f.s, NETEV_READ);
    CHECK_EQ(netev_recv(f.loop, f.s, buf, sizeof buf, 0), 5);
    EXPECT_NONE(f.loop);
    util_fixture_free(&f);
}

/* Datagrams: one per recv, an empty one included; READ comes back while any is queued. */
TEST(datagrams_one_per_recv)
{
    netev_loop *loop = util_loop();
    int port, other;
    netev_socket u = util_bound(SOCK_DGRAM, &port);
    netev_socket v = util_bound(SOCK_DGRAM, &other);
    CHECK_OK(netev_select(loop, u, NO_WRITE, 0));
    struct sockaddr_storage to;
    socklen_t len;
    util_loopback(AF_INET, port, &to, &len);
    CHECK(sendto(v, "", 0, 0, (struct sockaddr *)&to, len) == 0);
    CHECK(sendto(v, "abc", 3, 0, (struct sockaddr *)&to, len) == 3);
    CHECK(sendto(v, "de", 2, 0, (struct sockaddr *)&to, len) == 2);
    util_sleep_ms(20);
    char buf[64];
    EXPECT(loop, u, NETEV_READ);
    CHECK_EQ(netev_recv(loop, u, buf, sizeof buf, 0), 0);
    EXPECT(loop, u, NETEV_READ);
    CHECK_EQ(netev_recv(loop, u, buf, sizeof buf, 0), 3);
    EXPECT(loop, u, NETEV_READ);
    CHECK_EQ(netev_recv(loop, u, buf, sizeof buf, 0), 2);
    EXPECT_NONE(loop);
    CHECK_OK(netev_close(loop, u));
    util_close(v);
    netev_loop_free(loop);
}

#ifndef _WIN32
#include <sys/socket.h>
#include <unistd.h>
/* The peer sends two messages, 3 and 2 bytes: each takes a READ and a recv. */
static void two_messages_one_per_recv(netev_loop *loop, int peer, netev_socket s)
{
    CHECK(send(peer, "abc", 3, 0) == 3);
    CHECK(send(peer, "de", 2, 0) == 2);
    char buf[64];
    EXPECT(loop, s, NETEV_READ);
    CHECK_EQ(netev_recv(loop, s, buf, sizeof buf, 0), 3);
    EXPECT(loop, s, NETEV_READ);
    CHECK_EQ(netev_recv(loop, s, buf, sizeof buf, 0), 2);
    EXPECT_NONE(loop);
}

/* A connection that keeps message boundaries: each recv takes one message,
 * however short, so READ comes back while another is queued. */
TEST(seqpacket_one_message_per_recv)
{
    netev_loop *loop = util_loop();
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    CHECK_OK(netev_select(loop, sv[0], NO_WRITE, 0));
    two_messages_one_per_recv(loop, sv[1], sv[0]);
    CHECK_OK(netev_close(loop, sv[0]));
    close(sv[1]);
    netev_loop_free(loop);
}

/* An empty message is a message too: READ comes back for it, and after it
 * for the next; the end of the stream is CLOSE, not READ. */
TEST(seqpacket_empty_messages)
{
    netev_loop *loop = util_loop();
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    CHECK_OK(netev_select(loop, sv[0], NO_WRITE, 0));
    CHECK(send(sv[1], "abc", 3, 0) == 3);
    CHECK(send(sv[1], "", 0, 0) == 0);
    CHECK(send(sv[1], "de", 2, 0) == 2);
    CHECK(send(sv[1], "", 0, 0) == 0);
    char buf[64];
    EXPECT(loop, sv[0], NETEV_READ);
    CHECK_EQ(netev_recv(loop, sv[0], buf, sizeof buf, 0), 3);
    EXPECT(loop, sv[0], NETEV_READ);
    CHECK_EQ(netev_recv(loop, sv[0], buf, sizeof buf, 0), 0);
    EXPECT(loop, sv[0], NETEV_READ);
    CHECK_EQ(netev_recv(loop, sv[0], buf, sizeof buf, 0), 2);
    EXPECT(loop, sv[0], NETEV_READ);
    CHECK_EQ(netev_recv(loop, sv[0], buf, sizeof buf, 0), 0);
    EXPECT_NONE(loop);
    /* read to the end before the wait hears of it: still no READ for the end */
    CHECK(send(sv[1], "f", 1, 0) == 1);
    close(sv[1]);
    CHECK_EQ(netev_recv(loop, sv[0], buf, sizeof buf, 0), 1);
    CHECK_EQ(netev_recv(loop, sv[0], buf, sizeof buf, 0), 0);
    EXPECT(loop, sv[0], NETEV_CLOSE);
    CHECK_EQ(netev_recv(loop, sv[0], buf, sizeof buf, 0), 0);
    EXPECT_NONE(loop);
    CHECK_OK(netev_close(loop, sv[0]));
    netev_loop_free(loop);
}

/* The same for a message connection taken with netev_accept_select, which
 * knows the new socket's state without asking it: one message per recv there
 * too, and READ back at once while another is queued. */
#include <stdio.h>
#include <sys/un.h>
TEST(seqpacket_accept_select_one_message_per_recv)
{
    netev_loop *loop = util_loop();
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "/tmp/netev-t_read-%ld.sock", (long)getpid());
    unlink(a.sun_path);
    int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    CHECK(l >= 0);
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(l, 8) == 0);
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT, 0));
    int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    CHECK(c >= 0);
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    EXPECT(loop, l, NETEV_ACCEPT);
    netev_socket s;
    CHECK_OK(netev_accept_select(loop, l, NO_WRITE, 0, &s, 0, 0));
    two_messages_one_per_recv(loop, c, s);
    CHECK_OK(netev_close(loop, s));
    close(c);
    /* a listener the loop does not track: the new socket is asked */
    CHECK_OK(netev_forget(loop, l));
    c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    CHECK(c >= 0);
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK_OK(netev_accept_select(loop, l, NO_WRITE, 0, &s, 0, 0));
    two_messages_one_per_recv(loop, c, s);
    CHECK_OK(netev_close(loop, s));
    CHECK_OK(netev_close(loop, l));
    close(c);
    unlink(a.sun_path);
    netev_loop_free(loop);
}
#define SEQPACKET_CASE CASE(seqpacket_one_message_per_recv), CASE(seqpacket_empty_messages), CASE(seqpacket_accept_select_one_message_per_recv),
#else
#define SEQPACKET_CASE
#endif

RUN_TESTS(CASE(d1_d2_reported_once), CASE(d3_d4_new_data_and_partial_recv), CASE(d6_one_byte_reads),
          CASE(d5_invalid_recv_does_not_reenable), CASE(d7_d8_recorded_while_mask_zero),
          CASE(d9_unselected_read_kept), CASE(data_before_select), CASE(not_reading_is_not_woken),
          CASE(new_data_after_drain), CASE(peek_rereports), CASE(zero_length_recv_keeps_read),
          CASE(datagrams_one_per_recv), SEQPACKET_CASE CASE(large_stream_in_order))
