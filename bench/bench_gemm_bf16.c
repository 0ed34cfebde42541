/*
 * bench_gemm_bf16.c — rt_gemm_bf16 (training's --precision bf16) against OpenBLAS sgemm on the
 * products one training step of bench_train's model makes (tokens = batch x 256), in the three
 * transposition cases the trainer uses: forward x W^T, dX = dY W, dW = dY^T X. Prints GFLOP/s of
 * each and the ratio bf16 / f32 (> 1: bf16 faster), medians of --reps timings.
 *
 * usage: bench_gemm_bf16 [--threads N] [--reps N] [--tokens N] [--cpu-time]
 * --cpu-time (implies --threads 1) times by process CPU time, for stable single-core numbers on
 * a busy machine.
 */
#include "ragtune.h"
#include "bench_util.h"
#include "core/log.h"
#include "core/matmul.h"

#include <cblas.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_REPS = 64 };

typedef struct shape {
    const char *name;
    bool ta, tb;
    int M, N, K;
} shape;

static double now(bool cpu) {
    return cpu ? bench_cpu_seconds() : rt_time_now();
}

/* Median seconds of reps calls of one product (after one warm-up call). */
static double time_gemm(bool bf16, const shape *s, const float *A, const float *B, float *C,
                        int reps, bool cpu) {
    double t[MAX_REPS];
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    for (int r = -1; r < reps; r++) {
        double t0 = now(cpu);
        if (bf16)
            rt_gemm_bf16(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
        else
            cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                        s->tb ? CblasTrans : CblasNoTrans, s->M, s->N, s->K, 1.0f, A, lda, B, ldb,
                        0.0f, C, s->N);
        if (r >= 0) t[r] = now(cpu) - t0;
    }
    return bench_median(t, reps);
}

int main(int argc, char **argv) {
    rt_runtime_setup(argv);
    int threads = 2, reps = 5, tokens = 1024;
    bool cpu = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
            tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-time"))
            cpu = true;
        else {
            fprintf(stderr, "usage: bench_gemm_bf16 [--threads N] [--reps N] [--tokens N] "
                            "[--cpu-time]\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (cpu) threads = 1;
    if (reps < 1 || reps > MAX_REPS || tokens < 1 || threads < 1) {
        fprintf(stderr, "bench_gemm_bf16: --reps 1..%d, --tokens and --threads at least 1\n",
                MAX_REPS);
        return 2;
    }
    rt_set_threads(threads);
    /* bench_train's model: n_embd 512, n_ff 1376, vocab 8192 (head in chunks of 256 rows) */
    const int C = 512, F = 1376, V = 8192, T = tokens;
    const shape shapes[] = {
        {"fwd qkvo  x W^T", false, true, T, C, C},    {"fwd up    x W^T", false, true, T, F, C},
        {"fwd down  x W^T", false, true, T, C, F},    {"dX up     dY W", false, false, T, C, F},
        {"dX down   dY W", false, false, T, F, C},    {"dW up     dY^T X", true, false, F, C, T},
        {"dW down   dY^T X", true, false, C, F, T},   {"head      x W^T", false, true, 256, V, C},
        {"head dW   dY^T X", true, false, V, C, 256},
    };
    size_t cap = (size_t)V * C > (size_t)T * F ? (size_t)V * C : (size_t)T * F;
    float *A = malloc(cap * sizeof(float)), *B = malloc(cap * sizeof(float));
    float *Cm = malloc(cap * sizeof(float) * 2);
    if (!A || !B || !Cm) return 1;
    for (size_t i = 0; i < cap; i++) {
        A[i] = (float)((i * 7) % 13) * 0.01f - 0.06f;
        B[i] = (float)((i * 5) % 11) * 0.01f - 0.05f;
    }
    printf("bf16 GEMM (%s) vs OpenBLAS sgemm, %d thread%s, %d tokens, median of %d%s\n",
           rt_gemm_bf16_native() ? "AVX512-BF16" : "scalar emulation", threads,
           threads > 1 ? "s" : "", T, reps, cpu ? " (CPU time)" : "");
    printf("%-18s %6s %6s %6s %12s %12s %7s\n", "product", "M", "N", "K", "f32 GFLOP/s",
           "bf16 GFLOP/s", "ratio");
    double sum_f32 = 0, sum_bf16 = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        double flop = 2.0 * s->M * s->N * s->K;
        double tf = time_gemm(false, s, A, B, Cm, reps, cpu);
        double tb = time_gemm(true, s, A, B, Cm, reps, cpu);
        sum_f32 += tf;
        sum_bf16 += tb;
        printf("%-18s %6d %6d %6d %12.1f %12.1f %7.2f\n", s->name, s->M, s->N, s->K,
               flop / tf / 1e9, flop / tb / 1e9, tf / tb);
    }
    printf("all products: f32 %.1f ms, bf16 %.1f ms, ratio %.2f\n", sum_f32 * 1e3, sum_bf16 * 1e3,
           sum_f32 / sum_bf16);
    free(A);
    free(B);
    free(Cm);
    return 0;
}
