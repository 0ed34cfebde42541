/* tkern_scalar.c — the scalar table of tkern.h (the kernels are in tkern_body.inc). */
#include "train/tkern.h"

#define TKERN(name) tkern_##name##_scalar
#define TKERN_LEVEL RT_CPU_SCALAR
#include "train/tkern_body.inc"

const tkern_table *tkern_table_scalar(void) {
    return &TKERN(tab);
}
