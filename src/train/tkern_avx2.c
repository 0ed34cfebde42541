/* tkern_avx2.c — the avx2 table of tkern.h (the kernels are in tkern_body.inc). */
#include "train/tkern.h"

#define TK(name) tk_##name##_avx2
#define TK_LEVEL RT_CPU_AVX2
#include "train/tkern_body.inc"

const tk_table *tk_table_avx2(void) {
    return &TK(tab);
}
