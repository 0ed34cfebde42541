/*
 * bench_embed.c — embedding throughput of rt_model_embed_batch on the chunks of a real corpus,
 * the ragtune side of bench/bench_embed.sh (which also times `ragtune ingest --embed-model` end
 * to end and runs the PyTorch peer, bench/bench_embed_torch.py, on the same token ids).
 *
 * usage: bench_embed MODEL TEXTS.bin BATCH IDS_OUT VECS_OUT [THREADS]
 *   TEXTS.bin  the chunk texts: u32 little-endian byte length + bytes, one after another
 *   BATCH      texts per rt_model_embed_batch call (the peer uses the same batch size)
 *   IDS_OUT    the token ids it embedded (with special tokens, truncated to the context as the
 *              model embedder truncates): int32 n, then per text int32 length + ids
 *   VECS_OUT   the vectors (n, n_embd) f32
 * Prints one line: "ragtune_embed <chunks/s> <peak RSS MB> <n> <tokens>" (tokenizing is not
 * timed; one warm-up batch first).
 */
#include "core/log.h"
#include "ragtune.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int die(const char *what) {
    fprintf(stderr, "bench_embed: %s: %s\n", what, rt_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: bench_embed MODEL TEXTS.bin BATCH IDS_OUT VECS_OUT [THREADS]\n");
        return 2;
    }
    int batch = atoi(argv[3]);
    if (batch < 1) batch = 1;
    rt_set_threads(argc > 6 ? atoi(argv[6]) : 0);
    rt_model *m;
    rt_tokenizer *tok;
    if (rt_model_load(argv[1], NULL, &m) != RT_OK) return die("model");
    if (rt_tokenizer_load(argv[1], &tok) != RT_OK) return die("tokenizer");
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = rt_model_n_ctx_train(m) < 512 ? rt_model_n_ctx_train(m) : 512; /* as the embedder */
    rt_context *ctx;
    if (rt_context_new(m, &cp, &ctx) != RT_OK) return die("context");
    int n_ctx = rt_context_n_ctx(ctx), C = rt_model_n_embd(m);

    FILE *f = fopen(argv[2], "rb");
    if (!f) return fprintf(stderr, "bench_embed: cannot read %s\n", argv[2]), 1;
    int32_t **ids = NULL;
    int *lens = NULL, n = 0, cap = 0;
    long tokens = 0;
    uint32_t len;
    while (fread(&len, 4, 1, f) == 1) {
        char *text = malloc(len + 1);
        if (!text || fread(text, 1, len, f) != len) return fprintf(stderr, "bad texts\n"), 1;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            ids = realloc(ids, (size_t)cap * sizeof *ids);
            lens = realloc(lens, (size_t)cap * sizeof *lens);
        }
        size_t n_ids;
        if (rt_tokenizer_encode(tok, text, len, true, &ids[n], &n_ids) != RT_OK)
            return die("tokenize");
        free(text);
        if (n_ids == 0) continue; /* the embedder gives empty texts the zero vector */
        lens[n] = n_ids > (size_t)n_ctx ? n_ctx : (int)n_ids;
        tokens += lens[n++];
    }
    fclose(f);
    float *vecs = malloc((size_t)n * C * sizeof *vecs);
    if (!vecs || n == 0) return fprintf(stderr, "bench_embed: no texts\n"), 1;

    int warm = n < batch ? n : batch;
    if (rt_model_embed_batch(ctx, (const int32_t *const *)ids, lens, warm, vecs) != RT_OK)
        return die("embed");
    double t0 = rt_time_now();
    for (int i = 0; i < n; i += batch) {
        int b = n - i < batch ? n - i : batch;
        if (rt_model_embed_batch(ctx, (const int32_t *const *)ids + i, lens + i, b,
                                 vecs + (size_t)i * C) != RT_OK)
            return die("embed");
    }
    double dt = rt_time_now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("ragtune_embed %.1f %.1f %d %ld\n", n / dt, ru.ru_maxrss / 1024.0, n, tokens);

    FILE *fi = fopen(argv[4], "wb"), *fv = fopen(argv[5], "wb");
    if (!fi || !fv) return fprintf(stderr, "bench_embed: cannot write the outputs\n"), 1;
    fwrite(&n, 4, 1, fi);
    for (int i = 0; i < n; i++) {
        fwrite(&lens[i], 4, 1, fi);
        fwrite(ids[i], 4, (size_t)lens[i], fi);
        free(ids[i]);
    }
    fwrite(vecs, sizeof *vecs, (size_t)n * C, fv);
    fclose(fi);
    fclose(fv);
    free(ids);
    free(lens);
    free(vecs);
    rt_context_free(ctx);
    rt_tokenizer_free(tok);
    rt_model_free(m);
    return 0;
}
