/* The records one pass of echod serves: the ones kept from the pass before
 * (sessions still reading after their peer's FIN), then what netev_wait
 * returned.
 *
 * Why keep records: after the peer's FIN a record reads to the end of the
 * stream (its CLOSE bit is the credit for that, and the core reports CLOSE
 * once).  Reading it to the end inside one pass kept every other client
 * waiting: at --max-pending 1 byte, a drain of 1 MiB took seconds.  Kept,
 * the record gets one recv per pass like a READ does, and the pass after
 * polls (timeout 0) so new events are not delayed either. */
#include "echod.h"

#include <stdlib.h>
#include <string.h>

#define KEEP (NETEV_READ | NETEV_CLOSE)

/* The core keeps the last wait's array until the next wait (netev_close
 * marks records in it), so the array may move only here, right before the
 * wait that hands the core the new one: room() is called only there. */
netev_event *echod_records_room(echod_records *r, int want)
{
    if (r->cap - r->kept < want) {
        netev_event *ev = realloc(r->ev, (size_t)(r->kept + want) * sizeof *ev);
        if (ev) {
            r->ev = ev;
            r->cap = r->kept + want;
        }
    }
    return r->ev ? r->ev + r->kept : NULL;
}

static int by_socket(const void *a, const void *b)
{
    netev_socket x = ((const netev_event *)a)->sock, y = ((const netev_event *)b)->sock;
    return (x > y) - (x < y);
}

/* A kept socket also in the new records (the core reports READ again while
 * data remains) gets one record with both records' bits: two would both act
 * on it, and the second after the first may have ended the session. */
int echod_records_merge(echod_records *r, int n)
{
    netev_event *kept = r->ev, *fresh = r->ev + r->kept;
    if (r->kept == 0)
        return n;
    qsort(kept, (size_t)r->kept, sizeof *kept, by_socket);
    int out = r->kept;
    for (int i = 0; i < n; i++) {
        netev_event *k = bsearch(&fresh[i], kept, (size_t)r->kept, sizeof *kept, by_socket);
        if (!k) {
            r->ev[out++] = fresh[i];
            continue;
        }
        for (int bit = 0; bit < NETEV_MAX_EVENTS; bit++)
            if (fresh[i].events & (1u << bit))
                k->error[bit] = fresh[i].error[bit];
        k->events |= fresh[i].events;
    }
    return out;
}

void echod_records_keep(echod_records *r, int n)
{
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (r->ev[i].events & KEEP)
            r->ev[kept++] = r->ev[i];
    r->kept = kept;
}

void echod_records_free(echod_records *r)
{
    free(r->ev);
    memset(r, 0, sizeof *r);
}
