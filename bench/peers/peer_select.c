/* Echo server on the classic select() loop, the seed's "problem": both
 * fd_sets are rebuilt from the connection table on every iteration and every
 * descriptor is tested afterwards, so each wakeup costs O(connections).
 * select() cannot watch descriptors >= FD_SETSIZE: such connections are refused. */
#define _GNU_SOURCE
#include "peer_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/select.h>

static char open_fd[FD_SETSIZE];           /* 1 = a connection we serve */
static peer_backlog blocked[FD_SETSIZE];   /* data != NULL: waiting to write */
static int maxfd;

static void drop(int fd)
{
    peer_backlog_free(&blocked[fd]);
    open_fd[fd] = 0;
    close(fd);
}

static void on_accept(int listener)
{
    for (;;) {
        int fd = peer_accept(listener);
        if (fd < 0)
            return;
        if (fd >= FD_SETSIZE) {
            close(fd); /* select() cannot watch it */
            continue;
        }
        peer_nodelay(fd);
        open_fd[fd] = 1;
        if (fd > maxfd)
            maxfd = fd;
    }
}

static void on_readable(int fd)
{
    static char buf[PEER_READ_BUF];
    ssize_t n = peer_recv(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        drop(fd);
    else if (n > 0 && peer_echo(&blocked[fd], fd, buf, (size_t)n) < 0)
        drop(fd);
}

int main(int argc, char **argv)
{
    int listener = peer_start(argc, argv, "peer_select");
    if (listener >= FD_SETSIZE) {
        fprintf(stderr, "peer_select: listener descriptor %d >= FD_SETSIZE\n", listener);
        return 1;
    }
    maxfd = listener;
    for (;;) {
        fd_set rd, wr;
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        FD_SET(listener, &rd);
        int top = listener;
        for (int fd = 0; fd <= maxfd; fd++) {
            if (!open_fd[fd])
                continue;
            if (blocked[fd].data)
                FD_SET(fd, &wr);
            else
                FD_SET(fd, &rd);
            top = fd;
        }
        maxfd = top;
        int n = select(maxfd + 1, &rd, &wr, NULL, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("peer_select: select");
            return 1;
        }
        for (int fd = 0; fd <= maxfd && n > 0; fd++) {
            if (fd == listener) {
                if (FD_ISSET(fd, &rd)) {
                    n--;
                    on_accept(listener);
                }
                continue;
            }
            if (!open_fd[fd])
                continue;
            if (FD_ISSET(fd, &wr)) {
                n--;
                if (peer_backlog_flush(&blocked[fd], fd) < 0)
                    drop(fd);
            } else if (FD_ISSET(fd, &rd)) {
                n--;
                on_readable(fd);
            }
        }
    }
}
