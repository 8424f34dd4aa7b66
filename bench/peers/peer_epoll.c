/* Echo server on a bare, hand-written, level-triggered epoll loop: the
 * readiness model's ceiling.  A connection costs one pointer (indexed by
 * descriptor) until a send falls short; then it owns a backlog, waits for
 * EPOLLOUT instead of EPOLLIN, and reads again once the backlog is gone. */
#define _GNU_SOURCE
#include "peer_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#define MAX_EVENTS 1024

static int epfd;
static peer_backlog **blocked; /* by descriptor: NULL = reading */
static size_t nblocked;

static void drop(int fd)
{
    if ((size_t)fd < nblocked && blocked[fd]) {
        peer_backlog_free(blocked[fd]);
        free(blocked[fd]);
        blocked[fd] = NULL;
    }
    close(fd); /* also leaves the epoll set */
}

static int watch(int fd, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(epfd, op, fd, &ev);
}

static int grow(int fd)
{
    if ((size_t)fd < nblocked)
        return 0;
    size_t n = nblocked ? nblocked : 1024;
    while (n <= (size_t)fd)
        n *= 2;
    peer_backlog **t = realloc(blocked, n * sizeof *t);
    if (!t)
        return -1;
    memset(t + nblocked, 0, (n - nblocked) * sizeof *t);
    blocked = t;
    nblocked = n;
    return 0;
}

static void on_accept(int listener)
{
    for (;;) {
        int fd = peer_accept(listener);
        if (fd < 0)
            return; /* EAGAIN, or out of descriptors: level-triggered, so we come back */
        peer_nodelay(fd);
        if (grow(fd) < 0 || watch(fd, EPOLLIN, EPOLL_CTL_ADD) < 0)
            close(fd);
    }
}

static void on_readable(int fd)
{
    static char buf[PEER_READ_BUF];
    ssize_t n = peer_recv(fd, buf, sizeof buf);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            drop(fd);
        return;
    }
    peer_backlog b = {0};
    int r = peer_echo(&b, fd, buf, (size_t)n);
    if (r < 0) {
        peer_backlog_free(&b);
        drop(fd);
    } else if (r == 0) {
        blocked[fd] = malloc(sizeof b);
        if (!blocked[fd] || watch(fd, EPOLLOUT, EPOLL_CTL_MOD) < 0) {
            peer_backlog_free(&b);
            drop(fd);
            return;
        }
        *blocked[fd] = b;
    }
}

static void on_writable(int fd)
{
    int r = peer_backlog_flush(blocked[fd], fd);
    if (r < 0) {
        drop(fd);
    } else if (r > 0) {
        free(blocked[fd]);
        blocked[fd] = NULL;
        if (watch(fd, EPOLLIN, EPOLL_CTL_MOD) < 0)
            drop(fd);
    }
}

int main(int argc, char **argv)
{
    int listener = peer_start(argc, argv, "peer_epoll");
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0 || watch(listener, EPOLLIN, EPOLL_CTL_ADD) < 0) {
        perror("peer_epoll: epoll");
        return 1;
    }
    static struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            perror("peer_epoll: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            uint32_t e = events[i].events;
            if (fd == listener)
                on_accept(listener);
            else if ((size_t)fd < nblocked && blocked[fd])
                on_writable(fd); /* also learns about errors and hang-ups through send */
            else if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(fd);
        }
    }
}
