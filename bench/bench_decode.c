/*
 * bench_decode.c — the weight products of one decode token (T = 1) of a llama-shaped model, alone:
 * per layer q|k|v stacked (rt_matmul_multi), o, gate|up stacked, down, then the lm head, cycled
 * over all layers' distinct weights (more than the caches hold) as a model's decode reads them.
 * Prints ms per token and GB/s of weight bytes for ragtune's rt_matmul, and for f32 also OpenBLAS
 * sgemv on the same weights split over the same OpenMP threads (single-threaded OpenBLAS per
 * thread, as ragtune called it before its own kernel), next to the machine's memory read
 * bandwidth measured in the same run. What the rest of a decode step costs (attention, norms,
 * synchronisation) is what bench_inference adds on top.
 *
 * usage: bench_decode [--dtype f32|q8_0|q4_0] [--threads N] [--embd C] [--ff F] [--kv-div D]
 *                     [--layers L] [--vocab V] [--reps N] [--separate]
 * Defaults: the 114M llama of bench_inference (C 768, F 2560, k/v C/3, 12 layers, V 32000).
 * --separate: q, k, v, gate, up as separate products (before rt_matmul_multi).
 */
#include "ragtune.h"
#include "bench_bandwidth.h"
#include "bench_util.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/tensor.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float frand(void) {
    return (float)rand() / (float)RAND_MAX - 0.5f;
}

/* A random (n_out, n_in) weight in dtype. */
static void make_weight(rt_tensor *w, rt_dtype dtype, int n_out, int n_in) {
    int64_t shape[2] = {n_out, n_in};
    if (rt_tensor_alloc(w, "w", dtype, 2, shape) != RT_OK) {
        fprintf(stderr, "bench_decode: %s\n", rt_last_error());
        exit(1);
    }
    float *row = malloc((size_t)n_in * sizeof *row);
    size_t rb = rt_tensor_row_bytes(w);
    for (int o = 0; o < n_out; o++) {
        for (int i = 0; i < n_in; i++)
            row[i] = frand();
        rt_quantize_row(dtype, row, (char *)w->data + (size_t)o * rb, n_in);
    }
    free(row);
}

/* OpenBLAS sgemv on each thread's share of w's rows (f32). */
static void sgemv_split(float *out, const float *x, const rt_tensor *w) {
    int n_out = (int)w->shape[0], n_in = (int)w->shape[1], nt = rt_get_threads();
    int rows = ((n_out + nt - 1) / nt + 15) / 16 * 16;
#pragma omp parallel for schedule(static, 1)
    for (int p = 0; p < nt; p++) {
        int o0 = p * rows, n = n_out - o0 < rows ? n_out - o0 : rows;
        if (n > 0)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, n_in, 1.0f,
                        (const float *)w->data + (size_t)o0 * n_in, n_in, x, 1, 0.0f, out + o0, 1);
    }
}

int main(int argc, char **argv) {
    rt_runtime_setup(argv);
    const char *dt_name = "q8_0";
    int threads = 0, C = 768, F = 2560, kv_div = 3, L = 12, V = 32000, reps = 21;
    bool separate = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(argv[i], "--dtype"))
            dt_name = argv[++i];
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(v), i++;
        else if (!strcmp(argv[i], "--embd"))
            C = atoi(v), i++;
        else if (!strcmp(argv[i], "--ff"))
            F = atoi(v), i++;
        else if (!strcmp(argv[i], "--kv-div"))
            kv_div = atoi(v), i++;
        else if (!strcmp(argv[i], "--layers"))
            L = atoi(v), i++;
        else if (!strcmp(argv[i], "--vocab"))
            V = atoi(v), i++;
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(v), i++;
        else if (!strcmp(argv[i], "--separate"))
            separate = true;
        else {
            fprintf(stderr, "usage: bench_decode [--dtype f32|q8_0|q4_0] [--threads N] [--embd C] "
                            "[--ff F] [--kv-div D] [--layers L] [--vocab V] [--reps N] "
                            "[--separate]\n");
            return 2;
        }
    }
    rt_dtype dtype;
    if (rt_dtype_parse(dt_name, &dtype) != RT_OK || C < 32 || C % 32 || F % 32 || kv_div < 1 ||
        (C / kv_div) % 32 || L < 1 || V < 0 || reps < 1 || reps > 101) {
        fprintf(stderr, "bench_decode: bad options\n");
        return 2;
    }
    rt_set_threads(threads);
    /* per layer: q, k, v, o, gate, up, down */
    const int shape[7][2] = {{C, C}, {C / kv_div, C}, {C / kv_div, C}, {C, C},
                             {F, C}, {F, C},          {C, F}};
    int n_w = 7 * L + (V > 0);
    rt_tensor *w = calloc((size_t)n_w, sizeof *w);
    double bytes = 0;
    for (int i = 0; i < n_w; i++) {
        bool head = i == 7 * L;
        make_weight(&w[i], dtype, head ? V : shape[i % 7][0], head ? C : shape[i % 7][1]);
        bytes += (double)w[i].nbytes;
    }
    int n_x = C > F ? C : F, n_out = (V > 3 * C ? V : 3 * C) + 2 * F;
    float *x = malloc((size_t)n_x * sizeof *x), *out = malloc((size_t)n_out * sizeof *out);
    for (int i = 0; i < n_x; i++)
        x[i] = frand();
    double t_rt[101], t_blas[101];
    bool peer = dtype == RT_DTYPE_F32;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int l = 0; l < L; l++) {
            const rt_tensor *lw = &w[7 * l];
            if (separate) {
                for (int j = 0; j < 7; j++)
                    rt_matmul(out, x, &lw[j], NULL, 1);
                continue;
            }
            rt_matmul_item qkv[3] = {
                {out, &lw[0], NULL}, {out + C, &lw[1], NULL}, {out + C + C / kv_div, &lw[2], NULL}};
            rt_matmul_multi(x, 1, qkv, 3);
            rt_matmul(out, x, &lw[3], NULL, 1);
            rt_matmul_item gu[2] = {{out, &lw[4], NULL}, {out + F, &lw[5], NULL}};
            rt_matmul_multi(x, 1, gu, 2);
            rt_matmul(out, x, &lw[6], NULL, 1);
        }
        if (V > 0) rt_matmul(out, x, &w[7 * L], NULL, 1);
        t_rt[r] = now() - t0;
        if (!peer) continue;
        openblas_set_num_threads(1);
        t0 = now();
        for (int i = 0; i < n_w; i++)
            sgemv_split(out, x, &w[i]);
        t_blas[r] = now() - t0;
        openblas_set_num_threads(rt_get_threads());
    }
    double bw = bench_read_bandwidth_gbs();
    double m_rt = bench_median(t_rt, reps);
    printf("decode products, %s, C %d, F %d, k/v %d, %d layers, vocab %d, %d threads%s: %.1f MB\n",
           dt_name, C, F, C / kv_div, L, V, rt_get_threads(), separate ? ", separate" : "",
           bytes / 1e6);
    printf("  memory read bandwidth %.2f GB/s\n", bw);
    printf("  ragtune       %7.3f ms/token  %6.2f GB/s  %3.0f%% of bandwidth\n", m_rt * 1e3,
           bytes / m_rt / 1e9, 100 * bytes / m_rt / 1e9 / bw);
    if (peer) {
        double m_b = bench_median(t_blas, reps);
        printf("  peer: Debian's OpenBLAS (%s; core %s), sgemv single-threaded per OpenMP thread\n",
               openblas_get_config(), openblas_get_corename());
        printf("  OpenBLAS sgemv %6.3f ms/token  %6.2f GB/s  %3.0f%% of bandwidth (ratio %.2fx)\n",
               m_b * 1e3, bytes / m_b / 1e9, 100 * bytes / m_b / 1e9 / bw, m_b / m_rt);
    }
    printf("RESULT rt_gbs=%.3f bandwidth_gbs=%.3f\n", bytes / m_rt / 1e9, bw);
    for (int i = 0; i < n_w; i++)
        rt_tensor_free(&w[i]);
    free(w);
    free(x);
    free(out);
    return 0;
}
