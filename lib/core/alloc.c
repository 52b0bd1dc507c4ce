/* The one allocator every libnn module uses, so that alignment is uniform
 * and tests can make any single allocation fail. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

enum { NN_ALIGN = 64 };

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
