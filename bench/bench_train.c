/*
 * bench_train.c — training throughput and peak memory, ragtune vs PyTorch, for a ~25M-parameter
 * llama (n_embd 512, 7 layers, 8 heads, n_ff 1376, vocab 8192, tied) at sequence length 256,
 * full training (AdamW) and LoRA (rank 16 on all linear layers, f32 base). Each configuration
 * runs in its own process (peak RSS = getrusage of that child); the PyTorch peer is
 * bench/bench_train.py with the same configuration, batch and thread count.
 *
 * usage: bench_train [--threads N] [--steps N] [--batch N] [--rounds N] [--no-torch] [--bf16]
 * (also measures ragtune's peak memory with --recompute, per-layer activation recomputation)
 *        bench_train --child full|lora [--precision bf16] ...   (one measurement, prints
 *        "tokens_per_s rss_kb n_store loss activation_bytes tokens_per_cpu_s")
 * --bf16 adds mixed-precision rows: ours with --precision bf16 (core/matmul's rt_gemm_bf16) and
 * PyTorch under torch.autocast(bfloat16), the bf16 / f32 tokens/s of each side and our bf16
 * peak RSS (bf16 LoRA keeps its frozen f32 base packed as bf16 too: 4 more bytes per weight).
 * The two sides alternate, --rounds times (default 3), and the table gives medians (the machine is
 * shared and noisy). Prints one table: tokens/s and peak RSS for each side, the ratios, and the
 * machine's sgemm rate next to the model FLOP rate reached; then the same as one JSON line.
 */
#include "bench_util.h"
#include "train/optim.h"
#include "train/tmodel.h"
#include "core/log.h"
#include "core/matmul.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static rt_model_config bench_cfg(void) {
    rt_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = RT_ARCH_LLAMA;
    c.n_vocab = 8192;
    c.n_embd = 512;
    c.n_layer = 7;
    c.n_head = 8;
    c.n_kv_head = 8;
    c.head_dim = 64;
    c.n_ff = 1376;
    c.n_ctx_train = 256;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tied_embeddings = true;
    return c;
}

static int child(const char *mode, int steps, int B, int T, bool recompute, bool bf16) {
    rt_model_config cfg = bench_cfg();
    tm_options opt = {0};
    opt.seed = 1;
    opt.bf16 = bf16;
    opt.base_dtype = RT_DTYPE_F32;
    opt.recompute = recompute;
    if (!strcmp(mode, "lora")) {
        opt.lora_rank = 16;
        opt.lora_alpha = 32;
        opt.lora_targets = RT_LORA_ALL;
    }
    tmodel *m;
    if (tmodel_new(&cfg, NULL, &opt, &m)) {
        fprintf(stderr, "%s\n", rt_last_error());
        return 1;
    }
    optim o;
    if (optim_init(&o, OPTIM_ADAMW, m->n_train, 0.0f)) return 1;
    int32_t *in = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T);
    uint32_t x = 1;
    for (int i = 0; i < B * T; i++) {
        x = x * 1664525u + 1013904223u;
        in[i] = (int32_t)(x >> 8) % cfg.n_vocab;
        tg[i] = (int32_t)(x >> 4) % cfg.n_vocab;
    }
    double t0 = 0, c0 = 0;
    int warm = 2;
    float loss = 0;
    for (int s = 0; s < warm + steps; s++) {
        if (s == warm) t0 = rt_time_now(), c0 = bench_cpu_seconds();
        memset(m->train_grad, 0, m->n_train * sizeof(float));
        if (tmodel_step(m, in, tg, B, T, true, 1.0f, &loss, NULL)) return 1;
        optim_clip_grad_norm(m->train_grad, m->n_train, 1.0f);
        optim_step(&o, m->train_data, m->train_grad, m->params, m->n_params, 1e-4f);
    }
    double dt = rt_time_now() - t0, cpu = bench_cpu_seconds() - c0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* last: tokens per CPU second of the process (steadier than wall time on a shared machine
     * with --threads 1) */
    printf("%.1f %ld %zu %.4f %zu %.1f\n", (double)B * T * steps / dt, ru.ru_maxrss, m->n_store,
           loss, tmodel_activation_bytes(m), (double)B * T * steps / cpu);
    optim_free(&o);
    tmodel_free(m);
    free(in);
    free(tg);
    return 0;
}

/* Runs a command, returns its first output line parsed as "tokens_per_s rss_kb". */
static int run_line(const char *cmd, double *tps, double *rss_kb) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[256] = "";
    int ok = fgets(line, sizeof line, p) != NULL;
    int st = pclose(p);
    if (!ok || st != 0 || sscanf(line, "%lf %lf", tps, rss_kb) != 2) return -1;
    return 0;
}

/* The machine's sgemm rate at the shape of the model's largest layer (tokens x n_ff x n_embd,
 * as the forward pass calls it): median of 5 timings of 10 products each. */
static double sgemm_gflops(void) {
    int M = 1024, N = 1376, K = 512;
    float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)N * K, 4),
          *c = calloc((size_t)M * N, 4);
    for (int i = 0; i < M * K; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (int i = 0; i < N * K; i++)
        b[i] = (float)(i % 5) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
    double rate[5];
    int reps = 10;
    for (int t = 0; t < 5; t++) {
        double t0 = rt_time_now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
        rate[t] = 2.0 * M * N * K * reps / (rt_time_now() - t0) / 1e9;
    }
    free(a);
    free(b);
    free(c);
    return bench_median(rate, 5);
}

enum { MAX_ROUNDS = 32 };

int main(int argc, char **argv) {
    rt_runtime_setup(argv);
    int threads = 2, steps = 4, B = 4, T = 256, rounds = 3;
    bool torch = true, recompute = false, bf16 = false, child_bf16 = false;
    const char *mode = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--child") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--no-torch"))
            torch = false;
        else if (!strcmp(argv[i], "--recompute"))
            recompute = true;
        else if (!strcmp(argv[i], "--bf16"))
            bf16 = true;
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc)
            child_bf16 = !strcmp(argv[++i], "bf16");
        else {
            fprintf(stderr, "usage: bench_train [--threads N] [--steps N] [--batch N] [--rounds N] "
                            "[--no-torch] [--recompute] [--bf16]\n");
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || steps < 1 || B < 1) {
        fprintf(stderr, "bench_train: --rounds 1..%d, --steps and --batch at least 1\n",
                MAX_ROUNDS);
        return 2;
    }
    rt_set_threads(threads);
    if (mode) return child(mode, steps, B, T, recompute, child_bf16);
    if (bf16 && !rt_gemm_bf16_native())
        fprintf(stderr, "bench_train: this CPU has no AVX512-BF16; the bf16 rows use the scalar "
                        "emulation\n");

    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 1;
    self[n] = 0;
    const char *py = getenv("RT_PYTHON") ? getenv("RT_PYTHON") : "/usr/bin/python3";
    const char *src = getenv("RT_SOURCE_DIR") ? getenv("RT_SOURCE_DIR") : ".";
    /* [side][mode][round], sides: ours f32, torch f32, ours bf16, torch bf16 (with --bf16); the
     * sides alternate within a round so that a change in the machine's load hits all, and the
     * table reports medians over rounds. */
    double tps[4][2][MAX_ROUNDS] = {{{0}}}, rss[4][2][MAX_ROUNDS] = {{{0}}}, rc[2][2] = {{0}};
    bool torch_bf16 = torch && bf16;
    const char *modes[2] = {"full", "lora"};
    for (int k = 0; k < 2; k++) {
        char cmd[2048];
        /* ours with per-layer activation recomputation: memory only */
        snprintf(cmd, sizeof cmd, "'%s' --child %s --threads %d --steps 1 --batch %d --recompute",
                 self, modes[k], threads, B);
        if (run_line(cmd, &rc[k][0], &rc[k][1])) return 1;
    }
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            char cmd[2048];
            snprintf(cmd, sizeof cmd, "'%s' --child %s --threads %d --steps %d --batch %d", self,
                     modes[k], threads, steps, B);
            if (run_line(cmd, &tps[0][k][r], &rss[0][k][r])) {
                fprintf(stderr, "bench_train: ragtune %s run failed\n", modes[k]);
                return 1;
            }
            if (torch) {
                snprintf(cmd, sizeof cmd,
                         "'%s' '%s/bench/bench_train.py' %s --threads %d --steps %d --batch %d", py,
                         src, modes[k], threads, steps, B);
                if (run_line(cmd, &tps[1][k][r], &rss[1][k][r])) {
                    fprintf(stderr, "bench_train: torch %s run failed (%s)\n", modes[k], cmd);
                    torch = false;
                }
            }
            if (bf16) {
                snprintf(cmd, sizeof cmd,
                         "'%s' --child %s --threads %d --steps %d --batch %d --precision bf16",
                         self, modes[k], threads, steps, B);
                if (run_line(cmd, &tps[2][k][r], &rss[2][k][r])) {
                    fprintf(stderr, "bench_train: ragtune bf16 %s run failed\n", modes[k]);
                    return 1;
                }
            }
            if (torch_bf16) {
                snprintf(cmd, sizeof cmd,
                         "'%s' '%s/bench/bench_train.py' %s --threads %d --steps %d --batch %d "
                         "--precision bf16",
                         py, src, modes[k], threads, steps, B);
                if (run_line(cmd, &tps[3][k][r], &rss[3][k][r])) {
                    fprintf(stderr, "bench_train: torch bf16 %s run failed (%s)\n", modes[k], cmd);
                    torch_bf16 = false;
                }
            }
            fprintf(stderr, "round %d %s: ours %.0f tok/s, torch %.0f tok/s", r + 1, modes[k],
                    tps[0][k][r], tps[1][k][r]);
            if (bf16)
                fprintf(stderr, "; bf16: ours %.0f tok/s, torch %.0f tok/s", tps[2][k][r],
                        tps[3][k][r]);
            fprintf(stderr, "\n");
        }
    }
    double med[4][2][2]; /* [side][mode][tps|rss] */
    for (int side = 0; side < 4; side++)
        for (int k = 0; k < 2; k++) {
            med[side][k][0] = bench_median(tps[side][k], rounds);
            med[side][k][1] = bench_median(rss[side][k], rounds);
        }
    double gf = sgemm_gflops();
    /* ~6 FLOPs per parameter per token for full training (2 forward + 4 backward). */
    rt_model_config c = bench_cfg();
    double params = (double)c.n_layer * (4.0 * c.n_embd * c.n_embd + 3.0 * c.n_embd * c.n_ff) +
                    (double)c.n_vocab * c.n_embd;
    const char *core = getenv("OPENBLAS_CORETYPE");
    printf("training a %.1fM llama, seq %d, batch %d, %d threads, %d steps (after 2 warm-up), "
           "median of %d rounds; OpenBLAS core %s for both sides\n",
           params / 1e6, T, B, threads, steps, rounds, core ? core : "(OpenBLAS's choice)");
    printf("%-6s %14s %14s %8s %14s %14s %8s\n", "mode", "ours tok/s", "torch tok/s", "ratio",
           "ours RSS MB", "torch RSS MB", "ratio");
    for (int k = 0; k < 2; k++)
        printf("%-6s %14.0f %14.0f %8.2f %14.0f %14.0f %8.2f\n", modes[k], med[0][k][0],
               med[1][k][0], med[1][k][0] > 0 ? med[0][k][0] / med[1][k][0] : NAN,
               med[0][k][1] / 1024, med[1][k][1] / 1024,
               med[1][k][1] > 0 ? med[0][k][1] / med[1][k][1] : NAN);
    double lora_full = med[0][1][1] / med[0][0][1];
    printf("LoRA / full peak memory (ours): %.2f; with --recompute: full %.0f MB, LoRA %.0f MB, "
           "ratio %.2f\n",
           lora_full, rc[0][1] / 1024, rc[1][1] / 1024, rc[1][1] / rc[0][1]);
    if (bf16) {
        printf("%-10s %14s %14s %8s %14s %14s %14s\n", "bf16 mode", "ours tok/s", "torch tok/s",
               "ratio", "ours/f32", "torch/f32", "ours RSS MB");
        for (int k = 0; k < 2; k++)
            printf("%-10s %14.0f %14.0f %8.2f %14.2f %14.2f %14.0f\n", modes[k], med[2][k][0],
                   med[3][k][0], med[3][k][0] > 0 ? med[2][k][0] / med[3][k][0] : NAN,
                   med[2][k][0] / med[0][k][0],
                   med[1][k][0] > 0 && med[3][k][0] > 0 ? med[3][k][0] / med[1][k][0] : NAN,
                   med[2][k][1] / 1024);
        printf("bf16 matmuls: %s (ours: bf16 inputs, f32 sums and master weights; torch: "
               "autocast bfloat16)\n",
               rt_gemm_bf16_native() ? "AVX512-BF16" : "scalar emulation");
    }
    double reached = 6.0 * params * med[0][0][0] / 1e9;
    printf("sgemm %.1f GFLOP/s; full training reaches %.1f GFLOP/s of linear-layer work (%.0f%%)\n",
           gf, reached, 100.0 * reached / gf);
    printf("{\"bench\":\"train\",\"rounds\":%d,\"full\":{\"ours_tps\":%.1f,\"torch_tps\":%.1f,"
           "\"ours_rss_mb\":%.1f,\"torch_rss_mb\":%.1f},\"lora\":{\"ours_tps\":%.1f,"
           "\"torch_tps\":%.1f,\"ours_rss_mb\":%.1f,\"torch_rss_mb\":%.1f},"
           "\"lora_over_full_memory\":%.3f,\"sgemm_gflops\":%.1f,\"linear_gflops\":%.1f",
           rounds, med[0][0][0], med[1][0][0], med[0][0][1] / 1024, med[1][0][1] / 1024,
           med[0][1][0], med[1][1][0], med[0][1][1] / 1024, med[1][1][1] / 1024, lora_full, gf,
           reached);
    if (bf16)
        printf(",\"bf16\":{\"full\":{\"ours_tps\":%.1f,\"torch_tps\":%.1f,\"ours_rss_mb\":%.1f},"
               "\"lora\":{\"ours_tps\":%.1f,\"torch_tps\":%.1f,\"ours_rss_mb\":%.1f},"
               "\"native\":%s}",
               med[2][0][0], med[3][0][0], med[2][0][1] / 1024, med[2][1][0], med[3][1][0],
               med[2][1][1] / 1024, rt_gemm_bf16_native() ? "true" : "false");
    printf("}\n");
    return 0;
}
