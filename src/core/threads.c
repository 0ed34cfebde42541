/*
 * threads.c — one thread count for OpenMP kernels and OpenBLAS.
 */
#include "ragtune.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

static int n_threads_set;

/* Physical cores are not portable to query; sysconf gives online logical CPUs, which on this
 * class of machine (no SMT exposed) is the physical count. */
static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
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
