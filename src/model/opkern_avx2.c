/* opkern_avx2.c — the avx2 table of opkern.h (the kernels are in opkern_body.inc). */
#include "model/opkern.h"

#define OPKERN(name) opkern_##name##_avx2
#define OPKERN_LEVEL RT_CPU_AVX2
#define OPKERN_TABLE opkern_table_avx2
#include "model/opkern_body.inc"
