/* Echo server on libevent's event API (not bufferevents, which would give
 * every connection two evbuffers): one struct event per connection, embedded
 * in it, persistent for reading; when a send falls short the event is switched
 * to writing until the backlog is gone. */
#define _GNU_SOURCE
#include "peer_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <event2/event.h>

typedef struct conn {
    peer_backlog backlog;
    struct event *ev; /* points into storage */
    _Alignas(max_align_t) unsigned char storage[];
} conn;

static struct event_base *base;
static char read_buf[PEER_READ_BUF];

static void on_io(evutil_socket_t fd, short what, void *arg);

static void drop(conn *c)
{
    event_del(c->ev);
    close(event_get_fd(c->ev));
    peer_backlog_free(&c->backlog);
    free(c);
}

static int switch_to(conn *c, short what)
{
    evutil_socket_t fd = event_get_fd(c->ev);
    event_del(c->ev);
    if (event_assign(c->ev, base, fd, what | EV_PERSIST, on_io, c) < 0)
        return -1;
    return event_add(c->ev, NULL);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    if (what & EV_WRITE) {
        int r = peer_backlog_flush(&c->backlog, fd);
        if (r < 0 || (r > 0 && switch_to(c, EV_READ) < 0))
            drop(c);
        return;
    }
    ssize_t n = peer_recv(fd, read_buf, sizeof read_buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        drop(c);
        return;
    }
    if (n < 0)
        return;
    int r = peer_echo(&c->backlog, fd, read_buf, (size_t)n);
    if (r < 0 || (r == 0 && switch_to(c, EV_WRITE) < 0))
        drop(c);
}

static void on_accept(evutil_socket_t listener, short what, void *arg)
{
    (void)what;
    (void)arg;
    for (;;) {
        int fd = peer_accept(listener);
        if (fd < 0)
            return;
        peer_nodelay(fd);
        conn *c = calloc(1, sizeof *c + event_get_struct_event_size());
        if (!c) {
            close(fd);
            continue;
        }
        c->ev = (struct event *)c->storage;
        if (event_assign(c->ev, base, fd, EV_READ | EV_PERSIST, on_io, c) < 0 || event_add(c->ev, NULL) < 0) {
            close(fd);
            free(c);
        }
    }
}

int main(int argc, char **argv)
{
    int listener = peer_start(argc, argv, "peer_event");
    base = event_base_new();
    struct event *lev = base ? event_new(base, listener, EV_READ | EV_PERSIST, on_accept, NULL) : NULL;
    if (!lev || event_add(lev, NULL) < 0) {
        fprintf(stderr, "peer_event: cannot set up libevent\n");
        return 1;
    }
    event_base_dispatch(base);
    event_free(lev);
    event_base_free(base);
    return 0;
}
