/* tkern.c — registers the training kernel tables of each level with core/dispatch. */
#include "train/tkern.h"
#include "core/dispatch.h"

RT_DISPATCH_DEFINE(tkern_table, tkern_get, tkern_get_level, &tkern_table_scalar, &tkern_table_avx2,
                   &tkern_table_avx512)
