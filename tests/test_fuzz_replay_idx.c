/* Replays the IDX fuzzing corpus and its regressions (tests/fuzz/corpus/idx,
 * tests/fuzz/regressions/idx) through the four IDX readers: from a buffer
 * and from a file, as images and as labels. Names say what a file must do:
 * "ok-images-*" and "ok-labels-*" load as such (from a file; from a buffer
 * too unless gzip'd), "bad-*" give NN_ERR_FORMAT every way; anything else
 * (a fuzzer find) may load or be refused as malformed, nothing more. What
 * loads must hold exactly the file's bytes, and a failure writes no
 * out-parameter.
 *
 * The corpus lives under the source tree: the environment variable
 * NN_SOURCE_DIR, else the compile-time define of the same name, names it. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <nn/nn.h>
#include "test_main.h"

#ifndef NN_SOURCE_DIR
#  define NN_SOURCE_DIR ""
#endif

static nn_tensor *const UNTOUCHED_T = (nn_tensor *)0x1;
static int32_t *const UNTOUCHED_L = (int32_t *)0x1;

static const char *source_dir(void)
{
    const char *d = getenv("NN_SOURCE_DIR");
    return d && *d ? d : NN_SOURCE_DIR;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* The raw IDX bytes of a file, inflated if it is gzip'd; NULL if it is a
 * damaged gzip stream. */
static uint8_t *inflated(const char *path, size_t *n)
{
    gzFile f = gzopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1 << 16, len = 0;
    uint8_t *b = malloc(cap);
    ck_assert_ptr_nonnull(b);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            b = realloc(b, cap);
            ck_assert_ptr_nonnull(b);
        }
        int r = gzread(f, b + len, (unsigned)(cap - len));
        if (r <= 0) {
            int err = Z_OK;
            gzerror(f, &err);
            if (r < 0 || err != Z_OK) {
                free(b);
                b = NULL;
            }
            break;
        }
        len += (size_t)r;
    }
    gzclose(f);
    *n = len;
    return b;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void check_images(const char *p, nn_tensor *t, const uint8_t *b, size_t n)
{
    ck_assert_msg(n >= 16 && b[3] == 3, "%s: accepted as images", p);
    ck_assert_int_eq(nn_tensor_ndim(t), 2);
    ck_assert_int_eq(nn_tensor_dim(t, 0), be32(b + 4));
    ck_assert_int_eq(nn_tensor_dim(t, 1), (int64_t)be32(b + 8) * be32(b + 12));
    ck_assert_int_eq(nn_tensor_numel(t), (int64_t)(n - 16));
    for (size_t i = 0; i < n - 16; i++)
        ck_assert_msg(nn_tensor_data(t)[i] == (float)b[16 + i] * (1.0f / 255.0f),
                      "%s: pixel %zu", p, i);
}

static void check_labels(const char *p, const int32_t *l, int64_t count, const uint8_t *b,
                         size_t n)
{
    ck_assert_msg(n >= 8 && b[3] == 1, "%s: accepted as labels", p);
    ck_assert_int_eq(count, be32(b + 4));
    ck_assert_int_eq(count, (int64_t)(n - 8));
    for (int64_t i = 0; i < count; i++)
        ck_assert_msg(l[i] == b[8 + i], "%s: label %lld", p, (long long)i);
}

typedef struct outcome {
    int images, labels; /* 1 loaded, 0 refused as malformed */
} outcome;

static outcome replay_one(const char *p, const char *name)
{
    size_t n, rn = 0;
    uint8_t *b = slurp(p, &n);
    uint8_t *raw = inflated(p, &rn);
    int gz = n >= 2 && b[0] == 0x1f && b[1] == 0x8b;
    outcome from_buf = {0, 0}, from_file = {0, 0};

    /* buffers */
    nn_tensor *t = UNTOUCHED_T;
    nn_status s = nn_idx_images_from_buffer(&t, n ? b : (const void *)"", n, name);
    ck_assert_msg(s == NN_OK || s == NN_ERR_FORMAT, "%s: images from buffer: %s: %s", p,
                  nn_status_str(s), nn_last_error());
    if (s == NN_OK) {
        check_images(p, t, b, n);
        nn_tensor_destroy(t);
        from_buf.images = 1;
    } else {
        ck_assert_ptr_eq(t, UNTOUCHED_T);
        ck_assert_msg(strstr(nn_last_error(), name) != NULL, "%s: \"%s\" lacks the name", p,
                      nn_last_error());
    }
    int32_t *l = UNTOUCHED_L;
    int64_t count = -7;
    s = nn_idx_labels_from_buffer(&l, &count, n ? b : (const void *)"", n, name);
    ck_assert_msg(s == NN_OK || s == NN_ERR_FORMAT, "%s: labels from buffer: %s: %s", p,
                  nn_status_str(s), nn_last_error());
    if (s == NN_OK) {
        check_labels(p, l, count, b, n);
        nn_idx_free_labels(l);
        from_buf.labels = 1;
    } else {
        ck_assert(l == UNTOUCHED_L && count == -7);
    }

    /* files: gzip'd or raw, read as the bytes they inflate to */
    t = UNTOUCHED_T;
    s = nn_idx_load_images(&t, p);
    ck_assert_msg(s == NN_OK || s == NN_ERR_FORMAT, "%s: images from file: %s: %s", p,
                  nn_status_str(s), nn_last_error());
    if (s == NN_OK) {
        ck_assert_msg(raw != NULL, "%s: a damaged gzip stream was accepted", p);
        check_images(p, t, raw, rn);
        nn_tensor_destroy(t);
        from_file.images = 1;
    } else {
        ck_assert_ptr_eq(t, UNTOUCHED_T);
    }
    l = UNTOUCHED_L;
    count = -7;
    s = nn_idx_load_labels(&l, &count, p);
    ck_assert_msg(s == NN_OK || s == NN_ERR_FORMAT, "%s: labels from file: %s: %s", p,
                  nn_status_str(s), nn_last_error());
    if (s == NN_OK) {
        ck_assert_msg(raw != NULL, "%s: a damaged gzip stream was accepted", p);
        check_labels(p, l, count, raw, rn);
        nn_idx_free_labels(l);
        from_file.labels = 1;
    } else {
        ck_assert(l == UNTOUCHED_L && count == -7);
    }
    /* a raw file reads as its buffer does */
    if (!gz) {
        ck_assert_int_eq(from_file.images, from_buf.images);
        ck_assert_int_eq(from_file.labels, from_buf.labels);
    } else {
        ck_assert_msg(!from_buf.images && !from_buf.labels, "%s: gzip'd bytes parsed raw", p);
    }
    free(b);
    free(raw);
    return from_file;
}

/* Replays every file of dir; returns how many there were. */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s (set NN_SOURCE_DIR to the source tree)", dir);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        outcome o = replay_one(p, e->d_name);
        if (strncmp(e->d_name, "ok-images-", 10) == 0)
            ck_assert_msg(o.images && !o.labels, "%s does not load as images only", p);
        else if (strncmp(e->d_name, "ok-labels-", 10) == 0)
            ck_assert_msg(o.labels && !o.images, "%s does not load as labels only", p);
        else if (strncmp(e->d_name, "bad-", 4) == 0)
            ck_assert_msg(!o.images && !o.labels, "%s loads", p);
        count++;
    }
    closedir(d);
    return count;
}

START_TEST(corpus_replays)
{
    const char *src = source_dir();
    ck_assert_msg(*src, "NN_SOURCE_DIR is neither in the environment nor compiled in");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/idx", src);
    int n = replay_dir(dir);
    ck_assert_int_ge(n, 20);
    snprintf(dir, sizeof dir, "%s/tests/fuzz/regressions/idx", src);
    int r = replay_dir(dir);
    printf("fuzz replay idx: %d corpus files, %d regressions\n", n, r);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("fuzz_replay_idx");
    TCase *tc = tcase_create("fuzz_replay_idx");
    tcase_add_test(tc, corpus_replays);
    suite_add_tcase(s, tc);
    return s;
}
