/* Thread safety as docs/api-rules.md promises it: distinct handles may be
 * used from distinct threads at once. Two threads each build, train (50
 * nn_graph_train_step calls), evaluate and round-trip their own graph at
 * the same time, started together so that even the first graph creation
 * (the shared oneDNN engine) races; every parameter, loss and output must
 * then be bitwise what the same two runs give one after the other on the
 * main thread. Pairs: two ReLU MLPs (libnn's threaded executor, each with
 * its own worker pool), two deep tanh MLPs (more than the threaded
 * executor's 64 dense layers, so oneDNN primitives, each thread its own
 * OpenMP team), and one of each. nn_last_error() being per thread is
 * test_status's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nn/nn.h>
#include "test_main.h"

enum { STEPS = 50, BATCH = 32, ROWS = 256, IN = 32, CLASSES = 10, ROUNDS = 3 };

enum { RELU_MLP, TANH_MLP };

/* Dense layers the tanh MLP adds to pass the threaded executor's limit of
 * 64, so that it runs on oneDNN primitives. */
enum { DEEP_EXTRA = 62 };

typedef struct job {
    int kind;
    unsigned long long seed;
    pthread_barrier_t *start; /* NULL when run on the main thread */
    /* results */
    nn_status status;
    int line;
    char err[256];
    float losses[STEPS];
    float eval_loss, eval_acc;
    float *params;   /* every parameter, in order, malloc'd */
    size_t nparams;
    float *probs;    /* forward of the first 64 rows, malloc'd */
    float *reloaded; /* the same from the graph saved and loaded again */
} job;

static float urand(unsigned long long *s) /* uniform in [-1, 1) */
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*s >> 11) * 0x1.0p-52 - 1.0);
}

/* Inside a job thread: no Check assertion (it would end the whole test
 * process from the wrong thread); the first failure is recorded instead. */
#define TRY(expr)                                                                        \
    do {                                                                                 \
        nn_status s_ = (expr);                                                           \
        if (s_ != NN_OK) {                                                               \
            j->status = s_;                                                              \
            j->line = __LINE__;                                                          \
            snprintf(j->err, sizeof j->err, "%s: %s", #expr, nn_last_error());           \
            goto done;                                                                   \
        }                                                                                \
    } while (0)

static nn_status build(job *j, nn_graph **out, nn_optimizer **opt)
{
    nn_graph *g = NULL;
    nn_optimizer *o = NULL;
    nn_status s = nn_graph_create(&g, IN);
    if (s != NN_OK)
        return s;
    if (j->kind == RELU_MLP) {
        /* dense, ReLU, leaky ReLU, dropout: the threaded executor */
        if ((s = nn_graph_add_dense(g, 256)) || (s = nn_graph_add_activation(g, NN_ACT_RELU)) ||
            (s = nn_graph_add_dropout(g, 0.2f)) || (s = nn_graph_add_dense(g, 128)) ||
            (s = nn_graph_add_leaky_relu(g, 0.01f)))
            goto fail;
    } else {
        if ((s = nn_graph_add_dense(g, 96)) || (s = nn_graph_add_activation(g, NN_ACT_TANH)) ||
            (s = nn_graph_add_dense(g, 64)) || (s = nn_graph_add_activation(g, NN_ACT_SIGMOID)))
            goto fail;
        for (int k = 0; k < DEEP_EXTRA && s == NN_OK; k++)
            s = nn_graph_add_dense(g, 64);
        if (s != NN_OK)
            goto fail;
    }
    if ((s = nn_graph_add_dense(g, CLASSES)) || (s = nn_graph_add_softmax_cross_entropy(g)) ||
        (s = nn_graph_init_params(g, NN_INIT_GLOROT_UNIFORM, j->seed)))
        goto fail;
    if (j->kind == TANH_MLP) {
        /* the extra layers start as the identity, so the deep graph trains
         * like the shallow one it contains */
        for (int k = 2; k < 2 + DEEP_EXTRA; k++) {
            nn_tensor *w;
            if ((s = nn_graph_param(g, 2 * k, &w, NULL)) != NN_OK)
                goto fail;
            float *d = nn_tensor_data(w);
            memset(d, 0, 64 * 64 * sizeof *d);
            for (int i = 0; i < 64; i++)
                d[i * 64 + i] = 1.0f;
        }
    }
    /* Adam for both: plain SGD through 62 identity layers either diverges
     * or stalls within the 50 steps, depending on the rate */
    s = nn_adam_create(&o, g, 1e-3f);
    if (s == NN_OK && j->kind == TANH_MLP)
        s = nn_optimizer_set_weight_decay(o, 1e-4f);
    if (s != NN_OK)
        goto fail;
    *out = g;
    *opt = o;
    return NN_OK;
fail:
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
    return s;
}

static void *run_job(void *arg)
{
    job *j = arg;
    nn_graph *g = NULL, *h = NULL;
    nn_optimizer *o = NULL;
    nn_tensor *x = NULL, *batch = NULL, *head = NULL, *p = NULL, *q = NULL;
    void *buf = NULL;
    size_t size = 0;
    int32_t labels[ROWS];
    j->status = NN_OK;
    if (j->start)
        pthread_barrier_wait(j->start);

    TRY(build(j, &g, &o));
    TRY(nn_tensor_create(&x, 2, (int64_t[]){ROWS, IN}));
    TRY(nn_tensor_create(&batch, 2, (int64_t[]){BATCH, IN}));
    TRY(nn_tensor_create(&head, 2, (int64_t[]){64, IN}));
    TRY(nn_tensor_create(&p, 2, (int64_t[]){64, CLASSES}));
    TRY(nn_tensor_create(&q, 2, (int64_t[]){64, CLASSES}));
    unsigned long long s = j->seed * 7919u + 1;
    float *xd = nn_tensor_data(x);
    for (int r = 0; r < ROWS; r++) {
        for (int c = 0; c < IN; c++)
            xd[r * IN + c] = urand(&s);
        int best = 0; /* the class is the largest of the first ten features */
        for (int c = 1; c < CLASSES; c++)
            best = xd[r * IN + c] > xd[r * IN + best] ? c : best;
        labels[r] = best;
    }
    for (int step = 0; step < STEPS; step++) {
        int r0 = (step * BATCH) % ROWS;
        TRY(nn_tensor_copy_from(batch, xd + r0 * IN, BATCH * IN));
        TRY(nn_graph_train_step(g, o, batch, labels + r0, &j->losses[step]));
    }
    TRY(nn_graph_evaluate(g, x, labels, &j->eval_loss, &j->eval_acc));
    TRY(nn_tensor_copy_from(head, xd, 64 * IN));
    TRY(nn_graph_forward(g, head, p));
    TRY(nn_graph_save_buffer(g, &buf, &size));
    TRY(nn_graph_load_buffer(&h, buf, size));
    TRY(nn_graph_forward(h, head, q));

    j->nparams = 0;
    for (int i = 0; i < nn_graph_param_count(g); i++) {
        nn_tensor *v = NULL;
        TRY(nn_graph_param(g, i, &v, NULL));
        j->nparams += (size_t)nn_tensor_numel(v);
    }
    j->params = malloc(j->nparams * sizeof(float));
    j->probs = malloc(64 * CLASSES * sizeof(float));
    j->reloaded = malloc(64 * CLASSES * sizeof(float));
    if (!j->params || !j->probs || !j->reloaded)
        TRY(NN_ERR_OUT_OF_MEMORY);
    size_t off = 0;
    for (int i = 0; i < nn_graph_param_count(g); i++) {
        nn_tensor *v = NULL;
        TRY(nn_graph_param(g, i, &v, NULL));
        TRY(nn_tensor_copy_to(v, j->params + off, nn_tensor_numel(v)));
        off += (size_t)nn_tensor_numel(v);
    }
    TRY(nn_tensor_copy_to(p, j->probs, 64 * CLASSES));
    TRY(nn_tensor_copy_to(q, j->reloaded, 64 * CLASSES));
done:
    nn_free(buf);
    nn_tensor_destroy(x);
    nn_tensor_destroy(batch);
    nn_tensor_destroy(head);
    nn_tensor_destroy(p);
    nn_tensor_destroy(q);
    nn_optimizer_destroy(o);
    nn_graph_destroy(h);
    nn_graph_destroy(g);
    return NULL;
}

static void job_free(job *j)
{
    free(j->params);
    free(j->probs);
    free(j->reloaded);
    j->params = j->probs = j->reloaded = NULL;
}

static void assert_ok(const job *j, const char *where)
{
    ck_assert_msg(j->status == NN_OK, "%s: line %d: %s", where, j->line, j->err);
}

static void assert_same(const job *a, const job *b, const char *what)
{
    ck_assert_uint_eq(a->nparams, b->nparams);
    ck_assert_msg(memcmp(a->params, b->params, a->nparams * sizeof(float)) == 0,
                  "%s: parameters differ from the sequential run", what);
    ck_assert_msg(memcmp(a->losses, b->losses, sizeof a->losses) == 0,
                  "%s: losses differ from the sequential run", what);
    ck_assert_msg(memcmp(a->probs, b->probs, 64 * CLASSES * sizeof(float)) == 0,
                  "%s: outputs differ from the sequential run", what);
    ck_assert_msg(a->eval_loss == b->eval_loss && a->eval_acc == b->eval_acc,
                  "%s: evaluation differs from the sequential run", what);
}

/* _i: 0 two ReLU MLPs, 1 two tanh MLPs, 2 one of each */
START_TEST(two_threads_match_sequential)
{
    static const int kinds[3][2] = {{RELU_MLP, RELU_MLP}, {TANH_MLP, TANH_MLP},
                                    {RELU_MLP, TANH_MLP}};
    static const char *const names[3] = {"two ReLU MLPs", "two tanh MLPs", "ReLU and tanh"};
    ck_assert_int_eq(nn_set_num_threads(2), NN_OK);
    job conc[ROUNDS][2], seq[2];
    memset(conc, 0, sizeof conc);
    memset(seq, 0, sizeof seq);

    /* concurrent first, so the two threads also race to create the engine */
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_t start;
        ck_assert_int_eq(pthread_barrier_init(&start, NULL, 2), 0);
        pthread_t th[2];
        for (int t = 0; t < 2; t++) {
            conc[round][t].kind = kinds[_i][t];
            conc[round][t].seed = 100u + (unsigned)t;
            conc[round][t].start = &start;
            ck_assert_int_eq(pthread_create(&th[t], NULL, run_job, &conc[round][t]), 0);
        }
        for (int t = 0; t < 2; t++)
            ck_assert_int_eq(pthread_join(th[t], NULL), 0);
        pthread_barrier_destroy(&start);
        for (int t = 0; t < 2; t++)
            assert_ok(&conc[round][t], "concurrent run");
    }
    for (int t = 0; t < 2; t++) {
        seq[t].kind = kinds[_i][t];
        seq[t].seed = 100u + (unsigned)t;
        run_job(&seq[t]);
        assert_ok(&seq[t], "sequential run");
    }
    for (int t = 0; t < 2; t++) {
        /* the run learned something and the reloaded copy predicts the same */
        ck_assert_float_lt(seq[t].losses[STEPS - 1], seq[t].losses[0]);
        ck_assert_mem_eq(seq[t].probs, seq[t].reloaded, 64 * CLASSES * sizeof(float));
        for (int round = 0; round < ROUNDS; round++) {
            char what[64];
            snprintf(what, sizeof what, "%s, round %d, thread %d", names[_i], round, t);
            assert_same(&conc[round][t], &seq[t], what);
            ck_assert_mem_eq(conc[round][t].reloaded, seq[t].probs,
                             64 * CLASSES * sizeof(float));
            job_free(&conc[round][t]);
        }
    }
    /* distinct seeds: the two runs really are different work */
    if (kinds[_i][0] == kinds[_i][1])
        ck_assert_int_ne(memcmp(seq[0].params, seq[1].params, seq[0].nparams * sizeof(float)), 0);
    printf("threads: %s: %d concurrent rounds of %d steps each equal the sequential runs\n",
           names[_i], ROUNDS, STEPS);
    job_free(&seq[0]);
    job_free(&seq[1]);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, two_threads_match_sequential, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}
