/* tkern_avx512.c — the avx512 table of tkern.h (the kernels are in tkern_body.inc). */
#include "train/tkern.h"

#define TKERN(name) tkern_##name##_avx512
#define TKERN_LEVEL RT_CPU_AVX512
#define TKERN_TABLE tkern_table_avx512
#include "train/tkern_body.inc"
