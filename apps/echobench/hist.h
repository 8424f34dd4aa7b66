/* Log-linear latency histogram (nanoseconds): exact below 128 ns, then 64
 * linear buckets per power of two, so any value is kept within 1/128 of
 * itself.  A live histogram has one writer (its worker thread) and any number
 * of readers, which copy it into a plain snapshot and compute there. */
#ifndef ECHOBENCH_HIST_H
#define ECHOBENCH_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define EB_HIST_SUB_BITS 6
#define EB_HIST_SUB (1u << EB_HIST_SUB_BITS)
#define EB_HIST_TOP_BITS 40 /* values up to 2^40 ns (18 minutes); larger ones are clamped */
#define EB_HIST_BUCKETS ((EB_HIST_TOP_BITS - EB_HIST_SUB_BITS + 1) * EB_HIST_SUB + EB_HIST_SUB)

typedef struct eb_hist_live {
    _Atomic uint64_t count[EB_HIST_BUCKETS];
    _Atomic uint64_t total, sum, max;
} eb_hist_live;

typedef struct eb_hist {
    uint64_t count[EB_HIST_BUCKETS];
    uint64_t total, sum, max;
} eb_hist;

/* Writer side (one thread per live histogram). */
void eb_hist_add(eb_hist_live *h, int64_t ns);

/* Reader side. */
void eb_hist_snapshot(const eb_hist_live *h, eb_hist *out);
void eb_hist_clear(eb_hist *h);
void eb_hist_merge(eb_hist *into, const eb_hist *from);
void eb_hist_diff(eb_hist *out, const eb_hist *now, const eb_hist *before); /* now - before */
/* Value at quantile q (0..1) by nearest rank (the smallest that at least q of
 * the samples do not exceed): the middle of its bucket, never above max; 0 if empty. */
uint64_t eb_hist_quantile(const eb_hist *h, double q);
double eb_hist_mean(const eb_hist *h);

/* Exposed for the unit test. */
unsigned eb_hist_index(uint64_t ns);
uint64_t eb_hist_low(unsigned index);  /* smallest value of a bucket */
uint64_t eb_hist_high(unsigned index); /* largest value of a bucket */

#endif
