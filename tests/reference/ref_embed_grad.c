/*
 * ref_embed_grad.c — the contrastive objective of `ragtune train-embedder` (train/contrastive.c)
 * against PyTorch autograd (tests/reference/embed_ref.py, float64) on a small random llama
 * (GQA, tied embeddings): mean pooling of the final-normed hidden states over each text's own
 * tokens (right padding with random ids), L2 norm, InfoNCE with in-batch negatives.
 *   - loss within 1e-5 relative; the gradient of every parameter within 1e-4 relative
 *     (max|g - g_ref| / max|g_ref| over the tensor), symmetric and query->passage, two
 *     temperatures;
 *   - finite differences (central, step 1e-3) of the largest gradient entry of a few tensors,
 *     within 3e-3 absolute + 3%;
 *   - the pooled embedding equals rt_model_embed's on the same weights saved as an HF directory
 *     (1e-5), so training and inference pool identically.
 */
#include "testutil.h"

#include "train/contrastive.h"
#include "train/tmodel.h"
#include "core/error.h"
#include "model/hf.h"
#include "model/model_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        fn(user, name, blob + off, n);
        off += n;
    }
    fclose(fp);
    free(blob);
}

static void load_param(void *user, const char *name, const float *v, size_t n) {
    tmodel *m = user;
    int p = tmodel_find_param(m, name);
    if (p < 0) fprintf(stderr, "no parameter %s\n", name);
    assert_true(p >= 0);
    assert_int_equal(m->params[p].n, n);
    memcpy(m->train_data + m->params[p].offset, v, n * sizeof(float));
}

typedef struct cmp_state {
    tmodel *m;
    int n_checked;
    double worst;
} cmp_state;

static void compare_grad(void *user, const char *name, const float *ref, size_t n) {
    cmp_state *s = user;
    int p = tmodel_find_param(s->m, name);
    assert_true(p >= 0);
    const float *g = s->m->train_grad + s->m->params[p].offset;
    double maxref = 0;
    for (size_t i = 0; i < n; i++)
        maxref = fmax(maxref, fabs(ref[i]));
    assert_true(maxref > 0);
    double rel = tu_max_abs_diff(g, ref, n) / maxref;
    if (rel > s->worst) s->worst = rel;
    if (rel > 1e-4) fprintf(stderr, "%s rel %.3g (max ref %.3g)\n", name, rel, maxref);
    assert_true(rel <= 1e-4);
    s->n_checked++;
}

typedef struct batch {
    int n, Tq, Tp;
    int32_t *q_ids, *p_ids;
    int *q_lens, *p_lens;
} batch;

static batch read_batch(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/batch.bin", dir);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    int32_t h[3];
    assert_int_equal(fread(h, sizeof h[0], 3, fp), 3);
    batch b = {h[0], h[1], h[2], NULL, NULL, NULL, NULL};
    b.q_ids = malloc((size_t)b.n * b.Tq * sizeof(int32_t));
    b.p_ids = malloc((size_t)b.n * b.Tp * sizeof(int32_t));
    b.q_lens = malloc((size_t)b.n * sizeof(int));
    b.p_lens = malloc((size_t)b.n * sizeof(int));
    int32_t *tmp = malloc((size_t)b.n * sizeof(int32_t));
    assert_int_equal(fread(b.q_ids, sizeof(int32_t), (size_t)b.n * b.Tq, fp), (size_t)b.n * b.Tq);
    assert_int_equal(fread(tmp, sizeof(int32_t), (size_t)b.n, fp), (size_t)b.n);
    for (int i = 0; i < b.n; i++)
        b.q_lens[i] = tmp[i];
    assert_int_equal(fread(b.p_ids, sizeof(int32_t), (size_t)b.n * b.Tp, fp), (size_t)b.n * b.Tp);
    assert_int_equal(fread(tmp, sizeof(int32_t), (size_t)b.n, fp), (size_t)b.n);
    for (int i = 0; i < b.n; i++)
        b.p_lens[i] = tmp[i];
    free(tmp);
    fclose(fp);
    return b;
}

static void free_batch(batch *b) {
    free(b->q_ids);
    free(b->p_ids);
    free(b->q_lens);
    free(b->p_lens);
}

static float step(tmodel *m, ct_work *w, const batch *b, float temp, bool sym, bool backward) {
    float loss;
    if (backward) memset(m->train_grad, 0, m->n_train * sizeof(float));
    assert_int_equal(ct_step(m, w, b->q_ids, b->q_lens, b->Tq, b->p_ids, b->p_lens, b->Tp, b->n,
                             temp, sym, backward, 1.0f, &loss),
                     RT_OK);
    return loss;
}

static rt_model_config embed_cfg(void) {
    rt_model_config c = tu_tiny_config(RT_ARCH_LLAMA, 67, 48, 32);
    c.tied_embeddings = true;
    return c;
}

static void run_case(float temp, bool sym, bool pooling_check) {
    char *dir = tu_tmpdir("ref_embed");
    assert_int_equal(tu_run_python("tests/reference/embed_ref.py",
                                   "'%s' arch=llama kv_head=2 tied=1 n=5 tq=6 tp=11 temp=%g sym=%d",
                                   dir, (double)temp, sym ? 1 : 0),
                     0);
    rt_model_config cfg = embed_cfg();
    tm_options opt = {0};
    opt.seed = 1;
    opt.base_dtype = RT_DTYPE_F32;
    tmodel *m;
    assert_int_equal(tmodel_new(&cfg, NULL, &opt, &m), 0);
    read_named(dir, "params", load_param, m);
    batch b = read_batch(dir);
    ct_work w;
    assert_int_equal(ct_work_init(&w, b.n, b.Tp > b.Tq ? b.Tp : b.Tq, cfg.n_embd), RT_OK);
    float loss = step(m, &w, &b, temp, sym, true);
    char path[1024];
    snprintf(path, sizeof path, "%s/loss.bin", dir);
    size_t nl;
    float *ref_loss = tu_read_f32(path, &nl);
    assert_non_null(ref_loss);
    fprintf(stderr, "temp %g %s: loss %.6f torch %.6f\n", (double)temp,
            sym ? "symmetric" : "query->passage", loss, ref_loss[0]);
    assert_true(fabs(loss - ref_loss[0]) <= 1e-5 * fabs(ref_loss[0]));
    free(ref_loss);
    cmp_state s = {m, 0, 0};
    read_named(dir, "grads", compare_grad, &s);
    fprintf(stderr, "  %d gradients, worst relative error %.3g\n", s.n_checked, s.worst);
    assert_int_equal(s.n_checked, m->n_params);

    /* finite differences of the largest gradient entry of a few tensors */
    float *g = malloc(m->n_train * sizeof(float));
    memcpy(g, m->train_grad, m->n_train * sizeof(float));
    for (int p = 0; p < m->n_params; p += 4) {
        const tm_param *pp = &m->params[p];
        float *wv = m->train_data + pp->offset;
        const float *gp = g + pp->offset;
        size_t best = 0;
        for (size_t i = 1; i < pp->n; i++)
            if (fabsf(gp[i]) > fabsf(gp[best])) best = i;
        float orig = wv[best], h = 1e-3f;
        wv[best] = orig + h;
        float lp = step(m, &w, &b, temp, sym, false);
        wv[best] = orig - h;
        float lm = step(m, &w, &b, temp, sym, false);
        wv[best] = orig;
        double fd = ((double)lp - (double)lm) / (2.0 * h);
        if (fabs(fd - gp[best]) > 3e-3 + 0.03 * fabs(gp[best]))
            fprintf(stderr, "fd %s[%zu]: %g vs %g\n", pp->name, best, fd, gp[best]);
        assert_true(fabs(fd - gp[best]) <= 3e-3 + 0.03 * fabs(gp[best]));
    }
    free(g);

    if (pooling_check) {
        /* The same weights through the inference path: rt_model_embed of each passage. */
        rt_model_weights wts;
        assert_int_equal(tmodel_weights(m, &wts), RT_OK);
        char mdir[1100];
        snprintf(mdir, sizeof mdir, "%s/model", dir);
        assert_int_equal(rt_hf_write(mdir, &m->cfg, &wts), RT_OK);
        rt_model_weights_free(&wts, m->cfg.n_layer);
        step(m, &w, &b, temp, sym, false); /* w.p = training-side passage embeddings */
        rt_model *model;
        rt_context *ctx;
        assert_int_equal(rt_model_load(mdir, NULL, &model), RT_OK);
        rt_context_params cp = rt_context_default_params();
        assert_int_equal(rt_context_new(model, &cp, &ctx), RT_OK);
        float *e = malloc((size_t)cfg.n_embd * sizeof(float));
        double worst = 0;
        for (int i = 0; i < b.n; i++) {
            assert_int_equal(rt_model_embed(ctx, b.p_ids + (size_t)i * b.Tp, b.p_lens[i], e),
                             RT_OK);
            worst = fmax(worst, tu_max_abs_diff(e, w.p + (size_t)i * cfg.n_embd, cfg.n_embd));
        }
        fprintf(stderr, "  rt_model_embed vs training pooling: max diff %.3g\n", worst);
        assert_true(worst <= 1e-5);
        free(e);
        rt_context_free(ctx);
        rt_model_free(model);
    }
    ct_work_free(&w);
    free_batch(&b);
    tmodel_free(m);
    tu_rmtree(dir);
    free(dir);
}

static void test_symmetric(void **state) {
    (void)state;
    run_case(0.05f, true, true);
}

static void test_one_way(void **state) {
    (void)state;
    run_case(0.2f, false, false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symmetric),
        cmocka_unit_test(test_one_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
