/*
 * fuzz_hnsw.c — libFuzzer target for the HNSW index file reader: any input must load cleanly
 * or fail with an error, never crash; a loaded index must answer a search.
 */
#include "knowledge/hnsw.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt_hnsw *h;
    if (rt_hnsw_load_buffer(data, size, "fuzz", &h) != RT_OK) return 0;
    int dim = rt_hnsw_dim(h);
    float *q = calloc((size_t)dim, sizeof *q);
    rt_hit hits[4];
    if (q) {
        q[0] = 1;
        rt_hnsw_search(h, q, 4, 16, NULL, hits);
        rt_hnsw_search_exact(h, q, 4, NULL, hits);
        rt_hnsw_add(h, INT64_MAX, q);
    }
    free(q);
    rt_hnsw_free(h);
    return 0;
}
