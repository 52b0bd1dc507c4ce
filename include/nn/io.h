/* libnn — model files and training checkpoints.
 *
 * A model file holds a graph's layers, parameters and generator state; an
 * optimizer file holds an optimizer's kind, hyper-parameters, step count and
 * state. Both are versioned, checksummed, little-endian on every platform,
 * and described byte by byte in docs/file-format.md. A loaded graph predicts
 * bit-identically to the one saved; a graph and an optimizer loaded from a
 * checkpoint continue training bit-identically (same thread count).
 *
 *     // shipping a model
 *     nn_graph_save(g, "model.nnm");
 *     ...
 *     nn_graph *g = NULL;
 *     if (nn_graph_load(&g, "model.nnm") != NN_OK)
 *         fprintf(stderr, "libnn: %s\n", nn_last_error());
 *
 *     // a checkpoint: both files, then resume
 *     nn_graph_save(g, "ckpt.nnm");
 *     nn_optimizer_save(opt, "ckpt.nno");
 *     ...
 *     nn_graph_load(&g2, "ckpt.nnm");
 *     nn_adam_create(&opt2, g2, 1e-3f);          // same kind as the saved one
 *     nn_optimizer_load(opt2, "ckpt.nno");       // lr, betas, step, moments
 *
 * Loading never trusts the file: truncation, a flipped bit (CRC-32), absurd
 * sizes, unknown layer kinds and trailing bytes all give NN_ERR_FORMAT with
 * nn_last_error() naming the problem. Saving replaces the file atomically
 * (temporary file, fsync, rename): a failed or interrupted save leaves the
 * previous file whole.
 */
#ifndef NN_IO_H
#define NN_IO_H

#include <stddef.h>
#include <nn/export.h>
#include <nn/status.h>
#include <nn/graph.h>
#include <nn/optimizer.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Model and optimizer file format version this libnn writes, and the
 * newest it reads. */
#define NN_FILE_FORMAT_VERSION 1

/* Writes g's layers, parameters and generator state to path, replacing any
 * file there only once the new one is complete and synced. The temporary
 * file (path.tmpXXXXXX, same directory) is removed on failure.
 * NN_ERR_IO if the file cannot be written; NN_ERR_UNSUPPORTED for a graph
 * beyond the format's limits (over 1024 layers). g is not changed. */
NN_API nn_status nn_graph_save(const nn_graph *g, const char *path);

/* Reads a model file written by nn_graph_save() into a new graph. On
 * success *out owns it: release it with nn_graph_destroy(). On failure *out
 * is left untouched. NN_ERR_IO if the file cannot be read, NN_ERR_FORMAT if
 * it is not a valid model file (any damage), NN_ERR_UNSUPPORTED above 4 GiB. */
NN_API nn_status nn_graph_load(nn_graph **out, const char *path);

/* As nn_graph_save(), into memory: on success *buf owns a new buffer of
 * *size bytes (release it with nn_free()); on failure both are untouched. */
NN_API nn_status nn_graph_save_buffer(const nn_graph *g, void **buf, size_t *size);

/* As nn_graph_load(), from the size bytes at buf (only read, never kept). */
NN_API nn_status nn_graph_load_buffer(nn_graph **out, const void *buf, size_t size);

/* Writes the optimizer's kind, hyper-parameters, step count and state to
 * path, atomically as nn_graph_save(). The graph's parameters are not in
 * it: save the graph too. NN_ERR_STATE if its graph was destroyed or has
 * gained layers since the optimizer was created. */
NN_API nn_status nn_optimizer_save(const nn_optimizer *o, const char *path);

/* Replaces o's hyper-parameters, step count and state with those saved in
 * path. o must be of the saved kind (SGD, Adam and AdamW are distinct:
 * NN_ERR_STATE otherwise) and bound to a graph with the saved parameter
 * shapes (NN_ERR_SHAPE otherwise). NN_ERR_FORMAT for a damaged file. On
 * failure o is left exactly as it was. */
NN_API nn_status nn_optimizer_load(nn_optimizer *o, const char *path);

/* Frees a buffer returned by nn_graph_save_buffer(). NULL is a no-op. */
NN_API void nn_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* NN_IO_H */
