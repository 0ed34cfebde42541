/*
 * threads.c — one thread count for OpenMP kernels and OpenBLAS.
 */
#include "ragtune.h"
#include "core/cpu.h"

#include <cblas.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int n_threads_set;

#define RT_SPIN_COUNT "3000"

/* Physical cores are not portable to query; sysconf gives online logical CPUs, which on this
 * class of machine (no SMT exposed) is the physical count. */
static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    /* processes that mpirun started on this machine share its cores */
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long n_local = local ? strtol(local, NULL, 10) : 1;
    if (n_local > 1) n /= n_local;
    return n > 0 ? (int)n : 1;
}

void rt_set_threads(int n_threads) {
    if (n_threads <= 0) n_threads = default_threads();
    n_threads_set = n_threads;
    omp_set_num_threads(n_threads);
    openblas_set_num_threads(n_threads);
}

int rt_get_threads(void) {
    return n_threads_set ? n_threads_set : default_threads();
}

/* OpenBLAS cores whose sgemm kernels are AVX2 at best, and the ones with AVX-512 kernels. */
static bool core_in(const char *core, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(core, list[i])) return true;
    return false;
}
static const char *const avx2_cores[] = {"Haswell",    "Zen",         "Sandybridge", "Prescott",
                                         "Core2",      "Nehalem",     "Barcelona",   "Bulldozer",
                                         "Piledriver", "Steamroller", "Excavator"};
static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};

/* The OpenBLAS core type for ragtune's CPU level, or NULL to leave OpenBLAS's choice alone. */
static const char *wanted_openblas_core(const char *core) {
    if (!core) return NULL;
    rt_cpu_level level = rt_cpu_level_get();
    if (level >= RT_CPU_AVX512 && core_in(core, avx2_cores, sizeof avx2_cores / sizeof *avx2_cores))
        return "SkylakeX";
    if (level == RT_CPU_AVX2 &&
        core_in(core, avx512_cores, sizeof avx512_cores / sizeof *avx512_cores))
        return "Haswell";
    return NULL;
}

void rt_runtime_setup(char **argv) {
    if (getenv("RT_RUNTIME_SETUP_DONE")) return; /* one re-run at most, whatever happens */
    bool changed = false;
    /* An idle OpenMP thread spins RT_SPIN_COUNT pauses (~60 us here) and then sleeps: decode
     * runs ~50 parallel regions per token, a few microseconds apart, and waking a sleeping thread
     * for each (OMP_WAIT_POLICY=passive) took ~20 us per region in a VM, a quarter of a q8_0
     * token; spinning without bound (libgomp's default, 300000) took the cores other processes
     * needed on a shared machine (5-10x slower). */
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") &&
        setenv("GOMP_SPINCOUNT", RT_SPIN_COUNT, 1) == 0)
        changed = true;
    /* OpenBLAS starts its server threads when it loads, and each spins (sched_yield) for
     * 2^28 cycles (~0.1 s) before it sleeps, after start-up and after every threaded call:
     * inference calls it single-threaded only (core/matmul.c), so in a short command the
     * spinning thread took a core from the first ~0.1 s of work (an `ask` of the demo collection:
     * 210 -> 185 ms a command, the prompt's time to first token ~50 -> ~28 ms). 2^4 cycles: they
     * sleep at once; a threaded training product wakes them (same training tokens/s, measured). */
    if (!getenv("OPENBLAS_THREAD_TIMEOUT") && setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1) == 0)
        changed = true;
    const char *core = wanted_openblas_core(openblas_get_corename());
    if (core && setenv("OPENBLAS_CORETYPE", core, 1) == 0) changed = true;
    if (!changed || setenv("RT_RUNTIME_SETUP_DONE", "1", 1) != 0) return;
    execv("/proc/self/exe", argv); /* on failure, carry on as we are */
}
