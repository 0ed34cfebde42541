/*
 * test_embed_batch.c — rt_model_embed_batch (texts packed into passes, one pass per thread)
 * gives every text the vector rt_model_embed gives it alone.
 * Tiny random llama (RoPE, causal) with weights f32 and q8_0, and gpt2 (learned positions,
 * LayerNorm); bert takes the same packed path and is checked against rt_model_embed and PyTorch
 * in tests/reference/ref_embed_batch.c. 24 texts of 1 to 64 tokens (the context), batch sizes 1
 * to 17 at shifting offsets, on 1 and 2 threads, with passes of 256 tokens forcing several passes
 * per call; a context with two run-time LoRA adapters. Tolerance: max |batched - alone| <= 1e-5
 * per component of the unit vectors (only float summation order differs: the same rows go
 * through a (T x n_embd) product of another T). Bad calls are refused before any work.
 */
#include "testutil.h"

#include "core/error.h"
#include "model/model.h"
#include "model/model_file.h"
#include "train/tmodel.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { N_TEXTS = 24, N_VOCAB = 50, N_CTX = 64, MAX_BATCH = 17 };
static const double TOL = 1e-5;

typedef struct texts {
    int32_t ids[N_TEXTS][N_CTX];
    int len[N_TEXTS];
    const int32_t *ptr[N_TEXTS];
} texts;

static void make_texts(texts *t) {
    unsigned seed = 4242;
    for (int i = 0; i < N_TEXTS; i++) {
        /* lengths spread over 1..N_CTX, with the extremes present */
        t->len[i] = i == 0 ? N_CTX : i == 1 ? 1 : 1 + (int)(tu_frand(&seed, 0, 1) * N_CTX) % N_CTX;
        for (int k = 0; k < t->len[i]; k++)
            t->ids[i][k] = (int32_t)(tu_frand(&seed, 0, 1) * N_VOCAB) % N_VOCAB;
        t->ptr[i] = t->ids[i];
    }
}

/* A random tiny model of arch with weights stored as weight_dtype (-1: as built, f32). */
static rt_model *random_model(rt_arch arch, int weight_dtype, tmodel **tm, rt_model_weights *w) {
    rt_model_config c = tu_tiny_config(arch, N_VOCAB, 64, N_CTX);
    tm_options o = {.base_dtype = RT_DTYPE_F32, .seed = 5};
    assert_int_equal(tmodel_new(&c, NULL, &o, tm), 0);
    unsigned seed = 31u + (unsigned)arch;
    for (size_t i = 0; i < (*tm)->n_store; i++)
        (*tm)->store[i] = tu_frand(&seed, -0.4f, 0.4f);
    assert_int_equal(tmodel_weights(*tm, w), 0);
    rt_model_params mp = rt_model_default_params();
    mp.weight_dtype = weight_dtype;
    rt_model *m = NULL;
    if (rt_model_from_weights(&(*tm)->cfg, w, &mp, NULL, NULL, &m) != RT_OK)
        fail_msg("model: %s", rt_last_error());
    return m;
}

/* Every batch of 1..MAX_BATCH consecutive texts equals the texts embedded alone. */
static double check_batches(rt_context *ctx, const texts *t, int n_threads) {
    int C = rt_model_n_embd(ctx->model);
    float *alone = malloc((size_t)N_TEXTS * C * sizeof *alone);
    float *batch = malloc((size_t)MAX_BATCH * C * sizeof *batch);
    assert_non_null(alone);
    assert_non_null(batch);
    for (int i = 0; i < N_TEXTS; i++)
        assert_int_equal(rt_model_embed(ctx, t->ids[i], t->len[i], alone + (size_t)i * C), RT_OK);
    omp_set_num_threads(n_threads);
    double worst = 0;
    for (int b = 1; b <= MAX_BATCH; b++) {
        int first = (b * 7) % (N_TEXTS - b + 1);
        assert_int_equal(
            rt_model_embed_batch(ctx, t->ptr + first, t->len + first, b, batch), RT_OK);
        double d = tu_max_abs_diff(batch, alone + (size_t)first * C, (size_t)b * C);
        worst = d > worst ? d : worst;
        /* unit vectors */
        for (int i = 0; i < b; i++) {
            double ss = 0;
            for (int k = 0; k < C; k++)
                ss += (double)batch[(size_t)i * C + k] * batch[(size_t)i * C + k];
            assert_true(fabs(ss - 1.0) < 1e-5);
        }
    }
    /* all texts at once: several passes per thread */
    float *all = malloc((size_t)N_TEXTS * C * sizeof *all);
    assert_int_equal(rt_model_embed_batch(ctx, t->ptr, t->len, N_TEXTS, all), RT_OK);
    double d = tu_max_abs_diff(all, alone, (size_t)N_TEXTS * C);
    worst = d > worst ? d : worst;
    omp_set_num_threads(1);
    free(all);
    free(alone);
    free(batch);
    return worst;
}

static void check_arch(rt_arch arch, int weight_dtype) {
    tmodel *tm;
    rt_model_weights w;
    rt_model *m = random_model(arch, weight_dtype, &tm, &w);
    texts t;
    make_texts(&t);
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = N_CTX;
    cp.n_batch = 16; /* rt_model_embed runs the longer texts in several chunks */
    rt_context *ctx;
    assert_int_equal(rt_context_new(m, &cp, &ctx), RT_OK);
    for (int threads = 1; threads <= 2; threads++) {
        double d = check_batches(ctx, &t, threads);
        printf("%s %s, %d thread(s): max |batched - alone| %.3g\n", rt_arch_name(arch),
               weight_dtype < 0 ? "f32" : rt_dtype_name(weight_dtype), threads, d);
        assert_true(d <= TOL);
    }
    /* run-time adapters: one pass at a time, LoRA over more rows than n_batch */
    rt_adapter *ad[2] = {tu_random_adapter(&tm->cfg, 7), tu_random_adapter(&tm->cfg, 8)};
    float scales[2] = {0.75f, -1.5f};
    assert_int_equal(rt_context_set_adapters(ctx, ad, scales, 2), RT_OK);
    double d = check_batches(ctx, &t, 2);
    printf("%s with adapters: max |batched - alone| %.3g\n", rt_arch_name(arch), d);
    assert_true(d <= TOL);
    assert_int_equal(rt_context_set_adapters(ctx, NULL, NULL, 0), RT_OK);
    rt_adapter_free(ad[0]);
    rt_adapter_free(ad[1]);
    rt_context_free(ctx);
    rt_model_free(m);
    rt_model_weights_free(&w, tm->cfg.n_layer);
    tmodel_free(tm);
}

static void test_llama_f32(void **state) {
    (void)state;
    check_arch(RT_ARCH_LLAMA, -1);
}

static void test_llama_q8_0(void **state) {
    (void)state;
    check_arch(RT_ARCH_LLAMA, RT_DTYPE_Q8_0);
}

static void test_gpt2(void **state) {
    (void)state;
    check_arch(RT_ARCH_GPT2, -1);
}

static void test_bad_calls(void **state) {
    (void)state;
    tmodel *tm;
    rt_model_weights w;
    rt_model *m = random_model(RT_ARCH_LLAMA, -1, &tm, &w);
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = 8;
    rt_context *ctx;
    assert_int_equal(rt_context_new(m, &cp, &ctx), RT_OK);
    int32_t ok[2] = {1, 2}, bad[2] = {1, N_VOCAB}, long_ids[9] = {0};
    const int32_t *p[2] = {ok, bad};
    int len[2] = {2, 2};
    float out[2 * 32];
    assert_int_equal(rt_model_embed_batch(ctx, p, len, 2, out), RT_ERR_INVALID);
    len[1] = 0;
    p[1] = ok;
    assert_int_equal(rt_model_embed_batch(ctx, p, len, 2, out), RT_ERR_INVALID);
    len[1] = 9;
    p[1] = long_ids;
    assert_int_equal(rt_model_embed_batch(ctx, p, len, 2, out), RT_ERR_RANGE);
    assert_int_equal(rt_model_embed_batch(ctx, p, len, -1, out), RT_ERR_INVALID);
    assert_int_equal(rt_model_embed_batch(ctx, NULL, NULL, 0, NULL), RT_OK);
    len[1] = 8;
    assert_int_equal(rt_model_embed_batch(ctx, p, len, 2, out), RT_OK);
    rt_context_free(ctx);
    rt_model_free(m);
    rt_model_weights_free(&w, tm->cfg.n_layer);
    tmodel_free(tm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_f32),
        cmocka_unit_test(test_llama_q8_0),
        cmocka_unit_test(test_gpt2),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
