/* An echo server and its clients in one loop, both through netev: every byte
 * comes back in order, partial sends are finished on WRITE, and a server that
 * stops reading while its backlog is full is not woken for data until it reads. */
#include "util.h"

#include <stdlib.h>

enum { CHUNK = 65536, BACKLOG_MAX = 4 * CHUNK };

typedef struct peer {
    int is_server;
    netev_socket s;
    /* server: bytes read but not yet echoed; client: its own send and check cursors */
    unsigned char *backlog;
    size_t backlog_len;
    int eof; /* server: peer's FIN seen; client: echo complete */
    size_t sent, checked, total;
} peer;

static unsigned char pattern(size_t i, netev_socket s) { return (unsigned char)(i * 31 + (i >> 11) + (size_t)s); }

/* Server side: read while the backlog has room, echo what was read. */
static void server_pump(netev_loop *loop, peer *p)
{
    for (;;) {
        if (p->backlog_len) {
            ptrdiff_t n = netev_send(loop, p->s, p->backlog, p->backlog_len, 0);
            if (n == NETEV_EAGAIN)
                return; /* WRITE will come */
            CHECK(n > 0);
            memmove(p->backlog, p->backlog + n, p->backlog_len - (size_t)n);
            p->backlog_len -= (size_t)n;
            if (p->backlog_len)
                return; /* short send: WRITE will come */
        }
        if (p->eof || p->backlog_len + CHUNK > BACKLOG_MAX)
            return;
        ptrdiff_t n = netev_recv(loop, p->s, p->backlog + p->backlog_len, CHUNK, 0);
        if (n == NETEV_EAGAIN)
            return; /* READ will come */
        CHECK(n >= 0);
        if (n == 0) {
            p->eof = 1;
            return;
        }
        p->backlog_len += (size_t)n;
    }
}

static void client_pump(netev_loop *loop, peer *p)
{
    static unsigned char buf[CHUNK];
    while (p->sent < p->total) {
        size_t len = p->total - p->sent < CHUNK ? p->total - p->sent : CHUNK;
        for (size_t i = 0; i < len; i++)
            buf[i] = pattern(p->sent + i, p->s);
        ptrdiff_t n = netev_send(loop, p->s, buf, len, 0);
        if (n == NETEV_EAGAIN)
            break;
        CHECK(n > 0);
        p->sent += (size_t)n;
        if ((size_t)n < len)
            break;
        if (p->sent == p->total)
            CHECK(shutdown(p->s, 1) == 0);
    }
    for (;;) {
        ptrdiff_t n = netev_recv(loop, p->s, buf, sizeof buf, 0);
        if (n == NETEV_EAGAIN)
            return;
        if (n < 0)
            check_fail(__FILE__, __LINE__, "client %d: recv %s after %zu sent, %zu checked", (int)p->s,
                       netev_strerror((int)n), p->sent, p->checked);
        if (n == 0) {
            CHECK_EQ(p->checked, p->total);
            p->eof = 1;
            return;
        }
        for (ptrdiff_t i = 0; i < n; i++)
            if (buf[i] != pattern(p->checked + (size_t)i, p->s))
                check_fail(__FILE__, __LINE__, "byte %zu of socket %d corrupted", p->checked + (size_t)i, (int)p->s);
        p->checked += (size_t)n;
    }
}

static void run_echo(int clients, size_t bytes_each)
{
    netev_loop *loop = util_loop();
    int port;
    netev_socket l = util_listener(&port);
    CHECK_OK(netev_select(loop, l, NETEV_ACCEPT, 0));
    peer *peers = calloc((size_t)clients * 2, sizeof *peers);
    CHECK(peers != NULL);
    struct sockaddr_storage ss;
    socklen_t len;
    util_loopback(AF_INET, port, &ss, &len);
    for (int i = 0; i < clients; i++) {
        peer *c = &peers[i];
        c->s = util_tcp_socket(AF_INET);
        c->total = bytes_each;
        CHECK_OK(netev_select(loop, c->s, NETEV_CONNECT | NETEV_READ | NETEV_WRITE | NETEV_CLOSE, c));
        CHECK_OK(netev_connect(loop, c->s, (struct sockaddr *)&ss, len));
    }
    int accepted = 0, done = 0, closed_servers = 0;
    netev_event out[64];
    while (done < clients || closed_servers < clients) {
        int n = netev_wait(loop, out, 64, 5000 * util_slow());
        CHECK(n > 0);
        for (int k = 0; k < n; k++) {
            netev_event *e = &out[k];
            if (e->sock == l) {
                netev_socket a;
                CHECK_OK(netev_accept(loop, l, &a, 0, 0));
                CHECK(accepted < clients);
                peer *sp = &peers[clients + accepted++];
                sp->is_server = 1;
                sp->s = a;
                sp->backlog = malloc(BACKLOG_MAX);
                CHECK(sp->backlog != NULL);
                CHECK_OK(netev_select(loop, a, NETEV_READ | NETEV_WRITE | NETEV_CLOSE, sp));
                continue;
            }
            peer *p = e->udata;
            if (e->events & NETEV_CONNECT)
                CHECK_EQ(e->error[NETEV_CONNECT_BIT], 0);
            if (e->events & NETEV_CLOSE)
                CHECK_EQ(e->error[NETEV_CLOSE_BIT], 0);
            if (p->is_server) {
                server_pump(loop, p);
                if (p->eof && !p->backlog_len) {
                    CHECK_OK(netev_close(loop, p->s));
                    closed_servers++;
                }
            } else if (!p->eof) {
                client_pump(loop, p);
                if (p->eof) {
                    CHECK_OK(netev_close(loop, p->s));
                    done++;
                }
            }
        }
    }
    for (int i = 0; i < clients; i++)
        free(peers[clients + i].backlog);
    free(peers);
    CHECK_OK(netev_close(loop, l));
    netev_loop_free(loop);
}

/* One client, 16 MiB each way: many partial sends and back-pressure pauses. */
TEST(one_client_16_mib) { run_echo(1, 16u << 20); }

/* Many clients at once, all served, every byte checked. */
TEST(hundred_clients) { run_echo(100, 256u << 10); }

/* Many small exchanges. */
TEST(many_clients_small) { run_echo(500, 1000); }

RUN_TESTS(CASE(one_client_16_mib), CASE(hundred_clients), CASE(many_clients_small))
