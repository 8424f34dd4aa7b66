/* WSAStartup / WSACleanup: the process-wide loop lives between the first
 * WSAStartup and the last WSACleanup, as Winsock's state does on Windows. */
#define _GNU_SOURCE
#include "ws_int.h"

#include <stdlib.h>
#include <string.h>

#define G netev__ws

int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData)
{
    if (!lpWSAData)
        return WSAEFAULT;
    BYTE major = LOBYTE(wVersionRequested), minor = HIBYTE(wVersionRequested);
    if (major < 1)
        return WSAVERNOTSUPPORTED;
    memset(lpWSAData, 0, sizeof *lpWSAData);
    /* Versions above 2.2 get 2.2, the highest there is; older ones get what they asked. */
    int above = major > 2 || (major == 2 && minor >= 2);
    lpWSAData->wVersion = above ? MAKEWORD(2, 2) : wVersionRequested;
    lpWSAData->wHighVersion = MAKEWORD(2, 2);
    lpWSAData->iMaxSockets = 0; /* no limit but the OS's, as Winsock 2 says with 0 */
    lpWSAData->iMaxUdpDg = 0;
    strcpy(lpWSAData->szDescription, "netev Winsock layer");
    strcpy(lpWSAData->szSystemStatus, "Running");

    ws_lock();
    if (G.started == 0) {
        netev_loop *loop = netev_loop_new(NULL);
        if (!loop) {
            ws_unlock();
            return WSASYSNOTREADY;
        }
        G.loop = loop;
        /* Only a backend that reports every arrival lets new data re-signal. */
        G.resignal = strcmp(netev_loop_backend(loop), "epoll") == 0;
        if (G.resignal)
            netev__set_resignal(loop, ws_resignal_cb, 0);
    }
    G.started++;
    ws_unlock();
    return 0;
}

/* The last WSACleanup: as on Windows, sockets still open are closed (those
 * the layer did not make are only forgotten).  A socket threads are blocked
 * on is closed as closesocket does it, by the last of them: its record, and
 * so the table, outlive the loop until then (ws_wait_end). */
static void forget_sockets(void)
{
    int kept = 0;
    for (SOCKET s = 0; s < G.nsocks; s++) {
        ws_sock *ws = ws_peek(s);
        if (!ws)
            continue;
        if (ws->waiting_rd || ws->waiting_wr) {
            if ((ws->flags & WS_OWNED) && !(ws->flags & WS_CLOSING))
                ws_close_under_waiters(s, ws);
            else if (!(ws->flags & WS_CLOSING))
                ws_detach_waited(s, ws);
            kept = 1;
            continue;
        }
        if (ws->flags & WS_OWNED)
            netev_close(G.loop, s);
        else if (ws->flags & WS_IN_CORE)
            netev_forget(G.loop, s);
        ws_drop(s);
    }
    /* No record holds a close any more: a count left over would make every
     * wait of a later WSAStartup wake every 50 ms for good. */
    G.held_closes = 0;
    if (!kept) {
        free(G.socks);
        G.socks = 0;
        G.nsocks = 0;
    }
}

int WSACleanup(void)
{
    int err = ws_lock_core();
    if (err)
        return ws_fail(err);
    if (--G.started == 0) {
        forget_sockets();
        netev_loop_free(G.loop);
        G.loop = 0;
        G.resignal = 0;
    }
    ws_unlock();
    return 0;
}
