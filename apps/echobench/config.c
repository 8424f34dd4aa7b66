/* Command line of echobench. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>

static void usage(FILE *f)
{
    fputs("usage: echobench [options]\n"
          "Load generator for TCP echo servers: every echoed byte is checked.\n"
          "\n"
          "  -H, --host ADDR       server address (default 127.0.0.1)\n"
          "  -p, --port PORT       server port (default 7777)\n"
          "  -c, --conns N         concurrent connections (default 1)\n"
          "  -s, --size BYTES      message size (default 64)\n"
          "  -d, --depth N         messages in flight per connection (default 1)\n"
          "  -t, --duration SEC    measure for SEC seconds (default 5 unless -n is given), then\n"
          "                        drain: send nothing new, check the echoes still due\n"
          "  -n, --messages N      stop after N echoed messages in all\n"
          "  -w, --warmup SEC      echo for SEC seconds before the window opens, unmeasured:\n"
          "                        new connections cost more for their first seconds\n"
          "                        (default 0; echo mode with -t only)\n"
          "      --rate R          send R messages/s in all (open loop: latency at fixed load)\n"
          "  -T, --threads N       client threads, each with its own netev loop (default 1)\n"
          "      --ramp R          open at most R connections per second (default: at once;\n"
          "                        not with --reconnect)\n"
          "      --json            final report as one JSON object on stdout\n"
          "  -q, --quiet           no progress lines\n"
          "      --timeout SEC     a connect or an echo slower than this is an error (default 10)\n"
          "      --idle            each connection echoes one message, then stays open, idle,\n"
          "                        until -t runs out or SIGINT (for memory per connection)\n"
          "      --reconnect       each connection: connect, echo one message, close; repeat\n"
          "                        (-c cycles run at once; reports connections/s; a slot\n"
          "                        whose cycle fails is retired, not restarted)\n"
          "  -B, --source ADDR     bind connections to this source address (default 127.0.0.2\n"
          "                        when more than one is needed)\n"
          "      --sources K       spread connections over K source addresses from --source\n"
          "                        (default: as many as the local port range needs)\n"
          "      --server-pid PID  report the server's CPU time per message (Linux /proc)\n"
          "      --server-core N   report CPU N's busy time per message: for a server pinned\n"
          "                        to CPU N, its process plus the kernel's work there that\n"
          "                        is charged to no process, e.g. ksoftirqd (Linux /proc/stat)\n"
          "  -h, --help            this text\n"
          "\n"
          "Numbers are plain digits (sizes may end in k: KiB); SEC and R may have a fraction\n"
          "and an exponent.  SEC is at most 1000000, R at most 1e9.\n"
          "\n"
          "Exit status: 0 when every byte came back intact and no connection was lost,\n"
          "1 when some did not (mismatch, lost connection, connect failure, timeout, also in\n"
          "the drain) or no echo completed in the window, 2 on usage errors.\n",
          f);
}

/* Seconds turn into int64 nanoseconds (and so do messages or connections
 * over a rate): a bound far below INT64_MAX / 1e9 (292 years) keeps every
 * such product in range. */
#define MAX_SECONDS 1e6
#define MAX_PER_SECOND 1e9 /* --rate, --ramp: far above what any run reaches */
/* Send times of messages in flight, 8 bytes each, allocated up front: -c
 * 15000 -d 1048576 would be 126 GB, and its failed calloc used to come out
 * as connect errors. */
#define MAX_IN_FLIGHT (1ull << 31)

static int bad(const char *what, const char *arg)
{
    fprintf(stderr, "echobench: bad %s: '%s' (see --help)\n", what, arg);
    return 2;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Integers are digits only: strtol alone would also take leading blanks and
 * a sign, so that -p ' 80' connected to port 80. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    if (!is_digit(s[0]))
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* A plain decimal: digits with an optional fraction and exponent (1, 0.5,
 * .5, 2e3).  strtod alone also takes blanks, signs, hex, inf and nan. */
static int plain_decimal(const char *s)
{
    static const char digits[] = "0123456789";
    size_t n = strspn(s, digits);
    s += n;
    if (*s == '.') {
        size_t f = strspn(s + 1, digits);
        n += f;
        s += 1 + f;
    }
    if (!n)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        size_t e = strspn(s, digits);
        if (!e)
            return 0;
        s += e;
    }
    return *s == 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    if (!plain_decimal(s))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Sizes may carry a k or K suffix (1024). */
#define MAX_SIZE (1ull << 30)
static int parse_size(const char *s, size_t *out)
{
    if (!is_digit(s[0]))
        return -1; /* strtoull would take blanks, a sign, even '-' */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    if (*end == 'k' || *end == 'K') {
        /* Bounded before the multiplication, which wraps in 64 bits:
         * 18014398509481985k came out as 1024. */
        if (v > MAX_SIZE / 1024)
            return -1;
        v *= 1024;
        end++;
    }
    if (*end || v < 1 || v > MAX_SIZE)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int err = getaddrinfo(host, portstr, &hints, &res);
    if (err) {
        fprintf(stderr, "echobench: %s: %s\n", host, gai_strerror(err));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Limits of combined options, before anything is allocated or connected. */
static int check_limits(const eb_config *cfg)
{
    unsigned long long stamps = (unsigned long long)cfg->conns * (unsigned long long)cfg->depth;
    if (stamps > MAX_IN_FLIGHT) {
        fprintf(stderr,
                "echobench: -c %d x -d %d = %llu messages in flight, whose send times need %.1f GB: "
                "at most %llu in flight\n",
                cfg->conns, cfg->depth, stamps, (double)stamps * 8 / 1e9, MAX_IN_FLIGHT);
        return -1;
    }
    if (cfg->ramp > 0 && cfg->conns / cfg->ramp > MAX_SECONDS) {
        fprintf(stderr, "echobench: --ramp %g would take %.0f s to open %d connections: at most %.0f s\n", cfg->ramp,
                cfg->conns / cfg->ramp, cfg->conns, MAX_SECONDS);
        return -1;
    }
    return 0;
}

enum { OPT_RATE = 256, OPT_RAMP, OPT_JSON, OPT_TIMEOUT, OPT_IDLE, OPT_RECONNECT, OPT_SOURCES, OPT_SERVER_PID,
       OPT_SERVER_CORE };

int eb_parse_args(int argc, char **argv, eb_config *cfg)
{
    static const struct option opts[] = {
        {"host", required_argument, 0, 'H'},       {"port", required_argument, 0, 'p'},
        {"conns", required_argument, 0, 'c'},      {"size", required_argument, 0, 's'},
        {"depth", required_argument, 0, 'd'},      {"duration", required_argument, 0, 't'},
        {"messages", required_argument, 0, 'n'},   {"rate", required_argument, 0, OPT_RATE},
        {"warmup", required_argument, 0, 'w'},
        {"threads", required_argument, 0, 'T'},    {"ramp", required_argument, 0, OPT_RAMP},
        {"json", no_argument, 0, OPT_JSON},        {"quiet", no_argument, 0, 'q'},
        {"timeout", required_argument, 0, OPT_TIMEOUT}, {"idle", no_argument, 0, OPT_IDLE},
        {"reconnect", no_argument, 0, OPT_RECONNECT}, {"source", required_argument, 0, 'B'},
        {"sources", required_argument, 0, OPT_SOURCES}, {"server-pid", required_argument, 0, OPT_SERVER_PID},
        {"server-core", required_argument, 0, OPT_SERVER_CORE},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 7777;
    cfg->conns = 1;
    cfg->size = 64;
    cfg->depth = 1;
    cfg->threads = 1;
    cfg->timeout = 10;
    cfg->server_core = -1;
    int have_duration = 0, c;
    long v;
    while ((c = getopt_long(argc, argv, "H:p:c:s:d:t:n:w:T:B:qh", opts, 0)) != -1) {
        switch (c) {
        case 'H':
            cfg->host = optarg;
            break;
        case 'p':
            if (parse_long(optarg, 1, 65535, &v))
                return bad("port", optarg);
            cfg->port = (int)v;
            break;
        case 'c':
            if (parse_long(optarg, 1, 10000000, &v))
                return bad("connection count", optarg);
            cfg->conns = (int)v;
            break;
        case 's':
            if (parse_size(optarg, &cfg->size))
                return bad("message size", optarg);
            break;
        case 'd':
            if (parse_long(optarg, 1, 1 << 20, &v))
                return bad("depth", optarg);
            cfg->depth = (int)v;
            break;
        case 't':
            if (parse_double(optarg, 0.001, MAX_SECONDS, &cfg->duration))
                return bad("duration (0.001 to 1000000 s)", optarg);
            have_duration = 1;
            break;
        case 'n':
            if (parse_long(optarg, 1, LONG_MAX, &v))
                return bad("message count", optarg);
            cfg->messages = (uint64_t)v;
            break;
        case 'w':
            if (parse_double(optarg, 0, MAX_SECONDS, &cfg->warmup))
                return bad("warm-up (0 to 1000000 s)", optarg);
            break;
        case OPT_RATE:
            if (parse_double(optarg, 0.001, MAX_PER_SECOND, &cfg->rate))
                return bad("rate (0.001 to 1e9 messages/s)", optarg);
            break;
        case 'T':
            if (parse_long(optarg, 1, 1024, &v))
                return bad("thread count", optarg);
            cfg->threads = (int)v;
            break;
        case OPT_RAMP:
            if (parse_double(optarg, 0.001, MAX_PER_SECOND, &cfg->ramp))
                return bad("ramp (0.001 to 1e9 connections/s)", optarg);
            break;
        case OPT_JSON:
            cfg->json = 1;
            break;
        case 'q':
            cfg->quiet = 1;
            break;
        case OPT_TIMEOUT:
            if (parse_double(optarg, 0.001, MAX_SECONDS, &cfg->timeout))
                return bad("timeout (0.001 to 1000000 s)", optarg);
            break;
        case OPT_IDLE:
        case OPT_RECONNECT: {
            /* Both given, the last one ran, without a word. */
            enum eb_mode m = c == OPT_IDLE ? EB_IDLE : EB_RECONNECT;
            if (cfg->mode != EB_ECHO && cfg->mode != m) {
                fprintf(stderr, "echobench: give one mode: --idle or --reconnect, not both\n");
                return 2;
            }
            cfg->mode = m;
            break;
        }
        case 'B':
            cfg->source = optarg;
            break;
        case OPT_SOURCES:
            if (parse_long(optarg, 1, 250, &v))
                return bad("source count", optarg);
            cfg->sources = (int)v;
            break;
        case OPT_SERVER_PID:
            if (parse_long(optarg, 1, 1 << 30, &v))
                return bad("server pid", optarg);
            cfg->server_pid = (int)v;
            break;
        case OPT_SERVER_CORE:
            if (parse_long(optarg, 0, 4095, &v))
                return bad("server core", optarg);
            cfg->server_core = (int)v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "echobench: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (check_limits(cfg))
        return 2;
    if (have_duration && cfg->messages) {
        fprintf(stderr, "echobench: give -t or -n, not both\n");
        return 2;
    }
    if (!have_duration && !cfg->messages && cfg->mode != EB_IDLE)
        cfg->duration = 5;
    if (cfg->mode != EB_ECHO && cfg->rate > 0) {
        fprintf(stderr, "echobench: --rate works with the echo mode only\n");
        return 2;
    }
    /* --ramp paces the connect phase, and --reconnect has none: its slots
     * all start at the window's start, so the pace was silently not kept. */
    if (cfg->mode == EB_RECONNECT && cfg->ramp > 0) {
        fprintf(stderr, "echobench: --ramp paces the first connections; --reconnect has no connect phase\n");
        return 2;
    }
    /* -n counts messages from the first one sent, and the other modes have
     * no steady traffic to warm up. */
    if (cfg->warmup > 0 && (cfg->mode != EB_ECHO || cfg->messages)) {
        fprintf(stderr, "echobench: --warmup works with the echo mode and -t only\n");
        return 2;
    }
    if (cfg->mode == EB_IDLE && cfg->messages) {
        fprintf(stderr, "echobench: --idle holds connections for -t seconds; -n does not apply\n");
        return 2;
    }
    if (cfg->threads > cfg->conns)
        cfg->threads = cfg->conns;
    if (resolve(cfg->host, cfg->port, &cfg->addr, &cfg->addrlen))
        return 2;
    if (cfg->source) {
        socklen_t len;
        if (resolve(cfg->source, 0, &cfg->src, &len))
            return 2;
        if (cfg->src.ss_family != cfg->addr.ss_family) {
            fprintf(stderr, "echobench: --source %s and --host %s are of different families\n", cfg->source,
                    cfg->host);
            return 2;
        }
    }
    return -1;
}
