/* The one allocator every libnn module uses, so that alignment is uniform
 * and tests can make any single allocation fail. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* madvise */
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

enum { NN_ALIGN = 64 };

/* Blocks of at least HUGE_MIN bytes (parameters, gradients, optimizer
 * state, data sets) are placed on whole 2 MiB pages and offered to the
 * kernel as transparent huge pages (madvise; Linux's default mode on
 * Debian). A training step streams these arrays every time: on 4 KiB
 * pages, the first 150 KB of each took twice as long to update as the
 * rest whenever two threads ran (Zen 5: the fused Adam on the first 64
 * rows of the 784-512-10 hidden layer, 22-26 us against 11-12 for every
 * other chunk; 12.2 on huge pages). Such a block is rounded up to whole
 * huge pages where that adds at most a third of its size; otherwise only
 * its last, partial 2 MiB stays on small pages. */
#define HUGE_MIN ((size_t)3 << 19)
#define HUGE_PAGE ((size_t)2 << 20)

static atomic_long alloc_count;
static atomic_long fail_at;

long nn_mem_fail_at(long k)
{
    long n = atomic_exchange(&alloc_count, 0);
    atomic_store(&fail_at, k);
    return n;
}

void *nn_mem_alloc(size_t size)
{
    long n = atomic_fetch_add(&alloc_count, 1) + 1;
    long k = atomic_load(&fail_at);
    if (k > 0 && n == k)
        return NULL;
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - NN_ALIGN)
        return NULL;
    size = (size + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
    if (size >= HUGE_MIN && size <= SIZE_MAX - HUGE_PAGE) {
        size_t whole = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        if (whole - size <= size / 3)
            size = whole;
        void *p = NULL;
        if (posix_memalign(&p, HUGE_PAGE, size) != 0)
            return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(p, size, MADV_HUGEPAGE); /* advice: failure changes nothing */
#endif
        return p;
    }
    return aligned_alloc(NN_ALIGN, size);
}

void *nn_mem_calloc(size_t size)
{
    void *p = nn_mem_alloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void nn_mem_free(void *p)
{
    free(p);
}

int nn_mul_overflows(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return 1;
    if (a != 0 && b > INT64_MAX / a)
        return 1;
    *out = a * b;
    return 0;
}
