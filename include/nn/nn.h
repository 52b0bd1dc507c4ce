/* libnn — a small, fast C library for training and running neural networks.
 *
 * Include this one header; link with `pkg-config --cflags --libs nn`.
 *
 * (The worked example arrives with graphs and optimizers.)
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
#include <nn/idx.h>

#endif /* NN_NN_H */
