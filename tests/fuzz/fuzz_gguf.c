/*
 * fuzz_gguf.c — libFuzzer target: the GGUF reader on arbitrary bytes; for accepted files, every
 * metadata value and tensor byte is read (ASan catches a wrong bound) and the llama.cpp config
 * and weight mapping run.
 */
#include "model/gguf.h"
#include "model/model_file.h"

#include <stdint.h>

static void touch_value(const rt_gguf_value *v, volatile uint64_t *sink) {
    if (v->type == RT_GGUF_STRING) {
        for (size_t i = 0; i < v->len; i++)
            *sink += (uint8_t)v->str[i];
    } else if (v->type == RT_GGUF_ARRAY) {
        for (uint64_t i = 0; i < v->n; i++) {
            if (v->arr_type == RT_GGUF_STRING)
                *sink += v->lens[i] + (uint8_t)v->strs[i][0];
            else if (v->arr_type == RT_GGUF_ARRAY)
                touch_value(&v->items[i], sink);
            else
                *sink += (uint64_t)rt_gguf_arr_i64(v, i) + (rt_gguf_arr_f64(v, i) > 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt_gguf *g;
    if (rt_gguf_parse(data, size, "fuzz.gguf", &g) != 0) return 0;
    volatile uint64_t sink = 0;
    for (size_t i = 0; i < rt_gguf_n_kv(g); i++) {
        touch_value(rt_gguf_kv_value(g, i), &sink);
        (void)rt_gguf_find(g, rt_gguf_key(g, i));
    }
    for (size_t i = 0; i < rt_gguf_n_tensors(g); i++) {
        const rt_gguf_tensor *t = rt_gguf_tensor_at(g, i);
        const uint8_t *p = t->data;
        if (t->nbytes) sink += p[0] + p[t->nbytes - 1];
        (void)rt_gguf_find_tensor(g, t->name);
    }
    rt_model_config c;
    if (rt_gguf_model_config(g, &c) == 0) {
        rt_model_weights w;
        if (rt_gguf_model_weights(g, &c, &w) == 0) {
            size_t n = rt_model_weights_list(&c, &w, NULL, 0);
            (void)n;
            rt_model_weights_free(&w, c.n_layer);
        }
    }
    rt_gguf_close(g);
    return 0;
}
