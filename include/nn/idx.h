/* libnn — reading IDX files (the MNIST / Fashion-MNIST format).
 *
 * An IDX file is a 4-byte big-endian magic (two zero bytes, a type code, a
 * rank), rank big-endian uint32 dims, then the data. Only unsigned bytes
 * (type code 0x08) are read. Files may be gzip'd or raw; either is read
 * transparently. Every size is checked: a file must hold exactly the bytes
 * its header promises, and a malformed one gives NN_ERR_FORMAT.
 *
 *     nn_tensor *x = NULL;
 *     int32_t *y = NULL;
 *     int64_t n;
 *     if (nn_idx_load_pair(&x, &y, &n, "t10k-images-idx3-ubyte.gz",
 *                          "t10k-labels-idx1-ubyte.gz") != NN_OK)
 *         fprintf(stderr, "libnn: %s\n", nn_last_error());
 *     ...                                   // x: [n, 784] in 0..1, y: n classes
 *     nn_tensor_destroy(x);
 *     nn_idx_free_labels(y);
 */
#ifndef NN_IDX_H
#define NN_IDX_H

#include <stddef.h>
#include <stdint.h>
#include <nn/export.h>
#include <nn/status.h>
#include <nn/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest data section read (2 GiB), and the largest decompressed file. */
#define NN_IDX_MAX_BYTES (INT64_C(1) << 31)

/* Reads an IDX unsigned-byte rank-3 file [N, rows, cols] (gzip'd or raw) into
 * a new float32 tensor [N, rows*cols], each byte scaled by 1/255.
 * On success *out owns the tensor: release it with nn_tensor_destroy().
 * On failure *out is left untouched. Unreadable path: NN_ERR_IO. */
NN_API nn_status nn_idx_load_images(nn_tensor **out, const char *path);

/* Reads an IDX unsigned-byte rank-1 file [N] (gzip'd or raw) into a new
 * array of N int32 class indices (0..255; range checks are the caller's).
 * On success *labels owns the array (free it with nn_idx_free_labels()) and
 * *count holds N. On failure both are left untouched. */
NN_API nn_status nn_idx_load_labels(int32_t **labels, int64_t *count, const char *path);

/* Frees an array returned by any nn_idx_*labels* function. NULL is a no-op. */
NN_API void nn_idx_free_labels(int32_t *labels);

/* Loads an images file and a labels file whose counts must agree
 * (NN_ERR_FORMAT naming both files and counts otherwise). On success the
 * caller owns *images (nn_tensor_destroy()) and *labels
 * (nn_idx_free_labels()), and *count is N. On any failure nothing is
 * returned: all three out-parameters are left untouched. */
NN_API nn_status nn_idx_load_pair(nn_tensor **images, int32_t **labels, int64_t *count,
                                  const char *images_path, const char *labels_path);

/* As nn_idx_load_images(), from size bytes at buf holding a raw (not
 * gzip'd) IDX file. buf is only read, never kept. name labels the buffer in
 * error messages; NULL gives "buffer". On success *out owns a new tensor
 * (nn_tensor_destroy()); on failure it is left untouched. */
NN_API nn_status nn_idx_images_from_buffer(nn_tensor **out, const void *buf, size_t size,
                                           const char *name);

/* As nn_idx_load_labels(), from size bytes at buf holding a raw IDX file.
 * buf is only read, never kept; name as for nn_idx_images_from_buffer().
 * On success *labels owns a new array (nn_idx_free_labels()) and *count is
 * its length; on failure both are left untouched. */
NN_API nn_status nn_idx_labels_from_buffer(int32_t **labels, int64_t *count, const void *buf,
                                           size_t size, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* NN_IDX_H */
