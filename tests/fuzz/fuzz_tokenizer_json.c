/*
 * fuzz_tokenizer_json.c — libFuzzer target for the tokenizer.json loader: any bytes must load
 * or fail with an error, never crash, hang or leak. When a tokenizer loads, a few fixed texts
 * (and the input itself) are encoded and decoded, and the streaming decoder is exercised.
 */
#include "ragtune.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    rt_tokenizer *tok;
    if (rt_tokenizer_load_json((const char *)data, size, "fuzz.json", &tok) != RT_OK) return 0;
    const char *texts[] = {"", "Hello world", " \t\n  x", "\xF0\x9F\x98\x80\xE6\x97\xA5 <s>",
                           "\xFF\xC3"};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0] + 1; k++) {
        const char *t = k < 5 ? texts[k] : (const char *)data;
        size_t len = k < 5 ? strlen(t) : (size > 256 ? 256 : size);
        int32_t *ids;
        size_t n;
        if (rt_tokenizer_encode(tok, t, len, true, &ids, &n) != RT_OK) continue;
        char *out;
        size_t out_len;
        if (rt_tokenizer_decode(tok, ids, n, false, &out, &out_len) == RT_OK) free(out);
        rt_detokenizer *d;
        if (rt_detokenizer_new(tok, true, &d) == RT_OK) {
            const char *piece;
            size_t plen;
            for (size_t i = 0; i < n; i++)
                rt_detokenizer_push(d, ids[i], &piece, &plen);
            rt_detokenizer_flush(d, &piece, &plen);
            rt_detokenizer_free(d);
        }
        free(ids);
    }
    rt_tokenizer_free(tok);
    return 0;
}
