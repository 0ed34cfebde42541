/*
 * kernels.c — chooses the kernel table once, from the CPU level (core/cpu, RT_CPU override).
 */
#include "core/kernels/kernels.h"

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
