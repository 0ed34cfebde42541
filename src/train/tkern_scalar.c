/* tkern_scalar.c — the scalar table of tkern.h (the kernels are in tkern_body.inc). */
#include "train/tkern.h"

#define TK(name) tk_##name##_scalar
#define TK_LEVEL RT_CPU_SCALAR
#include "train/tkern_body.inc"

const tk_table *tk_table_scalar(void) {
    return &TK(tab);
}
