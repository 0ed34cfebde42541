/*
 * kernels.c — chooses the kernel table once, from the CPU level (core/cpu, RT_CPU override).
 */
#include "core/kernels/kernels.h"

#include <pthread.h>

#ifdef RT_HAVE_X86_KERNELS
/* The amx table is the avx512 one plus the tile kernels, built once. */
static rt_kernels amx_table;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_table_init(void) {
    amx_table = rt_kernels_avx512;
    amx_table.level = RT_CPU_AMX;
    amx_table.amx_pack_q = rt_amx_pack_q;
    amx_table.amx_gemm_q = rt_amx_gemm_q;
    amx_table.amx_pack_bf16 = rt_amx_pack_bf16;
    amx_table.amx_gemm_bf16 = rt_amx_gemm_bf16;
}
#endif

const rt_kernels *rt_kernels_for(rt_cpu_level level) {
    if (level > rt_cpu_max_level()) return NULL;
    switch (level) {
    case RT_CPU_SCALAR:
        return &rt_kernels_scalar;
#ifdef RT_HAVE_X86_KERNELS
    case RT_CPU_AVX2:
        return &rt_kernels_avx2;
    case RT_CPU_AVX512:
        return &rt_kernels_avx512;
    case RT_CPU_AMX:
        pthread_once(&amx_once, amx_table_init);
        return &amx_table;
#endif
    default:
        return NULL;
    }
}

const rt_kernels *rt_kernels_get(void) {
    /* rt_cpu_level_get() is computed once under pthread_once; the lookup itself is pure, so no
     * further synchronization is needed. */
    const rt_kernels *k = rt_kernels_for(rt_cpu_level_get());
    return k ? k : &rt_kernels_scalar;
}
