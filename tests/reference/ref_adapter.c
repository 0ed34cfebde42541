/*
 * ref_adapter.c — gpt2 LoRA adapters in PEFT's format against PEFT's semantics re-implemented in
 * plain PyTorch (tests/reference/adapter_ref.py, run on the fly; it needs neither peft nor
 * transformers). The base is a small random GPT-2 written as a Hugging Face directory.
 *
 * ragtune's adapter (LoRA on q, k, v, o, up, down, every A and B entry nonzero), saved with
 * adapter_save_peft (c_attn fused, rank 3r, rank_pattern/alpha_pattern):
 *   - the reference applies PEFT's forward to the base's Conv1D modules; ragtune's merged model
 *     (`ragtune merge`'s rt_lora_merge, written as an HF directory, run by rt_model_eval) gives
 *     the same logits: max|dl| / max|l| <= 1e-4;
 *   - every weight of the merged directory equals PEFT's merge W + scale (B A)^T (fan_in_fan_out)
 *     within 1e-5 absolute (checked in the script);
 *   - the unmerged LoRA forward of the training model (tmodel_step) gives the reference loss
 *     within 1e-5 relative.
 * A hand-made adapter shaped as PEFT writes it for GPT-2 (one dense rank-r c_attn LoRA,
 * "c_proj" for both projections, c_fc, an alpha_pattern entry for c_fc), loaded through
 * adapter_read_config / adapter_load_peft and merged through rt_lora_merge, meets the same
 * bounds. f32 throughout: the differences are the order of float additions (the reference adds
 * the LoRA branch to the output, ragtune's merge folds it into W).
 * Each comparison also checks that the adapter moves the logits far more than the tolerance.
 */
#include "testutil.h"

#include "model/model_file.h"
#include "ragtune.h"
#include "train/adapter.h"
#include "core/error.h"
#include "core/file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *g_dir;

static int setup(void **state) {
    (void)state;
    g_dir = tu_tmpdir("ref_adapter");
    if (!g_dir) return -1;
    return tu_run_python("tests/reference/adapter_ref.py", "base '%s'", g_dir);
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static char *path_of(const char *name) {
    char *p = rt_path_join(g_dir, name);
    assert_non_null(p);
    return p;
}

static int32_t *tokens(int *n) {
    char *p = path_of("tokens.i32");
    size_t len;
    int32_t *t = (int32_t *)tu_read_f32(p, &len); /* raw 4-byte values */
    assert_non_null(t);
    free(p);
    *n = (int)len;
    return t;
}

/* Logits (T, n_vocab) of the model at path for the test tokens. */
static float *logits_of(const char *path, const int32_t *tok, int T, int *n_vocab) {
    rt_model *m;
    int st = rt_model_load(path, NULL, &m);
    if (st != RT_OK) fail_msg("load %s: %s", path, rt_last_error());
    rt_context *ctx;
    assert_int_equal(rt_context_new(m, NULL, &ctx), RT_OK);
    *n_vocab = rt_model_n_vocab(m);
    float *out = malloc((size_t)T * (size_t)*n_vocab * sizeof(float));
    assert_int_equal(rt_model_eval(ctx, tok, T, out), RT_OK);
    rt_context_free(ctx);
    rt_model_free(m);
    return out;
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* Compares the logits of the merged model (directory `merged`) with the reference
 * <prefix>_logits.f32; also the base's logits, which must be far off. */
static void check_merged(const char *merged, const char *prefix) {
    char *base = path_of("base"), *mdir = path_of(merged);
    int T, V;
    int32_t *tok = tokens(&T);
    char name[64];
    snprintf(name, sizeof name, "%s_logits.f32", prefix);
    char *rp = path_of(name);
    size_t n;
    float *ref = tu_read_f32(rp, &n);
    assert_non_null(ref);
    float *got = logits_of(mdir, tok, T, &V);
    float *plain = logits_of(base, tok, T, &V);
    assert_int_equal(n, (size_t)T * V);
    double scale = max_abs(ref, n), d = tu_max_abs_diff(got, ref, n);
    double moved = tu_max_abs_diff(plain, ref, n);
    printf("  %s: merged logits vs PEFT reference: max-abs %.3g, relative %.3g (the adapter "
           "moves them by %.3g)\n",
           prefix, d, d / scale, moved / scale);
    assert_true(d / scale <= 1e-4);
    assert_true(moved / scale >= 1e-2);
    free(plain);
    free(got);
    free(ref);
    free(rp);
    free(tok);
    free(base);
    free(mdir);
}

/* rt_lora_merge of adapter into the base, then the script's reference for the adapter
 * (<prefix>_logits.f32, <prefix>_loss.f32) and its check of the merged weights. */
static void merge_and_reference(const char *adapter, const char *prefix, const char *merged) {
    char *base = path_of("base"), *adir = path_of(adapter), *mdir = path_of(merged);
    int st = rt_lora_merge(base, adir, mdir);
    if (st != RT_OK) fail_msg("merge: %s", rt_last_error());
    assert_int_equal(tu_run_python("tests/reference/adapter_ref.py", "ref '%s' '%s' '%s/%s' '%s'",
                                   g_dir, adir, g_dir, prefix, mdir),
                     0);
    free(base);
    free(adir);
    free(mdir);
}

/* The training model's loss (unmerged LoRA forward) against the reference loss. */
static void check_loss(tmodel *m, const char *prefix) {
    int T;
    int32_t *tok = tokens(&T);
    int32_t *targets = malloc((size_t)T * sizeof *targets);
    for (int t = 0; t < T; t++)
        targets[t] = t + 1 < T ? tok[t + 1] : -1;
    float loss;
    int64_t n_targets;
    assert_int_equal(tmodel_step(m, tok, targets, 1, T, false, 1.0f, &loss, &n_targets), RT_OK);
    char name[64];
    snprintf(name, sizeof name, "%s_loss.f32", prefix);
    char *rp = path_of(name);
    size_t n;
    float *ref = tu_read_f32(rp, &n);
    assert_non_null(ref);
    double rel = fabs((double)loss - ref[0]) / fabs(ref[0]);
    printf("  %s: training forward loss %.7f, reference %.7f, relative %.3g\n", prefix, loss,
           ref[0], rel);
    assert_true(rel <= 1e-5);
    free(ref);
    free(rp);
    free(targets);
    free(tok);
}

static tmodel *model_on_base(rt_model_file **mf, tm_options *o) {
    char *base = path_of("base");
    assert_int_equal(rt_model_file_open(base, mf), RT_OK);
    free(base);
    rt_model_config cfg = *rt_model_file_config(*mf);
    tmodel *m;
    int st = tmodel_new(&cfg, rt_model_file_weights(*mf), o, &m);
    if (st != RT_OK) fail_msg("tmodel_new: %s", rt_last_error());
    return m;
}

/* A LoRA model on the base with every A and B entry set (B is zero after initialization), saved
 * as a PEFT adapter under name, merged and held against the script's PEFT reference. With rsLoRA
 * the scale is alpha / sqrt(r), and the fused c_attn of rank 3r is saved with alpha sqrt(3) alpha
 * so that its PEFT scale is unchanged. */
static void ours_against_peft(const char *name, bool rslora, uint64_t seed, float phase) {
    tm_options o = {.lora_rank = 3,
                    .lora_alpha = 6,
                    .lora_rslora = rslora,
                    .lora_targets =
                        RT_LORA_Q | RT_LORA_K | RT_LORA_V | RT_LORA_O | RT_LORA_UP | RT_LORA_DOWN,
                    .base_dtype = RT_DTYPE_F32,
                    .seed = seed};
    rt_model_file *mf;
    tmodel *m = model_on_base(&mf, &o);
    assert_float_equal(m->layers[0].q.scale, rslora ? 6.0f / sqrtf(3.0f) : 2.0f, 0);
    for (size_t i = 0; i < m->n_train; i++)
        m->train_data[i] = 0.15f * sinf((float)i * 0.61f + phase);
    char *dir = path_of(name), merged[64];
    assert_int_equal(adapter_save_peft(m, dir, "base"), RT_OK);
    tm_options back;
    assert_int_equal(adapter_read_config(dir, &back), RT_OK);
    assert_true(back.lora_rslora == rslora);
    free(dir);
    snprintf(merged, sizeof merged, "%s_merged", name);
    merge_and_reference(name, name, merged);
    check_loss(m, name);
    check_merged(merged, name);
    tmodel_free(m);
    rt_model_file_close(mf);
}

static void test_ours_against_peft(void **state) {
    (void)state;
    ours_against_peft("ours", false, 11, 0.3f);
}

static void test_ours_rslora_against_peft(void **state) {
    (void)state;
    ours_against_peft("ours_rs", true, 12, 1.1f);
}

static void test_peft_gpt2_adapter(void **state) {
    (void)state;
    char *dir = path_of("peft");
    tm_options o;
    assert_int_equal(adapter_read_config(dir, &o), RT_OK);
    assert_int_equal(o.lora_targets,
                     RT_LORA_Q | RT_LORA_K | RT_LORA_V | RT_LORA_O | RT_LORA_UP | RT_LORA_DOWN);
    o.lora_dropout = 0.0f;
    rt_model_file *mf;
    tmodel *m = model_on_base(&mf, &o);
    int st = adapter_load_peft(m, dir);
    if (st != RT_OK) fail_msg("load: %s", rt_last_error());
    /* alpha_pattern {"c_fc": 32} over r = 4; the others lora_alpha 16 / 4 */
    assert_float_equal(m->layers[1].up.scale, 8.0f, 0);
    assert_float_equal(m->layers[1].q.scale, 4.0f, 0);
    assert_float_equal(m->layers[1].down.scale, 4.0f, 0);
    check_loss(m, "peft");
    tmodel_free(m);
    rt_model_file_close(mf);
    free(dir);
    /* the script's reference for the same adapter again (peft2_*), and its merged weights */
    merge_and_reference("peft", "peft2", "peft_merged");
    check_merged("peft_merged", "peft");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ours_against_peft),
        cmocka_unit_test(test_ours_rslora_against_peft),
        cmocka_unit_test(test_peft_gpt2_adapter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
