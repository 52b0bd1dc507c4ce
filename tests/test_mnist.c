/* Integration: the reference network learns real data. Trains on the first
 * 6,000 Fashion-MNIST training images for one epoch and checks the
 * accuracy on the first 2,000 test images (the data set comes from
 * Debian's dataset-fashion-mnist, which scripts/deps installs). */
#include <stdio.h>
#include <string.h>

#include <nn/nn.h>
#include "test_main.h"

#define DATA "/usr/share/datasets/fashion-mnist/"

START_TEST(one_epoch_on_6000_images)
{
    nn_tensor *xtr, *xte;
    int32_t *ytr, *yte;
    int64_t ntr, nte;
    ck_assert_msg(nn_idx_load_pair(&xtr, &ytr, &ntr, DATA "train-images-idx3-ubyte.gz",
                                   DATA "train-labels-idx1-ubyte.gz") == NN_OK,
                  "%s (install dataset-fashion-mnist)", nn_last_error());
    ck_assert_int_eq(nn_idx_load_pair(&xte, &yte, &nte, DATA "t10k-images-idx3-ubyte.gz",
                                      DATA "t10k-labels-idx1-ubyte.gz"), NN_OK);
    ck_assert_int_eq(ntr, 60000);
    ck_assert_int_eq(nte, 10000);

    nn_graph *g;
    nn_optimizer *o;
    ck_assert_int_eq(nn_graph_create(&g, 784), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 512), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_RELU), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 10), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    ck_assert_int_eq(nn_graph_init_params(g, NN_INIT_GLOROT_UNIFORM, 1), NN_OK);
    ck_assert_int_eq(nn_adam_create(&o, g, 1e-3f), NN_OK);

    nn_tensor *xb, *test;
    ck_assert_int_eq(nn_tensor_create(&xb, 2, (int64_t[]){32, 784}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&test, 2, (int64_t[]){2000, 784}), NN_OK);
    ck_assert_int_eq(nn_tensor_copy_from(test, nn_tensor_data(xte), 2000 * 784), NN_OK);
    float loss, acc, first = 0.0f;
    float before;
    ck_assert_int_eq(nn_graph_evaluate(g, test, yte, NULL, &before), NN_OK);
    for (int64_t r0 = 0; r0 + 32 <= 6000; r0 += 32) { /* 187 full batches */
        ck_assert_int_eq(nn_tensor_copy_from(xb, nn_tensor_data(xtr) + r0 * 784, 32 * 784), NN_OK);
        ck_assert_int_eq(nn_graph_train_step(g, o, xb, ytr + r0, &loss), NN_OK);
        if (r0 == 0)
            first = loss;
    }
    ck_assert_int_eq(nn_graph_evaluate(g, test, yte, &loss, &acc), NN_OK);
    printf("mnist: 1 epoch on 6000 images: test accuracy %.4f on 2000 (untrained %.4f), "
           "first batch loss %.3f, test loss %.3f\n", (double)acc, (double)before, (double)first,
           (double)loss);
    ck_assert_float_lt(before, 0.3f);
    ck_assert_float_gt(first, 1.5f);
    ck_assert_float_ge(acc, 0.75f);
    ck_assert_float_lt(loss, 0.75f);

    nn_tensor_destroy(xb);
    nn_tensor_destroy(test);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
    nn_tensor_destroy(xtr);
    nn_tensor_destroy(xte);
    nn_idx_free_labels(ytr);
    nn_idx_free_labels(yte);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("mnist");
    TCase *tc = tcase_create("mnist");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_epoch_on_6000_images);
    suite_add_tcase(s, tc);
    return s;
}
