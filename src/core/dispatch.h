/*
 * dispatch.h — the one way ragtune picks a kernel table per ISA level (core/kernels, the vector
 * kernels of knowledge/, the training kernels of train/, the inference ops of model/).
 *
 * A module's kernels are a struct of function pointers, its "table", whose first member is
 * `rt_cpu_level level;` followed by function pointers only. Each ISA level contributes a part:
 * a table in which entries it does not specialise are left NULL (the AVX-512 file writes only
 * the kernels that AVX-512 makes faster, the AMX part only the tile kernels). At first use the
 * parts are merged, lowest level first: every NULL entry of a level takes the entry of the level
 * below, so each merged table is complete (except entries that are NULL all the way down, such
 * as AMX tiles below the amx level). The scalar part is the reference and must be complete.
 *
 * Whether a level's part is hand-written intrinsics (core/kernels, knowledge/vector) or one
 * plain-C body compiled once per level (train/tkern_body.inc, model/opkern_body.inc, with the
 * ISA flags CMake gives files named *_avx2.c / *_avx512.c), registration and selection are the
 * same. The level chosen is core/cpu's (RT_CPU lowers it). Thread-safe; no allocation (the
 * module gives static storage for the merged tables).
 */
#ifndef RT_CORE_DISPATCH_H
#define RT_CORE_DISPATCH_H

#include "core/cpu.h"

#include <stdatomic.h>
#include <stddef.h>

typedef struct rt_dispatch {
    size_t table_size;                     /* sizeof the module's table */
    const void *parts[RT_CPU_LEVEL_COUNT]; /* per level, NULL where a level adds nothing */
    void *merged;                          /* RT_CPU_LEVEL_COUNT tables, the module's storage */
    atomic_int ready;                      /* merged is filled in */
    _Atomic(const void *) active;          /* the table rt_dispatch_get returns, once known */
} rt_dispatch;

/* A static rt_dispatch for a table type, its merged storage (an array of RT_CPU_LEVEL_COUNT
 * tables) and the parts of scalar, avx2, avx512 and amx, in that order (NULL where none). */
#define RT_DISPATCH_INIT(type, storage, ...)                                                       \
    { sizeof(type), {__VA_ARGS__}, (storage), 0, NULL }

/* Defines a module's dispatch: static storage, the rt_dispatch, and its two accessors
 *   const type *for_name(rt_cpu_level level);   the table of a level, NULL if the CPU lacks it
 *   const type *get_name(void);                 the table of the level in use, never NULL
 * from the parts of scalar, avx2, avx512, amx (in that order; trailing ones may be omitted). */
#define RT_DISPATCH_DEFINE(type, get_name, for_name, ...)                                          \
    static type get_name##_merged[RT_CPU_LEVEL_COUNT];                                             \
    static rt_dispatch get_name##_dispatch =                                                       \
        RT_DISPATCH_INIT(type, get_name##_merged, __VA_ARGS__);                                    \
    const type *for_name(rt_cpu_level level) {                                                     \
        return rt_dispatch_for(&get_name##_dispatch, level);                                       \
    }                                                                                              \
    const type *get_name(void) {                                                                   \
        return rt_dispatch_get(&get_name##_dispatch);                                              \
    }

/* The merged table of a level, or NULL when this CPU lacks it (for tests and benchmarks that
 * compare levels). */
const void *rt_dispatch_for(rt_dispatch *d, rt_cpu_level level);
/* The merged table of the level in use (rt_cpu_level_get()); never NULL. */
const void *rt_dispatch_get(rt_dispatch *d);

#endif
