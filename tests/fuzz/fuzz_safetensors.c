/*
 * fuzz_safetensors.c — libFuzzer target: the safetensors header parser on arbitrary bytes, then
 * a read of every tensor it accepts (ASan catches any range it got wrong).
 */
#include "model/safetensors.h"

#include <stdint.h>

volatile uint8_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt_safetensors st;
    if (rt_safetensors_parse(data, size, "fuzz.safetensors", &st) != 0) return 0;
    uint8_t sink = 0;
    for (size_t i = 0; i < st.n_tensors; i++) {
        const uint8_t *p = st.tensors[i].t.data;
        for (size_t j = 0; j < st.tensors[i].t.nbytes; j++)
            sink ^= p[j];
        (void)rt_safetensors_find(&st, st.tensors[i].t.name);
    }
    fuzz_sink = sink;
    (void)rt_safetensors_meta(&st, "format");
    rt_safetensors_close(&st);
    return 0;
}
