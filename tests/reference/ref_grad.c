/*
 * ref_grad.c — gradients of ragtune's training forward/backward against PyTorch autograd
 * (tests/reference/train_ref.py, float64) on small random models of each architecture:
 *   - full training: loss within 1e-5 relative, the gradient of every tensor within 1e-4
 *     relative, where relative = max|g - g_ref| / max|g_ref| over the tensor (for a tensor
 *     whose exact gradient is zero, gpt2's k bias: max|g| <= 1e-6);
 *   - LoRA (all linear layers, rank 4, alpha 8, B random): every A and B gradient, same bound;
 *   - finite differences (central, step 1e-3) of the largest entry of a few tensors, within
 *     3e-3 absolute + 3% (f32 loss noise);
 *   - activation recomputation gives the same gradients as keeping activations (1e-6).
 */
#include "testutil.h"

#include "train/tmodel.h"
#include "train/optim.h"
#include "train/schedule.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_case {
    const char *name;
    rt_model_config cfg;
    const char *args;
} ref_case;

static rt_model_config base_cfg(rt_arch arch) {
    return tu_tiny_config(arch, 67, 48, 32);
}

static ref_case make_case(int i) {
    ref_case rc;
    memset(&rc, 0, sizeof rc);
    if (i == 0) { /* llama: GQA, rotate_half, Llama-3 rope scaling, untied head */
        rc.name = "llama";
        rc.cfg = base_cfg(RT_ARCH_LLAMA);
        rc.cfg.rope_scaling_factor = 8.0f;
        rc.cfg.rope_low_freq_factor = 1.0f;
        rc.cfg.rope_high_freq_factor = 4.0f;
        rc.cfg.rope_original_ctx = 64;
        rc.args = "arch=llama kv_head=2 tied=0 scaling=8 low=1 high=4 orig=64";
    } else if (i == 1) { /* qwen2: q/k/v bias, one kv head, interleaved pairs, tied */
        rc.name = "qwen2";
        rc.cfg = base_cfg(RT_ARCH_QWEN2);
        rc.cfg.n_kv_head = 1;
        rc.cfg.attn_bias = true;
        rc.cfg.tied_embeddings = true;
        rc.cfg.rope_interleaved = true;
        rc.cfg.rope_theta = 1000000.0f;
        rc.args = "arch=qwen2 kv_head=1 tied=1 interleaved=1 theta=1000000";
    } else if (i == 3) { /* llama with wide heads: n_head x head_dim = 64 != n_embd = 32 */
        rc.name = "llama-wide-heads";
        rc.cfg = base_cfg(RT_ARCH_LLAMA);
        rc.cfg.head_dim = 16;
        rc.args = "arch=llama kv_head=2 tied=0 hd=16";
    } else { /* gpt2: LayerNorm, GELU, learned positions, biases, tied */
        rc.name = "gpt2";
        rc.cfg = base_cfg(RT_ARCH_GPT2);
        rc.cfg.n_kv_head = 4;
        rc.cfg.n_ff = 128;
        rc.cfg.tied_embeddings = true;
        rc.cfg.attn_bias = true;
        rc.args = "arch=gpt2 kv_head=4 ff=128 tied=1";
    }
    return rc;
}

/* Reads "name numel" lines and the matching f32 blob; calls fn for each. */
typedef void (*named_fn)(void *user, const char *name, const float *v, size_t n);
static void read_named(const char *dir, const char *stem, named_fn fn, void *user) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.bin", dir, stem);
    size_t total;
    float *blob = tu_read_f32(path, &total);
    assert_non_null(blob);
    snprintf(path, sizeof path, "%s/%s.txt", dir, stem);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char name[256];
    size_t n, off = 0;
    while (fscanf(fp, "%255s %zu", name, &n) == 2) {
        assert_true(off + n <= total);
        char full[300];
        size_t len = strlen(name);
        if (len > 7 && (!strcmp(name + len - 7, ".lora_A") || !strcmp(name + len - 7, ".lora_B")))
            snprintf(full, sizeof full, "%s.weight", name);
        else
            snprintf(full, sizeof full, "%s", name);
        fn(user, full, blob + off, n);
        off += n;
    }
    fclose(fp);
    free(blob);
}

static void load_param(void *user, const char *name, const float *v, size_t n) {
    tmodel *m = user;
    int p = tmodel_find_param(m, name);
    if (p >= 0) {
        assert_int_equal(m->params[p].n, n);
        memcpy(m->train_data + m->params[p].offset, v, n * sizeof(float));
        return;
    }
    rt_tensor *t = tmodel_find_tensor(m, name);
    if (!t) fprintf(stderr, "no tensor %s\n", name);
    assert_non_null(t);
    assert_int_equal(t->dtype, RT_DTYPE_F32);
    assert_int_equal(rt_tensor_nelements(t), n);
    memcpy(t->data, v, n * sizeof(float));
}

typedef struct cmp_state {
    tmodel *m;
    const char *label;
    int n_checked;
    double worst;
} cmp_state;

static void compare_grad(void *user, const char *name, const float *ref, size_t n) {
    cmp_state *s = user;
    int p = tmodel_find_param(s->m, name);
    if (p < 0) fprintf(stderr, "%s: no parameter %s\n", s->label, name);
    assert_true(p >= 0);
    assert_int_equal(s->m->params[p].n, n);
    const float *g = s->m->train_grad + s->m->params[p].offset;
    double maxref = 0;
    for (size_t i = 0; i < n; i++)
        maxref = fmax(maxref, fabs(ref[i]));
    /* The k bias gradient is exactly zero (softmax ignores a constant shift of the keys):
     * there the bound is absolute, 1e-6. */
    double rel = maxref < 1e-12 ? tu_max_abs_diff(g, ref, n) * 1e-4 / 1e-6
                                : tu_max_abs_diff(g, ref, n) / maxref;
    if (rel > s->worst) s->worst = rel;
    if (rel > 1e-4)
        fprintf(stderr, "%s: %s rel %.3g (max ref %.3g)\n", s->label, name, rel, maxref);
    assert_true(rel <= 1e-4);
    s->n_checked++;
}

static int32_t *read_batch(const char *dir, int BT) {
    char path[1024];
    snprintf(path, sizeof path, "%s/batch.bin", dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    int32_t *b = malloc(2 * (size_t)BT * sizeof(int32_t));
    assert_int_equal(fread(b, sizeof(int32_t), 2 * (size_t)BT, fp), 2 * (size_t)BT);
    fclose(fp);
    return b;
}

static float read_loss(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/loss.bin", dir);
    size_t n;
    float *l = tu_read_f32(path, &n);
    assert_non_null(l);
    float v = l[0];
    free(l);
    return v;
}

static void zero_grad(tmodel *m) {
    memset(m->train_grad, 0, m->n_train * sizeof(float));
}

static void finite_difference(tmodel *m, const int32_t *batch, int B, int T, const char *label) {
    int step = m->n_params > 6 ? m->n_params / 5 : 1;
    for (int p = 0; p < m->n_params; p += step) {
        const tm_param *pp = &m->params[p];
        float *w = m->train_data + pp->offset;
        const float *g = m->train_grad + pp->offset;
        size_t best = 0;
        for (size_t i = 1; i < pp->n; i++)
            if (fabsf(g[i]) > fabsf(g[best])) best = i;
        float orig = w[best], h = 1e-3f, lp, lm;
        w[best] = orig + h;
        assert_int_equal(tmodel_step(m, batch, batch + B * T, B, T, false, 1, &lp, NULL), 0);
        w[best] = orig - h;
        assert_int_equal(tmodel_step(m, batch, batch + B * T, B, T, false, 1, &lm, NULL), 0);
        w[best] = orig;
        double fd = ((double)lp - (double)lm) / (2.0 * h);
        if (fabs(fd - g[best]) > 3e-3 + 0.03 * fabs(g[best]))
            fprintf(stderr, "%s: fd %s[%zu]: %g vs %g\n", label, pp->name, best, fd, g[best]);
        assert_true(fabs(fd - g[best]) <= 3e-3 + 0.03 * fabs(g[best]));
    }
}

static void run_case(int which, bool lora) {
    ref_case rc = make_case(which);
    char *dir = tu_tmpdir("ref_grad");
    assert_int_equal(tu_run_python("tests/reference/train_ref.py", "%s '%s' %s",
                                   lora ? "lora" : "grad", dir, rc.args),
                     0);
    tm_options opt = {0};
    opt.seed = 1;
    opt.base_dtype = RT_DTYPE_F32;
    if (lora) {
        opt.lora_rank = 4;
        opt.lora_alpha = 8.0f;
        opt.lora_targets = RT_LORA_ALL;
    }
    tmodel *m;
    assert_int_equal(tmodel_new(&rc.cfg, NULL, &opt, &m), 0);
    read_named(dir, "params", load_param, m);
    int B = 2, T = 12;
    int32_t *batch = read_batch(dir, B * T);
    float loss;
    int64_t n_tgt;
    zero_grad(m);
    assert_int_equal(tmodel_step(m, batch, batch + B * T, B, T, true, 1.0f, &loss, &n_tgt), 0);
    float ref_loss = read_loss(dir);
    fprintf(stderr, "%s%s: loss %.6f ref %.6f, %lld targets\n", rc.name, lora ? " lora" : "", loss,
            ref_loss, (long long)n_tgt);
    assert_true(fabs(loss - ref_loss) <= 1e-5 * fabs(ref_loss));
    char label[64];
    snprintf(label, sizeof label, "%s%s", rc.name, lora ? " lora" : "");
    cmp_state s = {m, label, 0, 0};
    read_named(dir, "grads", compare_grad, &s);
    fprintf(stderr, "%s: %d gradients, worst relative error %.3g\n", label, s.n_checked, s.worst);
    assert_int_equal(s.n_checked, m->n_params);

    /* Recomputation must not change anything. */
    float *g0 = malloc(m->n_train * sizeof(float));
    memcpy(g0, m->train_grad, m->n_train * sizeof(float));
    tmodel *m2;
    opt.recompute = true;
    assert_int_equal(tmodel_new(&rc.cfg, NULL, &opt, &m2), 0);
    read_named(dir, "params", load_param, m2);
    zero_grad(m2);
    assert_int_equal(tmodel_step(m2, batch, batch + B * T, B, T, true, 1.0f, &loss, NULL), 0);
    assert_true(tu_max_abs_diff(g0, m2->train_grad, m->n_train) <= 1e-6);
    tmodel_free(m2);
    free(g0);

    finite_difference(m, batch, B, T, label);
    free(batch);
    tmodel_free(m);
    tu_rmtree(dir);
    free(dir);
}

/* 30 AdamW steps (cosine schedule, 5 warmup steps, clipping at 1.0, weight decay 0.1 on
 * matrices) on one batch reproduce torch's loss curve within 1e-3. */
static void test_adamw_curve(void **state) {
    (void)state;
    ref_case rc = make_case(0);
    char *dir = tu_tmpdir("ref_adamw");
    assert_int_equal(tu_run_python("tests/reference/train_ref.py",
                                   "adamw '%s' %s steps=30 lr=0.01 wd=0.1 warmup=5 clip=1.0", dir,
                                   rc.args),
                     0);
    tm_options opt = {0};
    opt.seed = 1;
    tmodel *m;
    assert_int_equal(tmodel_new(&rc.cfg, NULL, &opt, &m), 0);
    read_named(dir, "params", load_param, m);
    int B = 2, T = 12, steps = 30;
    int32_t *batch = read_batch(dir, B * T);
    char path[1024];
    snprintf(path, sizeof path, "%s/loss.bin", dir);
    size_t n;
    float *ref = tu_read_f32(path, &n);
    assert_int_equal(n, steps);
    optim o;
    assert_int_equal(optim_init(&o, OPTIM_ADAMW, m->n_train, 0.1f), 0);
    double worst = 0;
    for (int s = 0; s < steps; s++) {
        float loss;
        zero_grad(m);
        assert_int_equal(tmodel_step(m, batch, batch + B * T, B, T, true, 1.0f, &loss, NULL), 0);
        optim_clip_grad_norm(m->train_grad, m->n_train, 1.0f);
        float lr = (float)(0.01 * schedule_factor(SCHEDULE_COSINE, s, 5, steps));
        optim_step(&o, m->train_data, m->train_grad, m->params, m->n_params, lr);
        worst = fmax(worst, fabs(loss - ref[s]));
        if (s % 5 == 0 || s == steps - 1)
            fprintf(stderr, "adamw step %2d: loss %.6f torch %.6f\n", s, loss, ref[s]);
    }
    fprintf(stderr, "adamw: worst |loss - torch| over %d steps %.3g\n", steps, worst);
    assert_true(worst <= 1e-3);
    optim_free(&o);
    free(ref);
    free(batch);
    tmodel_free(m);
    tu_rmtree(dir);
    free(dir);
}

static void test_llama(void **state) {
    (void)state;
    run_case(0, false);
}
static void test_qwen2(void **state) {
    (void)state;
    run_case(1, false);
}
static void test_gpt2(void **state) {
    (void)state;
    run_case(2, false);
}
static void test_llama_wide_heads(void **state) {
    (void)state;
    run_case(3, false);
}

static void test_llama_wide_heads_lora(void **state) {
    (void)state;
    run_case(3, true);
}

static void test_llama_lora(void **state) {
    (void)state;
    run_case(0, true);
}
static void test_qwen2_lora(void **state) {
    (void)state;
    run_case(1, true);
}
static void test_gpt2_lora(void **state) {
    (void)state;
    run_case(2, true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama),
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_gpt2),
        cmocka_unit_test(test_llama_lora),
        cmocka_unit_test(test_qwen2_lora),
        cmocka_unit_test(test_gpt2_lora),
        cmocka_unit_test(test_adamw_curve),
        cmocka_unit_test(test_llama_wide_heads),
        cmocka_unit_test(test_llama_wide_heads_lora),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
