/* Internals of the session module: the session table and the backlog. */
#ifndef NETEV_SESSION_INT_H
#define NETEV_SESSION_INT_H

#include "netev/session.h"

#include <stddef.h>

/* Bits of a backlog's flags: what the session remembers while reading is stopped. */
enum {
    BACKLOG_HELD_READ = 1, /* READ was reported and not read: give it back on resume */
    BACKLOG_HELD_FIN = 2,  /* the peer's FIN was reported: read to the end on resume */
    BACKLOG_EOF = 4        /* the stream ended: close once the backlog is sent */
};

/* Bytes a send could not take: data[off, off + len) goes out next. */
typedef struct backlog {
    size_t off, len, cap;
    unsigned flags;
    char data[];
} backlog;

/* What a table entry holds: NULL (no session), IDLE (a session with nothing
 * pending: it costs the table entry only), or its backlog. */
extern backlog netev__session_idle;
#define IDLE (&netev__session_idle)

/* Entries live in pages of this many pointers (one 4 KiB page each), so the
 * table grows with the highest descriptor without copying or touching more. */
#define TABLE_PAGE_BITS 9
#define TABLE_PAGE (1u << TABLE_PAGE_BITS)

struct netev_sessions {
    netev_loop *loop;
    size_t max_pending;
    size_t count;
    backlog ***pages; /* pages[s >> TABLE_PAGE_BITS][s & (TABLE_PAGE - 1)] */
    size_t npages;
    void *batch; /* netev_session_send_batch's requests for the core (netev_send_req), */
    unsigned char *batch_kind; /* and what each of the caller's is */
    size_t batch_cap;
    void *recv_batch; /* the same for netev_session_recv_batch (netev_recv_req) */
    unsigned char *recv_kind;
    size_t recv_cap;
};

/* table.c */
static inline backlog **netev__session_entry(const netev_sessions *tab, netev_socket s)
{
    size_t i = (size_t)s >> TABLE_PAGE_BITS;
    if (s < 0 || i >= tab->npages || !tab->pages[i])
        return 0;
    return &tab->pages[i][(size_t)s & (TABLE_PAGE - 1)];
}
/* The entry for s, allocating its page; NULL if out of memory. */
backlog **netev__session_entry_make(netev_sessions *tab, netev_socket s);

/* backlog.c */
int netev__backlog_append(backlog **b, size_t max_pending, const void *buf, size_t len);
void netev__backlog_consume(backlog **b, size_t n);

#endif
