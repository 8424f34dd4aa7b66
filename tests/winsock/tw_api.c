/* The API around the rows: WSAStartup, WSAGetLastError, event objects,
 * WSAWaitForMultipleEvents, bad calls, and waiting from several threads. */
#include "ws_util.h"

TEST(startup_versions)
{
    WSADATA d;
    CHECK_EQ(WSAStartup(MAKEWORD(2, 2), &d), 0);
    CHECK_EQ(d.wVersion, MAKEWORD(2, 2));
    CHECK_EQ(d.wHighVersion, MAKEWORD(2, 2));
    CHECK_EQ(WSAStartup(MAKEWORD(1, 1), &d), 0);
    CHECK_EQ(d.wVersion, MAKEWORD(1, 1));
    CHECK_EQ(WSAStartup(MAKEWORD(3, 0), &d), 0);
    CHECK_EQ(d.wVersion, MAKEWORD(2, 2));
    CHECK_EQ(WSAStartup(MAKEWORD(0, 0), &d), WSAVERNOTSUPPORTED);
    for (int i = 0; i < 3; i++)
        CHECK_WSA_OK(WSACleanup());
}

/* Before WSAStartup (and after the last WSACleanup) socket calls fail. */
TEST(not_initialised)
{
    if (ws_started_elsewhere()) {
        ws_skip("WSANOTINITIALISED", "this process already holds a WSAStartup (the test harness's)");
        return;
    }
    SOCKET s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(s, INVALID_SOCKET);
    CHECK_EQ(WSAGetLastError(), WSANOTINITIALISED);
    CHECK_WSA_FAIL(WSACleanup(), WSANOTINITIALISED);
    ws_begin();
    ws_end();
    CHECK_WSA_FAIL(WSACleanup(), WSANOTINITIALISED);
}

static void other_thread_error(void *arg)
{
    int *seen = arg;
    seen[0] = WSAGetLastError();
    WSASetLastError(456);
    seen[1] = WSAGetLastError();
}

TEST(last_error_per_thread)
{
    ws_begin();
    WSASetLastError(123);
    int seen[2] = {-1, -1};
    ws_thread_join(ws_thread_start(other_thread_error, seen));
    CHECK(seen[0] != 123);
    CHECK_EQ(seen[1], 456);
    CHECK_EQ(WSAGetLastError(), 123);
    ws_end();
}

TEST(event_manual_reset)
{
    WSAEVENT ev = WSACreateEvent();
    CHECK(ev != WSA_INVALID_EVENT);
    CHECK_EQ(WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE), WSA_WAIT_TIMEOUT); /* created non-signalled */
    CHECK(WSASetEvent(ev));
    CHECK_EQ(WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE), WSA_WAIT_EVENT_0);
    CHECK_EQ(WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE), WSA_WAIT_EVENT_0); /* a wait does not reset it */
    CHECK(WSAResetEvent(ev));
    CHECK_EQ(WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE), WSA_WAIT_TIMEOUT);
    CHECK(WSACloseEvent(ev));
    WSASetLastError(0);
    CHECK(!WSACloseEvent(ev));
    CHECK_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
}

TEST(wait_lowest_signalled_index)
{
    WSAEVENT evs[5];
    for (int i = 0; i < 5; i++)
        evs[i] = WSACreateEvent();
    CHECK(WSASetEvent(evs[3]));
    CHECK(WSASetEvent(evs[1]));
    CHECK_EQ(WSAWaitForMultipleEvents(5, evs, FALSE, 0, FALSE), WSA_WAIT_EVENT_0 + 1);
    CHECK(WSAResetEvent(evs[1]));
    CHECK_EQ(WSAWaitForMultipleEvents(5, evs, FALSE, 0, FALSE), WSA_WAIT_EVENT_0 + 3);
    CHECK(WSASetEvent(evs[0]));
    CHECK_EQ(WSAWaitForMultipleEvents(5, evs, FALSE, 0, FALSE), WSA_WAIT_EVENT_0);
    for (int i = 0; i < 5; i++)
        CHECK(WSACloseEvent(evs[i]));
}

TEST(wait_all)
{
    WSAEVENT evs[3];
    for (int i = 0; i < 3; i++)
        evs[i] = WSACreateEvent();
    CHECK(WSASetEvent(evs[0]));
    CHECK(WSASetEvent(evs[2]));
    CHECK_EQ(WSAWaitForMultipleEvents(3, evs, TRUE, 50, FALSE), WSA_WAIT_TIMEOUT);
    CHECK(WSASetEvent(evs[1]));
    CHECK_EQ(WSAWaitForMultipleEvents(3, evs, TRUE, 50, FALSE), WSA_WAIT_EVENT_0);
    WSAEVENT dup[2] = {evs[0], evs[0]};
    if (ws_is_wine()) {
        ws_skip("duplicate handles with fWaitAll", "Wine 8 accepts them; Windows' documentation forbids them");
    } else {
        WSASetLastError(0);
        CHECK_EQ(WSAWaitForMultipleEvents(2, dup, TRUE, 0, FALSE), WSA_WAIT_FAILED);
        CHECK_EQ(WSAGetLastError(), WSA_INVALID_PARAMETER);
    }
    CHECK_EQ(WSAWaitForMultipleEvents(2, dup, FALSE, 0, FALSE), WSA_WAIT_EVENT_0); /* allowed without fWaitAll */
    for (int i = 0; i < 3; i++)
        CHECK(WSACloseEvent(evs[i]));
}

TEST(wait_counts)
{
    WSAEVENT evs[WSA_MAXIMUM_WAIT_EVENTS + 1];
    for (int i = 0; i <= WSA_MAXIMUM_WAIT_EVENTS; i++)
        evs[i] = WSACreateEvent();
    WSASetLastError(0);
    CHECK_EQ(WSAWaitForMultipleEvents(0, evs, FALSE, 0, FALSE), WSA_WAIT_FAILED);
    CHECK_EQ(WSAGetLastError(), WSA_INVALID_PARAMETER);
    WSASetLastError(0);
    CHECK_EQ(WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS + 1, evs, FALSE, 0, FALSE), WSA_WAIT_FAILED);
    CHECK_EQ(WSAGetLastError(), WSA_INVALID_PARAMETER);
    CHECK_EQ(WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS, evs, FALSE, 0, FALSE), WSA_WAIT_TIMEOUT);
    CHECK(WSASetEvent(evs[WSA_MAXIMUM_WAIT_EVENTS - 1]));
    CHECK_EQ(WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS, evs, FALSE, 0, FALSE),
             WSA_WAIT_EVENT_0 + WSA_MAXIMUM_WAIT_EVENTS - 1);
    for (int i = 0; i <= WSA_MAXIMUM_WAIT_EVENTS; i++)
        CHECK(WSACloseEvent(evs[i]));
}

/* Windows looks up every handle before it looks at any event's state: an
 * invalid handle fails the whole wait even behind a signalled one. */
TEST(wait_invalid_handle_behind_signalled)
{
    WSAEVENT evs[3] = {WSACreateEvent(), WSACreateEvent(), WSA_INVALID_EVENT};
    CHECK(WSASetEvent(evs[0]));
    WSASetLastError(0);
    CHECK_EQ(WSAWaitForMultipleEvents(3, evs, FALSE, 0, FALSE), WSA_WAIT_FAILED);
    CHECK_EQ(WSAGetLastError(), WSA_INVALID_HANDLE);
    evs[2] = evs[1];
    CHECK_EQ(WSAWaitForMultipleEvents(3, evs, FALSE, 0, FALSE), WSA_WAIT_EVENT_0);
    CHECK(WSACloseEvent(evs[0]));
    CHECK(WSACloseEvent(evs[1]));
}

TEST(wait_timeout)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s; /* a selected socket: the wait blocks in the loop, not only on the event */
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, FD_READ));
    long long t0 = ws_now_ms();
    CHECK_EQ(WSAWaitForMultipleEvents(1, &ev, FALSE, 150, FALSE), WSA_WAIT_TIMEOUT);
    long long took = ws_now_ms() - t0;
    CHECK(took >= 140);
    CHECK(took < 1000 * ws_slow());
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

static void set_later(void *arg)
{
    ws_sleep_ms(50);
    CHECK(WSASetEvent(*(WSAEVENT *)arg));
}

/* WSASetEvent from another thread ends a wait that blocks in the loop. */
TEST(set_from_other_thread)
{
    ws_begin();
    WSAEVENT evs[2] = {WSACreateEvent(), WSACreateEvent()};
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, evs[0], FD_READ));
    ws_thread *t = ws_thread_start(set_later, &evs[1]);
    long long t0 = ws_now_ms();
    CHECK_EQ(WSAWaitForMultipleEvents(2, evs, FALSE, WSA_INFINITE, FALSE), WSA_WAIT_EVENT_0 + 1);
    CHECK(ws_now_ms() - t0 < 2000 * ws_slow());
    ws_thread_join(t);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(evs[0]));
    CHECK(WSACloseEvent(evs[1]));
    ws_end();
}

typedef struct waiter {
    SOCKET s;
    WSAEVENT ev;
    DWORD result;
    long events;
    char byte;
} waiter;

static void wait_and_read(void *arg)
{
    waiter *w = arg;
    w->result = WSAWaitForMultipleEvents(1, &w->ev, FALSE, (DWORD)(5000 * ws_slow()), FALSE);
    WSANETWORKEVENTS ne;
    if (WSAEnumNetworkEvents(w->s, w->ev, &ne) == 0)
        w->events = ne.lNetworkEvents;
    if (recv(w->s, &w->byte, 1, 0) != 1)
        w->byte = 0;
}

/* Two threads wait on their own sockets at once (Windows' "one thread per 64
 * sockets"); meanwhile this thread uses other sockets without waiting for them. */
TEST(threads_wait_on_their_own_sockets)
{
    ws_begin();
    waiter w[2];
    SOCKET peer[2];
    ws_thread *t[2];
    for (int i = 0; i < 2; i++) {
        ws_tcp_pair(&peer[i], &w[i].s);
        w[i].ev = WSACreateEvent();
        w[i].events = 0;
        w[i].byte = 0;
        CHECK_WSA_OK(WSAEventSelect(w[i].s, w[i].ev, FD_READ | FD_CLOSE));
        t[i] = ws_thread_start(wait_and_read, &w[i]);
    }
    ws_sleep_ms(50);
    /* the waiters block; this thread's calls must not wait for them */
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    WSAEVENT ev = WSACreateEvent();
    long long t0 = ws_now_ms();
    CHECK_WSA_OK(WSAEventSelect(s, ev, FD_READ));
    CHECK_EQ(send(c, "z", 1, 0), 1);
    CHECK_EVENTS(s, ev, FD_READ);
    char b;
    CHECK_EQ(recv(s, &b, 1, 0), 1);
    CHECK(ws_now_ms() - t0 < 1000 * ws_slow());
    CHECK_EQ(send(peer[1], "b", 1, 0), 1);
    CHECK_EQ(send(peer[0], "a", 1, 0), 1);
    for (int i = 0; i < 2; i++) {
        ws_thread_join(t[i]);
        CHECK_EQ(w[i].result, WSA_WAIT_EVENT_0);
        CHECK_EQ(w[i].events, FD_READ);
        CHECK_EQ(w[i].byte, 'a' + i);
        CHECK_WSA_OK(closesocket(w[i].s));
        CHECK_WSA_OK(closesocket(peer[i]));
        CHECK(WSACloseEvent(w[i].ev));
    }
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* With data on several sockets, the wait returns the lowest index. */
TEST(wait_sockets_lowest_index)
{
    ws_begin();
    enum { N = 4 };
    SOCKET c[N], s[N];
    WSAEVENT evs[N];
    for (int i = 0; i < N; i++) {
        ws_tcp_pair(&c[i], &s[i]);
        evs[i] = WSACreateEvent();
        CHECK_WSA_OK(WSAEventSelect(s[i], evs[i], FD_READ));
    }
    CHECK_EQ(send(c[3], "x", 1, 0), 1);
    CHECK_EQ(send(c[2], "x", 1, 0), 1);
    ws_sleep_ms(30);
    CHECK_EQ(WSAWaitForMultipleEvents(N, evs, FALSE, 1000, FALSE), WSA_WAIT_EVENT_0 + 2);
    CHECK_EVENTS(s[2], evs[2], FD_READ);
    CHECK_EQ(WSAWaitForMultipleEvents(N, evs, FALSE, 1000, FALSE), WSA_WAIT_EVENT_0 + 3);
    for (int i = 0; i < N; i++) {
        CHECK_WSA_OK(closesocket(c[i]));
        CHECK_WSA_OK(closesocket(s[i]));
        CHECK(WSACloseEvent(evs[i]));
    }
    ws_end();
}

TEST(bad_calls)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_FAIL(WSAEventSelect(s, NULL, FD_READ), WSAEINVAL);
    CHECK_WSA_FAIL(WSAEventSelect(INVALID_SOCKET, ev, FD_READ), WSAENOTSOCK);
    WSANETWORKEVENTS ne;
    CHECK_WSA_FAIL(WSAEnumNetworkEvents(INVALID_SOCKET, ev, &ne), WSAENOTSOCK);
    CHECK_WSA_FAIL(closesocket(INVALID_SOCKET), WSAENOTSOCK);
    char b[4] = {0};
    CHECK_WSA_FAIL(recv(INVALID_SOCKET, b, sizeof b, 0), WSAENOTSOCK);
    CHECK_WSA_FAIL(send(INVALID_SOCKET, b, sizeof b, 0), WSAENOTSOCK);
    u_long v = 1;
    CHECK_WSA_FAIL(ioctlsocket(INVALID_SOCKET, FIONBIO, &v), WSAENOTSOCK);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* A sockaddr length below the family's size is WSAEFAULT, for the calls
 * that fill one in (Linux would truncate and report the full length) and
 * for those that read one (Linux says EINVAL).  The exact size does. */
TEST(address_lengths_too_small)
{
    ws_begin();
    SOCKADDR_IN addr, out;
    const int short_len = (int)sizeof(SOCKADDR_IN) - 1;
    SOCKET l = ws_listener(&addr);
    int n = short_len;
    CHECK_WSA_FAIL(getsockname(l, (SOCKADDR *)&out, &n), WSAEFAULT);
    SOCKET c = ws_connect_blocking(&addr);
    n = short_len;
    CHECK_WSA_FAIL(getpeername(c, (SOCKADDR *)&out, &n), WSAEFAULT);
    n = short_len;
    WSASetLastError(0);
    CHECK(accept(l, (SOCKADDR *)&out, &n) == INVALID_SOCKET);
    CHECK_EQ(WSAGetLastError(), WSAEFAULT);
    SOCKET u = ws_tcp_socket();
    CHECK_WSA_FAIL(bind(u, (const SOCKADDR *)&addr, short_len), WSAEFAULT);
    if (ws_is_wine())
        ws_skip("connect with a short address length", "Wine 8 fails it with WSAEADDRNOTAVAIL (observed); Windows documents WSAEFAULT");
    else
        CHECK_WSA_FAIL(connect(u, (const SOCKADDR *)&addr, short_len), WSAEFAULT);
    n = (int)sizeof out;
    CHECK_WSA_OK(getpeername(c, (SOCKADDR *)&out, &n));
    CHECK_EQ(n, sizeof out);
    CHECK_EQ(out.sin_port, addr.sin_port);
    CHECK_WSA_OK(closesocket(u));
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(l));
    ws_end();
}

/* FIONBIO(1) is fine while selected; FIONBIO(0) is refused until the socket
 * is deselected with WSAEventSelect(s, NULL, 0). */
TEST(fionbio_while_selected)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, FD_READ));
    u_long v = 1;
    CHECK_WSA_OK(ioctlsocket(s, FIONBIO, &v));
    v = 0;
    CHECK_WSA_FAIL(ioctlsocket(s, FIONBIO, &v), WSAEINVAL);
    CHECK_WSA_OK(WSAEventSelect(s, NULL, 0));
    CHECK_WSA_OK(ioctlsocket(s, FIONBIO, &v));
    CHECK_EQ(send(c, "abc", 3, 0), 3);
    char b[3];
    ws_recv_exactly(s, b, 3);
    u_long avail = 99;
    CHECK_WSA_OK(ioctlsocket(s, FIONREAD, &avail));
    CHECK_EQ(avail, 0);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* WSAEventSelect makes the socket non-blocking, whatever the mask. */
TEST(select_makes_nonblocking)
{
    ws_begin();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, NULL, 0));
    char b;
    CHECK_WSA_FAIL(recv(s, &b, 1, 0), WSAEWOULDBLOCK);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    ws_end();
}

/* The last WSACleanup closes the sockets still open (the harness checks
 * that no descriptor is left). */
TEST(cleanup_closes_sockets)
{
    if (ws_started_elsewhere()) {
        ws_skip("WSACleanup closes sockets", "this process holds another WSAStartup: the last WSACleanup is not ours");
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, FD_READ));
    (void)ws_tcp_socket();
    ws_end();
    CHECK(WSACloseEvent(ev)); /* events are not sockets: they outlive WSACleanup */
}

/* A local shutdown(SD_BOTH) holds the FD_CLOSE Linux reports for it until
 * the peer's FIN (F3), and while one is held a wait looks every 50 ms.  The
 * last WSACleanup forgets every socket, held closes included: a wait after
 * the next WSAStartup sleeps through its timeout in one go. */
TEST(cleanup_forgets_held_closes)
{
    if (ws_started_elsewhere()) {
        ws_skip("WSACleanup forgets held closes", "this process holds another WSAStartup: the last WSACleanup is not ours");
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, FD_READ | FD_CLOSE));
    CHECK_WSA_OK(shutdown(s, SD_BOTH));
    ws_check_nothing_recorded(s, ev, __FILE__, __LINE__); /* the close is seen, and held */
    ws_end(); /* closes c and s */

    ws_begin();
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, FD_READ));
    CHECK(WSAResetEvent(ev));
    long before = ws_thread_sleeps();
    long long t0 = ws_now_ms();
    CHECK_EQ(WSAWaitForMultipleEvents(1, &ev, FALSE, 500, FALSE), WSA_WAIT_TIMEOUT);
    CHECK(ws_now_ms() - t0 >= 490);
    if (before < 0) {
        ws_skip("WSACleanup forgets held closes (wake count)", "this platform does not count a thread's sleeps");
    } else {
        /* One sleep in the wait, a few more for locks; a held close left
         * over would add one per 50 ms (10 here). */
        long sleeps = ws_thread_sleeps() - before;
        if (sleeps > 5)
            check_fail(__FILE__, __LINE__, "a 500 ms wait with nothing to report slept %ld times", sleeps);
    }
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

RUN_TESTS(CASE(startup_versions), CASE(not_initialised), CASE(last_error_per_thread), CASE(event_manual_reset),
          CASE(wait_lowest_signalled_index), CASE(wait_all), CASE(wait_counts), CASE(wait_invalid_handle_behind_signalled), CASE(wait_timeout),
          CASE(set_from_other_thread), CASE(threads_wait_on_their_own_sockets), CASE(wait_sockets_lowest_index),
          CASE(bad_calls), CASE(fionbio_while_selected), CASE(select_makes_nonblocking), CASE(cleanup_closes_sockets),
          CASE(cleanup_forgets_held_closes), CASE(address_lengths_too_small))
