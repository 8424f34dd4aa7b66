/* echod: the seed's TCP echo server (port 7777), finished, on netev sessions.
 *
 * One thread, one loop: netev_wait hands out records, the listener's are
 * accepted, a session's go through netev_session_ready/recv/send_batch, which
 * keep the partial sends, the back-pressure and the peer's FIN.  In the
 * steady state a READ record costs one recv, and its echo goes out with the
 * batch's others in one netev_session_send_batch. */
#define _GNU_SOURCE
#include "echod.h"
#include "netev/session.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#define ACCEPT_BURST 64 /* accepts per ACCEPT record at most */
#define BATCH 1024       /* records per netev_wait: as many as the epoll backend fetches at once */
#define RECV_BUF (64 * 1024)

typedef struct echod {
    echod_options opt;
    netev_loop *loop;
    netev_sessions *tab;
    netev_socket listener;
    int out_of_fds; /* accept ran out of descriptors: said once, until one succeeds */
    echod_totals t;
    /* The last netev_wait's array: netev_close writes to it until the loop
     * is freed (it marks a closed socket's record), so it outlives serve(). */
    echod_records recs;
} echod;

/* ---- signals ----
 * The handler sets a flag and calls netev_wakeup(), which is async-signal-safe
 * here: it is an atomic exchange on a lock-free atomic_int (checked below) and
 * a write(2) to an eventfd or pipe, and touches nothing else.  errno is kept.
 * A signal that lands while the loop drains an earlier wakeup may find the
 * wakeup still pending and write nothing; that netev_wait is returning anyway,
 * and the flag is checked after every netev_wait. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "netev_wakeup must be lock-free to be called from a signal handler");

static netev_loop *volatile signal_loop;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    int saved = errno;
    stop_signal = sig;
    if (signal_loop)
        netev_wakeup(signal_loop);
    errno = saved;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, 0);
    sigaction(SIGTERM, &sa, 0);
    /* A worker starts with them blocked (echod_workers.c): one sent before
     * this point is pending, and is caught now. */
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &stops, 0);
    /* netev_send never raises SIGPIPE (MSG_NOSIGNAL), but --trace output to a
     * pipe whose reader went away (echod --trace | head) would: a write error
     * on stdout must not kill the server. */
    signal(SIGPIPE, SIG_IGN);
}

/* ---- output ---- */

static const char *peer_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(buf, len, "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(buf, len, "[%s]:%d", host, port);
    } else {
        snprintf(buf, len, "?");
    }
    return buf;
}

static void session_ended(echod *d, netev_socket s, int why)
{
    if (d->opt.trace)
        printf("Client Disconnected (%s)\n", netev_session_strerror(why));
    if (d->opt.verbose)
        printf("echod: fd %d disconnected: %s\n", (int)s, netev_session_strerror(why));
}

/* ---- accepting ---- */

static void accept_failed(echod *d, int err)
{
    if (err == NETEV_EAGAIN)
        return;
    if (err == NETEV_EMFILE || err == NETEV_ENFILE || err == NETEV_ENOBUFS || err == NETEV_ENOMEM) {
        /* The core reports ACCEPT again once a descriptor frees: no spinning,
         * no flood of lines.  Short of memory, the connection may already be
         * taken and closed (the session table could not grow), so that line
         * does not promise that it waits. */
        int memory = err == NETEV_ENOBUFS || err == NETEV_ENOMEM;
        if (!d->out_of_fds)
            fprintf(stderr, "echod: accept: %s; %s\n", netev_strerror(err),
                    memory ? "a connection waits until memory frees, or was closed at once"
                           : "connections wait until a descriptor frees");
        d->out_of_fds = 1;
        return;
    }
    fprintf(stderr, "echod: accept: %s\n", netev_strerror(err));
}

/* Accepts one connection; 0 when none was taken (queue empty, or an error). */
static int accept_one(echod *d)
{
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    netev_socket s;
    int err;
    if (d->opt.max_conns && netev_sessions_count(d->tab) >= d->opt.max_conns) {
        err = netev_accept(d->loop, d->listener, &s, (struct sockaddr *)&peer, &peer_len);
        if (err) {
            accept_failed(d, err);
            return 0;
        }
        netev_close(d->loop, s);
        d->t.rejected++;
        if (d->opt.verbose) {
            char text[64];
            printf("echod: rejected %s: --max-conns %zu reached\n", peer_text(&peer, text, sizeof text),
                   d->opt.max_conns);
        }
        return 1;
    }
    err = netev_session_accept(d->tab, d->listener, 0, &s, (struct sockaddr *)&peer, &peer_len);
    if (err) {
        accept_failed(d, err);
        return 0;
    }
    d->out_of_fds = 0;
    d->t.accepted++;
    if (d->opt.trace)
        printf("Client Connected\n");
    if (d->opt.verbose) {
        char text[64];
        printf("echod: fd %d connected from %s\n", (int)s, peer_text(&peer, text, sizeof text));
    }
    return 1;
}

/* Accepts while connections are queued, at most ACCEPT_BURST per ACCEPT
 * record.  One per record would be correct too (the core reports ACCEPT
 * again while connections remain queued), but every record costs a
 * netev_wait, and on the poll backend a wait scans every socket: with 19,000
 * sockets open, one accept per wait let a burst in at a few hundred
 * connections per second and clients timed out.  netev_accept already checks
 * the queue, so netev_recorded says whether to go on, and no accept is made
 * just to fail with EAGAIN.  The cap keeps a flood from delaying sessions. */
static void accept_burst(echod *d)
{
    for (int taken = 0; taken < ACCEPT_BURST && accept_one(d); taken++) {
        int more = netev_recorded(d->loop, d->listener);
        if (more <= 0 || !(more & NETEV_ACCEPT))
            break;
    }
}

/* ---- echoing ----
 * A pass serves its records in chunks, each in two steps: every session's
 * recv into its own slice of one arena, all in one netev_session_recv_batch,
 * then every echo in one netev_session_send_batch -- on Linux two
 * io_uring_enter for the chunk instead of a recv(2) and a send(2) per record
 * (bench/alternate.py: that is the saving a completion loop makes,
 * bench/peers/peer_uring.c).  Each record gets one recv per pass, so a
 * flooding client delays no one; after a peer's FIN the record is kept for
 * the next pass until the stream's end is read (echod_records.c). */

#define ARENA (256 * 1024)
#define MIN_SLICE (4 * 1024) /* the least room a recv gets */
#define CHUNK (ARENA / MIN_SLICE) /* recvs per chunk at most */

/* Touched whole at start: which pages a pass writes depends on how many
 * records it has, and memory that grows with the first big passes would
 * look like memory per connection. */
static char arena[ARENA];

typedef struct chunk {
    netev_session_recv_req recv[CHUNK];
    netev_send_req echo[CHUNK];
    netev_event *echo_of[CHUNK]; /* the record each echo answers */
    int n;
} chunk;

static void ended(echod *d, netev_event *ev, ptrdiff_t why)
{
    session_ended(d, ev->sock, (int)why);
    ev->events = 0; /* not kept for the next pass */
}

/* The chunk's recvs, then its echoes. */
static void serve_chunk(echod *d, chunk *c)
{
    netev_session_recv_batch(d->tab, c->recv, c->n);
    int k = 0;
    for (int j = 0; j < c->n; j++) {
        netev_session_recv_req *q = &c->recv[j];
        if (q->result < 0) {
            ended(d, q->ev, q->result);
        } else if (q->result > 0) {
            d->t.bytes_in += (uint64_t)q->result;
            if (d->opt.trace)
                printf("Recv Data = %td\n", q->result);
            c->echo[k] = (netev_send_req){q->ev->sock, q->buf, (size_t)q->result, 0, 0};
            c->echo_of[k++] = q->ev;
        }
    }
    netev_session_send_batch(d->tab, c->echo, k);
    for (int j = 0; j < k; j++) {
        ptrdiff_t sent = c->echo[j].result;
        if (sent < 0) { /* the send ended the session (one echo per session here) */
            ended(d, c->echo_of[j], sent);
            continue;
        }
        d->t.bytes_out += (uint64_t)sent;
        if (d->opt.trace)
            printf("Send Data = %td\n", sent);
    }
    c->n = 0;
}

/* What the backlog sends on WRITE; 0 if that ended the session. */
static int ready_session(echod *d, netev_event *ev)
{
    ptrdiff_t r = netev_session_ready(d->tab, ev);
    if (r < 0) {
        ended(d, ev, r);
        return 0;
    }
    if (r > 0) {
        d->t.bytes_out += (uint64_t)r;
        if (d->opt.trace)
            printf("Send Data = %td\n", r);
    }
    return 1;
}

static void serve_records(echod *d, netev_event *records, int n)
{
    static chunk c;
    /* The arena shared by the pass's records, at least MIN_SLICE and at
     * most RECV_BUF each: few records read much, many read in chunks. */
    size_t slice = ARENA / (size_t)(n > 0 ? n : 1);
    slice = slice < MIN_SLICE ? MIN_SLICE : slice > RECV_BUF ? RECV_BUF : slice;
    int per_chunk = (int)(ARENA / slice);
    for (int i = 0; i < n; i++) {
        netev_event *ev = &records[i];
        if (!ev->events)
            continue; /* its socket was closed while we walked the batch */
        if (ev->sock == d->listener) {
            accept_burst(d);
            ev->events = 0;
            continue;
        }
        /* Also without READ or CLOSE: the recv is where a session whose
         * stream has ended closes, once WRITE has drained its backlog. */
        if (!ready_session(d, ev))
            continue;
        c.recv[c.n] = (netev_session_recv_req){ev, arena + (size_t)c.n * slice, slice, 0};
        if (++c.n == per_chunk)
            serve_chunk(d, &c);
    }
    serve_chunk(d, &c); /* a session it ends has its events cleared: it is not kept */
}

static int serve(echod *d)
{
    echod_records *recs = &d->recs;
    int talking = d->opt.trace || d->opt.verbose, status = 0;
    while (!stop_signal) {
        if (talking)
            fflush(stdout);
        netev_event *fresh = echod_records_room(recs, BATCH);
        int room = recs->cap - recs->kept, n = 0;
        if (!fresh) {
            fprintf(stderr, "echod: out of memory for %d records\n", BATCH);
            status = 1;
            break;
        }
        /* Kept records have reading to do: look for new events without waiting. */
        if (room > 0)
            n = netev_wait(d->loop, fresh, room, recs->kept ? 0 : -1);
        if (n < 0) {
            fprintf(stderr, "echod: netev_wait: %s\n", netev_strerror(n));
            status = 1;
            break;
        }
        n = echod_records_merge(recs, n);
        serve_records(d, recs->ev, n);
        echod_records_keep(recs, n);
    }
    return status;
}

/* ---- start and stop ---- */

/* Sessions need descriptors: use all the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Without --backend netev_loop_new takes $NETEV_BACKEND (an empty one is
 * the default): a bad value there must be named, as the command line has
 * nothing wrong to point at. */
static void loop_failed(const echod_options *o)
{
    int err = errno;
    const char *env = getenv("NETEV_BACKEND");
    if (o->backend)
        fprintf(stderr, "echod: cannot create a netev loop (backend %s): %s\n", o->backend, strerror(err));
    else if (env && *env)
        fprintf(stderr, "echod: cannot create a netev loop (backend from NETEV_BACKEND=%s): %s\n", env, strerror(err));
    else
        fprintf(stderr, "echod: cannot create a netev loop (backend default): %s\n", strerror(err));
}

static int start(echod *d, int port, int shared)
{
    memset(arena, 0, sizeof arena);
    d->loop = netev_loop_new(d->opt.backend);
    if (!d->loop) {
        loop_failed(&d->opt);
        return 1;
    }
    int err = shared ? netev_listener_open_shared(d->loop, d->opt.bind, port, 0, &d->listener)
                     : netev_listener_open(d->loop, d->opt.bind, port, 0, &d->listener);
    if (err) { /* main checked the address: a NETEV_EINVAL here is bind's */
        echod_print_listen_error(d->opt.bind, port, err);
        return 1;
    }
    d->tab = netev_sessions_new(d->loop, d->opt.max_pending);
    if (!d->tab) {
        fprintf(stderr, "echod: out of memory\n");
        return 1;
    }
    return 0;
}

static void stop(echod *d)
{
    netev_sessions_free(d->tab);
    if (d->listener != NETEV_INVALID_SOCKET)
        netev_close(d->loop, d->listener);
    netev_loop_free(d->loop);
    echod_records_free(&d->recs);
}

int echod_serve(const echod_options *o, int port, int shared, echod_listening_fn *listening, void *arg,
                echod_totals *t, int *stopped_by)
{
    echod d;
    memset(&d, 0, sizeof d);
    d.opt = *o;
    d.listener = NETEV_INVALID_SOCKET;
    raise_fd_limit();
    int status = start(&d, port, shared);
    if (status == 0) {
        signal_loop = d.loop;
        catch_signals();
        listening(arg, netev_listener_port(d.listener), netev_loop_backend(d.loop));
        status = serve(&d);
    }
    signal_loop = 0;
    stop(&d);
    *t = d.t;
    *stopped_by = stop_signal;
    return status;
}

typedef struct single {
    const echod_options *opt;
    int listened;
} single;

static void print_listening(void *arg, int port, const char *backend)
{
    single *one = arg;
    one->listened = 1;
    if (!one->opt->quiet) {
        printf("echod: listening on %s port %d (backend %s, pid %ld)\n", one->opt->bind, port, backend,
               (long)getpid());
        fflush(stdout);
    }
}

double echod_seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

void echod_print_stopped(int sig, double seconds, const echod_totals *t)
{
    const char *why = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "error";
    printf("echod: stopped by %s after %.3f s: %" PRIu64 " connections, %" PRIu64 " rejected, %" PRIu64
           " bytes in, %" PRIu64 " bytes out\n",
           why, seconds, t->accepted, t->rejected, t->bytes_in, t->bytes_out);
}

int main(int argc, char **argv)
{
    echod_options opt;
    int status = echod_parse_options(argc, argv, &opt);
    if (status >= 0)
        return status;
    if (echod_check_address(&opt))
        return 1;
    if (opt.workers > 1)
        return echod_workers(&opt);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    single one = {&opt, 0};
    echod_totals t;
    int sig;
    status = echod_serve(&opt, opt.port, 0, print_listening, &one, &t, &sig);
    if (one.listened && !opt.quiet) /* else it could not listen, and said why */
        echod_print_stopped(sig, echod_seconds_since(&t0), &t);
    return status;
}
