/* Research §5 E: FD_OOB (SO_OOBINLINE off). */
#include "ws_util.h"

#define READ_MASK (FD_ACCEPT | FD_CLOSE | FD_CONNECT | FD_OOB | FD_READ)

/* E1: an urgent byte reports FD_OOB once; re-selecting does not repeat it;
 * recv(MSG_OOB) takes it and nothing more is reported. */
TEST(e1_oob_once)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_EQ(send(c, "a", 1, MSG_OOB), 1);
    CHECK_EVENTS(s, ev, FD_OOB);
    CHECK_NO_EVENTS(s, ev);
    CHECK_RESELECT_SILENT(s, ev, READ_MASK);
    char b;
    CHECK_EQ(recv(s, &b, 1, MSG_OOB), 1);
    CHECK_EQ(b, 'a');
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* E2: a second urgent byte re-signals the unconsumed FD_OOB.  (Windows keeps
 * both bytes out of band, E3; Linux keeps only the latest: an unread one at
 * the head of the stream is dropped.) */
TEST(e2_second_oob_resignals)
{
    const char *why = ws_no_resignal_reason();
    if (why) {
        ws_skip("E2 (a new urgent byte re-signals an unconsumed FD_OOB)", why);
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_EQ(send(c, "a", 1, MSG_OOB), 1);
    CHECK_EVENTS(s, ev, FD_OOB);
    CHECK_EQ(send(c, "b", 1, MSG_OOB), 1);
    CHECK_EVENTS(s, ev, FD_OOB);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* Ordinary data behind an unread urgent byte is FD_READ, not FD_OOB again. */
TEST(data_after_oob_is_not_oob)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_EQ(send(c, "a", 1, MSG_OOB), 1);
    CHECK_EVENTS(s, ev, FD_OOB);
    CHECK_EQ(send(c, "xyz", 3, 0), 3);
    CHECK_EVENTS(s, ev, FD_READ);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

/* E3: Windows keeps every urgent byte; after recv(MSG_OOB) of the first,
 * FD_OOB again and the second is readable out of band. */
TEST(e3_two_urgent_bytes)
{
#ifndef _WIN32
    ws_skip("E3", "Linux keeps one urgent byte per connection: a new one replaces an unread one (or makes it ordinary data)");
#else
    const char *why = ws_is_wine() ? "Wine keeps one urgent byte, as the Linux sockets under it (todo_wine)" : NULL;
    if (why) {
        ws_skip("E3", why);
        return;
    }
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_EQ(send(c, "a", 1, MSG_OOB), 1);
    CHECK_EVENTS(s, ev, FD_OOB);
    CHECK_EQ(send(c, "b", 1, MSG_OOB), 1);
    CHECK_EVENTS(s, ev, FD_OOB);
    char b;
    CHECK_EQ(recv(s, &b, 1, MSG_OOB), 1);
    CHECK_EVENTS(s, ev, FD_OOB);
    CHECK_EQ(recv(s, &b, 1, MSG_OOB), 1);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
#endif
}

/* E4: an urgent byte that arrives while deselected is reported on re-select. */
TEST(e4_oob_while_deselected)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(WSAEventSelect(s, ev, 0));
    CHECK_EQ(send(c, "a", 1, MSG_OOB), 1);
    ws_sleep_ms(50);
    CHECK_WSA_OK(WSAEventSelect(s, ev, READ_MASK));
    CHECK_EVENTS(s, ev, FD_OOB);
    CHECK_NO_EVENTS(s, ev);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

static u_long at_mark(SOCKET s)
{
    u_long v = 99;
    CHECK_WSA_OK(ioctlsocket(s, SIOCATMARK, &v));
    return v;
}

/* ioctlsocket(SIOCATMARK) is TRUE when no urgent data waits to be read:
 * without any, and once recv(MSG_OOB) took it; FALSE while an urgent byte
 * waits, with ordinary data before it or not.  With SO_OOBINLINE, TRUE.
 * (Linux's SIOCATMARK says "at the mark", nearly the reverse.) */
TEST(siocatmark_no_urgent_data_waiting)
{
    ws_begin();
    WSAEVENT ev = WSACreateEvent();
    SOCKET c, s;
    ws_tcp_pair(&c, &s);
    CHECK_EQ(at_mark(s), 1);
    CHECK_WSA_OK(WSAEventSelect(s, ev, FD_OOB));
    CHECK_EQ(send(c, "ab", 2, 0), 2);
    CHECK_EQ(send(c, "U", 1, MSG_OOB), 1);
    CHECK_EVENTS(s, ev, FD_OOB);
    if (!ws_is_wine())
        CHECK_EQ(at_mark(s), 0);
    else
        ws_skip("SIOCATMARK before the mark", "Wine returns Linux's answer reversed: TRUE, the stream is not at the mark");
    char b[4];
    CHECK_EQ(recv(s, b, sizeof b, 0), 2);
    CHECK_EQ(at_mark(s), 0); /* at the mark, the urgent byte unread */
    CHECK_EQ(recv(s, b, 1, MSG_OOB), 1);
    CHECK_EQ(b[0], 'U');
    if (!ws_is_wine())
        CHECK_EQ(at_mark(s), 1);
    else
        ws_skip("SIOCATMARK after recv(MSG_OOB)", "Wine returns Linux's answer reversed: FALSE, the stream is still at the mark");
    BOOL on = TRUE;
    CHECK_WSA_OK(setsockopt(s, SOL_SOCKET, SO_OOBINLINE, (const char *)&on, sizeof on));
    CHECK_EQ(send(c, "V", 1, MSG_OOB), 1);
    ws_sleep_ms(50 * ws_slow());
    CHECK_EQ(at_mark(s), 1);
    CHECK_WSA_OK(closesocket(c));
    CHECK_WSA_OK(closesocket(s));
    CHECK(WSACloseEvent(ev));
    ws_end();
}

RUN_TESTS(CASE(e1_oob_once), CASE(e2_second_oob_resignals), CASE(data_after_oob_is_not_oob), CASE(e3_two_urgent_bytes),
          CASE(e4_oob_while_deselected), CASE(siocatmark_no_urgent_data_waiting))
