/* tkern.c — picks the training kernel table for the CPU level in use. */
#include "train/tkern.h"

#include <pthread.h>

const tk_table *tk_table_scalar(void);
const tk_table *tk_table_avx2(void);
const tk_table *tk_table_avx512(void);

const tk_table *tk_get_level(rt_cpu_level level) {
    if (level > rt_cpu_max_level()) return NULL;
    if (level >= RT_CPU_AVX512) return tk_table_avx512();
    if (level == RT_CPU_AVX2) return tk_table_avx2();
    return tk_table_scalar();
}

static const tk_table *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    chosen = tk_get_level(rt_cpu_level_get());
}

const tk_table *tk_get(void) {
    pthread_once(&chosen_once, choose);
    return chosen;
}
