/* Test helpers that talk to the operating system directly: Windows versions
 * (util_posix.c has the POSIX ones; util.c the portable rest). */
#include "util.h"

#include <stdint.h>
#include <windows.h>

void util_os_init(void)
{
    /* A crash must fail the test, not wait for someone to close a dialog. */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
    WSADATA wsa;
    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0);
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

/* Handles, not descriptors: the count includes the process's own (threads,
 * events), which stays constant while a case runs, so a leaked socket or
 * event still shows as a difference. */
int util_open_fds(void)
{
    DWORD n = 0;
    if (!GetProcessHandleCount(GetCurrentProcess(), &n))
        return -1;
    return (int)n;
}

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
