/* One client thread: its own netev loop and its share of the connections.
 * The main thread steers all workers through a shared phase and reads their
 * counters and histograms while they run (single writer, relaxed atomics). */
#ifndef ECHOBENCH_WORKER_H
#define ECHOBENCH_WORKER_H

#include "config.h"
#include "hist.h"
#include "netev.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* The payload: every connection's byte stream is this pattern from its own
 * offset on, so a byte echoed out of place, out of order or from another
 * connection does not match.  EB_CHUNK bytes past the end let any send or
 * compare of up to EB_CHUNK bytes stay contiguous. */
#define EB_PATTERN_LEN 65521u /* prime: streams of different sizes do not line up */
#define EB_CHUNK (64u * 1024u)

/* CONNECT: open the connections; WARM (--warmup): traffic as in RUN, not
 * measured; RUN: the measured window; DRAIN: after a window that ran out,
 * issue nothing new but check every echo still outstanding (timeouts and
 * lost connections count) until none is left; STOP: quit at once (also
 * straight from WARM or RUN, on a signal). */
enum eb_phase { EB_PHASE_CONNECT, EB_PHASE_WARM, EB_PHASE_RUN, EB_PHASE_DRAIN, EB_PHASE_STOP };

typedef struct eb_shared {
    const eb_config *cfg;
    const unsigned char *pattern; /* EB_PATTERN_LEN + EB_CHUNK bytes */
    const struct sockaddr_storage *srcs; /* source addresses, NULL = kernel's choice */
    int nsrcs;
    _Atomic int phase;
    int64_t t_start;      /* ns: start of the connect phase, set before the threads: --ramp's schedule */
    _Atomic int64_t t_go; /* ns: start of traffic (--rate's schedule), set before phase WARM or RUN */
    _Atomic int errors_printed; /* the first few errors are described on stderr */
    /* A progress line is drawn on the terminal, its cursor at its end: a
     * line from any thread starts on a new line (eb_say).  Read and
     * written under stderr's lock (flockfile). */
    int progress_open;
} eb_shared;

typedef struct eb_counters {
    _Atomic uint64_t msgs;         /* echoes completed in phase RUN (cycles with --reconnect) */
    _Atomic uint64_t up;           /* connections open now */
    _Atomic uint64_t resolved;     /* connections of the first round connected or failed */
    _Atomic uint64_t settled;      /* --idle: connections whose probe came back, or that died before */
    _Atomic uint64_t connect_fail; /* refused, timed out, no descriptor, ... */
    _Atomic uint64_t mismatch;     /* echoed bytes that differ from those sent */
    _Atomic uint64_t lost;         /* closed by the server or reset while in use */
    _Atomic uint64_t timeouts;     /* an echo slower than --timeout */
} eb_counters;

typedef struct eb_conn eb_conn;

typedef struct eb_worker {
    eb_shared *sh;
    int index;
    int nconns;          /* connection slots */
    uint32_t first_id;   /* global number of the first slot */
    int has_quota;       /* -n: stop after quota; without it, run until phase STOP */
    uint64_t quota;      /* echoes (cycles) this worker does under -n; may be 0 (-n below -T) */
    double rate;         /* its share of --rate in messages per second, 0 = closed loop */
    double ramp;         /* its share of --ramp in connections per second, 0 = at once */
    netev_loop *loop;    /* created by the main thread, so that it can wake it */
    pthread_t thread;

    eb_counters ctr;
    eb_hist_live lat;      /* echo latency (full cycle with --reconnect) */
    eb_hist_live conn_lat; /* connect latency */
    _Atomic int64_t t_resolved; /* ns: when the last connection of the first round connected or failed */
    _Atomic int done;      /* finished its quota, or had nothing left alive */
    _Atomic int64_t t_done;

    /* private to the worker thread */
    eb_conn *conns;
    int64_t *stamps;       /* depth send times per slot */
    int32_t *ready;        /* --rate: ring of slots that may take another message */
    int ready_head, ready_len;
    int32_t *pending;      /* slots with bytes to send before the next wait */
    netev_send_req *reqs;  /* send_pending's batch */
    int npending;
    int next_open, connecting;
    uint64_t issued, inflight, cycles_started, next_cycle_id;
    int64_t t_start, next_check;
} eb_worker;

/* Thread entry: runs until phase STOP, its quota is done, nothing is left
 * alive, or (phase DRAIN) nothing is left in flight. */
void *eb_worker_main(void *arg);

int64_t eb_now_ns(void);

/* Writes one line ("echobench: " and the message) to stderr from any
 * thread, below a progress line that is open on the terminal. */
void eb_say(eb_shared *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
