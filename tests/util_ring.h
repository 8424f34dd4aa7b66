/* Test helpers for the batch calls' io_uring (src/ring.c): is there one,
 * does this process hold one, is it used, and does a batch still work where
 * io_uring_enter is refused.  Linux with NETEV_HAVE_RING only; elsewhere
 * the helpers say "no ring" and run nothing. */
#ifndef NETEV_TEST_UTIL_RING_H
#define NETEV_TEST_UTIL_RING_H

#include "util.h"

#include <stdio.h>

/* A batch test's subject: open() makes a loop and two sockets, two(round)
 * makes a batch of two requests on them and checks the results (round 0,
 * then 1: other bytes), close() frees it all. */
typedef struct util_batch_of_two {
    void (*open)(void *ctx);
    void (*two)(void *ctx, int round);
    void (*close)(void *ctx);
    void *ctx;
} util_batch_of_two;

/* A batch whose wait for completions fails outright (util_fake_lost_wait),
 * in a child process: open(ctx), then lost(ctx, ring) makes batches and
 * checks them (ring: 0 when NETEV_NO_IO_URING asks for none), the ring is
 * gone afterwards, close(ctx).  Not run (a line says so) where the fake
 * cannot be made. */
typedef struct util_lost_wait {
    void (*open)(void *ctx);
    void (*lost)(void *ctx, int ring);
    void (*close)(void *ctx);
    void *ctx;
} util_lost_wait;

#ifdef NETEV_HAVE_RING
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <ucontext.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* 1 when this process may make an io_uring. */
static inline int util_io_uring_here(void)
{
    struct io_uring_params prm;
    memset(&prm, 0, sizeof prm);
    int probe = (int)syscall(__NR_io_uring_setup, 4, &prm);
    if (probe < 0)
        return 0;
    close(probe);
    return 1;
}

/* io_uring descriptors this process holds. */
static inline int util_rings_open(void)
{
    int rings = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k > 0) {
            link[k] = 0;
            rings += strstr(link, "io_uring") != NULL;
        }
    }
    closedir(d);
    return rings;
}

/* NETEV_NO_IO_URING unset or "0": batches may use a ring. */
static inline int util_ring_wanted(void)
{
    const char *off = getenv("NETEV_NO_IO_URING");
    return !(off && *off && strcmp(off, "0"));
}

/* Where the process may make an io_uring, a batch uses one (it shows in
 * /proc/self/fd), unless NETEV_NO_IO_URING asks for none. */
static inline void util_check_ring_used(const util_batch_of_two *b)
{
    if (!util_io_uring_here()) {
        printf("# io_uring unavailable here: one system call per request\n");
        return;
    }
    b->open(b->ctx);
    b->two(b->ctx, 0);
    CHECK_EQ(util_rings_open(), util_ring_wanted());
    b->close(b->ctx);
}

/* Runs fn(ctx) in a forked child, which must exit 0: a seccomp filter
 * stays with the process that installs it. */
static inline void util_in_child(void (*fn)(void *), void *ctx)
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        fn(ctx);
        fflush(stdout);
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A ring that can be made but not entered (a seccomp filter refuses
 * io_uring_enter, in a child process, which must exit 0): every request is
 * still served, and the ring is let go and not tried again.  Not run (a
 * line says so) without io_uring or under valgrind, which does not take
 * seccomp filters. */
static inline void refused_ring_child(void *ctx)
{
    const util_batch_of_two *b = ctx;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof *f), f};
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
    b->open(b->ctx);
    b->two(b->ctx, 0);
    CHECK_EQ(util_rings_open(), 0); /* made, refused, let go */
    b->two(b->ctx, 1);
    CHECK_EQ(util_rings_open(), 0); /* not made again */
    b->close(b->ctx);
}

static inline void util_check_refused_ring(const util_batch_of_two *b)
{
    if (!util_io_uring_here() || util_slow() > 1) {
        printf("# io_uring unavailable here, or under valgrind: not run\n");
        return;
    }
    util_in_child(refused_ring_child, (void *)b);
}

#if defined(__x86_64__) && defined(REG_RAX)
/* io_uring_enter trapped (SIGSYS) and answered here: a submission "takes"
 * every entry without the kernel seeing one, and a wait for completions
 * fails with EFAULT -- what a kernel that lost requests would look like. */
static void util_lost_wait_sigsys(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    greg_t *g = ((ucontext_t *)ucv)->uc_mcontext.gregs; /* rsi: to_submit, r10: flags */
    g[REG_RAX] = (g[REG_R10] & IORING_ENTER_GETEVENTS) ? -EFAULT : g[REG_RSI];
}

/* Installs that for the rest of this process (a forked child); 1 when done,
 * 0 where it cannot be (not x86-64, no io_uring, or valgrind, which does
 * not take seccomp filters). */
static inline int util_fake_lost_wait(void)
{
    if (!util_io_uring_here() || util_slow() > 1)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = util_lost_wait_sigsys;
    sa.sa_flags = SA_SIGINFO;
    CHECK(sigaction(SIGSYS, &sa, NULL) == 0);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof *f), f};
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
    return 1;
}
#else
static inline int util_fake_lost_wait(void)
{
    return 0;
}
#endif


static inline void lost_wait_child(void *ctx)
{
    const util_lost_wait *t = ctx;
    t->open(t->ctx);
    if (!util_fake_lost_wait()) {
        printf("# no io_uring, not x86-64, or valgrind: not run\n");
    } else {
        t->lost(t->ctx, util_ring_wanted());
        CHECK_EQ(util_rings_open(), 0);
    }
    t->close(t->ctx);
}

/* Runs t (util_lost_wait) in a child process. */
static inline void util_check_lost_wait(const util_lost_wait *t)
{
    util_in_child(lost_wait_child, (void *)t);
}
#else
static inline int util_io_uring_here(void)
{
    return 0;
}
static inline int util_rings_open(void)
{
    return 0;
}
static inline void util_check_ring_used(const util_batch_of_two *b)
{
    (void)b;
    printf("# no io_uring in this build: one system call per request\n");
}
static inline void util_check_refused_ring(const util_batch_of_two *b)
{
    (void)b;
    printf("# no io_uring in this build: not run\n");
}
static inline void util_check_lost_wait(const util_lost_wait *t)
{
    (void)t;
    printf("# no io_uring in this build: not run\n");
}
#endif

#endif
