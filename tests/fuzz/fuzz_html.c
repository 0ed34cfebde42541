/*
 * fuzz_html.c — libFuzzer target for HTML text extraction, then chunking of the result (the
 * recursive and sentence chunkers see whatever the extractor produces).
 */
#include "knowledge/chunker.h"
#include "knowledge/html.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text;
    size_t len;
    if (rt_html_to_text((const char *)data, size, &text, &len) != RT_OK) return 0;
    if (strlen(text) != len) abort(); /* no NUL may come out of an entity */
    rt_chunker_params p = rt_chunker_default_params();
    p.chunk_tokens = 16;
    rt_span *sp;
    size_t n;
    for (int kind = RT_CHUNKER_FIXED; kind <= RT_CHUNKER_SENTENCE; kind++) {
        p.kind = (rt_chunker_kind)kind;
        if (rt_chunk_text(&p, NULL, text, len, &sp, &n) == RT_OK) {
            for (size_t i = 0; i < n; i++)
                if (sp[i].start >= sp[i].end || sp[i].end > len) abort();
            free(sp);
        }
    }
    free(text);
    return 0;
}
