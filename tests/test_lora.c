/*
 * test_lora.c — model/lora: the "PATH[:SCALE]" spec of --adapter, and the LoRA branch of the
 * forward pass on a tiny random one-layer llama with a hand-made rank-2 pair on ffn_down: scale
 * 0 gives the base's logits bit for bit, scale 1 moves them, the same pair set twice at scale 1
 * equals it once at scale 2 (within 1e-5), and bad argument lists are refused.
 */
#include "testutil.h"

#include "core/error.h"
#include "model/lora.h"
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void spec(const char *s, const char *path, float scale) {
    char *p;
    float sc;
    if (rt_adapter_spec_parse(s, &p, &sc) != RT_OK) fail_msg("%s: %s", s, rt_last_error());
    assert_string_equal(p, path);
    assert_float_equal(sc, scale, 0);
    free(p);
}

static void test_spec_parse(void **state) {
    (void)state;
    spec("adapter", "adapter", 1.0f);
    spec("run/adapter:0.5", "run/adapter", 0.5f);
    spec("a.gguf:-1.25", "a.gguf", -1.25f);
    spec("a:1e-1", "a", 0.1f);
    spec("dir:with:colons", "dir:with:colons", 1.0f); /* not a number: part of the path */
    spec("dir:with:2", "dir:with", 2.0f);
    spec("trailing:", "trailing:", 1.0f);
    char *p = (char *)1;
    float sc;
    assert_int_equal(rt_adapter_spec_parse("", &p, &sc), RT_ERR_INVALID);
    assert_null(p);
    assert_int_equal(rt_adapter_spec_parse(":3", &p, &sc), RT_ERR_INVALID);
    assert_int_equal(rt_adapter_spec_parse("a:inf", &p, &sc), RT_ERR_INVALID);
    assert_int_equal(rt_adapter_spec_parse("a:nan", &p, &sc), RT_ERR_INVALID);
    assert_int_equal(rt_adapter_spec_parse(NULL, &p, &sc), RT_ERR_INVALID);
}

/* Random f32 weights for cfg, in one owned block. */
static float *fill(rt_tensor *t, int64_t d0, int64_t d1, unsigned *seed, float lo, float hi) {
    int64_t n = d0 * (d1 ? d1 : 1);
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        p[i] = tu_frand(seed, lo, hi);
    if (d1)
        rt_tensor_view_f32(t, p, d0, d1);
    else {
        rt_tensor_view_f32(t, p, d0, 1);
        t->n_dims = 1;
    }
    return p;
}

static void test_branch_is_linear_in_scale(void **state) {
    (void)state;
    rt_model_config c = tu_tiny_config(RT_ARCH_LLAMA, 40, 48, 16);
    c.n_layer = 1;
    rt_layer_weights lw = {0};
    rt_model_weights w = {0};
    w.layers = &lw;
    unsigned seed = 7;
    float *blocks[16];
    int nb = 0;
    int C = c.n_embd, q = c.n_head * c.head_dim, kv = c.n_kv_head * c.head_dim;
    blocks[nb++] = fill(&w.token_embd, c.n_vocab, C, &seed, -1, 1);
    blocks[nb++] = fill(&w.output_norm, C, 0, &seed, 0.9f, 1.1f);
    blocks[nb++] = fill(&lw.attn_norm, C, 0, &seed, 0.9f, 1.1f);
    blocks[nb++] = fill(&lw.ffn_norm, C, 0, &seed, 0.9f, 1.1f);
    blocks[nb++] = fill(&lw.wq, q, C, &seed, -0.2f, 0.2f);
    blocks[nb++] = fill(&lw.wk, kv, C, &seed, -0.2f, 0.2f);
    blocks[nb++] = fill(&lw.wv, kv, C, &seed, -0.2f, 0.2f);
    blocks[nb++] = fill(&lw.wo, C, q, &seed, -0.2f, 0.2f);
    blocks[nb++] = fill(&lw.ffn_gate, c.n_ff, C, &seed, -0.2f, 0.2f);
    blocks[nb++] = fill(&lw.ffn_up, c.n_ff, C, &seed, -0.2f, 0.2f);
    blocks[nb++] = fill(&lw.ffn_down, C, c.n_ff, &seed, -0.2f, 0.2f);
    rt_model *m;
    assert_int_equal(rt_model_from_weights(&c, &w, NULL, NULL, NULL, &m), RT_OK);
    /* a rank-2 pair on ffn_down: after it only the final norm and the head, so the branch shows */
    rt_adapter *ad;
    assert_int_equal(rt_adapter_alloc(&c, "hand-made", &ad), RT_OK);
    float a[2 * 48], b[32 * 2];
    for (int i = 0; i < 2 * c.n_ff; i++)
        a[i] = tu_frand(&seed, -0.3f, 0.3f);
    for (int i = 0; i < 2 * C; i++)
        b[i] = tu_frand(&seed, -0.3f, 0.3f);
    assert_int_equal(rt_adapter_set_linear(ad, 0, 6, 2, 0.5f, a, b), RT_OK);
    assert_string_equal(rt_adapter_path(ad), "hand-made");
    int32_t tok[5] = {1, 7, 3, 30, 12};
    int V = c.n_vocab;
    float base[5 * 40], zero[5 * 40], one[5 * 40], two[5 * 40];
    rt_context *ctx;
    assert_int_equal(rt_context_new(m, NULL, &ctx), RT_OK);
    assert_int_equal(rt_model_eval(ctx, tok, 5, base), RT_OK);
    float s0 = 0.0f, s1 = 1.0f, s2 = 2.0f;
    assert_int_equal(rt_context_set_adapters(ctx, &ad, &s0, 1), RT_OK);
    assert_int_equal(rt_model_eval(ctx, tok, 5, zero), RT_OK);
    assert_memory_equal(base, zero, sizeof base); /* a zero branch adds exactly 0 */
    assert_int_equal(rt_context_set_adapters(ctx, &ad, &s1, 1), RT_OK);
    assert_int_equal(rt_model_eval(ctx, tok, 5, one), RT_OK);
    /* two adapters: the same pair twice at scale 1 each is the pair at scale 2 */
    rt_adapter *both[2] = {ad, ad};
    assert_int_equal(rt_context_set_adapters(ctx, both, NULL, 2), RT_OK);
    assert_int_equal(rt_model_eval(ctx, tok, 5, two), RT_OK);
    float two_b[5 * 40];
    assert_int_equal(rt_context_set_adapters(ctx, &ad, &s2, 1), RT_OK);
    assert_int_equal(rt_model_eval(ctx, tok, 5, two_b), RT_OK);
    assert_true(tu_max_abs_diff(two, two_b, (size_t)5 * V) <= 1e-5);
    assert_true(tu_max_abs_diff(one, base, (size_t)5 * V) >= 1e-3);
    /* bad calls */
    assert_int_equal(rt_context_set_adapters(ctx, NULL, NULL, 1), RT_ERR_INVALID);
    assert_int_equal(rt_context_set_adapters(ctx, both, NULL, -1), RT_ERR_INVALID);
    rt_context_free(ctx);
    rt_adapter_free(ad);
    rt_model_free(m);
    for (int i = 0; i < nb; i++)
        free(blocks[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_branch_is_linear_in_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
