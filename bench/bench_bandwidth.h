/*
 * bench_bandwidth.h — the memory read bandwidth the decode benchmarks compare against: each
 * thread sums its contiguous share of a buffer much larger than the caches, the best loop this
 * CPU has (AVX-512 or AVX2 with four independent accumulators, with and without software
 * prefetch 2 KiB ahead; a plain scalar sum where neither exists), median of 5 passes per loop,
 * the highest median. A weaker probe flatters every "share of bandwidth": the scalar-ISA sum
 * this file used before read 13 GB/s where the AVX-512 loop reads 55 (two threads, this class
 * of machine), and the vectorized baseline-ISA sum ~45-50, below what decode itself reached.
 * Header-only (each bench_*.c is its own executable); needs OpenMP.
 */
#ifndef RT_BENCH_BANDWIDTH_H
#define RT_BENCH_BANDWIDTH_H

#include "bench_util.h"

#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <time.h>

/* Sums of n floats (n a multiple of 64, a 64-byte aligned). pf: prefetch distance in bytes or 0. */
__attribute__((target("avx512f"))) static float bench_sum_avx512(const float *a, size_t n,
                                                                  int pf) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 64) {
        if (pf)
            for (int l = 0; l < 256; l += 64)
                _mm_prefetch((const char *)(a + i) + pf + l, _MM_HINT_T0);
        s0 = _mm512_add_ps(s0, _mm512_load_ps(a + i));
        s1 = _mm512_add_ps(s1, _mm512_load_ps(a + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_load_ps(a + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_load_ps(a + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

__attribute__((target("avx2"))) static float bench_sum_avx2(const float *a, size_t n, int pf) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 32) {
        if (pf)
            for (int l = 0; l < 128; l += 64)
                _mm_prefetch((const char *)(a + i) + pf + l, _MM_HINT_T0);
        s0 = _mm256_add_ps(s0, _mm256_load_ps(a + i));
        s1 = _mm256_add_ps(s1, _mm256_load_ps(a + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_load_ps(a + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_load_ps(a + i + 24));
    }
    float out[8];
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

static float bench_sum_plain(const float *a, size_t n) {
    float acc[16] = {0};
    for (size_t i = 0; i < n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += a[i + j];
    float s = 0;
    for (int j = 0; j < 16; j++)
        s += acc[j];
    return s;
}

/* loop: 0 plain, 1 AVX2, 2 AVX-512; each thread its contiguous share. */
static float bench_sum_share(const float *a, size_t n, int loop, int pf) {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    size_t per = n / (size_t)nt / 64 * 64, lo = per * (size_t)t;
    size_t len = t == nt - 1 ? n - lo : per;
    if (loop == 2) return bench_sum_avx512(a + lo, len, pf);
    if (loop == 1) return bench_sum_avx2(a + lo, len, pf);
    return bench_sum_plain(a + lo, len);
}

/* GB/s read by the best loop over `bytes` (rounded down to 64-float blocks), median of `reps`
 * passes (at most 32) per loop, on the current OpenMP thread count, timed on `clock`
 * (CLOCK_MONOTONIC; bench_matmul's --cpu-time passes CLOCK_THREAD_CPUTIME_ID for one thread). */
static inline double bench_read_bandwidth_bytes(size_t bytes, int reps, clockid_t clock) {
    size_t n = bytes / sizeof(float) / 64 * 64;
    float *a = aligned_alloc(64, n * sizeof *a);
    if (!a) return 0;
    if (reps > 32) reps = 32;
    if (reps < 1) reps = 1;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(i & 7);
    int best_loop = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
    double best = 0;
    volatile float sink = 0;
    for (int v = 0; v < (best_loop ? 2 : 1); v++) {
        int pf = v ? 2048 : 0;
        double runs[32];
        for (int r = 0; r < reps; r++) {
            struct timespec t0, t1;
            clock_gettime(clock, &t0);
            float total = 0;
#pragma omp parallel reduction(+ : total)
            total += bench_sum_share(a, n, best_loop, pf);
            clock_gettime(clock, &t1);
            double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            runs[r] = (double)(n * sizeof *a) / s / 1e9;
            sink += total;
        }
        double m = bench_median(runs, reps);
        if (m > best) best = m;
    }
    (void)sink;
    free(a);
    return best;
}

/* The decode benchmarks' probe: 1 GiB, median of 5 per loop. */
static inline double bench_read_bandwidth_gbs(void) {
    return bench_read_bandwidth_bytes((size_t)1 << 30, 5, CLOCK_MONOTONIC);
}

#endif
