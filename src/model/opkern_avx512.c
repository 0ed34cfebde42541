/* opkern_avx512.c — the avx512 table of opkern.h (the kernels are in opkern_body.inc). */
#include "model/opkern.h"

#define OPKERN(name) opkern_##name##_avx512
#define OPKERN_LEVEL RT_CPU_AVX512
#define OPKERN_TABLE opkern_table_avx512
#include "model/opkern_body.inc"
