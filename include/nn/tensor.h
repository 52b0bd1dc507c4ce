/* libnn — dense float32 tensors. */
#ifndef NN_TENSOR_H
#define NN_TENSOR_H

#include <stdint.h>
#include <nn/export.h>
#include <nn/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most tensors have at most this many axes. */
#define NN_MAX_DIMS 8

/* A dense, row-major float32 array owned by libnn. Opaque. */
typedef struct nn_tensor nn_tensor;

/* Creates a zero-filled tensor of ndim axes (1..NN_MAX_DIMS) with the given
 * sizes (each >= 1; the element count must fit in int64_t and in memory).
 * On success *out owns the tensor: release it with nn_tensor_destroy().
 * On failure *out is left untouched. */
NN_API nn_status nn_tensor_create(nn_tensor **out, int ndim, const int64_t *dims);

/* Frees a tensor made by nn_tensor_create(). NULL is a no-op. Tensors
 * borrowed from a graph (nn_graph_param) must not be destroyed. */
NN_API void nn_tensor_destroy(nn_tensor *t);

/* Number of axes; 0 for a NULL tensor. */
NN_API int nn_tensor_ndim(const nn_tensor *t);

/* Size of one axis; 0 if t is NULL or axis is outside 0..ndim-1. */
NN_API int64_t nn_tensor_dim(const nn_tensor *t, int axis);

/* Total number of elements; 0 for a NULL tensor. */
NN_API int64_t nn_tensor_numel(const nn_tensor *t);

/* The elements, row-major, 64-byte aligned. Borrowed: valid until the
 * tensor is destroyed (reshape keeps it valid); on a graph's parameter,
 * until the graph gets another dense layer. NULL for a NULL tensor.
 * On a graph's parameter (nn_graph_param) it ends the graph's faster
 * one-row inference copy for good, since libnn cannot see writes through
 * the pointer: prefer nn_tensor_copy_from / nn_tensor_copy_to there. */
NN_API float *nn_tensor_data(nn_tensor *t);

/* Copies n floats from src into the tensor; n must equal its numel. */
NN_API nn_status nn_tensor_copy_from(nn_tensor *t, const float *src, int64_t n);

/* Copies the tensor's n floats into dst; n must equal its numel. */
NN_API nn_status nn_tensor_copy_to(const nn_tensor *t, float *dst, int64_t n);

/* Gives the tensor new dims with the same element count (NN_ERR_SHAPE
 * otherwise). The data is not moved. */
NN_API nn_status nn_tensor_reshape(nn_tensor *t, int ndim, const int64_t *dims);

#ifdef __cplusplus
}
#endif

#endif /* NN_TENSOR_H */
