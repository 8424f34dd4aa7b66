/* The session module's promises (include/netev/session.h), with real sockets
 * on 127.0.0.1: the server side runs an echo through the session calls, the
 * client side is a plain socket the test drives by hand. */
#define _GNU_SOURCE
#include "netev/session.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>

#define BIG (4 << 20)
#define HUGE (64 << 20) /* more than loopback buffers hold */

typedef struct server {
    netev_loop *loop;
    netev_sessions *tab;
    netev_socket listener;
    int port;
    netev_socket session; /* the one session, or -1 */
    int ended;            /* why it ended, once it has */
    int has_ended;
    char buf[65536];
    /* The records live as long as the loop: netev_close may mark the last batch's records. */
    netev_event ev[16];
} server;

/* Set by the *_batched cases: server_pump reads through netev_session_recv_batch. */
static int pump_batched;

static void server_open(server *sv, size_t max_pending)
{
    memset(sv, 0, sizeof *sv);
    sv->loop = util_loop();
    sv->tab = netev_sessions_new(sv->loop, max_pending);
    CHECK(sv->tab != NULL);
    CHECK_OK(netev_listener_open(sv->loop, "127.0.0.1", 0, sv, &sv->listener));
    sv->port = netev_listener_port(sv->listener);
    CHECK(sv->port > 0);
    sv->session = -1;
}

static void server_close(server *sv)
{
    netev_sessions_free(sv->tab);
    netev_close(sv->loop, sv->listener);
    netev_loop_free(sv->loop);
}

/* netev_session_recv through a batch of one request. */
static ptrdiff_t recv_one_batched(server *sv, netev_event *ev)
{
    netev_session_recv_req r = {ev, sv->buf, sizeof sv->buf, 12345};
    CHECK_EQ(netev_session_recv_batch(sv->tab, &r, 1), 1);
    CHECK(r.result != 12345);
    return r.result;
}

/* One netev_wait batch, dispatched as echod does. */
static void server_pump(server *sv, int timeout_ms)
{
    netev_event *ev = sv->ev;
    int n = netev_wait(sv->loop, ev, 16, timeout_ms);
    CHECK(n >= 0);
    for (int i = 0; i < n; i++) {
        if (!ev[i].events)
            continue;
        if (ev[i].sock == sv->listener) {
            CHECK(ev[i].udata == sv);
            CHECK_OK(netev_session_accept(sv->tab, sv->listener, sv, &sv->session, 0, 0));
            continue;
        }
        CHECK(ev[i].udata == sv);
        ptrdiff_t r = netev_session_ready(sv->tab, &ev[i]);
        while (r >= 0 && (r = pump_batched ? recv_one_batched(sv, &ev[i])
                                           : netev_session_recv(sv->tab, &ev[i], sv->buf, sizeof sv->buf)) > 0)
            r = netev_session_send(sv->tab, ev[i].sock, sv->buf, (size_t)r);
        if (r < 0) {
            sv->ended = (int)r;
            sv->has_ended = 1;
            sv->session = -1;
        }
    }
}

static netev_socket client_connect(server *sv, int rcvbuf)
{
    size_t before = netev_sessions_count(sv->tab);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(c >= 0);
    if (rcvbuf)
        CHECK(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sv->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
    long long end = util_now_us() + 2000000LL * util_slow();
    while (sv->session < 0 && util_now_us() < end)
        server_pump(sv, 10);
    CHECK(sv->session >= 0);
    CHECK_EQ(netev_sessions_count(sv->tab), before + 1);
    if (rcvbuf) /* small buffers both ways: sends fall short soon */
        CHECK(setsockopt(sv->session, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof rcvbuf) == 0);
    util_set_blocking(c, 0);
    return c;
}

static unsigned char pattern_byte(size_t i) { return (unsigned char)(i * 131 + (i >> 12)); }

/* Client side: sends what the socket takes of src[*sent, total), reads what has come back. */
static void client_pump(netev_socket c, size_t total, size_t *sent, size_t *got, int reading)
{
    static unsigned char chunk[65536];
    if (*sent < total) {
        size_t n = total - *sent < sizeof chunk ? total - *sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern_byte(*sent + i);
        ssize_t k = send(c, chunk, n, MSG_NOSIGNAL);
        if (k > 0)
            *sent += (size_t)k;
        else
            CHECK(errno == EAGAIN);
    }
    while (reading) {
        ssize_t k = recv(c, chunk, sizeof chunk, 0);
        if (k <= 0) {
            CHECK(k == 0 || errno == EAGAIN); /* EOF stays: the caller checks for it */
            break;
        }
        for (ssize_t i = 0; i < k; i++)
            if (chunk[i] != pattern_byte(*got + (size_t)i))
                check_fail(__FILE__, __LINE__, "echo differs at byte %zu", *got + (size_t)i);
        *got += (size_t)k;
    }
}

/* Client side reads, server side pumps, until the echo stream (got bytes in
 * already) has reached want bytes (5 s at most). */
static void drain_echo(server *sv, netev_socket c, size_t got, size_t want)
{
    size_t sent = 0;
    long long end = util_now_us() + 5000000LL * util_slow();
    while (got < want && util_now_us() < end) {
        client_pump(c, 0, &sent, &got, 1);
        server_pump(sv, 1);
    }
    CHECK_EQ(got, want);
}

/* BIG + 20 bytes of the pattern the client checks. */
static const unsigned char *pattern_bytes(void)
{
    static unsigned char big[BIG + 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = pattern_byte(i);
    return big;
}

/* The steady state: everything goes at once, nothing is kept. */
TEST(steady_state_keeps_nothing)
{
    server sv;
    server_open(&sv, 1 << 20);
    netev_socket c = client_connect(&sv, 0);
    size_t sent = 0, got = 0;
    long long end = util_now_us() + 2000000LL * util_slow();
    while (got < 100000 && util_now_us() < end) {
        client_pump(c, 100000, &sent, &got, 1);
        server_pump(&sv, 5);
        CHECK_EQ(netev_session_pending(sv.tab, sv.session), 0);
    }
    CHECK_EQ(got, 100000);
    util_close(c);
    server_close(&sv);
}

/* A send that falls short keeps the rest; later sends queue behind it; WRITE sends it. */
TEST(partial_send_keeps_order)
{
    server sv;
    server_open(&sv, 64 << 20);
    netev_socket c = client_connect(&sv, 4096);
    const unsigned char *big = pattern_bytes();
    ptrdiff_t n = netev_session_send(sv.tab, sv.session, big, BIG - 1000);
    CHECK(n >= 0 && n < BIG - 1000);
    CHECK_EQ(netev_session_pending(sv.tab, sv.session), BIG - 1000 - n);
    CHECK_EQ(netev_session_send(sv.tab, sv.session, big + BIG - 1000, 1000), 0); /* queued, in order */
    CHECK_EQ(netev_session_pending(sv.tab, sv.session), BIG - n);
    drain_echo(&sv, c, 0, BIG);
    CHECK_EQ(netev_session_pending(sv.tab, sv.session), 0);
    util_close(c);
    server_close(&sv);
}

/* netev_session_send_batch: each request gets netev_session_send's result;
 * a short send keeps the rest and the session's later requests queue behind
 * it, in order; requests for no session or without a buffer fail alone. */
TEST(send_batch_keeps_order)
{
    server sv;
    server_open(&sv, 64 << 20);
    netev_socket c = client_connect(&sv, 4096);
    const unsigned char *big = pattern_bytes();
    netev_send_req r[] = {{sv.session, big, BIG - 1000, 0, 0}, {util_unused_socket_number(), "x", 1, 0, 0},
                          {sv.session, big + BIG - 1000, 500, 0, 0}, {sv.session, NULL, 4, 0, 0},
                          {sv.session, big + BIG - 500, 500, 0, 0}};
    CHECK_EQ(netev_session_send_batch(NULL, r, 5), NETEV_EINVAL);
    CHECK_EQ(netev_session_send_batch(sv.tab, r, -1), NETEV_EINVAL);
    CHECK_EQ(netev_session_send_batch(sv.tab, NULL, 1), NETEV_EINVAL);
    CHECK_EQ(netev_session_send_batch(sv.tab, r, 5), 5);
    CHECK(r[0].result >= 0 && r[0].result < BIG - 1000);
    CHECK_EQ(r[1].result, NETEV_EBADF);
    CHECK_EQ(r[2].result, 0); /* queued behind the rest of the first */
    CHECK_EQ(r[3].result, NETEV_EINVAL);
    CHECK_EQ(r[4].result, 0);
    CHECK_EQ(netev_session_pending(sv.tab, sv.session), BIG - r[0].result);
    drain_echo(&sv, c, 0, BIG);
    /* Nothing pending: both go at once. */
    netev_send_req q[] = {{sv.session, big + BIG, 10, 0, 0}, {sv.session, big + BIG + 10, 10, 0, 0}};
    CHECK_EQ(netev_session_send_batch(sv.tab, q, 2), 2);
    CHECK_EQ(q[0].result, 10);
    CHECK_EQ(q[1].result, 10);
    CHECK_EQ(netev_session_pending(sv.tab, sv.session), 0);
    drain_echo(&sv, c, BIG, BIG + 20);
    util_close(c);
    server_close(&sv);
}

/* Back-pressure: at max_pending the session stops reading, so a client that
 * does not read is stopped by TCP; once it reads, everything is echoed. */
TEST(back_pressure_bounds_the_backlog)
{
    enum { MAX = 65536 };
    server sv;
    server_open(&sv, MAX);
    netev_socket c = client_connect(&sv, 4096);
    size_t sent = 0, got = 0, last = (size_t)-1;
    long long end = util_now_us() + 5000000LL * util_slow();
    /* Send without reading until the client cannot send any more. */
    while (sent != last && util_now_us() < end) {
        last = sent;
        for (int i = 0; i < 20; i++) {
            client_pump(c, HUGE, &sent, &got, 0);
            server_pump(&sv, 5);
            ptrdiff_t p = netev_session_pending(sv.tab, sv.session);
            CHECK(p >= 0 && p <= MAX);
        }
    }
    CHECK(sent < HUGE);
    CHECK_EQ(netev_session_pending(sv.tab, sv.session), MAX);
    /* The client reads: reading resumes and every byte comes back. */
    size_t total = sent;
    while (got < total && util_now_us() < end) {
        client_pump(c, total, &sent, &got, 1);
        server_pump(&sv, 1);
    }
    CHECK_EQ(got, total);
    util_close(c);
    server_close(&sv);
}

/* The peer's FIN behind a backlog: the session ends (NETEV_SESSION_DONE)
 * only once everything went back, and the client then sees EOF. */
TEST(fin_after_backlog)
{
    server sv;
    server_open(&sv, 100000);
    netev_socket c = client_connect(&sv, 4096);
    size_t sent = 0, got = 0;
    long long end = util_now_us() + 5000000LL * util_slow();
    while (sent < (1 << 20) && util_now_us() < end) {
        client_pump(c, 1 << 20, &sent, &got, 0);
        server_pump(&sv, 1);
    }
    CHECK(sent == (1 << 20) || got > 0); /* with back-pressure the client may have to read first */
    while (sent < (1 << 20) && util_now_us() < end) {
        client_pump(c, 1 << 20, &sent, &got, 1);
        server_pump(&sv, 1);
    }
    CHECK_EQ(sent, 1 << 20);
    CHECK(netev_session_pending(sv.tab, sv.session) > 0); /* the FIN comes behind a backlog */
    CHECK(shutdown(c, SHUT_WR) == 0);
    for (int i = 0; i < 20; i++)
        server_pump(&sv, 5);
    while (!sv.has_ended && util_now_us() < end) {
        client_pump(c, 1 << 20, &sent, &got, 1);
        server_pump(&sv, 1);
    }
    CHECK(sv.has_ended);
    CHECK_EQ(sv.ended, NETEV_SESSION_DONE);
    CHECK_EQ(netev_sessions_count(sv.tab), 0);
    while (got < (1 << 20) && util_now_us() < end)
        client_pump(c, 1 << 20, &sent, &got, 1);
    CHECK_EQ(got, 1 << 20);
    util_set_blocking(c, 1);
    char b;
    CHECK_EQ(recv(c, &b, 1, 0), 0);
    util_close(c);
    server_close(&sv);
}

/* A reset ends the session at once, with the reset as the reason. */
TEST(reset_ends_at_once)
{
    server sv;
    server_open(&sv, 1 << 20);
    netev_socket c = client_connect(&sv, 4096);
    size_t sent = 0, got = 0;
    for (int i = 0; i < 50; i++) {
        client_pump(c, BIG, &sent, &got, 0);
        server_pump(&sv, 1);
    }
    netev_socket s = sv.session;
    util_rst(c);
    long long end = util_now_us() + 2000000LL * util_slow();
    while (!sv.has_ended && util_now_us() < end)
        server_pump(&sv, 10);
    CHECK(sv.has_ended);
    CHECK(sv.ended == NETEV_ECONNRESET || sv.ended == NETEV_EPIPE);
    CHECK_EQ(netev_sessions_count(sv.tab), 0);
    CHECK_EQ(netev_session_pending(sv.tab, s), NETEV_EBADF);
    server_close(&sv);
}

/* netev_sessions_free closes what is still open; bad calls are refused. */
TEST(free_closes_sessions_and_bad_calls)
{
    server sv;
    server_open(&sv, 1 << 20);
    netev_socket c = client_connect(&sv, 0);
    netev_socket s = sv.session;
    CHECK_EQ(netev_session_send(sv.tab, sv.listener, "x", 1), NETEV_EBADF); /* not a session */
    CHECK_EQ(netev_session_close(sv.tab, 100000), NETEV_EBADF);
    CHECK_EQ(netev_session_pending(sv.tab, -1), NETEV_EBADF);
    CHECK(netev_sessions_new(sv.loop, 0) == NULL);
    /* Bad arguments are refused and end nothing. */
    netev_event ev = {.sock = s, .events = NETEV_READ};
    char one;
    CHECK_EQ(netev_session_recv(sv.tab, &ev, &one, 0), NETEV_EINVAL);
    CHECK_EQ(netev_session_recv(sv.tab, &ev, NULL, 1), NETEV_EINVAL);
    CHECK_EQ(netev_session_recv(sv.tab, NULL, &one, 1), NETEV_EINVAL);
    CHECK_EQ(netev_session_ready(sv.tab, NULL), NETEV_EINVAL);
    CHECK_EQ(netev_session_send(sv.tab, s, NULL, 1), NETEV_EINVAL);
    CHECK_EQ(netev_sessions_count(sv.tab), 1);
    CHECK_OK(netev_session_send(sv.tab, s, "abc", 3));
    netev_sessions_free(sv.tab);
    CHECK(fcntl(s, F_GETFD) < 0 && errno == EBADF);
    util_set_blocking(c, 1);
    char b[4];
    CHECK_EQ(recv(c, b, 4, MSG_WAITALL), 3);
    CHECK_EQ(recv(c, b, 1, 0), 0);
    util_close(c);
    netev_close(sv.loop, sv.listener);
    netev_loop_free(sv.loop);
}

TEST(listener_addresses)
{
    netev_loop *loop = util_loop();
    netev_socket l;
    const char *bad[] = {"1.2.3", "localhost", "[::1", "::1]", "300.0.0.1", "", "127.0.0.1%lo", "fe80::1%",
                         "fe80::1%no-such-if0", "fe80::1%12x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ(netev_listener_open(loop, bad[i], 0, 0, &l), NETEV_EINVAL);
        CHECK_EQ(l, NETEV_INVALID_SOCKET);
        struct sockaddr_storage ss;
        socklen_t len;
        CHECK_EQ(netev_listener_address(bad[i], 0, &ss, &len), NETEV_EINVAL);
        CHECK_EQ(netev_listener_probe(bad[i], 0), NETEV_EINVAL);
    }
    CHECK_EQ(netev_listener_open(loop, "127.0.0.1", 70000, 0, &l), NETEV_EINVAL);
    CHECK_OK(netev_listener_open(loop, "127.0.0.1", 0, 0, &l));
    int port = netev_listener_port(l);
    CHECK(port > 0);
    netev_socket l2;
    CHECK_EQ(netev_listener_open(loop, "127.0.0.1", port, 0, &l2), NETEV_EADDRINUSE);
    CHECK_OK(netev_close(loop, l));
    int r = netev_listener_open(loop, "[::1]", 0, 0, &l);
    if (r != NETEV_EADDRNOTAVAIL && r != NETEV_EAFNOSUPPORT) { /* else: no IPv6 here */
        CHECK_OK(r);
        CHECK(netev_listener_port(l) > 0);
        CHECK_OK(netev_close(loop, l));
    }
    netev_loop_free(loop);
}

/* What netev_listener_address makes of an address, and that it tells a bad
 * address from a bind that refuses a good one with NETEV_EINVAL. */
TEST(listener_address_parsing)
{
    struct sockaddr_storage ss;
    socklen_t len;
    CHECK_OK(netev_listener_address(NULL, 7, &ss, &len));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    CHECK(ss.ss_family == AF_INET && len == sizeof *v4 && ntohs(v4->sin_port) == 7);
    CHECK(v4->sin_addr.s_addr == htonl(INADDR_ANY));
    CHECK_EQ(netev_listener_address("127.0.0.1", 65536, &ss, &len), NETEV_EINVAL);
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    CHECK_OK(netev_listener_address("[fe80::1]", 80, &ss, &len));
    CHECK(ss.ss_family == AF_INET6 && len == sizeof *v6 && ntohs(v6->sin6_port) == 80 && v6->sin6_scope_id == 0);
    CHECK_OK(netev_listener_address("fe80::1%7", 0, &ss, &len));
    CHECK_EQ(v6->sin6_scope_id, 7);
    unsigned lo = if_nametoindex("lo");
    if (lo) {
        CHECK_OK(netev_listener_address("[fe80::1%lo]", 0, &ss, &len));
        CHECK_EQ(v6->sin6_scope_id, lo);
    }
    /* Linux's bind refuses a link-local address without a scope: the open
     * says NETEV_EINVAL although the address parsed.  With a scope the
     * address is merely not there (unless some host has it). */
    netev_loop *loop = util_loop();
    netev_socket l;
    int r = netev_listener_open(loop, "fe80::1", 0, 0, &l);
    CHECK(r == NETEV_EINVAL || r == NETEV_EAFNOSUPPORT);
    if (lo) {
        r = netev_listener_open(loop, "fe80::1%lo", 0, 0, &l);
        CHECK(r == NETEV_EADDRNOTAVAIL || r == NETEV_EAFNOSUPPORT || r == 0);
        if (r == 0)
            CHECK_OK(netev_close(loop, l));
    }
    netev_loop_free(loop);
}

/* Accepts from whichever of the two shared listeners has a connection
 * queued, until want are in; returns how many the first one took. */
static int accept_shared(netev_loop *loop[2], netev_socket l[2], int want)
{
    int taken[2] = {0, 0}, total = 0;
    long long deadline = util_now_us() + 5000000LL * util_slow();
    while (total < want) {
        CHECK(util_now_us() < deadline);
        for (int k = 0; k < 2; k++) {
            netev_event ev[4];
            int n = netev_wait(loop[k], ev, 4, 10);
            CHECK(n >= 0);
            for (int i = 0; i < n; i++) {
                CHECK(ev[i].sock == l[k] && (ev[i].events & NETEV_ACCEPT));
                netev_socket s;
                while (netev_accept(loop[k], l[k], &s, 0, 0) == 0) {
                    util_close(s);
                    taken[k]++;
                    total++;
                }
            }
        }
    }
    CHECK_EQ(total, want);
    return taken[0];
}

TEST(listener_shared)
{
    netev_loop *loop[2] = {util_loop(), util_loop()};
    netev_socket l[2], plain;
    CHECK_EQ(netev_listener_open_shared(loop[0], "localhost", 0, 0, &l[0]), NETEV_EINVAL);
    CHECK_EQ(l[0], NETEV_INVALID_SOCKET);
    CHECK_OK(netev_listener_open_shared(loop[0], "127.0.0.1", 0, 0, &l[0]));
    int port = netev_listener_port(l[0]);
    CHECK(port > 0);
    CHECK_OK(netev_listener_open_shared(loop[1], "127.0.0.1", port, 0, &l[1]));
    /* A listener that does not share cannot join, nor take the port, and
     * the probe says so (it would otherwise be a third member of the group). */
    CHECK_EQ(netev_listener_open(loop[1], "127.0.0.1", port, 0, &plain), NETEV_EADDRINUSE);
    CHECK_EQ(netev_listener_probe("127.0.0.1", port), NETEV_EADDRINUSE);
    CHECK_EQ(netev_listener_probe("0.0.0.0", port), NETEV_EADDRINUSE);
    /* The kernel spreads connections by a hash of the client's port: with
     * 64 clients, both listeners get some (all on one: odds 2 in 2^64). */
    enum { CLIENTS = 64 };
    netev_socket c[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        c[i] = util_connect(port);
    int first = accept_shared(loop, l, CLIENTS);
    CHECK(first > 0 && first < CLIENTS);
    for (int i = 0; i < CLIENTS; i++)
        util_close(c[i]);
    CHECK_OK(netev_close(loop[0], l[0]));
    CHECK_EQ(netev_listener_probe("127.0.0.1", port), NETEV_EADDRINUSE); /* one left */
    CHECK_OK(netev_close(loop[1], l[1]));
    /* Free again (SO_REUSEADDR: the closed connections' TIME_WAIT does not count). */
    CHECK_OK(netev_listener_probe("127.0.0.1", port));
    /* A port held by a listener that does not share cannot be shared. */
    CHECK_OK(netev_listener_open(loop[0], "127.0.0.1", 0, 0, &plain));
    CHECK_EQ(netev_listener_open_shared(loop[1], "127.0.0.1", netev_listener_port(plain), 0, &l[1]),
             NETEV_EADDRINUSE);
    CHECK_EQ(netev_listener_probe("127.0.0.1", netev_listener_port(plain)), NETEV_EADDRINUSE);
    CHECK_OK(netev_close(loop[0], plain));
    netev_loop_free(loop[0]);
    netev_loop_free(loop[1]);
}

/* netev_listener_port reports the core's codes for what is not a socket. */
TEST(listener_port_errors)
{
    CHECK_EQ(netev_listener_port(-1), NETEV_EBADF);
    CHECK_EQ(netev_listener_port(util_unused_socket_number()), NETEV_EBADF);
    netev_socket p = util_not_a_socket(); /* a pipe */
    CHECK_EQ(netev_listener_port(p), NETEV_ENOTSOCK);
    util_close_not_a_socket(p);
    int f = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(f >= 0);
    CHECK_EQ(netev_listener_port(f), NETEV_ENOTSOCK);
    close(f);
}

/* The session promises above hold with netev_session_recv_batch too. */
TEST(promises_batched)
{
    pump_batched = 1;
    test_steady_state_keeps_nothing();
    test_partial_send_keeps_order();
    test_back_pressure_bounds_the_backlog();
    test_fin_after_backlog();
    test_reset_ends_at_once();
    pump_batched = 0;
}

/* Many sessions read in one netev_session_recv_batch (one io_uring_enter
 * on Linux): every echo byte-exact through back-pressure, then each ends
 * its own way -- FIN behind a backlog (DONE), reset (ECONNRESET) -- and
 * the others go on. */
enum { MANY = 6 };
typedef struct many {
    server sv; /* its loop, table and listener */
    netev_socket c[MANY], s[MANY];
    int ended[MANY], why[MANY];
    char buf[MANY][16384];
} many;

static int many_index(many *m, netev_socket s)
{
    for (int i = 0; i < MANY; i++)
        if (m->s[i] == s)
            return i;
    return -1;
}

/* One wait; one recv per record, all in one batch, then the echoes. */
static void many_pump(many *m, int timeout_ms)
{
    netev_event *ev = m->sv.ev;
    netev_session_recv_req req[16];
    int n = netev_wait(m->sv.loop, ev, 16, timeout_ms), k = 0;
    CHECK(n >= 0);
    for (int i = 0; i < n; i++) {
        int j = many_index(m, ev[i].sock);
        if (!ev[i].events || j < 0)
            continue;
        ptrdiff_t r = netev_session_ready(m->sv.tab, &ev[i]);
        if (r < 0) {
            m->ended[j] = 1;
            m->why[j] = (int)r;
            continue;
        }
        req[k++] = (netev_session_recv_req){&ev[i], m->buf[j], sizeof m->buf[j], 12345};
    }
    CHECK_EQ(netev_session_recv_batch(m->sv.tab, req, k), k);
    for (int i = 0; i < k; i++) {
        int j = many_index(m, req[i].ev->sock);
        ptrdiff_t r = req[i].result;
        CHECK(r != 12345);
        /* After the peer's FIN the record reads on to the end (CLOSE is its credit). */
        while (r > 0 && (r = netev_session_send(m->sv.tab, m->s[j], m->buf[j], (size_t)r)) >= 0 &&
               (req[i].ev->events & NETEV_CLOSE))
            r = netev_session_recv(m->sv.tab, req[i].ev, m->buf[j], sizeof m->buf[j]);
        if (r < 0) {
            m->ended[j] = 1;
            m->why[j] = (int)r;
        }
    }
}

TEST(recv_batch_many_sessions)
{
    static many m;
    memset(&m, 0, sizeof m);
    server_open(&m.sv, 65536);
    for (int i = 0; i < MANY; i++) {
        m.sv.session = -1;
        m.c[i] = client_connect(&m.sv, i % 2 ? 8192 : 0);
        m.s[i] = m.sv.session;
    }
    size_t sent[MANY] = {0}, got[MANY] = {0};
    const size_t total = 1 << 20;
    long long end = util_now_us() + 20000000LL * util_slow();
    for (int busy = 1; busy && util_now_us() < end;) {
        busy = 0;
        for (int i = 0; i < MANY; i++) {
            client_pump(m.c[i], total, &sent[i], &got[i], 1);
            busy |= got[i] < total;
        }
        many_pump(&m, 1);
    }
    for (int i = 0; i < MANY; i++) {
        CHECK_EQ(got[i], total);
        CHECK(!m.ended[i]);
    }
    /* Ends: sessions 0-2 send more and FIN while not reading (their echo
     * backs up behind the FIN), 3 resets, 4 and 5 go on echoing. */
    for (int i = 0; i < 3; i++) {
        size_t more = total + 200000;
        while (sent[i] < more && util_now_us() < end) {
            client_pump(m.c[i], more, &sent[i], &got[i], 0);
            many_pump(&m, 1);
        }
        CHECK(shutdown(m.c[i], SHUT_WR) == 0);
    }
    util_rst(m.c[3]);
    m.c[3] = NETEV_INVALID_SOCKET;
    for (int busy = 1; busy && util_now_us() < end;) {
        busy = 0;
        for (int i = 0; i < MANY; i++) {
            if (i == 3)
                continue;
            size_t want = i < 3 ? total + 200000 : total + 50000;
            client_pump(m.c[i], want, &sent[i], &got[i], 1);
            busy |= got[i] < want || (i < 3 && !m.ended[i]);
        }
        busy |= !m.ended[3];
        many_pump(&m, 1);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(got[i], total + 200000);
        CHECK(m.ended[i]);
        CHECK_EQ(m.why[i], NETEV_SESSION_DONE);
    }
    CHECK(m.ended[3]);
    CHECK(m.why[3] == NETEV_ECONNRESET || m.why[3] == NETEV_EPIPE);
    CHECK(!m.ended[4] && !m.ended[5]);
    CHECK_EQ(got[4], total + 50000);
    CHECK_EQ(netev_sessions_count(m.sv.tab), 2);
    for (int i = 0; i < MANY; i++)
        if (m.c[i] != NETEV_INVALID_SOCKET)
            util_close(m.c[i]);
    server_close(&m.sv);
}

/* Bad batches are refused; a bad request gets netev_session_recv's answer
 * and ends nothing. */
TEST(recv_batch_bad_calls)
{
    server sv;
    server_open(&sv, 1 << 20);
    netev_socket c = client_connect(&sv, 0);
    netev_event ev = {.sock = sv.session, .events = NETEV_READ};
    netev_event other = {.sock = sv.listener, .events = NETEV_READ};
    char one;
    netev_session_recv_req r[] = {{&ev, NULL, 1, 1}, {&ev, &one, 0, 1}, {NULL, &one, 1, 1}, {&other, &one, 1, 1}};
    CHECK_EQ(netev_session_recv_batch(NULL, r, 1), NETEV_EINVAL);
    CHECK_EQ(netev_session_recv_batch(sv.tab, r, -1), NETEV_EINVAL);
    CHECK_EQ(netev_session_recv_batch(sv.tab, NULL, 1), NETEV_EINVAL);
    CHECK_EQ(netev_session_recv_batch(sv.tab, NULL, 0), 0);
    CHECK_EQ(r[0].result, 1); /* untouched */
    CHECK_EQ(netev_session_recv_batch(sv.tab, r, 4), 4);
    CHECK_EQ(r[0].result, NETEV_EINVAL);
    CHECK_EQ(r[1].result, NETEV_EINVAL);
    CHECK_EQ(r[2].result, NETEV_EINVAL);
    CHECK_EQ(r[3].result, NETEV_EBADF); /* the listener is no session */
    CHECK_EQ(netev_sessions_count(sv.tab), 1);
    util_close(c);
    server_close(&sv);
}

RUN_TESTS(CASE(steady_state_keeps_nothing), CASE(partial_send_keeps_order), CASE(send_batch_keeps_order), CASE(back_pressure_bounds_the_backlog),
          CASE(fin_after_backlog), CASE(reset_ends_at_once), CASE(free_closes_sessions_and_bad_calls),
          CASE(listener_addresses), CASE(listener_address_parsing), CASE(listener_shared),
          CASE(listener_port_errors), CASE(promises_batched), CASE(recv_batch_many_sessions),
          CASE(recv_batch_bad_calls))
