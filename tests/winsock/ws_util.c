/* Helpers for the Winsock-layer tests (Winsock names, plus threads and time). */
#ifndef _WIN32
#define _GNU_SOURCE
#endif
#include "ws_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>
#endif

void ws_begin(void)
{
    WSADATA data;
    int r = WSAStartup(MAKEWORD(2, 2), &data);
    if (r != 0)
        check_fail(__FILE__, __LINE__, "WSAStartup failed: %d", r);
}

void ws_end(void)
{
    if (WSACleanup() != 0)
        check_fail(__FILE__, __LINE__, "WSACleanup failed: %d", WSAGetLastError());
}

int ws_slow(void)
{
    const char *s = getenv("NETEV_TEST_SLOW");
    int n = s ? atoi(s) : 1;
    return n > 1 ? n : 1;
}

void ws_sleep_ms(int ms)
{
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
#endif
}

long long ws_now_ms(void)
{
#ifdef _WIN32
    return (long long)GetTickCount64();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

long ws_thread_sleeps(void)
{
#if defined(__linux__) && defined(RUSAGE_THREAD)
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) == 0)
        return ru.ru_nvcsw;
#endif
    return -1;
}

int ws_skip(const char *row, const char *why)
{
    printf("skip %s: %s\n", row, why);
    fflush(stdout);
    return 1;
}

int ws_is_wine(void)
{
#ifdef _WIN32
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
#else
    return 0;
#endif
}

const char *ws_no_resignal_reason(void)
{
#ifdef _WIN32
    if (ws_is_wine())
        return "Wine does not re-signal an unconsumed event on a new arrival (todo_wine in its tests)";
    return NULL;
#else
    const char *b = getenv("NETEV_BACKEND");
    if (b && strcmp(b, "poll") == 0)
        return "the poll backend does not watch a reported, unconsumed event (level-triggered poll would spin)";
    return NULL;
#endif
}

int ws_started_elsewhere(void)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, 0);
    if (s == INVALID_SOCKET)
        return 0;
    closesocket(s);
    return 1;
}

SOCKET ws_tcp_socket(void)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, 0);
    if (s == INVALID_SOCKET)
        check_fail(__FILE__, __LINE__, "socket failed: %d", WSAGetLastError());
    return s;
}

SOCKET ws_listener(SOCKADDR_IN *addr)
{
    SOCKET l = ws_tcp_socket();
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_WSA_OK(bind(l, (SOCKADDR *)addr, sizeof *addr));
    int len = sizeof *addr;
    CHECK_WSA_OK(getsockname(l, (SOCKADDR *)addr, &len));
    CHECK_WSA_OK(listen(l, 16));
    return l;
}

SOCKET ws_connect_blocking(const SOCKADDR_IN *addr)
{
    SOCKET c = ws_tcp_socket();
    CHECK_WSA_OK(connect(c, (const SOCKADDR *)addr, sizeof *addr));
    return c;
}

void ws_tcp_pair(SOCKET *client, SOCKET *server)
{
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    *client = ws_connect_blocking(&addr);
    int len = sizeof addr;
    *server = accept(l, (SOCKADDR *)&addr, &len);
    if (*server == INVALID_SOCKET)
        check_fail(__FILE__, __LINE__, "accept failed: %d", WSAGetLastError());
    CHECK_WSA_OK(closesocket(l));
}

void ws_close_with_rst(SOCKET s)
{
    LINGER lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    CHECK_WSA_OK(setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg));
    CHECK_WSA_OK(closesocket(s));
}

void ws_closed_port(SOCKADDR_IN *addr)
{
    SOCKET s = ws_tcp_socket();
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_WSA_OK(bind(s, (SOCKADDR *)addr, sizeof *addr));
    int len = sizeof *addr;
    CHECK_WSA_OK(getsockname(s, (SOCKADDR *)addr, &len));
    CHECK_WSA_OK(closesocket(s)); /* bound, never listening: connects are refused */
}

void ws_set_nonblocking(SOCKET s, int on)
{
    u_long v = (u_long)on;
    CHECK_WSA_OK(ioctlsocket(s, FIONBIO, &v));
}

void ws_send_all(SOCKET s, const char *buf, int len)
{
    while (len > 0) {
        int n = send(s, buf, len, 0);
        if (n <= 0)
            check_fail(__FILE__, __LINE__, "send failed: %d, error %d", n, WSAGetLastError());
        buf += n;
        len -= n;
    }
}

void ws_recv_exactly(SOCKET s, char *buf, int len)
{
    while (len > 0) {
        int n = recv(s, buf, len, 0);
        if (n <= 0)
            check_fail(__FILE__, __LINE__, "recv failed: %d, error %d", n, WSAGetLastError());
        buf += n;
        len -= n;
    }
}

int ws_fill(SOCKET s)
{
    static char chunk[65536];
    int total = 0;
    for (;;) {
        int n = send(s, chunk, (int)sizeof chunk, 0);
        if (n == SOCKET_ERROR) {
            if (WSAGetLastError() != WSAEWOULDBLOCK)
                check_fail(__FILE__, __LINE__, "send failed: error %d", WSAGetLastError());
            return total;
        }
        total += n;
        if (total > 256 * 1024 * 1024)
            check_fail(__FILE__, __LINE__, "send never blocks");
    }
}

void ws_drain(SOCKET s, int len)
{
    static char buf[65536];
    while (len > 0) {
        int n = recv(s, buf, len < (int)sizeof buf ? len : (int)sizeof buf, 0);
        if (n <= 0)
            check_fail(__FILE__, __LINE__, "recv failed while draining: %d, error %d", n, WSAGetLastError());
        len -= n;
    }
}

const char *ws_events_str(long ev)
{
    static char buf[8][96];
    static int k;
    char *b = buf[k++ % 8];
    static const char *names[] = {"FD_READ", "FD_WRITE", "FD_OOB", "FD_ACCEPT", "FD_CONNECT",
                                  "FD_CLOSE", "FD_QOS", "FD_GROUP_QOS", "FD_ROUTING", "FD_ADDRESS"};
    b[0] = 0;
    for (int i = 0; i < FD_MAX_EVENTS; i++)
        if (ev & (1L << i)) {
            if (b[0])
                strcat(b, "|");
            strcat(b, names[i]);
        }
    if (ev & ~(long)FD_ALL_EVENTS)
        strcat(b, "|?");
    if (!b[0])
        strcpy(b, "none");
    return b;
}

void ws_check_signalled(WSAEVENT ev, int expected, const char *file, int line)
{
    DWORD r = WSAWaitForMultipleEvents(1, &ev, FALSE, (DWORD)((expected ? 2000 : 100) * ws_slow()), FALSE);
    if (expected && r != WSA_WAIT_EVENT_0)
        check_fail(file, line, "event not signalled (wait returned %lu)", (unsigned long)r);
    if (!expected && r != WSA_WAIT_TIMEOUT)
        check_fail(file, line, "event signalled (wait returned %lu)", (unsigned long)r);
}

static void check_events(SOCKET s, WSAEVENT ev, long expected, int err_bit, int err, int signal_checked,
                         const char *file, int line)
{
    DWORD r = WSAWaitForMultipleEvents(1, &ev, FALSE, (DWORD)((expected ? 2000 : 100) * ws_slow()), FALSE);
    WSANETWORKEVENTS ne;
    memset(&ne, 0xab, sizeof ne);
    if (WSAEnumNetworkEvents(s, ev, &ne) != 0)
        check_fail(file, line, "WSAEnumNetworkEvents failed: %d", WSAGetLastError());
    if (expected && r != WSA_WAIT_EVENT_0)
        check_fail(file, line, "expected %s: event not signalled (wait %lu), enumerated %s",
                   ws_events_str(expected), (unsigned long)r, ws_events_str(ne.lNetworkEvents));
    if (!expected && signal_checked && r != WSA_WAIT_TIMEOUT)
        check_fail(file, line, "expected nothing: event signalled (wait %lu), enumerated %s", (unsigned long)r,
                   ws_events_str(ne.lNetworkEvents));
    if (ne.lNetworkEvents != expected)
        check_fail(file, line, "expected %s, enumerated %s", ws_events_str(expected),
                   ws_events_str(ne.lNetworkEvents));
    for (int bit = 0; bit < FD_MAX_EVENTS; bit++) {
        if (!(expected & (1L << bit)))
            continue;
        int want = bit == err_bit ? err : 0;
        if (ne.iErrorCode[bit] != want)
            check_fail(file, line, "%s: error %d, expected %d", ws_events_str(1L << bit), ne.iErrorCode[bit], want);
    }
}

void ws_check_events(SOCKET s, WSAEVENT ev, long expected, int err_bit, int err, const char *file, int line)
{
    check_events(s, ev, expected, err_bit, err, 1, file, line);
}

void ws_check_nothing_recorded(SOCKET s, WSAEVENT ev, const char *file, int line)
{
    check_events(s, ev, 0, -1, 0, 0, file, line);
}

void ws_check_reselect_silent(SOCKET s, WSAEVENT ev, long mask, const char *file, int line)
{
    const long masks[] = {mask, 0, mask};
    for (int i = 0; i < 3; i++) {
        if (WSAEventSelect(s, ev, masks[i]) != 0)
            check_fail(file, line, "WSAEventSelect(%s) failed: %d", ws_events_str(masks[i]), WSAGetLastError());
        if (masks[i])
            ws_check_events(s, ev, 0, -1, 0, file, line);
    }
}

struct ws_thread {
    void (*fn)(void *);
    void *arg;
#ifdef _WIN32
    HANDLE h;
#else
    pthread_t t;
#endif
};

#ifdef _WIN32
static DWORD WINAPI thread_main(LPVOID p)
{
    ws_thread *t = p;
    t->fn(t->arg);
    return 0;
}
#else
static void *thread_main(void *p)
{
    ws_thread *t = p;
    t->fn(t->arg);
    return NULL;
}
#endif

ws_thread *ws_thread_start(void (*fn)(void *), void *arg)
{
    ws_thread *t = calloc(1, sizeof *t);
    CHECK(t != NULL);
    t->fn = fn;
    t->arg = arg;
#ifdef _WIN32
    t->h = CreateThread(NULL, 0, thread_main, t, 0, NULL);
    CHECK(t->h != NULL);
#else
    CHECK(pthread_create(&t->t, NULL, thread_main, t) == 0);
#endif
    return t;
}

void ws_thread_join(ws_thread *t)
{
#ifdef _WIN32
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
#else
    pthread_join(t->t, NULL);
#endif
    free(t);
}
