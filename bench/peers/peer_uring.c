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
    /* Task work only when we enter the kernel anyway: completions come in batches. */
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
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
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = NBUF, .bgid = GROUP};
    if ((r = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
        fprintf(stderr, "peer_uring: io_uring_register_buf_ring: %s\n", strerror(-r));
        exit(1);
    }
    for (uint32_t b = 0; b < NBUF; b++)
        give_back(b);
}

int main(int argc, char **argv)
{
    int listener = peer_start(argc, argv, "peer_uring");
    setup();
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
