/*
 * fuzz_hf_tokenizer.c — libFuzzer target: tokenizer.json -> tokenizer.ggml.* translation
 * (rt_hf_gguf_tokenizer_parse) on arbitrary bytes; every produced KV is read back.
 */
#include "model/hf_tokenizer.h"
#include "ragtune.h"

#include <stdint.h>
#include <string.h>

volatile size_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt_log_set_level(RT_LOG_ERROR); /* unrecognized pre-tokenizers only warn */
    rt_hf_gguf_tokenizer t;
    if (rt_hf_gguf_tokenizer_parse((const char *)data, size, NULL, 0, 512, "fuzz/tokenizer.json",
                                   &t) != 0)
        return 0;
    size_t sink = 0;
    for (size_t i = 0; i < t.n_kvs; i++) {
        const rt_gguf_value *v = &t.kvs[i].value;
        sink += strlen(t.kvs[i].key);
        if (v->type == RT_GGUF_STRING) sink += strlen(v->str);
        if (v->type == RT_GGUF_ARRAY && v->arr_type == RT_GGUF_STRING)
            for (uint64_t k = 0; k < v->n; k++)
                sink += strlen(v->strs[k]) + v->lens[k];
        if (v->type == RT_GGUF_ARRAY && v->arr_type != RT_GGUF_STRING)
            for (uint64_t k = 0; k < v->n; k++)
                sink += (size_t)rt_gguf_arr_i64(v, k);
    }
    fuzz_sink = sink;
    rt_hf_gguf_tokenizer_free(&t);
    return 0;
}
