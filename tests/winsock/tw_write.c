/* Research §5 C: FD_WRITE. */
#include "ws_util.h"

#define ALL_SIX (FD_READ | FD_WRITE | FD_OOB | FD_ACCEPT | FD_CONNECT | FD_CLOSE)

/* C1-C4 in sequence, on the accepted side. */
TEST(c1_to_c4)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, ALL_SIX));
    CHECK_EVENTS(s, ev, FD_WRITE); /* C1 */
    CHECK_NO_EVENTS(s, ev);

    CHECK_RESELECT_SILENT(s, ev, ALL_SIX); /* C2 */

    CHECK_EQ(send(s, "hello", 5, 0), 5); /* C3 */
    CHECK_NO_EVENTS(s, ev);
    char b[5];
    ws_recv_exactly(c, b, 5);
    CHECK_NO_EVENTS(s, ev);

    int sent = ws_fill(s); /* C4: until WSAEWOULDBLOCK */
    CHECK(sent > 0);
    CHECK_NO_EVENTS(s, ev);
    ws_drain(c, sent);
    CHECK_EVENTS(s, ev, FD_WRITE);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(WSAEventSelect(s, ev, ALL_SIX));
    CHECK_NO_EVENTS(s, ev);

    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* C5: the connector, after sending, selects without FD_WRITE: only
 * FD_CONNECT; adding FD_WRITE reports it. */
TEST(c5_write_selected_later)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_EQ(send(c, "hello", 5, 0), 5);
    CHECK_WSA_OK(WSAEventSelect(c, ev, FD_ACCEPT | FD_CONNECT | FD_OOB | FD_READ));
    CHECK_EVENTS(c, ev, FD_CONNECT);
    CHECK_NO_EVENTS(c, ev);
    CHECK_WSA_OK(WSAEventSelect(c, ev, FD_ACCEPT | FD_CONNECT | FD_OOB | FD_READ | FD_WRITE));
    CHECK_EVENTS(c, ev, FD_WRITE);
    CHECK_NO_EVENTS(c, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* C6: a successful send does not clear a recorded FD_WRITE. */
TEST(c6_send_keeps_recorded_write)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, ALL_SIX));
    CHECK_EQ(send(s, "hello", 5, 0), 5);
    CHECK_EVENTS(s, ev, FD_WRITE);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

enum { BIG = 8 * 1024 * 1024 };

static void drain_big(void *arg)
{
    ws_drain(*(SOCKET *)arg, BIG);
}

/* A blocking send on a deselected socket (WSAEventSelect(s, NULL, 0) then
 * FIONBIO 0) sends everything, waiting while the peer reads. */
TEST(blocking_send_after_deselect)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, ALL_SIX));
    CHECK_EVENTS(s, ev, FD_WRITE);
    CHECK_WSA_OK(WSAEventSelect(s, NULL, 0));
    ws_set_nonblocking(s, 0);
    char *buf = calloc(1, BIG);
    CHECK(buf != NULL);
    ws_thread *t = ws_thread_start(drain_big, &c);
    CHECK_EQ(send(s, buf, BIG, 0), BIG);
    ws_thread_join(t);
    free(buf);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* send on a socket without a connection fails with WSAENOTCONN (Linux says
 * EPIPE, as after a reset): one never connected, blocking or selected, a
 * listener, and one whose connect was refused. */
TEST(send_not_connected)
{
    if (ws_is_wine()) {
        ws_skip("send without a connection", "Wine 8 maps Linux's EPIPE to WSAECONNRESET (observed); Windows documents WSAENOTCONN");
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    SOCKET u = ws_tcp_socket();
    CHECK_WSA_FAIL(send(u, "x", 1, 0), WSAENOTCONN);
    CHECK_WSA_FAIL(send(l, "x", 1, 0), WSAENOTCONN);
    CHECK_WSA_OK(WSAEventSelect(u, ev, ALL_SIX));
    CHECK_WSA_FAIL(send(u, "x", 1, 0), WSAENOTCONN);
    CHECK_WSA_OK(WSAEventSelect(l, ev, ALL_SIX));
    CHECK_WSA_FAIL(send(l, "x", 1, 0), WSAENOTCONN);
    SOCKADDR_IN closed;
    ws_closed_port(&closed);
    SOCKET r = ws_tcp_socket();
    CHECK_WSA_FAIL(connect(r, (const SOCKADDR *)&closed, sizeof closed), WSAECONNREFUSED);
    CHECK_WSA_FAIL(send(r, "x", 1, 0), WSAENOTCONN);
    CHECK_WSA_OK(closesocket(r));
    CHECK_WSA_OK(closesocket(u));
    CHECK_WSA_OK(closesocket(l));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

RUN_TESTS(CASE(c1_to_c4), CASE(c5_write_selected_later), CASE(c6_send_keeps_recorded_write),
          CASE(blocking_send_after_deselect), CASE(send_not_connected))
