/* netev_send_batch and netev_recv_batch: many sends (recvs), netev_send's
 * (netev_recv's) results, fewer system calls.
 *
 * Why: a server serving a batch of records makes one recv and one send per
 * record, and at thousands of connections the system call itself is a good
 * part of the cost.  On Linux the first request of each socket goes to the
 * kernel in one io_uring_enter (ring.c); everything else -- a socket's later
 * requests, odd flags, other platforms -- is a plain netev_send/netev_recv,
 * in array order.  Results are final when the call returns, so the event
 * semantics are the plain calls': a short send arms WRITE, a full one never
 * does; a recv re-enables READ. */
#include "netev_int.h"

#include <stdint.h>
#include <stdlib.h>

/* One socket of the batch: whether a request of it fell short or failed. */
typedef struct batch_sock {
    netev_socket sock;
    int32_t used;    /* 0: empty slot */
    int32_t blocked; /* later requests are not tried */
} batch_sock;

/* The loop's scratch memory for a batch of n: the socket set (mask + 1
 * slots), and per request its socket's slot and whether the ring may send it. */
static int scratch(netev_loop *loop, int n, uint32_t *mask, batch_sock **socks, uint32_t **slot, uint8_t **ring)
{
    size_t m = 16;
    while (m < (size_t)n * 2) /* at most half full: short probes */
        m *= 2;
    size_t need = m * sizeof(batch_sock) + (size_t)n * (sizeof(uint32_t) + 1);
    if (need > loop->batch_scratch_cap) {
        void *p = realloc(loop->batch_scratch, need);
        if (!p)
            return NETEV_ENOMEM;
        loop->batch_scratch = p;
        loop->batch_scratch_cap = need;
    }
    *socks = loop->batch_scratch;
    *slot = (uint32_t *)(*socks + m);
    *ring = (uint8_t *)(*slot + n);
    for (size_t i = 0; i < m; i++)
        (*socks)[i].used = 0;
    *mask = (uint32_t)(m - 1);
    return 0;
}

/* The slot of s; *fresh = 1 when this is its first request in the batch. */
static uint32_t find_sock(batch_sock *socks, uint32_t mask, netev_socket s, int *fresh)
{
    uint32_t i = (uint32_t)(((uint64_t)s * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & mask;
    while (socks[i].used && socks[i].sock != s)
        i = (i + 1) & mask;
    *fresh = !socks[i].used;
    if (*fresh)
        socks[i] = (batch_sock){s, 1, 0};
    return i;
}

int netev_send_batch(netev_loop *loop, netev_send_req *reqs, int n)
{
    if (!loop || n < 0 || (n && !reqs))
        return NETEV_EINVAL;
    if (n <= 1) { /* a single send is cheapest as itself */
        if (n == 1)
            reqs[0].result = netev_send(loop, reqs[0].sock, reqs[0].buf, reqs[0].len, reqs[0].flags);
        return n;
    }
    uint32_t mask, *slot;
    batch_sock *socks;
    uint8_t *ring;
    int use_ring = 0;
    if (scratch(loop, n, &mask, &socks, &slot, &ring) == 0) {
        for (int i = 0; i < n; i++) {
            int fresh;
            slot[i] = find_sock(socks, mask, reqs[i].sock, &fresh);
            /* The ring takes what netev_send takes without question; the
             * rest goes through netev_send, which checks it. */
            ring[i] = (uint8_t)(fresh && reqs[i].flags == 0 && (reqs[i].buf || !reqs[i].len) &&
                                reqs[i].len <= UINT32_MAX && reqs[i].len <= PTRDIFF_MAX);
            use_ring |= ring[i];
        }
        use_ring = use_ring && netev__send_ring(loop, reqs, n, ring) == 0;
    } else {
        /* No memory for the bookkeeping: one request at a time, the order
         * rule kept by comparing with the earlier requests. */
        for (int i = 0; i < n; i++) {
            int blocked = 0;
            for (int j = 0; j < i && !blocked; j++)
                blocked = reqs[j].sock == reqs[i].sock &&
                          (reqs[j].result < 0 || (size_t)reqs[j].result < reqs[j].len);
            reqs[i].result = blocked ? NETEV_EAGAIN
                                     : netev_send(loop, reqs[i].sock, reqs[i].buf, reqs[i].len, reqs[i].flags);
        }
        return n;
    }
    for (int i = 0; i < n; i++) {
        batch_sock *bs = &socks[slot[i]];
        netev_send_req *r = &reqs[i];
        if (use_ring && ring[i] && r->result != NETEV__REDO)
            ; /* sent by the ring, records updated there */
        else if (bs->blocked)
            r->result = NETEV_EAGAIN;
        else
            r->result = netev_send(loop, r->sock, r->buf, r->len, r->flags);
        if (r->result < 0 || (size_t)r->result < r->len)
            bs->blocked = 1;
    }
    return n;
}

int netev_recv_batch(netev_loop *loop, netev_recv_req *reqs, int n)
{
    if (!loop || n < 0 || (n && !reqs))
        return NETEV_EINVAL;
    uint32_t mask, *slot;
    batch_sock *socks;
    uint8_t *ring;
    int use_ring = 0;
    /* A single recv is cheapest as itself; without memory for the
     * bookkeeping, every request is a plain recv, in order. */
    if (n > 1 && scratch(loop, n, &mask, &socks, &slot, &ring) == 0) {
        for (int i = 0; i < n; i++) {
            int fresh;
            (void)find_sock(socks, mask, reqs[i].sock, &fresh); /* only "first of its socket?" matters here */
            /* The ring takes a socket's first request when netev_recv would
             * take it without question; the rest goes through netev_recv. */
            ring[i] = (uint8_t)(fresh && reqs[i].flags == 0 && reqs[i].buf && reqs[i].len &&
                                reqs[i].len <= UINT32_MAX && reqs[i].len <= PTRDIFF_MAX);
            use_ring |= ring[i];
        }
        use_ring = use_ring && netev__recv_ring(loop, reqs, n, ring) == 0;
    }
    for (int i = 0; i < n; i++) {
        netev_recv_req *r = &reqs[i];
        if (!(use_ring && ring[i] && r->result != NETEV__REDO))
            r->result = netev_recv(loop, r->sock, r->buf, r->len, r->flags);
    }
    return n;
}
