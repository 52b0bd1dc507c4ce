/* Writes the seed corpus of fuzz_model_load into a directory: small valid
 * models of every layer kind ("ok-*", which must load) and damaged ones
 * ("bad-*", which must give NN_ERR_FORMAT). tests/test_io.c replays them.
 *
 *     make_corpus tests/fuzz/corpus/model
 *
 * Built by hand against libnn, e.g.
 *     cc -Iinclude -Ibuild/include tests/fuzz/make_corpus.c build/libnn.a \
 *        -ldnnl -lz -lm -fopenmp -o make_corpus */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <nn/nn.h>
#include <nn/io.h>

static const char *outdir;

static void die(const char *what)
{
    fprintf(stderr, "make_corpus: %s: %s\n", what, nn_last_error());
    exit(1);
}

static void put(const char *name, const uint8_t *b, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", outdir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s\n", p);
        exit(1);
    }
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void reseal(uint8_t *b, size_t n)
{
    le64(b + 16, n - 24);
    le32(b + 12, (uint32_t)crc32(0L, b + 24, (uInt)(n - 24)));
}

/* Layers as a string: D<units> dense, r relu, l leaky 0.1, s sigmoid,
 * t tanh, g gelu, d dropout 0.25, C softmax CE, M MSE. */
static nn_graph *build(int64_t in, const char *layers, uint64_t seed)
{
    nn_graph *g = NULL;
    if (nn_graph_create(&g, in) != NN_OK)
        die("create");
    for (const char *c = layers; *c; c++) {
        nn_status s = NN_OK;
        switch (*c) {
        case 'D': s = nn_graph_add_dense(g, strtol(c + 1, NULL, 10)); while (c[1] >= '0' && c[1] <= '9') c++; break;
        case 'r': s = nn_graph_add_activation(g, NN_ACT_RELU); break;
        case 'l': s = nn_graph_add_leaky_relu(g, 0.1f); break;
        case 's': s = nn_graph_add_activation(g, NN_ACT_SIGMOID); break;
        case 't': s = nn_graph_add_activation(g, NN_ACT_TANH); break;
        case 'g': s = nn_graph_add_activation(g, NN_ACT_GELU); break;
        case 'd': s = nn_graph_add_dropout(g, 0.25f); break;
        case 'C': s = nn_graph_add_softmax_cross_entropy(g); break;
        case 'M': s = nn_graph_add_mse_loss(g); break;
        default: break;
        }
        if (s != NN_OK)
            die(layers);
    }
    if (nn_graph_init_params(g, NN_INIT_GLOROT_UNIFORM, seed) != NN_OK)
        die("init");
    return g;
}

/* The saved model of the graph, malloc'd with room for 64 more bytes. */
static uint8_t *model(int64_t in, const char *layers, uint64_t seed, size_t *n)
{
    nn_graph *g = build(in, layers, seed);
    void *b = NULL;
    if (nn_graph_save_buffer(g, &b, n) != NN_OK)
        die("save");
    uint8_t *copy = malloc(*n + 64);
    memcpy(copy, b, *n);
    nn_free(b);
    nn_graph_destroy(g);
    return copy;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    static const struct {
        const char *name;
        int64_t in;
        const char *layers;
    } ok[] = {
        {"ok-dense.nnm", 3, "D2"},
        {"ok-relu-softmax.nnm", 4, "D5rD3C"},
        {"ok-sigmoid-mse.nnm", 2, "D3sD1M"},
        {"ok-tanh-gelu.nnm", 3, "D4tgD2"},
        {"ok-leaky-dropout-softmax.nnm", 3, "D4ldD2C"},
        {"ok-no-layers.nnm", 5, ""},
        {"ok-no-parameters.nnm", 3, "dtC"},
        {"ok-deep.nnm", 2, "D3rD3sD3tD3gD3lD2dM"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n;
        uint8_t *b = model(ok[i].in, ok[i].layers, 11 + i, &n);
        put(ok[i].name, b, n);
        free(b);
    }

    /* Damaged copies of in 4 -> dense 5 -> relu -> dense 3 -> softmax:
     * layer i's record at 40 + 24 i, 4 layers, so the generator at 136,
     * the parameter count at 168, the parameters at 176. */
    size_t n;
    uint8_t *base = model(4, "D5rD3C", 11 + 1, &n), *b = malloc(n + 64);

    put("bad-empty.nnm", base, 0);
    put("bad-truncated-header.nnm", base, 20);
    put("bad-truncated.nnm", base, n / 2);
    memcpy(b, base, n);
    b[n] = 0;
    put("bad-trailing-byte.nnm", b, n + 1);
    memcpy(b, base, n);
    b[2] = 'X';
    put("bad-magic.nnm", b, n);
    memcpy(b, base, n);
    le32(b + 8, 2);
    put("bad-newer-version.nnm", b, n);
    memcpy(b, base, n);
    b[200] ^= 0x04;
    put("bad-bit-flip.nnm", b, n);
    memcpy(b, base, n);
    le32(b + 40 + 24, 7);
    reseal(b, n);
    put("bad-unknown-layer-kind.nnm", b, n);
    memcpy(b, base, n);
    le64(b + 40 + 8, UINT64_C(1) << 62);
    reseal(b, n);
    put("bad-absurd-units.nnm", b, n);
    memcpy(b, base, n);
    le32(b + 32, 1u << 20);
    reseal(b, n);
    put("bad-absurd-layer-count.nnm", b, n);
    memcpy(b, base, n);
    le32(b + 40 + 3 * 24, 5); /* the head becomes MSE: fine */
    le32(b + 40 + 1 * 24, 4); /* the relu becomes a head: not last */
    le32(b + 40 + 1 * 24 + 4, 0);
    reseal(b, n);
    put("bad-head-not-last.nnm", b, n);
    memcpy(b, base, n);
    le64(b + 168, 1000);
    reseal(b, n);
    put("bad-parameter-count.nnm", b, n);
    free(b);
    free(base);
    return 0;
}
