/* echobench: a load generator for TCP echo servers, built on netev.
 *
 * Opens -c connections (over -T threads, each with its own netev loop), then
 * keeps -d messages of -s bytes in flight on each for -t seconds (or until -n
 * messages came back), checks every echoed byte (after -t, also those of the
 * messages still in flight: the drain), and reports messages/s, MB/s,
 * latency percentiles, connect time and errors.  The main thread only steers
 * the phases and prints progress; see --help for the modes. */
#define _GNU_SOURCE
#include "echobench/config.h"
#include "echobench/hist.h"
#include "echobench/report.h"
#include "echobench/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#define TICK_NS 20000000LL /* how often the main thread looks at the workers */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

/* ---- setup ---- */

/* Raises RLIMIT_NOFILE as far as allowed; fails if the connections cannot
 * fit.  --reconnect too: its -c slots each hold a connection at once (and one
 * closed in a cycle frees its descriptor before the next is opened). */
static int raise_nofile(const eb_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t need = (rlim_t)cfg->conns + 2 * (rlim_t)cfg->threads + 16;
    if (rl.rlim_cur == RLIM_INFINITY || need <= rl.rlim_cur)
        return 0;
    fprintf(stderr,
            "echobench: %d connections need about %llu descriptors, but RLIMIT_NOFILE allows %llu\n"
            "  (hard limit %llu).  Run several echobench processes, each with its own --source\n"
            "  address (127.0.0.2, 127.0.0.3, ...), and add up their reports.\n",
            cfg->conns, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
            (unsigned long long)rl.rlim_max);
    return -1;
}

static long port_range_size(void)
{
    long lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &lo, &hi) != 2)
            lo = 32768, hi = 60999;
        fclose(f);
    }
    return hi >= lo ? hi - lo + 1 : 1;
}

/* The source addresses connections are spread over (0 = the kernel's choice):
 * one address gives each destination at most the local port range. */
static int pick_sources(eb_config *cfg, struct sockaddr_storage **out)
{
    *out = 0;
    long per_addr = port_range_size() * 9 / 10; /* leave some ports to everybody else */
    int n = cfg->sources;
    if (!n && cfg->source)
        n = 1;
    if (!n && cfg->mode != EB_RECONNECT && cfg->conns > per_addr)
        n = (int)((cfg->conns + per_addr - 1) / per_addr);
    if (!n)
        return 0;
    if (!cfg->source) {
        struct sockaddr_in *a = (struct sockaddr_in *)&cfg->src;
        const struct sockaddr_in *dst = (const struct sockaddr_in *)&cfg->addr;
        if (cfg->addr.ss_family != AF_INET || (ntohl(dst->sin_addr.s_addr) >> 24) != 127) {
            fprintf(stderr, "echobench: %d source addresses are needed; the default ones (127.0.0.2, ...) "
                            "reach 127.0.0.1 only: give the first with --source ADDR\n", n);
            return -1;
        }
        memset(a, 0, sizeof *a);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(0x7f000002); /* 127.0.0.2: every 127/8 address is local */
    }
    if (n > 1 && cfg->src.ss_family != AF_INET) {
        fprintf(stderr, "echobench: several source addresses work with IPv4 only\n");
        return -1;
    }
    struct sockaddr_storage *s = calloc((size_t)n, sizeof *s);
    if (!s)
        return -1;
    for (int i = 0; i < n; i++) {
        s[i] = cfg->src;
        if (s[i].ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&s[i];
            a->sin_port = 0;
            a->sin_addr.s_addr = htonl(ntohl(a->sin_addr.s_addr) + (uint32_t)i);
        } else {
            ((struct sockaddr_in6 *)&s[i])->sin6_port = 0;
        }
    }
    *out = s;
    return n;
}

static unsigned char *make_pattern(void)
{
    unsigned char *p = malloc(EB_PATTERN_LEN + EB_CHUNK);
    if (!p)
        return 0;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < EB_PATTERN_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
    /* Wraps around, so that every chunk from any offset is contiguous (a
     * forward copy: the tail is longer than the pattern). */
    for (size_t i = EB_PATTERN_LEN; i < EB_PATTERN_LEN + EB_CHUNK; i++)
        p[i] = p[i - EB_PATTERN_LEN];
    return p;
}

/* utime + stime of a process, in seconds; < 0 if unknown. */
static double process_cpu(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy seconds of CPU `cpu` since boot: user, nice, system, irq and softirq
 * time of /proc/stat (idle, iowait and stolen time are not ours).  Softirq
 * work that the kernel hands to ksoftirqd is charged to that thread, not to
 * the server that caused it, so for a server pinned to its CPU this sees
 * what --server-pid misses.  -1 when there is no such CPU. */
static double core_busy(int cpu)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[512], want[32];
    int wl = snprintf(want, sizeof want, "cpu%d ", cpu);
    double busy = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v[7];
        if (strncmp(line, want, (size_t)wl) == 0 &&
            sscanf(line + wl, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6]) == 7) {
            busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)sysconf(_SC_CLK_TCK);
            break;
        }
    }
    fclose(f);
    return busy;
}

static double own_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, 0); /* a signal cuts it short: fine, the caller looks again */
}

/* ---- what the workers did ---- */

typedef struct totals {
    uint64_t msgs, up, resolved, settled, connect_fail, mismatch, lost, timeouts;
    int done;
} totals;

static uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static totals sum_workers(eb_worker *w, int n)
{
    totals t = {0};
    for (int i = 0; i < n; i++) {
        t.msgs += get(&w[i].ctr.msgs);
        t.up += get(&w[i].ctr.up);
        t.resolved += get(&w[i].ctr.resolved);
        t.settled += get(&w[i].ctr.settled);
        t.connect_fail += get(&w[i].ctr.connect_fail);
        t.mismatch += get(&w[i].ctr.mismatch);
        t.lost += get(&w[i].ctr.lost);
        t.timeouts += get(&w[i].ctr.timeouts);
        t.done += atomic_load(&w[i].done);
    }
    return t;
}

static void snapshot_hists(eb_worker *w, int n, eb_hist *lat, eb_hist *conn_lat)
{
    static eb_hist one;
    eb_hist_clear(lat);
    if (conn_lat)
        eb_hist_clear(conn_lat);
    for (int i = 0; i < n; i++) {
        eb_hist_snapshot(&w[i].lat, &one);
        eb_hist_merge(lat, &one);
        if (conn_lat) {
            eb_hist_snapshot(&w[i].conn_lat, &one);
            eb_hist_merge(conn_lat, &one);
        }
    }
}

static uint64_t errors_of(const totals *t)
{
    return t->connect_fail + t->mismatch + t->lost + t->timeouts;
}

/* ---- progress ---- */

typedef struct progress {
    eb_shared *sh; /* progress_open: the line drawn on the terminal, shared with eb_say */
    int on, tty;
    int64_t next;
    int64_t last_t; /* ns: when last_msgs was read (0: not yet in the window) */
    uint64_t last_msgs;
    eb_hist last_lat, now_lat, diff;
} progress;

enum stage { STAGE_CONNECT, STAGE_WARM, STAGE_WINDOW, STAGE_DRAIN };

static void progress_line(progress *p, const eb_config *cfg, eb_worker *w, int64_t now, double elapsed,
                          int64_t t_go, enum stage stage)
{
    totals t = sum_workers(w, cfg->threads);
    char line[256];
    if (stage == STAGE_CONNECT) {
        snprintf(line, sizeof line, "[%5.1fs] connecting %llu/%d  errors %llu", elapsed,
                 (unsigned long long)t.resolved, cfg->conns, (unsigned long long)errors_of(&t));
    } else if (stage == STAGE_WARM) {
        snprintf(line, sizeof line, "[%5.1fs] warming up: not measured  conns %llu/%d  errors %llu", elapsed,
                 (unsigned long long)t.up, cfg->conns, (unsigned long long)errors_of(&t));
    } else if (stage == STAGE_DRAIN) {
        snprintf(line, sizeof line, "[%5.1fs] draining: waiting for the echoes still due  conns %llu/%d  errors %llu",
                 elapsed, (unsigned long long)t.up, cfg->conns, (unsigned long long)errors_of(&t));
    } else if (cfg->mode == EB_IDLE) {
        snprintf(line, sizeof line, "[%5.1fs] idle: conns %llu/%d  errors %llu", elapsed, (unsigned long long)t.up,
                 cfg->conns, (unsigned long long)errors_of(&t));
    } else {
        snapshot_hists(w, cfg->threads, &p->now_lat, 0);
        eb_hist_diff(&p->diff, &p->now_lat, &p->last_lat);
        p->last_lat = p->now_lat;
        uint64_t d = t.msgs - p->last_msgs;
        p->last_msgs = t.msgs;
        /* Per second of what this line covers: the first line of the window
         * covers only the part of the second after the connect phase, and
         * a line that comes late covers more than a second. */
        int64_t since = p->last_t ? p->last_t : t_go;
        p->last_t = now;
        double per_s = now > since ? (double)d * 1e9 / (double)(now - since) : 0;
        snprintf(line, sizeof line, "[%5.1fs] %9.0f %s/s  %8.2f MB/s  p99 %8.1f us  conns %llu/%d  errors %llu",
                 elapsed, per_s, cfg->mode == EB_RECONNECT ? "conn" : "msgs",
                 per_s * (double)cfg->size / 1e6, (double)eb_hist_quantile(&p->diff, 0.99) / 1000.0,
                 (unsigned long long)t.up, cfg->conns, (unsigned long long)errors_of(&t));
    }
    flockfile(stderr);
    if (p->tty) {
        fprintf(stderr, "\r%s\033[K", line);
        p->sh->progress_open = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
    funlockfile(stderr);
}

static void progress_end(progress *p)
{
    flockfile(stderr);
    if (p->sh->progress_open)
        fputc('\n', stderr);
    p->sh->progress_open = 0;
    funlockfile(stderr);
}

/* ---- main ---- */

static void wake_all(eb_worker *w, int n)
{
    for (int i = 0; i < n; i++)
        netev_wakeup(w[i].loop);
}

static void set_phase(eb_shared *sh, eb_worker *w, int n, int ph)
{
    atomic_store_explicit(&sh->phase, ph, memory_order_release);
    wake_all(w, n);
}

static int start_workers(eb_config *cfg, eb_shared *sh, eb_worker *w)
{
    int T = cfg->threads;
    uint32_t first = 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals go to the main thread */
    int err = 0;
    for (int i = 0; i < T && !err; i++) {
        w[i].sh = sh;
        w[i].index = i;
        w[i].nconns = cfg->conns / T + (i < cfg->conns % T);
        w[i].first_id = first;
        first += (uint32_t)w[i].nconns;
        w[i].has_quota = cfg->messages > 0; /* a share may be 0: -n below -T */
        if (cfg->messages)
            w[i].quota = cfg->messages / (uint64_t)T + ((uint64_t)i < cfg->messages % (uint64_t)T);
        w[i].rate = cfg->rate / T;
        w[i].ramp = cfg->ramp / T;
        w[i].loop = netev_loop_new(NULL);
        if (!w[i].loop) {
            fprintf(stderr, "echobench: netev_loop_new: %s\n", strerror(errno));
            err = -1;
        } else if (pthread_create(&w[i].thread, 0, eb_worker_main, &w[i])) {
            fprintf(stderr, "echobench: cannot start thread %d\n", i);
            netev_loop_free(w[i].loop);
            w[i].loop = 0;
            err = -1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, 0);
    return err;
}

/* What main steers, and the readings taken when the window opened. */
typedef struct bench {
    eb_config *cfg;
    eb_shared *sh;
    eb_worker *w;
    progress *pr;
    eb_summary *sum;
    int flowing; /* traffic has started: the warm-up (--warmup), then the window */
    int running; /* the window has opened */
    int idle_announced;
    int64_t t_start, t_flow, t_go, t_ready;
    double server_cpu0, core0, client_cpu0;
} bench;

static void tick_progress(bench *b, int64_t now, enum stage stage)
{
    progress *pr = b->pr;
    if (pr->on && now >= pr->next) {
        progress_line(pr, b->cfg, b->w, now, (double)(now - b->t_start) / 1e9, b->t_go, stage);
        pr->next += 1000000000LL;
    }
}

/* The measured window starts: what the report counts is counted from here. */
static void open_window(bench *b, int64_t now)
{
    const eb_config *cfg = b->cfg;
    b->running = 1;
    b->t_go = now;
    b->server_cpu0 = cfg->server_pid ? process_cpu(cfg->server_pid) : -1;
    b->core0 = cfg->server_core >= 0 ? core_busy(cfg->server_core) : -1;
    b->client_cpu0 = own_cpu();
    set_phase(b->sh, b->w, cfg->threads, EB_PHASE_RUN);
}

/* Every connection is up or failed: traffic starts, with the warm-up if
 * there is one, else with the window. */
static void start_flow(bench *b, int64_t now)
{
    const eb_config *cfg = b->cfg;
    b->flowing = 1;
    b->t_flow = now;
    int64_t last = b->t_start;
    for (int i = 0; i < cfg->threads; i++)
        if (atomic_load(&b->w[i].t_resolved) > last)
            last = atomic_load(&b->w[i].t_resolved);
    /* --reconnect has no connect phase: 0 (bench/run_bench.py reads the number). */
    b->sum->connect_seconds = cfg->mode == EB_RECONNECT ? 0 : (double)(last - b->t_start) / 1e9;
    atomic_store(&b->sh->t_go, now);
    if (cfg->warmup > 0)
        set_phase(b->sh, b->w, cfg->threads, EB_PHASE_WARM);
    else
        open_window(b, now);
}

/* Whether the window is over: quota done, nothing left alive, or -t ran out
 * (--idle: counted from when every probe settled). */
static int window_over(bench *b, const totals *t, int64_t now)
{
    const eb_config *cfg = b->cfg;
    if (t->done == cfg->threads)
        return 1;
    if (cfg->mode != EB_RECONNECT && t->up == 0)
        return 1;
    if (cfg->mode != EB_IDLE)
        return cfg->duration > 0 && now - b->t_go >= (int64_t)(cfg->duration * 1e9);
    if (!b->idle_announced && t->settled >= (uint64_t)cfg->conns) {
        b->idle_announced = 1;
        b->t_ready = now;
        eb_say(b->sh, "%llu connections idle (%llu errors)", (unsigned long long)t->up,
               (unsigned long long)errors_of(t));
        fflush(stderr);
    }
    return b->idle_announced && cfg->duration > 0 && now - b->t_ready >= (int64_t)(cfg->duration * 1e9);
}

/* The connect phase, then the window, until it is over or a signal came. */
static void measure(bench *b)
{
    for (;;) {
        int64_t now = eb_now_ns();
        totals t = sum_workers(b->w, b->cfg->threads);
        if (got_signal) {
            b->sum->interrupted = 1;
            return;
        }
        /* The stage this tick's line reports: a window just opened has nothing to show yet. */
        enum stage stage = b->running ? STAGE_WINDOW : b->flowing ? STAGE_WARM : STAGE_CONNECT;
        if (!b->flowing && t.resolved >= (uint64_t)b->cfg->conns)
            start_flow(b, now);
        if (b->flowing && !b->running && now - b->t_flow >= (int64_t)(b->cfg->warmup * 1e9))
            open_window(b, now);
        if (b->running && window_over(b, &t, now))
            return;
        tick_progress(b, now, stage);
        sleep_ns(b->flowing ? TICK_NS : TICK_NS / 20); /* start the traffic soon after the last connect */
    }
}

/* The window closes: what the report measures (messages, latencies, CPU,
 * the window's length) is read here, whatever the drain does after it.
 * Returns whether to drain: after a window that ran out, echoes may still
 * be outstanding; after -n (every worker done) or a signal, none are
 * waited for. */
static int close_window(bench *b)
{
    const eb_config *cfg = b->cfg;
    eb_summary *sum = b->sum;
    int64_t t_end = eb_now_ns();
    totals t = sum_workers(b->w, cfg->threads);
    int drain = b->running && !sum->interrupted && t.done < cfg->threads;
    if (drain) {
        /* Workers count no echo once in DRAIN: read after it, so that the
         * messages and the latencies are those of the same window. */
        set_phase(b->sh, b->w, cfg->threads, EB_PHASE_DRAIN);
        t = sum_workers(b->w, cfg->threads);
    } else if (b->running && t.done == cfg->threads && !sum->interrupted) {
        int64_t last = 0; /* the window of -n ends with the last echo */
        for (int i = 0; i < cfg->threads; i++)
            if (atomic_load(&b->w[i].t_done) > last)
                last = atomic_load(&b->w[i].t_done);
        if (last > b->t_go)
            t_end = last;
    }
    snapshot_hists(b->w, cfg->threads, &sum->lat, &sum->conn_lat);
    sum->msgs = t.msgs;
    sum->conns_up = t.up;
    if (b->running) {
        sum->seconds = (double)(t_end - b->t_go) / 1e9;
        sum->client_cpu = own_cpu() - b->client_cpu0;
        double s1 = cfg->server_pid ? process_cpu(cfg->server_pid) : -1;
        sum->server_cpu = (b->server_cpu0 >= 0 && s1 >= 0) ? s1 - b->server_cpu0 : -1;
        double c1 = b->core0 >= 0 ? core_busy(cfg->server_core) : -1;
        sum->server_core = c1 >= 0 ? c1 - b->core0 : -1;
    } else {
        if (!b->flowing) /* else it was stopped in the warm-up, with every connection up */
            sum->connect_seconds = (double)(t_end - b->t_start) / 1e9;
        sum->server_cpu = -1;
        sum->server_core = -1;
    }
    return drain;
}

/* Phase DRAIN: workers issue nothing new and end when nothing of theirs is
 * in flight; an echo that does not come within --timeout is a timeout, a
 * connection closed meanwhile is lost.  Without it a server that never
 * echoed passed any -t shorter than --timeout.  A signal cuts it short. */
static void drain(bench *b)
{
    for (;;) {
        totals t = sum_workers(b->w, b->cfg->threads);
        if (t.done == b->cfg->threads)
            return;
        if (got_signal) {
            b->sum->interrupted = 1;
            return;
        }
        tick_progress(b, eb_now_ns(), STAGE_DRAIN);
        sleep_ns(TICK_NS);
    }
}

/* Stops the workers; the error counters are read after them, drain included. */
static void stop_workers(bench *b, int ok)
{
    const eb_config *cfg = b->cfg;
    set_phase(b->sh, b->w, cfg->threads, EB_PHASE_STOP);
    for (int i = 0; i < cfg->threads; i++) {
        if (b->w[i].loop) {
            pthread_join(b->w[i].thread, 0);
            netev_loop_free(b->w[i].loop);
        }
    }
    progress_end(b->pr);
    totals t = sum_workers(b->w, cfg->threads);
    eb_summary *sum = b->sum;
    sum->connect_fail = t.connect_fail;
    sum->mismatch = t.mismatch;
    sum->lost = t.lost;
    sum->timeouts = t.timeouts;
    if (!ok)
        sum->connect_fail += (uint64_t)cfg->conns - t.resolved;
}

/* A window that ran and saw no echo (or cycle) complete measured nothing:
 * that must not pass as a result of 0 messages/s, even when the drain found
 * no error (nothing was in flight, or the echoes came only after it). */
static int measured_nothing(const bench *b)
{
    const eb_summary *sum = b->sum;
    if (!b->running || sum->interrupted || b->cfg->mode == EB_IDLE || sum->msgs)
        return 0;
    fprintf(stderr, "echobench: no %s completed in the %.3f s window: nothing was measured\n",
            b->cfg->mode == EB_RECONNECT ? "cycle" : "echo", sum->seconds);
    return 1;
}

int main(int argc, char **argv)
{
    eb_config cfg;
    int st = eb_parse_args(argc, argv, &cfg);
    if (st >= 0)
        return st;
    if (cfg.server_core >= 0 && core_busy(cfg.server_core) < 0) {
        fprintf(stderr, "echobench: --server-core %d: no such CPU in /proc/stat\n", cfg.server_core);
        return 2;
    }
    /* Unread, the server's CPU was left out of the report without a word. */
    if (cfg.server_pid && process_cpu(cfg.server_pid) < 0) {
        fprintf(stderr, "echobench: --server-pid %d: no such process (no /proc/%d/stat)\n", cfg.server_pid,
                cfg.server_pid);
        return 2;
    }
    /* --rate sends on a schedule: the default 50 us of timer slack would
     * make every message late by up to that, and count it as latency.
     * The threads inherit the setting. */
    if (cfg.rate > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    if (raise_nofile(&cfg) < 0)
        return 2;
    struct sockaddr_storage *srcs;
    int nsrcs = pick_sources(&cfg, &srcs);
    if (nsrcs < 0)
        return 2;
    unsigned char *pattern = make_pattern();
    eb_shared *sh = calloc(1, sizeof *sh);
    eb_worker *w = calloc((size_t)cfg.threads, sizeof *w);
    progress *pr = calloc(1, sizeof *pr);
    eb_summary *sum = calloc(1, sizeof *sum);
    if (!pattern || !sh || !w || !pr || !sum) {
        fprintf(stderr, "echobench: out of memory\n");
        return 2;
    }
    sh->cfg = &cfg;
    sh->pattern = pattern;
    sh->srcs = srcs;
    sh->nsrcs = nsrcs;
    atomic_init(&sh->phase, EB_PHASE_CONNECT);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, 0);
    sigaction(SIGTERM, &sa, 0);

    bench b = {.cfg = &cfg, .sh = sh, .w = w, .pr = pr, .sum = sum, .t_start = eb_now_ns(), .server_cpu0 = -1,
               .core0 = -1};
    pr->sh = sh;
    sh->t_start = b.t_start;
    int ok = start_workers(&cfg, sh, w) == 0;
    pr->on = !cfg.quiet;
    pr->tty = isatty(STDERR_FILENO);
    pr->next = b.t_start + 1000000000LL;
    if (ok)
        measure(&b);
    if (close_window(&b))
        drain(&b);
    stop_workers(&b, ok);
    sum->cfg = &cfg;
    if (cfg.json)
        eb_report_json(stdout, sum);
    else
        eb_report_text(stdout, sum);
    fflush(stdout);
    int status = (eb_summary_errors(sum) || !ok || measured_nothing(&b)) ? 1 : 0;
    free(sum);
    free(pr);
    free(w);
    free(sh);
    free(pattern);
    free(srcs);
    return status;
}
