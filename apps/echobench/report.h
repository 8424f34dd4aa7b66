/* echobench's final report, as text or as one JSON object. */
#ifndef ECHOBENCH_REPORT_H
#define ECHOBENCH_REPORT_H

#include "config.h"
#include "hist.h"

#include <stdint.h>
#include <stdio.h>

typedef struct eb_summary {
    const eb_config *cfg;
    double seconds;         /* measured window */
    double connect_seconds; /* first connect started .. last one resolved; 0 with --reconnect (no such phase) */
    uint64_t msgs;          /* echoes (cycles with --reconnect) in the window */
    uint64_t conns_up;      /* connections up at the end of the window */
    eb_hist lat, conn_lat;
    uint64_t connect_fail, mismatch, lost, timeouts;
    double server_cpu;      /* seconds of the server's CPU in the window; < 0 unknown */
    double server_core;     /* busy seconds of the server's CPU (--server-core) in the window; < 0 unknown */
    double client_cpu;      /* seconds of our own CPU in the window */
    int interrupted;        /* stopped by a signal */
} eb_summary;

uint64_t eb_summary_errors(const eb_summary *s);
void eb_report_text(FILE *f, const eb_summary *s);
void eb_report_json(FILE *f, const eb_summary *s);

#endif
