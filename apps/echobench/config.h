/* echobench's settings, as parsed from the command line. */
#ifndef ECHOBENCH_CONFIG_H
#define ECHOBENCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

enum eb_mode {
    EB_ECHO,      /* messages back and forth on long-lived connections */
    EB_IDLE,      /* one message per connection, then hold them open */
    EB_RECONNECT  /* connect, one message, close; again */
};

typedef struct eb_config {
    const char *host;
    int port;
    int conns;
    size_t size;
    int depth;
    double duration;   /* seconds; 0 = until -n is done (or a signal, in idle mode) */
    double warmup;     /* seconds of traffic before the window opens, not measured */
    uint64_t messages; /* 0 = no limit */
    double rate;       /* messages per second in all; 0 = as fast as the server answers */
    int threads;
    double ramp;       /* connections opened per second; 0 = as fast as possible */
    double timeout;    /* seconds a connect or an echo may take before it counts as an error */
    int json, quiet;
    enum eb_mode mode;
    int server_pid;    /* 0 = none: report the server's CPU time per message if set */
    int server_core;   /* -1 = none: report how busy this CPU (the server's, pinned) was per message */
    const char *source; /* first source address, NULL = the kernel's choice */
    int sources;        /* source addresses to spread connections over */

    struct sockaddr_storage addr; /* resolved host:port */
    socklen_t addrlen;
    struct sockaddr_storage src;  /* resolved first source address (port 0) */
} eb_config;

/* Fills cfg from argv.  Returns -1 to go on, or an exit status (0 after
 * --help, 2 after a usage error, already reported). */
int eb_parse_args(int argc, char **argv, eb_config *cfg);

#endif
