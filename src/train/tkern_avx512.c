/* tkern_avx512.c — the avx512 table of tkern.h (the kernels are in tkern_body.inc). */
#include "train/tkern.h"

#define TK(name) tk_##name##_avx512
#define TK_LEVEL RT_CPU_AVX512
#include "train/tkern_body.inc"

const tk_table *tk_table_avx512(void) {
    return &TK(tab);
}
