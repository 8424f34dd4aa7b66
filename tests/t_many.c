/* A thousand sockets in one loop: no 64-socket ceiling, and no socket is
 * served later because it was registered later.  On the wsa backend this
 * spreads 1,000 sockets over the 63 shared events (about 16 per event), so
 * every case here crosses groups, and the last-registered sockets sit at the
 * highest wait index, where WSAWaitForMultipleEvents' lowest-index rule
 * would starve them if the backend served one index per wait. */
#include "util.h"

#include <stdint.h>
#include <stdlib.h>

enum { N = 1000 };

typedef struct many {
    netev_loop *loop;
    netev_socket c[N], s[N]; /* s[i] selected for READ with udata i + 1 */
} many;

static many *setup(void)
{
    CHECK(util_raise_fd_limit(2 * N + 64) >= 2 * N + 64);
    many *m = calloc(1, sizeof *m);
    CHECK(m != NULL);
    m->loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    for (int i = 0; i < N; i++) {
        m->c[i] = util_connect(port);
        m->s[i] = accept(l, 0, 0);
        CHECK(m->s[i] != NETEV_INVALID_SOCKET);
    }
    util_close(l);
    for (int i = 0; i < N; i++)
        CHECK_OK(netev_select(m->loop, m->s[i], NETEV_READ, (void *)(intptr_t)(i + 1)));
    return m;
}

static void teardown(many *m)
{
    for (int i = 0; i < N; i++) {
        CHECK_OK(netev_close(m->loop, m->s[i]));
        util_close(m->c[i]);
    }
    netev_loop_free(m->loop);
    free(m);
}

static int index_of(const netev_event *e)
{
    int i = (int)(intptr_t)e->udata - 1;
    CHECK(i >= 0 && i < N);
    return i;
}

/* One ready socket among a thousand is reported alone, wherever it was registered. */
TEST(one_ready_among_thousand)
{
    many *m = setup();
    EXPECT_NONE(m->loop);
    static const int probe[] = {0, 1, 62, 63, 64, 126, 127, 500, 937, N - 2, N - 1};
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        int i = probe[k];
        util_send_all(m->c[i], "x", 1);
        netev_event e = EXPECT(m->loop, m->s[i], NETEV_READ);
        CHECK_EQ(index_of(&e), i);
        char ch;
        CHECK_EQ(netev_recv(m->loop, m->s[i], &ch, 1, 0), 1);
    }
    EXPECT_NONE(m->loop);
    teardown(m);
}

/* Fairness at N = 1000 with max = 64: every socket is reported within
 * ceil(N/64)+1 waits although the 64 registered first (the lowest wait
 * indexes on wsa) are ready again after every read. */
TEST(thousand_ready_fair)
{
    enum { MAX = 64, HOT = 64 };
    many *m = setup();
    static char data[2048];
    for (int i = 0; i < N; i++)
        util_send_all(m->c[i], data, sizeof data);
    util_sleep_ms(50);
    int *first_wait = calloc(N, sizeof *first_wait);
    CHECK(first_wait != NULL);
    int waits = (N + MAX - 1) / MAX + 1;
    static netev_event out[MAX];
    for (int w = 1; w <= waits; w++) {
        int n = netev_wait(m->loop, out, MAX, 2000 * util_slow());
        CHECK(n > 0 && n <= MAX);
        for (int k = 0; k < n; k++) {
            int i = index_of(&out[k]);
            CHECK(out[k].sock == m->s[i]);
            if (!first_wait[i])
                first_wait[i] = w;
            char buf[sizeof data];
            CHECK(netev_recv(m->loop, m->s[i], buf, i < HOT ? 1 : sizeof buf, 0) > 0);
        }
    }
    for (int i = 0; i < N; i++)
        if (!first_wait[i])
            check_fail(__FILE__, __LINE__, "socket %d of %d not reported within %d waits", i, N, waits);
    free(first_wait);
    teardown(m);
}

/* The last-registered socket is not starved by the first one being always ready,
 * even with one record per wait. */
TEST(last_registered_not_starved)
{
    many *m = setup();
    static char flood[65536];
    util_send_all(m->c[0], flood, sizeof flood);
    util_sleep_ms(20);
    netev_event out[1];
    int last_seen = 0;
    for (int w = 0; w < 4 && !last_seen; w++) {
        CHECK_EQ(netev_wait(m->loop, out, 1, 2000 * util_slow()), 1);
        int i = index_of(&out[0]);
        if (i == N - 1) {
            last_seen = 1;
        } else {
            CHECK_EQ(i, 0);
            char ch;
            CHECK_EQ(netev_recv(m->loop, m->s[0], &ch, 1, 0), 1); /* leaves data: ready again */
            if (w == 0) {
                util_send_all(m->c[N - 1], "q", 1);
                util_sleep_ms(20);
            }
        }
    }
    CHECK(last_seen);
    teardown(m);
}

/* A loop over a thousand sockets (on wsa: 63 event objects and the wakeup
 * event) gives back every handle it made when freed. */
TEST(loop_free_releases_everything)
{
    int before = util_open_handles_all();
    many *m = setup();
    util_send_all(m->c[N - 1], "x", 1);
    EXPECT(m->loop, m->s[N - 1], NETEV_READ);
    CHECK_OK(netev_wakeup(m->loop));
    teardown(m);
    CHECK_EQ(util_open_handles_all(), before);
}

RUN_TESTS(CASE(one_ready_among_thousand), CASE(thousand_ready_fair), CASE(last_registered_not_starved),
          CASE(loop_free_releases_everything))
