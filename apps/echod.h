/* echod: the seed's echo server, on netev sessions. */
#ifndef ECHOD_H
#define ECHOD_H

#include <stddef.h>

#include "netev.h"

typedef struct echod_options {
    int port;
    const char *bind;
    const char *backend; /* NULL: netev's default ($NETEV_BACKEND, else epoll on Linux) */
    size_t max_conns;    /* 0 = no limit */
    size_t max_pending;
    int verbose, trace, quiet;
} echod_options;

/* Returns -1 to go on, else the exit status (0 after --help/--version, 2 for a bad command line). */
int echod_parse_options(int argc, char **argv, echod_options *o);

#endif
