/* Status names, the thread-local last error, version, threads. */
#include <stdio.h>
#include <string.h>
#include <pthread.h>

#include <nn/nn.h>
#include "test_main.h"

START_TEST(status_strings)
{
    ck_assert_str_eq(nn_status_str(NN_OK), "ok");
    ck_assert_str_eq(nn_status_str(NN_ERR_INVALID_ARGUMENT), "invalid argument");
    ck_assert_str_eq(nn_status_str(NN_ERR_SHAPE), "shape mismatch");
    ck_assert_str_eq(nn_status_str(NN_ERR_OUT_OF_MEMORY), "out of memory");
    ck_assert_str_eq(nn_status_str(NN_ERR_STATE), "invalid state");
    ck_assert_str_eq(nn_status_str(NN_ERR_IO), "input/output error");
    ck_assert_str_eq(nn_status_str(NN_ERR_FORMAT), "malformed data");
    ck_assert_str_eq(nn_status_str(NN_ERR_BACKEND), "backend (oneDNN) error");
    ck_assert_str_eq(nn_status_str(NN_ERR_UNSUPPORTED), "unsupported");
    ck_assert_str_eq(nn_status_str((nn_status)9), "unknown status");
    ck_assert_str_eq(nn_status_str((nn_status)-1), "unknown status");
    ck_assert_str_eq(nn_status_str((nn_status)1000), "unknown status");
}
END_TEST

START_TEST(status_values_pinned)
{
    ck_assert_int_eq(NN_OK, 0);
    ck_assert_int_eq(NN_ERR_INVALID_ARGUMENT, 1);
    ck_assert_int_eq(NN_ERR_SHAPE, 2);
    ck_assert_int_eq(NN_ERR_OUT_OF_MEMORY, 3);
    ck_assert_int_eq(NN_ERR_STATE, 4);
    ck_assert_int_eq(NN_ERR_IO, 5);
    ck_assert_int_eq(NN_ERR_FORMAT, 6);
    ck_assert_int_eq(NN_ERR_BACKEND, 7);
    ck_assert_int_eq(NN_ERR_UNSUPPORTED, 8);
}
END_TEST

START_TEST(last_error_starts_empty_and_persists)
{
    ck_assert_str_eq(nn_last_error(), "");
    ck_assert_int_eq(nn_set_num_threads(0), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_set_num_threads: n is 0, must be >= 1");
    /* a successful call leaves it as it was */
    ck_assert_int_eq(nn_set_num_threads(1), NN_OK);
    ck_assert_str_eq(nn_last_error(), "nn_set_num_threads: n is 0, must be >= 1");
}
END_TEST

static void *fail_in_thread(void *arg)
{
    (void)arg;
    nn_tensor_create(NULL, 1, (int64_t[]){1});
    return strdup(nn_last_error());
}

START_TEST(last_error_is_thread_local)
{
    ck_assert_int_eq(nn_set_num_threads(-3), NN_ERR_INVALID_ARGUMENT);
    pthread_t th;
    void *other;
    ck_assert_int_eq(pthread_create(&th, NULL, fail_in_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(th, &other), 0);
    ck_assert_str_eq((char *)other, "nn_tensor_create: out is NULL");
    free(other);
    ck_assert_str_eq(nn_last_error(), "nn_set_num_threads: n is -3, must be >= 1");
}
END_TEST

START_TEST(version_agrees)
{
    ck_assert_uint_eq(nn_version_number(), NN_VERSION_NUMBER);
    ck_assert_int_eq(NN_VERSION_NUMBER,
                     NN_VERSION_MAJOR * 10000 + NN_VERSION_MINOR * 100 + NN_VERSION_PATCH);
    ck_assert_str_eq(nn_version_string(), NN_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", NN_VERSION_MAJOR, NN_VERSION_MINOR, NN_VERSION_PATCH);
    ck_assert_str_eq(nn_version_string(), buf);
}
END_TEST

START_TEST(threads_set_and_get)
{
    ck_assert_int_ge(nn_get_num_threads(), 1);
    ck_assert_int_eq(nn_set_num_threads(2), NN_OK);
    ck_assert_int_eq(nn_get_num_threads(), 2);
    ck_assert_int_eq(nn_set_num_threads(1), NN_OK);
    ck_assert_int_eq(nn_get_num_threads(), 1);
    ck_assert_int_eq(nn_set_num_threads(-1), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_set_num_threads(NN_MAX_THREADS + 1), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_set_num_threads: n is 1025, must be <= 1024");
    ck_assert_int_eq(nn_get_num_threads(), 1);
    ck_assert_int_eq(nn_set_num_threads(NN_MAX_THREADS), NN_OK);
    ck_assert_int_eq(nn_get_num_threads(), NN_MAX_THREADS);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, status_strings);
    tcase_add_test(tc, status_values_pinned);
    tcase_add_test(tc, last_error_starts_empty_and_persists);
    tcase_add_test(tc, last_error_is_thread_local);
    tcase_add_test(tc, version_agrees);
    tcase_add_test(tc, threads_set_and_get);
    suite_add_tcase(s, tc);
    return s;
}
