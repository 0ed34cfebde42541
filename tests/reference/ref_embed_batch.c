/*
 * ref_embed_batch.c — rt_model_embed_batch against PyTorch embedding the same texts in one padded
 * batch (tests/reference/embed_batch_ref.py, run on the fly): a small random llama (GQA, RoPE,
 * causal) and a small random bert (bidirectional), 13 texts of 1 to 48 tokens, right-padded with
 * an attention mask in torch, mean pooling over each text's own tokens, L2-normalized.
 * ragtune packs the same texts with no padding (attention within each text only); the vectors
 * must agree within 1e-4 per component (f32 on both sides; observed ~1e-7, float summation order
 * only), on 1 and 2 threads, and equal rt_model_embed's one-at-a-time vectors within 1e-5.
 */
#include "testutil.h"

#include "ragtune.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *g_dir;

static int setup(void **state) {
    (void)state;
    g_dir = tu_tmpdir("embed-batch");
    if (!g_dir) return -1;
    return tu_run_python("tests/reference/embed_batch_ref.py", "'%s'", g_dir);
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static void check_model(const char *name) {
    char path[1100], p[1200];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    size_t n_words, n_ref;
    snprintf(p, sizeof p, "%s/batch.i32", path);
    int32_t *batch = (int32_t *)tu_read_f32(p, &n_words); /* raw 4-byte values */
    snprintf(p, sizeof p, "%s/embed.f32", path);
    float *ref = tu_read_f32(p, &n_ref);
    assert_non_null(batch);
    assert_non_null(ref);
    int n = batch[0], T = batch[1];
    assert_int_equal(n_words, 2 + (size_t)n * T + (size_t)n);
    const int32_t *ids = batch + 2, *lens = batch + 2 + (size_t)n * T;

    rt_model *m = NULL;
    if (rt_model_load(path, NULL, &m) != RT_OK) fail_msg("load: %s", rt_last_error());
    int C = rt_model_n_embd(m);
    assert_int_equal(n_ref, (size_t)n * C);
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = T;
    rt_context *ctx = NULL;
    assert_int_equal(rt_context_new(m, &cp, &ctx), RT_OK);
    const int32_t **texts = calloc((size_t)n, sizeof *texts);
    int *len = calloc((size_t)n, sizeof *len);
    float *out = malloc((size_t)n * C * sizeof *out), *one = malloc((size_t)C * sizeof *one);
    for (int i = 0; i < n; i++) {
        texts[i] = ids + (size_t)i * T;
        len[i] = lens[i];
    }
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        assert_int_equal(rt_model_embed_batch(ctx, texts, len, n, out), RT_OK);
        double d = tu_max_abs_diff(out, ref, (size_t)n * C);
        printf("%s, %d thread(s): max |ragtune batch - torch padded batch| %.3g\n", name, threads,
               d);
        assert_true(d <= 1e-4);
    }
    omp_set_num_threads(1);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(rt_model_embed(ctx, texts[i], len[i], one), RT_OK);
        double d = tu_max_abs_diff(one, out + (size_t)i * C, (size_t)C);
        worst = d > worst ? d : worst;
    }
    printf("%s: max |batch - one at a time| %.3g\n", name, worst);
    assert_true(worst <= 1e-5);
    free(texts);
    free(len);
    free(out);
    free(one);
    rt_context_free(ctx);
    rt_model_free(m);
    free(batch);
    free(ref);
}

static void test_llama(void **state) {
    (void)state;
    check_model("llama");
}

static void test_bert(void **state) {
    (void)state;
    check_model("bert");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama),
        cmocka_unit_test(test_bert),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
