/* Dense float32 tensors. */
#include <string.h>

#include <nn/tensor.h>
#include "core.h"

nn_status nn_check_dims(const char *fn, int ndim, const int64_t *dims, int64_t *numel)
{
    if (!dims)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: dims is NULL", fn);
    if (ndim < 1 || ndim > NN_MAX_DIMS)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: ndim is %d, must be 1..%d", fn, ndim,
                       NN_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 1)
            return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: dims[%d] is %lld, must be >= 1", fn, i,
                           (long long)dims[i]);
        if (nn_mul_overflows(n, dims[i], &n))
            return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: element count overflows at dims[%d] = %lld",
                           fn, i, (long long)dims[i]);
    }
    /* The byte size must fit too. */
    if (n > (int64_t)(SIZE_MAX / 2 / sizeof(float)) || n > INT64_MAX / (int64_t)sizeof(float))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: %lld elements overflow the byte size", fn,
                       (long long)n);
    *numel = n;
    return NN_OK;
}

nn_status nn_tensor_create(nn_tensor **out, int ndim, const int64_t *dims)
{
    int64_t numel;
    if (!out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_tensor_create: out is NULL");
    nn_status s = nn_check_dims(__func__, ndim, dims, &numel);
    if (s != NN_OK)
        return s;
    nn_tensor *t = nn_mem_alloc(sizeof *t);
    if (!t)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_tensor_create: no memory for the handle");
    t->data = nn_mem_calloc((size_t)numel * sizeof(float));
    if (!t->data) {
        nn_mem_free(t);
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_tensor_create: no memory for %lld floats",
                       (long long)numel);
    }
    t->ndim = ndim;
    memset(t->dims, 0, sizeof t->dims);
    memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    t->numel = numel;
    t->borrowed = 0;
    t->watch = NULL;
    *out = t;
    return NN_OK;
}

void nn_tensor_view(nn_tensor *t, float *data, int ndim, const int64_t *dims)
{
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        t->numel *= dims[i];
    }
    t->data = data;
    t->borrowed = 1;
}

void nn_tensor_destroy(nn_tensor *t)
{
    if (!t || t->borrowed)
        return;
    nn_mem_free(t->data);
    nn_mem_free(t);
}

int nn_tensor_ndim(const nn_tensor *t)
{
    return t ? t->ndim : 0;
}

int64_t nn_tensor_dim(const nn_tensor *t, int axis)
{
    if (!t || axis < 0 || axis >= t->ndim)
        return 0;
    return t->dims[axis];
}

int64_t nn_tensor_numel(const nn_tensor *t)
{
    return t ? t->numel : 0;
}

float *nn_tensor_data(nn_tensor *t)
{
    if (t && t->watch)
        atomic_store_explicit(&t->watch->exposed, 1, memory_order_relaxed);
    return t ? t->data : NULL;
}

nn_status nn_tensor_copy_from(nn_tensor *t, const float *src, int64_t n)
{
    if (!t)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_tensor_copy_from: t is NULL");
    if (!src)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_tensor_copy_from: src is NULL");
    if (n != t->numel)
        return nn_fail(NN_ERR_SHAPE, "nn_tensor_copy_from: n is %lld, tensor holds %lld",
                       (long long)n, (long long)t->numel);
    memmove(t->data, src, (size_t)n * sizeof(float));
    nn_tensor_written(t);
    return NN_OK;
}

nn_status nn_tensor_copy_to(const nn_tensor *t, float *dst, int64_t n)
{
    if (!t)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_tensor_copy_to: t is NULL");
    if (!dst)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_tensor_copy_to: dst is NULL");
    if (n != t->numel)
        return nn_fail(NN_ERR_SHAPE, "nn_tensor_copy_to: n is %lld, tensor holds %lld",
                       (long long)n, (long long)t->numel);
    memmove(dst, t->data, (size_t)n * sizeof(float));
    return NN_OK;
}

nn_status nn_tensor_reshape(nn_tensor *t, int ndim, const int64_t *dims)
{
    int64_t numel;
    if (!t)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_tensor_reshape: t is NULL");
    nn_status s = nn_check_dims(__func__, ndim, dims, &numel);
    if (s != NN_OK)
        return s;
    if (t->borrowed)
        return nn_fail(NN_ERR_STATE, "nn_tensor_reshape: tensor is borrowed from a graph");
    if (numel != t->numel)
        return nn_fail(NN_ERR_SHAPE, "nn_tensor_reshape: new shape has %lld elements, tensor has %lld",
                       (long long)numel, (long long)t->numel);
    memset(t->dims, 0, sizeof t->dims);
    memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    t->ndim = ndim;
    return NN_OK;
}
