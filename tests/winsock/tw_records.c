/* Research §5 G: what a record holds across selects and enumerations. */
#include "ws_util.h"

#define ALL_SIX (FD_READ | FD_WRITE | FD_OOB | FD_ACCEPT | FD_CONNECT | FD_CLOSE)

/* Five rounds of select + enumerate, with and without the event: iErrorCode
 * entries of bits not reported are left as they were. */
static void five_rounds(SOCKET s, long first, WSAEVENT ev)
{
    for (int round = 0; round < 5; round++) {
        CHECK_WSA_OK(WSAEventSelect(s, ev, FD_READ | FD_WRITE));
        WSANETWORKEVENTS ne;
        memset(&ne, 0xab, sizeof ne);
        CHECK_WSA_OK(WSAEnumNetworkEvents(s, (round & 1) ? ev : NULL, &ne));
        long want = round == 0 ? first : 0;
        if (ne.lNetworkEvents != want)
            check_fail(__FILE__, __LINE__, "round %d: expected %s, enumerated %s", round, ws_events_str(want),
                       ws_events_str(ne.lNetworkEvents));
        for (int bit = 0; bit < FD_MAX_EVENTS; bit++) {
            int expect = (want & (1L << bit)) ? 0 : (int)0xabababab;
            CHECK_EQ(ne.iErrorCode[bit], expect);
        }
    }
}

/* G1: a bound, unconnected TCP socket never reports; a connected one reports
 * FD_WRITE on the first round only. */
TEST(g1_repeated_select_and_enumerate)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET u = ws_tcp_socket();
    SOCKADDR_IN addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_WSA_OK(bind(u, (SOCKADDR *)&addr, sizeof addr));
    five_rounds(u, 0, ev);
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    five_rounds(s, FD_WRITE, ev);
    CHECK_WSA_OK(closesocket(u));
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* G2: a connected client selecting everything has FD_CONNECT|FD_WRITE; only
 * FD_CONNECT selected: FD_CONNECT; selected then deselected: nothing. */
TEST(g2_what_select_reports)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(c, ev, FD_ALL_EVENTS));
    CHECK_EVENTS(c, ev, FD_CONNECT | FD_WRITE);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));

    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(c, ev, FD_CONNECT));
    CHECK_EVENTS(c, ev, FD_CONNECT);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));

    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(c, ev, ALL_SIX));
    CHECK_WSA_OK(WSAEventSelect(c, NULL, 0));
    CHECK(WSAResetEvent(ev));
    CHECK_NO_EVENTS(c, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* G3: enumerating without the event reads and clears the record but leaves
 * the event set; passing the event resets it even when nothing is left. */
TEST(g3_enumerate_with_and_without_event)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(c, ev, ALL_SIX));
    CHECK_WSA_OK(WSAEventSelect(s, ev, ALL_SIX));
    CHECK_SIGNALLED(ev);
    WSANETWORKEVENTS ne;
    CHECK_WSA_OK(WSAEnumNetworkEvents(c, NULL, &ne));
    CHECK_EQ(ne.lNetworkEvents, FD_CONNECT | FD_WRITE);
    CHECK_WSA_OK(WSAEnumNetworkEvents(s, NULL, &ne));
    CHECK_EQ(ne.lNetworkEvents, FD_WRITE);
    CHECK_WSA_OK(WSAEnumNetworkEvents(c, NULL, &ne));
    CHECK_EQ(ne.lNetworkEvents, 0);
    CHECK_SIGNALLED(ev); /* not reset without the handle */
    CHECK_WSA_OK(WSAEnumNetworkEvents(c, ev, &ne));
    CHECK_EQ(ne.lNetworkEvents, 0);
    CHECK_NOT_SIGNALLED(ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* A failed enumeration neither clears the record nor resets the event. */
TEST(failed_enumeration_keeps_record)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, ALL_SIX));
    CHECK_SIGNALLED(ev);
    if (ws_is_wine()) {
        ws_skip("WSAEnumNetworkEvents(NULL)", "Wine 8 writes through the NULL pointer instead of failing with WSAEFAULT");
    } else {
        CHECK_WSA_FAIL(WSAEnumNetworkEvents(s, ev, NULL), WSAEFAULT);
        CHECK_SIGNALLED(ev);
    }
    CHECK_EVENTS(s, ev, FD_WRITE);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* One event shared by several sockets: each socket's enumeration returns its own events. */
TEST(shared_event)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c1, s1, c2, s2;
    ws_tcp_pair(&c1, &s1);
    ws_tcp_pair(&c2, &s2);
    CHECK_WSA_OK(WSAEventSelect(s1, ev, FD_READ | FD_CLOSE));
    CHECK_WSA_OK(WSAEventSelect(s2, ev, FD_READ | FD_CLOSE));
    CHECK_EQ(send(c1, "a", 1, 0), 1);
    CHECK_WSA_OK(closesocket(c2));
    CHECK_SIGNALLED(ev);
    ws_sleep_ms(20);
    WSANETWORKEVENTS ne;
    CHECK_WSA_OK(WSAEnumNetworkEvents(s1, NULL, &ne));
    CHECK_EQ(ne.lNetworkEvents, FD_READ);
    CHECK_WSA_OK(WSAEnumNetworkEvents(s2, ev, &ne));
    CHECK_EQ(ne.lNetworkEvents, FD_CLOSE);
    CHECK_NOT_SIGNALLED(ev);
    CHECK_WSA_OK(closesocket(c1));
    CHECK_WSA_OK(closesocket(s1));
    CHECK_WSA_OK(closesocket(s2));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

RUN_TESTS(CASE(g1_repeated_select_and_enumerate), CASE(g2_what_select_reports),
          CASE(g3_enumerate_with_and_without_event), CASE(failed_enumeration_keeps_record), CASE(shared_event))
