/* Echo server on libuv, written the way a careful libuv user would: one
 * shared read buffer, uv_try_write first (no allocation when the socket takes
 * everything), and only when it falls short a uv_write of the remainder with
 * reading stopped until that write completes (bounded memory per connection). */
#define _GNU_SOURCE
#include "peer_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct conn {
    uv_tcp_t tcp; /* first: the handle's address is the connection's */
} conn;

typedef struct pending_write {
    uv_write_t req;
    char data[]; /* the bytes uv_try_write did not take */
} pending_write;

static uv_loop_t *loop;
static char read_buf[PEER_READ_BUF];

static void on_closed(uv_handle_t *h)
{
    free(h); /* the conn, whose first member is the handle */
}

static void drop(conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    conn *c = req->data;
    free(req);
    if (status < 0) {
        drop(c);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        drop(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *c = (conn *)s;
    if (n == 0)
        return; /* EAGAIN */
    if (n < 0) {
        drop(c); /* UV_EOF or an error */
        return;
    }
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    int sent = uv_try_write(s, &out, 1);
    if (sent == UV_EAGAIN)
        sent = 0;
    if (sent < 0) {
        drop(c);
        return;
    }
    if (sent == n)
        return;
    size_t left = (size_t)n - (size_t)sent;
    pending_write *w = malloc(sizeof *w + left);
    if (!w) {
        drop(c);
        return;
    }
    memcpy(w->data, buf->base + sent, left);
    w->req.data = c;
    uv_buf_t rest = uv_buf_init(w->data, (unsigned)left);
    uv_read_stop(s);
    if (uv_write(&w->req, s, &rest, 1, on_written) < 0) {
        free(w);
        drop(c);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    conn *c = malloc(sizeof *c);
    if (!c)
        return;
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        drop(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        drop(c);
}

int main(int argc, char **argv)
{
    int listener = peer_start(argc, argv, "peer_uv");
    loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    int err = uv_tcp_open(&server, listener);
    if (!err)
        err = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection);
    if (err) {
        fprintf(stderr, "peer_uv: %s\n", uv_strerror(err));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
