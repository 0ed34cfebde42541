/*
 * test_decode_batch.c — rt_decode_batch (continuous batching): one decode step of several
 * sequences at once gives each sequence the logits it gets decoded alone with rt_model_eval.
 * Tiny random llama and gpt2 (qwen2 is llama's path plus the q/k/v biases gpt2 has), weights f32 and q8_0; five sequences with prompts of
 * different lengths (1 to 20 tokens), two of them with their own run-time LoRA adapters (one
 * with two adapters at other scales); six steps in which sequences leave and join the batch and
 * its order changes. Tolerance: |batched - alone| <= 1e-5 * max|alone logit| per row (the only
 * difference is float summation order: a (B x n_embd) product against B matrix-vector ones).
 * A batch of one is bit for bit rt_model_eval. Bad calls are refused and change nothing.
 */
#include "testutil.h"

#include "core/error.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/model_file.h"
#include "train/tmodel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N_SEQ = 5, N_VOCAB = 50, N_CTX = 64, N_STEPS = 6 };
static const double REL_TOL = 1e-5;

typedef struct fixture {
    tu_model m;
    rt_adapter *ad[2];
} fixture;

static void fixture_open(fixture *f, rt_arch arch, int weight_dtype) {
    memset(f, 0, sizeof *f);
    tu_random_model_open(&f->m, arch, N_VOCAB, 64, N_CTX, weight_dtype, 977u + (unsigned)arch);
    f->ad[0] = tu_random_adapter(&f->m.tm->cfg, 11);
    f->ad[1] = tu_random_adapter(&f->m.tm->cfg, 12);
}

static void fixture_close(fixture *f) {
    rt_adapter_free(f->ad[0]);
    rt_adapter_free(f->ad[1]);
    tu_random_model_close(&f->m);
}

/* Sequence i's context: its adapters, then its prompt of a length of its own. */
static rt_context *open_sequence(fixture *f, int i) {
    static const int prompt_len[N_SEQ] = {1, 3, 7, 12, 20};
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = N_CTX;
    cp.n_batch = 8; /* the longer prompts prefill in several chunks */
    rt_context *ctx;
    assert_int_equal(rt_context_new(f->m.model, &cp, &ctx), RT_OK);
    if (i == 1) {
        assert_int_equal(rt_context_set_adapters(ctx, f->ad, NULL, 1), RT_OK);
    } else if (i == 3) {
        float scales[2] = {0.5f, -1.25f};
        assert_int_equal(rt_context_set_adapters(ctx, f->ad, scales, 2), RT_OK);
    }
    int32_t prompt[32];
    unsigned seed = 100u + (unsigned)i;
    for (int t = 0; t < prompt_len[i]; t++)
        prompt[t] = (int32_t)(tu_frand(&seed, 0, 1) * N_VOCAB) % N_VOCAB;
    assert_int_equal(rt_model_eval(ctx, prompt, prompt_len[i], NULL), RT_OK);
    return ctx;
}

static int32_t argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static double max_abs(const float *x, int n) {
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* Which sequences step together at each step (in this order): all, some leave, the order
 * changes, they come back. */
static const int step_members[N_STEPS][N_SEQ + 1] = {
    {5, 0, 1, 2, 3, 4}, {3, 4, 2, 0, -1, -1}, {2, 3, 1, -1, -1, -1},
    {5, 4, 3, 2, 1, 0}, {1, 2, -1, -1, -1, -1}, {4, 1, 0, 3, 2, -1},
};

static void check_arch(rt_arch arch, int weight_dtype) {
    fixture f;
    fixture_open(&f, arch, weight_dtype);
    rt_context *alone[N_SEQ], *batched[N_SEQ];
    for (int i = 0; i < N_SEQ; i++) {
        alone[i] = open_sequence(&f, i);
        batched[i] = open_sequence(&f, i);
        /* the same prompt gives the same logits to start with */
        assert_memory_equal(rt_context_logits(alone[i]), rt_context_logits(batched[i]),
                            N_VOCAB * sizeof(float));
    }
    double worst = 0;
    for (int s = 0; s < N_STEPS; s++) {
        int n = step_members[s][0];
        rt_context *ctxs[N_SEQ];
        int32_t toks[N_SEQ];
        for (int k = 0; k < n; k++) {
            int i = step_members[s][1 + k];
            /* both copies take the token the alone copy would pick (greedy) */
            toks[k] = argmax(rt_context_logits(alone[i]), N_VOCAB);
            ctxs[k] = batched[i];
            assert_int_equal(rt_model_eval(alone[i], &toks[k], 1, NULL), RT_OK);
        }
        if (rt_decode_batch(ctxs, toks, n) != RT_OK) fail_msg("batch: %s", rt_last_error());
        for (int k = 0; k < n; k++) {
            int i = step_members[s][1 + k];
            const float *want = rt_context_logits(alone[i]), *got = rt_context_logits(batched[i]);
            assert_non_null(got);
            assert_int_equal(rt_context_n_past(batched[i]), rt_context_n_past(alone[i]));
            assert_memory_equal(rt_context_tokens(batched[i]), rt_context_tokens(alone[i]),
                                (size_t)rt_context_n_past(alone[i]) * sizeof(int32_t));
            double scale = max_abs(want, N_VOCAB);
            double d = tu_max_abs_diff(got, want, N_VOCAB) / scale;
            if (d > worst) worst = d;
            if (d > REL_TOL)
                fail_msg("%s dtype %d step %d sequence %d: relative difference %.3g > %.0e",
                         rt_arch_name(arch), weight_dtype, s, i, d, REL_TOL);
        }
    }
    print_message("%s dtype %d: largest relative difference %.3g\n", rt_arch_name(arch),
                  weight_dtype, worst);
    /* a batch of one is rt_model_eval itself */
    int32_t t = 7;
    assert_int_equal(rt_model_eval(alone[2], &t, 1, NULL), RT_OK);
    assert_int_equal(rt_decode_batch(&batched[2], &t, 1), RT_OK);
    assert_true(tu_max_abs_diff(rt_context_logits(alone[2]), rt_context_logits(batched[2]),
                                N_VOCAB) <= REL_TOL * max_abs(rt_context_logits(alone[2]),
                                                              N_VOCAB));
    for (int i = 0; i < N_SEQ; i++) {
        rt_context_free(alone[i]);
        rt_context_free(batched[i]);
    }
    fixture_close(&f);
}

static void test_llama_f32(void **state) {
    (void)state;
    check_arch(RT_ARCH_LLAMA, RT_DTYPE_F32);
}
static void test_llama_q8_0(void **state) {
    (void)state;
    check_arch(RT_ARCH_LLAMA, RT_DTYPE_Q8_0);
}
static void test_gpt2_f32(void **state) {
    (void)state;
    check_arch(RT_ARCH_GPT2, RT_DTYPE_F32);
}
static void test_gpt2_q8_0(void **state) {
    (void)state;
    check_arch(RT_ARCH_GPT2, RT_DTYPE_Q8_0);
}

static void test_bad_calls(void **state) {
    (void)state;
    fixture f;
    fixture_open(&f, RT_ARCH_LLAMA, -1);
    rt_context *a = open_sequence(&f, 0), *b = open_sequence(&f, 2);
    int32_t toks[2] = {1, 2};
    rt_context *dup[2] = {a, a};
    assert_int_equal(rt_decode_batch(dup, toks, 2), RT_ERR_INVALID);
    rt_context *pair[2] = {a, b};
    int32_t bad[2] = {1, N_VOCAB};
    assert_int_equal(rt_decode_batch(pair, bad, 2), RT_ERR_INVALID);
    assert_int_equal(rt_decode_batch(pair, toks, 0), RT_ERR_INVALID);
    assert_int_equal(rt_decode_batch(NULL, toks, 1), RT_ERR_INVALID);
    rt_context *with_null[2] = {a, NULL};
    assert_int_equal(rt_decode_batch(with_null, toks, 2), RT_ERR_INVALID);
    /* nothing changed */
    assert_int_equal(rt_context_n_past(a), 1);
    assert_int_equal(rt_context_n_past(b), 7);
    /* a full context */
    int32_t fill[N_CTX];
    for (int i = 0; i < N_CTX; i++)
        fill[i] = i % N_VOCAB;
    assert_int_equal(rt_model_eval(b, fill, N_CTX - 7, NULL), RT_OK);
    assert_int_equal(rt_decode_batch(pair, toks, 2), RT_ERR_RANGE);
    assert_int_equal(rt_context_n_past(a), 1);
    rt_context_free(a);
    rt_context_free(b);
    fixture_close(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_f32), cmocka_unit_test(test_llama_q8_0),
        cmocka_unit_test(test_gpt2_f32),
        cmocka_unit_test(test_gpt2_q8_0), cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
