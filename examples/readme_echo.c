/* The event loop shown in README.md: an echo server on port 7777 (or argv[1]). */
#include <netev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    netev_loop *loop = netev_loop_new(NULL);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(argc > 1 ? atoi(argv[1]) : 7777)};
    if (!loop || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, SOMAXCONN))
        return perror("listen"), 1;
    netev_select(loop, l, NETEV_ACCEPT, NULL);
    netev_event ev[64];
    char buf[16384];
    for (;;) {
        int n = netev_wait(loop, ev, 64, -1);
        for (int i = 0; i < n; i++) {
            netev_socket s = ev[i].sock, c;
            if ((ev[i].events & NETEV_ACCEPT) && netev_accept(loop, s, &c, NULL, NULL) == 0)
                netev_select(loop, c, NETEV_READ | NETEV_CLOSE, NULL);
            if (!(ev[i].events & (NETEV_READ | NETEV_CLOSE)))
                continue;
            ptrdiff_t r;
            do { /* one recv per READ; after CLOSE, read to the end of the stream */
                r = netev_recv(loop, s, buf, sizeof buf, 0);
                if (r > 0) /* a real server keeps what send did not take: see apps/echod.c */
                    netev_send(loop, s, buf, (size_t)r, 0);
            } while (r > 0 && (ev[i].events & NETEV_CLOSE));
            if (r == 0 || (r < 0 && r != NETEV_EAGAIN))
                netev_close(loop, s);
        }
    }
}
