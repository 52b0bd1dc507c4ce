/* libFuzzer target: the IDX reader on arbitrary bytes. Each input is parsed
 * as images and as labels, from a buffer (nn_idx_images_from_buffer,
 * nn_idx_labels_from_buffer) and from a file (nn_idx_load_images,
 * nn_idx_load_labels, through an in-memory file, so that gzip'd inputs
 * exercise the inflating reader). It must never crash, leak or read out of
 * bounds; anything but NN_OK and NN_ERR_FORMAT is a failure; and what is
 * accepted must hold exactly the bytes of the input, scaled for images.
 * Build and run with tests/fuzz/run.sh idx. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nn/nn.h>
#include <nn/idx.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void check_status(nn_status s)
{
    if (s != NN_OK && s != NN_ERR_FORMAT) {
        fprintf(stderr, "fuzz_idx_load: status %d: %s\n", s, nn_last_error());
        abort();
    }
}

/* A tensor accepted from raw bytes b: [N, rows * cols], each byte / 255. */
static void check_images(nn_tensor *t, const uint8_t *b, size_t size)
{
    if (size < 16 || b[0] || b[1] || b[2] != 0x08 || b[3] != 3)
        abort();
    uint64_t n = be32(b + 4), rc = (uint64_t)be32(b + 8) * be32(b + 12);
    if (nn_tensor_ndim(t) != 2 || (uint64_t)nn_tensor_dim(t, 0) != n ||
        (uint64_t)nn_tensor_dim(t, 1) != rc || (uint64_t)nn_tensor_numel(t) != size - 16)
        abort();
    const float *x = nn_tensor_data(t);
    for (size_t i = 0; i < size - 16; i++)
        if (x[i] != (float)b[16 + i] * (1.0f / 255.0f))
            abort();
}

static void check_labels(const int32_t *l, int64_t count, const uint8_t *b, size_t size)
{
    if (size < 8 || b[0] || b[1] || b[2] != 0x08 || b[3] != 1 || be32(b + 4) != count ||
        (uint64_t)count != size - 8)
        abort();
    for (int64_t i = 0; i < count; i++)
        if (l[i] != b[8 + i])
            abort();
}

/* The input as a file: an anonymous in-memory one, named through /proc. */
static void from_file(const uint8_t *data, size_t size, nn_tensor **t, nn_status *si,
                      int32_t **l, int64_t *count, nn_status *sl)
{
    int fd = memfd_create("fuzz_idx", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    *si = nn_idx_load_images(t, path);
    *sl = nn_idx_load_labels(l, count, path);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libFuzzer may pass NULL for the empty input. */
    const uint8_t *buf = size ? data : (const uint8_t *)"";
    nn_tensor *t = NULL;
    nn_status s = nn_idx_images_from_buffer(&t, buf, size, "fuzz");
    check_status(s);
    if (s == NN_OK) {
        check_images(t, buf, size);
        nn_tensor_destroy(t);
    } else if (t != NULL) {
        abort(); /* out-parameter written on failure */
    }
    int32_t *l = NULL;
    int64_t count = -1;
    s = nn_idx_labels_from_buffer(&l, &count, buf, size, "fuzz");
    check_status(s);
    if (s == NN_OK) {
        check_labels(l, count, buf, size);
        nn_idx_free_labels(l);
    } else if (l != NULL || count != -1) {
        abort();
    }

    /* Files: raw ones must give what the buffer gave; gzip'd ones inflate. */
    nn_tensor *ft = NULL;
    int32_t *fl = NULL;
    int64_t fcount = -1;
    nn_status si, sl;
    from_file(buf, size, &ft, &si, &fl, &fcount, &sl);
    check_status(si);
    check_status(sl);
    int gzipped = size >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
    if (!gzipped) {
        nn_tensor *bt = NULL;
        if ((si == NN_OK) != (nn_idx_images_from_buffer(&bt, buf, size, NULL) == NN_OK))
            abort();
        nn_tensor_destroy(bt);
        if (si == NN_OK)
            check_images(ft, buf, size);
        if (sl == NN_OK)
            check_labels(fl, fcount, buf, size);
    } else if (si == NN_OK && nn_tensor_numel(ft) > 0) {
        const float *x = nn_tensor_data(ft);
        for (int64_t i = 0; i < nn_tensor_numel(ft); i++)
            if (!(x[i] >= 0.0f && x[i] <= 1.0f))
                abort();
    }
    nn_tensor_destroy(ft);
    nn_idx_free_labels(fl);
    return 0;
}
