/* Building a graph: layers, parameters, initialisation, queries. */
#include <math.h>
#include <string.h>

#include "core/pool.h"
#include "graph_impl.h"
#include "kernels.h"

void nn_graph_free_plans(nn_graph *g);

/* Bounds that keep every size computation far from overflow. */
#define NN_MAX_FEATURES (INT64_C(1) << 31)

nn_status nn_graph_create(nn_graph **out, int64_t in_features)
{
    if (!out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_create: out is NULL");
    if (in_features < 1 || in_features > NN_MAX_FEATURES)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_graph_create: in_features is %lld, must be 1..2^31",
                       (long long)in_features);
    nn_graph *g = nn_mem_calloc(sizeof *g);
    if (!g)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_graph_create: no memory for the graph");
    nn_status s = nn_bk_ctx_create(&g->ctx);
    if (s != NN_OK) {
        nn_mem_free(g);
        return nn_fail_in("nn_graph_create", s);
    }
    g->in_features = in_features;
    g->first_dense = -1;
    nn_rng_seed(&g->rng, 0);
    *out = g;
    return NN_OK;
}

void nn_graph_destroy(nn_graph *g)
{
    if (!g)
        return;
    for (int k = 0; k < g->nwatchers; k++)
        *g->watchers[k].slot = NULL;
    nn_graph_free_plans(g);
    nn_pool_destroy(g->pool);
    nn_bk_ctx_destroy(g->ctx);
    nn_mem_free(g->watchers);
    nn_mem_free(g->layers);
    nn_mem_free(g->values);
    nn_mem_free(g->grads);
    for (int k = 0; k < g->nparams; k += 2)
        nn_mem_free(g->pviews[k]); /* each dense layer's block of four views */
    nn_mem_free(g->pviews);
    nn_mem_free(g);
}

int64_t nn_graph_in_features(const nn_graph *g)
{
    return g ? g->in_features : 0;
}

int64_t nn_graph_out_features(const nn_graph *g)
{
    if (!g)
        return 0;
    return g->nlayers ? g->layers[g->nlayers - 1].out : g->in_features;
}

static const char *const kind_names[] = {"dense", "activation", "dropout",
                                         "softmax cross-entropy", "MSE loss"};

/* Checks that a layer may be appended and makes room for it; returns the
 * new layer zeroed but not yet counted (the caller commits nlayers++). */
static nn_status layer_slot(nn_graph *g, const char *fn, layer **out)
{
    if (!g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: g is NULL", fn);
    if (g->nlayers && layer_is_head(&g->layers[g->nlayers - 1]))
        return nn_fail(NN_ERR_STATE, "%s: the graph already ends in its %s head", fn,
                       kind_names[g->layers[g->nlayers - 1].kind]);
    if (g->nlayers == g->cap_layers) {
        int cap = g->cap_layers ? 2 * g->cap_layers : 8;
        layer *ls = nn_mem_alloc((size_t)cap * sizeof *ls);
        if (!ls)
            return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: no memory for the layer list", fn);
        if (g->nlayers)
            memcpy(ls, g->layers, (size_t)g->nlayers * sizeof *ls);
        nn_mem_free(g->layers);
        g->layers = ls;
        g->cap_layers = cap;
    }
    layer *l = &g->layers[g->nlayers];
    memset(l, 0, sizeof *l);
    l->input = g->nlayers - 1;
    l->in = l->out = nn_graph_out_features(g);
    *out = l;
    return NN_OK;
}

/* A layer changes what every plan computes. */
static void commit_layer(nn_graph *g)
{
    nn_graph_free_plans(g);
    g->nlayers++;
}

static void point_views(nn_graph *g)
{
    int k = 0;
    for (int i = 0; i < g->nlayers; i++) {
        const layer *l = &g->layers[i];
        if (l->kind != LAYER_DENSE)
            continue;
        int64_t wd[2] = {l->out, l->in}, bd[1] = {l->out};
        nn_tensor_view(g->pviews[2 * k], g->values + l->w_off, 2, wd);
        nn_tensor_view(g->pviews[2 * k + 1], g->values + l->b_off, 1, bd);
        g->pviews[2 * k]->watch = g->pviews[2 * k + 1]->watch = &g->watch;
        nn_tensor_view(g->pviews[g->nparams + 2 * k], g->grads + l->w_off, 2, wd);
        nn_tensor_view(g->pviews[g->nparams + 2 * k + 1], g->grads + l->b_off, 1, bd);
        k++;
    }
}

nn_status nn_graph_add_dense(nn_graph *g, int64_t units)
{
    layer *l = NULL;
    nn_status s = layer_slot(g, __func__, &l);
    if (s != NN_OK)
        return s;
    if (units < 1 || units > NN_MAX_FEATURES)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_add_dense: units is %lld, must be 1..2^31",
                       (long long)units);
    int64_t wn, numel;
    if (nn_mul_overflows(l->in, units, &wn) || wn > INT64_MAX / 8 - units - g->numel - 32)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_add_dense: %lld x %lld weights are too many",
                       (long long)units, (long long)l->in);
    /* W and b each start on a 64-byte boundary. */
    int64_t w_off = g->numel, b_off = (w_off + wn + 15) / 16 * 16;
    numel = (b_off + units + 15) / 16 * 16;
    if ((uint64_t)numel > SIZE_MAX / 8)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_graph_add_dense: %lld parameters do not fit in memory",
                       (long long)numel);
    int nparams = g->nparams + 2;
    float *values = nn_mem_alloc((size_t)numel * sizeof(float));
    float *grads = nn_mem_calloc((size_t)numel * sizeof(float));
    /* The views handed out by nn_graph_param stay where they are (they are
     * valid until the graph is destroyed): the new layer's four in a block
     * of their own, all of them pointed at the new storage below. */
    nn_tensor **views = nn_mem_alloc((size_t)nparams * 2 * sizeof *views);
    nn_tensor *block = nn_mem_calloc(4 * sizeof *block);
    if (!values || !grads || !views || !block) {
        nn_mem_free(values);
        nn_mem_free(grads);
        nn_mem_free(views);
        nn_mem_free(block);
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "nn_graph_add_dense: no memory for %lld parameters",
                       (long long)numel);
    }
    memset(values + g->numel, 0, (size_t)(numel - g->numel) * sizeof(float));
    if (g->numel) {
        memcpy(values, g->values, (size_t)g->numel * sizeof(float));
        memcpy(grads, g->grads, (size_t)g->numel * sizeof(float));
    }
    for (int k = 0; k < g->nparams; k++) {
        views[k] = g->pviews[k];
        views[nparams + k] = g->pviews[g->nparams + k];
    }
    views[nparams - 2] = &block[0];
    views[nparams - 1] = &block[1];
    views[2 * nparams - 2] = &block[2];
    views[2 * nparams - 1] = &block[3];
    nn_mem_free(g->values);
    nn_mem_free(g->grads);
    nn_mem_free(g->pviews);
    g->values = values;
    g->grads = grads;
    g->pviews = views;
    g->numel = numel;
    g->nparams = nparams;

    l->kind = LAYER_DENSE;
    l->out = units;
    l->w_off = w_off;
    l->b_off = b_off;
    if (g->first_dense < 0)
        g->first_dense = g->nlayers;
    commit_layer(g);
    nn_dense_init(g, l, NN_INIT_GLOROT_UNIFORM);
    point_views(g);
    return NN_OK;
}

static nn_status add_eltwise(nn_graph *g, const char *fn, nn_bk_eltwise_alg alg, float alpha)
{
    layer *l = NULL;
    nn_status s = layer_slot(g, fn, &l);
    if (s != NN_OK)
        return s;
    l->kind = LAYER_ACTIVATION;
    l->alg = alg;
    l->alpha = alpha;
    /* Fused into the dense layer before it when its backward needs only
     * the output, which the fused primitive still writes. */
    l->fused = l->input >= 0 && g->layers[l->input].kind == LAYER_DENSE &&
               nn_bk_eltwise_uses_dst(alg);
    commit_layer(g);
    return NN_OK;
}

nn_status nn_graph_add_activation(nn_graph *g, nn_activation a)
{
    static const nn_bk_eltwise_alg algs[] = {NN_BK_RELU, NN_BK_SIGMOID, NN_BK_TANH,
                                             NN_BK_GELU_ERF};
    if (g && ((int)a < 0 || (int)a > (int)NN_ACT_GELU))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_add_activation: unknown activation %d",
                       (int)a);
    return add_eltwise(g, __func__, g ? algs[a] : NN_BK_NONE, 0.0f);
}

nn_status nn_graph_add_leaky_relu(nn_graph *g, float alpha)
{
    if (g && !(alpha >= 0.0f && isfinite(alpha)))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_graph_add_leaky_relu: alpha is %g, must be finite and >= 0",
                       (double)alpha);
    return add_eltwise(g, __func__, NN_BK_RELU, alpha);
}

nn_status nn_graph_set_training_precision(nn_graph *g, nn_precision p)
{
    if (!g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_set_training_precision: g is NULL");
    if (p != NN_PRECISION_F32 && p != NN_PRECISION_BF16)
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_graph_set_training_precision: precision %d is not an nn_precision",
                       (int)p);
    if (g->pending)
        return nn_fail(NN_ERR_STATE, "nn_graph_set_training_precision: a training forward "
                                     "awaits its backward");
    if (p == NN_PRECISION_BF16 && !nn_kernels_bf16())
        return nn_fail(NN_ERR_UNSUPPORTED, "nn_graph_set_training_precision: bf16 needs a CPU "
                                           "with AVX512_BF16, which this one lacks");
    if (p != g->training_precision) {
        nn_graph_free_plans(g); /* rebuilt on next use, with or without bf16 buffers */
        g->training_precision = p;
    }
    return NN_OK;
}

nn_precision nn_graph_training_precision(const nn_graph *g)
{
    return g ? g->training_precision : NN_PRECISION_F32;
}

nn_status nn_graph_add_dropout(nn_graph *g, float rate)
{
    if (g && !(rate >= 0.0f && rate < 1.0f))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_add_dropout: rate is %g, must be in [0, 1)",
                       (double)rate);
    layer *l = NULL;
    nn_status s = layer_slot(g, __func__, &l);
    if (s != NN_OK)
        return s;
    l->kind = LAYER_DROPOUT;
    l->rate = rate;
    commit_layer(g);
    return NN_OK;
}

static nn_status add_head(nn_graph *g, const char *fn, layer_kind kind)
{
    layer *l = NULL;
    nn_status s = layer_slot(g, fn, &l);
    if (s != NN_OK)
        return s;
    l->kind = kind;
    commit_layer(g);
    return NN_OK;
}

nn_status nn_graph_add_softmax_cross_entropy(nn_graph *g)
{
    return add_head(g, __func__, LAYER_SOFTMAX_CE);
}

nn_status nn_graph_add_mse_loss(nn_graph *g)
{
    return add_head(g, __func__, LAYER_MSE);
}

nn_status nn_graph_init_params(nn_graph *g, nn_init scheme, uint64_t seed)
{
    if (!g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_init_params: g is NULL");
    if ((int)scheme < 0 || (int)scheme > (int)NN_INIT_HE_NORMAL)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_init_params: unknown scheme %d",
                       (int)scheme);
    nn_rng_seed(&g->rng, seed);
    for (int i = 0; i < g->nlayers; i++)
        if (g->layers[i].kind == LAYER_DENSE)
            nn_dense_init(g, &g->layers[i], scheme);
    nn_graph_values_changed(g);
    return NN_OK;
}

int nn_graph_has_softmax_head(const nn_graph *g)
{
    return g->nlayers && g->layers[g->nlayers - 1].kind == LAYER_SOFTMAX_CE;
}

int nn_graph_param_count(const nn_graph *g)
{
    return g ? g->nparams : 0;
}

nn_status nn_graph_param(nn_graph *g, int i, nn_tensor **value, nn_tensor **grad)
{
    if (!g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_param: g is NULL");
    if (i < 0 || i >= g->nparams)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_param: index %d, graph has %d parameters",
                       i, g->nparams);
    if (value)
        *value = g->pviews[i];
    if (grad)
        *grad = g->pviews[g->nparams + i];
    return NN_OK;
}

float *nn_graph_values(nn_graph *g)
{
    return g->values;
}

void nn_graph_values_changed(nn_graph *g)
{
    g->watch.version++;
}

float *nn_graph_param_values(nn_graph *g, int i)
{
    return g->pviews[i]->data;
}

float *nn_graph_grads(nn_graph *g)
{
    return g->grads;
}

int64_t nn_graph_numel(const nn_graph *g)
{
    return g->numel;
}

nn_status nn_graph_attach(nn_graph *g, nn_graph **slot)
{
    if (g->nwatchers == g->cap_watchers) {
        int cap = g->cap_watchers ? 2 * g->cap_watchers : 4;
        watcher *w = nn_mem_alloc((size_t)cap * sizeof *w);
        if (!w)
            return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory to attach to the graph");
        if (g->nwatchers)
            memcpy(w, g->watchers, (size_t)g->nwatchers * sizeof *w);
        nn_mem_free(g->watchers);
        g->watchers = w;
        g->cap_watchers = cap;
    }
    g->watchers[g->nwatchers++].slot = slot;
    return NN_OK;
}

void nn_graph_detach(nn_graph *g, nn_graph **slot)
{
    for (int k = 0; k < g->nwatchers; k++)
        if (g->watchers[k].slot == slot) {
            g->watchers[k] = g->watchers[--g->nwatchers];
            return;
        }
}

int nn_graph_layer_count(const nn_graph *g)
{
    return g->nlayers;
}

void nn_graph_layer_desc(const nn_graph *g, int i, nn_layer_desc *d)
{
    static const nn_activation acts[] = {
        [NN_BK_RELU] = NN_ACT_RELU, [NN_BK_SIGMOID] = NN_ACT_SIGMOID,
        [NN_BK_TANH] = NN_ACT_TANH, [NN_BK_GELU_ERF] = NN_ACT_GELU};
    const layer *l = &g->layers[i];
    memset(d, 0, sizeof *d);
    d->in = l->in;
    d->out = l->out;
    switch (l->kind) {
    case LAYER_DENSE:
        d->type = NN_LAYER_DENSE;
        d->w = g->values + l->w_off;
        d->b = g->values + l->b_off;
        break;
    case LAYER_ACTIVATION:
        d->type = l->alg == NN_BK_RELU && l->alpha != 0.0f ? NN_LAYER_LEAKY_RELU
                                                           : NN_LAYER_ACTIVATION;
        d->act = acts[l->alg];
        d->alpha = d->type == NN_LAYER_LEAKY_RELU ? l->alpha : 0.0f;
        break;
    case LAYER_DROPOUT:
        d->type = NN_LAYER_DROPOUT;
        d->rate = l->rate;
        break;
    case LAYER_SOFTMAX_CE: d->type = NN_LAYER_SOFTMAX_CE; break;
    case LAYER_MSE: d->type = NN_LAYER_MSE; break;
    }
}

void nn_graph_rng_get(const nn_graph *g, uint64_t state[4])
{
    memcpy(state, g->rng.s, sizeof g->rng.s);
}

void nn_graph_rng_set(nn_graph *g, const uint64_t state[4])
{
    memcpy(g->rng.s, state, sizeof g->rng.s);
}
