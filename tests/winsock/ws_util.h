/* Helpers for the Winsock-layer tests.  The tests use Winsock names only, so
 * that the same sources build against real Winsock (mingw, run under Wine or
 * on Windows) and against netev/winsock.h on POSIX. */
#ifndef WS_UTIL_H
#define WS_UTIL_H

#include "netev/winsock.h"

#include "check.h"

/* Every case starts with ws_begin (WSAStartup) and ends with ws_end (WSACleanup). */
void ws_begin(void);
void ws_end(void);

int ws_slow(void);         /* timeout multiplier (valgrind runs set NETEV_TEST_SLOW) */
void ws_sleep_ms(int ms);
long long ws_now_ms(void);
/* How often the calling thread has gone to sleep so far (its voluntary
 * context switches), -1 where this platform does not say: a wait that wakes
 * now and then for nothing shows here and nowhere else. */
long ws_thread_sleeps(void);

/* Where Windows and this platform differ for a reason outside the layer, a
 * row is skipped with a message naming it (never silently). */
int ws_skip(const char *row, const char *why); /* prints "skip ROW: WHY"; returns 1 */
/* New arrivals re-signal an unconsumed FD_READ/FD_ACCEPT/FD_OOB (§5 D3, A5, E2):
 * Windows does; Wine does not; on POSIX only the epoll backend can. */
const char *ws_no_resignal_reason(void); /* NULL if supported here */
int ws_is_wine(void);
/* Winsock is process-wide: is it started already (a harness's WSAStartup)? */
int ws_started_elsewhere(void);

SOCKET ws_tcp_socket(void);                       /* fresh, blocking, unbound */
SOCKET ws_listener(SOCKADDR_IN *addr);            /* 127.0.0.1, ephemeral port, listening */
SOCKET ws_connect_blocking(const SOCKADDR_IN *addr);
void ws_tcp_pair(SOCKET *client, SOCKET *server); /* blocking connect + accept, both blocking */
void ws_close_with_rst(SOCKET s);
void ws_closed_port(SOCKADDR_IN *addr);           /* 127.0.0.1 and a port nobody listens on */
void ws_set_nonblocking(SOCKET s, int on);
void ws_send_all(SOCKET s, const char *buf, int len);     /* s blocking */
void ws_recv_exactly(SOCKET s, char *buf, int len);       /* s blocking */
int ws_fill(SOCKET s);   /* s non-blocking: send until WSAEWOULDBLOCK; returns bytes sent */
void ws_drain(SOCKET s, int len);                          /* s blocking */

/* Wine's check_events: wait for the event (a while if events are expected,
 * briefly if not), then enumerate s with it: exactly `expected`, error 0 for
 * every reported bit except err_bit, which must be err. */
void ws_check_events(SOCKET s, WSAEVENT ev, long expected, int err_bit, int err, const char *file, int line);
#define CHECK_EVENTS(s, ev, expected) ws_check_events((s), (ev), (expected), -1, 0, __FILE__, __LINE__)
#define CHECK_EVENTS_ERR(s, ev, expected, bit, err) ws_check_events((s), (ev), (expected), (bit), (err), __FILE__, __LINE__)
#define CHECK_NO_EVENTS(s, ev) ws_check_events((s), (ev), 0, -1, 0, __FILE__, __LINE__)
/* The same wait, then nothing enumerated; whether the event was signalled
 * is not looked at (for Wine's spurious signals). */
void ws_check_nothing_recorded(SOCKET s, WSAEVENT ev, const char *file, int line);
/* Re-selecting the mask, and pausing (mask 0) then re-selecting, report
 * nothing: WSAEventSelect re-enables no event (research §5). */
void ws_check_reselect_silent(SOCKET s, WSAEVENT ev, long mask, const char *file, int line);
#define CHECK_RESELECT_SILENT(s, ev, mask) ws_check_reselect_silent((s), (ev), (mask), __FILE__, __LINE__)
/* The event is (not) signalled, looked at without enumerating. */
void ws_check_signalled(WSAEVENT ev, int expected, const char *file, int line);
#define CHECK_SIGNALLED(ev) ws_check_signalled((ev), 1, __FILE__, __LINE__)
#define CHECK_NOT_SIGNALLED(ev) ws_check_signalled((ev), 0, __FILE__, __LINE__)

/* A call that must fail with SOCKET_ERROR and this WSAGetLastError. */
#define CHECK_WSA_FAIL(expr, wsaerr)                                                          \
    do {                                                                                      \
        WSASetLastError(0);                                                                   \
        long long ws_r_ = (long long)(expr);                                                  \
        int ws_e_ = WSAGetLastError();                                                        \
        if (ws_r_ != SOCKET_ERROR || ws_e_ != (wsaerr))                                       \
            check_fail(__FILE__, __LINE__, "%s: expected SOCKET_ERROR/%d, got %lld/%d", #expr, \
                       (int)(wsaerr), ws_r_, ws_e_);                                          \
    } while (0)
/* A call that must return 0. */
#define CHECK_WSA_OK(expr)                                                                    \
    do {                                                                                      \
        long long ws_r_ = (long long)(expr);                                                  \
        if (ws_r_ != 0)                                                                       \
            check_fail(__FILE__, __LINE__, "%s: returned %lld, error %d", #expr, ws_r_,      \
                       WSAGetLastError());                                                    \
    } while (0)

const char *ws_events_str(long events);

/* A thread, portably. */
typedef struct ws_thread ws_thread;
ws_thread *ws_thread_start(void (*fn)(void *), void *arg);
void ws_thread_join(ws_thread *t);

#endif
