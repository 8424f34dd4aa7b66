/* Tables indexed by descriptor number, grown without touching what is unused.
 *
 * A table sized for the highest descriptor would cost memory for every
 * number below it, used or not.  On Linux the memory comes from mmap and
 * grows with mremap: never copied, zero-filled by the kernel, and a page is
 * resident only once an entry in it is written.  Elsewhere realloc and memset
 * do the same job, minus the savings. */
#define _GNU_SOURCE
#include "netev_int.h"

#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

void *netev__zgrow(void *p, size_t old_bytes, size_t new_bytes)
{
#ifdef __linux__
    void *q = p ? mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE)
                : mmap(0, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return q == MAP_FAILED ? 0 : q;
#else
    char *q = realloc(p, new_bytes);
    if (q)
        memset(q + old_bytes, 0, new_bytes - old_bytes);
    return q;
#endif
}

void netev__zfree(void *p, size_t bytes)
{
#ifdef __linux__
    if (p)
        munmap(p, bytes);
#else
    (void)bytes;
    free(p);
#endif
}
