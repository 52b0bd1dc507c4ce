/* Heap allocations of the whole process (libnn, oneDNN, the OpenMP runtime
 * and libc) during steady-state training steps and inference calls, counted
 * by bench/alloc_count.c, which replaces glibc's malloc family. test_graph's
 * steady-state tests see only libnn's own allocator; this one also sees an
 * allocation inside oneDNN's sgemm, which no libnn hook can. Built only where
 * the counter can be (glibc, no sanitizer: tests/meson.build). */
#include <check.h>
#include <stdio.h>

#include <nn/nn.h>

#include "../bench/alloc_count.h"
#include "../lib/graph/kernels.h"
#include "test_main.h"

enum { IN = 70, HID = 200, OUT = 10, DATA = 1100, STEPS = 4 };

typedef struct fixture {
    nn_graph *g;
    nn_optimizer *o;
    nn_tensor *data;
    int32_t labels[DATA];
    int64_t rows[DATA];
} fixture;

static void fixture_make(fixture *f)
{
    ck_assert_int_eq(nn_graph_create(&f->g, IN), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(f->g, HID), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(f->g, NN_ACT_RELU), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(f->g, OUT), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(f->g), NN_OK);
    ck_assert_int_eq(nn_graph_init_params(f->g, NN_INIT_GLOROT_UNIFORM, 3), NN_OK);
    ck_assert_int_eq(nn_adam_create(&f->o, f->g, 1e-3f), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&f->data, 2, (int64_t[]){DATA, IN}), NN_OK);
    float *d = nn_tensor_data(f->data);
    for (int k = 0; k < DATA * IN; k++)
        d[k] = (float)((k * 37) % 23) / 11.0f - 1.0f;
    for (int r = 0; r < DATA; r++) {
        f->labels[r] = r % OUT;
        f->rows[r] = (r * 7) % DATA;
    }
}

static void fixture_free(fixture *f)
{
    nn_tensor_destroy(f->data);
    nn_optimizer_destroy(f->o);
    nn_graph_destroy(f->g);
}

/* The allocations of STEPS training steps on n rows, after two steps that
 * build the plan; the steps' statuses go to ok (no assertion may run while
 * counting: Check's own reporting could allocate). */
static long long allocs_per_steps(fixture *f, int64_t n, int *ok)
{
    *ok = 1;
    for (int s = 0; s < 2; s++)
        *ok &= nn_graph_train_step_rows(f->g, f->o, f->data, f->labels, f->rows, n, NULL) == NN_OK;
    long long before = bench_alloc_count();
    for (int s = 0; s < STEPS; s++)
        *ok &= nn_graph_train_step_rows(f->g, f->o, f->data, f->labels, f->rows + s, n, NULL) ==
               NN_OK;
    return bench_alloc_count() - before;
}

/* The counter must see an allocation, or a 0 below would prove nothing. */
START_TEST(counter_counts)
{
    long long before = bench_alloc_count();
    void *volatile p = malloc(24);
    long long after = bench_alloc_count();
    free(p);
    ck_assert_int_ge(before, 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(after - before, 1);
}
END_TEST

/* Every batch size the kernels take: no allocation anywhere in the
 * process. With AVX-512 that is up to 512 rows (the panels and the K-blocked
 * weight gradient); with AVX2 only, up to 128, past which sgemm (which
 * allocates in every call) takes over, and so past that nothing is
 * asserted. On threads 1 and 2. */
START_TEST(training_steps_allocate_nothing)
{
    static const int64_t ns[] = {1, 7, 32, 100, 128, 129, 200, 256, 300, 512};
    const int before = nn_get_num_threads();
    ck_assert_int_eq(nn_set_num_threads(1 + _i), NN_OK);
    fixture f;
    fixture_make(&f);
    int checked = 0;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int ok;
        long long a = allocs_per_steps(&f, ns[k], &ok);
        ck_assert_msg(ok, "a training step at batch %lld failed", (long long)ns[k]);
        if (!nn_kernels_available() || ns[k] > nn_kernels_max_rows())
            continue;
        ck_assert_msg(a == 0, "batch %lld, %d thread(s): %lld allocations in %d steps",
                      (long long)ns[k], 1 + _i, a, STEPS);
        checked++;
    }
    if (checked < 10)
        printf("training_steps_allocate_nothing: %d of 10 batch sizes checked (kernels up to %lld "
               "rows here)\n",
               checked, (long long)nn_kernels_max_rows());
    fixture_free(&f);
    ck_assert_int_eq(nn_set_num_threads(before), NN_OK);
}
END_TEST

/* Inference on 1 row, 300 (column chunks), 700 (two row blocks of 352 and
 * 348) and 1,100 (row blocks of 512 and a ragged one): once warmed up,
 * nothing where the kernels take those sizes (AVX-512: all of them; AVX2:
 * not the last three, so nothing is asserted there). On 1 and 2 threads. */
START_TEST(inference_allocates_nothing)
{
    static const int64_t ns[] = {1, 300, 700, DATA};
    enum { NS = sizeof ns / sizeof ns[0] };
    const int before_threads = nn_get_num_threads();
    ck_assert_int_eq(nn_set_num_threads(1 + _i), NN_OK);
    fixture f;
    fixture_make(&f);
    nn_tensor *x[NS], *y[NS];
    for (int k = 0; k < NS; k++) {
        ck_assert_int_eq(nn_tensor_create(&x[k], 2, (int64_t[]){ns[k], IN}), NN_OK);
        ck_assert_int_eq(nn_tensor_create(&y[k], 2, (int64_t[]){ns[k], OUT}), NN_OK);
        for (int64_t e = 0; e < ns[k] * IN; e++)
            nn_tensor_data(x[k])[e] = nn_tensor_data(f.data)[e];
    }
    /* two calls each: the second one-row call with unchanged weights
     * makes the interleaved weight copy (lib/graph/dense.c) */
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < NS; k++)
            ck_assert_int_eq(nn_graph_forward(f.g, x[k], y[k]), NN_OK);
    int ok = 1;
    long long before = bench_alloc_count();
    for (int s = 0; s < STEPS; s++)
        for (int k = 0; k < NS; k++)
            ok &= nn_graph_forward(f.g, x[k], y[k]) == NN_OK;
    long long a = bench_alloc_count() - before;
    ck_assert(ok);
    if (nn_kernels_available() && nn_kernels_max_rows() >= 300)
        ck_assert_msg(a == 0, "%d thread(s): %lld allocations in %d rounds of inference calls",
                      1 + _i, a, STEPS);
    else
        printf("inference_allocates_nothing: not asserted (kernels up to %lld rows here)\n",
               (long long)nn_kernels_max_rows());
    /* and the answers are a softmax's */
    for (int k = 0; k < NS; k++) {
        float sum = 0;
        for (int c = 0; c < OUT; c++)
            sum += nn_tensor_data(y[k])[(ns[k] - 1) * OUT + c];
        ck_assert_float_eq_tol(sum, 1.0f, 1e-5f);
        nn_tensor_destroy(x[k]);
        nn_tensor_destroy(y[k]);
    }
    fixture_free(&f);
    ck_assert_int_eq(nn_set_num_threads(before_threads), NN_OK);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("process_allocs");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, counter_counts);
    tcase_add_loop_test(tc, training_steps_allocate_nothing, 0, 2);
    tcase_add_loop_test(tc, inference_allocates_nothing, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
