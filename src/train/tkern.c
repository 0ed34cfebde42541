/* tkern.c — picks the training kernel table for the CPU level in use. */
#include "train/tkern.h"

const tkern_table *tkern_table_scalar(void);
const tkern_table *tkern_table_avx2(void);
const tkern_table *tkern_table_avx512(void);

const tkern_table *tkern_get_level(rt_cpu_level level) {
    if (level > rt_cpu_max_level()) return NULL;
    if (level >= RT_CPU_AVX512) return tkern_table_avx512();
    if (level == RT_CPU_AVX2) return tkern_table_avx2();
    return tkern_table_scalar();
}

/* core/cpu reads the level once; the tables are static */
const tkern_table *tkern_get(void) {
    return tkern_get_level(rt_cpu_level_get());
}
