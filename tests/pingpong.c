/* pingpong ROUNDS: a client and a server in one loop trade a 64-byte message
 * ROUNDS times.  Run under strace by epoll_ctl_steady.sh: the number of
 * epoll_ctl calls must not depend on ROUNDS (re-enabling costs none). */
#include "util.h"

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 1000;
    util_init();
    netev_loop *loop = util_loop();
    netev_socket c, s;
    util_pair(&c, &s);
    CHECK_OK(netev_select(loop, c, NETEV_READ | NETEV_CLOSE, 0));
    CHECK_OK(netev_select(loop, s, NETEV_READ | NETEV_CLOSE, 0));
    char msg[64] = "ping", buf[64];
    CHECK_EQ(netev_send(loop, c, msg, sizeof msg, 0), sizeof msg);
    long done = 0;
    netev_event out[8];
    while (done < rounds) {
        int n = netev_wait(loop, out, 8, 2000);
        CHECK(n > 0);
        for (int k = 0; k < n; k++) {
            netev_socket from = out[k].sock;
            CHECK_EQ(out[k].events, NETEV_READ);
            CHECK_EQ(netev_recv(loop, from, buf, sizeof buf, 0), sizeof buf);
            if (from == c)
                done++;
            if (done < rounds)
                CHECK_EQ(netev_send(loop, from, buf, sizeof buf, 0), sizeof buf);
        }
    }
    CHECK_OK(netev_close(loop, c));
    CHECK_OK(netev_close(loop, s));
    netev_loop_free(loop);
    printf("%ld round trips\n", done);
    return 0;
}
