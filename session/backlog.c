/* A session's backlog: the bytes a send could not take, kept in order.
 *
 * A flat buffer with a read offset: appending compacts or grows it, sending
 * consumes from the front.  Its capacity stops at max_pending when what it
 * must hold fits, so an echo peer that never reads costs max_pending bytes. */
#include "session_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BACKLOG_MIN 4096

backlog netev__session_idle;

static size_t next_capacity(size_t cap, size_t need, size_t max_pending)
{
    size_t n = cap ? cap : BACKLOG_MIN;
    while (n < need && n <= SIZE_MAX / 2)
        n *= 2;
    if (n < need)
        n = need;
    if (n > max_pending && need <= max_pending)
        n = max_pending;
    if (n > SIZE_MAX - sizeof(backlog))
        n = need; /* the caller checked that need fits */
    return n;
}

int netev__backlog_append(backlog **slot, size_t max_pending, const void *buf, size_t len)
{
    backlog *b = *slot == IDLE ? 0 : *slot;
    size_t have = b ? b->len : 0;
    if (len > SIZE_MAX - sizeof *b - have)
        return NETEV_ENOMEM;
    size_t need = have + len;
    if (b && b->off + need > b->cap) {
        /* Does not fit behind what is there: move it to the front first. */
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    if (!b || need > b->cap) {
        size_t cap = next_capacity(b ? b->cap : 0, need, max_pending);
        backlog *nb = realloc(b, sizeof *nb + cap);
        if (!nb)
            return NETEV_ENOMEM;
        if (!b)
            nb->off = nb->len = 0, nb->flags = 0;
        nb->cap = cap;
        *slot = b = nb;
    }
    memcpy(b->data + b->off + b->len, buf, len);
    b->len += len;
    return 0;
}

void netev__backlog_consume(backlog **slot, size_t n)
{
    backlog *b = *slot;
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}
