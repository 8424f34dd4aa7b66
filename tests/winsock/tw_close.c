/* Research §5 F: FD_CLOSE; and closesocket. */
#include "ws_util.h"

#include <stdatomic.h>
#include <string.h>

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
 * FD_CLOSE; the peer's end afterwards is: its shutdown(SD_SEND) a graceful
 * one, its reset an abortive one (WSAECONNABORTED, as any reset: F7). */
static void f3_then_peer_ends(const char *row, int reset)
{
    if (ws_is_wine()) {
        ws_skip(row, "Wine drops the selection on shutdown(SD_BOTH) (todo_wine)");
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
    if (reset) {
        ws_close_with_rst(c);
        CHECK_EVENTS_ERR(s, ev, FD_CLOSE, FD_CLOSE_BIT, WSAECONNABORTED);
    } else {
        CHECK_WSA_OK(shutdown(c, SD_SEND));
        CHECK_EVENTS_ERR(s, ev, FD_CLOSE, FD_CLOSE_BIT, 0);
        CHECK_WSA_OK(closesocket(c));
    }
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

TEST(f3_local_shutdown_is_not_close)
{
    f3_then_peer_ends("F3", 0);
}

TEST(f3_then_peer_reset)
{
    f3_then_peer_ends("F3 then F7", 1);
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

/* F7 when recv (or send) hears the reset before any wait does (Linux
 * tells it once, to whoever asks first): that call fails with
 * WSAECONNRESET, and so does every later recv and send; FD_CLOSE still
 * carries WSAECONNABORTED. */
static void reset_heard_first(int by_send)
{
    if (ws_is_wine()) {
        ws_skip(WINE_F7);
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, by_send ? READ_MASK | FD_WRITE : READ_MASK));
    if (by_send)
        CHECK_EVENTS(s, ev, FD_WRITE);
    ws_close_with_rst(c);
    ws_sleep_ms(50);
    char b[4];
    if (by_send)
        CHECK_WSA_FAIL(send(s, "x", 1, 0), WSAECONNRESET);
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

TEST(f7_reset_heard_by_recv_first)
{
    reset_heard_first(0);
}

TEST(f7_reset_heard_by_send_first)
{
    reset_heard_first(1);
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

/* A call that blocks in another thread until closesocket aborts it. */
typedef struct blocked_call {
    SOCKET s;
    char op; /* 'r' recv, 's' send, 'a' accept */
    int failed, error, n;
    char buf[16];
    atomic_int done;
} blocked_call;

static void blocked_call_run(void *arg)
{
    blocked_call *b = arg;
    static char chunk[1 << 20];
    if (b->op == 'a') {
        SOCKET a = accept(b->s, NULL, NULL);
        b->failed = a == INVALID_SOCKET;
        if (!b->failed)
            closesocket(a);
    } else {
        b->n = b->op == 'r' ? recv(b->s, b->buf, (int)sizeof b->buf, 0) : send(b->s, chunk, (int)sizeof chunk, 0);
        b->failed = b->n == SOCKET_ERROR;
    }
    b->error = b->failed ? WSAGetLastError() : 0;
    atomic_store(&b->done, 1);
}

/* The aborted call failed with WSAEINTR (Wine: failed). */
static void check_aborted(const blocked_call *b, const char *file, int line)
{
    if (b->failed && b->error != WSAEINTR && ws_is_wine()) {
        char why[128];
        snprintf(why, sizeof why, "Wine 8 fails the %c call with error %d, not Windows' WSAEINTR", b->op, b->error);
        ws_skip("the error of a call closesocket aborted", why);
        return;
    }
    if (!b->failed || b->error != WSAEINTR)
        check_fail(file, line, "the %c call returned %d (error %d, data '%.*s'); expected SOCKET_ERROR/WSAEINTR", b->op,
                   b->n, b->error, b->n > 0 && b->op == 'r' ? b->n : 0, b->buf);
}

static int cleanup_instead(SOCKET s)
{
    (void)s;
    return WSACleanup();
}

/* Starts the call in a thread, gives it time to block, closes its socket
 * (closesocket, or close_fn), and waits (bounded) for the call to return: it
 * must fail with WSAEINTR.  If it stays blocked, the failure ends the
 * process, and the thread with it. */
static void check_close_aborts_with(SOCKET s, char op, int (*close_fn)(SOCKET), const char *file, int line)
{
    blocked_call b;
    memset(&b, 0, sizeof b);
    b.s = s;
    b.op = op;
    atomic_init(&b.done, 0);
    ws_thread *t = ws_thread_start(blocked_call_run, &b);
    ws_sleep_ms(100 * ws_slow());
    if (atomic_load(&b.done))
        check_fail(file, line, "the %c call did not block (returned %d, error %d)", op, b.n, b.error);
    long long t0 = ws_now_ms();
    if (close_fn(s) != 0)
        check_fail(file, line, "closing failed: %d", WSAGetLastError());
    while (!atomic_load(&b.done) && ws_now_ms() - t0 < 2000 * ws_slow())
        ws_sleep_ms(5);
    if (!atomic_load(&b.done))
        check_fail(file, line, "the %c call is still blocked 2 s after closesocket", op);
    ws_thread_join(t);
    check_aborted(&b, file, line);
}

static int close_socket(SOCKET s)
{
    return closesocket(s);
}

static void check_close_aborts(SOCKET s, char op, const char *file, int line)
{
    check_close_aborts_with(s, op, close_socket, file, line);
}

/* The peer sees the connection end (recv 0) within a bounded wait. */
static void check_peer_sees_end(SOCKET c, const char *file, int line)
{
    ws_set_nonblocking(c, 1);
    long long t0 = ws_now_ms();
    char x;
    int r;
    while ((r = recv(c, &x, 1, 0)) == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK &&
           ws_now_ms() - t0 < 2000 * ws_slow())
        ws_sleep_ms(5);
    if (r != 0)
        check_fail(file, line, "the peer's recv returned %d (error %d), not the end of the stream", r,
                   r == SOCKET_ERROR ? WSAGetLastError() : 0);
}

/* closesocket from another thread aborts a recv blocked on the socket: it
 * fails with WSAEINTR, and the peer sees the connection end.  A socket never
 * selected: the recv blocks in the system. */
TEST(closesocket_aborts_blocked_recv)
{
    ws_begin();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    check_close_aborts(s, 'r', __FILE__, __LINE__);
    check_peer_sees_end(c, __FILE__, __LINE__);
    CHECK_WSA_OK(closesocket(c));
    ws_end();
}

/* The same for the layer's own blocking emulation (selected, deselected and
 * made blocking again); and the aborted recv never reads the sockets
 * opened right after, which may take its number. */
TEST(closesocket_aborts_emulated_blocking_recv)
{
    ws_begin();
    SOCKET c, s, c2, s2;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, NULL, 0));
    ws_set_nonblocking(s, 0);
    blocked_call b;
    memset(&b, 0, sizeof b);
    b.s = s;
    b.op = 'r';
    atomic_init(&b.done, 0);
    ws_thread *t = ws_thread_start(blocked_call_run, &b);
    ws_sleep_ms(100 * ws_slow());
    CHECK(!atomic_load(&b.done));
    CHECK_WSA_OK(closesocket(s));
    ws_tcp_pair(&c2, &s2);
    ws_send_all(c2, "NEWSOCK", 7);
    ws_send_all(s2, "NEWSOCK", 7);
    long long t0 = ws_now_ms();
    while (!atomic_load(&b.done) && ws_now_ms() - t0 < 2000 * ws_slow())
        ws_sleep_ms(5);
    CHECK(atomic_load(&b.done));
    ws_thread_join(t);
    check_aborted(&b, __FILE__, __LINE__);
    check_peer_sees_end(c, __FILE__, __LINE__);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(c2));
    CHECK_WSA_OK(closesocket(s2));
    ws_end();
}

/* closesocket aborts a blocked accept, and a send blocked on a full buffer. */
TEST(closesocket_aborts_blocked_accept_and_send)
{
    ws_begin();
    SOCKADDR_IN addr;
    SOCKET l = ws_listener(&addr);
    check_close_aborts(l, 'a', __FILE__, __LINE__);

    if (ws_is_wine()) {
        ws_skip("closesocket aborts a blocked send", "Wine 8 leaves a send blocked on a full buffer blocked (observed)");
    } else {
        SOCKET c, s;
        ws_tcp_pair(&c, &s);
        ws_set_nonblocking(s, 1);
        ws_fill(s);
        ws_set_nonblocking(s, 0);
        check_close_aborts(s, 's', __FILE__, __LINE__);
        CHECK_WSA_OK(closesocket(c));
    }
    ws_end();
}

/* The last WSACleanup closes a socket a thread is blocked on as closesocket
 * does: the call fails with WSAEINTR, and the descriptor is closed once it
 * has returned (the harness counts descriptors). */
TEST(cleanup_aborts_blocked_recv)
{
    if (ws_started_elsewhere()) {
        ws_skip("WSACleanup aborts a blocked recv", "this process holds another WSAStartup: the last WSACleanup is not ours");
        return;
    }
    ws_begin();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    check_close_aborts_with(s, 'r', cleanup_instead, __FILE__, __LINE__);
}

RUN_TESTS(CASE(f1_peer_close), CASE(f2_peer_shutdown_send), CASE(f3_local_shutdown_is_not_close), CASE(f3_then_peer_reset),
          CASE(f4_close_with_unread_data), CASE(f5_closed_before_select), CASE(f6_close_selected_later),
          CASE(f7_peer_reset), CASE(f7_reset_heard_by_recv_first), CASE(f7_reset_heard_by_send_first),
          CASE(reset_on_blocking_socket), CASE(f8_reset_before_enumerating), CASE(closesocket_cancels_selection),
          CASE(closesocket_aborts_blocked_recv), CASE(closesocket_aborts_emulated_blocking_recv),
          CASE(closesocket_aborts_blocked_accept_and_send), CASE(cleanup_aborts_blocked_recv))
