/* opkern.c — registers the inference row-kernel tables of each level with core/dispatch. */
#include "model/opkern.h"
#include "core/dispatch.h"

RT_DISPATCH_DEFINE(opkern_table, opkern_get, opkern_get_level, &opkern_table_scalar,
                   &opkern_table_avx2, &opkern_table_avx512)
