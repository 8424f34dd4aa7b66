/* The platform-independent halves of the re-enabling calls.
 *
 * io.c (POSIX) and io_win.c (Winsock) make the system calls; what a call
 * means for the socket's records is the same everywhere and lives here:
 * consuming an event re-enables its recording, and when the call itself
 * cannot tell whether the condition still holds, one probe decides whether
 * the event is recorded again at once. */
#include "netev_int.h"

netev__sock *netev__reenable(netev_loop *loop, netev_socket s, unsigned bit)
{
    netev__sock *sk = netev__lookup(loop, s);
    if (sk) {
        /* Before the call: what arrives meanwhile is caught by its own edge. */
        sk->disabled &= (uint8_t)~bit;
        sk->pending &= (uint8_t)~bit;
    }
    return sk;
}

/* A call's error that ends the connection, as CLOSE reports it (0: one that
 * does not, such as EAGAIN, or EPIPE after our own shutdown).  The kernel
 * tells such an error once, to whichever asks first: when a recv or send
 * heard it before a wait did, the readiness that follows shows a plain
 * hang-up, and CLOSE would say 0, the peer's orderly FIN.  So the call's own
 * error is CLOSE's news. */
static int ends_connection(int err)
{
    switch (err) {
    case NETEV_ECONNRESET:
    case NETEV_ETIMEDOUT: /* retransmissions, keepalives or TCP_USER_TIMEOUT gave up */
    case NETEV_EHOSTUNREACH:
    case NETEV_ENETUNREACH:
    case NETEV_ENETDOWN:
        return err;
    case NETEV_ECONNABORTED:
#ifdef _WIN32
        return NETEV_ECONNRESET; /* a reset, as FD_CLOSE's is reported (ready_win.c) */
#else
        return err; /* aborted here (ss -K) */
#endif
    default:
        return 0;
    }
}

void netev__recv_done(netev_loop *loop, netev_socket s, netev__sock *sk, int flags, ptrdiff_t n, size_t len,
                      int err)
{
    if (!sk)
        return;
    int over = ends_connection(err);
    if (over && sk->state == NETEV__CONNECTED) {
        netev__connection_over(loop, sk, over);
    } else if (flags & NETEV_MSG_OOB) {
        /* F_URGENT stays: normal reads stop at the mark even once the urgent
         * byte is read, so the first read after it may be short. */
        if (netev__urgent_left(s))
            netev__record(loop, sk, NETEV_OOB, 0);
    } else if (n > 0 && (sk->flags & NETEV__F_URGENT)) {
        /* Reads stop short at the urgent mark, where FIONREAD says 0 though
         * data follows; poll knows better, but not after the peer's FIN,
         * when it also says "readable" for the end of the stream (which is
         * CLOSE's news).  Past the mark with no urgent byte left, the plain
         * rules hold again. */
        if (!netev__urgent_left(s) && !netev__at_mark(s))
            sk->flags &= ~NETEV__F_URGENT;
        if (netev__readable(s) && (!(sk->flags & NETEV__F_RD_EOF) || netev__fionread(s) > 0))
            netev__record(loop, sk, NETEV_READ, 0);
    } else if (sk->state == NETEV__DATAGRAM) {
        /* Each recv takes one datagram, and an empty one is a datagram too
         * (so is the one FIONREAD calls 0 bytes long): ask poll. */
        if (n >= 0 && netev__readable(s))
            netev__record(loop, sk, NETEV_READ, 0);
    } else if (sk->flags & NETEV__F_MESSAGE) {
        /* One message per recv, and an empty one is a message too: its 0
         * looks like the end of the stream, and FIONREAD counts it as 0
         * bytes, so FIONREAD alone cannot tell whether one is left. */
        if (n >= 0 && netev__message_queued(s))
            netev__record(loop, sk, NETEV_READ, 0);
    } else if ((n > 0 && ((size_t)n == len || (flags & NETEV_MSG_PEEK))) || (n == 0 && len == 0)) {
        /* A short read of a stream emptied the queue; a full one or an
         * empty buffer may have left data behind. */
        if (netev__fionread(s) > 0)
            netev__record(loop, sk, NETEV_READ, 0);
    }
    netev__changed(loop, s, sk);
}

void netev__send_done(netev_loop *loop, netev_socket s, int err, size_t sent, size_t len)
{
    int over = ends_connection(err);
    if (err ? err != NETEV_EAGAIN && !over : sent >= len)
        return;
    netev__sock *sk = netev__lookup(loop, s);
    if (!sk)
        return;
    if (over) {
        if (sk->state == NETEV__CONNECTED) { /* as in netev__recv_done */
            netev__connection_over(loop, sk, over);
            netev__changed(loop, s, sk);
        }
        return;
    }
    /* The only way WRITE comes back: a send that fell short. */
    sk->disabled &= (uint8_t)~NETEV_WRITE;
    sk->pending &= (uint8_t)~NETEV_WRITE;
    sk->flags |= NETEV__F_WRITE_BLOCKED;
    netev__changed(loop, s, sk);
}

int netev__accept_failed(netev_loop *loop, netev_socket listener, netev__sock *sk, int err)
{
    if (!sk)
        return err;
    if (err == NETEV_EMFILE || err == NETEV_ENFILE || err == NETEV_ENOBUFS || err == NETEV_ENOMEM) {
        /* The connection stays queued: wait for a descriptor, do not spin. */
        int e2 = netev__starve(loop, listener, sk);
        if (e2)
            err = e2;
    } else {
        /* Not for want of descriptors (the queue is empty, say): the next
         * arrival must be watched for as usual, which a starved listener's
         * is not on poll. */
        sk->flags &= (uint16_t)~NETEV__F_STARVED;
    }
    netev__changed(loop, listener, sk);
    return err;
}

void netev__accept_done(netev_loop *loop, netev_socket listener, netev__sock *sk)
{
    if (!sk)
        return;
    /* It had a descriptor for this one (freed outside the loop, maybe):
     * starving is over, and what arrives next is watched for as usual. */
    sk->flags &= (uint16_t)~NETEV__F_STARVED;
    if (netev__readable(listener)) /* another connection is queued */
        netev__record(loop, sk, NETEV_ACCEPT, 0);
    netev__changed(loop, listener, sk);
}

int netev__connect_begin(netev_loop *loop, netev_socket s, const struct sockaddr *addr, socklen_t addrlen,
                         netev__sock **out)
{
    if (!loop || !addr || addrlen <= 0)
        return NETEV_EINVAL;
    int err = netev__track(loop, s, out);
    if (err)
        return err;
    switch ((*out)->state) {
    case NETEV__UNCONNECTED:
        return 0;
    case NETEV__CONNECTING:
        return NETEV_EALREADY;
    case NETEV__CONNECTED:
        return NETEV_EISCONN;
    default:
        /* listening, connectionless, or failed: as on Windows, a failed socket is closed, not reused */
        return NETEV_EINVAL;
    }
}

void netev__connect_done(netev_loop *loop, netev_socket s, netev__sock *sk, int outcome)
{
    sk->flags |= NETEV__F_VIA_CONNECT;
    if (outcome == 0) {
        sk->state = NETEV__CONNECTED;
        netev__record(loop, sk, NETEV_CONNECT, 0);
        netev__record(loop, sk, NETEV_WRITE, 0);
    } else if (outcome == NETEV_EINPROGRESS) {
        sk->state = NETEV__CONNECTING; /* the outcome arrives as readiness */
    } else {
        sk->state = NETEV__FAILED;
        sk->flags |= NETEV__F_DEAD;
        netev__record(loop, sk, NETEV_CONNECT, outcome);
    }
    netev__changed(loop, s, sk);
}

void netev__close_begin(netev_loop *loop, netev_socket s)
{
    netev__sock *sk = netev__lookup(loop, s);
    if (sk)
        netev__unregister(loop, s, sk);
}

int netev__close_done(netev_loop *loop, int err)
{
    /* A descriptor was freed: listeners out of them may accept again. */
    if (loop->nstarved && err == 0)
        netev__starved_rearm(loop);
    return err;
}
