/* What every benchmark peer shares, so that they differ only in their event loop:
 * the same options (-p/--port, -b/--bind, as echod), the same listener, the
 * same per-connection socket options and the same read buffer size. */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H

#include <stddef.h>
#include <sys/types.h>

#define PEER_READ_BUF (64 * 1024)

/* Parses the command line, raises RLIMIT_NOFILE to its hard limit, ignores
 * SIGPIPE and returns a non-blocking listener (exits on failure). */
int peer_start(int argc, char **argv, const char *name);
/* TCP_NODELAY on an accepted socket: every peer answers at once. */
void peer_nodelay(int fd);
/* accept4, non-blocking and close-on-exec; -1 with errno (EAGAIN: queue empty). */
int peer_accept(int listener);
/* send without SIGPIPE, retried on EINTR; bytes taken, or -1 with errno. */
ssize_t peer_send(int fd, const void *buf, size_t len);
/* recv retried on EINTR. */
ssize_t peer_recv(int fd, void *buf, size_t len);

/* Bytes received but not yet echoed, kept only while a send falls short. */
typedef struct peer_backlog {
    char *data;
    size_t len, off;
} peer_backlog;

/* Keep buf[0..len) for later; returns 0, or -1 when out of memory. */
int peer_backlog_keep(peer_backlog *b, const char *buf, size_t len);
/* Sends what is kept: 1 when all gone (memory released), 0 when some is
 * left (wait for writability), -1 on a connection error. */
int peer_backlog_flush(peer_backlog *b, int fd);
void peer_backlog_free(peer_backlog *b);

/* Sends buf; whatever the socket does not take goes to the backlog.
 * Returns 1 when all was sent, 0 when some was kept, -1 on error. */
int peer_echo(peer_backlog *b, int fd, const char *buf, size_t len);

#endif
