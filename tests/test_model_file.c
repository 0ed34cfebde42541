/*
 * test_model_file.c — opening tiny Hugging Face models made with PyTorch (tests/python/tiny_hf.py:
 * torch.nn modules with HF's names, a hand-written safetensors file) and checking that every
 * tensor the loader maps is bit-identical to what PyTorch holds, in config.h's layout (GPT-2
 * Conv1D transposed and split). Tolerance: none (bytes compared).
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "model/hf.h"
#include "model/model_file.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* All models are made by one Python run (torch's import dominates the cost). */
static char *g_base;

static int setup_models(void **state) {
    (void)state;
    g_base = tu_tmpdir("mf");
    int rc = tu_run_python(
        "tests/python/tiny_hf.py",
        "many '%s' 'llama_bf16 llama --dtype bf16 --expected' 'llama_sh llama --shards 3 "
        "--expected' "
        "'qwen2_tied qwen2 --dtype f16 --tied --expected' 'gpt2 gpt2 --expected' "
        "'gpt2_np gpt2 --prefix= --no-pad --expected' "
        "'bert_p bert --prefix bert. --expected' 'bert_bf16 bert --dtype bf16 --expected' "
        "'qwen2 qwen2' 'llama llama'",
        g_base);
    return rc == 0 ? 0 : -1;
}

static int teardown_models(void **state) {
    (void)state;
    tu_rmtree(g_base);
    free(g_base);
    return 0;
}

/* A private copy of model `name` (tests that edit files); returns the temporary directory
 * holding it as "m". */
static char *make_model(const char *tag, const char *name) {
    char *dir = tu_tmpdir(tag);
    assert_non_null(dir);
    assert_int_equal(tu_system("cp -r '%s/%s' '%s/m'", g_base, name, dir), 0);
    return dir;
}

/* Every mapped tensor equals expected/<gguf name>.bin byte for byte, and nothing is missing. */
static void check_against_expected(const rt_model_file *f, const char *model_dir) {
    const rt_model_config *c = rt_model_file_config(f);
    const rt_model_weights *w = rt_model_file_weights(f);
    size_t n = rt_model_weights_list(c, w, NULL, 0);
    rt_weight_ref *refs = calloc(n, sizeof *refs);
    assert_int_equal(rt_model_weights_list(c, w, refs, n), n);
    char *exp_dir = rt_path_join(model_dir, "expected");
    assert_int_equal(tu_count_files(exp_dir), n);
    for (size_t i = 0; i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.bin", refs[i].name);
        char *p = rt_path_join(exp_dir, name);
        char *buf;
        size_t len;
        if (rt_file_read_all(p, 1 << 26, &buf, &len) != RT_OK) fail_msg("missing %s", p);
        if (len != refs[i].t->nbytes || memcmp(buf, refs[i].t->data, len) != 0)
            fail_msg("tensor %s differs from PyTorch (%zu vs %zu bytes)", refs[i].name, len,
                     refs[i].t->nbytes);
        /* Views into the map must be aligned to their element size. */
        assert_int_equal((uintptr_t)refs[i].t->data % rt_dtype_block_bytes(refs[i].t->dtype), 0);
        free(buf);
        free(p);
    }
    free(exp_dir);
    free(refs);
}

static void open_and_check(const char *tag, const char *args, rt_arch arch, rt_dtype dtype) {
    char *dir = make_model(tag, args);
    char *m = rt_path_join(dir, "m");
    rt_model_file *f;
    if (rt_model_file_open(m, &f) != RT_OK) fail_msg("%s", rt_last_error());
    const rt_model_config *c = rt_model_file_config(f);
    assert_int_equal(c->arch, arch);
    assert_int_equal(c->n_layer, 2);
    assert_int_equal(c->n_embd, 64);
    assert_int_equal(c->n_vocab, 128);
    assert_int_equal(rt_model_file_weights(f)->token_embd.dtype, dtype);
    assert_string_equal(rt_model_file_dir(f), m);
    assert_non_null(rt_model_file_hf_config(f));
    assert_null(rt_model_file_gguf(f));
    check_against_expected(f, m);
    rt_model_file_close(f);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

static void test_llama_bf16(void **state) {
    (void)state;
    open_and_check("mf-llama", "llama_bf16", RT_ARCH_LLAMA, RT_DTYPE_BF16);
}

static void test_llama_sharded_config(void **state) {
    (void)state;
    char *dir = make_model("mf-llama-sh", "llama_sh");
    char *m = rt_path_join(dir, "m");
    rt_model_file *f;
    if (rt_model_file_open(m, &f) != RT_OK) fail_msg("%s", rt_last_error());
    const rt_model_config *c = rt_model_file_config(f);
    assert_int_equal(c->n_head, 4);
    assert_int_equal(c->n_kv_head, 2);
    assert_int_equal(c->head_dim, 16);
    assert_int_equal(c->n_ff, 96);
    assert_int_equal(c->n_ctx_train, 256);
    assert_false(c->rope_interleaved);
    assert_false(c->tied_embeddings);
    assert_false(c->attn_bias);
    assert_true(c->rope_scaling_factor == 8.0f);
    assert_int_equal(c->rope_original_ctx, 128);
    assert_true(c->norm_eps == 1e-5f);
    assert_int_equal(c->bos_token_id, 1);
    /* A shard's path opens the whole model. */
    char shard[1024];
    snprintf(shard, sizeof shard, "%s/model-00002-of-00003.safetensors", m);
    rt_model_file *f2;
    if (rt_model_file_open(shard, &f2) != RT_OK) fail_msg("%s", rt_last_error());
    rt_model_file_close(f2);
    assert_int_equal(c->eos_token_id, 2);
    assert_non_null(rt_model_file_weights(f)->output.data);
    check_against_expected(f, m);
    rt_model_file_close(f);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

static void test_qwen2_f16_tied(void **state) {
    (void)state;
    char *dir = make_model("mf-qwen2", "qwen2_tied");
    char *m = rt_path_join(dir, "m");
    rt_model_file *f;
    if (rt_model_file_open(m, &f) != RT_OK) fail_msg("%s", rt_last_error());
    const rt_model_config *c = rt_model_file_config(f);
    assert_int_equal(c->arch, RT_ARCH_QWEN2);
    assert_true(c->tied_embeddings);
    assert_true(c->attn_bias);
    assert_null(rt_model_file_weights(f)->output.data);
    assert_non_null(rt_model_file_weights(f)->layers[1].bq.data);
    check_against_expected(f, m);
    rt_model_file_close(f);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

static void test_gpt2(void **state) {
    (void)state;
    open_and_check("mf-gpt2", "gpt2", RT_ARCH_GPT2, RT_DTYPE_F32);
}

/* No "transformer." prefix and an unpadded header: every view is misaligned and copied. */
static void test_gpt2_noprefix_unaligned(void **state) {
    (void)state;
    open_and_check("mf-gpt2b", "gpt2_np", RT_ARCH_GPT2, RT_DTYPE_F32);
}

static void test_bert(void **state) {
    (void)state;
    open_and_check("mf-bert", "bert_p", RT_ARCH_BERT, RT_DTYPE_F32);
    open_and_check("mf-bert2", "bert_bf16", RT_ARCH_BERT, RT_DTYPE_BF16);
}

/* A single .safetensors path with config.json beside it. */
static void test_safetensors_path(void **state) {
    (void)state;
    char *dir = make_model("mf-file", "qwen2");
    char path[1024];
    snprintf(path, sizeof path, "%s/m/model.safetensors", dir);
    rt_model_file *f;
    if (rt_model_file_open(path, &f) != RT_OK) fail_msg("%s", rt_last_error());
    char *m = rt_path_join(dir, "m");
    assert_string_equal(rt_model_file_dir(f), m);
    rt_model_file_close(f);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

static void rewrite_config(const char *m, const char *from, const char *to) {
    assert_int_equal(tu_system("sed -i 's/%s/%s/' '%s/config.json'", from, to, m), 0);
}

/* Wrong configs give errors naming the tensor, the file and the expected shape. */
static void test_errors(void **state) {
    (void)state;
    char *dir = make_model("mf-err", "llama");
    char *m = rt_path_join(dir, "m");
    rt_model_file *f = (rt_model_file *)1;
    rewrite_config(m, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
    assert_int_equal(rt_model_file_open(m, &f), RT_ERR_NOT_FOUND);
    assert_null(f);
    assert_non_null(strstr(rt_last_error(), "model.layers.2.input_layernorm.weight"));
    assert_non_null(strstr(rt_last_error(), "model.safetensors"));
    assert_non_null(strstr(rt_last_error(), "(64)"));
    rewrite_config(m, "\"num_hidden_layers\": 3", "\"num_hidden_layers\": 2");
    rewrite_config(m, "\"vocab_size\": 128", "\"vocab_size\": 100");
    assert_int_equal(rt_model_file_open(m, &f), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "model.embed_tokens.weight"));
    assert_non_null(strstr(rt_last_error(), "(128, 64), expected (100, 64)"));
    rewrite_config(m, "\"vocab_size\": 100", "\"vocab_size\": 128");
    rewrite_config(m, "LlamaForCausalLM", "FalconForCausalLM");
    assert_int_equal(rt_model_file_open(m, &f), RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(rt_last_error(), "FalconForCausalLM"));
    assert_non_null(strstr(rt_last_error(), "config.json"));
    rewrite_config(m, "FalconForCausalLM", "LlamaForCausalLM");
    rewrite_config(m, "\"llama3\"", "\"yarn\"");
    assert_int_equal(rt_model_file_open(m, &f), RT_ERR_UNSUPPORTED);
    rewrite_config(m, "\"yarn\"", "\"llama3\"");
    if (rt_model_file_open(m, &f) != RT_OK) fail_msg("%s", rt_last_error());
    rt_model_file_close(f);
    char *cfg = rt_path_join(m, "config.json");
    remove(cfg);
    assert_int_equal(rt_model_file_open(m, &f), RT_ERR_IO);
    assert_non_null(strstr(rt_last_error(), "config.json"));
    assert_int_equal(rt_model_file_open("/nonexistent/model", &f), RT_ERR_NOT_FOUND);
    free(cfg);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

static int rt_hf_config_parse_for_test(const char *text, rt_model_config *c) {
    return rt_hf_config_parse(text, strlen(text), "config.json", c);
}

/* sentence-transformers files set the pooling and normalization of a bert model. */
static void test_bert_pooling(void **state) {
    (void)state;
    char *dir = make_model("mf-pool", "bert_p");
    char *m = rt_path_join(dir, "m");
    rt_model_file *f;
    if (rt_model_file_open(m, &f) != RT_OK) fail_msg("%s", rt_last_error());
    assert_int_equal(rt_model_file_config(f)->pooling, RT_POOLING_MEAN);
    assert_false(rt_model_file_config(f)->normalize_embeddings);
    rt_model_file_close(f);
    assert_int_equal(tu_system("mkdir -p '%s/1_Pooling' && echo '{\"word_embedding_dimension\": "
                               "64, \"pooling_mode_cls_token\": true, "
                               "\"pooling_mode_mean_tokens\": false}' > '%s/1_Pooling/config.json'"
                               " && echo '[{\"idx\":0,\"path\":\"\",\"type\":"
                               "\"sentence_transformers.models.Transformer\"},{\"idx\":1,"
                               "\"path\":\"1_Pooling\",\"type\":"
                               "\"sentence_transformers.models.Pooling\"},{\"idx\":2,\"path\":"
                               "\"2_Normalize\",\"type\":"
                               "\"sentence_transformers.models.Normalize\"}]' > '%s/modules.json'",
                               m, m, m),
                     0);
    if (rt_model_file_open(m, &f) != RT_OK) fail_msg("%s", rt_last_error());
    assert_int_equal(rt_model_file_config(f)->pooling, RT_POOLING_CLS);
    assert_true(rt_model_file_config(f)->normalize_embeddings);
    rt_model_file_close(f);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

/* A shard named by the index but missing, and an index naming a tensor its shard lacks. */
static void test_sharded_errors(void **state) {
    (void)state;
    char *dir = make_model("mf-shard", "llama_sh");
    char *m = rt_path_join(dir, "m");
    rt_model_file *f;
    assert_int_equal(tu_system("sed -i 's/\"model.norm.weight\": \"model-0000\\(.\\)/"
                               "\"model.norm.weight\": \"model-0000X/' "
                               "'%s/model.safetensors.index.json'",
                               m),
                     0);
    assert_int_equal(tu_system("grep -q 'model-0000X' '%s/model.safetensors.index.json'", m), 0);
    assert_int_equal(rt_model_file_open(m, &f), RT_ERR_IO);
    assert_non_null(strstr(rt_last_error(), "model-0000X"));
    assert_int_equal(tu_system("cp '%s/model-00001-of-00003.safetensors' "
                               "'%s/model-0000X-of-00003.safetensors'",
                               m, m),
                     0);
    int rc = rt_model_file_open(m, &f);
    if (rc == RT_OK)
        rt_model_file_close(f); /* norm happened to be in shard 1 */
    else
        assert_non_null(strstr(rt_last_error(), "model.safetensors.index.json"));
    assert_int_equal(tu_system("echo '{\"weight_map\": {\"a\": \"../x.safetensors\"}}' > "
                               "'%s/model.safetensors.index.json'",
                               m),
                     0);
    assert_int_equal(rt_model_file_open(m, &f), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "not a file name"));
    free(m);
    tu_rmtree(dir);
    free(dir);
}

static void test_config_parse(void **state) {
    (void)state;
    rt_model_config c;
    const char *ok = "{\"architectures\":[\"MistralForCausalLM\"],\"hidden_size\":32,"
                     "\"num_hidden_layers\":1,\"num_attention_heads\":4,\"intermediate_size\":8,"
                     "\"vocab_size\":10,\"eos_token_id\":[7,8],\"head_dim\":16}";
    assert_int_equal(rt_hf_config_parse_for_test(ok, &c), RT_OK);
    assert_int_equal(c.arch, RT_ARCH_LLAMA);
    assert_int_equal(c.head_dim, 16);
    assert_int_equal(c.n_kv_head, 4);
    assert_int_equal(c.eos_token_id, 7);
    assert_int_equal(c.bos_token_id, -1);
    assert_true(c.rope_theta == 10000.0f);
    const char *bad[] = {
        "",
        "[]",
        "{\"architectures\":[\"LlamaForCausalLM\"]}",
        "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":-1,\"num_hidden_layers\":1,"
        "\"num_attention_heads\":4,\"intermediate_size\":8,\"vocab_size\":10}",
        "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":32,\"num_hidden_layers\":1,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":3,\"intermediate_size\":8,"
        "\"vocab_size\":10}",
        "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":\"32\",\"num_hidden_layers\":1,"
        "\"num_attention_heads\":4,\"intermediate_size\":8,\"vocab_size\":10}",
        "{\"a\":1,\"a\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = rt_hf_config_parse_for_test(bad[i], &c);
        if (rc >= 0) fail_msg("accepted bad config %zu", i);
        assert_non_null(strstr(rt_last_error(), "config.json"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_parse),
        cmocka_unit_test(test_llama_bf16),
        cmocka_unit_test(test_llama_sharded_config),
        cmocka_unit_test(test_qwen2_f16_tied),
        cmocka_unit_test(test_gpt2),
        cmocka_unit_test(test_gpt2_noprefix_unaligned),
        cmocka_unit_test(test_bert),
        cmocka_unit_test(test_safetensors_path),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bert_pooling),
        cmocka_unit_test(test_sharded_errors),
    };
    return cmocka_run_group_tests(tests, setup_models, teardown_models);
}
