/* mnist_predict — the worked example of embedding libnn: load a model saved
 * by nn_graph_save(), classify images with it. Uses only <nn/nn.h>.
 *
 *     mnist_predict model.nnm t10k-images-idx3-ubyte.gz
 *         one predicted class per line
 *     mnist_predict model.nnm t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
 *         accuracy: 88.12% (8812/10000), then the first predictions
 *
 * Exit status: 0 on success, 1 when a file or libnn fails, 2 on bad usage. */
#include <nn/nn.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 256, SHOW = 10 };

/* Index of the largest of n values. */
static int64_t argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t k = 1; k < n; k++)
        if (v[k] > v[best])
            best = k;
    return best;
}

/* Runs the model over every row of images, BATCH rows at a time, and
 * writes each row's predicted class into pred. */
static nn_status predict(nn_graph *g, nn_tensor *images, int32_t *pred)
{
    int64_t rows = nn_tensor_dim(images, 0), in = nn_tensor_dim(images, 1);
    int64_t out = nn_graph_out_features(g);
    nn_tensor *x = NULL, *y = NULL;
    nn_status s = NN_OK;
    for (int64_t r = 0; r < rows && s == NN_OK; r += BATCH) {
        int64_t n = rows - r < BATCH ? rows - r : BATCH;
        if (nn_tensor_dim(x, 0) != n) { /* the first batch, and a shorter last one */
            nn_tensor_destroy(x);
            nn_tensor_destroy(y);
            x = y = NULL;
            if ((s = nn_tensor_create(&x, 2, (int64_t[]){n, in})) != NN_OK ||
                (s = nn_tensor_create(&y, 2, (int64_t[]){n, out})) != NN_OK)
                break;
        }
        memcpy(nn_tensor_data(x), nn_tensor_data(images) + r * in, (size_t)(n * in) * sizeof(float));
        if ((s = nn_graph_forward(g, x, y)) != NN_OK)
            break;
        for (int64_t i = 0; i < n; i++)
            pred[r + i] = (int32_t)argmax(nn_tensor_data(y) + i * out, out);
    }
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: mnist_predict MODEL IMAGES.idx[.gz] [LABELS.idx[.gz]]\n");
        return 2;
    }
    nn_graph *g = NULL;
    nn_tensor *images = NULL;
    int32_t *labels = NULL, *pred = NULL;
    int64_t rows = 0, nlabels = 0;
    int rc = 1;

    if (nn_graph_load(&g, argv[1]) != NN_OK || nn_idx_load_images(&images, argv[2]) != NN_OK ||
        (argc == 4 && nn_idx_load_labels(&labels, &nlabels, argv[3]) != NN_OK)) {
        fprintf(stderr, "mnist_predict: %s\n", nn_last_error());
        goto done;
    }
    rows = nn_tensor_dim(images, 0);
    if (nn_tensor_dim(images, 1) != nn_graph_in_features(g)) {
        fprintf(stderr, "mnist_predict: %s has %lld pixels per image, the model expects %lld\n",
                argv[2], (long long)nn_tensor_dim(images, 1), (long long)nn_graph_in_features(g));
        goto done;
    }
    if (labels && nlabels != rows) {
        fprintf(stderr, "mnist_predict: %s has %lld images, %s has %lld labels\n", argv[2],
                (long long)rows, argv[3], (long long)nlabels);
        goto done;
    }
    pred = malloc((size_t)rows * sizeof *pred);
    if (!pred) {
        fprintf(stderr, "mnist_predict: no memory for %lld predictions\n", (long long)rows);
        goto done;
    }
    if (predict(g, images, pred) != NN_OK) {
        fprintf(stderr, "mnist_predict: %s\n", nn_last_error());
        goto done;
    }

    if (!labels) {
        for (int64_t i = 0; i < rows; i++)
            printf("%d\n", (int)pred[i]);
    } else {
        int64_t right = 0;
        for (int64_t i = 0; i < rows; i++)
            right += pred[i] == labels[i];
        printf("accuracy: %.2f%% (%lld/%lld)\n", 100.0 * (double)right / (double)rows,
               (long long)right, (long long)rows);
        for (int64_t i = 0; i < rows && i < SHOW; i++)
            printf("image %lld: predicted %d, label %d%s\n", (long long)i, (int)pred[i],
                   (int)labels[i], pred[i] == labels[i] ? "" : "  (wrong)");
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
done:
    free(pred);
    nn_idx_free_labels(labels);
    nn_tensor_destroy(images);
    nn_graph_destroy(g);
    return rc;
}
