/* Windows: what a socket's WSAEnumNetworkEvents record means for netev's
 * records (the counterpart of ready.c).
 *
 * Winsock already speaks in events, so little is left to infer; what is
 * left is making them follow netev's native rules rather than Windows' own:
 *  - FD_READ / FD_ACCEPT / FD_OOB are re-signalled by Windows when new data
 *    or a new connection arrives even if the last one was not consumed
 *    (research §5 D3, A5, E2); netev__record drops them while the bit is
 *    disabled, so a program that does not read is not woken.
 *  - FD_WRITE counts only after a send fell short (F_WRITE_BLOCKED) or as
 *    part of a completed connect; the FD_WRITE that Windows records when a
 *    connected socket is first selected is already recorded by the core.
 *  - FD_CLOSE after a reset carries WSAECONNABORTED (§5 F7) or
 *    WSAECONNRESET; netev reports both as NETEV_ECONNRESET.
 *  - FD_CONNECT of a connect started outside netev_connect is reported as
 *    WRITE only (or CLOSE with the error), as on POSIX. */
#include "netev_int.h"

static int close_error(int e)
{
    return (e == WSAECONNABORTED || e == WSAECONNRESET) ? NETEV_ECONNRESET : netev__map_wsa(e);
}

static void connected_ready(netev_loop *loop, netev__sock *sk, long ev, const int *err)
{
    if (ev & FD_OOB) {
        sk->flags |= NETEV__F_URGENT;
        netev__record(loop, sk, NETEV_OOB, 0);
    }
    if (ev & FD_READ)
        netev__record(loop, sk, NETEV_READ, 0);
    if ((ev & FD_CLOSE) && !(sk->flags & NETEV__F_RD_EOF)) {
        int e = err[FD_CLOSE_BIT];
        sk->flags |= NETEV__F_RD_EOF;
        if (e)
            sk->flags |= NETEV__F_DEAD;
        netev__record(loop, sk, NETEV_CLOSE, e ? close_error(e) : 0);
    }
    /* A reset empties the send buffer too; that is CLOSE's news, not WRITE's. */
    if ((ev & FD_WRITE) && (sk->flags & NETEV__F_WRITE_BLOCKED)) {
        sk->flags &= ~NETEV__F_WRITE_BLOCKED;
        if (!(sk->flags & NETEV__F_DEAD))
            netev__record(loop, sk, NETEV_WRITE, 0);
    }
}

static void connect_done(netev_loop *loop, netev__sock *sk, long ev, const int *err)
{
    unsigned outcome = (sk->flags & NETEV__F_VIA_CONNECT) ? NETEV_CONNECT : NETEV_CLOSE;
    int e = err[FD_CONNECT_BIT];
    if (e) {
        sk->state = NETEV__FAILED;
        sk->flags |= NETEV__F_DEAD;
        netev__record(loop, sk, outcome, netev__map_wsa(e));
        return;
    }
    sk->state = NETEV__CONNECTED;
    if (outcome == NETEV_CONNECT)
        netev__record(loop, sk, NETEV_CONNECT, 0);
    netev__record(loop, sk, NETEV_WRITE, 0);
    /* The peer may already have sent data or closed. */
    connected_ready(loop, sk, ev & ~(long)(FD_CONNECT | FD_WRITE), err);
}

void netev__ready_wsa(netev_loop *loop, netev__sock *sk, long ev, const int *err)
{
    switch (sk->state) {
    case NETEV__LISTENING:
        /* A starved listener waits for a netev_close: Windows re-signals
         * FD_ACCEPT after every failed accept, which would spin. */
        if ((ev & FD_ACCEPT) && !(sk->flags & NETEV__F_STARVED))
            netev__record(loop, sk, NETEV_ACCEPT, netev__map_wsa(err[FD_ACCEPT_BIT]));
        break;
    case NETEV__UNCONNECTED:
        if (ev & FD_ACCEPT) { /* selected before listen(), which Windows allows */
            sk->state = NETEV__LISTENING;
            netev__ready_wsa(loop, sk, ev, err);
            break;
        }
        /* fall through */
    case NETEV__CONNECTING:
        if (ev & FD_CONNECT) {
            connect_done(loop, sk, ev, err);
        } else if ((ev & FD_CLOSE) && sk->state == NETEV__UNCONNECTED) {
            /* Only a connected socket can close: an accepted one whose peer
             * was gone before it was selected (no peer address any more). */
            sk->state = NETEV__CONNECTED;
            connected_ready(loop, sk, ev & (FD_CLOSE | FD_READ | FD_OOB), err);
        }
        break;
    case NETEV__CONNECTED:
        connected_ready(loop, sk, ev, err);
        break;
    case NETEV__DATAGRAM:
        if (ev & FD_READ)
            netev__record(loop, sk, NETEV_READ, 0);
        if ((ev & FD_WRITE) && (sk->flags & NETEV__F_WRITE_BLOCKED)) {
            sk->flags &= ~NETEV__F_WRITE_BLOCKED;
            netev__record(loop, sk, NETEV_WRITE, 0);
        }
        break;
    default:
        break; /* failed: nothing more to report */
    }
}
