/* poll backend: the portable fallback.  poll(2) is level-triggered, so the
 * interest of each socket follows its bits: a disabled READ is not polled
 * (a program that does not read is not woken), EOF is not polled once CLOSE
 * is recorded, and a dead socket is left out entirely. */
#define _GNU_SOURCE
#include "netev_int.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef POLLRDHUP
#define POLLRDHUP 0
#endif

/* While a listener starves, check its accept queue this often. */
#define STARVED_CHECK_MS 100

typedef struct poll_state {
    struct pollfd *pfds; /* [0] is the wakeup descriptor */
    int n, cap;
    int32_t *slot; /* descriptor -> index in pfds (registered descriptors only) */
    int32_t nslot;
} poll_state;

static int pl_init(netev_loop *loop)
{
    poll_state *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    st->cap = 64;
    st->pfds = malloc((size_t)st->cap * sizeof *st->pfds);
    if (!st->pfds) {
        free(st);
        return -1;
    }
    st->pfds[0] = (struct pollfd){.fd = loop->wake_rfd, .events = POLLIN};
    st->n = 1;
    loop->bstate = st;
    return 0;
}

static void pl_free(netev_loop *loop)
{
    poll_state *st = loop->bstate;
    free(st->pfds);
    netev__zfree(st->slot, (size_t)st->nslot * sizeof *st->slot);
    free(st);
}

static short interest(const netev__sock *sk)
{
    short ev = 0;
    switch (sk->state) {
    case NETEV__LISTENING:
        if (!(sk->disabled & NETEV_ACCEPT) && !(sk->flags & NETEV__F_STARVED))
            ev = POLLIN;
        break;
    case NETEV__CONNECTING:
        /* all of it: what arrived with the connection belongs in the same record */
        ev = POLLOUT | POLLIN | POLLPRI | POLLRDHUP;
        break;
    case NETEV__CONNECTED:
        if (sk->flags & NETEV__F_DEAD)
            break;
        if (!(sk->disabled & NETEV_READ) && !(sk->flags & NETEV__F_RD_EOF))
            ev |= POLLIN;
        if (!(sk->disabled & NETEV_OOB))
            ev |= POLLPRI;
        if (!(sk->flags & NETEV__F_RD_EOF))
            ev |= POLLRDHUP;
        if (sk->flags & NETEV__F_WRITE_BLOCKED)
            ev |= POLLOUT;
        break;
    case NETEV__DATAGRAM:
        if (!(sk->disabled & NETEV_READ))
            ev |= POLLIN;
        if (sk->flags & NETEV__F_WRITE_BLOCKED)
            ev |= POLLOUT;
        break;
    default:
        break;
    }
    return ev;
}

static void pl_update(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    poll_state *st = loop->bstate;
    struct pollfd *p = &st->pfds[st->slot[s]];
    p->events = interest(sk);
    /* HUP and ERR are reported even unasked: with nothing left to learn, or
     * nothing to ask (POLLRDHUP missing), a negative descriptor hides it
     * (-(s + 1), so that the slot still knows whose it is). */
    int watch = p->events != 0 ||
                (POLLRDHUP == 0 && sk->state == NETEV__CONNECTED && !(sk->flags & NETEV__F_DEAD));
    p->fd = watch ? s : -(s + 1);
}

static int pl_add(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    poll_state *st = loop->bstate;
    if (s >= st->nslot) {
        /* only registered descriptors' entries are read: new ones need no value */
        int32_t n = st->nslot ? st->nslot : 64;
        while (n <= s)
            n *= 2;
        int32_t *t = netev__zgrow(st->slot, (size_t)st->nslot * sizeof *t, (size_t)n * sizeof *t);
        if (!t)
            return NETEV_ENOMEM;
        st->slot = t;
        st->nslot = n;
    }
    if (st->n == st->cap) {
        struct pollfd *t = realloc(st->pfds, (size_t)st->cap * 2 * sizeof *t);
        if (!t)
            return NETEV_ENOMEM;
        st->pfds = t;
        st->cap *= 2;
    }
    st->slot[s] = st->n++;
    pl_update(loop, s, sk);
    return 0;
}

static void pl_del(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    (void)sk;
    poll_state *st = loop->bstate;
    int32_t i = st->slot[s];
    int32_t last = --st->n;
    if (i != last) {
        st->pfds[i] = st->pfds[last];
        int moved = st->pfds[i].fd >= 0 ? st->pfds[i].fd : -(st->pfds[i].fd + 1);
        st->slot[moved] = i;
    }
}

static unsigned readiness(short e)
{
    unsigned r = 0;
    if (e & POLLIN)
        r |= NETEV__IN;
    if (e & POLLOUT)
        r |= NETEV__OUT;
    if (e & POLLPRI)
        r |= NETEV__PRI;
    if (POLLRDHUP && (e & POLLRDHUP))
        r |= NETEV__RDHUP;
    if (e & POLLHUP)
        r |= NETEV__HUP;
    if (e & (POLLERR | POLLNVAL))
        r |= NETEV__ERR;
    return r;
}

/* poll counts in milliseconds; where ppoll exists, a timeout with a
 * fraction of one goes to it. */
static int kernel_wait(poll_state *st, int64_t timeout_us)
{
#ifdef __linux__
    if (timeout_us > 0 && timeout_us % 1000) {
        struct timespec ts = {.tv_sec = (time_t)(timeout_us / 1000000), .tv_nsec = (long)(timeout_us % 1000000) * 1000};
        return ppoll(st->pfds, (nfds_t)st->n, &ts, NULL);
    }
#endif
    return poll(st->pfds, (nfds_t)st->n, netev__ms_ceil(timeout_us));
}

static int pl_wait(netev_loop *loop, int64_t timeout_us)
{
    poll_state *st = loop->bstate;
    if (loop->nstarved && (timeout_us < 0 || timeout_us > STARVED_CHECK_MS * 1000))
        timeout_us = STARVED_CHECK_MS * 1000;
    int n = kernel_wait(st, timeout_us);
    if (n < 0)
        return errno == EINTR ? 0 : netev__map_errno(errno);
    int woken = 0;
    for (int i = 0; i < st->n && n > 0; i++) {
        struct pollfd *p = &st->pfds[i];
        if (!p->revents)
            continue;
        n--;
        short rev = p->revents;
        p->revents = 0;
        if (i == 0) {
            netev__drain_wakeup(loop);
            woken = 1;
        } else {
            netev__ready(loop, p->fd, readiness(rev));
        }
    }
    if (loop->nstarved)
        netev__starved_check(loop);
    return woken;
}

const netev__backend netev__backend_poll = {
    .name = "poll",
    .init = pl_init,
    .free = pl_free,
    .add = pl_add,
    .del = pl_del,
    .update = pl_update,
    .wait = pl_wait,
};
