/*
 * bench_inference.c — ragtune's side of the inference benchmark (bench/bench_inference.sh runs
 * it next to bench_inference_torch.py on the same weights and prints the ratios).
 *
 * For a model it measures, over --runs runs (medians): prefill tokens/s for a prompt of
 * --prompt tokens (one rt_model_eval), decode tokens/s for --gen greedy steps through the KV
 * cache, peak RSS, and decode bandwidth = weight bytes read per token x decode tokens/s; also
 * with the KV cache each decode step reads (f32 keys and values of every cached position, on
 * average over the decode steps), the rest of what a step must read from memory.
 * With --bandwidth it instead measures the machine's memory read bandwidth (a threaded sum
 * over 1 GiB, median of 5), the ceiling for decoding.
 *
 * Output: human-readable lines, then one line "RESULT key=value ..." for the driver script.
 */
#include "ragtune.h"
#include "bench_bandwidth.h"
#include "bench_util.h"
#include "model/model.h"
#include "model/sampling.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv) {
    rt_runtime_setup(argv);
    const char *model_path = NULL, *quantize = NULL;
    int n_prompt = 128, n_gen = 64, runs = 3, threads = 0;
    bool bandwidth = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--model"))
            model_path = argv[++i];
        else if (!strcmp(argv[i], "--quantize"))
            quantize = argv[++i];
        else if (!strcmp(argv[i], "--prompt"))
            n_prompt = atoi(v), i++;
        else if (!strcmp(argv[i], "--gen"))
            n_gen = atoi(v), i++;
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(v), i++;
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(v), i++;
        else if (!strcmp(argv[i], "--bandwidth"))
            bandwidth = true;
        else {
            fprintf(stderr, "usage: bench_inference --model DIR [--quantize q8_0] [--prompt N] "
                            "[--gen N] [--runs N] [--threads N] | --bandwidth [--threads N]\n");
            return 2;
        }
    }
    rt_set_threads(threads);
    if (bandwidth) {
        double gbs = bench_read_bandwidth_gbs();
        printf("memory read bandwidth: %.2f GB/s (%d threads)\nRESULT bandwidth_gbs=%.3f\n", gbs,
               rt_get_threads(), gbs);
        return 0;
    }
    if (!model_path || n_prompt < 1 || n_gen < 1 || runs < 1) return 2;
    if (runs > 32) runs = 32;
    rt_model_params mp = rt_model_default_params();
    if (quantize) {
        rt_dtype dt;
        if (rt_dtype_parse(quantize, &dt) != RT_OK) return 2;
        mp.weight_dtype = (int)dt;
    }
    rt_model *model = NULL;
    rt_context *ctx = NULL;
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = n_prompt + n_gen + 1;
    cp.n_batch = n_prompt;
    if (rt_model_load(model_path, &mp, &model) != RT_OK ||
        rt_context_new(model, &cp, &ctx) != RT_OK) {
        fprintf(stderr, "bench_inference: %s\n", rt_last_error());
        return 1;
    }
    int n_vocab = rt_model_n_vocab(model);
    int32_t *prompt = malloc((size_t)n_prompt * sizeof *prompt);
    for (int i = 0; i < n_prompt; i++)
        prompt[i] = (int32_t)((i * 7919 + 13) % n_vocab);
    double prefill[32], decode[32];
    for (int r = 0; r <= runs; r++) { /* run 0 warms up caches and page-ins */
        rt_context_rewind(ctx, 0);
        double t0 = now();
        if (rt_model_eval(ctx, prompt, n_prompt, NULL) != RT_OK) {
            fprintf(stderr, "bench_inference: %s\n", rt_last_error());
            return 1;
        }
        double t1 = now();
        for (int i = 0; i < n_gen; i++) {
            int32_t tok =
                rt_argmax_f32(rt_context_logits(ctx), n_vocab); /* greedy, as rt_generate */
            if (rt_model_eval(ctx, &tok, 1, NULL) != RT_OK) return 1;
        }
        double t2 = now();
        if (r == 0) continue;
        prefill[r - 1] = n_prompt / (t1 - t0);
        decode[r - 1] = n_gen / (t2 - t1);
    }
    double p = bench_median(prefill, runs), d = bench_median(decode, runs);
    double bytes = (double)rt_model_weight_bytes(model);
    double gbs = bytes * d / 1e9;
    const rt_model_config *mc = &model->config;
    double kv_bytes = 2.0 * mc->n_layer * mc->n_kv_head * mc->head_dim * sizeof(float) *
                      (n_prompt + (n_gen + 1) / 2.0); /* mean cached positions per step */
    double gbs_kv = (bytes + kv_bytes) * d / 1e9;
    printf("ragtune %s %s, %.1fM params, %.1f MB weights/token, %d threads\n"
           "  prefill %d tokens: %.1f tok/s\n  decode %d tokens: %.1f tok/s (%.2f GB/s)\n"
           "  peak RSS %.0f MB\n",
           rt_model_arch(model), quantize ? quantize : "as stored", rt_model_n_params(model) / 1e6,
           bytes / 1e6, rt_get_threads(), n_prompt, p, n_gen, d, gbs, peak_rss_mb());
    printf("  with the KV cache: %.1f MB read per token, %.2f GB/s\n", (bytes + kv_bytes) / 1e6,
           gbs_kv);
    printf("RESULT prefill_tps=%.3f decode_tps=%.3f rss_mb=%.1f weight_mb=%.3f decode_gbs=%.3f "
           "kv_mb=%.3f decode_kv_gbs=%.3f\n",
           p, d, peak_rss_mb(), bytes / 1e6, gbs, kv_bytes / 1e6, gbs_kv);
    free(prompt);
    rt_context_free(ctx);
    rt_model_free(model);
    return 0;
}
