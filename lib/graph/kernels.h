/* Small-batch matrix kernels (kernels.c). Never installed. */
#ifndef NN_LIB_GRAPH_KERNELS_H
#define NN_LIB_GRAPH_KERNELS_H

#include <stdint.h>

/* Batches up to this many rows use the kernels (when available); larger
 * ones use sgemm, whose packing then pays for itself. */
#define NN_KERNEL_MAX_N 128

/* Whether this CPU runs AVX-512 with FMA: the kernels here and the other
 * AVX-512 loops of the graph code (dense.c, eltwise_cols.c). When it does
 * not, the callers use sgemm or portable loops and must not call them. */
int nn_kernels_available(void);

/* C[m, n] = A[m, k] B[n, k]^T, rows of A and of B contiguous along k. */
void nn_kernel_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float *c, int64_t ldc);

/* C[m, n] = A B with A's element (i, p) at a[i * ars + p * acs] and B[k, n]
 * row-major (ldb). */
void nn_kernel_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs,
                  const float *b, int64_t ldb, float *c, int64_t ldc);

#endif
