/* tkern_avx2.c — the avx2 table of tkern.h (the kernels are in tkern_body.inc). */
#include "train/tkern.h"

#define TKERN(name) tkern_##name##_avx2
#define TKERN_LEVEL RT_CPU_AVX2
#define TKERN_TABLE tkern_table_avx2
#include "train/tkern_body.inc"
