/* Log-linear histogram: bucket = (power of two above the sub-bucket range, top bits). */
#include "hist.h"

#include <string.h>

static unsigned msb(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

unsigned eb_hist_index(uint64_t v)
{
    if (v < 2 * EB_HIST_SUB)
        return (unsigned)v;
    unsigned shift = msb(v) - EB_HIST_SUB_BITS;
    if (shift > EB_HIST_TOP_BITS - EB_HIST_SUB_BITS)
        return EB_HIST_BUCKETS - 1;
    return shift * EB_HIST_SUB + (unsigned)(v >> shift);
}

static unsigned index_shift(unsigned i)
{
    return i < 2 * EB_HIST_SUB ? 0 : i / EB_HIST_SUB - 1;
}

uint64_t eb_hist_low(unsigned i)
{
    unsigned shift = index_shift(i);
    return (uint64_t)(i - shift * EB_HIST_SUB) << shift;
}

uint64_t eb_hist_high(unsigned i)
{
    return eb_hist_low(i) + ((uint64_t)1 << index_shift(i)) - 1;
}

void eb_hist_add(eb_hist_live *h, int64_t ns)
{
    uint64_t v = ns > 0 ? (uint64_t)ns : 0;
    unsigned i = eb_hist_index(v);
    /* One writer: plain load and store, no locked read-modify-write on the hot path. */
    atomic_store_explicit(&h->count[i], atomic_load_explicit(&h->count[i], memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_store_explicit(&h->sum, atomic_load_explicit(&h->sum, memory_order_relaxed) + v,
                          memory_order_relaxed);
    if (v > atomic_load_explicit(&h->max, memory_order_relaxed))
        atomic_store_explicit(&h->max, v, memory_order_relaxed);
    atomic_store_explicit(&h->total, atomic_load_explicit(&h->total, memory_order_relaxed) + 1,
                          memory_order_release);
}

void eb_hist_snapshot(const eb_hist_live *h, eb_hist *out)
{
    out->total = atomic_load_explicit(&h->total, memory_order_acquire);
    out->sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
    out->max = atomic_load_explicit(&h->max, memory_order_relaxed);
    uint64_t n = 0;
    for (unsigned i = 0; i < EB_HIST_BUCKETS; i++) {
        out->count[i] = atomic_load_explicit(&h->count[i], memory_order_relaxed);
        n += out->count[i];
    }
    /* The writer may have moved on while we copied: trust the buckets. */
    out->total = n;
}

void eb_hist_clear(eb_hist *h)
{
    memset(h, 0, sizeof *h);
}

void eb_hist_merge(eb_hist *into, const eb_hist *from)
{
    for (unsigned i = 0; i < EB_HIST_BUCKETS; i++)
        into->count[i] += from->count[i];
    into->total += from->total;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

void eb_hist_diff(eb_hist *out, const eb_hist *now, const eb_hist *before)
{
    uint64_t top = 0;
    for (unsigned i = 0; i < EB_HIST_BUCKETS; i++) {
        out->count[i] = now->count[i] - before->count[i];
        if (out->count[i])
            top = eb_hist_high(i);
    }
    out->total = now->total - before->total;
    out->sum = now->sum - before->sum;
    out->max = top < now->max ? top : now->max;
}

uint64_t eb_hist_quantile(const eb_hist *h, double q)
{
    if (!h->total)
        return 0;
    if (q < 0)
        q = 0;
    /* Nearest rank: the smallest value that at least q of the samples do not
     * exceed, rank ceil(q * total).  Rounded to the nearest rank instead, a
     * tail just over 1 - q was left out (2 slow in 1,600: p99.9 was fast).
     * The tolerance keeps a product that should be whole, but came out a
     * hair above it, from moving up a rank. */
    double exact = q * (double)h->total;
    uint64_t rank = (uint64_t)exact;
    if (exact - (double)rank > exact * 1e-12)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->total)
        rank = h->total;
    uint64_t seen = 0;
    for (unsigned i = 0; i < EB_HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            uint64_t mid = eb_hist_low(i) + (eb_hist_high(i) - eb_hist_low(i)) / 2;
            return mid < h->max ? mid : h->max;
        }
    }
    return h->max;
}

double eb_hist_mean(const eb_hist *h)
{
    return h->total ? (double)h->sum / (double)h->total : 0.0;
}
