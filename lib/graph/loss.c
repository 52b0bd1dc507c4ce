/* Loss heads over x [N, O].
 * Softmax cross-entropy, fused: p = softmax(x) per row, loss = mean_n
 * sum_k -t_k log p_k computed as t_k (logsumexp(x) - x_k) so that large
 * logits stay finite; backward dx = (p - t) / N.
 * MSE: loss = mean over N*O of (x - t)^2; backward dx = 2 (x - t) / (N*O). */
#include <math.h>

#include "graph_impl.h"

float nn_softmax_ce_forward(const plan *p, int64_t o, const float *x, float *probs, int training)
{
    double total = 0.0;
    for (int64_t r = 0; r < p->n; r++) {
        const float *z = x + r * o;
        float *pr = probs + r * o;
        float m = z[0];
        for (int64_t k = 1; k < o; k++)
            m = z[k] > m ? z[k] : m;
        /* one exp per element (e rounded to float, then scaled): half the
         * exp calls of exp(z - lse), within an ulp of it */
        double sum = 0.0;
        for (int64_t k = 0; k < o; k++) {
            double e = exp((double)z[k] - m);
            pr[k] = (float)e;
            sum += e;
        }
        double lse = m + log(sum), inv = 1.0 / sum;
        for (int64_t k = 0; k < o; k++)
            pr[k] = (float)((double)pr[k] * inv);
        if (!training)
            continue;
        if (p->use_labels) {
            total += lse - z[p->labels[r]];
        } else {
            const float *t = p->targets + r * o;
            for (int64_t k = 0; k < o; k++)
                if (t[k] != 0.0f)
                    total += (double)t[k] * (lse - z[k]);
        }
    }
    return (float)(total / (double)p->n);
}

void nn_softmax_ce_backward(const plan *p, int64_t o, const float *probs, float *dx)
{
    float inv_n = 1.0f / (float)p->n;
    for (int64_t r = 0; r < p->n; r++) {
        const float *pr = probs + r * o;
        float *d = dx + r * o;
        if (p->use_labels) {
            for (int64_t k = 0; k < o; k++)
                d[k] = pr[k] * inv_n;
            d[p->labels[r]] = (pr[p->labels[r]] - 1.0f) * inv_n;
        } else {
            const float *t = p->targets + r * o;
            for (int64_t k = 0; k < o; k++)
                d[k] = (pr[k] - t[k]) * inv_n;
        }
    }
}

float nn_mse_forward(const plan *p, int64_t o, const float *x)
{
    double total = 0.0;
    int64_t n = p->n * o;
    for (int64_t k = 0; k < n; k++) {
        double e = (double)x[k] - p->targets[k];
        total += e * e;
    }
    return (float)(total / (double)n);
}

void nn_mse_backward(const plan *p, int64_t o, const float *x, float *dx)
{
    int64_t n = p->n * o;
    float scale = 2.0f / (float)n;
    for (int64_t k = 0; k < n; k++)
        dx[k] = (x[k] - p->targets[k]) * scale;
}
