/* The grow-and-read loop behind nn_graph_load, nn_optimizer_load and the
 * IDX file loaders; the byte source is the caller's. */
#include <string.h>

#include "core/core.h"
#include "io/io_internal.h"

enum { READ_CHUNK = 1 << 30 }; /* gzread takes an unsigned, returns an int */

nn_status nn_io_read_all(const nn_io_source *src, size_t cap, uint8_t **out, size_t *size)
{
    const size_t limit = src->limit;
    uint8_t *buf = nn_mem_alloc(cap);
    if (!buf)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: %s: no memory for a %zu-byte read buffer",
                       src->fn, src->path, cap);
    nn_status s = NN_OK;
    size_t len = 0;
    for (;;) {
        uint8_t probe[4096];
        size_t room = cap - len;
        /* When the buffer is full, a small read tells end of file from more
         * data, so an exactly-sized buffer is not grown for nothing. */
        size_t want = room > 0 ? (room < READ_CHUNK ? room : READ_CHUNK) : sizeof probe;
        size_t r = 0;
        s = src->read(src, room > 0 ? buf + len : probe, want, &r);
        if (s != NN_OK || r == 0)
            break;
        if (room > 0) {
            len += r;
            continue;
        }
        if (r > limit - len) {
            s = nn_fail(NN_ERR_UNSUPPORTED, "%s: %s: larger than %zu bytes, %s", src->fn,
                        src->path, limit, src->limit_name);
            break;
        }
        size_t ncap = cap <= limit / 2 ? 2 * cap : limit;
        if (ncap < len + r)
            ncap = len + r;
        uint8_t *nbuf = nn_mem_alloc(ncap);
        if (!nbuf) {
            s = nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: %s: no memory for a %zu-byte read buffer",
                        src->fn, src->path, ncap);
            break;
        }
        memcpy(nbuf, buf, len);
        memcpy(nbuf + len, probe, r);
        nn_mem_free(buf);
        buf = nbuf;
        cap = ncap;
        len += r;
    }
    if (s != NN_OK) {
        nn_mem_free(buf);
        return s;
    }
    *out = buf;
    *size = len;
    return NN_OK;
}
