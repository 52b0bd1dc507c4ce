/* Heap allocations of the whole bench_train process: libnn, oneDNN, the
 * OpenMP runtime and libc alike. See alloc_count.c. */
#ifndef BENCH_ALLOC_COUNT_H
#define BENCH_ALLOC_COUNT_H

/* Number of successful or failed calls to malloc, calloc, realloc,
 * posix_memalign, aligned_alloc, memalign, valloc and pvalloc since the
 * process started. Returns -1 where the counter is not built in (sanitizer
 * builds, non-glibc systems). */
long long bench_alloc_count(void);

#endif
