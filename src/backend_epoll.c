/* epoll backend: each socket added once, edge-triggered, for everything it
 * could ever report.  Edges feed the per-socket bits in ready.c, which decide
 * what is news; re-enabling an event is then a bit flip in user space and
 * never an epoll_ctl (the nginx idea). */
#define _GNU_SOURCE
#include "netev_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WAKE_TAG UINT64_MAX
#define MAX_KERNEL_EVENTS 1024

typedef struct epoll_state {
    int epfd;
    int no_pwait2; /* the kernel refused epoll_pwait2: timeouts in whole ms */
    struct epoll_event events[MAX_KERNEL_EVENTS];
} epoll_state;

static int ep_init(netev_loop *loop)
{
    epoll_state *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        free(st);
        return -1;
    }
    /* The wakeup descriptor stays level-triggered: it is drained when seen. */
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, loop->wake_rfd, &ev) < 0) {
        close(st->epfd);
        free(st);
        return -1;
    }
    loop->bstate = st;
    return 0;
}

static void ep_free(netev_loop *loop)
{
    epoll_state *st = loop->bstate;
    close(st->epfd);
    free(st);
}

static int ep_add(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    (void)sk;
    epoll_state *st = loop->bstate;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
                             .data.u64 = (uint64_t)s};
    if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, s, &ev) == 0)
        return 0;
    /* Still registered under a dup of a descriptor closed without netev_close. */
    if (errno == EEXIST && epoll_ctl(st->epfd, EPOLL_CTL_MOD, s, &ev) == 0)
        return 0;
    return netev__map_errno(errno);
}

static void ep_del(netev_loop *loop, netev_socket s, netev__sock *sk)
{
    (void)sk;
    epoll_state *st = loop->bstate;
    /* Explicit, so that a copy of the socket in another process cannot keep reporting. */
    struct epoll_event ev = {0};
    epoll_ctl(st->epfd, EPOLL_CTL_DEL, s, &ev);
}

static unsigned readiness(uint32_t e)
{
    unsigned r = 0;
    if (e & EPOLLIN)
        r |= NETEV__IN;
    if (e & EPOLLOUT)
        r |= NETEV__OUT;
    if (e & EPOLLPRI)
        r |= NETEV__PRI;
    if (e & EPOLLRDHUP)
        r |= NETEV__RDHUP;
    if (e & EPOLLHUP)
        r |= NETEV__HUP;
    if (e & EPOLLERR)
        r |= NETEV__ERR;
    return r;
}

/* epoll_wait counts in milliseconds; a timeout with a fraction of one goes
 * to epoll_pwait2 (Linux 5.11), by raw system call so that an older C
 * library does not matter. */
static int kernel_wait(epoll_state *st, int64_t timeout_us)
{
#ifdef __NR_epoll_pwait2
    if (timeout_us > 0 && timeout_us % 1000 && !st->no_pwait2) {
        struct timespec ts = {.tv_sec = (time_t)(timeout_us / 1000000), .tv_nsec = (long)(timeout_us % 1000000) * 1000};
        int n = (int)syscall(__NR_epoll_pwait2, st->epfd, st->events, MAX_KERNEL_EVENTS, &ts, NULL, 0);
        if (n >= 0 || (errno != ENOSYS && errno != EPERM))
            return n;
        st->no_pwait2 = 1; /* old kernel or a seccomp filter */
    }
#endif
    return epoll_wait(st->epfd, st->events, MAX_KERNEL_EVENTS, netev__ms_ceil(timeout_us));
}

static int ep_wait(netev_loop *loop, int64_t timeout_us)
{
    epoll_state *st = loop->bstate;
    int n = kernel_wait(st, timeout_us);
    if (n < 0)
        return errno == EINTR ? 0 : netev__map_errno(errno);
    int woken = 0;
    for (int i = 0; i < n; i++) {
        struct epoll_event *e = &st->events[i];
        if (e->data.u64 == WAKE_TAG) {
            netev__drain_wakeup(loop);
            woken = 1;
        } else {
            netev__ready(loop, (netev_socket)e->data.u64, readiness(e->events));
        }
    }
    return woken;
}

const netev__backend netev__backend_epoll = {
    .name = "epoll",
    .init = ep_init,
    .free = ep_free,
    .add = ep_add,
    .del = ep_del,
    .update = 0,
    .wait = ep_wait,
};
