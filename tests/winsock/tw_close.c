/* Research §5 F: FD_CLOSE. */
#include "ws_util.h"

#define READ_MASK (FD_ACCEPT | FD_CLOSE | FD_CONNECT | FD_OOB | FD_READ)
#define ALL_SIX (FD_READ | FD_WRITE | FD_OOB | FD_ACCEPT | FD_CONNECT | FD_CLOSE)

/* F1: the peer's closesocket: FD_CLOSE with 0, once, not again on re-select;
 * recv returns 0. */
TEST(f1_peer_close)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_WSA_OK(closesocket(c));
    CHECK_EVENTS(s, ev, FD_CLOSE);
    CHECK_NO_EVENTS(s, ev);
    CHECK_RESELECT_SILENT(s, ev, READ_MASK);
    char b[4];
    CHECK_EQ(recv(s, b, sizeof b, 0), 0);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* F2: the peer's shutdown(SD_SEND) is FD_CLOSE; its later closesocket adds nothing. */
TEST(f2_peer_shutdown_send)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_WSA_OK(shutdown(c, SD_SEND));
    CHECK_EVENTS(s, ev, FD_CLOSE);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* F3: the peer's shutdown(SD_RECEIVE) and a local shutdown(SD_BOTH) are not
 * FD_CLOSE; the peer's shutdown(SD_SEND) afterwards is. */
TEST(f3_local_shutdown_is_not_close)
{
    if (ws_is_wine()) {
        ws_skip("F3", "Wine drops the selection on shutdown(SD_BOTH) (todo_wine)");
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_WSA_OK(shutdown(c, SD_RECEIVE));
    CHECK_WSA_OK(shutdown(s, SD_BOTH));
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(shutdown(c, SD_SEND));
    CHECK_EVENTS(s, ev, FD_CLOSE);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* F4: FD_CLOSE comes at once even with unread data, which stays readable. */
TEST(f4_close_with_unread_data)
{
    if (ws_is_wine()) {
        ws_skip("F4", "Wine reports FD_CLOSE only once the data is read (todo_wine)");
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_EQ(send(c, "hello", 5, 0), 5);
    CHECK_EVENTS(s, ev, FD_READ);
    CHECK_WSA_OK(closesocket(c));
    CHECK_EVENTS(s, ev, FD_CLOSE);
    char b[8];
    CHECK_EQ(recv(s, b, 3, 0), 3);
    CHECK_EVENTS(s, ev, FD_READ);
    CHECK_EQ(recv(s, b, sizeof b, 0), 2);
    CHECK_NO_EVENTS(s, ev);
    CHECK_EQ(recv(s, b, sizeof b, 0), 0);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* F5: the peer closed before the select: FD_CLOSE on select. */
TEST(f5_closed_before_select)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(closesocket(c));
    ws_sleep_ms(20);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_EVENTS(s, ev, FD_CLOSE);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* F6: recorded while FD_CLOSE was not selected, reported once it is. */
TEST(f6_close_selected_later)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, FD_ACCEPT | FD_CONNECT | FD_OOB | FD_READ));
    CHECK_WSA_OK(closesocket(c));
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_EVENTS(s, ev, FD_CLOSE);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* F7: the peer's reset is FD_CLOSE with WSAECONNABORTED (not WSAECONNRESET);
 * once; recv then fails with WSAECONNRESET. */
TEST(f7_peer_reset)
{
    if (ws_is_wine()) {
        ws_skip("F7", "Wine 8 reports a reset as a graceful close (error 0), and recv then returns 0");
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    ws_close_with_rst(c);
    CHECK_EVENTS_ERR(s, ev, FD_CLOSE, FD_CLOSE_BIT, WSAECONNABORTED);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_NO_EVENTS(s, ev);
    char b[4];
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET);
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET); /* and again */
    CHECK_WSA_FAIL(send(s, "x", 1, 0), WSAECONNRESET);
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

#define WINE_F7 "F7", "Wine 8 reports a reset as a graceful close (error 0), and recv then returns 0"

/* F7 when recv hears the reset before any wait does (Linux tells it once,
 * to whoever asks first): recv fails with WSAECONNRESET, and again; FD_CLOSE
 * still carries WSAECONNABORTED. */
TEST(f7_reset_heard_by_recv_first)
{
    if (ws_is_wine()) {
        ws_skip(WINE_F7);
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    ws_close_with_rst(c);
    ws_sleep_ms(50);
    char b[4];
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET);
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET);
    CHECK_EVENTS_ERR(s, ev, FD_CLOSE, FD_CLOSE_BIT, WSAECONNABORTED);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET);
    CHECK_WSA_FAIL(send(s, "x", 1, 0), WSAECONNRESET);
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* F7 when send hears the reset first: a recv before the next wait still
 * fails with WSAECONNRESET (not end of stream), and FD_CLOSE carries
 * WSAECONNABORTED. */
TEST(f7_reset_heard_by_send_first)
{
    if (ws_is_wine()) {
        ws_skip(WINE_F7);
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK | FD_WRITE));
    CHECK_EVENTS(s, ev, FD_WRITE);
    ws_close_with_rst(c);
    ws_sleep_ms(50);
    char b[4];
    CHECK_WSA_FAIL(send(s, "x", 1, 0), WSAECONNRESET);
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET);
    CHECK_EVENTS_ERR(s, ev, FD_CLOSE, FD_CLOSE_BIT, WSAECONNABORTED);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_FAIL(send(s, "x", 1, 0), WSAECONNRESET);
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET);
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* The same on a blocking socket never selected: every recv and send after
 * the peer's reset fails with WSAECONNRESET, whichever heard it first. */
TEST(reset_on_blocking_socket)
{
    if (ws_is_wine()) {
        ws_skip(WINE_F7);
        return;
    }
    ws_begin();
    SOCKET c, s;
    char b[4];
    ws_tcp_pair(&c, &s);
    ws_close_with_rst(c);
    ws_sleep_ms(50);
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET);
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET);
    CHECK_WSA_FAIL(send(s, "x", 1, 0), WSAECONNRESET);
    CHECK_WSA_OK(closesocket(s));

    ws_tcp_pair(&c, &s);
    ws_close_with_rst(c);
    ws_sleep_ms(50);
    CHECK_WSA_FAIL(send(s, "x", 1, 0), WSAECONNRESET);
    CHECK_WSA_FAIL(recv(s, b, sizeof b, 0), WSAECONNRESET);
    CHECK_WSA_FAIL(send(s, "x", 1, 0), WSAECONNRESET);
    CHECK_WSA_OK(closesocket(s));
    ws_end();
}

/* F8: a reset before anything was enumerated: the accepted side has FD_WRITE
 * and FD_CLOSE (WSAECONNABORTED) in one enumeration; the connector has
 * FD_CONNECT and FD_WRITE with it. */
TEST(f8_reset_before_enumerating)
{
    if (ws_is_wine()) {
        ws_skip("F8", "Wine 8 reports a reset as a graceful close (error 0), and recv then returns 0");
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, ALL_SIX));
    ws_close_with_rst(c);
    ws_sleep_ms(20);
    CHECK_EVENTS_ERR(s, ev, FD_WRITE | FD_CLOSE, FD_CLOSE_BIT, WSAECONNABORTED);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(s));

    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    c = ws_tcp_socket();
    CHECK_WSA_OK(WSAEventSelect(c, ev, ALL_SIX));
    CHECK_WSA_FAIL(connect(c, (SOCKADDR *)&addr, sizeof addr), WSAEWOULDBLOCK);
    s = accept(l, NULL, NULL);
    CHECK(s != INVALID_SOCKET);
    ws_close_with_rst(s);
    ws_sleep_ms(20);
    CHECK_EVENTS_ERR(c, ev, FD_CONNECT | FD_WRITE | FD_CLOSE, FD_CLOSE_BIT, WSAECONNABORTED);
    CHECK_NO_EVENTS(c, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(l));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* Closing a selected socket cancels its selection: its event is not set by it again. */
TEST(closesocket_cancels_selection)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, ALL_SIX));
    CHECK_EVENTS(s, ev, FD_WRITE);
    CHECK_WSA_OK(closesocket(s));
    CHECK_EQ(send(c, "x", 1, 0), 1);
    CHECK_NOT_SIGNALLED(ev);
    CHECK(WSACloseEvent(ev)); /* the event outlives the socket: closesocket does not close it */
    CHECK_WSA_OK(closesocket(c));
    ws_end();
}

RUN_TESTS(CASE(f1_peer_close), CASE(f2_peer_shutdown_send), CASE(f3_local_shutdown_is_not_close),
          CASE(f4_close_with_unread_data), CASE(f5_closed_before_select), CASE(f6_close_selected_later),
          CASE(f7_peer_reset), CASE(f7_reset_heard_by_recv_first), CASE(f7_reset_heard_by_send_first),
          CASE(reset_on_blocking_socket), CASE(f8_reset_before_enumerating), CASE(closesocket_cancels_selection))
