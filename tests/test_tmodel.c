/*
 * test_tmodel.c — the trainable model beyond the PyTorch reference (ref_grad.c):
 *   - LoRA over a frozen bf16 or q8_0 base gives the gradients of LoRA over the f32 base holding
 *     the same (dequantized) weights (max|g - g32| / max|g32| within 1e-4 for bf16, 2e-2 for
 *     q8_0, whose kernel also quantizes activations);
 *   - a LoRA model with B = 0 computes exactly the base model's loss; merging folds B A in;
 *   - bad token ids and sizes are errors, not crashes;
 *   - --precision bf16 packs the lm head once per step for all loss chunks, with the numbers of
 *     one chunk at a time (loss 1e-5 relative, gradients 1e-4 of the largest);
 *   - bf16 LoRA packs its frozen f32 base once at creation (and again after a merge), with the
 *     numbers of packing at every product (1e-6 relative: only threads' summation may differ).
 */
#include "testutil.h"

#include "train/tmodel.h"
#include "core/error.h"
#include "core/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_model_config cfg32(void) {
    return tu_tiny_config(RT_ARCH_LLAMA, 50, 64, 16);
}

static void batch(int32_t *in, int32_t *tg, int n) {
    for (int i = 0; i < n; i++) {
        in[i] = (i * 7 + 3) % 50;
        tg[i] = i % 5 == 0 ? -1 : (i * 11 + 1) % 50;
    }
}

/* bf16: the kernel widens W to f32, so results match the f32 base to rounding (loss 1e-5, grads
 * 1e-4 relative). q8_0: rt_matmul also quantizes the activations to 8 bits (integer dot
 * products), so the forward differs by that rounding: loss 1e-4, grads 2e-2 relative. */
static void check_quantized_base(rt_dtype dtype) {
    double loss_tol = dtype == RT_DTYPE_Q8_0 ? 1e-4 : 1e-5;
    double grad_tol = dtype == RT_DTYPE_Q8_0 ? 2e-2 : 1e-4;
    rt_model_config c = cfg32();
    tm_options o = {.lora_rank = 4,
                    .lora_alpha = 8,
                    .lora_targets = RT_LORA_ALL,
                    .base_dtype = dtype,
                    .seed = 3};
    tmodel *mq, *m32;
    assert_int_equal(tmodel_new(&c, NULL, &o, &mq), 0);
    o.base_dtype = RT_DTYPE_F32;
    assert_int_equal(tmodel_new(&c, NULL, &o, &m32), 0);
    /* Same weights: dequantize every base tensor of mq into m32; random B. */
    for (int i = 0; i < mq->n_tensors; i++) {
        rt_tensor *tq = mq->tensors[i].t, *t32 = tmodel_find_tensor(m32, mq->tensors[i].name);
        assert_non_null(t32);
        int64_t row = tq->shape[tq->n_dims - 1], n = rt_tensor_nelements(tq);
        for (int64_t r = 0; r < n / row; r++)
            rt_dequantize_row(tq->dtype, (char *)tq->data + r * rt_tensor_row_bytes(tq),
                              (float *)t32->data + r * row, row);
    }
    for (size_t i = 0; i < mq->n_train; i++)
        mq->train_data[i] = 0.05f * sinf((float)i * 0.37f) + (float)(i % 3) * 0.01f;
    memcpy(m32->train_data, mq->train_data, mq->n_train * sizeof(float));
    int32_t in[24], tg[24];
    batch(in, tg, 24);
    float lq, l32;
    assert_int_equal(tmodel_step(mq, in, tg, 2, 12, true, 1.0f, &lq, NULL), 0);
    assert_int_equal(tmodel_step(m32, in, tg, 2, 12, true, 1.0f, &l32, NULL), 0);
    assert_float_equal(lq, l32, loss_tol * fabs(l32));
    double maxg = 0;
    for (size_t i = 0; i < m32->n_train; i++)
        maxg = fmax(maxg, fabs(m32->train_grad[i]));
    assert_true(maxg > 0);
    for (int p = 0; p < m32->n_params; p++) {
        const tm_param *pp = &m32->params[p];
        double mx = 0;
        for (size_t i = 0; i < pp->n; i++)
            mx = fmax(mx, fabs(m32->train_grad[pp->offset + i]));
        double d =
            tu_max_abs_diff(mq->train_grad + pp->offset, m32->train_grad + pp->offset, pp->n);
        if (d > grad_tol * mx) fprintf(stderr, "%s: rel %.3g\n", pp->name, d / mx);
        assert_true(d <= grad_tol * mx);
    }
    tmodel_free(mq);
    tmodel_free(m32);
}

static void test_lora_q8_0_base(void **state) {
    (void)state;
    check_quantized_base(RT_DTYPE_Q8_0);
}
static void test_lora_bf16_base(void **state) {
    (void)state;
    check_quantized_base(RT_DTYPE_BF16);
}

static void test_lora_zero_b_and_merge(void **state) {
    (void)state;
    rt_model_config c = cfg32();
    tm_options full = {.seed = 9};
    tm_options lo = {.lora_rank = 2,
                     .lora_alpha = 4,
                     .lora_targets = RT_LORA_Q | RT_LORA_DOWN,
                     .base_dtype = RT_DTYPE_F32,
                     .seed = 9};
    tmodel *mf, *ml;
    assert_int_equal(tmodel_new(&c, NULL, &full, &mf), 0);
    assert_int_equal(tmodel_new(&c, NULL, &lo, &ml), 0);
    assert_int_equal(ml->n_params, 2 * 2 * 2); /* 2 layers x 2 targets x (A, B) */
    int32_t in[16], tg[16];
    batch(in, tg, 16);
    float a, b;
    assert_int_equal(tmodel_step(mf, in, tg, 1, 16, false, 1, &a, NULL), 0);
    assert_int_equal(tmodel_step(ml, in, tg, 1, 16, false, 1, &b, NULL), 0);
    assert_float_equal(a, b, 0); /* same seed, same base, B = 0 */
    for (size_t i = 0; i < ml->n_train; i++)
        ml->train_data[i] += 0.1f * cosf((float)i);
    float with_lora, merged;
    assert_int_equal(tmodel_step(ml, in, tg, 1, 16, false, 1, &with_lora, NULL), 0);
    assert_int_equal(tmodel_merge_lora(ml), 0);
    assert_int_equal(tmodel_step(ml, in, tg, 1, 16, false, 1, &merged, NULL), 0);
    assert_float_equal(with_lora, merged, 1e-5);
    assert_true(fabsf(with_lora - a) > 1e-4);
    tmodel_free(mf);
    tmodel_free(ml);
}

static void test_errors(void **state) {
    (void)state;
    rt_model_config c = cfg32();
    tm_options o = {.seed = 1};
    tmodel *m;
    assert_int_equal(tmodel_new(&c, NULL, &o, &m), 0);
    int32_t in[4] = {1, 2, 3, 50}, tg[4] = {1, 2, 3, 4};
    assert_int_equal(tmodel_step(m, in, tg, 1, 4, true, 1, NULL, NULL), RT_ERR_INVALID);
    in[3] = 4;
    tg[0] = -2;
    assert_int_equal(tmodel_step(m, in, tg, 1, 4, true, 1, NULL, NULL), RT_ERR_INVALID);
    assert_int_equal(tmodel_step(m, in, tg, 0, 4, true, 1, NULL, NULL), RT_ERR_INVALID);
    tmodel_free(m);
    c.n_head = 3; /* not a multiple of n_kv_head 2 */
    assert_int_equal(tmodel_new(&c, NULL, &o, &m), RT_ERR_INVALID);
    c = cfg32();
    c.arch = RT_ARCH_BERT;
    assert_int_equal(tmodel_new(&c, NULL, &o, &m), RT_ERR_UNSUPPORTED);
    c = cfg32();
    c.n_ff = 48; /* rows of down_proj cannot be q8_0 */
    tm_options q = {.lora_rank = 2,
                    .lora_alpha = 2,
                    .lora_targets = RT_LORA_ALL,
                    .base_dtype = RT_DTYPE_Q8_0,
                    .seed = 1};
    assert_true(tmodel_new(&c, NULL, &q, &m) < 0);
}

/* --precision bf16 with more rows than one loss chunk (256): the lm head is rounded and packed
 * once per step (rt_gemm_bf16_panels) for all chunks. A step over two sequences of 150 tokens
 * (300 rows: chunks of 256 and 44, both on the panels) gives the loss and gradients of two steps
 * over one sequence each (150 rows: one chunk, op_gemm's own packing), gradients summed with
 * grad_scale 1/2 (each half has half of the targets: the logits' gradient scale is the same
 * float on both sides). The bf16 roundings are the same; only f32 summation order differs (the
 * weight gradients sum 300 rows at once or 150 twice): loss within 1e-5 relative, each gradient
 * within 1e-4 of the largest. Full training (the tied head's gradient too) and LoRA. */
enum { T = 150, V = 96 };

/* dimensions of at least 32, so that every product but LoRA's runs in bf16 */
static tmodel *tiny_bf16(bool lora) {
    rt_model_config c = tu_tiny_config(RT_ARCH_LLAMA, V, 96, T);
    c.n_embd = 64;
    c.n_layer = 1;
    c.n_head = 2;
    c.n_kv_head = 1;
    c.head_dim = 32;
    c.tied_embeddings = true;
    tm_options o = {0};
    o.seed = 7;
    o.bf16 = true;
    o.base_dtype = RT_DTYPE_F32;
    if (lora) {
        o.lora_rank = 4;
        o.lora_alpha = 8;
        o.lora_targets = RT_LORA_ALL;
    }
    tmodel *m;
    if (tmodel_new(&c, NULL, &o, &m) != RT_OK) fail_msg("tmodel_new: %s", rt_last_error());
    return m;
}

static void check_bf16_head_panels(bool lora) {
    int32_t in[2 * T], tg[2 * T];
    unsigned s = 3;
    for (int i = 0; i < 2 * T; i++) {
        in[i] = (int32_t)(tu_frand(&s, 0.0f, 1.0f) * (V - 1));
        tg[i] = i % T % 7 == 3 ? -1 : (int32_t)(tu_frand(&s, 0.0f, 1.0f) * (V - 1));
    }
    tmodel *both = tiny_bf16(lora), *each = tiny_bf16(lora);
    if (lora) { /* B starts at zero: give it values so that the adapter's path counts */
        for (size_t i = 0; i < both->n_train; i++)
            both->train_data[i] = each->train_data[i] = tu_frand(&s, -0.05f, 0.05f);
    }
    memset(both->train_grad, 0, both->n_train * sizeof(float));
    memset(each->train_grad, 0, each->n_train * sizeof(float));
    float loss2, loss_a, loss_b;
    int64_t n2, n_a, n_b;
    assert_int_equal(tmodel_step(both, in, tg, 2, T, false, 1.0f, NULL, &n2), RT_OK);
    assert_int_equal(tmodel_step(each, in, tg, 1, T, false, 1.0f, NULL, &n_a), RT_OK);
    assert_int_equal(tmodel_step(each, in + T, tg + T, 1, T, false, 1.0f, NULL, &n_b), RT_OK);
    assert_int_equal(n2, n_a + n_b);
    assert_int_equal(n_a, n_b);
    assert_int_equal(tmodel_step(both, in, tg, 2, T, true, 1.0f, &loss2, NULL), RT_OK);
    assert_int_equal(tmodel_step(each, in, tg, 1, T, true, (float)n_a / (float)n2, &loss_a, NULL),
                     RT_OK);
    assert_int_equal(
        tmodel_step(each, in + T, tg + T, 1, T, true, (float)n_b / (float)n2, &loss_b, NULL),
        RT_OK);
    double want = ((double)loss_a * n_a + (double)loss_b * n_b) / (double)n2;
    if (!(fabs(loss2 - want) <= 1e-5 * fabs(want)))
        fail_msg("%s loss: %.7f over both, %.7f from each", lora ? "lora" : "full", loss2, want);
    double mx = 0.0;
    for (size_t i = 0; i < both->n_train; i++)
        mx = fmax(mx, fabs(each->train_grad[i]));
    assert_true(mx > 0.0);
    for (size_t i = 0; i < both->n_train; i++)
        if (!(fabs(both->train_grad[i] - each->train_grad[i]) <= 1e-4 * mx))
            fail_msg("%s gradient %zu: %g over both, %g from each (largest %g)",
                     lora ? "lora" : "full", i, both->train_grad[i], each->train_grad[i], mx);
    tmodel_free(both);
    tmodel_free(each);
}

static void test_bf16_head_panels_full(void **state) {
    (void)state;
    check_bf16_head_panels(false);
}

static void test_bf16_head_panels_lora(void **state) {
    (void)state;
    check_bf16_head_panels(true);
}

/* The frozen base's panels against none (each product packs W itself): the same step, then the
 * same again after merging B A into the base. */
static void test_bf16_frozen_panels(void **state) {
    (void)state;
    int32_t in[2 * T], tg[2 * T];
    unsigned s = 5;
    for (int i = 0; i < 2 * T; i++) {
        in[i] = (int32_t)(tu_frand(&s, 0.0f, 1.0f) * (V - 1));
        tg[i] = (int32_t)(tu_frand(&s, 0.0f, 1.0f) * (V - 1));
    }
    tmodel *m[2] = {tiny_bf16(true), tiny_bf16(true)};
    int n_packed = 0;
    for (int j = 0; j < 7; j++) {
        tm_linear *L = tmodel_linear(m[1], 0, j);
        n_packed += L->w_fwd.data != NULL;
        free(L->w_fwd.data);
        free(L->w_bwd.data);
        L->w_fwd.data = L->w_bwd.data = NULL;
    }
    assert_int_equal(n_packed, 7);
    for (size_t i = 0; i < m[0]->n_train; i++)
        m[0]->train_data[i] = m[1]->train_data[i] = tu_frand(&s, -0.05f, 0.05f);
    for (int round = 0; round < 2; round++) {
        float loss[2];
        for (int k = 0; k < 2; k++) {
            memset(m[k]->train_grad, 0, m[k]->n_train * sizeof(float));
            assert_int_equal(tmodel_step(m[k], in, tg, 2, T, true, 1.0f, &loss[k], NULL), RT_OK);
        }
        if (!(fabs(loss[0] - loss[1]) <= 1e-6 * fabs(loss[1])))
            fail_msg("round %d: loss %.8f with panels, %.8f without", round, loss[0], loss[1]);
        double mx = 0.0;
        for (size_t i = 0; i < m[1]->n_train; i++)
            mx = fmax(mx, fabs(m[1]->train_grad[i]));
        double d = tu_max_abs_diff(m[0]->train_grad, m[1]->train_grad, m[0]->n_train);
        if (!(mx > 0.0 && d <= 1e-6 * mx))
            fail_msg("round %d: gradients differ by %g (largest %g)", round, d, mx);
        for (int k = 0; k < 2; k++)
            assert_int_equal(tmodel_merge_lora(m[k]), RT_OK);
    }
    tmodel_free(m[0]);
    tmodel_free(m[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_q8_0_base),        cmocka_unit_test(test_lora_bf16_base),
        cmocka_unit_test(test_lora_zero_b_and_merge), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bf16_head_panels_full), cmocka_unit_test(test_bf16_head_panels_lora),
        cmocka_unit_test(test_bf16_frozen_panels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
