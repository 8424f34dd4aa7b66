/* Linux: the sends or the recvs of a batch in one io_uring_enter (for batch.c).
 *
 * Each request is IORING_OP_SEND or IORING_OP_RECV with MSG_DONTWAIT, so the
 * kernel completes it inside the io_uring_enter that submits it -- bytes
 * moved, -EAGAIN, or the error -- instead of parking it until the socket is
 * ready: the results are final when the call returns, exactly as send(2)'s
 * and recv(2)'s would be.  The ring is made at the first batch and kept
 * with the loop; where io_uring is missing or refused (old kernel, seccomp,
 * kernel.io_uring_disabled, or NETEV_NO_IO_URING set), the batch falls back
 * to netev_send / netev_recv.  Raw system calls: the core needs no library. */
#define _GNU_SOURCE
#include "netev_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

/* valgrind cannot see the kernel write a recv's bytes from the ring (it
 * sees recv(2) do it): without this, every byte read would be "uninitialised"
 * under memcheck.  The client request costs a few instructions outside it. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define MARK_WRITTEN(buf, len) VALGRIND_MAKE_MEM_DEFINED((buf), (len))
#endif
#endif
#ifndef MARK_WRITTEN
#define MARK_WRITTEN(buf, len) ((void)(buf), (void)(len))
#endif

#define RING_ENTRIES 1024
#ifndef IORING_FEAT_NATIVE_WORKERS
#define IORING_FEAT_NATIVE_WORKERS (1U << 9) /* Linux 5.12 */
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8) /* Linux 5.19's value; older kernels refuse it, and we retry without */
#endif

typedef struct ring {
    int fd;
    void *sq_map, *cq_map;
    size_t sq_map_len, cq_map_len;
    struct io_uring_sqe *sqes;
    size_t sqes_len;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    unsigned entries;
} ring;

static void ring_unmap(ring *r)
{
    if (r->sqes)
        munmap(r->sqes, r->sqes_len);
    if (r->cq_map && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_map_len);
    if (r->sq_map)
        munmap(r->sq_map, r->sq_map_len);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

static void *map(int fd, size_t len, off_t what)
{
    void *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, what);
    return p == MAP_FAILED ? 0 : p;
}

static ring *ring_make(void)
{
    const char *off = getenv("NETEV_NO_IO_URING");
    if (off && *off && strcmp(off, "0"))
        return 0;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* No task work interrupts: everything completes inside our own enter. */
    p.flags = IORING_SETUP_COOP_TASKRUN;
    int fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &p);
    if (fd < 0 && errno == EINVAL) { /* before Linux 5.19 */
        memset(&p, 0, sizeof p);
        fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &p);
    }
    if (fd < 0)
        return 0;
    if (!(p.features & IORING_FEAT_NATIVE_WORKERS)) {
        /* Before Linux 5.12: whether a MSG_DONTWAIT send or recv completes
         * inside the call that submits it is not something we have seen; one
         * parked until the socket is ready would stall the batch.  Plain
         * calls there. */
        close(fd);
        return 0;
    }
    ring *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return 0;
    }
    r->fd = fd;
    r->entries = p.sq_entries;
    r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (r->cq_map_len > r->sq_map_len)
            r->sq_map_len = r->cq_map_len;
        r->cq_map_len = r->sq_map_len;
    }
    r->sq_map = map(fd, r->sq_map_len, IORING_OFF_SQ_RING);
    r->cq_map = !r->sq_map ? 0 : (p.features & IORING_FEAT_SINGLE_MMAP) ? r->sq_map
                                                                          : map(fd, r->cq_map_len, IORING_OFF_CQ_RING);
    r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = r->cq_map ? map(fd, r->sqes_len, IORING_OFF_SQES) : 0;
    if (!r->sqes) {
        ring_unmap(r);
        return 0;
    }
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    return r;
}

void netev__ring_free(netev_loop *loop)
{
    if (loop->ring)
        ring_unmap(loop->ring);
    loop->ring = 0;
}

/* What a kind of request (send, recv) puts in its entry, and what its
 * completion means; reqs is that kind's array. */
typedef void prep_fn(netev_loop *loop, struct io_uring_sqe *e, void *reqs, int i);
typedef void take_fn(netev_loop *loop, void *reqs, int i, int res);
typedef struct ring_kind {
    prep_fn *prep;
    take_fn *take;
    int (*unsettled)(const void *reqs, int i); /* result still NETEV__REDO */
} ring_kind;

/* Submits up to count queued requests; returns how many the kernel took.
 * With MSG_DONTWAIT each completes during this call, so there is nothing
 * to wait for (and asking to wait for count would hang if some were not
 * taken). */
static unsigned enter(ring *r, unsigned count)
{
    unsigned submitted = 0;
    while (submitted < count) {
        int k = (int)syscall(__NR_io_uring_enter, r->fd, count - submitted, 0, 0, 0, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        submitted += (unsigned)k;
    }
    return submitted;
}

/* Completions posted so far; returns how many. */
static unsigned reap(netev_loop *loop, ring *r, take_fn *take, void *reqs, int nreqs)
{
    unsigned head = *r->cq_head, n = 0;
    unsigned tail = atomic_load_explicit((_Atomic unsigned *)r->cq_tail, memory_order_acquire);
    for (; head != tail; head++, n++) {
        const struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
        if (c->user_data < (unsigned long long)nreqs) /* never another batch's index */
            take(loop, reqs, (int)c->user_data, c->res);
    }
    atomic_store_explicit((_Atomic unsigned *)r->cq_head, head, memory_order_release);
    return n;
}

/* Waiting for completions failed (not EINTR, which is retried).  A working
 * kernel never gets here: each request completes during its submission, and
 * the completion queue, twice the size of a submission, cannot overflow.
 * The requests taken but not completed may still send or receive, so they
 * must not be made again as plain calls (a send would go twice, a recv's
 * bytes would be lost): each fails with NETEV_EIO, and the ring is retired,
 * so that none of its late completions is taken for a later batch's.  The
 * completions that came are filed first; of the requests taken (the first
 * `taken` used from `from` on), one still NETEV__REDO after that never
 * completed (or asked to be made again, which this rare path does not tell
 * apart). */
static void abandon(netev_loop *loop, ring *r, const ring_kind *k, void *reqs, int n, const uint8_t *use,
                    int from, unsigned taken)
{
    (void)reap(loop, r, k->take, reqs, n);
    netev__ring_free(loop);
    loop->ring_state = -1;
    for (int j = from; taken > 0; j++) {
        if (!use[j])
            continue;
        taken--;
        if (k->unsettled(reqs, j))
            k->take(loop, reqs, j, -EIO);
    }
}

/* Submits the requests i where use[i] (k->prep fills their entries,
 * k->take files their completions); 0 when done, -1 when there is no ring. */
static int ring_run(netev_loop *loop, int n, const uint8_t *use, const ring_kind *k, void *reqs)
{
    if (loop->ring_state == 0) {
        loop->ring = ring_make();
        loop->ring_state = loop->ring ? 1 : -1;
    }
    ring *r = loop->ring;
    if (!r)
        return -1;
    int i = 0;
    while (i < n) {
        /* Fill the submission queue with the next requests (at most its size). */
        unsigned tail = *r->sq_tail, mask = *r->sq_mask, count = 0;
        int from = i;
        for (; i < n && count < r->entries; i++) {
            if (!use[i])
                continue;
            unsigned idx = tail & mask;
            struct io_uring_sqe *e = &r->sqes[idx];
            memset(e, 0, sizeof *e);
            k->prep(loop, e, reqs, i);
            e->user_data = (unsigned long long)i;
            r->sq_array[idx] = idx;
            tail++;
            count++;
        }
        if (!count)
            break;
        atomic_store_explicit((_Atomic unsigned *)r->sq_tail, tail, memory_order_release);
        unsigned taken = enter(r, count);
        if (taken == 0) {
            /* Refused outright (a seccomp filter, say): none was taken, so
             * the ring can go, and later batches need not try it again. */
            netev__ring_free(loop);
            loop->ring_state = -1;
            return 0; /* every request of this call is NETEV__REDO or not for the ring */
        }
        if (taken < count) /* the kernel refused the rest: they go as plain sends */
            atomic_store_explicit((_Atomic unsigned *)r->sq_tail, tail - (count - taken), memory_order_release);
        /* Every request taken has completed by now; should one not have, wait for it. */
        for (unsigned got = reap(loop, r, k->take, reqs, n); got < taken; got += reap(loop, r, k->take, reqs, n))
            if (syscall(__NR_io_uring_enter, r->fd, 0, taken - got, IORING_ENTER_GETEVENTS, 0, 0) < 0 &&
                errno != EINTR) {
                abandon(loop, r, k, reqs, n, use, from, taken);
                return 0;
            }
    }
    return 0;
}

/* Errors that say "ask the plain call": a kernel without the opcode, or a
 * case the system call itself explains better. */
static int redo(int res)
{
    return res == -EINVAL || res == -EINTR || res == -EOPNOTSUPP;
}

/* ---- sends ---- */

static void prep_send(netev_loop *loop, struct io_uring_sqe *e, void *reqs, int i)
{
    const netev_send_req *q = (const netev_send_req *)reqs + i;
    (void)loop;
    e->opcode = IORING_OP_SEND;
    e->fd = q->sock;
    e->addr = (unsigned long long)(uintptr_t)q->buf;
    e->len = (unsigned)q->len;
    e->msg_flags = MSG_NOSIGNAL | MSG_DONTWAIT;
}

static void take_send(netev_loop *loop, void *reqs, int i, int res)
{
    netev_send_req *q = (netev_send_req *)reqs + i;
    if (redo(res))
        return; /* stays NETEV__REDO */
    int err = res < 0 ? netev__map_errno(-res) : 0;
    q->result = err ? err : res;
    netev__send_done(loop, q->sock, err, res > 0 ? (size_t)res : 0, q->len);
    if (res < 0)
        netev__connect_error_heard(loop, q->sock, -res);
}

static int send_unsettled(const void *reqs, int i)
{
    return ((const netev_send_req *)reqs)[i].result == NETEV__REDO;
}

int netev__send_ring(netev_loop *loop, netev_send_req *reqs, int n, const uint8_t *use)
{
    for (int j = 0; j < n; j++)
        if (use[j])
            reqs[j].result = NETEV__REDO; /* until a completion says otherwise */
    static const ring_kind sends = {prep_send, take_send, send_unsettled};
    return ring_run(loop, n, use, &sends, reqs);
}

/* ---- recvs ---- */

static void prep_recv(netev_loop *loop, struct io_uring_sqe *e, void *reqs, int i)
{
    const netev_recv_req *q = (const netev_recv_req *)reqs + i;
    /* As netev_recv: re-enabled before the call, so what arrives meanwhile
     * is caught by its own edge. */
    (void)netev__reenable(loop, q->sock, NETEV_READ);
    e->opcode = IORING_OP_RECV;
    e->fd = q->sock;
    e->addr = (unsigned long long)(uintptr_t)q->buf;
    e->len = (unsigned)q->len;
    e->msg_flags = MSG_DONTWAIT;
}

static void take_recv(netev_loop *loop, void *reqs, int i, int res)
{
    netev_recv_req *q = (netev_recv_req *)reqs + i;
    if (redo(res))
        return; /* stays NETEV__REDO */
    int err = res < 0 ? netev__map_errno(-res) : 0;
    q->result = err ? err : res;
    if (res > 0)
        MARK_WRITTEN(q->buf, (size_t)res);
    netev__recv_done(loop, q->sock, netev__lookup(loop, q->sock), 0, res < 0 ? -1 : res, q->len, err);
    if (res < 0)
        netev__connect_error_heard(loop, q->sock, -res);
}

static int recv_unsettled(const void *reqs, int i)
{
    return ((const netev_recv_req *)reqs)[i].result == NETEV__REDO;
}

int netev__recv_ring(netev_loop *loop, netev_recv_req *reqs, int n, const uint8_t *use)
{
    for (int j = 0; j < n; j++)
        if (use[j])
            reqs[j].result = NETEV__REDO;
    static const ring_kind recvs = {prep_recv, take_recv, recv_unsettled};
    return ring_run(loop, n, use, &recvs, reqs);
}
