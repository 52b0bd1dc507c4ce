/* IDX reader. A file is read whole (gunzipped if need be) into one buffer and
 * then parsed by the same code that parses a caller's buffer, so nothing is
 * sized from a header before the bytes it describes are known to be there. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nn/idx.h>
#include "core/core.h"
#include "io/io_internal.h"

enum {
    IDX_UBYTE = 0x08,
    IDX_MAX_HEADER = 4 + 4 * 3,  /* magic and up to three dims */
    GZ_BUFFER = 256 * 1024       /* zlib's input buffer: fewer, larger reads */
};

/* Where the bytes came from, for messages: "fn: name: problem". */
struct idx_src {
    const char *fn;   /* public function the caller called */
    const char *name; /* path or buffer name */
    const char *kind; /* "file" or "buffer" */
};

/* A parsed unsigned-byte IDX: dims and the numel bytes that follow them. */
struct idx_view {
    int64_t dims[3];
    int64_t numel;
    const uint8_t *data;
};

static int64_t be32(const uint8_t *p)
{
    return (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
                     (uint32_t)p[3]);
}

/* Checks that the size bytes at buf are an unsigned-byte IDX of the given
 * rank holding exactly the data its dims promise; fills *v on success. */
static nn_status idx_parse(const struct idx_src *src, const uint8_t *buf, size_t size, int rank,
                           const char *what, struct idx_view *v)
{
    if (size < 4)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: truncated: %s has %zu bytes, the magic needs 4",
                       src->fn, src->name, src->kind, size);
    if (buf[0] != 0 || buf[1] != 0)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: bad magic 0x%02x%02x%02x%02x, first two bytes must be zero "
                       "(not an IDX %s?)",
                       src->fn, src->name, buf[0], buf[1], buf[2], buf[3], src->kind);
    if (buf[2] != IDX_UBYTE)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: unsupported type code 0x%02x, only 0x08 (unsigned byte) is read",
                       src->fn, src->name, buf[2]);
    if (buf[3] != rank)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: rank is %d, %s need rank %d", src->fn, src->name,
                       buf[3], what, rank);
    size_t header = 4 + 4 * (size_t)rank;
    if (size < header)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: truncated: header needs %zu bytes, %s has %zu",
                       src->fn, src->name, header, src->kind, size);
    int64_t n = 1;
    int overflow = 0;
    for (int i = 0; i < rank; i++) {
        v->dims[i] = be32(buf + 4 + 4 * i);
        if (v->dims[i] == 0)
            return nn_fail(NN_ERR_FORMAT, "%s: %s: dims[%d] is 0, must be >= 1", src->fn,
                           src->name, i);
        if (!overflow && nn_mul_overflows(n, v->dims[i], &n))
            overflow = 1;
    }
    if (overflow)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: header dims overflow a 64-bit byte count",
                       src->fn, src->name);
    size_t have = size - header;
    if ((uint64_t)n > (uint64_t)have)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: truncated: header promises %lld bytes of data, %s has %zu",
                       src->fn, src->name, (long long)n, src->kind, have);
    if ((uint64_t)n < (uint64_t)have)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: %zu trailing bytes: header promises %lld bytes of data, %s has %zu",
                       src->fn, src->name, have - (size_t)n, (long long)n, src->kind, have);
    if (n > NN_IDX_MAX_BYTES)
        return nn_fail(NN_ERR_UNSUPPORTED, "%s: %s: %lld bytes of data, the limit is %lld",
                       src->fn, src->name, (long long)n, (long long)NN_IDX_MAX_BYTES);
    v->numel = n;
    v->data = buf + header;
    return NN_OK;
}

static nn_status images_parse(const struct idx_src *src, const uint8_t *buf, size_t size,
                              nn_tensor **out)
{
    struct idx_view v = {.numel = 0};
    nn_status s = idx_parse(src, buf, size, 3, "images", &v);
    if (s != NN_OK)
        return s;
    nn_tensor *t = NULL;
    int64_t dims[2] = {v.dims[0], v.dims[1] * v.dims[2]};
    s = nn_tensor_create(&t, 2, dims);
    if (s == NN_ERR_OUT_OF_MEMORY)
        return nn_fail(s, "%s: %s: no memory for a [%lld, %lld] tensor", src->fn, src->name,
                       (long long)dims[0], (long long)dims[1]);
    if (s != NN_OK)
        return s;
    const float scale = 1.0f / 255.0f;
    float *dst = t->data;
    for (int64_t i = 0; i < v.numel; i++)
        dst[i] = (float)v.data[i] * scale;
    *out = t;
    return NN_OK;
}

static nn_status labels_parse(const struct idx_src *src, const uint8_t *buf, size_t size,
                              int32_t **labels, int64_t *count)
{
    struct idx_view v = {.numel = 0};
    nn_status s = idx_parse(src, buf, size, 1, "labels", &v);
    if (s != NN_OK)
        return s;
    int32_t *l = nn_mem_alloc((size_t)v.numel * sizeof *l);
    if (!l)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: %s: no memory for %lld labels", src->fn,
                       src->name, (long long)v.numel);
    for (int64_t i = 0; i < v.numel; i++)
        l[i] = v.data[i];
    *labels = l;
    *count = v.numel;
    return NN_OK;
}

/* The IDX reader's byte source: zlib, which gunzips a gzip'd file and
 * passes any other through unchanged. */
static nn_status gz_read(const nn_io_source *src, uint8_t *dst, size_t want, size_t *got)
{
    gzFile gz = src->handle;
    int r = gzread(gz, dst, (unsigned)want);
    if (r > 0) {
        *got = (size_t)r;
        return NN_OK;
    }
    int err;
    const char *msg = gzerror(gz, &err);
    if (r < 0 && err == Z_ERRNO)
        return nn_fail(NN_ERR_IO, "%s: %s: read failed: %s", src->fn, src->path,
                       strerror(errno));
    if (r < 0 || err != Z_OK) /* a gzip stream cut short ends with Z_BUF_ERROR */
        return nn_fail(NN_ERR_FORMAT, "%s: %s: corrupt gzip stream: %s", src->fn, src->path,
                       msg);
    *got = 0;
    return NN_OK;
}

/* Reads the whole of path, gunzipping it if it is gzip'd, into a new buffer
 * (*out, nn_mem_free) of *size bytes, refusing more than an IDX can hold. */
static nn_status read_whole(const char *fn, const char *path, uint8_t **out, size_t *size)
{
    const size_t limit = (size_t)NN_IDX_MAX_BYTES + IDX_MAX_HEADER;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nn_fail(NN_ERR_IO, "%s: %s: cannot open: %s", fn, path, strerror(errno));
    /* A raw file's size is exact and a gzip'd one's a lower bound: either
     * way the bytes are really there, so it is a safe first capacity. */
    size_t cap = NN_IO_READ_FIRST;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (off_t)cap)
        cap = (uint64_t)st.st_size < (uint64_t)limit ? (size_t)st.st_size : limit;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: %s: no memory for a zlib stream", fn, path);
    }
    gzbuffer(gz, GZ_BUFFER);
    nn_io_source src = {.read = gz_read, .handle = gz, .fn = fn, .path = path,
                        .limit = limit, .limit_name = "the IDX limit"};
    nn_status s = nn_io_read_all(&src, cap, out, size);
    gzclose(gz); /* closes fd */
    return s;
}

static nn_status images_load(const char *fn, const char *path, nn_tensor **out)
{
    uint8_t *buf;
    size_t size;
    nn_status s = read_whole(fn, path, &buf, &size);
    if (s != NN_OK)
        return s;
    struct idx_src src = {fn, path, "file"};
    s = images_parse(&src, buf, size, out);
    nn_mem_free(buf);
    return s;
}

static nn_status labels_load(const char *fn, const char *path, int32_t **labels, int64_t *count)
{
    uint8_t *buf;
    size_t size;
    nn_status s = read_whole(fn, path, &buf, &size);
    if (s != NN_OK)
        return s;
    struct idx_src src = {fn, path, "file"};
    s = labels_parse(&src, buf, size, labels, count);
    nn_mem_free(buf);
    return s;
}

nn_status nn_idx_load_images(nn_tensor **out, const char *path)
{
    if (!out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_images: out is NULL");
    if (!path)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_images: path is NULL");
    return images_load(__func__, path, out);
}

nn_status nn_idx_load_labels(int32_t **labels, int64_t *count, const char *path)
{
    if (!labels)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_labels: labels is NULL");
    if (!count)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_labels: count is NULL");
    if (!path)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_labels: path is NULL");
    return labels_load(__func__, path, labels, count);
}

void nn_idx_free_labels(int32_t *labels)
{
    nn_mem_free(labels);
}

nn_status nn_idx_load_pair(nn_tensor **images, int32_t **labels, int64_t *count,
                           const char *images_path, const char *labels_path)
{
    if (!images)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_pair: images is NULL");
    if (!labels)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_pair: labels is NULL");
    if (!count)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_pair: count is NULL");
    if (!images_path)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_pair: images_path is NULL");
    if (!labels_path)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_load_pair: labels_path is NULL");
    /* Labels first: the small file, so a bad pair fails before the big read. */
    int32_t *l = NULL;
    int64_t n = 0;
    nn_status s = labels_load(__func__, labels_path, &l, &n);
    if (s != NN_OK)
        return s;
    nn_tensor *x = NULL;
    s = images_load(__func__, images_path, &x);
    if (s != NN_OK) {
        nn_mem_free(l);
        return s;
    }
    if (x->dims[0] != n) {
        s = nn_fail(NN_ERR_FORMAT, "nn_idx_load_pair: %s has %lld images, %s has %lld labels",
                    images_path, (long long)x->dims[0], labels_path, (long long)n);
        nn_tensor_destroy(x);
        nn_mem_free(l);
        return s;
    }
    *images = x;
    *labels = l;
    *count = n;
    return NN_OK;
}

nn_status nn_idx_images_from_buffer(nn_tensor **out, const void *buf, size_t size,
                                    const char *name)
{
    if (!out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_images_from_buffer: out is NULL");
    if (!buf)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_images_from_buffer: buf is NULL");
    struct idx_src src = {__func__, name ? name : "buffer", "buffer"};
    return images_parse(&src, buf, size, out);
}

nn_status nn_idx_labels_from_buffer(int32_t **labels, int64_t *count, const void *buf,
                                    size_t size, const char *name)
{
    if (!labels)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_labels_from_buffer: labels is NULL");
    if (!count)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_labels_from_buffer: count is NULL");
    if (!buf)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_idx_labels_from_buffer: buf is NULL");
    struct idx_src src = {__func__, name ? name : "buffer", "buffer"};
    return labels_parse(&src, buf, size, labels, count);
}
