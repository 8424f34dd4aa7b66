/* Echo server on libev: one ev_io watcher embedded in each connection,
 * watching for reading; when a send falls short it watches for writing until
 * the backlog is gone. */
#define _GNU_SOURCE
#include "peer_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <ev.h>

typedef struct conn {
    ev_io io; /* first: the watcher's address is the connection's */
    peer_backlog backlog;
} conn;

static struct ev_loop *loop;
static char read_buf[PEER_READ_BUF];

static void drop(conn *c)
{
    ev_io_stop(loop, &c->io);
    close(c->io.fd);
    peer_backlog_free(&c->backlog);
    free(c);
}

static void switch_to(conn *c, int what)
{
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->io.fd, what);
    ev_io_start(loop, &c->io);
}

static void on_io(struct ev_loop *l, ev_io *w, int revents)
{
    (void)l;
    conn *c = (conn *)w;
    if (revents & EV_WRITE) {
        int r = peer_backlog_flush(&c->backlog, w->fd);
        if (r < 0)
            drop(c);
        else if (r > 0)
            switch_to(c, EV_READ);
        return;
    }
    ssize_t n = peer_recv(w->fd, read_buf, sizeof read_buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        drop(c);
        return;
    }
    if (n < 0)
        return;
    int r = peer_echo(&c->backlog, w->fd, read_buf, (size_t)n);
    if (r < 0)
        drop(c);
    else if (r == 0)
        switch_to(c, EV_WRITE);
}

static void on_accept(struct ev_loop *l, ev_io *w, int revents)
{
    (void)revents;
    for (;;) {
        int fd = peer_accept(w->fd);
        if (fd < 0)
            return;
        peer_nodelay(fd);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        ev_io_init(&c->io, on_io, fd, EV_READ);
        ev_io_start(l, &c->io);
    }
}

int main(int argc, char **argv)
{
    int listener = peer_start(argc, argv, "peer_ev");
    loop = ev_default_loop(EVFLAG_AUTO);
    if (!loop) {
        fprintf(stderr, "peer_ev: cannot set up libev\n");
        return 1;
    }
    ev_io accept_io;
    ev_io_init(&accept_io, on_accept, listener, EV_READ);
    ev_io_start(loop, &accept_io);
    ev_run(loop, 0);
    return 0;
}
