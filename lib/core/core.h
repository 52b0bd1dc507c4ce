/* libnn internals shared by every module: errors, allocation, tensors,
 * threads. Never installed. */
#ifndef NN_LIB_CORE_H
#define NN_LIB_CORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <nn/status.h>
#include <nn/tensor.h>

#if defined(__GNUC__)
#  define NN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define NN_PRINTF(f, a)
#endif

/* Run-time dispatch for hot element-wise and reduction loops: gcc builds
 * one copy per target and the loader picks the widest the CPU has (ifunc,
 * glibc on ELF); elsewhere the portable loop is the only one. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#  define NN_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#  define NN_TARGET_CLONES
#endif

/* Records the detail for nn_last_error() and returns s, so that error paths
 * read `return nn_fail(NN_ERR_SHAPE, "%s: ...", __func__, ...);`. */
nn_status nn_fail(nn_status s, const char *fmt, ...) NN_PRINTF(2, 3);

/* Makes a failure's detail start with "fn: " (for public functions whose
 * failure was detailed by an inner one); returns s unchanged. */
nn_status nn_fail_in(const char *fn, nn_status s);

/* The one allocator: 64-byte aligned, size rounded up to 64, NULL on
 * failure (or when the test hook below says so). Blocks of 1.5 MiB or
 * more start on a 2 MiB boundary, rounded up to whole 2 MiB, and are
 * advised as huge pages (alloc.c). Free with nn_mem_free. */
void *nn_mem_alloc(size_t size);
/* Like nn_mem_alloc, zero-filled. */
void *nn_mem_calloc(size_t size);
void nn_mem_free(void *p);

/* Test hook for allocation-failure injection: make the k-th allocation from
 * now on (1-based) fail; 0 disables. Returns how many allocations have been
 * made since the last call. Not exported from the shared library. */
long nn_mem_fail_at(long k);

/* Overflow-checked a * b for non-negative sizes; 0 on success. */
int nn_mul_overflows(int64_t a, int64_t b, int64_t *out);

/* What a graph knows of writes to its parameter values, for the copies it
 * keeps of them (the one-row inference layout, dense.c). version changes
 * with every write to them through the API (nn_tensor_written, and
 * nn_graph_values_changed for libnn's own writers; adding a layer rebuilds
 * the plans instead); exposed is set for good once the user has taken a
 * pointer to the values (nn_tensor_data on a view from nn_graph_param),
 * through which they may write at any time unseen. Atomic because
 * nn_tensor_data may be called while another thread runs the graph. */
typedef struct nn_param_watch {
    uint64_t version;
    atomic_int exposed;
} nn_param_watch;

struct nn_tensor {
    int ndim;
    int64_t dims[NN_MAX_DIMS];
    int64_t numel;
    float *data;
    int borrowed; /* a view into memory libnn owns elsewhere: not freed, not reshaped */
    nn_param_watch *watch; /* a graph's parameter values view: its graph's watch */
};

/* After libnn has written t's elements on the user's behalf (copy_from, a
 * forward's output): tells t's graph if t is one of its parameters. */
static inline void nn_tensor_written(nn_tensor *t)
{
    if (t->watch)
        t->watch->version++;
}

/* Makes t a borrowed 1- or 2-D view of data (never allocates). */
void nn_tensor_view(nn_tensor *t, float *data, int ndim, const int64_t *dims);

/* Validates ndim and dims; on success *numel holds their product. */
nn_status nn_check_dims(const char *fn, int ndim, const int64_t *dims, int64_t *numel);

/* Applies the process-wide thread count to the calling thread's OpenMP
 * settings; call at the top of any function that computes. */
void nn_threads_apply(void);

#endif /* NN_LIB_CORE_H */
