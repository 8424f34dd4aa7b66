/* No limit on sockets but the OS's: thousands of sockets in one loop. */
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#ifndef _WIN32
#include <sys/resource.h>
#endif

static int pairs_wanted(void)
{
    int n = 5000;
    const char *env = getenv("NETEV_TEST_SCALE_PAIRS");
    if (env)
        n = atoi(env);
#ifndef _WIN32
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if ((rlim_t)(2 * n + 64) > rl.rlim_cur) {
        n = (int)((rl.rlim_cur - 64) / 2);
        printf("# descriptor limit %lu: %d pairs\n", (unsigned long)rl.rlim_cur, n);
    }
#endif
    return n;
}

/* Counts records per socket over several waits until every socket in want[] got its events. */
static void collect(netev_loop *loop, int n, const netev_socket *socks, unsigned want)
{
    int *seen = calloc((size_t)n, sizeof *seen);
    CHECK(seen != NULL);
    int remaining = n;
    static netev_event out[1024]; /* records stay valid until the next wait */
    while (remaining > 0) {
        int got = netev_wait(loop, out, 1024, 5000 * util_slow());
        CHECK(got > 0);
        for (int k = 0; k < got; k++) {
            int i = (int)(intptr_t)out[k].udata;
            CHECK(i >= 0 && i < n && socks[i] == out[k].sock);
            CHECK_EQ(out[k].events, want);
            CHECK(!seen[i]); /* one record per socket */
            seen[i] = 1;
            remaining--;
        }
    }
    free(seen);
}

TEST(thousands_of_sockets)
{
    int n = pairs_wanted();
    CHECK(n >= 2500); /* at least 5,000 sockets */
    printf("# %d sockets\n", 2 * n);
    netev_loop *loop = util_loop();
    netev_socket *c = calloc((size_t)n, sizeof *c), *s = calloc((size_t)n, sizeof *s);
    CHECK(c && s);
    int port;
    netev_socket l = util_listener(&port);
    for (int i = 0; i < n; i++) {
        c[i] = util_connect(port);
        s[i] = accept(l, 0, 0);
        CHECK(s[i] != NETEV_INVALID_SOCKET);
    }
    util_close(l);
    /* servers are indexes 0..n-1, clients n..2n-1 in udata */
    for (int i = 0; i < n; i++) {
        CHECK_OK(netev_select(loop, s[i], NETEV_READ | NETEV_CLOSE, (void *)(intptr_t)i));
        CHECK_OK(netev_select(loop, c[i], NETEV_READ | NETEV_CLOSE, (void *)(intptr_t)(n + i)));
    }
    EXPECT_NONE(loop);
    /* every client says something: every server gets READ, exactly once */
    for (int i = 0; i < n; i++)
        CHECK_EQ(netev_send(loop, c[i], "x", 1, 0), 1);
    collect(loop, n, s, NETEV_READ);
    /* every server echoes: every client gets READ */
    for (int i = 0; i < n; i++) {
        char ch;
        CHECK_EQ(netev_recv(loop, s[i], &ch, 1, 0), 1);
        CHECK_EQ(netev_send(loop, s[i], &ch, 1, 0), 1);
    }
    int *seen = calloc((size_t)n, sizeof *seen);
    int remaining = n;
    netev_event out[1024];
    while (remaining > 0) {
        int got = netev_wait(loop, out, 1024, 5000 * util_slow());
        CHECK(got > 0);
        for (int k = 0; k < got; k++) {
            int i = (int)(intptr_t)out[k].udata - n;
            CHECK(i >= 0 && i < n && out[k].sock == c[i] && out[k].events == NETEV_READ && !seen[i]);
            seen[i] = 1;
            remaining--;
        }
    }
    /* every client closes: every server gets CLOSE */
    for (int i = 0; i < n; i++)
        CHECK_OK(netev_close(loop, c[i]));
    collect(loop, n, s, NETEV_CLOSE);
    EXPECT_NONE(loop);
    for (int i = 0; i < n; i++)
        CHECK_OK(netev_close(loop, s[i]));
    free(seen);
    free(c);
    free(s);
    netev_loop_free(loop);
}

RUN_TESTS(CASE(thousands_of_sockets))
