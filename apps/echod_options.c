/* echod's command line. */
#include "echod.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The short options' letters: the same as in getopt_long's string in echod_parse_options. */
#define SHORT_OPTIONS "pbvqh"

static void usage(FILE *f)
{
    fprintf(f, "Usage: echod [OPTION]...\n"
          "TCP echo server on the netev event-select core: echoes every byte back, in order.\n"
          "\n"
          "  -p, --port N           port to listen on (default 7777; 0 = any free port, printed)\n"
          "  -b, --bind ADDR        numeric IPv4 or IPv6 address to listen on (default\n"
          "                         0.0.0.0); link-local with its interface: fe80::1%%eth0\n"
          "      --backend NAME     event backend: epoll or poll (default: $NETEV_BACKEND\n"
          "                         if set, else epoll on Linux)\n"
          "      --max-conns N      sessions at most; beyond it connections are accepted and\n"
          "                         closed at once, and counted (default 0 = no limit,\n"
          "                         at most " ECHOD_MAX_CONNS_TEXT ")\n"
          "      --workers N        N processes serve the port, each with its own loop and\n"
          "                         listener (SO_REUSEPORT; the kernel spreads clients by\n"
          "                         their address and port); --max-conns counts per worker\n"
          "                         (default 1, at most %d)\n"
          "      --max-pending BYTES  unsent bytes per session before it stops reading\n"
          "                         (suffix k, m, g: KiB, MiB, GiB; default 1m,\n"
          "                         at most " ECHOD_MAX_PENDING_TEXT ")\n"
          "  -v, --verbose          one line per connect and disconnect\n"
          "      --trace            print each network event, as the seed does\n"
          "                         (Client Connected, Recv Data = N, Send Data = N, ...)\n"
          "  -q, --quiet            print errors only (no start line, no summary)\n"
          "  -h, --help             show this help and exit\n"
          "      --version          show the version and exit\n"
          "\n"
          "SIGINT or SIGTERM stops it with a one-line summary (none with -q).  Exit status:\n"
          "0 when stopped by a signal; 1 if it cannot listen (busy port, also one that\n"
          "another --workers echod holds) or run, if a worker died, or if a second\n"
          "SIGINT/SIGTERM had to kill workers that were still stopping; 2 for a bad\n"
          "command line.\n",
          ECHOD_MAX_WORKERS);
}

/* A decimal number in [min, max], with an optional k/m/g (x1024) suffix if allowed.
 * It starts with a digit: strtoull skips any leading white space (tab,
 * newline, ...) and takes a sign, so "\t80" was port 80. */
static int parse_number(const char *text, int suffix_ok, unsigned long long min, unsigned long long max,
                        unsigned long long *out)
{
    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text)
        return -1;
    unsigned shift = 0;
    if (suffix_ok && *end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        end++;
    }
    if (*end || v > (max >> shift))
        return -1;
    v <<= shift;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int bad_value(const char *option, const char *value, const char *want)
{
    fprintf(stderr, "echod: bad value '%s' for %s: %s\nTry 'echod --help'.\n", value, option, want);
    return 2;
}

/* getopt_long's '?': an unknown option, or a long option that takes no
 * value given one ("--verbose=1").  In that second case optopt is the
 * option's val: a short option's letter ('v') or a number above 255
 * (--trace), which as "-%c" would name the wrong option or print a control
 * byte.  A short option that exists is never unknown, so optopt naming one,
 * or above 255, means a long option given a value; 0 means an unknown (or
 * ambiguous) long option.  getopt has moved optind past a long option. */
static int bad_option(char **argv)
{
    const char *text = argv[optind - 1];
    int name_len = (int)strcspn(text, "="); /* the option as typed, without its value */
    if (optopt > UCHAR_MAX || (optopt > 0 && strchr(SHORT_OPTIONS, optopt)))
        fprintf(stderr, "echod: option '%.*s' takes no value\n", name_len, text);
    else if (optopt == 0)
        fprintf(stderr, "echod: unknown option '%.*s'\n", name_len, text);
    else if (optopt > 0 && isprint(optopt)) /* glibc's optopt is a plain char: bytes >= 0x80 are negative */
        fprintf(stderr, "echod: unknown option '-%c'\n", optopt);
    else
        fprintf(stderr, "echod: unknown option character 0x%02x\n", (unsigned char)optopt);
    fprintf(stderr, "Try 'echod --help'.\n");
    return 2;
}

int echod_parse_options(int argc, char **argv, echod_options *o)
{
    enum { OPT_BACKEND = 256, OPT_MAX_CONNS, OPT_MAX_PENDING, OPT_TRACE, OPT_VERSION, OPT_WORKERS };
    static const struct option longopts[] = {
        {"port", required_argument, 0, 'p'},
        {"bind", required_argument, 0, 'b'},
        {"backend", required_argument, 0, OPT_BACKEND},
        {"max-conns", required_argument, 0, OPT_MAX_CONNS},
        {"max-pending", required_argument, 0, OPT_MAX_PENDING},
        {"workers", required_argument, 0, OPT_WORKERS},
        {"verbose", no_argument, 0, 'v'},
        {"trace", no_argument, 0, OPT_TRACE},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, OPT_VERSION},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->port = 7777;
    o->bind = "0.0.0.0";
    o->max_pending = 1u << 20;
    o->workers = 1;
    unsigned long long v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:b:vqh", longopts, 0)) != -1) {
        switch (c) {
        case 'p':
            if (parse_number(optarg, 0, 0, 65535, &v))
                return bad_value("--port", optarg, "a port number 0..65535");
            o->port = (int)v;
            break;
        case 'b':
            o->bind = optarg;
            break;
        case OPT_BACKEND:
            if (strcmp(optarg, "epoll") && strcmp(optarg, "poll"))
                return bad_value("--backend", optarg, "epoll or poll");
            o->backend = optarg;
            break;
        case OPT_MAX_CONNS:
            if (parse_number(optarg, 0, 0, ECHOD_MAX_CONNS, &v))
                return bad_value("--max-conns", optarg, "a count from 0 (no limit) to " ECHOD_MAX_CONNS_TEXT);
            o->max_conns = (size_t)v;
            break;
        case OPT_MAX_PENDING:
            if (parse_number(optarg, 1, 1, ECHOD_MAX_PENDING, &v))
                return bad_value("--max-pending", optarg,
                                 "a byte count from 1 to " ECHOD_MAX_PENDING_TEXT ", suffix k, m or g allowed");
            o->max_pending = (size_t)v;
            break;
        case OPT_WORKERS:
            if (parse_number(optarg, 0, 1, ECHOD_MAX_WORKERS, &v))
                return bad_value("--workers", optarg, "a count from 1 to " ECHOD_MAX_WORKERS_TEXT);
            o->workers = (int)v;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case OPT_TRACE:
            o->trace = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("echod (netev) %s\n", NETEV_VERSION_STRING);
            return 0;
        case ':':
            fprintf(stderr, "echod: option '%s' needs a value\nTry 'echod --help'.\n", argv[optind - 1]);
            return 2;
        default:
            return bad_option(argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "echod: unexpected argument '%s'\nTry 'echod --help'.\n", argv[optind]);
        return 2;
    }
    if (o->quiet)
        o->verbose = o->trace = 0;
    return -1;
}
