/* Tensors: creation, shape queries, copies, reshape and every bad argument. */
#include <stdint.h>
#include <string.h>

#include <nn/nn.h>
#include "test_main.h"

static nn_tensor *make(int ndim, const int64_t *dims)
{
    nn_tensor *t = NULL;
    ck_assert_int_eq(nn_tensor_create(&t, ndim, dims), NN_OK);
    ck_assert_ptr_nonnull(t);
    return t;
}

START_TEST(create_is_zeroed_and_aligned)
{
    nn_tensor *t = make(3, (int64_t[]){2, 3, 5});
    ck_assert_int_eq(nn_tensor_ndim(t), 3);
    ck_assert_int_eq(nn_tensor_dim(t, 0), 2);
    ck_assert_int_eq(nn_tensor_dim(t, 1), 3);
    ck_assert_int_eq(nn_tensor_dim(t, 2), 5);
    ck_assert_int_eq(nn_tensor_dim(t, 3), 0);
    ck_assert_int_eq(nn_tensor_dim(t, -1), 0);
    ck_assert_int_eq(nn_tensor_numel(t), 30);
    float *d = nn_tensor_data(t);
    ck_assert_uint_eq((uintptr_t)d % 64, 0);
    for (int i = 0; i < 30; i++)
        ck_assert_float_eq(d[i], 0.0f);
    nn_tensor_destroy(t);
}
END_TEST

/* Blocks of 1.5 MiB and more start on a 2 MiB boundary (huge pages,
 * lib/core/alloc.c), whether rounded up to whole huge pages (1.5 MiB: by
 * a third) or not (2 MiB + 64 floats), and are zeroed to their end. */
START_TEST(large_tensors_start_on_huge_pages)
{
    static const int64_t sizes[] = {393216, 524288 + 64, 3 * 524288};
    for (int k = 0; k < 3; k++) {
        nn_tensor *t = make(1, &sizes[k]);
        float *d = nn_tensor_data(t);
        ck_assert_uint_eq((uintptr_t)d % (2u << 20), 0);
        int64_t nonzero = 0;
        for (int64_t i = 0; i < sizes[k]; i++)
            nonzero += d[i] != 0.0f;
        ck_assert_int_eq(nonzero, 0);
        d[sizes[k] - 1] = 1.0f;
        nn_tensor_destroy(t);
    }
}
END_TEST

START_TEST(create_max_dims)
{
    int64_t dims[NN_MAX_DIMS];
    for (int i = 0; i < NN_MAX_DIMS; i++)
        dims[i] = 2;
    nn_tensor *t = make(NN_MAX_DIMS, dims);
    ck_assert_int_eq(nn_tensor_numel(t), 256);
    nn_tensor_destroy(t);
}
END_TEST

START_TEST(copy_round_trip)
{
    nn_tensor *t = make(2, (int64_t[]){4, 3});
    float in[12], out[12];
    for (int i = 0; i < 12; i++)
        in[i] = (float)i * 0.5f - 2.0f;
    ck_assert_int_eq(nn_tensor_copy_from(t, in, 12), NN_OK);
    ck_assert_float_eq(nn_tensor_data(t)[5], 0.5f);
    memset(out, 0, sizeof out);
    ck_assert_int_eq(nn_tensor_copy_to(t, out, 12), NN_OK);
    ck_assert_mem_eq(in, out, sizeof in);
    nn_tensor_destroy(t);
}
END_TEST

START_TEST(reshape_keeps_data)
{
    nn_tensor *t = make(2, (int64_t[]){4, 3});
    float *before = nn_tensor_data(t);
    before[7] = 42.0f;
    ck_assert_int_eq(nn_tensor_reshape(t, 3, (int64_t[]){2, 2, 3}), NN_OK);
    ck_assert_int_eq(nn_tensor_ndim(t), 3);
    ck_assert_int_eq(nn_tensor_dim(t, 0), 2);
    ck_assert_int_eq(nn_tensor_dim(t, 2), 3);
    ck_assert_ptr_eq(nn_tensor_data(t), before);
    ck_assert_float_eq(nn_tensor_data(t)[7], 42.0f);
    ck_assert_int_eq(nn_tensor_reshape(t, 1, (int64_t[]){12}), NN_OK);
    ck_assert_int_eq(nn_tensor_numel(t), 12);
    ck_assert_int_eq(nn_tensor_dim(t, 1), 0);
    nn_tensor_destroy(t);
}
END_TEST

START_TEST(create_bad_arguments)
{
    nn_tensor *t = (nn_tensor *)0x1; /* untouched on failure */
    ck_assert_int_eq(nn_tensor_create(NULL, 1, (int64_t[]){3}), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_create: out is NULL");
    ck_assert_int_eq(nn_tensor_create(&t, 1, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_create: dims is NULL");
    ck_assert_int_eq(nn_tensor_create(&t, 0, (int64_t[]){3}), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_create: ndim is 0, must be 1..8");
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ck_assert_int_eq(nn_tensor_create(&t, 9, nine), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_create: ndim is 9, must be 1..8");
    ck_assert_int_eq(nn_tensor_create(&t, 2, (int64_t[]){3, 0}), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_create: dims[1] is 0, must be >= 1");
    ck_assert_int_eq(nn_tensor_create(&t, 1, (int64_t[]){-5}), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_create: dims[0] is -5, must be >= 1");
    int64_t big[3] = {INT64_C(1) << 31, INT64_C(1) << 31, INT64_C(1) << 31};
    ck_assert_int_eq(nn_tensor_create(&t, 3, big), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(),
                     "nn_tensor_create: element count overflows at dims[2] = 2147483648");
    int64_t bytes[2] = {INT64_C(1) << 31, INT64_C(1) << 31};
    ck_assert_int_eq(nn_tensor_create(&t, 2, bytes), NN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(t, (nn_tensor *)0x1);
}
END_TEST

START_TEST(huge_but_valid_size_is_out_of_memory)
{
    /* 2^40 floats = 4 TiB: a valid request the allocator refuses. */
    nn_tensor *t = NULL;
    ck_assert_int_eq(nn_tensor_create(&t, 2, (int64_t[]){INT64_C(1) << 20, INT64_C(1) << 20}),
                     NN_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_create: no memory for 1099511627776 floats");
}
END_TEST

START_TEST(copy_bad_arguments)
{
    nn_tensor *t = make(1, (int64_t[]){4});
    float buf[5] = {1, 2, 3, 4, 5};
    ck_assert_int_eq(nn_tensor_copy_from(NULL, buf, 4), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_copy_from: t is NULL");
    ck_assert_int_eq(nn_tensor_copy_from(t, NULL, 4), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_copy_from: src is NULL");
    ck_assert_int_eq(nn_tensor_copy_from(t, buf, 5), NN_ERR_SHAPE);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_copy_from: n is 5, tensor holds 4");
    ck_assert_int_eq(nn_tensor_copy_from(t, buf, 3), NN_ERR_SHAPE);
    ck_assert_int_eq(nn_tensor_copy_to(NULL, buf, 4), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_copy_to: t is NULL");
    ck_assert_int_eq(nn_tensor_copy_to(t, NULL, 4), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_copy_to: dst is NULL");
    ck_assert_int_eq(nn_tensor_copy_to(t, buf, -1), NN_ERR_SHAPE);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_copy_to: n is -1, tensor holds 4");
    /* nothing changed: the tensor is still zero and buf untouched */
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(nn_tensor_data(t)[i], 0.0f);
    ck_assert_float_eq(buf[0], 1.0f);
    /* and it still works */
    ck_assert_int_eq(nn_tensor_copy_from(t, buf, 4), NN_OK);
    ck_assert_float_eq(nn_tensor_data(t)[3], 4.0f);
    nn_tensor_destroy(t);
}
END_TEST

START_TEST(reshape_bad_arguments)
{
    nn_tensor *t = make(2, (int64_t[]){2, 3});
    ck_assert_int_eq(nn_tensor_reshape(NULL, 1, (int64_t[]){6}), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_reshape: t is NULL");
    ck_assert_int_eq(nn_tensor_reshape(t, 1, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_tensor_reshape(t, 0, (int64_t[]){6}), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_reshape: ndim is 0, must be 1..8");
    ck_assert_int_eq(nn_tensor_reshape(t, 2, (int64_t[]){6, 0}), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_tensor_reshape(t, 1, (int64_t[]){7}), NN_ERR_SHAPE);
    ck_assert_str_eq(nn_last_error(), "nn_tensor_reshape: new shape has 7 elements, tensor has 6");
    /* shape unchanged after each failure */
    ck_assert_int_eq(nn_tensor_ndim(t), 2);
    ck_assert_int_eq(nn_tensor_dim(t, 0), 2);
    ck_assert_int_eq(nn_tensor_dim(t, 1), 3);
    ck_assert_int_eq(nn_tensor_reshape(t, 1, (int64_t[]){6}), NN_OK);
    nn_tensor_destroy(t);
}
END_TEST

START_TEST(null_queries)
{
    ck_assert_int_eq(nn_tensor_ndim(NULL), 0);
    ck_assert_int_eq(nn_tensor_dim(NULL, 0), 0);
    ck_assert_int_eq(nn_tensor_numel(NULL), 0);
    ck_assert_ptr_null(nn_tensor_data(NULL));
    nn_tensor_destroy(NULL);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("tensor");
    tcase_add_test(tc, create_is_zeroed_and_aligned);
    tcase_add_test(tc, large_tensors_start_on_huge_pages);
    tcase_add_test(tc, create_max_dims);
    tcase_add_test(tc, copy_round_trip);
    tcase_add_test(tc, reshape_keeps_data);
    tcase_add_test(tc, create_bad_arguments);
    tcase_add_test(tc, huge_but_valid_size_is_out_of_memory);
    tcase_add_test(tc, copy_bad_arguments);
    tcase_add_test(tc, reshape_bad_arguments);
    tcase_add_test(tc, null_queries);
    suite_add_tcase(s, tc);
    return s;
}
