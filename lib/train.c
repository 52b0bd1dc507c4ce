/* Where a graph and an optimizer meet: the training step and evaluation. */
#include <math.h>

#include <nn/train.h>
#include "core/core.h"
#include "graph/graph_internal.h"
#include "optim/optim_internal.h"

static void fused_update(void *ctx, int64_t lo, int64_t len)
{
    nn_optimizer_fused_range(ctx, lo, len);
}

/* The batch is x, or with rows the rows rows[0..n) of x. */
static nn_status train_step(const char *fn, nn_graph *g, nn_optimizer *o, const nn_tensor *x,
                            const int32_t *labels, const int64_t *rows, int64_t n, float *loss)
{
    if (!g || !o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, !g ? "g" : "o");
    if (o->graph != g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       o->graph ? "%s: the optimizer is bound to another graph"
                                : "%s: the optimizer's graph was destroyed",
                       fn);
    /* Whether the optimizer can step at all is known before anything runs,
     * so a refusal leaves the graph as it was (no pending backward, the
     * dropout generator untouched). */
    nn_status s = nn_optimizer_fused_begin(o);
    if (s != NN_OK && s != NN_ERR_UNSUPPORTED)
        return nn_fail_in(fn, s);
    int fused = s == NN_OK;
    float l;
    /* x (and rows) are the caller's until we return */
    s = rows ? nn_graph_forward_loss_rows(g, x, labels, rows, n, &l)
             : nn_graph_forward_loss_borrowed(g, x, labels, &l);
    if (s != NN_OK)
        return nn_fail_in(fn, s);
    /* Fused: each parameter range is updated as soon as its gradient is
     * final, while it is still in cache; the same bits as backward + step. */
    s = NN_ERR_UNSUPPORTED;
    if (fused) {
        nn_param_hook hook = {fused_update, o};
        s = nn_graph_backward_with(g, &hook);
        if (s == NN_OK)
            nn_optimizer_fused_end(o);
    }
    if (s == NN_ERR_UNSUPPORTED) { /* clipping, or a graph the fused path does not run */
        s = nn_graph_backward(g);
        if (s == NN_OK)
            s = nn_optimizer_step(o);
    }
    if (s == NN_OK && loss)
        *loss = l;
    return nn_fail_in(fn, s);
}

nn_status nn_graph_train_step(nn_graph *g, nn_optimizer *o, const nn_tensor *x,
                              const int32_t *labels, float *loss)
{
    return train_step("nn_graph_train_step", g, o, x, labels, NULL, 0, loss);
}

nn_status nn_graph_train_step_rows(nn_graph *g, nn_optimizer *o, const nn_tensor *data,
                                   const int32_t *labels, const int64_t *rows, int64_t n,
                                   float *loss)
{
    if (!rows) /* train_step's NULL means "all of x" */
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_train_step_rows: rows is NULL");
    return train_step("nn_graph_train_step_rows", g, o, data, labels, rows, n, loss);
}

/* Rows per inference call: big enough for efficient matrix products, small
 * enough that the working memory stays in cache-friendly sizes. */
enum { EVAL_BATCH = 256 };

nn_status nn_graph_evaluate(nn_graph *g, const nn_tensor *x, const int32_t *labels, float *loss,
                            float *accuracy)
{
    if (!g || !x || !labels)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_evaluate: %s is NULL",
                       !g ? "g" : !x ? "x" : "labels");
    if (!nn_graph_has_softmax_head(g))
        return nn_fail(NN_ERR_STATE, "nn_graph_evaluate: the graph has no softmax cross-entropy head");
    int64_t in = nn_graph_in_features(g), c = nn_graph_out_features(g);
    if (nn_tensor_ndim(x) != 2 || nn_tensor_dim(x, 1) != in)
        return nn_fail(NN_ERR_SHAPE, "nn_graph_evaluate: x is not [N, %lld]", (long long)in);
    int64_t n = nn_tensor_dim(x, 0);
    for (int64_t r = 0; r < n; r++)
        if (labels[r] < 0 || labels[r] >= c)
            return nn_fail(NN_ERR_INVALID_ARGUMENT,
                           "nn_graph_evaluate: labels[%lld] is %d, must be in [0, %lld)",
                           (long long)r, (int)labels[r], (long long)c);
    const float *data = nn_tensor_data((nn_tensor *)(uintptr_t)x);
    double total = 0.0;
    int64_t correct = 0;
    for (int64_t r0 = 0; r0 < n; r0 += EVAL_BATCH) {
        int64_t m = n - r0 < EVAL_BATCH ? n - r0 : EVAL_BATCH;
        const float *probs, *logits;
        nn_status s = nn_graph_infer(g, data + r0 * in, m, &probs, &logits);
        if (s != NN_OK)
            return nn_fail_in("nn_graph_evaluate", s);
        for (int64_t r = 0; r < m; r++) {
            const float *z = logits + r * c;
            int64_t best = 0;
            for (int64_t k = 1; k < c; k++)
                best = z[k] > z[best] ? k : best;
            correct += best == labels[r0 + r];
            /* cross-entropy from the logits: logsumexp(z) - z[label] */
            double m2 = z[best], sum = 0.0;
            for (int64_t k = 0; k < c; k++)
                sum += exp((double)z[k] - m2);
            total += m2 + log(sum) - z[labels[r0 + r]];
        }
    }
    if (loss)
        *loss = (float)(total / (double)n);
    if (accuracy)
        *accuracy = (float)((double)correct / (double)n);
    return NN_OK;
}
