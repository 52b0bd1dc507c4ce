/* Model files and optimizer checkpoints, byte for byte as docs/file-format.md
 * describes them. A file is built whole in memory and written through a
 * temporary file and a rename; it is read whole and parsed by the code that
 * parses a caller's buffer, which checks every size against the bytes really
 * there before it allocates anything. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nn/io.h>
#include "core/core.h"
#include "graph/graph_internal.h"
#include "io/io_internal.h"
#include "optim/optim_internal.h"

enum {
    HEADER_SIZE = 24,  /* magic, version, CRC, body size */
    MODEL_FIXED = 56,  /* model body bytes besides the layers and parameters */
    LAYER_SIZE = 24,   /* one layer record */
    OPTIM_FIXED = 56,  /* optimizer body bytes besides the sizes and state */
    MAX_LAYERS = 1024,
    MAX_TENSORS = 2 * MAX_LAYERS,
    IO_CHUNK = 1 << 30       /* largest single write() or crc32() */
};

#define MAX_FEATURES (UINT64_C(1) << 31)
#define MAX_FILE (UINT64_C(4) << 30)

static const uint8_t model_magic[8] = {0x89, 'N', 'N', 'M', '\r', '\n', 0x1a, '\n'};
static const uint8_t optim_magic[8] = {0x89, 'N', 'N', 'O', '\r', '\n', 0x1a, '\n'};

/* The file's own codes, pinned (docs/file-format.md). */
enum { K_DENSE = 1, K_ACTIVATION, K_DROPOUT, K_SOFTMAX_CE, K_MSE };
enum { A_RELU = 1, A_LEAKY_RELU, A_SIGMOID, A_TANH, A_GELU };
enum { O_SGD = 1, O_ADAM, O_ADAMW };

static const char *const kind_names[] = {"", "dense", "activation", "dropout",
                                         "softmax cross-entropy", "MSE"};

/* Where the bytes came from, for messages: "fn: name: problem". */
struct src {
    const char *fn;
    const char *name;
};

/* ---- little-endian fields ---- */

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint8_t *putf(uint8_t *p, float f)
{
    return put32(p, fbits(f));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t *put_floats(uint8_t *p, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        p = putf(p, x[i]);
    return p;
}

static const uint8_t *get_floats(float *x, const uint8_t *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++, p += 4)
        x[i] = bitsf(get32(p));
    return p;
}

/* CRC-32 (zlib's) of n bytes; crc32() takes an unsigned length. */
static uint32_t crc_of(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n > IO_CHUNK ? IO_CHUNK : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static uint8_t *put_header(uint8_t *buf, const uint8_t magic[8], size_t size)
{
    memcpy(buf, magic, 8);
    put32(buf + 8, NN_FILE_FORMAT_VERSION);
    put32(buf + 12, crc_of(buf + HEADER_SIZE, size - HEADER_SIZE));
    put64(buf + 16, (uint64_t)(size - HEADER_SIZE));
    return buf + HEADER_SIZE;
}

/* Checks magic, version, size and CRC; on success the body is the *len
 * bytes at *body. */
static nn_status check_header(const struct src *s, const uint8_t *buf, size_t size, int model,
                              const uint8_t **body, size_t *len)
{
    const char *what = model ? "a model" : "an optimizer";
    if (size < 12)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: truncated: %zu bytes, %s file starts with a 12-byte magic "
                       "and version",
                       s->fn, s->name, size, what);
    if (memcmp(buf, model ? model_magic : optim_magic, 8) != 0) {
        if (memcmp(buf, model ? optim_magic : model_magic, 8) == 0)
            return nn_fail(NN_ERR_FORMAT, "%s: %s: this is a libnn %s file, not %s file",
                           s->fn, s->name, model ? "optimizer" : "model", what);
        return nn_fail(NN_ERR_FORMAT, "%s: %s: bad magic: not a libnn %s file", s->fn, s->name,
                       model ? "model" : "optimizer");
    }
    uint32_t version = get32(buf + 8);
    if (version == 0)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: format version 0 is invalid", s->fn, s->name);
    if (version > NN_FILE_FORMAT_VERSION)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: format version %lu is newer than this libnn reads (%d)", s->fn,
                       s->name, (unsigned long)version, NN_FILE_FORMAT_VERSION);
    if (size < HEADER_SIZE)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: truncated: %zu bytes, the header needs %d",
                       s->fn, s->name, size, HEADER_SIZE);
    uint64_t promised = get64(buf + 16);
    size_t have = size - HEADER_SIZE;
    if (promised > have)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: truncated: the header promises %llu bytes after it, there are %zu",
                       s->fn, s->name, (unsigned long long)promised, have);
    if (promised < have)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: trailing bytes: %llu after the %llu the header promises", s->fn,
                       s->name, (unsigned long long)(have - promised),
                       (unsigned long long)promised);
    uint32_t stored = get32(buf + 12), computed = crc_of(buf + HEADER_SIZE, have);
    if (stored != computed)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: checksum mismatch (stored 0x%08lx, computed 0x%08lx): the file "
                       "is damaged",
                       s->fn, s->name, (unsigned long)stored, (unsigned long)computed);
    *body = buf + HEADER_SIZE;
    *len = have;
    return NN_OK;
}

/* ---- files ---- */

/* The model files' byte source: plain read(2). Never zlib: a gzip'd model
 * file is deliberately not loaded (it is refused as malformed). */
static nn_status fd_read(const nn_io_source *src, uint8_t *dst, size_t want, size_t *got)
{
    const int *fd = src->handle;
    ssize_t r;
    do
        r = read(*fd, dst, want);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return nn_fail(NN_ERR_IO, "%s: %s: read failed: %s", src->fn, src->path,
                       strerror(errno));
    *got = (size_t)r;
    return NN_OK;
}

/* Reads the whole of path into a new buffer (*out, nn_mem_free) of *size
 * bytes, refusing more than MAX_FILE. */
static nn_status read_file(const char *fn, const char *path, uint8_t **out, size_t *size)
{
    const size_t limit = MAX_FILE < SIZE_MAX / 2 ? (size_t)MAX_FILE : SIZE_MAX / 2;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nn_fail(NN_ERR_IO, "%s: %s: cannot open: %s", fn, path, strerror(errno));
    nn_status s = NN_OK;
    size_t cap = NN_IO_READ_FIRST;
    struct stat st;
    if (fstat(fd, &st) != 0)
        s = nn_fail(NN_ERR_IO, "%s: %s: cannot stat: %s", fn, path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        s = nn_fail(NN_ERR_IO, "%s: %s: is a directory", fn, path);
    else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > (uint64_t)limit)
        s = nn_fail(NN_ERR_UNSUPPORTED, "%s: %s: %lld bytes, the limit is %zu", fn, path,
                    (long long)st.st_size, limit);
    else if (S_ISREG(st.st_mode))
        cap = (size_t)st.st_size;
    if (s == NN_OK) {
        nn_io_source src = {.read = fd_read, .handle = &fd, .fn = fn, .path = path,
                            .limit = limit, .limit_name = "the limit"};
        s = nn_io_read_all(&src, cap, out, size);
    }
    close(fd);
    return s;
}

/* fsyncs the directory holding path, so that the rename itself is durable.
 * Best effort: some file systems refuse fsync on a directory. dir is
 * scratch of strlen(path) + 1 bytes. */
static void sync_dir(const char *path, char *dir)
{
    strcpy(dir, path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Writes size bytes to path.tmpXXXXXX, syncs it and renames it to path; on
 * any failure the temporary file is removed and path is untouched. */
static nn_status write_file(const char *fn, const char *path, const uint8_t *buf, size_t size)
{
    static const char suffix[] = ".tmpXXXXXX";
    size_t n = strlen(path);
    char *tmp = nn_mem_alloc(n + sizeof suffix);
    if (!tmp)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: %s: no memory for the temporary name", fn,
                       path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, suffix, sizeof suffix);
    /* mkstemp makes the file 0600: keep an existing file's mode, else 0644. */
    mode_t mode = 0644;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        mode = st.st_mode & 07777;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        nn_status s = nn_fail(NN_ERR_IO, "%s: %s: cannot create the temporary file %s: %s", fn,
                              path, tmp, strerror(errno));
        nn_mem_free(tmp);
        return s;
    }
    (void)fchmod(fd, mode); /* a file system without modes still takes the file */
    const char *failed = NULL;
    int err = 0;
    for (size_t done = 0; done < size;) {
        size_t want = size - done < IO_CHUNK ? size - done : IO_CHUNK;
        ssize_t w = write(fd, buf + done, want);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            failed = "write";
            err = w < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)w;
    }
    if (!failed && fsync(fd) != 0) {
        failed = "sync";
        err = errno;
    }
    if (close(fd) != 0 && !failed) {
        failed = "close";
        err = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = "rename";
        err = errno;
    }
    nn_status s = NN_OK;
    if (failed) {
        s = nn_fail(NN_ERR_IO, "%s: %s: cannot %s %s: %s", fn, path, failed, tmp, strerror(err));
        unlink(tmp);
    } else {
        sync_dir(path, tmp);
    }
    nn_mem_free(tmp);
    return s;
}

/* ---- models ---- */

static uint64_t dense_params(const nn_layer_desc *d)
{
    return (uint64_t)d->out * ((uint64_t)d->in + 1);
}

/* The model file of g, in a new buffer (*out, nn_mem_free) of *size bytes. */
static nn_status model_build(const char *fn, const nn_graph *g, uint8_t **out, size_t *size)
{
    int nl = nn_graph_layer_count(g);
    if (nl > MAX_LAYERS)
        return nn_fail(NN_ERR_UNSUPPORTED, "%s: the graph has %d layers, model files hold %d",
                       fn, nl, MAX_LAYERS);
    uint64_t p = 0;
    nn_layer_desc d;
    for (int i = 0; i < nl; i++) {
        nn_graph_layer_desc(g, i, &d);
        if (d.type == NN_LAYER_DENSE)
            p += dense_params(&d); /* the graph holds them: no overflow */
    }
    uint64_t total = HEADER_SIZE + MODEL_FIXED + (uint64_t)LAYER_SIZE * (uint64_t)nl + 4 * p;
    if (total > SIZE_MAX)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: a %llu-byte model does not fit in memory", fn,
                       (unsigned long long)total);
    uint8_t *buf = nn_mem_alloc((size_t)total);
    if (!buf)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: no memory for a %llu-byte model", fn,
                       (unsigned long long)total);

    uint8_t *q = buf + HEADER_SIZE;
    q = put64(q, (uint64_t)nn_graph_in_features(g));
    q = put32(q, (uint32_t)nl);
    q = put32(q, 0);
    for (int i = 0; i < nl; i++) {
        static const uint32_t act_codes[] = {[NN_ACT_RELU] = A_RELU,
                                             [NN_ACT_SIGMOID] = A_SIGMOID,
                                             [NN_ACT_TANH] = A_TANH,
                                             [NN_ACT_GELU] = A_GELU};
        uint32_t kind = 0, act = 0;
        uint64_t units = 0;
        float alpha = 0.0f, rate = 0.0f;
        nn_graph_layer_desc(g, i, &d);
        switch (d.type) {
        case NN_LAYER_DENSE: kind = K_DENSE; units = (uint64_t)d.out; break;
        case NN_LAYER_ACTIVATION: kind = K_ACTIVATION; act = act_codes[d.act]; break;
        case NN_LAYER_LEAKY_RELU:
            kind = K_ACTIVATION;
            act = A_LEAKY_RELU;
            alpha = d.alpha;
            break;
        case NN_LAYER_DROPOUT: kind = K_DROPOUT; rate = d.rate; break;
        case NN_LAYER_SOFTMAX_CE: kind = K_SOFTMAX_CE; break;
        case NN_LAYER_MSE: kind = K_MSE; break;
        }
        q = put32(q, kind);
        q = put32(q, act);
        q = put64(q, units);
        q = putf(q, alpha);
        q = putf(q, rate);
    }
    uint64_t rng[4];
    nn_graph_rng_get(g, rng);
    for (int i = 0; i < 4; i++)
        q = put64(q, rng[i]);
    q = put64(q, p);
    for (int i = 0; i < nl; i++) {
        nn_graph_layer_desc(g, i, &d);
        if (d.type != NN_LAYER_DENSE)
            continue;
        q = put_floats(q, d.w, d.out * d.in);
        q = put_floats(q, d.b, d.out);
    }
    put_header(buf, model_magic, (size_t)total);
    *out = buf;
    *size = (size_t)total;
    return NN_OK;
}

/* One validated layer record. */
struct rec {
    uint32_t kind, act;
    uint64_t units;
    float alpha, rate;
};

/* Checks layer i's record against the format's rules; *width is the
 * running row width, *params the running parameter count, capped at max. */
static nn_status check_layer(const struct src *s, uint32_t i, const uint8_t *p, struct rec *r,
                             uint64_t *width, uint64_t *params, uint64_t max)
{
    r->kind = get32(p);
    r->act = get32(p + 4);
    r->units = get64(p + 8);
    uint32_t alpha = get32(p + 16), rate = get32(p + 20);
    r->alpha = bitsf(alpha);
    r->rate = bitsf(rate);
    if (r->kind < K_DENSE || r->kind > K_MSE)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: layer %lu: unknown layer kind %lu", s->fn,
                       s->name, (unsigned long)i, (unsigned long)r->kind);
    const char *unused = NULL;
    if (r->act != 0 && r->kind != K_ACTIVATION)
        unused = "activation kind";
    else if (r->units != 0 && r->kind != K_DENSE)
        unused = "units";
    else if (alpha != 0 && !(r->kind == K_ACTIVATION && r->act == A_LEAKY_RELU))
        unused = "alpha";
    else if (rate != 0 && r->kind != K_DROPOUT)
        unused = "rate";
    if (unused)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: layer %lu (%s): the %s field must be zero",
                       s->fn, s->name, (unsigned long)i, kind_names[r->kind], unused);
    switch (r->kind) {
    case K_DENSE: {
        if (r->units < 1 || r->units > MAX_FEATURES)
            return nn_fail(NN_ERR_FORMAT, "%s: %s: layer %lu: dense units is %llu, must be 1..2^31",
                           s->fn, s->name, (unsigned long)i, (unsigned long long)r->units);
        uint64_t n = r->units * (*width + 1); /* both <= 2^31: no overflow */
        if (n > max - *params)
            return nn_fail(NN_ERR_FORMAT,
                           "%s: %s: layer %lu: dense %llu x %llu needs %llu parameters, the "
                           "file has room for %llu more",
                           s->fn, s->name, (unsigned long)i, (unsigned long long)r->units,
                           (unsigned long long)*width, (unsigned long long)n,
                           (unsigned long long)(max - *params));
        *params += n;
        *width = r->units;
        break;
    }
    case K_ACTIVATION:
        if (r->act < A_RELU || r->act > A_GELU)
            return nn_fail(NN_ERR_FORMAT, "%s: %s: layer %lu: unknown activation kind %lu",
                           s->fn, s->name, (unsigned long)i, (unsigned long)r->act);
        /* A zero slope is the ReLU, which has its own code: one encoding. */
        if (r->act == A_LEAKY_RELU && !(isfinite(r->alpha) && r->alpha > 0.0f))
            return nn_fail(NN_ERR_FORMAT,
                           "%s: %s: layer %lu: leaky ReLU alpha is %g, must be finite and > 0",
                           s->fn, s->name, (unsigned long)i, (double)r->alpha);
        break;
    case K_DROPOUT:
        if (!(r->rate >= 0.0f && r->rate < 1.0f))
            return nn_fail(NN_ERR_FORMAT, "%s: %s: layer %lu: dropout rate is %g, must be in [0, 1)",
                           s->fn, s->name, (unsigned long)i, (double)r->rate);
        break;
    default:
        break;
    }
    return NN_OK;
}

/* Adds the validated layer r to g through the public calls, which check it
 * again. */
static nn_status add_layer(nn_graph *g, const struct rec *r)
{
    static const nn_activation acts[] = {[A_RELU] = NN_ACT_RELU, [A_SIGMOID] = NN_ACT_SIGMOID,
                                         [A_TANH] = NN_ACT_TANH, [A_GELU] = NN_ACT_GELU};
    switch (r->kind) {
    case K_DENSE: return nn_graph_add_dense(g, (int64_t)r->units);
    case K_ACTIVATION:
        return r->act == A_LEAKY_RELU ? nn_graph_add_leaky_relu(g, r->alpha)
                                      : nn_graph_add_activation(g, acts[r->act]);
    case K_DROPOUT: return nn_graph_add_dropout(g, r->rate);
    case K_SOFTMAX_CE: return nn_graph_add_softmax_cross_entropy(g);
    default: return nn_graph_add_mse_loss(g);
    }
}

/* A public builder refused what the checks let through: out of memory and
 * backend failures keep their status, anything else is the file's fault. */
static nn_status rebuild_failed(const struct src *s, nn_status st, const char *what)
{
    char detail[256];
    snprintf(detail, sizeof detail, "%s", nn_last_error());
    return nn_fail(st == NN_ERR_OUT_OF_MEMORY || st == NN_ERR_BACKEND ? st : NN_ERR_FORMAT,
                   "%s: %s: %s: %s", s->fn, s->name, what, detail);
}

static nn_status model_parse(const struct src *s, const uint8_t *buf, size_t size,
                             nn_graph **out)
{
    const uint8_t *p;
    size_t len;
    nn_status st = check_header(s, buf, size, 1, &p, &len);
    if (st != NN_OK)
        return st;
    if (len < MODEL_FIXED)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: the body has %zu bytes, a model needs at least %d",
                       s->fn, s->name, len, MODEL_FIXED);
    uint64_t in = get64(p);
    uint32_t nl = get32(p + 8), reserved = get32(p + 12);
    if (in < 1 || in > MAX_FEATURES)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: in_features is %llu, must be 1..2^31", s->fn,
                       s->name, (unsigned long long)in);
    if (nl > MAX_LAYERS)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: %lu layers, the limit is %d", s->fn, s->name,
                       (unsigned long)nl, MAX_LAYERS);
    if (reserved != 0)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: reserved field is 0x%08lx, must be 0", s->fn,
                       s->name, (unsigned long)reserved);
    size_t room = len - MODEL_FIXED; /* bytes for layers and parameters */
    if ((uint64_t)nl * LAYER_SIZE > room)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: %lu layers need %llu bytes, the body has %zu",
                       s->fn, s->name, (unsigned long)nl,
                       (unsigned long long)((uint64_t)nl * LAYER_SIZE + MODEL_FIXED), len);
    room -= (size_t)nl * LAYER_SIZE;

    struct rec recs[MAX_LAYERS];
    uint64_t width = in, params = 0;
    for (uint32_t i = 0; i < nl; i++) {
        if (i > 0 && (recs[i - 1].kind == K_SOFTMAX_CE || recs[i - 1].kind == K_MSE))
            return nn_fail(NN_ERR_FORMAT, "%s: %s: layer %lu follows the %s head, which must be last",
                           s->fn, s->name, (unsigned long)i, kind_names[recs[i - 1].kind]);
        st = check_layer(s, i, p + 16 + (size_t)LAYER_SIZE * i, &recs[i], &width, &params,
                         room / 4);
        if (st != NN_OK)
            return st;
    }
    const uint8_t *q = p + 16 + (size_t)LAYER_SIZE * nl;
    uint64_t rng[4];
    for (int i = 0; i < 4; i++)
        rng[i] = get64(q + 8 * i);
    if ((rng[0] | rng[1] | rng[2] | rng[3]) == 0)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: the generator state is all zero", s->fn, s->name);
    uint64_t stored = get64(q + 32);
    if (stored != params)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: parameter count is %llu, the layers have %llu",
                       s->fn, s->name, (unsigned long long)stored, (unsigned long long)params);
    if (4 * params != room)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: %llu parameters need %llu bytes, the body has %zu for them",
                       s->fn, s->name, (unsigned long long)params,
                       (unsigned long long)(4 * params), room);
    q += 40;

    /* Every size is now known to match the bytes present. */
    nn_graph *g = NULL;
    st = nn_graph_create(&g, (int64_t)in);
    if (st != NN_OK)
        return rebuild_failed(s, st, "creating the graph");
    for (uint32_t i = 0; i < nl; i++) {
        st = add_layer(g, &recs[i]);
        if (st != NN_OK) {
            char what[32];
            snprintf(what, sizeof what, "layer %lu", (unsigned long)i);
            st = rebuild_failed(s, st, what);
            nn_graph_destroy(g);
            return st;
        }
    }
    for (int i = 0, n = nn_graph_param_count(g); i < n; i++) {
        nn_tensor *t = NULL;
        nn_graph_param(g, i, &t, NULL);
        q = get_floats(nn_graph_param_values(g, i), q, nn_tensor_numel(t));
    }
    nn_graph_values_changed(g);
    nn_graph_rng_set(g, rng);
    *out = g;
    return NN_OK;
}

nn_status nn_graph_save_buffer(const nn_graph *g, void **buf, size_t *size)
{
    if (!g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_save_buffer: g is NULL");
    if (!buf)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_save_buffer: buf is NULL");
    if (!size)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_save_buffer: size is NULL");
    uint8_t *b = NULL;
    size_t n = 0;
    nn_status s = model_build(__func__, g, &b, &n);
    if (s != NN_OK)
        return s;
    *buf = b;
    *size = n;
    return NN_OK;
}

nn_status nn_graph_load_buffer(nn_graph **out, const void *buf, size_t size)
{
    if (!out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_load_buffer: out is NULL");
    if (!buf)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_load_buffer: buf is NULL");
    struct src s = {__func__, "buffer"};
    return model_parse(&s, buf, size, out);
}

nn_status nn_graph_save(const nn_graph *g, const char *path)
{
    if (!g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_save: g is NULL");
    if (!path)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_save: path is NULL");
    uint8_t *b = NULL;
    size_t n = 0;
    nn_status s = model_build(__func__, g, &b, &n);
    if (s != NN_OK)
        return s;
    s = write_file(__func__, path, b, n);
    nn_mem_free(b);
    return s;
}

nn_status nn_graph_load(nn_graph **out, const char *path)
{
    if (!out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_load: out is NULL");
    if (!path)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_load: path is NULL");
    uint8_t *b = NULL;
    size_t n = 0;
    nn_status s = read_file(__func__, path, &b, &n);
    if (s != NN_OK)
        return s;
    struct src src = {__func__, path};
    s = model_parse(&src, b, n, out);
    nn_mem_free(b);
    return s;
}

void nn_free(void *p)
{
    nn_mem_free(p);
}

/* ---- optimizers ---- */

/* The optimizer's graph, checked to still match it. */
static nn_status optim_graph(const char *fn, const nn_optimizer *o, nn_graph **g)
{
    if (!o->graph)
        return nn_fail(NN_ERR_STATE, "%s: the optimizer's graph was destroyed", fn);
    int64_t n = nn_graph_numel(o->graph);
    if (n != o->n)
        return nn_fail(NN_ERR_STATE,
                       "%s: the graph has %lld parameters, the optimizer was made for %lld "
                       "(layers added after it was created)",
                       fn, (long long)n, (long long)o->n);
    *g = o->graph;
    return NN_OK;
}

/* Where parameter tensor i of g starts in its values array, and its size. */
static void param_span(nn_graph *g, int i, int64_t *off, int64_t *numel)
{
    nn_tensor *t = NULL;
    nn_graph_param(g, i, &t, NULL);
    *off = nn_graph_param_values(g, i) - nn_graph_values(g);
    *numel = nn_tensor_numel(t);
}

static nn_status optim_build(const char *fn, const nn_optimizer *o, uint8_t **out,
                             size_t *size)
{
    nn_graph *g = NULL;
    nn_status st = optim_graph(fn, o, &g);
    if (st != NN_OK)
        return st;
    int nt = nn_graph_param_count(g);
    if (nt > MAX_TENSORS)
        return nn_fail(NN_ERR_UNSUPPORTED, "%s: the graph has %d parameter tensors, optimizer "
                       "files hold %d", fn, nt, MAX_TENSORS);
    /* Read-only access to the state; the accessor is not const. */
    nn_optimizer *om = (nn_optimizer *)o;
    int slots = nn_optim_state_slots(o);
    uint64_t p = 0;
    int64_t off, numel;
    for (int i = 0; i < nt; i++) {
        param_span(g, i, &off, &numel);
        p += (uint64_t)numel;
    }
    uint64_t total = HEADER_SIZE + OPTIM_FIXED + 8 * (uint64_t)nt + 4 * (uint64_t)slots * p;
    if (total > SIZE_MAX)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: a %llu-byte file does not fit in memory", fn,
                       (unsigned long long)total);
    uint8_t *buf = nn_mem_alloc((size_t)total);
    if (!buf)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: no memory for a %llu-byte file", fn,
                       (unsigned long long)total);
    uint8_t *q = buf + HEADER_SIZE;
    q = put32(q, o->kind == NN_OPTIM_SGD ? O_SGD : o->kind == NN_OPTIM_ADAM ? O_ADAM : O_ADAMW);
    q = put32(q, o->nesterov ? 1 : 0);
    q = putf(q, o->lr);
    q = putf(q, o->weight_decay);
    q = putf(q, o->clip_norm);
    q = putf(q, o->momentum);
    q = putf(q, o->beta1);
    q = putf(q, o->beta2);
    q = putf(q, o->eps);
    q = put32(q, 0);
    q = put64(q, (uint64_t)o->step);
    q = put32(q, (uint32_t)nt);
    q = put32(q, 0);
    for (int i = 0; i < nt; i++) {
        param_span(g, i, &off, &numel);
        q = put64(q, (uint64_t)numel);
    }
    for (int k = 0; k < slots; k++) {
        const float *state = nn_optim_state(om, k);
        for (int i = 0; i < nt; i++) {
            param_span(g, i, &off, &numel);
            q = put_floats(q, state + off, numel);
        }
    }
    put_header(buf, optim_magic, (size_t)total);
    *out = buf;
    *size = (size_t)total;
    return NN_OK;
}

static int bad_rate(float x)
{
    return !isfinite(x) || x < 0.0f;
}

static nn_status optim_parse(const struct src *s, const uint8_t *buf, size_t size,
                             nn_optimizer *o)
{
    const uint8_t *p;
    size_t len;
    nn_status st = check_header(s, buf, size, 0, &p, &len);
    if (st != NN_OK)
        return st;
    if (len < OPTIM_FIXED)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: the body has %zu bytes, an optimizer needs at least %d", s->fn,
                       s->name, len, OPTIM_FIXED);
    uint32_t kind = get32(p), flags = get32(p + 4);
    float lr = bitsf(get32(p + 8)), wd = bitsf(get32(p + 12)), clip = bitsf(get32(p + 16));
    float momentum = bitsf(get32(p + 20)), beta1 = bitsf(get32(p + 24));
    float beta2 = bitsf(get32(p + 28)), eps = bitsf(get32(p + 32));
    uint32_t reserved = get32(p + 36) | get32(p + 52);
    uint64_t step = get64(p + 40);
    uint32_t nt = get32(p + 48);
    static const char *const names[] = {"", "SGD", "Adam", "AdamW"};
    const char *bad = NULL;
    if (kind < O_SGD || kind > O_ADAMW)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: unknown optimizer kind %lu", s->fn, s->name,
                       (unsigned long)kind);
    if (flags & ~UINT32_C(1))
        bad = "flags has unknown bits";
    else if (reserved != 0)
        bad = "a reserved field is not 0";
    else if (bad_rate(lr))
        bad = "learning rate is not finite and >= 0";
    else if (bad_rate(wd))
        bad = "weight decay is not finite and >= 0";
    else if (bad_rate(clip))
        bad = "clip norm is not finite and >= 0";
    else if (!(momentum >= 0.0f && momentum < 1.0f))
        bad = "momentum is not in [0, 1)";
    else if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
        bad = "a beta is not in [0, 1)";
    else if (!isfinite(eps) || !(eps > 0.0f))
        bad = "epsilon is not finite and > 0";
    else if (step > (uint64_t)INT64_MAX)
        bad = "step count is above 2^63 - 1";
    else if (nt > MAX_TENSORS)
        bad = "more than 2048 parameter tensors";
    if (bad)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: %s", s->fn, s->name, bad);
    size_t room = len - OPTIM_FIXED;
    if ((uint64_t)nt * 8 > room)
        return nn_fail(NN_ERR_FORMAT, "%s: %s: %lu tensor sizes need %llu bytes, the body has %zu",
                       s->fn, s->name, (unsigned long)nt,
                       (unsigned long long)((uint64_t)nt * 8 + OPTIM_FIXED), len);
    room -= (size_t)nt * 8;
    const uint8_t *sizes = p + OPTIM_FIXED;
    int slots = kind == O_SGD ? 1 : 2;
    uint64_t max = room / 4 / (uint64_t)slots, total = 0;
    for (uint32_t i = 0; i < nt; i++) {
        uint64_t n = get64(sizes + 8 * i);
        if (n > max - total)
            return nn_fail(NN_ERR_FORMAT,
                           "%s: %s: tensor %lu has %llu elements, more than the file can hold",
                           s->fn, s->name, (unsigned long)i, (unsigned long long)n);
        total += n;
    }
    if (4 * (uint64_t)slots * total != room)
        return nn_fail(NN_ERR_FORMAT,
                       "%s: %s: %s state for %llu parameters needs %llu bytes, the body has %zu "
                       "for it",
                       s->fn, s->name, names[kind], (unsigned long long)total,
                       (unsigned long long)(4 * (uint64_t)slots * total), room);

    /* The file is sound; does it fit this optimizer? */
    nn_graph *g = NULL;
    st = optim_graph(s->fn, o, &g);
    if (st != NN_OK)
        return st;
    int mine = o->kind == NN_OPTIM_SGD ? O_SGD : o->kind == NN_OPTIM_ADAM ? O_ADAM : O_ADAMW;
    if ((int)kind != mine)
        return nn_fail(NN_ERR_STATE, "%s: %s: the file holds %s state, this optimizer is %s",
                       s->fn, s->name, names[kind], names[mine]);
    int nt_graph = nn_graph_param_count(g);
    if ((int64_t)nt != nt_graph)
        return nn_fail(NN_ERR_SHAPE, "%s: %s: the file has %lu parameter tensors, the graph %d",
                       s->fn, s->name, (unsigned long)nt, nt_graph);
    int64_t off, numel;
    for (uint32_t i = 0; i < nt; i++) {
        param_span(g, (int)i, &off, &numel);
        uint64_t n = get64(sizes + 8 * i);
        if (n != (uint64_t)numel)
            return nn_fail(NN_ERR_SHAPE,
                           "%s: %s: parameter %lu has %llu elements in the file, %lld in the graph",
                           s->fn, s->name, (unsigned long)i, (unsigned long long)n,
                           (long long)numel);
    }

    /* Commit: nothing below can fail. */
    o->lr = lr;
    o->weight_decay = wd;
    o->clip_norm = clip;
    o->momentum = momentum;
    o->nesterov = (int)(flags & 1);
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->step = (int64_t)step;
    const uint8_t *q = sizes + 8 * (size_t)nt;
    for (int k = 0; k < slots; k++) {
        float *state = nn_optim_state(o, k);
        memset(state, 0, (size_t)o->n * sizeof *state); /* the alignment padding */
        for (uint32_t i = 0; i < nt; i++) {
            param_span(g, (int)i, &off, &numel);
            q = get_floats(state + off, q, numel);
        }
    }
    return NN_OK;
}

nn_status nn_optimizer_save(const nn_optimizer *o, const char *path)
{
    if (!o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_optimizer_save: o is NULL");
    if (!path)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_optimizer_save: path is NULL");
    uint8_t *b = NULL;
    size_t n = 0;
    nn_status s = optim_build(__func__, o, &b, &n);
    if (s != NN_OK)
        return s;
    s = write_file(__func__, path, b, n);
    nn_mem_free(b);
    return s;
}

nn_status nn_optimizer_load(nn_optimizer *o, const char *path)
{
    if (!o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_optimizer_load: o is NULL");
    if (!path)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_optimizer_load: path is NULL");
    uint8_t *b = NULL;
    size_t n = 0;
    nn_status s = read_file(__func__, path, &b, &n);
    if (s != NN_OK)
        return s;
    struct src src = {__func__, path};
    s = optim_parse(&src, b, n, o);
    nn_mem_free(b);
    return s;
}
