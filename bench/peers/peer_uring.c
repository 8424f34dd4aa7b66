/* Echo server on io_uring's completion model: not a readiness loop, and so
 * not a peer in make bench's matrix, but the measure of what a completion
 * design would save (bench/alternate.py --servers epoll,uring,...).
 *
 * One multishot accept; per connection one multishot recv that fills
 * buffers from a provided-buffer ring; each filled buffer is sent back as it
 * is and returned to the ring when the send completes.  One
 * io_uring_submit_and_wait per loop submits every send and re-arm and reaps
 * every completion: the system calls per message fall far below two.
 *
 * PEER_URING_MODE picks how much of it goes through the ring:
 *   all  (default) receiving and sending, as above;
 *   recv  receiving only: send(2) at once, the ring only for what it does
 *         not take (a library that keeps synchronous send results);
 *   send  sending only: epoll readiness and recv(2) as in peer_epoll, the
 *         echo queued to the ring and every queued send submitted by one
 *         io_uring_enter before epoll_wait.
 *
 * Equally careful as the other peers: at most one send in flight per
 * connection (buffers queue behind it, so bytes stay in order), a short send
 * is resubmitted for the rest, a connection is closed on EOF or error once
 * its sends are done, TCP_NODELAY.  Its limits: buffers in flight at most
 * NBUF (a connection whose recv finds none is re-armed until sends give some
 * back), and descriptors up to the table size it grows to. */
#define _GNU_SOURCE
#include "peer_common.h"

#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#define NBUF 32768 /* the most a buffer ring holds */
#define BUF_SIZE 4096
#define GROUP 1
#define NONE 0xffffffffu

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };

/* Per descriptor: the buffers waiting to be sent, oldest first. */
typedef struct conn {
    uint32_t head, tail;
    uint8_t sending, reading, closing;
} conn;

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static uint32_t next_buf[NBUF];
static uint16_t buf_len[NBUF], buf_off[NBUF];
static conn *conns;
static size_t nconns;
static enum { MODE_ALL, MODE_RECV, MODE_SEND } mode;
static uint32_t free_bufs[NBUF], nfree; /* MODE_SEND: no provided-buffer ring */
static int epfd;                         /* MODE_SEND */

static uint64_t tag(int op, int fd, uint32_t bid)
{
    return (uint64_t)op << 56 | (uint64_t)(uint32_t)fd << 16 | (bid & 0xffff);
}

static struct io_uring_sqe *new_sqe(void)
{
    struct io_uring_sqe *s = io_uring_get_sqe(&ring);
    if (!s) { /* the submission queue is full: hand it to the kernel first */
        io_uring_submit(&ring);
        s = io_uring_get_sqe(&ring);
    }
    if (!s) {
        fprintf(stderr, "peer_uring: no submission queue entry\n");
        exit(1);
    }
    return s;
}

static void arm_accept(int listener)
{
    struct io_uring_sqe *s = new_sqe();
    io_uring_prep_multishot_accept(s, listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, tag(OP_ACCEPT, listener, 0));
}

static void arm_recv(int fd)
{
    conns[fd].reading = 1;
    struct io_uring_sqe *s = new_sqe();
    io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = GROUP;
    io_uring_sqe_set_data64(s, tag(OP_RECV, fd, 0));
}

static void send_buf(int fd, uint32_t b)
{
    struct io_uring_sqe *s = new_sqe();
    io_uring_prep_send(s, fd, bufs + (size_t)b * BUF_SIZE + buf_off[b], (size_t)(buf_len[b] - buf_off[b]),
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(OP_SEND, fd, b));
}

static void give_back(uint32_t b)
{
    if (mode == MODE_SEND) {
        free_bufs[nfree++] = b;
        return;
    }
    io_uring_buf_ring_add(br, bufs + (size_t)b * BUF_SIZE, BUF_SIZE, (unsigned short)b,
                          io_uring_buf_ring_mask(NBUF), 0);
    io_uring_buf_ring_advance(br, 1);
}

static int grow(int fd)
{
    if ((size_t)fd < nconns)
        return 0;
    size_t n = nconns ? nconns : 1024;
    while (n <= (size_t)fd)
        n *= 2;
    conn *t = realloc(conns, n * sizeof *t);
    if (!t)
        return -1;
    for (size_t i = nconns; i < n; i++)
        t[i] = (conn){NONE, NONE, 0, 0, 0};
    conns = t;
    nconns = n;
    return 0;
}

/* Closes fd once neither a send nor the recv of its is in flight: until
 * then its number must not be reused, since their completions name it.  A
 * recv still armed is ended by shutdown; queued buffers go back. */
static void finish(int fd)
{
    conn *c = &conns[fd];
    if (c->reading) {
        if (!c->closing)
            shutdown(fd, SHUT_RDWR);
        c->closing = 1;
        return;
    }
    c->closing = 1;
    if (c->sending)
        return;
    for (uint32_t b = c->head; b != NONE; b = next_buf[b])
        give_back(b);
    *c = (conn){NONE, NONE, 0, 0, 0};
    close(fd);
}

static void on_data(int fd, uint32_t b, int len)
{
    conn *c = &conns[fd];
    if (c->closing) { /* a send failed: nothing more goes out */
        give_back(b);
        return;
    }
    buf_len[b] = (uint16_t)len;
    buf_off[b] = 0;
    if (mode == MODE_RECV && !c->sending) {
        ssize_t n = peer_send(fd, bufs + (size_t)b * BUF_SIZE, (size_t)len);
        if (n == len || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            give_back(b);
            if (n < 0)
                finish(fd);
            return;
        }
        if (n > 0)
            buf_off[b] = (uint16_t)n; /* the rest goes through the ring, in order */
    }
    next_buf[b] = NONE;
    if (c->tail == NONE)
        c->head = b;
    else
        next_buf[c->tail] = b;
    c->tail = b;
    if (!c->sending) {
        c->sending = 1;
        send_buf(fd, b);
    }
}

static void on_sent(int fd, uint32_t b, int res)
{
    conn *c = &conns[fd];
    if (res > 0 && buf_off[b] + res < buf_len[b]) {
        buf_off[b] = (uint16_t)(buf_off[b] + res);
        send_buf(fd, b); /* short send: the rest, before anything queued behind it */
        return;
    }
    c->head = next_buf[b];
    if (c->head == NONE)
        c->tail = NONE;
    give_back(b);
    c->sending = 0;
    if (res < 0 || c->closing) {
        finish(fd);
    } else if (c->head != NONE) {
        c->sending = 1;
        send_buf(fd, c->head);
    }
}

static void setup(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* Task work only when we enter the kernel anyway: completions come in
     * batches.  MODE_SEND sleeps in epoll_wait, not in the ring: its task
     * work must run without an io_uring_enter. */
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
              (mode == MODE_SEND ? IORING_SETUP_COOP_TASKRUN : IORING_SETUP_DEFER_TASKRUN);
    p.cq_entries = 65536;
    int r = io_uring_queue_init_params(4096, &ring, &p);
    if (r == -EINVAL) { /* a kernel before 6.1 */
        memset(&p, 0, sizeof p);
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = 65536;
        r = io_uring_queue_init_params(4096, &ring, &p);
    }
    if (r < 0) {
        fprintf(stderr, "peer_uring: io_uring_queue_init: %s\n", strerror(-r));
        exit(1);
    }
    if (posix_memalign((void **)&br, 4096, NBUF * sizeof(struct io_uring_buf)) ||
        !(bufs = malloc((size_t)NBUF * BUF_SIZE))) {
        fprintf(stderr, "peer_uring: out of memory\n");
        exit(1);
    }
    if (mode == MODE_SEND) {
        for (uint32_t b = NBUF; b-- > 0;)
            give_back(b);
        return;
    }
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = NBUF, .bgid = GROUP};
    if ((r = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
        fprintf(stderr, "peer_uring: io_uring_register_buf_ring: %s\n", strerror(-r));
        exit(1);
    }
    for (uint32_t b = 0; b < NBUF; b++)
        give_back(b);
}

/* The completions of the sends submitted so far. */
static void reap_sends(void)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe)
    {
        seen++;
        on_sent((int)(uint32_t)(cqe->user_data >> 16), (uint32_t)(cqe->user_data & 0xffff), cqe->res);
    }
    io_uring_cq_advance(&ring, seen);
}

static void on_readable_send_mode(int fd)
{
    if (!nfree)
        return; /* every buffer is in flight: level-triggered, so we come back */
    uint32_t b = free_bufs[--nfree];
    ssize_t n = peer_recv(fd, bufs + (size_t)b * BUF_SIZE, BUF_SIZE);
    if (n > 0) {
        on_data(fd, b, (int)n);
        return;
    }
    give_back(b);
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, 0); /* closed once its sends are done */
        finish(fd);
    }
}

/* MODE_SEND: readiness and receiving as in peer_epoll; an eventfd in the
 * epoll set says when a send that had to wait for space has completed. */
static int serve_send_mode(int listener)
{
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    struct epoll_event eev = {.events = EPOLLIN, .data.fd = efd};
    if (efd < 0 || epfd < 0 || io_uring_register_eventfd(&ring, efd) < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev) < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &eev) < 0) {
        perror("peer_uring: epoll/eventfd");
        return 1;
    }
    static struct epoll_event evs[1024];
    for (;;) {
        io_uring_submit(&ring);
        reap_sends();
        int n = epoll_wait(epfd, evs, 1024, -1);
        if (n < 0 && errno != EINTR) {
            perror("peer_uring: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == efd) {
                uint64_t v;
                (void)!read(efd, &v, sizeof v);
            } else if (fd == listener) {
                int c;
                while ((c = peer_accept(listener)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    if (grow(c) < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, c, &cev) < 0)
                        close(c);
                    else
                        peer_nodelay(c);
                }
            } else {
                on_readable_send_mode(fd);
            }
        }
    }
}

int main(int argc, char **argv)
{
    int listener = peer_start(argc, argv, "peer_uring");
    const char *m = getenv("PEER_URING_MODE");
    if (m && !strcmp(m, "recv")) {
        mode = MODE_RECV;
    } else if (m && !strcmp(m, "send")) {
        mode = MODE_SEND;
    } else if (m && *m && strcmp(m, "all")) {
        fprintf(stderr, "peer_uring: PEER_URING_MODE must be all, recv or send, not '%s'\n", m);
        return 2;
    }
    setup();
    if (mode == MODE_SEND)
        return serve_send_mode(listener);
    arm_accept(listener);
    for (;;) {
        int r = io_uring_submit_and_wait(&ring, 1);
        if (r < 0 && r != -EINTR) {
            fprintf(stderr, "peer_uring: io_uring_submit_and_wait: %s\n", strerror(-r));
            return 1;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            seen++;
            int op = (int)(cqe->user_data >> 56);
            int fd = (int)(uint32_t)(cqe->user_data >> 16);
            uint32_t b = (uint32_t)(cqe->user_data & 0xffff);
            int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
            if (op == OP_ACCEPT) {
                if (cqe->res >= 0) {
                    if (grow(cqe->res) < 0) {
                        close(cqe->res);
                    } else {
                        peer_nodelay(cqe->res);
                        arm_recv(cqe->res);
                    }
                }
                if (!more)
                    arm_accept(listener); /* out of descriptors ends it too: tried again */
            } else if (op == OP_RECV) {
                if (cqe->res > 0) {
                    on_data(fd, cqe->flags >> IORING_CQE_BUFFER_SHIFT, cqe->res);
                    if (!more && !conns[fd].closing) {
                        arm_recv(fd);
                    } else if (!more) {
                        conns[fd].reading = 0;
                        finish(fd);
                    }
                } else if (cqe->res == -ENOBUFS && !conns[fd].closing) {
                    arm_recv(fd); /* every buffer is in flight: sends give some back */
                } else {
                    conns[fd].reading = 0; /* EOF or an error: the multishot recv has ended */
                    finish(fd);
                }
            } else if (op == OP_SEND) {
                on_sent(fd, b, cqe->res);
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
}
