/* opkern_scalar.c — the scalar table of opkern.h (the kernels are in opkern_body.inc). */
#include "model/opkern.h"

#define OPKERN(name) opkern_##name##_scalar
#define OPKERN_LEVEL RT_CPU_SCALAR
#define OPKERN_TABLE opkern_table_scalar
#include "model/opkern_body.inc"
