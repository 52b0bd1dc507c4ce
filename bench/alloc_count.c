/* Counts every heap allocation in the process, so that bench_train can report
 * allocations per training step for the whole program, oneDNN included, not
 * only the ones libnn makes through its own allocator.
 *
 * glibc lets a program replace malloc by defining these functions in the
 * executable ("Replacing malloc" in the glibc manual); every library then
 * calls them. Each one here counts and forwards to glibc's own allocator
 * through its exported __libc_* entry points, so memory handed out before and
 * after is the same kind and free() needs no bookkeeping. bench/meson.build
 * builds this file only with glibc and without sanitizers, which replace
 * malloc themselves. An allocator preloaded with LD_PRELOAD (jemalloc,
 * tcmalloc) is bypassed: the executable's definitions come first.
 * bench_train checks at start-up that an allocation is counted. */
#include "alloc_count.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);
extern void __libc_free(void *ptr);

/* The prototypes of the functions replaced below, as <stdlib.h> and
 * <malloc.h> give them; declared here to keep their attributes out. */
void *malloc(size_t size);
void *calloc(size_t count, size_t size);
void *realloc(void *ptr, size_t size);
void free(void *ptr);
int posix_memalign(void **out, size_t alignment, size_t size);
void *aligned_alloc(size_t alignment, size_t size);
void *memalign(size_t alignment, size_t size);
void *valloc(size_t size);
void *pvalloc(size_t size);

static atomic_llong allocations;

static void counted(void)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
}

long long bench_alloc_count(void)
{
    return atomic_load_explicit(&allocations, memory_order_relaxed);
}

void *malloc(size_t size)
{
    counted();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    counted();
    return __libc_calloc(count, size);
}

void *realloc(void *ptr, size_t size)
{
    counted();
    return __libc_realloc(ptr, size);
}

void free(void *ptr)
{
    __libc_free(ptr);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    counted();
    if (alignment == 0 || alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0)
        return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size)
{
    counted();
    return __libc_memalign(alignment, size);
}

void *memalign(size_t alignment, size_t size)
{
    counted();
    return __libc_memalign(alignment, size);
}

void *valloc(size_t size)
{
    counted();
    return __libc_valloc(size);
}

void *pvalloc(size_t size)
{
    counted();
    return __libc_pvalloc(size);
}
