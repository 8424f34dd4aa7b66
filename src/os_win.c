/* Windows: Winsock start-up, the loop's wakeup event, the clock, and
 * one-call probes of a socket's state (the counterparts of os_posix.c). */
#include "netev_int.h"

#include <errno.h>
#include <windows.h>

/* ---- the loop's own resources ---- */

int netev__os_open(netev_loop *loop)
{
    /* Reference-counted by Winsock: the loop keeps it up for its own calls
     * (WSACreateEvent, ...) whatever the program did. */
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        errno = ENOMEM;
        return -1;
    }
    WSAEVENT ev = WSACreateEvent(); /* manual reset: it stays set until drained */
    if (ev == WSA_INVALID_EVENT) {
        WSACleanup();
        errno = ENOMEM;
        return -1;
    }
    loop->wake_event = ev;
    return 0;
}

void netev__os_close(netev_loop *loop)
{
    netev__sockmap_free(loop);
    WSACloseEvent(loop->wake_event);
    WSACleanup();
}

int netev__wake_signal(netev_loop *loop)
{
    if (!WSASetEvent(loop->wake_event))
        return netev__map_wsa((int)GetLastError());
    return 0;
}

void netev__drain_wakeup(netev_loop *loop)
{
    WSAResetEvent(loop->wake_event);
    /* After the reset: a wakeup racing with us is not lost, this wait returns. */
    atomic_store(&loop->wake_pending, 0);
}

int64_t netev__now_us(void)
{
    /* the performance counter: GetTickCount64 moves in 15.6 ms steps */
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (int64_t)(now.QuadPart / freq.QuadPart * 1000000 + now.QuadPart % freq.QuadPart * 1000000 / freq.QuadPart);
}

/* ---- probes ---- */

int netev__probe_state(netev_socket s, int *state, int *dead_err, int *message)
{
    *dead_err = 0;
    *message = 0; /* Winsock has no SOCK_SEQPACKET over TCP/IP */
    int type = 0, len = sizeof type;
    if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == SOCKET_ERROR)
        return netev__map_wsa_sock(WSAGetLastError(), s);
    if (type != SOCK_STREAM) {
        *state = NETEV__DATAGRAM;
        return 0;
    }
    struct sockaddr_storage peer;
    len = sizeof peer;
    if (getpeername(s, (struct sockaddr *)&peer, &len) == 0) {
        *state = NETEV__CONNECTED;
        return 0;
    }
    BOOL listening = FALSE;
    len = sizeof listening;
    if (getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, (char *)&listening, &len) == 0 && listening) {
        *state = NETEV__LISTENING;
        return 0;
    }
    /* A connect started outside netev cannot be told apart: its FD_CONNECT
     * arrives in this state and reports WRITE only (ready_win.c). */
    *state = NETEV__UNCONNECTED;
    /* Accepted, but reset before it was selected: only its error tells. */
    int e = netev__so_error(s);
    if (e) {
        *state = NETEV__CONNECTED;
        *dead_err = (e == WSAECONNRESET || e == WSAECONNABORTED) ? NETEV_ECONNRESET : netev__map_wsa(e);
    }
    return 0;
}

int netev__so_error(netev_socket s)
{
    int e = 0, len = sizeof e;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&e, &len) == SOCKET_ERROR)
        return WSAGetLastError();
    return e;
}

int netev__fionread(netev_socket s)
{
    u_long n = 0;
    if (ioctlsocket(s, FIONREAD, &n) == SOCKET_ERROR)
        return 0;
    return n > INT_MAX ? INT_MAX : (int)n;
}

unsigned netev__poll1(netev_socket s, short events)
{
    WSAPOLLFD p = {.fd = s, .events = events};
    return WSAPoll(&p, 1, 0) > 0 ? (unsigned)p.revents : 0;
}

int netev__readable(netev_socket s)
{
    return (netev__poll1(s, POLLRDNORM) & POLLRDNORM) != 0;
}

/* No reliable probe (SIOCATMARK differs under Wine); Windows re-signals
 * FD_OOB by itself while urgent data is left, which sets F_URGENT again. */
int netev__urgent_left(netev_socket s)
{
    (void)s;
    return 0;
}

/* Not asked for the same reason: Windows re-signals FD_READ itself while
 * data is left after a recv. */
int netev__at_mark(netev_socket s)
{
    (void)s;
    return 0;
}

int netev__set_nonblock(netev_socket s)
{
    u_long one = 1;
    return ioctlsocket(s, FIONBIO, &one) == SOCKET_ERROR ? WSAGetLastError() : 0;
}

int netev__keeps_messages(netev_socket s)
{
    (void)s;
    return 0; /* as netev__probe_state: no SOCK_SEQPACKET over TCP/IP */
}

int netev__message_queued(netev_socket s)
{
    (void)s;
    return 0; /* never asked: no socket here keeps message boundaries */
}

int netev__accept_queue_len(netev_socket s)
{
    (void)s;
    return -1;
}
