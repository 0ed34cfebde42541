/*
 * kernels.c — registers the kernel tables of every ISA level with core/dispatch, which merges
 * them once and picks the one for core/cpu's level (RT_CPU override).
 */
#include "core/kernels/kernels.h"
#include "core/dispatch.h"

#ifdef RT_HAVE_X86_KERNELS
RT_DISPATCH_DEFINE(rt_kernels, rt_kernels_get, rt_kernels_for, &rt_kernels_scalar, &rt_kernels_avx2,
                   &rt_kernels_avx512, &rt_kernels_amx)
#else
RT_DISPATCH_DEFINE(rt_kernels, rt_kernels_get, rt_kernels_for, &rt_kernels_scalar)
#endif
