/* libFuzzer target: nn_graph_load_buffer on arbitrary bytes. It must never
 * crash, leak or read out of bounds, and a model it accepts must save back
 * to exactly the bytes it was loaded from (the format has one encoding per
 * graph). Build and run with tests/fuzz/run.sh.
 *
 * Random bytes almost never carry a valid CRC-32, so the parser behind it
 * would go unexplored: each input is also tried with its header's body size
 * and CRC made to agree with its body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <nn/nn.h>
#include <nn/io.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_load(const uint8_t *data, size_t size)
{
    nn_graph *g = NULL;
    /* libFuzzer may pass NULL for the empty input. */
    if (nn_graph_load_buffer(&g, size ? (const void *)data : "", size) != NN_OK)
        return;
    void *again = NULL;
    size_t n = 0;
    if (nn_graph_save_buffer(g, &again, &n) != NN_OK || n != size || memcmp(again, data, n) != 0)
        abort();
    nn_free(again);
    nn_graph_destroy(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_load(data, size);
    if (size < 24)
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    uint64_t body = size - 24;
    uint32_t crc = (uint32_t)crc32(0L, copy + 24, (uInt)body);
    for (int i = 0; i < 4; i++)
        copy[12 + i] = (uint8_t)(crc >> (8 * i));
    for (int i = 0; i < 8; i++)
        copy[16 + i] = (uint8_t)(body >> (8 * i));
    if (memcmp(copy, data, 24) != 0)
        try_load(copy, size);
    free(copy);
    return 0;
}
