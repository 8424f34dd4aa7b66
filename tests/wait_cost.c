/* Measures what a netev_wait costs as the number of registered sockets grows
 * (not a test: docs/windows.md quotes its output).
 *
 *   wait_cost [N ...]        default N = 1 63 64 1000 4000 9000
 *
 * For each N: N connected pairs, the N server sides selected for READ.
 *  - one active: only the last-registered socket (the highest wait index on
 *    wsa) gets a byte; microseconds per send + wait + recv round;
 *  - all active: every client sends a byte, then the loop collects the N
 *    READ records (max 64 per wait); microseconds per record. */
#include "util.h"

#include <stdint.h>
#include <stdlib.h>

static double one_active(netev_loop *loop, netev_socket c, netev_socket s, int rounds)
{
    netev_event out[64];
    char ch = 'x';
    long long t0 = 0;
    for (int r = -rounds / 10; r < rounds; r++) { /* the first tenth warms up */
        if (r == 0)
            t0 = util_now_us();
        CHECK_EQ(netev_send(loop, c, &ch, 1, 0), 1);
        CHECK_EQ(netev_wait(loop, out, 64, 5000), 1);
        CHECK(out[0].sock == s);
        CHECK_EQ(netev_recv(loop, s, &ch, 1, 0), 1);
    }
    return (double)(util_now_us() - t0) / rounds;
}

static double all_active(netev_loop *loop, int n, const netev_socket *c, const netev_socket *s, int rounds)
{
    static netev_event out[64];
    long long spent = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++)
            CHECK_EQ(netev_send(loop, c[i], "x", 1, 0), 1);
        long long t0 = util_now_us();
        for (int got = 0; got < n;) {
            int k = netev_wait(loop, out, 64, 5000);
            CHECK(k > 0);
            for (int j = 0; j < k; j++) {
                char ch;
                int i = (int)(intptr_t)out[j].udata;
                CHECK(out[j].sock == s[i]);
                CHECK_EQ(netev_recv(loop, s[i], &ch, 1, 0), 1);
            }
            got += k;
        }
        spent += util_now_us() - t0;
    }
    return (double)spent / ((double)rounds * n);
}

static void measure(int n)
{
    CHECK(util_raise_fd_limit(2 * n + 64) >= 2 * n + 64);
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
    for (int i = 0; i < n; i++)
        CHECK_OK(netev_select(loop, s[i], NETEV_READ, (void *)(intptr_t)i));
    double one = one_active(loop, c[n - 1], s[n - 1], 2000);
    double all = all_active(loop, n, c, s, n > 1000 ? 3 : 20);
    printf("%-6s N=%6d  one active: %8.1f us/round   all active: %7.2f us/record\n", netev_loop_backend(loop),
           n, one, all);
    for (int i = 0; i < n; i++) {
        CHECK_OK(netev_close(loop, s[i]));
        util_close(c[i]);
    }
    free(c);
    free(s);
    netev_loop_free(loop);
}

int main(int argc, char **argv)
{
    util_init();
    check_current = "wait_cost";
    static const int defaults[] = {1, 63, 64, 1000, 4000, 9000};
    if (argc > 1)
        for (int a = 1; a < argc; a++)
            measure(atoi(argv[a]));
    else
        for (size_t k = 0; k < sizeof defaults / sizeof defaults[0]; k++)
            measure(defaults[k]);
    return 0;
}
