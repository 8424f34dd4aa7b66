/* Test helpers that talk to the operating system directly: Windows versions
 * (util_posix.c has the POSIX ones; util.c the portable rest). */
#include "util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <windows.h>

static void *no_op(void *arg) { return arg; }
static void learn_event_type(void);

void util_os_init(void)
{
    /* A crash must fail the test, not wait for someone to close a dialog. */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
    WSADATA wsa;
    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);
    /* Winsock creates a handle of its own at the first blocking call (under
     * Wine: the thread's synchronous-I/O event) and keeps it: make that
     * happen here, not inside the first case's leak check. */
    netev_socket c, s;
    util_pair(&c, &s);
    util_close(c);
    util_close(s);
    /* Likewise winpthreads at its first thread (an event and a thread handle). */
    pthread_t t;
    CHECK(pthread_create(&t, 0, no_op, 0) == 0);
    CHECK(pthread_join(t, 0) == 0);
    learn_event_type();
}

int util_under_wine(void)
{
    static int known = -1;
    if (known < 0) {
        HMODULE ntdll = GetModuleHandleA("ntdll.dll");
        known = ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
    }
    return known;
}

/* Handles, not descriptors, read from the system handle table (one call,
 * filtered by process id; GetProcessHandleCount would be simpler, but Wine
 * answers 0 to it).  Events are left out of the per-case count: the C
 * runtime and winpthreads create one lazily when a lock is first contended
 * between threads, at a moment no test controls.  Sockets, threads and other
 * handles count; netev's own events are checked by util_open_handles_all()
 * in single-threaded cases (t_many). */
typedef struct handle_entry {
    ULONG pid;
    UCHAR type, flags;
    USHORT value;
    PVOID object;
    ULONG access;
} handle_entry;

typedef struct handle_table {
    ULONG count;
    handle_entry entry[1];
} handle_table;

typedef LONG(WINAPI *query_fn)(ULONG, PVOID, ULONG, PULONG);

static int event_type = -1; /* type index of an event handle in the table */

/* Calls fn for each handle of this process; -1 if the table cannot be read. */
static int count_handles(int (*want)(const handle_entry *))
{
    enum { SYSTEM_HANDLE_INFORMATION = 16 };
    static query_fn query;
    if (!query)
        query = (query_fn)(void (*)(void))GetProcAddress(GetModuleHandleA("ntdll.dll"), "NtQuerySystemInformation");
    for (ULONG size = 1 << 16; query && size < (1u << 30); size *= 2) {
        handle_table *t = malloc(size);
        CHECK(t != NULL);
        ULONG need = 0;
        LONG status = query(SYSTEM_HANDLE_INFORMATION, t, size, &need);
        if (status == (LONG)0xC0000004L) { /* STATUS_INFO_LENGTH_MISMATCH */
            free(t);
            continue;
        }
        int n = -1;
        if (status == 0) {
            DWORD me = GetCurrentProcessId();
            n = 0;
            for (ULONG i = 0; i < t->count; i++)
                n += t->entry[i].pid == me && want(&t->entry[i]);
        }
        free(t);
        return n;
    }
    return -1;
}

static HANDLE probe_handle;
static int is_probe(const handle_entry *e)
{
    if (e->value == (USHORT)(uintptr_t)probe_handle)
        event_type = e->type;
    return 0;
}
static int any(const handle_entry *e) { return e != NULL; }
static int not_event(const handle_entry *e) { return e->type != event_type; }

static void learn_event_type(void)
{
    probe_handle = CreateEventA(NULL, TRUE, FALSE, NULL);
    CHECK(probe_handle != NULL);
    count_handles(is_probe);
    CloseHandle(probe_handle);
}

int util_open_fds(void) { return event_type < 0 ? -1 : count_handles(not_event); }

int util_open_handles_all(void) { return count_handles(any); }

void util_sleep_ms(int ms) { Sleep((DWORD)ms); }

long long util_now_us(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (long long)(now.QuadPart / freq.QuadPart * 1000000 + now.QuadPart % freq.QuadPart * 1000000 / freq.QuadPart);
}

netev_socket util_tcp_socket(int family)
{
    SOCKET s = socket(family, SOCK_STREAM, IPPROTO_TCP);
    CHECK(s != INVALID_SOCKET);
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    return s;
}

netev_socket util_listener(int *port)
{
    SOCKET s = util_tcp_socket(AF_INET);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(s, 4096) == 0); /* generous: an overflowing backlog makes the kernel drop or reset connections */
    int len = sizeof a;
    CHECK(getsockname(s, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return s;
}

netev_socket util_bound(int type, int *port)
{
    SOCKET s = socket(AF_INET, type, type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP);
    CHECK(s != INVALID_SOCKET);
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    int len = sizeof a;
    CHECK(getsockname(s, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return s;
}

netev_socket util_connect(int port)
{
    SOCKET s = util_tcp_socket(AF_INET);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0);
    return s;
}

void util_pair(netev_socket *client, netev_socket *server)
{
    int port;
    netev_socket l = util_listener(&port);
    *client = util_connect(port);
    *server = accept(l, 0, 0);
    CHECK(*server != INVALID_SOCKET);
    SetHandleInformation((HANDLE)*server, HANDLE_FLAG_INHERIT, 0);
    closesocket(l);
}

void util_rst(netev_socket s)
{
    struct linger lg = {1, 0};
    CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg) == 0);
    closesocket(s);
}

void util_close(netev_socket s) { closesocket(s); }

void util_send_all(netev_socket s, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        int n = send(s, p, len > INT_MAX ? INT_MAX : (int)len, 0);
        CHECK(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

size_t util_recv_some(netev_socket s, void *buf, size_t len)
{
    int n = recv(s, buf, len > INT_MAX ? INT_MAX : (int)len, 0);
    CHECK(n >= 0);
    return (size_t)n;
}

void util_set_blocking(netev_socket s, int blocking)
{
    u_long nb = !blocking;
    CHECK(ioctlsocket(s, FIONBIO, &nb) == 0);
}

/* Windows cannot be asked whether a socket is non-blocking, but a receive
 * with a 1 ms timeout tells: WSAEWOULDBLOCK at once, or WSAETIMEDOUT.  Only
 * valid while nothing is queued for reading, which is checked. */
int util_is_nonblocking(netev_socket s)
{
    DWORD old = 0, tiny = 1;
    int len = sizeof old;
    CHECK(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (char *)&old, &len) == 0);
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&tiny, sizeof tiny) == 0);
    char c;
    int n = recv(s, &c, 1, MSG_PEEK);
    int e = WSAGetLastError();
    CHECK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&old, sizeof old) == 0);
    CHECK(n == SOCKET_ERROR); /* data queued: this probe cannot tell */
    CHECK(e == WSAEWOULDBLOCK || e == WSAETIMEDOUT);
    return e == WSAEWOULDBLOCK;
}

int util_is_cloexec(netev_socket s)
{
    DWORD flags = 0;
    CHECK(GetHandleInformation((HANDLE)s, &flags));
    return !(flags & HANDLE_FLAG_INHERIT);
}

/* An open handle of another kind: Winsock says WSAENOTSOCK for it. */
netev_socket util_not_a_socket(void)
{
    HANDLE h = CreateEventA(NULL, TRUE, FALSE, NULL);
    CHECK(h != NULL);
    return (netev_socket)(uintptr_t)h;
}

void util_close_not_a_socket(netev_socket s) { CloseHandle((HANDLE)(uintptr_t)s); }

/* Handle values are small multiples of 4; this one is never open. */
netev_socket util_unused_socket_number(void) { return (netev_socket)0x3FFFFFFCu; }

long long util_cpu_us(void)
{
    FILETIME created, exited, kernel, user;
    CHECK(GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user));
    ULARGE_INTEGER k = {.u = {kernel.dwLowDateTime, kernel.dwHighDateTime}};
    ULARGE_INTEGER u = {.u = {user.dwLowDateTime, user.dwHighDateTime}};
    return (long long)((k.QuadPart + u.QuadPart) / 10);
}

/* getenv reads the C runtime's copy of the environment: change that one. */
void util_setenv(const char *name, const char *value)
{
    CHECK(_putenv_s(name, value ? value : "") == 0);
}

/* Windows has no per-process descriptor limit for sockets. */
int util_raise_fd_limit(int want) { return want; }
