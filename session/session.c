/* Sessions: what a record means for a session, and its reads and sends.
 *
 * The steady state costs nothing beyond the two system calls: a READ record
 * with an idle session is one netev_recv, and the reply one netev_send that
 * takes everything.  State is kept only when that fails to hold: a backlog
 * when a send falls short, and in it the READ/FIN the session held back while
 * the backlog was full. */
#include "session_int.h"

#include <stdint.h>
#include <stdlib.h>

#define CREDIT (NETEV_READ | NETEV_CLOSE)

static int end_session(netev_sessions *tab, netev_socket s, backlog **e, int why)
{
    if (*e != IDLE)
        free(*e);
    *e = 0;
    tab->count--;
    netev_close(tab->loop, s);
    return why;
}

static backlog **session_entry(const netev_sessions *tab, netev_socket s)
{
    backlog **e = tab ? netev__session_entry(tab, s) : 0;
    return (e && *e) ? e : 0;
}

ptrdiff_t netev_session_ready(netev_sessions *tab, netev_event *ev)
{
    if (!ev)
        return NETEV_EINVAL;
    /* READ alone (the steady state) needs nothing here. */
    if (!(ev->events & (NETEV_WRITE | NETEV_CLOSE)))
        return 0;
    backlog **e = session_entry(tab, ev->sock);
    if (!e)
        return NETEV_EBADF;
    if ((ev->events & NETEV_CLOSE) && ev->error[NETEV_CLOSE_BIT])
        return end_session(tab, ev->sock, e, ev->error[NETEV_CLOSE_BIT]);
    backlog *b = *e;
    if (b == IDLE)
        return 0;
    if (b->flags & BACKLOG_EOF)
        ev->events &= ~(unsigned)NETEV_CLOSE; /* already read to the end */
    ptrdiff_t sent = 0;
    if ((ev->events & NETEV_WRITE) && b->len) {
        sent = netev_send(tab->loop, ev->sock, b->data + b->off, b->len, 0);
        if (sent == NETEV_EAGAIN)
            sent = 0; /* WRITE comes again */
        else if (sent < 0)
            return end_session(tab, ev->sock, e, (int)sent);
        netev__backlog_consume(e, (size_t)sent);
    }
    if (b->len < tab->max_pending && (b->flags & (BACKLOG_HELD_READ | BACKLOG_HELD_FIN))) {
        /* Room again: the record gets back what reading left unconsumed. */
        if (b->flags & BACKLOG_HELD_READ)
            ev->events |= NETEV_READ;
        if (b->flags & BACKLOG_HELD_FIN) {
            ev->events |= NETEV_CLOSE;
            ev->error[NETEV_CLOSE_BIT] = 0;
        }
        b->flags &= ~(unsigned)(BACKLOG_HELD_READ | BACKLOG_HELD_FIN);
    }
    /* A drained backlog is freed; after the end of the stream it stays until
     * netev_session_recv reports the end (so no sent byte goes unreported). */
    if (b->len == 0 && !(b->flags & BACKLOG_EOF)) {
        free(b);
        *e = IDLE;
    }
    return sent;
}

/* Before a recv: whether the record allows one (1, with *len cut to the
 * room below max_pending), or what netev_session_recv returns without one
 * (0, in *result). */
static int recv_plan(netev_sessions *tab, netev_event *ev, const void *buf, size_t *len, ptrdiff_t *result)
{
    /* Refused before anything is read: a recv of 0 bytes would look like the
     * end of the stream and end a live session. */
    *result = NETEV_EINVAL;
    if (!ev || !buf || *len == 0)
        return 0;
    unsigned credit = ev->events & CREDIT;
    backlog **e = session_entry(tab, ev->sock);
    *result = 0;
    if (!e) {
        *result = credit ? NETEV_EBADF : 0;
        return 0;
    }
    backlog *b = *e;
    size_t pending = 0;
    if (b != IDLE) {
        if (b->flags & BACKLOG_EOF) {
            ev->events &= ~(unsigned)CREDIT;
            if (!b->len)
                *result = end_session(tab, ev->sock, e, NETEV_SESSION_DONE);
            return 0;
        }
        pending = b->len;
    }
    if (!credit)
        return 0;
    if (pending >= tab->max_pending) {
        /* Back-pressure: leave the data in the socket until the backlog drains. */
        b->flags |= ((credit & NETEV_READ) ? BACKLOG_HELD_READ : 0u) |
                    ((credit & NETEV_CLOSE) ? BACKLOG_HELD_FIN : 0u);
        ev->events &= ~credit;
        return 0;
    }
    if (*len > tab->max_pending - pending)
        *len = tab->max_pending - pending;
    return 1;
}

/* After the recv of a planned request: what it returned (n) means for the
 * session and the record. */
static ptrdiff_t recv_finish(netev_sessions *tab, netev_event *ev, ptrdiff_t n)
{
    backlog **e = session_entry(tab, ev->sock);
    if (!e)
        return NETEV_EBADF; /* an earlier request of the batch ended it */
    if (n > 0) {
        /* READ allows one recv; after the peer's FIN, read on to the end. */
        ev->events &= ~(unsigned)NETEV_READ;
        return n;
    }
    ev->events &= ~(unsigned)CREDIT;
    if (n == NETEV_EAGAIN)
        return 0;
    if (n < 0)
        return end_session(tab, ev->sock, e, (int)n);
    /* End of stream: close now, or once the backlog is sent. */
    if (*e == IDLE || (*e)->len == 0)
        return end_session(tab, ev->sock, e, NETEV_SESSION_DONE);
    (*e)->flags |= BACKLOG_EOF;
    return 0;
}

ptrdiff_t netev_session_recv(netev_sessions *tab, netev_event *ev, void *buf, size_t len)
{
    ptrdiff_t result;
    if (!recv_plan(tab, ev, buf, &len, &result))
        return result;
    return recv_finish(tab, ev, netev_recv(tab->loop, ev->sock, buf, len, 0));
}

/* A batch call's bookkeeping grown to n: the requests for the core (size
 * bytes each) and what each of the caller's is. */
static int batch_room(void **reqs, size_t size, unsigned char **kind, size_t *cap, int n)
{
    if ((size_t)n <= *cap)
        return 0;
    void *b = realloc(*reqs, (size_t)n * size);
    if (b)
        *reqs = b;
    unsigned char *k = b ? realloc(*kind, (size_t)n) : 0;
    if (k)
        *kind = k;
    if (!b || !k)
        return NETEV_ENOMEM;
    *cap = (size_t)n;
    return 0;
}

int netev_session_recv_batch(netev_sessions *tab, netev_session_recv_req *reqs, int n)
{
    if (!tab || n < 0 || (n && !reqs))
        return NETEV_EINVAL;
    if (batch_room(&tab->recv_batch, sizeof(netev_recv_req), &tab->recv_kind, &tab->recv_cap, n)) {
        /* no memory for the bookkeeping: one at a time */
        for (int i = 0; i < n; i++)
            reqs[i].result = netev_session_recv(tab, reqs[i].ev, reqs[i].buf, reqs[i].len);
        return n;
    }
    netev_recv_req *core = tab->recv_batch;
    int k = 0;
    for (int i = 0; i < n; i++) {
        netev_session_recv_req *r = &reqs[i];
        size_t len = r->len;
        tab->recv_kind[i] = (unsigned char)recv_plan(tab, r->ev, r->buf, &len, &r->result);
        if (tab->recv_kind[i])
            core[k++] = (netev_recv_req){r->ev->sock, r->buf, len, 0, 0};
    }
    netev_recv_batch(tab->loop, core, k);
    for (int i = 0, j = 0; i < n; i++)
        if (tab->recv_kind[i])
            reqs[i].result = recv_finish(tab, reqs[i].ev, core[j++].result);
    return n;
}

/* What a send that returned n means for the session: the rest of buf to
 * the backlog, or the session's end.  n = 0 when nothing was tried. */
static ptrdiff_t sent_now(netev_sessions *tab, netev_socket s, backlog **e, const void *buf, size_t len, ptrdiff_t n)
{
    if (n == NETEV_EAGAIN)
        n = 0; /* WRITE is armed: the backlog goes then */
    else if (n < 0)
        return end_session(tab, s, e, (int)n);
    if ((size_t)n == len)
        return n;
    int err = netev__backlog_append(e, tab->max_pending, (const char *)buf + n, len - (size_t)n);
    if (err)
        return end_session(tab, s, e, err);
    return n;
}

ptrdiff_t netev_session_send(netev_sessions *tab, netev_socket s, const void *buf, size_t len)
{
    backlog **e = session_entry(tab, s);
    if (!e)
        return NETEV_EBADF;
    if (!buf && len)
        return NETEV_EINVAL;
    /* Behind a backlog everything queues, so bytes go out in order. */
    ptrdiff_t n = (*e == IDLE || (*e)->len == 0) ? netev_send(tab->loop, s, buf, len, 0) : 0;
    return sent_now(tab, s, e, buf, len, n);
}

/* What each request of a batch is, before anything is sent. */
enum { REQ_DONE, REQ_SEND, REQ_QUEUE };

int netev_session_send_batch(netev_sessions *tab, netev_send_req *reqs, int n)
{
    if (!tab || n < 0 || (n && !reqs))
        return NETEV_EINVAL;
    if (batch_room(&tab->batch, sizeof(netev_send_req), &tab->batch_kind, &tab->batch_cap, n)) {
        /* no memory for the bookkeeping: one at a time */
        for (int i = 0; i < n; i++)
            reqs[i].result = netev_session_send(tab, reqs[i].sock, reqs[i].buf, reqs[i].len);
        return n;
    }
    /* Sessions with nothing pending send now, all in one netev_send_batch;
     * the others queue behind their backlogs. */
    netev_send_req *core = tab->batch;
    int k = 0;
    for (int i = 0; i < n; i++) {
        netev_send_req *r = &reqs[i];
        backlog **e = session_entry(tab, r->sock);
        tab->batch_kind[i] = REQ_DONE;
        if (!e)
            r->result = NETEV_EBADF;
        else if (!r->buf && r->len)
            r->result = NETEV_EINVAL;
        else if (*e == IDLE || (*e)->len == 0) {
            tab->batch_kind[i] = REQ_SEND;
            core[k] = *r;
            core[k++].flags = 0;
        } else
            tab->batch_kind[i] = REQ_QUEUE;
    }
    netev_send_batch(tab->loop, core, k);
    /* In array order, so that a session's remainders queue in order. */
    for (int i = 0, j = 0; i < n; i++) {
        netev_send_req *r = &reqs[i];
        if (tab->batch_kind[i] == REQ_DONE)
            continue;
        ptrdiff_t sent = tab->batch_kind[i] == REQ_SEND ? core[j++].result : 0;
        backlog **e = session_entry(tab, r->sock); /* an earlier request may have ended it */
        r->result = e ? sent_now(tab, r->sock, e, r->buf, r->len, sent) : NETEV_EBADF;
    }
    return n;
}

ptrdiff_t netev_session_pending(const netev_sessions *tab, netev_socket s)
{
    backlog **e = session_entry(tab, s);
    if (!e)
        return NETEV_EBADF;
    return *e == IDLE ? 0 : (ptrdiff_t)(*e)->len;
}

int netev_session_close(netev_sessions *tab, netev_socket s)
{
    backlog **e = session_entry(tab, s);
    if (!e)
        return NETEV_EBADF;
    end_session(tab, s, e, 0);
    return 0;
}

const char *netev_session_strerror(int err)
{
    return err == NETEV_SESSION_DONE ? "peer closed" : netev_strerror(err);
}
