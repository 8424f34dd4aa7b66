/* Research §5 A: a listening socket's FD_ACCEPT, through the Winsock API. */
#include "ws_util.h"

#define LISTEN_MASK (FD_CONNECT | FD_READ | FD_OOB | FD_ACCEPT)

static SOCKET accept_one(SOCKET l)
{
    SOCKADDR_IN peer;
    int len = sizeof peer;
    SOCKET a = accept(l, (SOCKADDR *)&peer, &len);
    if (a == INVALID_SOCKET)
        check_fail(__FILE__, __LINE__, "accept failed: %d", WSAGetLastError());
    CHECK_EQ(len, sizeof peer);
    CHECK_EQ(peer.sin_family, AF_INET);
    return a;
}

/* A1-A7 in sequence, as Wine's test_accept_events runs them. */
TEST(a1_to_a7)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET l = ws_tcp_socket();
    /* selected before bind and listen, which Windows allows */
    CHECK_WSA_OK(WSAEventSelect(l, ev, LISTEN_MASK));
    SOCKADDR_IN addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_WSA_OK(bind(l, (SOCKADDR *)&addr, sizeof addr));
    int len = sizeof addr;
    CHECK_WSA_OK(getsockname(l, (SOCKADDR *)&addr, &len));
    CHECK_WSA_OK(listen(l, 16));
    CHECK_NO_EVENTS(l, ev); /* A1 */

    SOCKET c1 = ws_connect_blocking(&addr);
    CHECK_EVENTS(l, ev, FD_ACCEPT); /* A2 */
    CHECK_NO_EVENTS(l, ev);

    CHECK_RESELECT_SILENT(l, ev, LISTEN_MASK); /* A3, A4 */

    SOCKET c2 = ws_connect_blocking(&addr);
    const char *why = ws_no_resignal_reason();
    if (why)
        ws_skip("A5 (2nd connection re-signals an unaccepted FD_ACCEPT)", why);
    else
        CHECK_EVENTS(l, ev, FD_ACCEPT); /* A5 */

    SOCKET a1 = accept_one(l); /* A6: another is queued */
    CHECK_EVENTS(l, ev, FD_ACCEPT);
    SOCKET a2 = accept_one(l);
    CHECK_NO_EVENTS(l, ev);
    SOCKET none = accept(l, NULL, NULL);
    CHECK_EQ(none, INVALID_SOCKET);
    CHECK_EQ(WSAGetLastError(), WSAEWOULDBLOCK);
    CHECK_NO_EVENTS(l, ev);

    SOCKET c3 = ws_connect_blocking(&addr); /* A7 */
    CHECK_EVENTS(l, ev, FD_ACCEPT);
    SOCKET a3 = accept_one(l);
    CHECK_NO_EVENTS(l, ev);

    SOCKET all[] = {c1, c2, c3, a1, a2, a3, l};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CHECK_WSA_OK(closesocket(all[i]));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* A5 alone: the second connection re-signals while the first is unaccepted,
 * and a third does so again; nothing without a new arrival. */
TEST(a5_each_arrival_resignals)
{
    const char *why = ws_no_resignal_reason();
    if (why) {
        ws_skip("A5", why);
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    CHECK_WSA_OK(WSAEventSelect(l, ev, FD_ACCEPT));
    SOCKET c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = ws_connect_blocking(&addr);
        CHECK_EVENTS(l, ev, FD_ACCEPT);
        CHECK_NO_EVENTS(l, ev);
    }
    for (int i = 0; i < 3; i++)
        CHECK_WSA_OK(closesocket(c[i]));
    CHECK_WSA_OK(closesocket(l));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* A8: a connection queued before WSAEventSelect is reported on select. */
TEST(a8_queued_before_select)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    SOCKET c = ws_connect_blocking(&addr);
    CHECK_WSA_OK(WSAEventSelect(l, ev, LISTEN_MASK));
    CHECK_EVENTS(l, ev, FD_ACCEPT);
    CHECK_NO_EVENTS(l, ev);
    SOCKET a = accept_one(l);
    CHECK_NO_EVENTS(l, ev);
    CHECK_WSA_OK(closesocket(a));
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(l));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* A9: the event stays set across a re-select that drops FD_ACCEPT; once reset,
 * a subset does not set it; selecting FD_ACCEPT again sets it at once. */
TEST(a9_event_across_reselects)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    CHECK_WSA_OK(WSAEventSelect(l, ev, LISTEN_MASK));
    SOCKET c = ws_connect_blocking(&addr);
    CHECK_SIGNALLED(ev);
    CHECK_WSA_OK(WSAEventSelect(l, ev, FD_CONNECT | FD_READ | FD_OOB));
    CHECK_SIGNALLED(ev); /* WSAEventSelect never resets the event */
    CHECK(WSAResetEvent(ev));
    CHECK_WSA_OK(WSAEventSelect(l, ev, FD_CONNECT | FD_READ));
    CHECK_NOT_SIGNALLED(ev);
    CHECK_WSA_OK(WSAEventSelect(l, ev, LISTEN_MASK));
    CHECK_SIGNALLED(ev);
    CHECK_EVENTS(l, ev, FD_ACCEPT);
    CHECK_NO_EVENTS(l, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(l));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* A10: recorded while not selected, reported once selected.
 * A11: an accept in the meantime clears that record. */
TEST(a10_a11_latent_record)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    CHECK_WSA_OK(WSAEventSelect(l, ev, FD_CONNECT | FD_READ | FD_OOB));
    SOCKET c1 = ws_connect_blocking(&addr);
    CHECK_NO_EVENTS(l, ev);
    CHECK_WSA_OK(WSAEventSelect(l, ev, LISTEN_MASK));
    CHECK_EVENTS(l, ev, FD_ACCEPT); /* A10 */
    SOCKET a1 = accept_one(l);
    CHECK_NO_EVENTS(l, ev);

    CHECK_WSA_OK(WSAEventSelect(l, ev, FD_CONNECT | FD_READ | FD_OOB));
    SOCKET c2 = ws_connect_blocking(&addr);
    CHECK_NO_EVENTS(l, ev);
    SOCKET a2 = accept_one(l);
    CHECK_WSA_OK(WSAEventSelect(l, ev, LISTEN_MASK));
    CHECK_NO_EVENTS(l, ev); /* A11 */

    SOCKET all[] = {c1, c2, a1, a2, l};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CHECK_WSA_OK(closesocket(all[i]));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* A12: the accepted socket has the listener's event and mask: FD_WRITE on it
 * (never FD_CONNECT), then nothing.  It is non-blocking like the listener. */
TEST(a12_accepted_inherits_event_and_mask)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    SOCKET c = ws_connect_blocking(&addr);
    CHECK_WSA_OK(WSAEventSelect(l, ev, LISTEN_MASK | FD_WRITE));
    CHECK_EVENTS(l, ev, FD_ACCEPT);
    SOCKET a = accept_one(l);
    CHECK_EVENTS(a, ev, FD_WRITE);
    CHECK_NO_EVENTS(a, ev);
    CHECK_NO_EVENTS(l, ev);
    char b;
    CHECK_WSA_FAIL(recv(a, &b, 1, 0), WSAEWOULDBLOCK);
    /* the inherited mask includes FD_READ, on the listener's event */
    CHECK_EQ(send(c, "x", 1, 0), 1);
    CHECK_EVENTS(a, ev, FD_READ);
    CHECK_EQ(recv(a, &b, 1, 0), 1);
    CHECK_WSA_OK(closesocket(a));
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(l));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* The seed's flow (pitfall 10): the listener selects FD_ACCEPT|FD_CLOSE; the
 * accepted socket's FD_WRITE is outside that mask, so it waits, and signals
 * the socket's own event as soon as the socket is selected with FD_WRITE. */
TEST(seed_reselect_after_accept)
{
    ws_begin();
    WSAEVENT lev = WSACreateEvent(), cev = WSACreateEvent();
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    u_long on = 1;
    CHECK_WSA_OK(ioctlsocket(l, FIONBIO, &on));
    CHECK_WSA_OK(WSAEventSelect(l, lev, FD_ACCEPT | FD_CLOSE));
    SOCKET c = ws_connect_blocking(&addr);
    CHECK_EVENTS(l, lev, FD_ACCEPT);
    SOCKET a = accept_one(l);
    CHECK_NO_EVENTS(l, lev);
    CHECK_WSA_OK(WSAEventSelect(a, cev, FD_READ | FD_WRITE | FD_CLOSE));
    CHECK_EVENTS(a, cev, FD_WRITE);
    CHECK_NO_EVENTS(l, lev);
    CHECK_WSA_OK(closesocket(a));
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(l));
    CHECK(WSACloseEvent(lev));
    CHECK(WSACloseEvent(cev));
    ws_end();
}

/* A listener that is not selected and not non-blocking accepts blocking, and
 * its accepted sockets are blocking too. */
TEST(blocking_listener)
{
    ws_begin();
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    SOCKET c = ws_connect_blocking(&addr);
    SOCKET a = accept_one(l);
    CHECK_EQ(send(c, "hi", 2, 0), 2);
    char b[2];
    ws_recv_exactly(a, b, 2); /* blocking recv on a blocking socket */
    CHECK(memcmp(b, "hi", 2) == 0);
    CHECK_WSA_OK(closesocket(a));
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(l));
    ws_end();
}

RUN_TESTS(CASE(a1_to_a7), CASE(a5_each_arrival_resignals), CASE(a8_queued_before_select),
          CASE(a9_event_across_reselects), CASE(a10_a11_latent_record), CASE(a12_accepted_inherits_event_and_mask),
          CASE(seed_reselect_after_accept), CASE(blocking_listener))
