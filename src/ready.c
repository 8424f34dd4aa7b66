/* What readiness means for a socket's records.
 *
 * Backends report raw readiness (IN, OUT, PRI, RDHUP, HUP, ERR); this file
 * turns it into WSAEventSelect events.  Readiness is a hint, not an event:
 * an edge for OUT also shows IN if old data is unread, EOF shows as IN, and a
 * reset shows as everything.  So a bit is recorded only when the socket's own
 * state says it is news (READ: not disabled; WRITE: a send fell short;
 * CLOSE and CONNECT: once), and the records decide the rest. */
#include "netev_int.h"
#include "netev_hooks.h"

#include <errno.h>

static int close_error(int e)
{
    /* A peer's reset reaches us as ECONNRESET, or as EPIPE after we wrote into it. */
    return (e == ECONNRESET || e == EPIPE) ? NETEV_ECONNRESET : netev__map_errno(e);
}

/* Level events are recorded once until re-enabled; with the resignal option
 * (netev_hooks.h) a new arrival records a disabled one again. */
static void record_level(netev_loop *loop, netev_socket s, netev__sock *sk, unsigned bit)
{
    if ((sk->disabled & bit) && loop->resignal && loop->resignal(loop->resignal_ctx, s, bit))
        sk->disabled &= (uint8_t)~bit;
    netev__record(loop, sk, bit, 0);
}

static void connected_ready(netev_loop *loop, netev_socket s, netev__sock *sk, unsigned r)
{
    if (r & (NETEV__ERR | NETEV__HUP)) {
        int e = netev__so_error(s);
        if (e || (r & NETEV__HUP)) {
            netev__connection_over(loop, sk, e ? close_error(e) : 0); /* reset, fatal error, or both sides shut */
        }
    }
    if ((r & NETEV__RDHUP) && !(sk->flags & NETEV__F_RD_EOF)) {
        sk->flags |= NETEV__F_RD_EOF;
        netev__record(loop, sk, NETEV_CLOSE, 0);
    }
    if (r & NETEV__PRI) {
        sk->flags |= NETEV__F_URGENT;
        record_level(loop, s, sk, NETEV_OOB);
    }
    /* READ enabled means the last recv left nothing behind, so IN is new data;
     * after the peer's FIN, IN also means EOF, which is CLOSE and never READ. */
    if ((r & (NETEV__IN | NETEV__RDHUP | NETEV__HUP | NETEV__ERR)) && !(sk->disabled & NETEV_READ)) {
        if (!(sk->flags & NETEV__F_RD_EOF) || netev__fionread(s) > 0)
            netev__record(loop, sk, NETEV_READ, 0);
    } else if ((r & NETEV__IN) && loop->resignal && !(sk->flags & NETEV__F_RD_EOF)) {
        record_level(loop, s, sk, NETEV_READ);
    }
    /* A reset empties the send buffer too; that is CLOSE's news, not WRITE's. */
    if ((r & NETEV__OUT) && (sk->flags & NETEV__F_WRITE_BLOCKED)) {
        sk->flags &= ~NETEV__F_WRITE_BLOCKED;
        if (!(sk->flags & NETEV__F_DEAD))
            netev__record(loop, sk, NETEV_WRITE, 0);
    }
}

/* A connect in progress ended with error e (errno, 0 if already read). */
static void connect_failed(netev_loop *loop, netev__sock *sk, int e)
{
    unsigned outcome = (sk->flags & NETEV__F_VIA_CONNECT) ? NETEV_CONNECT : NETEV_CLOSE;
    if (e == ECONNRESET || e == EPIPE) {
        /* A refused SYN is ECONNREFUSED: a reset means it had connected
         * before the peer reset it (research §5 F8). */
        sk->state = NETEV__CONNECTED;
        if (outcome == NETEV_CONNECT)
            netev__record(loop, sk, NETEV_CONNECT, 0);
        netev__record(loop, sk, NETEV_WRITE, 0);
        netev__connection_over(loop, sk, NETEV_ECONNRESET);
        return;
    }
    sk->state = NETEV__FAILED;
    sk->flags |= NETEV__F_DEAD;
    netev__record(loop, sk, outcome, e ? netev__map_errno(e) : NETEV_ECONNABORTED);
}

void netev__connect_error_heard(netev_loop *loop, netev_socket s, int e)
{
    switch (e) {
    case ECONNREFUSED: case ETIMEDOUT: case ENETUNREACH: case EHOSTUNREACH: case ENETDOWN: case ECONNRESET:
#ifdef EHOSTDOWN
    case EHOSTDOWN:
#endif
        break;
    default:
        return; /* EAGAIN and the like, the busy path's: no lookup; the outcome is still to come */
    }
    netev__sock *sk = netev__lookup(loop, s);
    if (sk && sk->state == NETEV__CONNECTING) {
        connect_failed(loop, sk, e);
        netev__changed(loop, s, sk);
    }
}

static void connecting_ready(netev_loop *loop, netev_socket s, netev__sock *sk, unsigned r)
{
    unsigned outcome = (sk->flags & NETEV__F_VIA_CONNECT) ? NETEV_CONNECT : NETEV_CLOSE;
    if (r & (NETEV__ERR | NETEV__HUP)) {
        connect_failed(loop, sk, netev__so_error(s));
        return;
    }
    if (!(r & NETEV__OUT))
        return;
    sk->state = NETEV__CONNECTED;
    if (outcome == NETEV_CONNECT)
        netev__record(loop, sk, NETEV_CONNECT, 0);
    netev__record(loop, sk, NETEV_WRITE, 0);
    /* The peer may already have sent data or closed. */
    connected_ready(loop, s, sk, r & ~(unsigned)NETEV__OUT);
}

void netev__ready(netev_loop *loop, netev_socket s, unsigned r)
{
    netev__sock *sk = netev__lookup(loop, s);
    if (!sk)
        return;
    if (sk->state == NETEV__UNCONNECTED) {
        /* Selected before listen() or a connect() of its own: the first edge
         * after either (epoll) says what it has become.  Linux also reports
         * OUT|HUP for a socket that is still unconnected, which means nothing. */
        netev__reprobe(loop, s, sk);
        if (sk->state == NETEV__CONNECTED)
            r &= ~(unsigned)NETEV__OUT; /* its WRITE is recorded */
    }
    switch (sk->state) {
    case NETEV__LISTENING:
        if (r & NETEV__ERR) {
            int e = netev__so_error(s);
            if (e)
                netev__record(loop, sk, NETEV_ACCEPT, netev__map_errno(e));
        }
        if (r & NETEV__IN)
            record_level(loop, s, sk, NETEV_ACCEPT);
        break;
    case NETEV__CONNECTING:
        connecting_ready(loop, s, sk, r);
        break;
    case NETEV__CONNECTED:
        connected_ready(loop, s, sk, r);
        break;
    case NETEV__DATAGRAM:
        if (r & NETEV__ERR)
            (void)netev__so_error(s); /* ICMP errors of connectionless sockets are not events */
        if ((r & NETEV__IN) && !(sk->disabled & NETEV_READ))
            netev__record(loop, sk, NETEV_READ, 0);
        if ((r & NETEV__OUT) && (sk->flags & NETEV__F_WRITE_BLOCKED)) {
            sk->flags &= ~NETEV__F_WRITE_BLOCKED;
            netev__record(loop, sk, NETEV_WRITE, 0);
        }
        break;
    default:
        /* Still unconnected, or failed: nothing to report. */
        break;
    }
    netev__changed(loop, s, sk);
}

int netev__close_error(netev_loop *loop, netev_socket s)
{
    netev__sock *sk = netev__lookup(loop, s);
    if (!sk)
        return 0;
    if (!sk->err_close && (sk->flags & NETEV__F_DEAD)) {
        int e = netev__so_error(s);
        if (e)
            sk->err_close = (int8_t)close_error(e);
    }
    return sk->err_close;
}
