/*
 * fuzz_bm25.c — libFuzzer target for the BM25 postings file reader: load or fail cleanly; a
 * loaded index must answer a search and accept deletes.
 */
#include "knowledge/bm25.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt_bm25_config cfg = rt_bm25_default_config();
    cfg.language = "none";
    rt_bm25 *b;
    if (rt_bm25_load_buffer(data, size, "fuzz", &cfg, &b) != RT_OK) return 0;
    rt_hit hits[4];
    rt_bm25_search(b, "alpha beta gamma", 16, 4, NULL, hits);
    rt_bm25_remove(b, 1);
    rt_bm25_search(b, "alpha beta gamma", 16, 4, NULL, hits);
    rt_bm25_free(b);
    return 0;
}
