/* Helpers for tests: real sockets on 127.0.0.1, and expectations about records. */
#ifndef UTIL_H
#define UTIL_H

#include "netev.h"

#include "check.h"

#ifndef _WIN32
#include <arpa/inet.h>
#include <netinet/in.h>
#endif

void util_init(void);
void util_os_init(void);           /* per platform: Winsock start-up, crash dialogs off */
int util_under_wine(void);         /* 1 when a Windows build runs under Wine */
/* Under Wine, skips the current case (with a message) where Wine is known to
 * differ from Windows: row names the research §5 row, why says how. */
void util_skip_on_wine(const char *row, const char *why);
/* The same for one check: under Wine prints that it is skipped and returns 1. */
int util_wine_differs(const char *row, const char *why);
/* Wine's departures from Windows that the semantics tests meet (research §5). */
#define WINE_F4_CLOSE_AFTER_DATA                                                                   \
    "F4", "Wine signals FD_CLOSE only once the data queued before the FIN has been read "        \
          "(todo_wine in Wine's own tests; Windows signals it at once)"
#define WINE_F7_RESET_AS_FIN                                                                       \
    "F7", "Wine 8.0 reports a peer's reset as FD_CLOSE with error 0 and recv then returns 0 "     \
          "(observed here; Windows gives WSAECONNABORTED, which netev reports as NETEV_ECONNRESET)"
const char *util_backend(void);
int util_slow(void);               /* timeout multiplier (valgrind runs set NETEV_TEST_SLOW) */
int util_open_fds(void);           /* descriptors open in this process, -1 if unknown (Windows: handles but events) */
int util_open_handles_all(void);   /* the same, events included (exact in single-threaded cases) */
void util_sleep_ms(int ms);
long long util_now_us(void);

netev_loop *util_loop(void);       /* a loop on the backend under test */
netev_socket util_listener(int *port);            /* blocking, 127.0.0.1, ephemeral port */
netev_socket util_connect(int port);              /* blocking connect to 127.0.0.1:port */
netev_socket util_bound(int type, int *port);     /* SOCK_STREAM or SOCK_DGRAM, bound to 127.0.0.1, not listening */
void util_pair(netev_socket *client, netev_socket *server); /* connected, both blocking */
void util_rst(netev_socket s);                    /* close with a reset (SO_LINGER 0) */
void util_close(netev_socket s);
void util_send_all(netev_socket s, const void *buf, size_t len); /* blocking helper side */
size_t util_recv_some(netev_socket s, void *buf, size_t len);   /* blocking helper side */
void util_set_blocking(netev_socket s, int blocking);
int util_is_nonblocking(netev_socket s);
int util_is_cloexec(netev_socket s);
netev_socket util_not_a_socket(void);            /* an open descriptor that is not a socket */
void util_close_not_a_socket(netev_socket s);
netev_socket util_unused_socket_number(void);    /* a number that is no open descriptor */
netev_socket util_tcp_socket(int family);         /* fresh, unconnected, blocking */
void util_loopback(int family, int port, struct sockaddr_storage *ss, socklen_t *len);
int util_closed_port(void);                       /* a port on 127.0.0.1 nobody listens on */
long long util_cpu_us(void);                      /* CPU time used by this process */
void util_setenv(const char *name, const char *value); /* value NULL: unset */
int util_raise_fd_limit(int want); /* soft descriptor limit raised towards want; returns it (Windows: want) */
size_t util_fill(netev_loop *loop, netev_socket s); /* netev_send until it blocks for good; bytes sent */
/* After a fill, with WRITE selected: waits until no WRITE comes for a while.
 * The kernel may still free send space although the peer reads nothing (its
 * receive queue being compacted, buffers being tuned); each such WRITE must be
 * true (a send takes bytes) and the buffer is filled again.  Returns the bytes
 * sent meanwhile. */
size_t util_refill_until_quiet(netev_loop *loop, netev_socket s);
/* util_fill, then util_refill_until_quiet: full, and WRITE armed. */
size_t util_fill_quiet(netev_loop *loop, netev_socket s);
void util_drain(netev_socket s, size_t len);        /* blocking: read exactly len bytes */
const char *util_events_str(unsigned events);

/* A loop and a connected pair: s is selected with mask, c is a plain blocking socket. */
typedef struct util_fixture {
    netev_loop *loop;
    netev_socket c, s;
} util_fixture;
util_fixture util_fixture_new(unsigned mask);
/* netev_close(s), close c unless it is NETEV_INVALID_SOCKET, free the loop. */
void util_fixture_free(util_fixture *f);

/* Waits (up to 2 s) for the next non-empty batch; it must be exactly one
 * record, for s, with exactly these events.  Returns that record. */
netev_event util_expect(netev_loop *loop, netev_socket s, unsigned events, const char *file, int line);
/* Nothing is reported within a short wait. */
void util_expect_none(netev_loop *loop, const char *file, int line);

/* Nothing is reported for ms, and the process does not spin meanwhile. */
void util_expect_idle(netev_loop *loop, int ms, const char *file, int line);

#define EXPECT_IDLE(loop, ms) util_expect_idle((loop), (ms), __FILE__, __LINE__)
#define EXPECT(loop, s, ev) util_expect((loop), (s), (ev), __FILE__, __LINE__)
#define EXPECT_NONE(loop) util_expect_none((loop), __FILE__, __LINE__)

#endif
