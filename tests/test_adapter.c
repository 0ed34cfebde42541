/*
 * test_adapter.c — LoRA adapters on disk: PEFT save -> load round trip (config and every
 * tensor), GGUF LoRA readable by the model layer's GGUF reader with llama.cpp's names, shapes,
 * KVs and the q/k row permutation, and errors on a foreign adapter.
 * gpt2: PEFT's Conv1D module names (q/k/v as one block-diagonal c_attn LoRA of rank 3r, with
 * rank_pattern/alpha_pattern), shapes and config, and a reload that gives bit-identical LoRA
 * matrices, scales, loss and logits (the merged models through rt_model_eval); its GGUF LoRA
 * (fused attn_qkv pair, the others zero-padded to the same rank).
 */
#include "testutil.h"

#include "train/adapter.h"
#include "core/error.h"
#include "core/file.h"
#include "model/gguf.h"
#include "model/model.h"
#include "model/model_file.h"
#include "model/safetensors.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_model_config cfg(void) {
    return tu_tiny_config(RT_ARCH_LLAMA, 40, 64, 16);
}

static tmodel *lora_model(unsigned targets) {
    rt_model_config c = cfg();
    tm_options o = {.lora_rank = 4,
                    .lora_alpha = 16,
                    .lora_dropout = 0.05f,
                    .lora_targets = targets,
                    .base_dtype = RT_DTYPE_F32,
                    .seed = 2};
    tmodel *m;
    assert_int_equal(tmodel_new(&c, NULL, &o, &m), 0);
    for (size_t i = 0; i < m->n_train; i++)
        m->train_data[i] = sinf((float)i * 0.1f);
    return m;
}

static void test_peft_roundtrip(void **state) {
    (void)state;
    char *dir = tu_tmpdir("adapter");
    tmodel *m = lora_model(RT_LORA_Q | RT_LORA_V | RT_LORA_DOWN);
    assert_int_equal(adapter_save_peft(m, dir, "base"), 0);
    tm_options o;
    assert_int_equal(adapter_read_config(dir, &o), 0);
    assert_int_equal(o.lora_rank, 4);
    assert_float_equal(o.lora_alpha, 16, 0);
    assert_int_equal(o.lora_targets, RT_LORA_Q | RT_LORA_V | RT_LORA_DOWN);
    rt_model_config c = cfg();
    tmodel *m2;
    assert_int_equal(tmodel_new(&c, NULL, &o, &m2), 0);
    assert_int_equal(m2->n_train, m->n_train);
    assert_int_equal(adapter_load_peft(m2, dir), 0);
    assert_memory_equal(m->train_data, m2->train_data, m->n_train * sizeof(float));
    /* an adapter for other targets does not load */
    tmodel *m3 = lora_model(RT_LORA_ALL);
    assert_int_equal(adapter_load_peft(m3, dir), RT_ERR_NOT_FOUND);
    assert_non_null(strstr(rt_last_error(), "k_proj"));
    /* a module whose rank_pattern rank differs from the model's one LoRA rank */
    char *cp = rt_path_join(dir, "adapter_config.json");
    const char *ranked = "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":16,\"target_modules\":"
                         "[\"q_proj\",\"v_proj\",\"down_proj\"],\"rank_pattern\":{\"q_proj\":4,"
                         "\"v_proj\":4,\"down_proj\":4}}";
    assert_int_equal(rt_file_write_atomic(cp, ranked, strlen(ranked)), 0);
    free(cp);
    assert_int_equal(adapter_read_config(dir, &o), 0);
    tmodel *m4;
    assert_int_equal(tmodel_new(&c, NULL, &o, &m4), 0);
    assert_int_equal(adapter_load_peft(m4, dir), RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(rt_last_error(), "rank 4 but the model's rank is 2"));
    tmodel_free(m4);
    /* a config that is not LoRA */
    char *p = rt_path_join(dir, "adapter_config.json");
    assert_int_equal(rt_file_write_atomic(p, "{\"peft_type\":\"IA3\",\"r\":4}", 25), 0);
    assert_int_equal(adapter_read_config(dir, &o), RT_ERR_FORMAT);
    free(p);
    tmodel_free(m);
    tmodel_free(m2);
    tmodel_free(m3);
    tu_rmtree(dir);
    free(dir);
}

static void test_gguf_lora(void **state) {
    (void)state;
    char *dir = tu_tmpdir("adapter");
    tmodel *m = lora_model(RT_LORA_ALL);
    char *path = rt_path_join(dir, "a.gguf");
    assert_int_equal(adapter_save_gguf(m, path), 0);
    rt_gguf *g;
    assert_int_equal(rt_gguf_open(path, &g), 0);
    assert_int_equal(rt_gguf_n_tensors(g), m->n_params);
    const char *s;
    assert_int_equal(rt_gguf_get_str(g, "general.type", &s), 0);
    assert_string_equal(s, "adapter");
    assert_int_equal(rt_gguf_get_str(g, "adapter.type", &s), 0);
    assert_string_equal(s, "lora");
    double alpha;
    assert_int_equal(rt_gguf_get_f64(g, "adapter.lora.alpha", &alpha), 0);
    assert_float_equal(alpha, 16, 0);
    /* A of q in layer 1: ne [n_in, r], identical values */
    const rt_gguf_tensor *a = rt_gguf_find_tensor(g, "blk.1.attn_q.weight.lora_a");
    assert_non_null(a);
    assert_int_equal(a->ne[0], 32);
    assert_int_equal(a->ne[1], 4);
    int pa = tmodel_find_param(m, "model.layers.1.self_attn.q_proj.lora_A.weight");
    assert_memory_equal(a->data, m->train_data + m->params[pa].offset, 4 * 32 * sizeof(float));
    /* B of k: rows permuted to interleaved pairs (row h*D + 2i + s <- h*D + s*D/2 + i) */
    const rt_gguf_tensor *b = rt_gguf_find_tensor(g, "blk.0.attn_k.weight.lora_b");
    assert_non_null(b);
    assert_int_equal(b->ne[0], 4);
    assert_int_equal(b->ne[1], 16);
    int pb = tmodel_find_param(m, "model.layers.0.self_attn.k_proj.lora_B.weight");
    const float *src = m->train_data + m->params[pb].offset, *dst = b->data;
    for (int h = 0; h < 2; h++)
        for (int sidx = 0; sidx < 2; sidx++)
            for (int i = 0; i < 4; i++)
                assert_memory_equal(dst + (h * 8 + 2 * i + sidx) * 4,
                                    src + (h * 8 + sidx * 4 + i) * 4, 4 * sizeof(float));
    /* B of v is not permuted */
    b = rt_gguf_find_tensor(g, "blk.0.attn_v.weight.lora_b");
    pb = tmodel_find_param(m, "model.layers.0.self_attn.v_proj.lora_B.weight");
    assert_memory_equal(b->data, m->train_data + m->params[pb].offset, 16 * 4 * sizeof(float));
    assert_non_null(rt_gguf_find_tensor(g, "blk.1.ffn_down.weight.lora_b"));
    rt_gguf_close(g);
    tmodel_free(m);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* A llama loaded from GGUF has interleaved q/k rows: PEFT files still get rotate_half rows, and
 * load puts them back. GGUF adapters need one alpha/rank scale for every pair. */
static void test_interleaved_and_scales(void **state) {
    (void)state;
    char *dir = tu_tmpdir("adapter");
    rt_model_config c = cfg();
    c.rope_interleaved = true;
    tm_options o = {.lora_rank = 4,
                    .lora_alpha = 16,
                    .lora_targets = RT_LORA_Q | RT_LORA_K | RT_LORA_V,
                    .base_dtype = RT_DTYPE_F32,
                    .seed = 2};
    tmodel *m, *m2;
    assert_int_equal(tmodel_new(&c, NULL, &o, &m), 0);
    for (size_t i = 0; i < m->n_train; i++)
        m->train_data[i] = sinf((float)i * 0.1f);
    assert_int_equal(adapter_save_peft(m, dir, NULL), 0);
    char *p = rt_path_join(dir, "adapter_model.safetensors");
    rt_safetensors f;
    assert_int_equal(rt_safetensors_open(p, &f), 0);
    free(p);
    /* k of layer 0 (2 kv heads of 8): interleaved row h*8 + 2i + s is rotate_half h*8 + 4s + i */
    const float *kb =
        rt_safetensors_find(&f, "base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight")
            ->t.data;
    for (int h = 0; h < 2; h++)
        for (int sidx = 0; sidx < 2; sidx++)
            for (int i = 0; i < 4; i++)
                assert_memory_equal(kb + (h * 8 + sidx * 4 + i) * 4,
                                    m->layers[0].k.lora_b + (h * 8 + 2 * i + sidx) * 4,
                                    4 * sizeof(float));
    const float *vb =
        rt_safetensors_find(&f, "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight")
            ->t.data;
    assert_memory_equal(vb, m->layers[0].v.lora_b, 16 * 4 * sizeof(float));
    rt_safetensors_close(&f);
    assert_int_equal(adapter_read_config(dir, &o), 0);
    assert_int_equal(tmodel_new(&c, NULL, &o, &m2), 0);
    assert_int_equal(adapter_load_peft(m2, dir), 0);
    assert_memory_equal(m->train_data, m2->train_data, m->n_train * sizeof(float));
    /* a per-module scale (as a PEFT alpha_pattern loads) has no place in a GGUF adapter */
    char *g = rt_path_join(dir, "a.gguf");
    m2->layers[1].v.scale *= 2.0f;
    assert_int_equal(adapter_save_gguf(m2, g), RT_ERR_UNSUPPORTED);
    free(g);
    tmodel_free(m);
    tmodel_free(m2);
    tu_rmtree(dir);
    free(dir);
}

/* ---- gpt2 ------------------------------------------------------------------------------ */

static rt_model_config gpt2_cfg(void) {
    rt_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = RT_ARCH_GPT2;
    c.n_vocab = 50;
    c.n_embd = 24;
    c.n_layer = 2;
    c.n_head = 3;
    c.n_kv_head = 3;
    c.head_dim = 8;
    c.n_ff = 96;
    c.n_ctx_train = 32;
    c.norm_eps = 1e-5f;
    c.tied_embeddings = true;
    return c;
}

enum { G_RANK = 3, G_SEED = 7 };

/* A gpt2 with random base and LoRA pairs (targets), every A and B entry nonzero. */
static tmodel *gpt2_lora(unsigned targets) {
    rt_model_config c = gpt2_cfg();
    tm_options o = {.lora_rank = G_RANK,
                    .lora_alpha = 8,
                    .lora_targets = targets,
                    .base_dtype = RT_DTYPE_F32,
                    .seed = G_SEED};
    tmodel *m;
    assert_int_equal(tmodel_new(&c, NULL, &o, &m), 0);
    for (size_t i = 0; i < m->n_train; i++)
        m->train_data[i] = 0.05f * sinf((float)i * 0.37f + 0.1f) + 0.01f;
    return m;
}

/* Loss of a fixed batch (the unmerged LoRA forward), then logits (T, n_vocab) of the merged
 * model through the inference forward. m's B is zeroed by the merge. */
static float *merged_logits(tmodel *m, const int32_t *tokens, int T, float *loss) {
    int64_t n_targets;
    int32_t targets[16];
    for (int t = 0; t < T; t++)
        targets[t] = t + 1 < T ? tokens[t + 1] : -1;
    assert_int_equal(tmodel_step(m, tokens, targets, 1, T, false, 1.0f, loss, &n_targets), 0);
    assert_int_equal(tmodel_merge_lora(m), 0);
    rt_model_weights w;
    assert_int_equal(tmodel_weights(m, &w), 0);
    rt_model *model;
    assert_int_equal(rt_model_from_weights(&m->cfg, &w, NULL, NULL, NULL, &model), 0);
    rt_context *ctx;
    assert_int_equal(rt_context_new(model, NULL, &ctx), 0);
    float *logits = malloc((size_t)T * (size_t)m->cfg.n_vocab * sizeof(float));
    assert_int_equal(rt_model_eval(ctx, tokens, T, logits), 0);
    rt_context_free(ctx);
    rt_model_free(model);
    rt_model_weights_free(&w, m->cfg.n_layer);
    return logits;
}

static void expect_matrix(const rt_safetensors *f, const char *name, int64_t rows, int64_t cols) {
    const rt_safetensors_entry *e = rt_safetensors_find(f, name);
    if (!e) fail_msg("missing %s", name);
    assert_int_equal(e->t.n_dims, 2);
    assert_int_equal(e->t.shape[0], rows);
    assert_int_equal(e->t.shape[1], cols);
}

/* Saves m, reloads it into a model with the same base, and checks the two agree exactly. */
static void roundtrip_identical(tmodel *m, const char *dir) {
    tm_options o;
    assert_int_equal(adapter_read_config(dir, &o), 0);
    o.seed = G_SEED; /* the same random base */
    rt_model_config c = gpt2_cfg();
    tmodel *m2;
    assert_int_equal(tmodel_new(&c, NULL, &o, &m2), 0);
    assert_int_equal(adapter_load_peft(m2, dir), 0);
    for (int i = 0; i < c.n_layer; i++) {
        tm_linear *a[6] = {&m->layers[i].q, &m->layers[i].k,  &m->layers[i].v,
                           &m->layers[i].o, &m->layers[i].up, &m->layers[i].down};
        tm_linear *b[6] = {&m2->layers[i].q, &m2->layers[i].k,  &m2->layers[i].v,
                           &m2->layers[i].o, &m2->layers[i].up, &m2->layers[i].down};
        for (int j = 0; j < 6; j++) {
            if (!a[j]->rank) {
                /* a projection that was not trained comes back as a zero pair */
                if (b[j]->rank) {
                    for (int e = 0; e < b[j]->rank * b[j]->n_out; e++)
                        assert_true(b[j]->lora_b[e] == 0.0f);
                }
                continue;
            }
            assert_int_equal(b[j]->rank, a[j]->rank);
            assert_true(b[j]->scale == a[j]->scale);
            assert_memory_equal(b[j]->lora_a, a[j]->lora_a,
                                (size_t)a[j]->rank * a[j]->n_in * sizeof(float));
            assert_memory_equal(b[j]->lora_b, a[j]->lora_b,
                                (size_t)a[j]->rank * a[j]->n_out * sizeof(float));
        }
    }
    int32_t tokens[12] = {1, 7, 3, 49, 0, 22, 5, 5, 18, 31, 2, 40};
    float loss1, loss2;
    float *l1 = merged_logits(m, tokens, 12, &loss1);
    float *l2 = merged_logits(m2, tokens, 12, &loss2);
    assert_true(loss1 == loss2);
    assert_memory_equal(l1, l2, 12 * (size_t)c.n_vocab * sizeof(float));
    free(l1);
    free(l2);
    tmodel_free(m2);
}

static void test_gpt2_peft(void **state) {
    (void)state;
    char *dir = tu_tmpdir("adapter_gpt2");
    unsigned targets = RT_LORA_Q | RT_LORA_K | RT_LORA_V | RT_LORA_O | RT_LORA_UP | RT_LORA_DOWN;
    tmodel *m = gpt2_lora(targets);
    assert_int_equal(adapter_save_peft(m, dir, "tiny-gpt2"), 0);

    /* config: PEFT's gpt2 module names, fan_in_fan_out, the c_attn rank and alpha */
    char *p = rt_path_join(dir, "adapter_config.json");
    json_error_t jerr;
    json_t *cfg = json_load_file(p, 0, &jerr);
    free(p);
    assert_non_null(cfg);
    assert_true(json_is_true(json_object_get(cfg, "fan_in_fan_out")));
    assert_int_equal(json_integer_value(json_object_get(cfg, "r")), G_RANK);
    assert_float_equal(json_number_value(json_object_get(cfg, "lora_alpha")), 8, 0);
    json_t *tm = json_object_get(cfg, "target_modules");
    assert_int_equal(json_array_size(tm), 3);
    assert_string_equal(json_string_value(json_array_get(tm, 0)), "c_attn");
    assert_string_equal(json_string_value(json_array_get(tm, 1)), "c_proj");
    assert_string_equal(json_string_value(json_array_get(tm, 2)), "c_fc");
    json_t *rp = json_object_get(cfg, "rank_pattern"), *ap = json_object_get(cfg, "alpha_pattern");
    assert_int_equal(json_object_size(rp), 1);
    assert_int_equal(json_integer_value(json_object_get(rp, "c_attn")), 3 * G_RANK);
    assert_int_equal(json_object_size(ap), 1);
    assert_float_equal(json_number_value(json_object_get(ap, "c_attn")), 24, 0);
    json_decref(cfg);

    /* tensors: names and shapes; c_attn A = [A_q; A_k; A_v], B block-diagonal */
    p = rt_path_join(dir, "adapter_model.safetensors");
    rt_safetensors f;
    assert_int_equal(rt_safetensors_open(p, &f), 0);
    free(p);
    const int C = 24, F = 96, r = G_RANK;
    assert_int_equal(f.n_tensors, 2 * 4 * 2);
    char name[160];
    for (int i = 0; i < 2; i++) {
#define NAME(s) (snprintf(name, sizeof name, "base_model.model.transformer.h.%d.%s", i, s), name)
        expect_matrix(&f, NAME("attn.c_attn.lora_A.weight"), 3 * r, C);
        expect_matrix(&f, NAME("attn.c_attn.lora_B.weight"), 3 * C, 3 * r);
        expect_matrix(&f, NAME("attn.c_proj.lora_A.weight"), r, C);
        expect_matrix(&f, NAME("attn.c_proj.lora_B.weight"), C, r);
        expect_matrix(&f, NAME("mlp.c_fc.lora_A.weight"), r, C);
        expect_matrix(&f, NAME("mlp.c_fc.lora_B.weight"), F, r);
        expect_matrix(&f, NAME("mlp.c_proj.lora_A.weight"), r, F);
        expect_matrix(&f, NAME("mlp.c_proj.lora_B.weight"), C, r);
        const float *fa = rt_safetensors_find(&f, NAME("attn.c_attn.lora_A.weight"))->t.data;
        const float *fb = rt_safetensors_find(&f, NAME("attn.c_attn.lora_B.weight"))->t.data;
#undef NAME
        const tm_linear *qkv[3] = {&m->layers[i].q, &m->layers[i].k, &m->layers[i].v};
        for (int j = 0; j < 3; j++) {
            assert_memory_equal(fa + j * r * C, qkv[j]->lora_a, (size_t)r * C * sizeof(float));
            for (int o = 0; o < C; o++)
                for (int c = 0; c < 3 * r; c++) {
                    float want = c / r == j ? qkv[j]->lora_b[o * r + c % r] : 0.0f;
                    assert_true(fb[(j * C + o) * 3 * r + c] == want);
                }
        }
    }
    assert_null(
        rt_safetensors_find(&f, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
    rt_safetensors_close(&f);

    /* GGUF: llama.cpp's fused attn_qkv pair of rank 3r, the others zero-padded to 3r, alpha 3x */
    char *gp = rt_path_join(dir, "adapter.gguf");
    assert_int_equal(adapter_save_gguf(m, gp), 0);
    rt_gguf *g;
    assert_int_equal(rt_gguf_open(gp, &g), 0);
    free(gp);
    double alpha;
    assert_int_equal(rt_gguf_get_f64(g, "adapter.lora.alpha", &alpha), 0);
    assert_float_equal(alpha, 24, 0);
    assert_int_equal(rt_gguf_n_tensors(g), 2 * 4 * 2);
    const rt_gguf_tensor *qa = rt_gguf_find_tensor(g, "blk.1.attn_qkv.weight.lora_a");
    const rt_gguf_tensor *qb = rt_gguf_find_tensor(g, "blk.1.attn_qkv.weight.lora_b");
    const rt_gguf_tensor *oa = rt_gguf_find_tensor(g, "blk.1.attn_output.weight.lora_a");
    const rt_gguf_tensor *ob = rt_gguf_find_tensor(g, "blk.1.attn_output.weight.lora_b");
    assert_true(qa && qb && oa && ob);
    assert_true(qa->ne[0] == C && qa->ne[1] == 3 * r && qb->ne[0] == 3 * r && qb->ne[1] == 3 * C);
    assert_true(oa->ne[0] == C && oa->ne[1] == 3 * r && ob->ne[0] == 3 * r && ob->ne[1] == C);
    assert_memory_equal((const float *)qa->data + r * C, m->layers[1].k.lora_a,
                        (size_t)r * C * sizeof(float));
    assert_memory_equal(oa->data, m->layers[1].o.lora_a, (size_t)r * C * sizeof(float));
    for (int e = r * C; e < 3 * r * C; e++)
        assert_true(((const float *)oa->data)[e] == 0.0f);
    for (int o = 0; o < C; o++) {
        const float *row = (const float *)ob->data + o * 3 * r;
        assert_memory_equal(row, m->layers[1].o.lora_b + o * r, (size_t)r * sizeof(float));
        for (int c = r; c < 3 * r; c++)
            assert_true(row[c] == 0.0f);
    }
    assert_non_null(rt_gguf_find_tensor(g, "blk.0.ffn_up.weight.lora_b"));
    assert_non_null(rt_gguf_find_tensor(g, "blk.0.ffn_down.weight.lora_a"));
    rt_gguf_close(g);

    roundtrip_identical(m, dir);
    tmodel_free(m);

    /* q and v only, and down only: missing blocks are zero, o and down named apart */
    tu_rmtree(dir);
    m = gpt2_lora(RT_LORA_Q | RT_LORA_V | RT_LORA_DOWN);
    assert_int_equal(adapter_save_peft(m, dir, NULL), 0);
    tm_options o;
    assert_int_equal(adapter_read_config(dir, &o), 0);
    assert_int_equal(o.lora_targets, RT_LORA_Q | RT_LORA_K | RT_LORA_V | RT_LORA_DOWN);
    roundtrip_identical(m, dir);
    tmodel_free(m);

    /* a rank_pattern written as a regular expression is refused, not misread */
    p = rt_path_join(dir, "adapter_config.json");
    const char *bad = "{\"peft_type\":\"LORA\",\"r\":3,\"lora_alpha\":8,\"target_modules\":"
                      "[\"c_attn\"],\"rank_pattern\":{\"h\\\\.[01]\\\\.attn\\\\.c_attn\":9}}";
    assert_int_equal(rt_file_write_atomic(p, bad, strlen(bad)), 0);
    free(p);
    assert_int_equal(adapter_read_config(dir, &o), 0);
    rt_model_config c = gpt2_cfg();
    assert_int_equal(tmodel_new(&c, NULL, &o, &m), 0);
    assert_int_equal(adapter_load_peft(m, dir), RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(rt_last_error(), "regular expression"));
    tmodel_free(m);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peft_roundtrip),
        cmocka_unit_test(test_gguf_lora),
        cmocka_unit_test(test_interleaved_and_scales),
        cmocka_unit_test(test_gpt2_peft),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
