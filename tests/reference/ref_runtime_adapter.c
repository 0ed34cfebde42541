/*
 * ref_runtime_adapter.c — LoRA adapters applied at run time (rt_adapter_load +
 * rt_context_set_adapters) against the merged model and against PEFT's semantics in plain
 * PyTorch (tests/reference/runtime_adapter_ref.py, run on the fly), for small random llama (GQA),
 * qwen2 (q/k/v biases, tied) and gpt2 (fused c_attn) bases.
 *
 * Bounds (f32 throughout; the differences are the order of float additions: the merge folds
 * scale B A into W, the run-time branch adds scale B (A x) to W x):
 *   - adapter a1 (PEFT directory) at run time vs the model rt_lora_merge writes: max-abs <= 1e-4;
 *   - the same adapter written as a llama.cpp GGUF LoRA (adapter_save_gguf), at run time on the
 *     HF base, and both adapters on the base converted to GGUF (llama: q/k rows interleaved, so
 *     the PEFT B rows are permuted on load and the GGUF ones kept; on the HF base the reverse):
 *     max-abs <= 1e-4 against the merged model;
 *   - a1 at 0.5 and a2 (another rank, rsLoRA, an alpha_pattern) at 1.5 at once vs PyTorch:
 *     max-abs <= 1e-4; a1 alone vs PyTorch likewise;
 *   - a q8_0 (and q4_0) base with a1 at run time vs the merged f32 model: within twice the
 *     quantization's own error (base q8_0 vs base f32) plus 1e-4, and for q8_0 at most a
 *     quarter of the adapter's effect;
 *   - every adapter moves the logits by far more than the tolerance;
 *   - a context without adapters gives bit-identical logits before and after adapters were set
 *     and removed; changing the set empties the sequence, setting the same set keeps it;
 *   - an adapter for another base is refused with RT_ERR_INVALID naming the tensor.
 */
#include "testutil.h"

#include "core/error.h"
#include "core/file.h"
#include "model/model_file.h"
#include "ragtune.h"
#include "train/adapter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *g_dir;
static const char *const g_archs[3] = {"llama", "qwen2", "gpt2"};

static char *path_of(const char *fmt, const char *arch) {
    char rel[256];
    snprintf(rel, sizeof rel, fmt, arch);
    char *p = rt_path_join(g_dir, rel);
    assert_non_null(p);
    return p;
}

/* PEFT a1 -> adapter.gguf beside it (through the training model, as `ragtune finetune` does). */
static void write_gguf_adapter(const char *arch) {
    char *base = path_of("%s/base", arch), *a1 = path_of("%s/a1", arch);
    char *gguf = path_of("%s/a1.gguf", arch);
    tm_options o;
    assert_int_equal(adapter_read_config(a1, &o), RT_OK);
    rt_model_file *mf;
    assert_int_equal(rt_model_file_open(base, &mf), RT_OK);
    rt_model_config cfg = *rt_model_file_config(mf);
    tmodel *m;
    assert_int_equal(tmodel_new(&cfg, rt_model_file_weights(mf), &o, &m), RT_OK);
    int st = adapter_load_peft(m, a1);
    if (st == RT_OK) st = adapter_save_gguf(m, gguf);
    if (st != RT_OK) fail_msg("%s: %s", arch, rt_last_error());
    tmodel_free(m);
    rt_model_file_close(mf);
    free(base);
    free(a1);
    free(gguf);
}

static int setup(void **state) {
    (void)state;
    g_dir = tu_tmpdir("ref_runtime_adapter");
    if (!g_dir) return -1;
    if (tu_run_python("tests/reference/runtime_adapter_ref.py", "'%s'", g_dir) != 0) return -1;
    for (int i = 0; i < 3; i++) {
        const char *a = g_archs[i];
        char *base = path_of("%s/base", a), *a1 = path_of("%s/a1", a);
        char *merged = path_of("%s/merged", a), *gguf = path_of("%s/base.gguf", a);
        rt_model_file_convert_params cp = rt_model_file_convert_default_params();
        cp.dtype = RT_DTYPE_F32;
        if (rt_lora_merge(base, a1, merged) != RT_OK ||
            rt_model_file_convert(base, gguf, &cp) != RT_OK) {
            fprintf(stderr, "%s: %s\n", a, rt_last_error());
            return -1;
        }
        free(base);
        free(a1);
        free(merged);
        free(gguf);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static int32_t *tokens(int *n) {
    char *p = rt_path_join(g_dir, "tokens.i32");
    size_t len;
    int32_t *t = (int32_t *)tu_read_f32(p, &len); /* raw 4-byte values */
    assert_non_null(t);
    free(p);
    *n = (int)len;
    return t;
}

static rt_model *load(const char *path, int dtype) {
    rt_model_params mp = rt_model_default_params();
    mp.weight_dtype = dtype;
    rt_model *m;
    if (rt_model_load(path, &mp, &m) != RT_OK) fail_msg("load %s: %s", path, rt_last_error());
    return m;
}

static rt_adapter *adapter(const rt_model *m, const char *path) {
    rt_adapter *a;
    if (rt_adapter_load(m, path, &a) != RT_OK) fail_msg("adapter %s: %s", path, rt_last_error());
    assert_string_equal(rt_adapter_path(a), path);
    return a;
}

/* Logits (T, n_vocab) of model with these adapters for the test tokens (in two evals, so the
 * second runs against a KV cache filled with the adapters on). */
static float *logits_with(rt_model *m, rt_adapter *const *ads, const float *scales, int n,
                          size_t *count) {
    int T;
    int32_t *tok = tokens(&T);
    rt_context *ctx;
    assert_int_equal(rt_context_new(m, NULL, &ctx), RT_OK);
    assert_int_equal(rt_context_set_adapters(ctx, ads, scales, n), RT_OK);
    int V = rt_model_n_vocab(m);
    float *out = malloc((size_t)T * V * sizeof(float));
    int half = T / 2;
    assert_int_equal(rt_model_eval(ctx, tok, half, out), RT_OK);
    assert_int_equal(rt_model_eval(ctx, tok + half, T - half, out + (size_t)half * V), RT_OK);
    rt_context_free(ctx);
    free(tok);
    *count = (size_t)T * V;
    return out;
}

static float *read_ref(const char *fmt, const char *arch, size_t n) {
    char *p = path_of(fmt, arch);
    size_t len;
    float *r = tu_read_f32(p, &len);
    if (!r) fail_msg("cannot read %s", p);
    assert_int_equal(len, n);
    free(p);
    return r;
}

static void expect_close(const char *what, const char *arch, const float *got, const float *want,
                         const float *plain, size_t n, double tol) {
    double d = tu_max_abs_diff(got, want, n), moved = tu_max_abs_diff(plain, want, n);
    printf("  %s %s: max-abs %.3g (bound %.3g; the adapters move the logits by %.3g)\n", arch, what,
           d, tol, moved);
    assert_true(d <= tol);
    assert_true(moved >= 100 * tol);
}

static void test_against_merge_and_torch(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++) {
        const char *a = g_archs[i];
        write_gguf_adapter(a);
        char *base = path_of("%s/base", a), *merged = path_of("%s/merged", a);
        char *gbase = path_of("%s/base.gguf", a), *a1 = path_of("%s/a1", a);
        char *a2 = path_of("%s/a2", a), *a1g = path_of("%s/a1.gguf", a);
        size_t n;
        rt_model *mm = load(merged, -1);
        float *want = logits_with(mm, NULL, NULL, 0, &n);
        rt_model_free(mm);

        rt_model *m = load(base, -1);
        float *plain = logits_with(m, NULL, NULL, 0, &n);
        rt_adapter *peft = adapter(m, a1), *gguf = adapter(m, a1g), *second = adapter(m, a2);
        float *got = logits_with(m, &peft, NULL, 1, &n);
        expect_close("PEFT at run time vs merged", a, got, want, plain, n, 1e-4);
        float *ref = read_ref("%s/a1_logits.f32", a, n);
        expect_close("PEFT at run time vs PyTorch", a, got, ref, plain, n, 1e-4);
        free(got);
        got = logits_with(m, &gguf, NULL, 1, &n);
        expect_close("GGUF LoRA at run time vs merged", a, got, want, plain, n, 1e-4);
        free(got);
        rt_adapter *both[2] = {peft, second};
        float scales[2] = {0.5f, 1.5f};
        got = logits_with(m, both, scales, 2, &n);
        float *ref2 = read_ref("%s/two_logits.f32", a, n);
        expect_close("0.5 a1 + 1.5 a2 vs PyTorch", a, got, ref2, plain, n, 1e-4);
        free(got);
        rt_adapter_free(peft);
        rt_adapter_free(gguf);
        rt_adapter_free(second);
        rt_model_free(m);

        /* the GGUF base (llama: interleaved q/k rows) with both kinds of adapter file */
        m = load(gbase, -1);
        peft = adapter(m, a1);
        gguf = adapter(m, a1g);
        got = logits_with(m, &peft, NULL, 1, &n);
        expect_close("PEFT on the GGUF base vs merged", a, got, want, plain, n, 1e-4);
        free(got);
        got = logits_with(m, &gguf, NULL, 1, &n);
        expect_close("GGUF LoRA on the GGUF base vs merged", a, got, want, plain, n, 1e-4);
        free(got);
        rt_adapter_free(peft);
        rt_adapter_free(gguf);
        rt_model_free(m);

        free(ref);
        free(ref2);
        free(plain);
        free(want);
        free(base);
        free(merged);
        free(gbase);
        free(a1);
        free(a2);
        free(a1g);
    }
}

/* Quantized bases: the LoRA branch is f32 on top of the quantized projection. */
static void test_quantized_base(void **state) {
    (void)state;
    rt_dtype dtypes[2] = {RT_DTYPE_Q8_0, RT_DTYPE_Q4_0};
    for (int i = 0; i < 3; i++) {
        const char *a = g_archs[i];
        char *base = path_of("%s/base", a), *merged = path_of("%s/merged", a);
        char *a1 = path_of("%s/a1", a);
        size_t n;
        rt_model *mm = load(merged, -1), *mf = load(base, -1);
        float *want = logits_with(mm, NULL, NULL, 0, &n);
        float *plain_f32 = logits_with(mf, NULL, NULL, 0, &n);
        for (int k = 0; k < 2; k++) {
            rt_model *m = load(base, (int)dtypes[k]);
            float *plain = logits_with(m, NULL, NULL, 0, &n);
            double quant_err = tu_max_abs_diff(plain, plain_f32, n);
            rt_adapter *ad = adapter(m, a1);
            float *got = logits_with(m, &ad, NULL, 1, &n);
            double d = tu_max_abs_diff(got, want, n), moved = tu_max_abs_diff(plain, want, n);
            printf("  %s %s base + a1 vs merged f32: max-abs %.3g (the base's own quantization "
                   "error %.3g; bound %.3g; the adapter moves the logits by %.3g)\n",
                   a, rt_dtype_name(dtypes[k]), d, quant_err, 2 * quant_err + 1e-4, moved);
            assert_true(d <= 2 * quant_err + 1e-4);
            /* q8_0's error is small next to the adapter's effect (q4_0's is not, on a model of
             * this width) */
            if (dtypes[k] == RT_DTYPE_Q8_0) assert_true(moved > 4 * d);
            free(got);
            free(plain);
            rt_adapter_free(ad);
            rt_model_free(m);
        }
        free(want);
        free(plain_f32);
        rt_model_free(mm);
        rt_model_free(mf);
        free(base);
        free(merged);
        free(a1);
    }
}

/* No adapters: bit for bit as before; switching rewinds; the same set does not. */
static void test_switching(void **state) {
    (void)state;
    char *base = path_of("%s/base", "llama"), *a1 = path_of("%s/a1", "llama");
    char *a2 = path_of("%s/a2", "llama");
    rt_model *m = load(base, -1);
    int T;
    int32_t *tok = tokens(&T);
    int V = rt_model_n_vocab(m);
    float *fresh = malloc((size_t)T * V * sizeof(float)), *again = malloc((size_t)T * V * 4);
    rt_context *ctx;
    assert_int_equal(rt_context_new(m, NULL, &ctx), RT_OK);
    assert_int_equal(rt_model_eval(ctx, tok, T, fresh), RT_OK);
    rt_adapter *x = adapter(m, a1), *y = adapter(m, a2);
    assert_int_equal(rt_context_set_adapters(ctx, NULL, NULL, 0), RT_OK); /* unchanged */
    assert_int_equal(rt_context_n_past(ctx), T);
    assert_int_equal(rt_context_set_adapters(ctx, &x, NULL, 1), RT_OK);
    assert_int_equal(rt_context_n_past(ctx), 0);
    assert_null(rt_context_logits(ctx));
    assert_int_equal(rt_model_eval(ctx, tok, T, again), RT_OK);
    float one = 1.0f;
    assert_int_equal(rt_context_set_adapters(ctx, &x, &one, 1), RT_OK); /* same set */
    assert_int_equal(rt_context_n_past(ctx), T);
    float half = 0.5f;
    assert_int_equal(rt_context_set_adapters(ctx, &x, &half, 1), RT_OK); /* another scale */
    assert_int_equal(rt_context_n_past(ctx), 0);
    assert_int_equal(rt_context_set_adapters(ctx, &y, NULL, 1), RT_OK);
    assert_int_equal(rt_model_eval(ctx, tok, T, again), RT_OK);
    assert_int_equal(rt_context_set_adapters(ctx, NULL, NULL, 0), RT_OK);
    assert_int_equal(rt_context_n_past(ctx), 0);
    assert_int_equal(rt_model_eval(ctx, tok, T, again), RT_OK);
    assert_memory_equal(fresh, again, (size_t)T * V * sizeof(float));
    /* scale 0 is the base again, up to the zero branch added */
    assert_int_equal(rt_context_set_adapters(ctx, &x, (float[]){0.0f}, 1), RT_OK);
    assert_int_equal(rt_model_eval(ctx, tok, T, again), RT_OK);
    assert_true(tu_max_abs_diff(fresh, again, (size_t)T * V) <= 1e-5);
    float bad = NAN;
    assert_int_equal(rt_context_set_adapters(ctx, &x, &bad, 1), RT_ERR_INVALID);
    rt_context_free(ctx);
    rt_adapter_free(x);
    rt_adapter_free(y);
    rt_model_free(m);
    free(fresh);
    free(again);
    free(tok);
    free(base);
    free(a1);
    free(a2);
}

static void expect_refused(const rt_model *m, const char *path, const char *needle) {
    rt_adapter *a = (rt_adapter *)1;
    int st = rt_adapter_load(m, path, &a);
    printf("  refused: %s\n", rt_last_error());
    assert_int_equal(st, RT_ERR_INVALID);
    assert_null(a);
    if (!strstr(rt_last_error(), needle))
        fail_msg("'%s' does not name %s", rt_last_error(), needle);
}

static void test_another_base(void **state) {
    (void)state;
    char *llama = path_of("%s/base", "llama"), *qwen = path_of("%s/base", "qwen2");
    char *gpt2 = path_of("%s/base", "gpt2"), *la1 = path_of("%s/a1", "llama");
    char *la1g = path_of("%s/a1.gguf", "llama"), *ga1g = path_of("%s/a1.gguf", "gpt2");
    rt_model *mg = load(gpt2, -1), *mq = load(qwen, -1), *ml = load(llama, -1);
    /* a llama PEFT adapter on gpt2: its modules do not exist there */
    expect_refused(mg, la1, "transformer.h.0.attn.c_attn.lora_A.weight");
    /* on qwen2 with another k/v width (4 kv heads, not 2) */
    expect_refused(mq, la1, "model.layers.0.self_attn.k_proj");
    /* GGUF adapters name their architecture */
    expect_refused(mg, la1g, "for llama, the model is gpt2");
    expect_refused(ml, ga1g, "for gpt2, the model is llama");
    /* an adapter loaded for one model cannot be set on a context of another */
    rt_adapter *a = adapter(ml, la1);
    rt_context *ctx;
    assert_int_equal(rt_context_new(mg, NULL, &ctx), RT_OK);
    assert_int_equal(rt_context_set_adapters(ctx, &a, NULL, 1), RT_ERR_INVALID);
    printf("  refused: %s\n", rt_last_error());
    rt_context_free(ctx);
    rt_adapter_free(a);
    /* not an adapter at all */
    assert_int_not_equal(rt_adapter_load(ml, llama, &a), RT_OK);
    printf("  refused: %s\n", rt_last_error());
    rt_model_free(mg);
    rt_model_free(mq);
    rt_model_free(ml);
    free(llama);
    free(qwen);
    free(gpt2);
    free(la1);
    free(la1g);
    free(ga1g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_merge_and_torch),
        cmocka_unit_test(test_quantized_base),
        cmocka_unit_test(test_switching),
        cmocka_unit_test(test_another_base),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
