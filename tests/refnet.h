/* A double-precision reference of libnn's chain graphs, for the tests:
 * forward loss and backward gradients written plainly from the formulas,
 * independent of oneDNN. Shapes: N rows, widths[i] features after layer i. */
#ifndef NN_TEST_REFNET_H
#define NN_TEST_REFNET_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum ref_kind { REF_DENSE, REF_RELU, REF_SIGMOID, REF_TANH, REF_GELU, REF_DROPOUT, REF_SOFTMAX_CE,
                REF_MSE };

typedef struct ref_layer {
    int kind;
    int in, out;
    double alpha;       /* leaky slope for REF_RELU */
    double *w, *b;      /* dense: [out, in], [out] */
    double *gw, *gb;    /* their gradients */
    const float *mask;  /* dropout: the mask libnn drew, [N, out] */
} ref_layer;

static double ref_act(int kind, double x, double alpha)
{
    switch (kind) {
    case REF_RELU: return x > 0 ? x : alpha * x;
    case REF_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case REF_TANH: return tanh(x);
    case REF_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    }
    return x;
}

static double ref_act_grad(int kind, double x, double alpha)
{
    switch (kind) {
    case REF_RELU: return x > 0 ? 1.0 : alpha;
    case REF_SIGMOID: { double s = 1.0 / (1.0 + exp(-x)); return s * (1.0 - s); }
    case REF_TANH: { double t = tanh(x); return 1.0 - t * t; }
    case REF_GELU:
        return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
    }
    return 1.0;
}

/* Loss of the chain on x [n, in]; labels (or targets [n, out]) for the head.
 * With grads != 0 also fills every layer's gw/gb. acts must hold
 * (nl + 1) buffers of n * max width doubles. */
static double ref_run(ref_layer *ls, int nl, int n, const double *x, const int *labels,
                      const double *targets, int grads, double **acts)
{
    memcpy(acts[0], x, sizeof(double) * (size_t)(n * ls[0].in));
    double loss = 0.0;
    for (int i = 0; i < nl; i++) {
        ref_layer *l = &ls[i];
        const double *a = acts[i];
        double *z = acts[i + 1];
        for (int r = 0; r < n; r++) {
            for (int o = 0; o < l->out; o++) {
                const double *ar = a + r * l->in;
                double *zr = z + r * l->out;
                switch (l->kind) {
                case REF_DENSE: {
                    double s = l->b[o];
                    for (int k = 0; k < l->in; k++)
                        s += ar[k] * l->w[o * l->in + k];
                    zr[o] = s;
                    break;
                }
                case REF_DROPOUT: zr[o] = ar[o] * l->mask[r * l->out + o]; break;
                case REF_SOFTMAX_CE:
                case REF_MSE: zr[o] = ar[o]; break;
                default: zr[o] = ref_act(l->kind, ar[o], l->alpha);
                }
            }
        }
    }
    ref_layer *head = &ls[nl - 1];
    int c = head->out;
    const double *z = acts[nl];
    double *d = malloc(sizeof(double) * (size_t)(n * c)), *dn;
    for (int r = 0; r < n; r++) {
        const double *zr = z + r * c;
        if (head->kind == REF_SOFTMAX_CE) {
            double m = zr[0], s = 0.0;
            for (int k = 1; k < c; k++)
                m = fmax(m, zr[k]);
            for (int k = 0; k < c; k++)
                s += exp(zr[k] - m);
            double lse = m + log(s);
            for (int k = 0; k < c; k++) {
                double t = labels ? (k == labels[r]) : targets[r * c + k];
                loss += t * (lse - zr[k]);
                d[r * c + k] = (exp(zr[k] - lse) - t) / n;
            }
        } else {
            for (int k = 0; k < c; k++) {
                double e = zr[k] - targets[r * c + k];
                loss += e * e;
                d[r * c + k] = 2.0 * e / ((double)n * c);
            }
        }
    }
    loss /= head->kind == REF_SOFTMAX_CE ? n : (double)n * c;
    if (!grads) {
        free(d);
        return loss;
    }
    /* d holds dLoss/d(output of layer nl-2) == head input */
    for (int i = nl - 2; i >= 0; i--) {
        ref_layer *l = &ls[i];
        const double *a = acts[i], *zz = acts[i + 1];
        (void)zz;
        dn = calloc((size_t)(n * l->in), sizeof(double));
        for (int r = 0; r < n; r++) {
            for (int o = 0; o < l->out; o++) {
                double g = d[r * l->out + o];
                switch (l->kind) {
                case REF_DENSE:
                    for (int k = 0; k < l->in; k++)
                        dn[r * l->in + k] += g * l->w[o * l->in + k];
                    break;
                case REF_DROPOUT: dn[r * l->in + o] = g * l->mask[r * l->out + o]; break;
                default: dn[r * l->in + o] = g * ref_act_grad(l->kind, a[r * l->in + o], l->alpha);
                }
            }
        }
        if (l->kind == REF_DENSE) {
            memset(l->gw, 0, sizeof(double) * (size_t)(l->out * l->in));
            memset(l->gb, 0, sizeof(double) * (size_t)l->out);
            for (int r = 0; r < n; r++)
                for (int o = 0; o < l->out; o++) {
                    double g = d[r * l->out + o];
                    l->gb[o] += g;
                    for (int k = 0; k < l->in; k++)
                        l->gw[o * l->in + k] += g * a[r * l->in + k];
                }
        }
        free(d);
        d = dn;
    }
    free(d);
    return loss;
}

#endif
