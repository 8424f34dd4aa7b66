/* echod --workers N: N processes serve one port.
 *
 * Why processes: a process here may hold at most 20,000 descriptors, and one
 * loop uses one core.  Each worker is a whole echod (echod_serve) with its own
 * loop and its own SO_REUSEPORT listener, so workers share nothing and never
 * wake each other; the kernel spreads clients among the listeners by a hash
 * of the client's address and port.  This process only starts the workers,
 * forwards SIGINT/SIGTERM, and sums their totals.
 *
 * A worker that dies stops the whole server (exit status 1): a supervisor
 * (systemd, a shell loop) restarts echod as a unit, and no half-sized server
 * keeps running unnoticed. */
#define _GNU_SOURCE
#include "echod.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* What a worker writes to its start pipe once it listens. */
typedef struct started {
    int port;
    char backend[16];
} started;

/* What a worker writes to the shared totals pipe as it exits: smaller than
 * PIPE_BUF, so one write is never interleaved with another worker's. */
typedef struct finished {
    echod_totals t;
    int status;
} finished;

typedef struct worker {
    pid_t pid;
    int running;
} worker;

/* Writes (or reads) exactly len bytes: 0, or -1 on an error or at EOF. */
static int transfer_all(int fd, void *buf, size_t len, int writing)
{
    char *p = buf;
    while (len) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void report_started(void *arg, int port, const char *backend)
{
    int fd = *(int *)arg;
    started s;
    memset(&s, 0, sizeof s);
    s.port = port;
    snprintf(s.backend, sizeof s.backend, "%s", backend);
    (void)transfer_all(fd, &s, sizeof s, 1);
    close(fd);
}

/* In the child: serve, hand in the totals, exit.  Never returns. */
static void worker_main(const echod_options *o, int port, int start_fd, int totals_fd, pid_t parent)
{
#ifdef __linux__
    /* Stopped with the parent, even if it is killed by SIGKILL: no orphaned
     * workers keep the port.  A parent gone before this call is seen below. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
#endif
    /* SIGINT and SIGTERM stay blocked until echod_serve catches them. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &chld, 0);
    finished f;
    memset(&f, 0, sizeof f);
    int sig;
    f.status = echod_serve(o, port, 1, report_started, &start_fd, &f.t, &sig);
    fflush(stdout);
    (void)transfer_all(totals_fd, &f, sizeof f, 1);
    _exit(f.status);
}

static void stop_all(worker *w, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (w[i].running)
            kill(w[i].pid, sig);
}

/* Forks worker i; 0 and its start record once it listens, -1 if it could not
 * (it has said why on stderr). */
static int start_worker(const echod_options *o, int port, int totals_fd, worker *w, started *s)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        fprintf(stderr, "echod: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(stdout); /* else the child would print our buffered lines again */
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "echod: cannot start a worker: %s\n", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        worker_main(o, port, p[1], totals_fd, parent);
    }
    close(p[1]);
    w->pid = pid;
    w->running = 1;
    int r = transfer_all(p[0], s, sizeof *s, 0);
    close(p[0]);
    if (r < 0) {
        /* It exited before listening and has said why, unless a signal killed it. */
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        w->running = 0;
        if (WIFSIGNALED(st))
            fprintf(stderr, "echod: worker (pid %ld) was killed by signal %d while starting\n", (long)pid,
                    WTERMSIG(st));
    }
    return r;
}

/* Reaps every exited worker; returns how many are still running.  A worker
 * that exits before we asked it to is reported and sets *failed. */
static int reap(worker *w, int n, int stopping, int *failed)
{
    int left = 0;
    for (int i = 0; i < n; i++) {
        if (!w[i].running)
            continue;
        int st;
        pid_t r = waitpid(w[i].pid, &st, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            left++;
            continue;
        }
        w[i].running = 0;
        int clean = r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (clean && stopping)
            continue;
        *failed = 1;
        if (r < 0)
            fprintf(stderr, "echod: worker %d (pid %ld): waitpid: %s\n", i + 1, (long)w[i].pid, strerror(errno));
        else if (WIFSIGNALED(st))
            fprintf(stderr, "echod: worker %d (pid %ld) was killed by signal %d%s\n", i + 1, (long)w[i].pid,
                    WTERMSIG(st), stopping ? "" : "; stopping the others");
        else
            fprintf(stderr, "echod: worker %d (pid %ld) exited with status %d%s\n", i + 1, (long)w[i].pid,
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1, stopping ? "" : "; stopping the others");
    }
    return left;
}

/* Sums what the workers handed in (each wrote once, before exiting). */
static void sum_totals(int fd, echod_totals *sum)
{
    memset(sum, 0, sizeof *sum);
    finished f;
    while (transfer_all(fd, &f, sizeof f, 0) == 0) {
        sum->accepted += f.t.accepted;
        sum->rejected += f.t.rejected;
        sum->bytes_in += f.t.bytes_in;
        sum->bytes_out += f.t.bytes_out;
    }
}

int echod_workers(const echod_options *o)
{
    if (o->port && echod_check_port_free(o)) /* port 0: the first worker gets a port of its own */
        return 1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Blocked before the first fork: a signal sent while workers start is
     * kept, here and in each worker, not lost and not fatal. */
    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGINT);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, SIGCHLD);
    sigprocmask(SIG_BLOCK, &waited, 0);
    int totals[2];
    if (pipe2(totals, O_CLOEXEC) < 0) {
        fprintf(stderr, "echod: pipe: %s\n", strerror(errno));
        return 1;
    }
    worker *w = calloc((size_t)o->workers, sizeof *w);
    if (!w) {
        fprintf(stderr, "echod: out of memory\n");
        return 1;
    }
    int port = o->port, failed = 0, stop_sig = 0, forced = 0;
    started s;
    for (int i = 0; i < o->workers && !failed; i++) {
        if (start_worker(o, port, totals[1], &w[i], &s) < 0)
            failed = 1;
        else
            port = s.port; /* port 0: the first worker's listener chose it; the others join it */
    }
    close(totals[1]);
    if (!failed && !o->quiet) {
        printf("echod: listening on %s port %d (backend %s, pid %ld, %d workers)\n", o->bind, port, s.backend,
               (long)getpid(), o->workers);
        fflush(stdout);
    }
    if (failed)
        stop_all(w, o->workers, SIGTERM);
    int stopping = failed;
    while (reap(w, o->workers, stopping, &failed) > 0) {
        if (failed && !stopping) {
            stopping = 1;
            stop_all(w, o->workers, SIGTERM);
        }
        siginfo_t info;
        int sig = sigwaitinfo(&waited, &info);
        if ((sig == SIGINT || sig == SIGTERM) && !stopping) {
            stop_sig = sig;
            stopping = 1;
            stop_all(w, o->workers, SIGTERM);
        } else if ((sig == SIGINT || sig == SIGTERM) && !forced) {
            /* Asked again while workers are still stopping (one hangs, or is
             * stopped): no more waiting. */
            fprintf(stderr, "echod: %s again: killing the workers still running\n",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
            forced = 1;
            stop_all(w, o->workers, SIGKILL);
        }
    }
    echod_totals sum;
    sum_totals(totals[0], &sum);
    close(totals[0]);
    free(w);
    if (stop_sig && !o->quiet) {
        echod_print_stopped(stop_sig, echod_seconds_since(&t0), &sum);
        fflush(stdout);
    }
    return failed || !stop_sig;
}
