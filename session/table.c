/* The session table: one pointer per descriptor number, in pages.
 *
 * Pages (not one array grown by doubling) so that an idle session costs its
 * 8-byte entry and nothing more: growing never copies the table, and memory
 * is touched only for the descriptor numbers in use. */
#include "session_int.h"

#include <stdlib.h>
#include <string.h>

backlog **netev__session_entry_make(netev_sessions *tab, netev_socket s)
{
    if (s < 0)
        return 0;
    size_t i = (size_t)s >> TABLE_PAGE_BITS;
    if (i >= tab->npages) {
        size_t n = tab->npages ? tab->npages : 8;
        while (n <= i)
            n *= 2;
        backlog ***pages = realloc(tab->pages, n * sizeof *pages);
        if (!pages)
            return 0;
        memset(pages + tab->npages, 0, (n - tab->npages) * sizeof *pages);
        tab->pages = pages;
        tab->npages = n;
    }
    if (!tab->pages[i] && !(tab->pages[i] = calloc(TABLE_PAGE, sizeof **tab->pages)))
        return 0;
    return &tab->pages[i][(size_t)s & (TABLE_PAGE - 1)];
}

netev_sessions *netev_sessions_new(netev_loop *loop, size_t max_pending)
{
    if (!loop || !max_pending)
        return 0;
    netev_sessions *tab = calloc(1, sizeof *tab);
    if (!tab)
        return 0;
    tab->loop = loop;
    tab->max_pending = max_pending;
    return tab;
}

void netev_sessions_free(netev_sessions *tab)
{
    if (!tab)
        return;
    for (size_t i = 0; i < tab->npages; i++) {
        backlog **page = tab->pages[i];
        if (!page)
            continue;
        for (size_t j = 0; j < TABLE_PAGE; j++) {
            if (!page[j])
                continue;
            if (page[j] != IDLE)
                free(page[j]);
            netev_close(tab->loop, (netev_socket)(i * TABLE_PAGE + j));
        }
        free(page);
    }
    free(tab->pages);
    free(tab->batch);
    free(tab->batch_kind);
    free(tab->recv_batch);
    free(tab->recv_kind);
    free(tab);
}

size_t netev_sessions_count(const netev_sessions *tab)
{
    return tab ? tab->count : 0;
}
