/*
 * bench_matmul.c — rt_matmul throughput for every weight dtype, prefill (T = 64, 256) and decode
 * (T = 1), on 2048x2048 and 4096x4096 weights, next to the machine's measured memory-read
 * bandwidth (a streaming sum) and PyTorch's matmul (bench_matmul_torch.py: f32 and bf16) with
 * the same shapes and threads. Prints medians and the ratio torch time / our time (> 1: faster).
 *
 * Decode cycles through enough copies of W to exceed the caches, so GB/s is DRAM bandwidth.
 * Usage: bench_matmul [--threads N] [--reps N] [--no-torch] [--cpu-time]
 * --cpu-time (implies --threads 1) times by thread CPU time, here and in the peer, for stable
 * single-core numbers on a busy machine.
 * Environment: RT_PYTHON (python with torch), RT_SOURCE_DIR (to find the peer script).
 */
#include "ragtune.h"
#include "bench_bandwidth.h"
#include "bench_util.h"
#include "core/cpu.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/tensor.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_PEER 64

typedef struct peer_result {
    char dtype[8];
    int n_out, n_in, T;
    double sec;
} peer_result;

/* Wall-clock time, or with --cpu-time (one thread) this thread's CPU time, which a machine shared
 * with other busy processes does not inflate (memory bandwidth is still shared). */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Read bandwidth in GB/s over 512 MiB (bench_bandwidth.h's best loop), on bench_clock. */
static double read_bandwidth(int reps) {
    return bench_read_bandwidth_bytes((size_t)512 << 20, reps, bench_clock);
}

static int run_peer(int threads, int reps, const int (*shapes)[3], int n_shapes, peer_result *res) {
    const char *py = getenv("RT_PYTHON"), *src = getenv("RT_SOURCE_DIR");
    char script[4096], cmd[8192];
    if (src && *src) {
        snprintf(script, sizeof script, "%s/bench/bench_matmul_torch.py", src);
    } else { /* beside this source file, as compiled */
        snprintf(script, sizeof script, "%s", __FILE__);
        char *slash = strrchr(script, '/');
        snprintf(slash ? slash + 1 : script,
                 sizeof script - (size_t)(slash ? slash + 1 - script : 0), "bench_matmul_torch.py");
    }
    int len =
        snprintf(cmd, sizeof cmd, "'%s' '%s' %d %d%s", py && *py ? py : "/usr/bin/python3", script,
                 threads, reps, bench_clock == CLOCK_THREAD_CPUTIME_ID ? " --cpu-time" : "");
    for (int i = 0; i < n_shapes; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %d:%d:%d", shapes[i][0],
                        shapes[i][1], shapes[i][2]);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    int n = 0;
    char line[256];
    while (n < MAX_PEER && fgets(line, sizeof line, p)) {
        peer_result *r = &res[n];
        if (sscanf(line, "torch %7s %d %d %d %lf", r->dtype, &r->n_out, &r->n_in, &r->T, &r->sec) ==
            5)
            n++;
    }
    if (pclose(p) != 0) fprintf(stderr, "bench_matmul: torch peer failed (%s)\n", cmd);
    return n;
}

static double peer_time(const peer_result *res, int n, const char *dtype, int n_out, int n_in,
                        int T) {
    for (int i = 0; i < n; i++)
        if (!strcmp(res[i].dtype, dtype) && res[i].n_out == n_out && res[i].n_in == n_in &&
            res[i].T == T)
            return res[i].sec;
    return 0;
}

int main(int argc, char **argv) {
    rt_runtime_setup(argv);
    int threads = 0, reps = 7, torch = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-time"))
            bench_clock = CLOCK_THREAD_CPUTIME_ID;
        else if (!strcmp(argv[i], "--no-torch"))
            torch = 0;
        else {
            fprintf(stderr,
                    "usage: bench_matmul [--threads N] [--reps N] [--no-torch] [--cpu-time]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 31) reps = 7;
    if (bench_clock == CLOCK_THREAD_CPUTIME_ID) threads = 1;
    rt_set_threads(threads);
    threads = rt_get_threads();

    static const int dims[] = {2048, 4096};
    static const int tokens[] = {1, 64, 256};
    int shapes[6][3], n_shapes = 0;
    for (int d = 0; d < 2; d++)
        for (int t = 0; t < 3; t++) {
            shapes[n_shapes][0] = shapes[n_shapes][1] = dims[d];
            shapes[n_shapes++][2] = tokens[t];
        }

    double bw = read_bandwidth(reps);
    printf("bench_matmul: %d threads, kernels %s, medians of %d runs, %s\n", threads,
           rt_cpu_level_name(rt_cpu_level_get()), reps,
           bench_clock == CLOCK_THREAD_CPUTIME_ID ? "thread CPU time" : "wall-clock time");
    printf("memory read bandwidth (streaming sum): %.1f GB/s\n", bw);
    peer_result peer[MAX_PEER];
    int n_peer = torch ? run_peer(threads, reps, (const int(*)[3])shapes, n_shapes, peer) : 0;

    printf("\n%-10s %-5s %4s %10s %9s %8s %7s %11s %8s %11s %8s\n", "shape", "dtype", "T",
           "ours ms", "GFLOP/s", "GB/s", "%bw", "torch32 ms", "ratio", "torch16 ms", "ratio");
    /* bf16 twice: f32 activations (the default), then bf16 activations ("bf16a", opt-in with
     * rt_matmul_set_bf16_activations: AMX-BF16 tiles in prefill) */
    static const rt_dtype dtypes[] = {RT_DTYPE_F32,  RT_DTYPE_F16,  RT_DTYPE_BF16,
                                      RT_DTYPE_BF16, RT_DTYPE_Q8_0, RT_DTYPE_Q4_0};
    static const bool bf16_act[] = {false, false, false, true, false, false};
    for (int s = 0; s < n_shapes; s++) {
        int n = shapes[s][0], T = shapes[s][2];
        float *x = malloc(sizeof(float) * (size_t)T * n),
              *out = malloc(sizeof(float) * (size_t)T * n);
        float *wf = malloc(sizeof(float) * (size_t)n * n);
        for (size_t i = 0; i < (size_t)T * n; i++)
            x[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
        for (size_t i = 0; i < (size_t)n * n; i++)
            wf[i] = (float)((i * 104729) % 2003) / 20000.0f - 0.05f;
        for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
            int64_t shape[2] = {n, n};
            rt_tensor w0;
            if (rt_tensor_alloc(&w0, "w", dtypes[d], 2, shape) != RT_OK) return 1;
            size_t rb = rt_tensor_row_bytes(&w0);
            for (int o = 0; o < n; o++)
                rt_quantize_row(dtypes[d], wf + (size_t)o * n, (char *)w0.data + o * rb, n);
            /* decode: copies of W adding up to >= 256 MiB, read in turn */
            int copies = T == 1 ? (int)(((size_t)256 << 20) / w0.nbytes) + 1 : 1;
            char *many = malloc(w0.nbytes * (size_t)copies);
            if (!many) return 1;
            for (int c = 0; c < copies; c++)
                memcpy(many + c * w0.nbytes, w0.data, w0.nbytes);
            rt_tensor w = w0;
            w.data = many;
            w.owned = false;
            rt_matmul_set_bf16_activations(bf16_act[d]);
            double times[32];
            /* bandwidth measured right before each decode row: the machine may be shared */
            double bw_now = T == 1 ? read_bandwidth(reps) : 0;
            rt_matmul(out, x, &w, NULL, T);
            for (int r = 0; r < reps; r++) {
                int inner = T == 1 ? copies : 1;
                double t0 = now();
                for (int c = 0; c < inner; c++) {
                    w.data = many + (size_t)c * w0.nbytes;
                    rt_matmul(out, x, &w, NULL, T);
                }
                times[r] = (now() - t0) / inner;
            }
            double sec = bench_median(times, reps);
            double gflops = 2.0 * T * n * (double)n / sec / 1e9;
            double gbs = (double)w0.nbytes / sec / 1e9;
            double t32 = peer_time(peer, n_peer, "f32", n, n, T);
            double t16 = peer_time(peer, n_peer, "bf16", n, n, T);
            char shape_s[32];
            snprintf(shape_s, sizeof shape_s, "%dx%d", n, n);
            char pct[16] = "-";
            if (T == 1) snprintf(pct, sizeof pct, "%.0f%%", 100.0 * gbs / bw_now);
            printf("%-10s %-5s %4d %10.3f %9.1f %8.1f %7s %11.3f %8.2f %11.3f %8.2f\n", shape_s,
                   bf16_act[d] ? "bf16a" : rt_dtype_name(dtypes[d]), T, sec * 1e3, gflops, gbs, pct,
                   t32 * 1e3, t32 / sec, t16 * 1e3, t16 / sec);
            fflush(stdout);
            free(many);
            rt_tensor_free(&w0);
        }
        free(x);
        free(out);
        free(wf);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\npeak RSS of bench_matmul: %.0f MiB (mostly the copies of W that keep decode out of "
           "the caches)\n",
           ru.ru_maxrss / 1024.0);
    printf("ratio = torch time / ours (> 1: ragtune faster); GB/s = weight bytes / time; "
           "%%bw = of the streaming-sum bandwidth measured just before that row\n");
    return 0;
}
