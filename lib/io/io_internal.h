/* What the IDX reader and the model files share: reading a whole file into
 * one buffer. Never installed. */
#ifndef NN_LIB_IO_INTERNAL_H
#define NN_LIB_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <nn/status.h>

/* First buffer when a file's size is unknown. */
#define NN_IO_READ_FIRST ((size_t)64 * 1024)

/* A stream of bytes and what to call it in messages ("fn: path: problem").
 * Each caller brings its own read: the IDX reader a gzip stream (which
 * passes raw files through), the model files plain read(2). */
typedef struct nn_io_source nn_io_source;
struct nn_io_source {
    /* Reads 1..want bytes (want <= 2^30, so it fits an int) into dst and
     * sets *got, or sets *got = 0 at the end; on failure returns the status
     * after nn_fail has said why. */
    nn_status (*read)(const nn_io_source *src, uint8_t *dst, size_t want, size_t *got);
    void *handle;           /* the read's own: a gzFile, a pointer to an fd */
    const char *fn;         /* public function the caller called */
    const char *path;
    size_t limit;           /* most bytes accepted */
    const char *limit_name; /* "the limit", "the IDX limit" */
};

/* Reads src to its end into a new buffer (*out, nn_mem_free) of *size
 * bytes, starting at cap bytes (<= src->limit) and growing; more than
 * src->limit bytes is NN_ERR_UNSUPPORTED. On failure nothing stays
 * allocated and *out, *size are untouched. Does not close src. */
nn_status nn_io_read_all(const nn_io_source *src, size_t cap, uint8_t **out, size_t *size);

#endif
