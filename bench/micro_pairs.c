/* Core micro-benchmark (issue 2, section 5): what does netev cost over a bare,
 * hand-written epoll loop doing the same work?
 *
 * N TCP connections over loopback.  This process holds one end of each (the
 * driven end), a child process holds the other and echoes everything back
 * (a plain level-triggered epoll loop, the same in every run).  One 64-byte
 * token per connection goes round and round.  The driven ends are served in
 * turn by netev (netev_wait, netev_recv, netev_send) and by two bare loops:
 * level-triggered epoll with one recv per event (the textbook loop) and
 * edge-triggered epoll reading until a short read (what netev's backend does
 * underneath).  An event is one readable socket served: one receive, one send.
 * The variants take turns, round after round, on the same connections; the
 * medians of events per second, their ratios and the driver's CPU time per
 * event are printed.
 *
 * Two processes because N = 10,000 needs 20,000 descriptors and this machine
 * caps RLIMIT_NOFILE at 20,000 per process.  The child runs on the other CPU,
 * so that the driven side is the bottleneck and its cost shows in the rate. */
#define _GNU_SOURCE
#include "netev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define TOKEN 64
#define MAX_EVENTS 1024
#define BUF 4096

typedef struct result {
    double events_per_s;
    double cpu_ns_per_event;
    double batch; /* events per wait call */
    double child_ns_per_event;
} result;

static pid_t child_pid;

/* The echo child's utime+stime in seconds (clock ticks). */
static double child_cpu(void)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)child_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set); /* best effort */
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- the child: echoes every connection until all are closed ---- */

static void send_all_slowly(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, 100); /* never happens with one token per connection */
        } else {
            return;
        }
    }
}

#define CONNECT_STEP 1000 /* the child connects this many, then waits for the parent to accept them */

static void reflector(int port, int n, int accepted_fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < n; i++) {
        char step;
        /* Keeps the accept queue short: a burst of 10,000 would overflow it (SYN cookies). */
        if (i && i % CONNECT_STEP == 0 && read(accepted_fd, &step, 1) != 1)
            die("reflector pacing");
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
            die("reflector connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("epoll_ctl");
    }
    static struct epoll_event evs[MAX_EVENTS];
    static char buf[BUF];
    int open = n;
    while (open > 0) {
        int k = epoll_wait(ep, evs, MAX_EVENTS, -1);
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r > 0) {
                send_all_slowly(fd, buf, (size_t)r);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(fd);
                open--;
            }
        }
    }
    _exit(0);
}

/* ---- the driven side ---- */

static int *open_pairs(int n, pid_t *child, int child_cpu_no)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, SOMAXCONN) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &len) < 0)
        die("listener");
    int pacing[2];
    if (pipe2(pacing, O_CLOEXEC) < 0)
        die("pipe");
    fflush(stdout);
    *child = fork();
    if (*child < 0)
        die("fork");
    if (*child == 0) {
        close(l);
        close(pacing[1]);
        if (child_cpu_no >= 0)
            pin(child_cpu_no);
        reflector(ntohs(a.sin_port), n, pacing[0]);
    }
    close(pacing[0]);
    int *fds = malloc((size_t)n * sizeof *fds);
    if (!fds)
        die("malloc");
    for (int i = 0; i < n; i++) {
        fds[i] = accept4(l, 0, 0, SOCK_CLOEXEC);
        if (fds[i] < 0)
            die("accept");
        int one = 1;
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((i + 1) % CONNECT_STEP == 0 && write(pacing[1], "", 1) != 1)
            die("pacing");
    }
    close(pacing[1]);
    close(l);
    /* One token per connection, sent from this side: the child sends it back. */
    char token[TOKEN];
    memset(token, 'x', sizeof token);
    for (int i = 0; i < n; i++)
        if (send(fds[i], token, sizeof token, MSG_NOSIGNAL) != TOKEN)
            die("send token");
    return fds;
}

static void close_pairs(int *fds, int n, pid_t child)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    for (int i = 0; i < 100; i++) { /* the child exits once it has seen every EOF */
        if (waitpid(child, 0, WNOHANG) == child)
            return;
        usleep(50000);
    }
    kill(child, SIGKILL);
    waitpid(child, 0, 0);
}

static void echo_failed(const char *how)
{
    fprintf(stderr, "micro_pairs: %s\n", how);
    exit(1);
}

static result run_netev(const int *fds, int n, double seconds, const char *backend)
{
    static netev_event recs[MAX_EVENTS];
    static char buf[BUF];
    netev_loop *loop = netev_loop_new(backend);
    if (!loop)
        die("netev_loop_new");
    for (int i = 0; i < n; i++)
        if (netev_select(loop, fds[i], NETEV_READ | NETEV_CLOSE, 0) < 0)
            echo_failed("netev_select");
    uint64_t events = 0, waits = 0;
    double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), t = t0, k0 = child_cpu();
    while (t - t0 < seconds) {
        int k = netev_wait(loop, recs, MAX_EVENTS, 100);
        waits++;
        if (k < 0)
            echo_failed("netev_wait");
        for (int i = 0; i < k; i++) {
            if (!(recs[i].events & NETEV_READ))
                continue;
            ptrdiff_t r = netev_recv(loop, recs[i].sock, buf, sizeof buf, 0);
            if (r > 0 && netev_send(loop, recs[i].sock, buf, (size_t)r, 0) != r)
                echo_failed("short send (netev)");
            events++;
        }
        t = now_s(CLOCK_MONOTONIC);
    }
    double cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0, kid = child_cpu() - k0;
    netev_loop_free(loop); /* the sockets stay open, for the next run */
    return (result){(double)events / (t - t0), cpu * 1e9 / (double)events, (double)events / (double)waits,
                    kid * 1e9 / (double)events};
}

/* edge = 0: level-triggered, one recv per event (the textbook loop).
 * edge = 1: edge-triggered, recv until a short read (what netev's epoll
 * backend does underneath, without the event-select bookkeeping). */
static result run_bare(const int *fds, int n, double seconds, int edge)
{
    static struct epoll_event evs[MAX_EVENTS];
    static char buf[BUF];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN | (edge ? EPOLLET : 0u), .data.fd = fds[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
            die("epoll_ctl");
    }
    uint64_t events = 0, waits = 0;
    double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), t = t0, k0 = child_cpu();
    while (t - t0 < seconds) {
        int k = epoll_wait(ep, evs, MAX_EVENTS, 100);
        waits++;
        if (k < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            ssize_t r;
            do {
                r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (r > 0 && send(fd, buf, (size_t)r, MSG_NOSIGNAL | MSG_DONTWAIT) != r)
                    echo_failed("short send (bare)");
            } while (edge && r == (ssize_t)sizeof buf);
            events++;
        }
        t = now_s(CLOCK_MONOTONIC);
    }
    double cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0, kid = child_cpu() - k0;
    close(ep);
    return (result){(double)events / (t - t0), cpu * 1e9 / (double)events, (double)events / (double)waits,
                    kid * 1e9 / (double)events};
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void)
{
    fputs("usage: micro_pairs [-n N,N,...] [-t SECONDS] [-r ROUNDS] [-b BACKEND] [--only netev|lt|et]\n"
          "                   [--split] [--no-pin] [-v]\n"
          "  netev against bare epoll loops on N loopback connections (default 1,100,10000),\n"
          "  ROUNDS rounds (default 7) of SECONDS (default 0.5) per variant, in turn; medians.\n"
          "  Both processes share the last CPU (steady: each runs while the other waits);\n"
          "  --split puts the echo child on CPU 0 and the driver on CPU 1 (a pipeline: less steady).\n"
          "  --only runs one variant (for perf or strace); -v: events per wait call and the\n"
          "  echo child's CPU time per event.\n",
          stderr);
    exit(2);
}

static const char *const variant_name[] = {"netev", "lt", "et"};

int main(int argc, char **argv)
{
    enum { NETEV, LT, ET, NVAR };
    int ns[16], nn = 0, rounds = 7, pin_cpus = 1, split = 0, verbose = 0, only = -1;
    double seconds = 0.5;
    const char *backend = "epoll";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            nn = 0;
            for (char *p = strtok(argv[++i], ","); p && nn < 16; p = strtok(0, ","))
                if ((ns[nn++] = atoi(p)) < 1)
                    usage();
        } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            if ((seconds = atof(argv[++i])) <= 0)
                usage();
        } else if (!strcmp(argv[i], "-r") && i + 1 < argc) {
            if ((rounds = atoi(argv[++i])) < 1 || rounds > 100)
                usage();
        } else if (!strcmp(argv[i], "-b") && i + 1 < argc) {
            backend = argv[++i];
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            i++;
            for (int v = 0; v < NVAR; v++)
                if (!strcmp(argv[i], variant_name[v]))
                    only = v;
            if (only < 0)
                usage();
        } else if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else if (!strcmp(argv[i], "--split")) {
            split = 1;
        } else if (!strcmp(argv[i], "--no-pin")) {
            pin_cpus = 0;
        } else {
            usage();
        }
    }
    if (!nn) {
        ns[nn++] = 1;
        ns[nn++] = 100;
        ns[nn++] = 10000;
    }
    raise_nofile();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (split && ncpu < 2)
        split = 0;
    int driver_cpu = -1, child_cpu_no = -1;
    if (pin_cpus) {
        driver_cpu = (int)(ncpu > 0 ? ncpu - 1 : 0);
        child_cpu_no = split ? 0 : driver_cpu;
        pin(driver_cpu);
    }
    printf("micro_pairs: netev (%s backend) vs bare epoll loops; %d round%s x %.2g s each, in turn; ", backend,
           rounds, rounds == 1 ? "" : "s", seconds);
    if (pin_cpus)
        printf("driver on CPU %d, echo child on CPU %d\n", driver_cpu, child_cpu_no);
    else
        printf("not pinned\n");
    printf("%6s %11s %11s %11s %7s %7s %9s %9s %9s %7s\n", "N", "netev ev/s", "LT ev/s", "ET ev/s", "/LT", "/ET",
           "netev ns", "LT ns", "ET ns", "cost");
    static double rate[NVAR][100], cpu[NVAR][100], batch[NVAR][100], kid[NVAR][100];
    for (int k = 0; k < nn; k++) {
        pid_t child;
        int *fds = open_pairs(ns[k], &child, child_cpu_no);
        child_pid = child;
        for (int r = 0; r < rounds; r++) {
            for (int j = 0; j < NVAR; j++) {
                int v = (r + j) % NVAR; /* each variant goes first in turn */
                if (only >= 0 && v != only)
                    continue;
                result x = v == NETEV ? run_netev(fds, ns[k], seconds, backend)
                                      : run_bare(fds, ns[k], seconds, v == ET);
                rate[v][r] = x.events_per_s;
                cpu[v][r] = x.cpu_ns_per_event;
                batch[v][r] = x.batch;
                kid[v][r] = x.child_ns_per_event;
            }
        }
        close_pairs(fds, ns[k], child);
        double m[NVAR], c[NVAR], b[NVAR], kc[NVAR];
        for (int v = 0; v < NVAR; v++) {
            m[v] = median(rate[v], rounds);
            c[v] = median(cpu[v], rounds);
            b[v] = median(batch[v], rounds);
            kc[v] = median(kid[v], rounds);
        }
        double cheaper = c[LT] < c[ET] ? c[LT] : c[ET];
        printf("%6d %11.0f %11.0f %11.0f %7.3f %7.3f %9.0f %9.0f %9.0f %7.3f\n", ns[k], m[NETEV], m[LT], m[ET],
               m[NETEV] / m[LT], m[NETEV] / m[ET], c[NETEV], c[LT], c[ET], cheaper / c[NETEV]);
        if (verbose)
            printf("%6s events per wait: %.1f %.1f %.1f; echo child ns/event: %.0f %.0f %.0f\n", "", b[NETEV], b[LT],
                   b[ET], kc[NETEV], kc[LT], kc[ET]);
        fflush(stdout);
    }
    printf("ev/s: events (readable sockets served) per second, median of the rounds; /LT, /ET: netev's rate\n"
           "over the level- and edge-triggered bare loop's; ns: the driver's CPU time per event (median);\n"
           "cost: the cheaper bare loop's CPU time per event over netev's (1 = netev costs nothing extra).\n");
    return 0;
}
