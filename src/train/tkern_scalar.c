/* tkern_scalar.c — the scalar table of tkern.h (the kernels are in tkern_body.inc). */
#include "train/tkern.h"

#define TKERN(name) tkern_##name##_scalar
#define TKERN_LEVEL RT_CPU_SCALAR
#define TKERN_TABLE tkern_table_scalar
#include "train/tkern_body.inc"
