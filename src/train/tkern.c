/* tkern.c — picks the training kernel table for the CPU level in use. */
#include "train/tkern.h"

const tk_table *tk_table_scalar(void);
const tk_table *tk_table_avx2(void);
const tk_table *tk_table_avx512(void);

const tk_table *tk_get_level(rt_cpu_level level) {
    if (level > rt_cpu_max_level()) return NULL;
    if (level >= RT_CPU_AVX512) return tk_table_avx512();
    if (level == RT_CPU_AVX2) return tk_table_avx2();
    return tk_table_scalar();
}

/* core/cpu reads the level once; the tables are static */
const tk_table *tk_get(void) {
    return tk_get_level(rt_cpu_level_get());
}
