/*
 * test_adapter.c — LoRA adapters on disk: PEFT save -> load round trip (config and every
 * tensor), GGUF LoRA readable by the model layer's GGUF reader with llama.cpp's names, shapes,
 * KVs and the q/k row permutation, and errors on a foreign adapter.
 */
#include "testutil.h"

#include "train/adapter.h"
#include "core/error.h"
#include "core/file.h"
#include "model/gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_model_config cfg(void) {
    rt_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = RT_ARCH_LLAMA;
    c.n_vocab = 40;
    c.n_embd = 32;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_kv_head = 2;
    c.head_dim = 8;
    c.n_ff = 64;
    c.n_ctx_train = 16;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    return c;
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peft_roundtrip),
        cmocka_unit_test(test_gguf_lora),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
