/* Windows: SOCKET handle -> table slot.
 *
 * On POSIX a descriptor is a small number and indexes the table directly.
 * A SOCKET is a handle value, so slots are handed out densely here (released
 * slots are reused first) and an open-addressing hash of slots, probed
 * linearly and keyed by map.sock[slot], finds them again: 4 bytes per hash
 * entry at a load of at most one half, plus 8 bytes per slot for the
 * slot -> socket array.  Deletion shifts entries back instead of leaving
 * tombstones, so lookups never slow down with churn. */
#include "netev_int.h"

#include <stdlib.h>

static uint32_t home(const netev__sockmap *m, netev_socket s)
{
    return netev__sock_hash(s) & m->hmask;
}

static void insert(netev__sockmap *m, int32_t slot)
{
    uint32_t i = home(m, m->sock[slot]);
    while (m->hash[i] >= 0)
        i = (i + 1) & m->hmask;
    m->hash[i] = slot;
}

static int rehash(netev__sockmap *m, uint32_t cap)
{
    int32_t *old = m->hash;
    uint32_t oldcap = old ? m->hmask + 1 : 0;
    int32_t *h = malloc((size_t)cap * sizeof *h);
    if (!h)
        return NETEV_ENOMEM;
    for (uint32_t i = 0; i < cap; i++)
        h[i] = -1;
    m->hash = h;
    m->hmask = cap - 1;
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i] >= 0)
            insert(m, old[i]);
    free(old);
    return 0;
}

/* Room for slot numbers up to the table's capacity. */
static int grow_slots(netev_loop *loop)
{
    netev__sockmap *m = &loop->map;
    int err = netev__table_grow(loop, (int64_t)m->top + 1);
    if (err)
        return err;
    size_t n = (size_t)loop->nsocks;
    netev_socket *sock = realloc(m->sock, n * sizeof *sock);
    if (!sock)
        return NETEV_ENOMEM;
    m->sock = sock;
    int32_t *fs = realloc(m->free_slots, n * sizeof *fs);
    if (!fs)
        return NETEV_ENOMEM;
    m->free_slots = fs;
    m->cap = loop->nsocks;
    return 0;
}

int netev__slot_acquire(netev_loop *loop, netev_socket s, int32_t *slot)
{
    netev__sockmap *m = &loop->map;
    if (s == INVALID_SOCKET)
        return NETEV_EBADF;
    if (!m->hash || (uint32_t)(m->count + 1) * 2 > m->hmask + 1) {
        int err = rehash(m, m->hash ? (m->hmask + 1) * 2 : 128);
        if (err)
            return err;
    }
    int32_t k;
    if (m->nfree) {
        k = m->free_slots[--m->nfree];
    } else {
        if (m->top >= m->cap) {
            int err = grow_slots(loop);
            if (err)
                return err;
        }
        k = m->top++;
    }
    m->sock[k] = s;
    insert(m, k);
    m->count++;
    *slot = k;
    return 0;
}

void netev__slot_release(netev_loop *loop, netev_socket s, int32_t slot)
{
    netev__sockmap *m = &loop->map;
    uint32_t i = home(m, s);
    while (m->hash[i] != slot)
        i = (i + 1) & m->hmask;
    /* Backward shift: move later entries of the cluster into the hole when
     * their home position does not lie between the hole and themselves. */
    for (uint32_t j = i;;) {
        j = (j + 1) & m->hmask;
        int32_t e = m->hash[j];
        if (e < 0)
            break;
        uint32_t h = home(m, m->sock[e]);
        int movable = (j > i) ? (h <= i || h > j) : (h <= i && h > j);
        if (movable) {
            m->hash[i] = e;
            i = j;
        }
    }
    m->hash[i] = -1;
    m->count--;
    m->sock[slot] = INVALID_SOCKET;
    m->free_slots[m->nfree++] = slot;
}

void netev__sockmap_free(netev_loop *loop)
{
    netev__sockmap *m = &loop->map;
    free(m->sock);
    free(m->hash);
    free(m->free_slots);
    *m = (netev__sockmap){0};
}
