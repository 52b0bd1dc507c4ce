/* libnn — a small, fast C library for training and running neural networks.
 *
 * Include this one header; link with `pkg-config --cflags --libs nn`.
 *
 * A worked example: a 784-512-10 classifier trained with Adam.
 *
 *     #include <nn/nn.h>
 *
 *     nn_graph *g = NULL;
 *     nn_optimizer *opt = NULL;
 *     nn_tensor *x = NULL, *probs = NULL;
 *     int64_t xd[2] = {32, 784}, pd[2] = {32, 10};
 *     int32_t labels[32];                        // class of each row, 0..9
 *     float loss;
 *
 *     if (nn_graph_create(&g, 784) != NN_OK ||
 *         nn_graph_add_dense(g, 512) != NN_OK ||
 *         nn_graph_add_activation(g, NN_ACT_RELU) != NN_OK ||
 *         nn_graph_add_dense(g, 10) != NN_OK ||
 *         nn_graph_add_softmax_cross_entropy(g) != NN_OK ||
 *         nn_adam_create(&opt, g, 1e-3f) != NN_OK ||
 *         nn_tensor_create(&x, 2, xd) != NN_OK ||
 *         nn_tensor_create(&probs, 2, pd) != NN_OK) {
 *         fprintf(stderr, "libnn: %s\n", nn_last_error());
 *         goto done;
 *     }
 *     for (int step = 0; step < 1000; step++) {
 *         fill_batch(nn_tensor_data(x), labels);     // your data, 32 rows
 *         if (nn_graph_train_step(g, opt, x, labels, &loss) != NN_OK)
 *             break;                                 // nn_last_error() says why
 *     }
 *     nn_graph_forward(g, x, probs);                 // probs: [32, 10]
 * done:
 *     nn_tensor_destroy(probs);                      // every destroy takes NULL
 *     nn_tensor_destroy(x);
 *     nn_optimizer_destroy(opt);                     // before its graph
 *     nn_graph_destroy(g);
 *
 * Rules that hold everywhere (docs/api-rules.md has the details):
 * - Every fallible call returns an nn_status; results come through
 *   out-parameters, which are untouched on failure. nn_last_error() says
 *   what went wrong on this thread. A bad argument never aborts the process
 *   and leaves every object as it was.
 * - Whatever a create function returns, you own and free with the matching
 *   destroy; pointers documented as borrowed belong to libnn.
 * - One handle is used by one thread at a time; distinct handles may be
 *   used from distinct threads.
 */
#ifndef NN_NN_H
#define NN_NN_H

#include <nn/export.h>
#include <nn/version.h>
#include <nn/status.h>
#include <nn/threads.h>
#include <nn/tensor.h>
#include <nn/graph.h>
#include <nn/optimizer.h>
#include <nn/sgd.h>
#include <nn/adam.h>
#include <nn/schedule.h>
#include <nn/train.h>
#include <nn/idx.h>
#include <nn/io.h>

#endif /* NN_NN_H */
