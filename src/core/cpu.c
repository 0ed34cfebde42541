/*
 * cpu.c — cpuid/xgetbv feature detection and the RT_CPU override. Non-x86 builds report the
 * scalar level only.
 */
#include "core/cpu.h"
#include "core/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define RT_X86 1
#endif

static rt_cpu_features features;
static rt_cpu_level max_level = RT_CPU_SCALAR, active_level = RT_CPU_SCALAR;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

#ifdef RT_X86
static unsigned long long read_xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect_x86(rt_cpu_features *f) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    bool osxsave = c & bit_OSXSAVE, os_amx = false;
    f->fma = c & bit_FMA;
    f->f16c = c & bit_F16C;
    bool avx = c & bit_AVX;
    if (osxsave && avx) {
        unsigned long long xcr0 = read_xcr0();
        f->os_avx = (xcr0 & 0x6) == 0x6;      /* xmm + ymm */
        f->os_avx512 = (xcr0 & 0xe6) == 0xe6; /* + opmask, zmm0-15 upper, zmm16-31 */
        os_amx = (xcr0 & 0x60000) == 0x60000; /* XTILECFG + XTILEDATA */
    }
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = b & bit_AVX2;
    f->avx512f = b & bit_AVX512F;
    f->avx512dq = b & bit_AVX512DQ;
    f->avx512bw = b & bit_AVX512BW;
    f->avx512vl = b & bit_AVX512VL;
    f->avx512vnni = c & bit_AVX512VNNI;
    /* AMX-TILE (edx bit 24) and AMX-INT8 (bit 25), enabled by the OS in XCR0, and Linux must
     * grant this process the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM) */
    if ((d & (1u << 24)) && (d & (1u << 25)) && os_amx)
        f->amx_int8 = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                              18 /* XFEATURE_XTILEDATA */) == 0;
    __cpuid_count(7, 1, a, b, c, d);
    f->avx512bf16 = a & bit_AVX512BF16;
}
#endif

static void detect(void) {
#ifdef RT_X86
    detect_x86(&features);
#endif
    const rt_cpu_features *f = &features;
    if (f->os_avx && f->avx2 && f->fma && f->f16c) max_level = RT_CPU_AVX2;
    if (max_level == RT_CPU_AVX2 && f->os_avx512 && f->avx512f && f->avx512bw && f->avx512vl &&
        f->avx512dq && f->avx512vnni)
        max_level = RT_CPU_AVX512;
    if (max_level == RT_CPU_AVX512 && f->amx_int8) max_level = RT_CPU_AMX;
    active_level = max_level;
    const char *env = getenv("RT_CPU");
    if (env && *env) {
        rt_cpu_level want;
        if (rt_cpu_level_parse(env, &want) != 0)
            rt_log_warn("RT_CPU=%s is not one of scalar, avx2, avx512, amx; using %s", env,
                        rt_cpu_level_name(max_level));
        else if (want > max_level)
            rt_log_warn("RT_CPU=%s: this CPU supports at most %s", env,
                        rt_cpu_level_name(max_level));
        else
            active_level = want;
    }
}

const rt_cpu_features *rt_cpu_features_get(void) {
    pthread_once(&detect_once, detect);
    return &features;
}

rt_cpu_level rt_cpu_max_level(void) {
    pthread_once(&detect_once, detect);
    return max_level;
}

rt_cpu_level rt_cpu_level_get(void) {
    pthread_once(&detect_once, detect);
    return active_level;
}

static const char *const level_names[RT_CPU_LEVEL_COUNT] = {"scalar", "avx2", "avx512", "amx"};

const char *rt_cpu_level_name(rt_cpu_level level) {
    return level >= 0 && level < RT_CPU_LEVEL_COUNT ? level_names[level] : "?";
}

int rt_cpu_level_parse(const char *name, rt_cpu_level *out) {
    for (int i = 0; i < RT_CPU_LEVEL_COUNT; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (rt_cpu_level)i;
            return 0;
        }
    }
    return -1;
}
