/* IDX reader: round trips through raw and gzip'd files and buffers, every
 * kind of corruption, bad arguments, allocation failures, and the real
 * Fashion-MNIST files when they are installed. Internal: uses core.h's
 * allocation hook. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <nn/nn.h>
#include <nn/idx.h>
#include "core/core.h"
#include "test_main.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist/"

static char tmpdir[256];
static nn_tensor *const UNTOUCHED_T = (nn_tensor *)0x1;
static int32_t *const UNTOUCHED_L = (int32_t *)0x1;

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s", "/tmp/nn_test_idx_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
}

/* Builds an IDX file image in out: magic {0, 0, type, rank}, dims, data.
 * Returns its size. */
static size_t make_idx(uint8_t *out, uint8_t type, int rank, const uint32_t *dims,
                       const uint8_t *data, size_t n)
{
    size_t k = 0;
    out[k++] = 0;
    out[k++] = 0;
    out[k++] = type;
    out[k++] = (uint8_t)rank;
    for (int i = 0; i < rank; i++) {
        out[k++] = (uint8_t)(dims[i] >> 24);
        out[k++] = (uint8_t)(dims[i] >> 16);
        out[k++] = (uint8_t)(dims[i] >> 8);
        out[k++] = (uint8_t)dims[i];
    }
    if (n)
        memcpy(out + k, data, n);
    return k + n;
}

/* Writes n bytes to tmpdir/name, raw or gzip'd; returns the path (static). */
static const char *write_file(const char *name, const uint8_t *bytes, size_t n, int gz)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        ck_assert_ptr_nonnull(f);
        if (n)
            ck_assert_int_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        ck_assert_ptr_nonnull(f);
        if (n)
            ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
    }
    return p;
}

/* A 2 x 2 x 3 images file with 0, 51 and 255 among its pixels. */
static const uint8_t pix[12] = {0, 51, 255, 1, 2, 3, 128, 254, 51, 0, 255, 17};
static size_t small_images(uint8_t *out)
{
    return make_idx(out, 0x08, 3, (const uint32_t[]){2, 2, 3}, pix, sizeof pix);
}

static const uint8_t lab[5] = {3, 0, 9, 255, 7};
static size_t small_labels(uint8_t *out)
{
    return make_idx(out, 0x08, 1, (const uint32_t[]){5}, lab, sizeof lab);
}

static void check_small_images(nn_tensor *t)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(nn_tensor_ndim(t), 2);
    ck_assert_int_eq(nn_tensor_dim(t, 0), 2);
    ck_assert_int_eq(nn_tensor_dim(t, 1), 6);
    const float *d = nn_tensor_data(t);
    ck_assert_float_eq(d[0], 0.0f);
    ck_assert_float_eq_tol(d[1], 0.2f, 1e-7f);
    ck_assert_float_eq(d[2], 1.0f);
    for (int i = 0; i < 12; i++)
        ck_assert_float_eq_tol(d[i], (float)pix[i] / 255.0f, 1e-7f);
}

static void check_small_labels(const int32_t *l, int64_t n)
{
    ck_assert_int_eq(n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(l[i], lab[i]);
}

static int contains(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}
/* The same message for a buffer says "buffer has" where a file's says "file has". */
static const char *as_buffer(const char *msg)
{
    static char out[256];
    const char *f = strstr(msg, "file has");
    if (!f)
        return msg;
    snprintf(out, sizeof out, "%.*sbuffer has%s", (int)(f - msg), msg, f + strlen("file has"));
    return out;
}
#define ck_assert_error_has(sub)                                                          \
    ck_assert_msg(contains(nn_last_error(), (sub)), "last error \"%s\" lacks \"%s\"",     \
                  nn_last_error(), (sub))

START_TEST(images_round_trip_raw_and_gz)
{
    uint8_t f[64];
    size_t n = small_images(f);
    for (int gz = 0; gz < 2; gz++) {
        nn_tensor *t = NULL;
        const char *p = write_file(gz ? "img.gz" : "img", f, n, gz);
        ck_assert_int_eq(nn_idx_load_images(&t, p), NN_OK);
        check_small_images(t);
        nn_tensor_destroy(t);
    }
}
END_TEST

START_TEST(every_byte_value_scales)
{
    uint8_t data[256], f[16 + 256];
    for (int i = 0; i < 256; i++)
        data[i] = (uint8_t)i;
    size_t n = make_idx(f, 0x08, 3, (const uint32_t[]){4, 8, 8}, data, 256);
    nn_tensor *t = NULL;
    ck_assert_int_eq(nn_idx_images_from_buffer(&t, f, n, "bytes"), NN_OK);
    ck_assert_int_eq(nn_tensor_dim(t, 0), 4);
    ck_assert_int_eq(nn_tensor_dim(t, 1), 64);
    for (int i = 0; i < 256; i++) {
        float v = nn_tensor_data(t)[i];
        ck_assert_float_eq_tol(v, (float)i / 255.0f, 1e-7f);
        ck_assert(v >= 0.0f && v <= 1.0f);
    }
    ck_assert_float_eq(nn_tensor_data(t)[255], 1.0f);
    nn_tensor_destroy(t);
}
END_TEST

START_TEST(larger_gz_matches_raw)
{
    /* 100 images of 28 x 28: more than zlib's first read, less than a page. */
    enum { N = 100, PIX = N * 28 * 28 };
    static uint8_t data[PIX], f[16 + PIX];
    uint32_t x = 12345;
    for (int i = 0; i < PIX; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    size_t n = make_idx(f, 0x08, 3, (const uint32_t[]){N, 28, 28}, data, PIX);
    nn_tensor *a = NULL, *b = NULL;
    ck_assert_int_eq(nn_idx_load_images(&a, write_file("big", f, n, 0)), NN_OK);
    ck_assert_int_eq(nn_idx_load_images(&b, write_file("big.gz", f, n, 1)), NN_OK);
    ck_assert_int_eq(nn_tensor_dim(a, 0), N);
    ck_assert_int_eq(nn_tensor_dim(a, 1), 784);
    ck_assert_int_eq(nn_tensor_dim(b, 0), N);
    ck_assert_int_eq(nn_tensor_dim(b, 1), 784);
    ck_assert_mem_eq(nn_tensor_data(a), nn_tensor_data(b), PIX * sizeof(float));
    for (int i = 0; i < PIX; i += 97)
        ck_assert_float_eq_tol(nn_tensor_data(b)[i], (float)data[i] / 255.0f, 1e-7f);
    nn_tensor_destroy(a);
    nn_tensor_destroy(b);
}
END_TEST

START_TEST(labels_round_trip_raw_and_gz)
{
    uint8_t f[32];
    size_t n = small_labels(f);
    for (int gz = 0; gz < 2; gz++) {
        int32_t *l = NULL;
        int64_t count = -1;
        const char *p = write_file(gz ? "lab.gz" : "lab", f, n, gz);
        ck_assert_int_eq(nn_idx_load_labels(&l, &count, p), NN_OK);
        check_small_labels(l, count);
        nn_idx_free_labels(l);
    }
    nn_idx_free_labels(NULL);
}
END_TEST

START_TEST(buffers_round_trip)
{
    uint8_t fi[64], fl[32];
    size_t ni = small_images(fi), nl = small_labels(fl);
    nn_tensor *t = NULL;
    ck_assert_int_eq(nn_idx_images_from_buffer(&t, fi, ni, NULL), NN_OK);
    check_small_images(t);
    nn_tensor_destroy(t);
    int32_t *l = NULL;
    int64_t count = 0;
    ck_assert_int_eq(nn_idx_labels_from_buffer(&l, &count, fl, nl, "mine"), NN_OK);
    check_small_labels(l, count);
    nn_idx_free_labels(l);
}
END_TEST

START_TEST(pair_loads)
{
    uint8_t data[5 * 4], fi[16 + sizeof data], fl[32];
    for (int i = 0; i < (int)sizeof data; i++)
        data[i] = (uint8_t)(i * 13);
    size_t ni = make_idx(fi, 0x08, 3, (const uint32_t[]){5, 2, 2}, data, sizeof data);
    size_t nl = small_labels(fl);
    const char *pi = write_file("pi.gz", fi, ni, 1);
    const char *pl = write_file("pl", fl, nl, 0);
    nn_tensor *t = NULL;
    int32_t *l = NULL;
    int64_t count = 0;
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, pi, pl), NN_OK);
    ck_assert_int_eq(count, 5);
    ck_assert_int_eq(nn_tensor_dim(t, 0), 5);
    ck_assert_int_eq(nn_tensor_dim(t, 1), 4);
    ck_assert_float_eq_tol(nn_tensor_data(t)[19], (float)(19 * 13) / 255.0f, 1e-7f);
    check_small_labels(l, count);
    nn_tensor_destroy(t);
    nn_idx_free_labels(l);
}
END_TEST

START_TEST(pair_count_mismatch)
{
    uint8_t fi[64], fl[32];
    size_t ni = small_images(fi), nl = small_labels(fl); /* 2 images, 5 labels */
    const char *pi = write_file("mi.gz", fi, ni, 1);
    const char *pl = write_file("ml.gz", fl, nl, 1);
    nn_tensor *t = UNTOUCHED_T;
    int32_t *l = UNTOUCHED_L;
    int64_t count = -7;
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, pi, pl), NN_ERR_FORMAT);
    char want[1200];
    snprintf(want, sizeof want, "nn_idx_load_pair: %s has 2 images, %s has 5 labels", pi, pl);
    ck_assert_str_eq(nn_last_error(), want);
    ck_assert_ptr_eq(t, UNTOUCHED_T);
    ck_assert_ptr_eq(l, UNTOUCHED_L);
    ck_assert_int_eq(count, -7);
    /* a failure in either file: still nothing returned */
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, pi, "/nonexistent/l.gz"), NN_ERR_IO);
    ck_assert_error_has("nn_idx_load_pair: /nonexistent/l.gz: cannot open");
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, "/nonexistent/i.gz", pl), NN_ERR_IO);
    ck_assert_error_has("nn_idx_load_pair: /nonexistent/i.gz: cannot open");
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, pl, pl), NN_ERR_FORMAT);
    ck_assert_error_has("rank is 1, images need rank 3");
    ck_assert_ptr_eq(t, UNTOUCHED_T);
    ck_assert_ptr_eq(l, UNTOUCHED_L);
    ck_assert_int_eq(count, -7);
}
END_TEST

/* One corrupt file image and what must be said about it. */
struct corrupt {
    const char *what;
    uint8_t bytes[64];
    size_t n;
    const char *msg;
};

/* Runs one corrupt images file through the file (raw, gz) and buffer paths. */
static void expect_bad_images(const struct corrupt *c)
{
    nn_tensor *t = UNTOUCHED_T;
    for (int gz = 0; gz < 2; gz++) {
        const char *p = write_file(gz ? "bad.gz" : "bad", c->bytes, c->n, gz);
        ck_assert_msg(nn_idx_load_images(&t, p) == NN_ERR_FORMAT, "%s (gz %d)", c->what, gz);
        ck_assert_error_has(c->msg);
        ck_assert_error_has(p);
        ck_assert_error_has("nn_idx_load_images: ");
        ck_assert_ptr_eq(t, UNTOUCHED_T);
    }
    ck_assert_msg(nn_idx_images_from_buffer(&t, c->bytes, c->n, "buf.idx") == NN_ERR_FORMAT, "%s",
                  c->what);
    ck_assert_error_has(as_buffer(c->msg));
    ck_assert_error_has("nn_idx_images_from_buffer: buf.idx: ");
    ck_assert_ptr_eq(t, UNTOUCHED_T);
}

static void expect_bad_labels(const struct corrupt *c)
{
    int32_t *l = UNTOUCHED_L;
    int64_t count = -7;
    for (int gz = 0; gz < 2; gz++) {
        const char *p = write_file(gz ? "badl.gz" : "badl", c->bytes, c->n, gz);
        ck_assert_msg(nn_idx_load_labels(&l, &count, p) == NN_ERR_FORMAT, "%s (gz %d)", c->what,
                      gz);
        ck_assert_error_has(c->msg);
        ck_assert_error_has(p);
        ck_assert_error_has("nn_idx_load_labels: ");
        ck_assert_ptr_eq(l, UNTOUCHED_L);
        ck_assert_int_eq(count, -7);
    }
    ck_assert_msg(nn_idx_labels_from_buffer(&l, &count, c->bytes, c->n, NULL) == NN_ERR_FORMAT,
                  "%s", c->what);
    ck_assert_error_has(as_buffer(c->msg));
    ck_assert_error_has("nn_idx_labels_from_buffer: buffer: ");
    ck_assert_ptr_eq(l, UNTOUCHED_L);
    ck_assert_int_eq(count, -7);
}

START_TEST(corrupt_images)
{
    struct corrupt c;
    uint8_t good[64];
    size_t n = small_images(good); /* 16-byte header + 12 bytes */

    c = (struct corrupt){.what = "bad magic", .msg = "bad magic 0x01000803"};
    memcpy(c.bytes, good, n);
    c.n = n;
    c.bytes[0] = 1;
    expect_bad_images(&c);
    c.bytes[0] = 0;
    c.bytes[1] = 0x80;
    c.msg = "first two bytes must be zero";
    expect_bad_images(&c);

    c.what = "type code";
    c.bytes[1] = 0;
    c.bytes[2] = 0x0d;
    c.msg = "unsupported type code 0x0d";
    expect_bad_images(&c);

    c.what = "rank";
    c.bytes[2] = 0x08;
    c.bytes[3] = 2;
    c.msg = "rank is 2, images need rank 3";
    expect_bad_images(&c);

    c.what = "zero dim";
    c.n = make_idx(c.bytes, 0x08, 3, (const uint32_t[]){2, 0, 3}, pix, 0);
    c.msg = "dims[1] is 0, must be >= 1";
    expect_bad_images(&c);

    c.what = "truncated data";
    c.n = n - 1;
    memcpy(c.bytes, good, n);
    c.msg = "truncated: header promises 12 bytes of data, file has 11";
    expect_bad_images(&c);

    c.what = "truncated header";
    c.n = 10;
    c.msg = "truncated: header needs 16 bytes, file has 10";
    expect_bad_images(&c);

    c.what = "too short for magic";
    c.n = 3;
    c.msg = "truncated: file has 3 bytes, the magic needs 4";
    expect_bad_images(&c);

    c.what = "empty";
    c.n = 0;
    c.msg = "truncated: file has 0 bytes";
    expect_bad_images(&c);

    c.what = "trailing bytes";
    c.n = n + 3;
    c.msg = "3 trailing bytes: header promises 12 bytes of data, file has 15";
    expect_bad_images(&c);

    c.what = "huge dims";
    c.n = make_idx(c.bytes, 0x08, 3, (const uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu},
                   pix, 12);
    c.msg = "overflow";
    expect_bad_images(&c);

    c.what = "promises 4 GiB";
    c.n = make_idx(c.bytes, 0x08, 3, (const uint32_t[]){0xffffffffu, 1, 1}, pix, 12);
    c.msg = "truncated: header promises 4294967295 bytes of data, file has 12";
    expect_bad_images(&c);

    /* the buffer message says "buffer has", not "file has" */
    nn_tensor *t = UNTOUCHED_T;
    ck_assert_int_eq(nn_idx_images_from_buffer(&t, good, n - 2, NULL), NN_ERR_FORMAT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_images_from_buffer: buffer: truncated: header "
                                      "promises 12 bytes of data, buffer has 10");
    ck_assert_ptr_eq(t, UNTOUCHED_T);

    /* and a good file still loads after all that */
    ck_assert_int_eq(nn_idx_load_images(&t, write_file("good", good, n, 0)), NN_OK);
    check_small_images(t);
    nn_tensor_destroy(t);
}
END_TEST

START_TEST(corrupt_labels)
{
    struct corrupt c;
    uint8_t good[32];
    size_t n = small_labels(good); /* 8-byte header + 5 bytes */

    c = (struct corrupt){.what = "bad magic", .msg = "bad magic 0x00ff0801"};
    memcpy(c.bytes, good, n);
    c.n = n;
    c.bytes[1] = 0xff;
    expect_bad_labels(&c);

    c.what = "type code";
    c.bytes[1] = 0;
    c.bytes[2] = 0x0d;
    c.msg = "unsupported type code 0x0d";
    expect_bad_labels(&c);

    c.what = "rank";
    c.n = small_images(c.bytes);
    c.msg = "rank is 3, labels need rank 1";
    expect_bad_labels(&c);

    c.what = "zero dim";
    c.n = make_idx(c.bytes, 0x08, 1, (const uint32_t[]){0}, lab, 0);
    c.msg = "dims[0] is 0, must be >= 1";
    expect_bad_labels(&c);

    c.what = "truncated data";
    memcpy(c.bytes, good, n);
    c.n = n - 5;
    c.msg = "truncated: header promises 5 bytes of data, file has 0";
    expect_bad_labels(&c);

    c.what = "trailing bytes";
    c.n = n + 1;
    c.msg = "1 trailing bytes: header promises 5 bytes of data, file has 6";
    expect_bad_labels(&c);

    int32_t *l = NULL;
    int64_t count = 0;
    ck_assert_int_eq(nn_idx_labels_from_buffer(&l, &count, good, n, NULL), NN_OK);
    check_small_labels(l, count);
    nn_idx_free_labels(l);
}
END_TEST

START_TEST(corrupt_gzip_stream)
{
    uint8_t f[64];
    size_t n = small_images(f);
    const char *p = write_file("cut.gz", f, n, 1);
    /* cut the gzip stream short: it loses its trailer and part of its data */
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    uint8_t gzbytes[256];
    size_t gn = fread(gzbytes, 1, sizeof gzbytes, fp);
    fclose(fp);
    ck_assert_uint_gt(gn, 20);
    const char *q = write_file("cut2.gz", gzbytes, gn - 10, 0);
    nn_tensor *t = UNTOUCHED_T;
    ck_assert_int_eq(nn_idx_load_images(&t, q), NN_ERR_FORMAT);
    ck_assert_error_has(q);
    ck_assert_ptr_eq(t, UNTOUCHED_T);
    /* a damaged deflate stream: flip bytes inside it */
    for (size_t i = 12; i < gn - 8; i++)
        gzbytes[i] ^= 0x5a;
    q = write_file("flip.gz", gzbytes, gn, 0);
    ck_assert_int_eq(nn_idx_load_images(&t, q), NN_ERR_FORMAT);
    ck_assert_error_has(q);
    ck_assert_ptr_eq(t, UNTOUCHED_T);
}
END_TEST

START_TEST(unreadable_paths_are_io_errors)
{
    nn_tensor *t = UNTOUCHED_T;
    int32_t *l = UNTOUCHED_L;
    int64_t count = -7;
    char p[600];
    snprintf(p, sizeof p, "%s/does-not-exist.gz", tmpdir);
    char want[1200];
    snprintf(want, sizeof want, "nn_idx_load_images: %s: cannot open: %s", p, strerror(ENOENT));
    ck_assert_int_eq(nn_idx_load_images(&t, p), NN_ERR_IO);
    ck_assert_str_eq(nn_last_error(), want);
    ck_assert_int_eq(nn_idx_load_labels(&l, &count, p), NN_ERR_IO);
    ck_assert_error_has("nn_idx_load_labels: ");
    ck_assert_error_has(p);
    ck_assert_error_has(strerror(ENOENT));
    /* a directory opens but cannot be read */
    ck_assert_int_eq(nn_idx_load_images(&t, tmpdir), NN_ERR_IO);
    ck_assert_error_has(tmpdir);
    ck_assert_error_has(strerror(EISDIR));
    ck_assert_ptr_eq(t, UNTOUCHED_T);
    ck_assert_ptr_eq(l, UNTOUCHED_L);
    ck_assert_int_eq(count, -7);
}
END_TEST

START_TEST(null_arguments)
{
    uint8_t fi[64], fl[32];
    size_t ni = small_images(fi), nl = small_labels(fl);
    const char *pi = write_file("ni", fi, ni, 0);
    const char *pl = write_file("nl", fl, nl, 0);
    nn_tensor *t = UNTOUCHED_T;
    int32_t *l = UNTOUCHED_L;
    int64_t count = -7;

    ck_assert_int_eq(nn_idx_load_images(NULL, pi), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_images: out is NULL");
    ck_assert_int_eq(nn_idx_load_images(&t, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_images: path is NULL");

    ck_assert_int_eq(nn_idx_load_labels(NULL, &count, pl), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_labels: labels is NULL");
    ck_assert_int_eq(nn_idx_load_labels(&l, NULL, pl), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_labels: count is NULL");
    ck_assert_int_eq(nn_idx_load_labels(&l, &count, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_labels: path is NULL");

    ck_assert_int_eq(nn_idx_load_pair(NULL, &l, &count, pi, pl), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_pair: images is NULL");
    ck_assert_int_eq(nn_idx_load_pair(&t, NULL, &count, pi, pl), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_pair: labels is NULL");
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, NULL, pi, pl), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_pair: count is NULL");
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, NULL, pl), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_pair: images_path is NULL");
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, pi, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_load_pair: labels_path is NULL");

    ck_assert_int_eq(nn_idx_images_from_buffer(NULL, fi, ni, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_images_from_buffer: out is NULL");
    ck_assert_int_eq(nn_idx_images_from_buffer(&t, NULL, ni, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_images_from_buffer: buf is NULL");

    ck_assert_int_eq(nn_idx_labels_from_buffer(NULL, &count, fl, nl, NULL),
                     NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_labels_from_buffer: labels is NULL");
    ck_assert_int_eq(nn_idx_labels_from_buffer(&l, NULL, fl, nl, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_labels_from_buffer: count is NULL");
    ck_assert_int_eq(nn_idx_labels_from_buffer(&l, &count, NULL, nl, NULL),
                     NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_idx_labels_from_buffer: buf is NULL");

    ck_assert_ptr_eq(t, UNTOUCHED_T);
    ck_assert_ptr_eq(l, UNTOUCHED_L);
    ck_assert_int_eq(count, -7);

    /* everything still works afterwards */
    t = NULL;
    l = NULL;
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, pi, write_file("nl2", fl, 2 + 8, 0)),
                     NN_ERR_FORMAT); /* 2 labels: the header says 5 */
    ck_assert_int_eq(nn_idx_load_images(&t, pi), NN_OK);
    check_small_images(t);
    nn_tensor_destroy(t);
}
END_TEST

START_TEST(allocation_failures)
{
    /* Make each allocation of a pair load fail in turn: every failure is
     * NN_ERR_OUT_OF_MEMORY with nothing returned (valgrind sees no leak). */
    uint8_t data[5 * 4], fi[16 + sizeof data], fl[32];
    memset(data, 51, sizeof data);
    size_t ni = make_idx(fi, 0x08, 3, (const uint32_t[]){5, 2, 2}, data, sizeof data);
    size_t nl = small_labels(fl);
    const char *pi = write_file("ai.gz", fi, ni, 1);
    const char *pl = write_file("al", fl, nl, 0);
    int failures = 0;
    for (long k = 1;; k++) {
        nn_tensor *t = UNTOUCHED_T;
        int32_t *l = UNTOUCHED_L;
        int64_t count = -7;
        nn_mem_fail_at(k);
        nn_status s = nn_idx_load_pair(&t, &l, &count, pi, pl);
        long made = nn_mem_fail_at(0);
        if (s == NN_OK) {
            ck_assert_int_lt(made, k);
            ck_assert_int_eq(count, 5);
            ck_assert_float_eq_tol(nn_tensor_data(t)[7], 0.2f, 1e-7f);
            nn_tensor_destroy(t);
            nn_idx_free_labels(l);
            break;
        }
        ck_assert_int_eq(s, NN_ERR_OUT_OF_MEMORY);
        ck_assert_error_has("nn_idx_load_pair: ");
        ck_assert_ptr_eq(t, UNTOUCHED_T);
        ck_assert_ptr_eq(l, UNTOUCHED_L);
        ck_assert_int_eq(count, -7);
        failures++;
        ck_assert_int_lt(k, 100);
    }
    /* read buffer and labels; read buffer, tensor handle, tensor data */
    ck_assert_int_eq(failures, 5);

    for (long k = 1; k <= 2; k++) {
        nn_tensor *t = UNTOUCHED_T;
        nn_mem_fail_at(k);
        ck_assert_int_eq(nn_idx_images_from_buffer(&t, fi, ni, "x"), NN_ERR_OUT_OF_MEMORY);
        nn_mem_fail_at(0);
        ck_assert_error_has("nn_idx_images_from_buffer: x: no memory for a [5, 4] tensor");
        ck_assert_ptr_eq(t, UNTOUCHED_T);
    }
}
END_TEST

static int have_fmnist(const char *file)
{
    char p[256];
    snprintf(p, sizeof p, FMNIST_DIR "%s", file);
    if (access(p, R_OK) == 0)
        return 1;
    printf("test_idx: %s absent, real-data check skipped\n", p);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

START_TEST(real_fashion_mnist_t10k)
{
    if (!have_fmnist("t10k-labels-idx1-ubyte.gz") || !have_fmnist("t10k-images-idx3-ubyte.gz"))
        return;
    nn_tensor *t = NULL;
    int32_t *l = NULL;
    int64_t count = 0;
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, FMNIST_DIR "t10k-images-idx3-ubyte.gz",
                                      FMNIST_DIR "t10k-labels-idx1-ubyte.gz"),
                     NN_OK);
    ck_assert_int_eq(count, 10000);
    ck_assert_int_eq(nn_tensor_ndim(t), 2);
    ck_assert_int_eq(nn_tensor_dim(t, 0), 10000);
    ck_assert_int_eq(nn_tensor_dim(t, 1), 784);
    int64_t per_class[10] = {0};
    for (int64_t i = 0; i < count; i++) {
        ck_assert(l[i] >= 0 && l[i] <= 9);
        per_class[l[i]]++;
    }
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(per_class[c], 1000);
    const float *d = nn_tensor_data(t);
    float lo = 1.0f, hi = 0.0f;
    for (int64_t i = 0; i < 10000 * 784; i++) {
        lo = d[i] < lo ? d[i] : lo;
        hi = d[i] > hi ? d[i] : hi;
    }
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_eq(hi, 1.0f);
    nn_tensor_destroy(t);
    nn_idx_free_labels(l);
}
END_TEST

START_TEST(real_fashion_mnist_train)
{
    if (!have_fmnist("train-labels-idx1-ubyte.gz") || !have_fmnist("train-images-idx3-ubyte.gz"))
        return;
    nn_tensor *t = NULL;
    int32_t *l = NULL;
    int64_t count = 0;
    double t0 = now();
    ck_assert_int_eq(nn_idx_load_pair(&t, &l, &count, FMNIST_DIR "train-images-idx3-ubyte.gz",
                                      FMNIST_DIR "train-labels-idx1-ubyte.gz"),
                     NN_OK);
    double secs = now() - t0;
    printf("test_idx: 60000 training images and labels loaded in %.3f s\n", secs);
    ck_assert_int_eq(count, 60000);
    ck_assert_int_eq(nn_tensor_dim(t, 0), 60000);
    ck_assert_int_eq(nn_tensor_dim(t, 1), 784);
    int64_t per_class[10] = {0};
    for (int64_t i = 0; i < count; i++) {
        ck_assert(l[i] >= 0 && l[i] <= 9);
        per_class[l[i]]++;
    }
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(per_class[c], 6000);
    nn_tensor_destroy(t);
    nn_idx_free_labels(l);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, images_round_trip_raw_and_gz);
    tcase_add_test(tc, every_byte_value_scales);
    tcase_add_test(tc, larger_gz_matches_raw);
    tcase_add_test(tc, labels_round_trip_raw_and_gz);
    tcase_add_test(tc, buffers_round_trip);
    tcase_add_test(tc, pair_loads);
    tcase_add_test(tc, pair_count_mismatch);
    tcase_add_test(tc, corrupt_images);
    tcase_add_test(tc, corrupt_labels);
    tcase_add_test(tc, corrupt_gzip_stream);
    tcase_add_test(tc, unreadable_paths_are_io_errors);
    tcase_add_test(tc, null_arguments);
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(s, tc);
    TCase *real = tcase_create("fashion-mnist");
    tcase_set_timeout(real, 120);
    tcase_add_test(real, real_fashion_mnist_t10k);
    tcase_add_test(real, real_fashion_mnist_train);
    suite_add_tcase(s, real);
    return s;
}
