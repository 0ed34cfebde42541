/*
 * bench_bandwidth.h — the memory read bandwidth the decode benchmarks compare against: a
 * threaded streaming sum over 1 GiB (more than the caches), median of 5, in GB/s. Header-only
 * (each bench_*.c is its own executable); needs OpenMP.
 */
#ifndef RT_BENCH_BANDWIDTH_H
#define RT_BENCH_BANDWIDTH_H

#include "bench_util.h"

#include <stdlib.h>
#include <time.h>

static inline double bench_read_bandwidth_gbs(void) {
    size_t n = (size_t)1 << 28; /* 1 GiB of floats */
    float *a = malloc(n * sizeof *a);
    if (!a) return 0;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(i & 7);
    double runs[5];
    volatile float sink = 0;
    for (int r = 0; r < 5; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        float total = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : total)
        for (size_t i = 0; i < n; i++)
            total += a[i];
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        runs[r] = (double)(n * sizeof *a) / s / 1e9;
        sink += total;
    }
    (void)sink;
    free(a);
    return bench_median(runs, 5);
}

#endif
