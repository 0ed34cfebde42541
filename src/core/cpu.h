/*
 * cpu.h — what the CPU can do (cpuid), and which kernel level ragtune uses.
 *
 * Levels are cumulative: avx2 means AVX2+FMA+F16C; avx512 means AVX-512 F/BW/VL/DQ+VNNI on top
 * of avx2 (every AVX-512 CPU since Cascade Lake; Skylake-X without VNNI runs the avx2 level).
 * amx adds AMX-INT8 tile multiplies on top of avx512.
 * The environment variable RT_CPU=scalar|avx2|avx512|amx lowers the level (for tests and
 * comparisons); it never raises it above what the CPU has. Detection does not decide anything
 * about threads.
 */
#ifndef RT_CORE_CPU_H
#define RT_CORE_CPU_H

#include <stdbool.h>

typedef enum rt_cpu_level {
    RT_CPU_SCALAR = 0,
    RT_CPU_AVX2 = 1,
    RT_CPU_AVX512 = 2,
    RT_CPU_AMX = 3, /* avx512 + AMX-INT8 tiles (Sapphire Rapids and later) for prefill */
    RT_CPU_LEVEL_COUNT = 4,
} rt_cpu_level;

typedef struct rt_cpu_features {
    bool avx2, fma, f16c;                       /* the avx2 level needs all three */
    bool avx512f, avx512bw, avx512vl, avx512dq; /* the avx512 level needs these ... */
    bool avx512vnni;                            /* ... and VPDPBUSD (int8 dot products) */
    bool avx512bf16;                            /* VDPBF16PS, VCVTNE2PS2BF16 */
    bool amx_int8;          /* AMX-TILE + AMX-INT8, enabled by the OS and granted to this process */
    bool os_avx, os_avx512; /* the OS saves ymm / zmm+opmask state (XGETBV) */
} rt_cpu_features;

/* The features of this CPU (detected once; thread-safe). */
const rt_cpu_features *rt_cpu_features_get(void);
/* The highest level this CPU and OS support. */
rt_cpu_level rt_cpu_max_level(void);
/* The level in use: rt_cpu_max_level(), lowered by RT_CPU if set (read once). */
rt_cpu_level rt_cpu_level_get(void);
/* "scalar", "avx2", "avx512", "amx". */
const char *rt_cpu_level_name(rt_cpu_level level);
/* Parses a level name; returns 0 and sets *out, or -1 for an unknown name. */
int rt_cpu_level_parse(const char *name, rt_cpu_level *out);

#endif
