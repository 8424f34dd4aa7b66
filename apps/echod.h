/* echod: the seed's echo server, on netev sessions. */
#ifndef ECHOD_H
#define ECHOD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "netev.h"

#define ECHOD_MAX_WORKERS 256
#define ECHOD_MAX_WORKERS_TEXT "256"
/* Upper limits of --max-conns and --max-pending, in the error messages and
 * --help as the _TEXT forms (docs/echod.md and echod.1 give them too). */
#define ECHOD_MAX_CONNS 100000000ull
#define ECHOD_MAX_CONNS_TEXT "100000000"
#define ECHOD_MAX_PENDING (1ull << 40)
#define ECHOD_MAX_PENDING_TEXT "1024g (1 TiB)"

typedef struct echod_options {
    int port;
    const char *bind;
    const char *backend; /* NULL: netev's default ($NETEV_BACKEND, else epoll on Linux) */
    size_t max_conns;    /* 0 = no limit */
    size_t max_pending;
    int workers;         /* processes sharing the port (SO_REUSEPORT); 1 = this one only */
    int verbose, trace, quiet;
} echod_options;

typedef struct echod_totals {
    uint64_t accepted, rejected, bytes_in, bytes_out;
} echod_totals;

/* Returns -1 to go on, else the exit status (0 after --help/--version, 2 for a bad command line). */
int echod_parse_options(int argc, char **argv, echod_options *o);

/* Called once the listener is open: its port (what port 0 became) and the backend. */
typedef void echod_listening_fn(void *arg, int port, const char *backend);

/* One server loop (echod.c): opens the listener on port (shared: with
 * SO_REUSEPORT, for workers), calls listening(), serves until SIGINT or
 * SIGTERM.  Fills *t and *stopped_by (the signal, 0 if it stopped on an
 * error).  Returns the exit status: 0 when stopped by a signal, 1 if it
 * could not listen or run (the reason is on stderr). */
int echod_serve(const echod_options *o, int port, int shared, echod_listening_fn *listening, void *arg,
                echod_totals *t, int *stopped_by);

/* --workers N (echod_workers.c): N processes each run echod_serve on one
 * shared port; this one starts them, forwards SIGINT/SIGTERM, and prints
 * the start line and the summed summary.  Returns the exit status. */
int echod_workers(const echod_options *o);

/* echod_records.c: the records of one pass -- those kept from the last
 * (sessions still reading after the peer's FIN) at ev[0..kept), then the
 * wait's.  room() makes space for want records after the kept ones and
 * returns where they go (less space, cap - kept, if memory ran out; NULL
 * before the first allocation succeeded); merge() folds the n new records of
 * kept sockets into theirs and returns the pass's count; keep() keeps the
 * records still holding READ or CLOSE for the next pass. */
typedef struct echod_records {
    netev_event *ev;
    int cap, kept;
} echod_records;
netev_event *echod_records_room(echod_records *r, int want);
int echod_records_merge(echod_records *r, int n);
void echod_records_keep(echod_records *r, int n);
void echod_records_free(echod_records *r);

/* echod_listen.c: 0, or 1 once the reason is on stderr.  The address must
 * parse before anything listens; with --workers on a fixed port, no other
 * listener may hold the port (see there). */
int echod_check_address(const echod_options *o);
int echod_check_port_free(const echod_options *o);
/* "echod: cannot listen on BIND port PORT: why" on stderr, for a NETEV_E* err. */
void echod_print_listen_error(const char *bind, int port, int err);

double echod_seconds_since(const struct timespec *t0);
void echod_print_stopped(int sig, double seconds, const echod_totals *t);

#endif
