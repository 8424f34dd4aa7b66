/* WSAEventSelect and WSAEnumNetworkEvents. */
#define _GNU_SOURCE
#include "ws_int.h"

#define G netev__ws

int WSAEventSelect(SOCKET s, WSAEVENT hEventObject, long lNetworkEvents)
{
    int err = ws_lock_core();
    if (err)
        return ws_fail(err);
    if ((err = ws_socket_check(s)))
        goto fail;
    err = WSAEINVAL;
    if (lNetworkEvents & ~(long)FD_ALL_EVENTS)
        goto fail;
    if (lNetworkEvents && !ws_event_lookup(hEventObject))
        goto fail; /* a non-zero mask needs an event */
    ws_sock *ws = ws_get(s);
    err = WSAENOBUFS;
    if (!ws)
        goto fail;
    if ((err = ws_ensure_core(s, ws)))
        goto fail;
    /* Whatever the mask: the socket is non-blocking from now on. */
    ws->flags |= WS_NONBLOCK;
    ws->mask = (uint16_t)lNetworkEvents;
    ws->event = lNetworkEvents ? hEventObject : WSA_INVALID_EVENT;
    /* Conditions that hold now are recorded now.  Recorded, unenumerated
     * events survive the new selection and set the new event at once;
     * enumerated ones are not announced again (observed, §1.3). */
    ws_harvest();
    if (ws->event && (ws->pending & ws->mask))
        ws_event_signal(ws->event);
    ws_unlock();
    return 0;
fail:
    ws_unlock();
    return ws_fail(err);
}

int WSAEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject, LPWSANETWORKEVENTS lpNetworkEvents)
{
    int err = ws_lock_core();
    if (err)
        return ws_fail(err);
    ws_event_slot *ev = 0;
    ws_sock *ws = ws_peek(s);
    /* A tracked socket is known to be one, unless closesocket was called. */
    if ((!ws || (ws->flags & WS_CLOSING)) && (err = ws_socket_check(s)))
        goto fail;
    err = WSAEFAULT;
    if (!lpNetworkEvents)
        goto fail;
    err = WSAEINVAL;
    if (hEventObject && !(ev = ws_event_lookup(hEventObject)))
        goto fail;
    if (ws && (ws->flags & WS_IN_CORE))
        ws_harvest();
    /* Copy, clear and reset under one lock: an event recorded afterwards sets
     * the object again (§1.4).  Only selected events are returned and
     * cleared; error codes are written for the returned bits only. */
    unsigned out = ws ? (unsigned)(ws->pending & ws->mask) : 0;
    lpNetworkEvents->lNetworkEvents = (long)out;
    for (unsigned bit = 0; bit < NETEV_MAX_EVENTS; bit++)
        if (out & (1u << bit))
            lpNetworkEvents->iErrorCode[bit] = ws->err[bit];
    if (ws)
        ws->pending &= (uint16_t)~out;
    if (ev)
        ev->signalled = 0;
    ws_unlock();
    return 0;
fail:
    ws_unlock();
    return ws_fail(err);
}
