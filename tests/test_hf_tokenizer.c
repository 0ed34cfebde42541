/*
 * test_hf_tokenizer.c — tokenizer.json -> tokenizer.ggml.* as llama.cpp's converter writes it,
 * on hand-made byte-level BPE, SentencePiece-style BPE and WordPiece tokenizers (expected values
 * worked out by hand from llama.cpp's conventions), and through `convert` into a GGUF file.
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "model/hf_tokenizer.h"
#include "model/model_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_text(const char *dir, const char *name, const char *text) {
    char *p = rt_path_join(dir, name);
    assert_int_equal(rt_file_write_atomic(p, text, strlen(text)), RT_OK);
    free(p);
}

static const rt_gguf_value *kv(const rt_hf_gguf_tokenizer *t, const char *key) {
    for (size_t i = 0; i < t->n_kvs; i++)
        if (!strcmp(t->kvs[i].key, key)) return &t->kvs[i].value;
    return NULL;
}

#define LLAMA3_SPLIT                                                                               \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "         \
    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"

static void test_byte_level_bpe(void **state) {
    (void)state;
    char *dir = tu_tmpdir("tok-bpe");
    write_text(dir, "tokenizer.json",
               "{\"added_tokens\":[{\"id\":6,\"content\":\"<|begin|>\",\"special\":true},"
               "{\"id\":7,\"content\":\"<|end|>\",\"special\":true},"
               "{\"id\":8,\"content\":\"mytok\",\"special\":false}],"
               "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
               "\"pattern\":{\"Regex\":\"" LLAMA3_SPLIT "\"},\"behavior\":\"Isolated\"},"
               "{\"type\":\"ByteLevel\",\"use_regex\":false}]},"
               "\"post_processor\":{\"type\":\"Sequence\",\"processors\":[{\"type\":\"ByteLevel\"},"
               "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
               "\"<|begin|>\"}},{\"Sequence\":{\"id\":\"A\"}}]}]},"
               "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"\\u0120\":2,\"ab\":3,"
               "\"\\u0120a\":4,\"\\u0120ab\":5},\"merges\":[\"a b\",[\"\\u0120\",\"a\"],"
               "\"\\u0120a b\"]}}");
    write_text(dir, "tokenizer_config.json",
               "{\"bos_token\":\"<|begin|>\",\"eos_token\":{\"content\":\"<|end|>\"},"
               "\"model_max_length\":1000000000000000019884624838656,"
               "\"chat_template\":\"{{ messages }}\"}");
    rt_hf_gguf_tokenizer t;
    if (rt_hf_gguf_tokenizer_load(dir, 12, &t) != RT_OK) fail_msg("%s", rt_last_error());
    assert_string_equal(kv(&t, "tokenizer.ggml.model")->str, "gpt2");
    assert_string_equal(kv(&t, "tokenizer.ggml.pre")->str, "llama-bpe");
    const rt_gguf_value *tokens = kv(&t, "tokenizer.ggml.tokens");
    assert_int_equal(tokens->n, 12);
    assert_string_equal(tokens->strs[2], "\xC4\xA0");
    assert_string_equal(tokens->strs[6], "<|begin|>");
    assert_string_equal(tokens->strs[11], "[PAD11]");
    const rt_gguf_value *types = kv(&t, "tokenizer.ggml.token_type");
    const int want_types[12] = {1, 1, 1, 1, 1, 1, 3, 3, 4, 5, 5, 5};
    for (int i = 0; i < 12; i++)
        assert_int_equal(rt_gguf_arr_i64(types, (uint64_t)i), want_types[i]);
    const rt_gguf_value *merges = kv(&t, "tokenizer.ggml.merges");
    assert_int_equal(merges->n, 3);
    assert_string_equal(merges->strs[1], "\xC4\xA0 a");
    assert_string_equal(merges->strs[2], "\xC4\xA0"
                                         "a b");
    assert_int_equal(kv(&t, "tokenizer.ggml.bos_token_id")->u64, 6);
    assert_int_equal(kv(&t, "tokenizer.ggml.eos_token_id")->u64, 7);
    assert_true(kv(&t, "tokenizer.ggml.add_bos_token")->b);
    assert_false(kv(&t, "tokenizer.ggml.add_eos_token")->b);
    assert_string_equal(kv(&t, "tokenizer.chat_template")->str, "{{ messages }}");
    assert_null(kv(&t, "tokenizer.ggml.scores"));
    rt_hf_gguf_tokenizer_free(&t);
    /* A model vocabulary smaller than the tokenizer's is an error. */
    assert_int_equal(rt_hf_gguf_tokenizer_load(dir, 5, &t), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "tokenizer.json"));
    tu_rmtree(dir);
    free(dir);
}

static void test_spm_bpe(void **state) {
    (void)state;
    char *dir = tu_tmpdir("tok-spm");
    write_text(dir, "tokenizer.json",
               "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},"
               "{\"id\":1,\"content\":\"<s>\",\"special\":true}],"
               "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\","
               "\"prepend\":\"\\u2581\"}]},"
               "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"}]},"
               "\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"unk_token\":\"<unk>\","
               "\"vocab\":{\"<unk>\":0,\"<s>\":1,\"<0x0A>\":2,\"\\u2581\":3,\"h\":4,\"i\":5,"
               "\"hi\":6,\"\\u2581hi\":7},\"merges\":[\"h i\",\"\\u2581 hi\"]}}");
    write_text(dir, "tokenizer_config.json", "{\"bos_token\":\"<s>\",\"add_bos_token\":true}");
    rt_hf_gguf_tokenizer t;
    if (rt_hf_gguf_tokenizer_load(dir, 8, &t) != RT_OK) fail_msg("%s", rt_last_error());
    assert_string_equal(kv(&t, "tokenizer.ggml.model")->str, "llama");
    assert_null(kv(&t, "tokenizer.ggml.pre"));
    assert_null(kv(&t, "tokenizer.ggml.merges"));
    const int want_types[8] = {2, 3, 6, 1, 1, 1, 1, 1}; /* <unk> is "unknown" */
    const rt_gguf_value *types = kv(&t, "tokenizer.ggml.token_type");
    for (int i = 0; i < 8; i++)
        assert_int_equal(rt_gguf_arr_i64(types, (uint64_t)i), want_types[i]);
    /* "hi" is made by merge 0, "▁hi" by merge 1: earlier merges score higher; pieces no merge
     * makes come after all of them ("h": -(2 merges + 1 + id 4)). */
    const rt_gguf_value *scores = kv(&t, "tokenizer.ggml.scores");
    assert_true(rt_gguf_arr_f64(scores, 6) == -1.0);
    assert_true(rt_gguf_arr_f64(scores, 7) == -2.0);
    assert_true(rt_gguf_arr_f64(scores, 4) == -7.0);
    assert_true(rt_gguf_arr_f64(scores, 1) == 0.0);
    assert_int_equal(kv(&t, "tokenizer.ggml.unknown_token_id")->u64, 0);
    assert_true(kv(&t, "tokenizer.ggml.add_space_prefix")->b);
    assert_true(kv(&t, "tokenizer.ggml.add_bos_token")->b);
    rt_hf_gguf_tokenizer_free(&t);
    tu_rmtree(dir);
    free(dir);
}

static void test_wordpiece(void **state) {
    (void)state;
    char *dir = tu_tmpdir("tok-wp");
    write_text(dir, "tokenizer.json",
               "{\"added_tokens\":[{\"id\":0,\"content\":\"[PAD]\",\"special\":true},"
               "{\"id\":1,\"content\":\"[UNK]\",\"special\":true},{\"id\":2,\"content\":\"[CLS]\","
               "\"special\":true},{\"id\":3,\"content\":\"[SEP]\",\"special\":true},"
               "{\"id\":4,\"content\":\"[MASK]\",\"special\":true}],"
               "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[PAD]\":0,"
               "\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"[MASK]\":4,\"play\":5,\"##ing\":6}}}");
    write_text(dir, "tokenizer_config.json", "{\"pad_token\":\"[PAD]\"}");
    rt_hf_gguf_tokenizer t;
    if (rt_hf_gguf_tokenizer_load(dir, 7, &t) != RT_OK) fail_msg("%s", rt_last_error());
    assert_string_equal(kv(&t, "tokenizer.ggml.model")->str, "bert");
    const rt_gguf_value *tokens = kv(&t, "tokenizer.ggml.tokens");
    assert_string_equal(tokens->strs[2], "[CLS]");
    assert_string_equal(tokens->strs[5], "\xE2\x96\x81play");
    assert_string_equal(tokens->strs[6], "ing");
    assert_int_equal(rt_gguf_arr_i64(kv(&t, "tokenizer.ggml.token_type"), 1), 2);
    assert_int_equal(kv(&t, "tokenizer.ggml.bos_token_id")->u64, 2);
    assert_int_equal(kv(&t, "tokenizer.ggml.eos_token_id")->u64, 3);
    assert_int_equal(kv(&t, "tokenizer.ggml.seperator_token_id")->u64, 3);
    assert_int_equal(kv(&t, "tokenizer.ggml.padding_token_id")->u64, 0);
    assert_int_equal(kv(&t, "tokenizer.ggml.mask_token_id")->u64, 4);
    assert_true(kv(&t, "tokenizer.ggml.add_eos_token")->b);
    rt_hf_gguf_tokenizer_free(&t);
    /* Unsupported models and broken files. */
    write_text(dir, "tokenizer.json", "{\"model\":{\"type\":\"Unigram\",\"vocab\":{}}}");
    assert_int_equal(rt_hf_gguf_tokenizer_load(dir, 7, &t), RT_ERR_UNSUPPORTED);
    write_text(dir, "tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1}}}");
    assert_int_equal(rt_hf_gguf_tokenizer_load(dir, 7, &t), RT_ERR_FORMAT);
    write_text(dir, "tokenizer.json", "{\"model\":");
    assert_int_equal(rt_hf_gguf_tokenizer_load(dir, 7, &t), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "tokenizer.json"));
    char *p = rt_path_join(dir, "tokenizer.json");
    remove(p);
    free(p);
    assert_int_equal(rt_hf_gguf_tokenizer_load(dir, 7, &t), RT_ERR_NOT_FOUND);
    tu_rmtree(dir);
    free(dir);
}

/* convert HF -> GGUF carries the tokenizer. */
static void test_convert_carries_tokenizer(void **state) {
    (void)state;
    char *dir = tu_tmpdir("tok-conv");
    assert_int_equal(tu_run_python("tests/python/tiny_hf.py", "bert '%s/m' --small", dir), 0);
    char *m = rt_path_join(dir, "m");
    char vocab[4096] = "";
    size_t o = 0;
    for (int i = 0; i < 32; i++)
        o += (size_t)snprintf(vocab + o, sizeof vocab - o, "%s\"w%d\":%d", i ? "," : "", i, i);
    char json[8192];
    snprintf(json, sizeof json,
             "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"w1\","
             "\"vocab\":{%s}}}",
             vocab);
    write_text(m, "tokenizer.json", json);
    char *out = rt_path_join(dir, "m.gguf");
    rt_model_file_convert_params p = rt_model_file_convert_default_params();
    if (rt_model_file_convert(m, out, &p) != RT_OK) fail_msg("%s", rt_last_error());
    rt_model_file *f;
    if (rt_model_file_open(out, &f) != RT_OK) fail_msg("%s", rt_last_error());
    const rt_gguf *g = rt_model_file_gguf(f);
    const char *model;
    assert_int_equal(rt_gguf_get_str(g, "tokenizer.ggml.model", &model), RT_OK);
    assert_string_equal(model, "bert");
    assert_int_equal(rt_gguf_find(g, "tokenizer.ggml.tokens")->n, 32);
    rt_model_file_close(f);
    free(out);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_level_bpe),
        cmocka_unit_test(test_spm_bpe),
        cmocka_unit_test(test_wordpiece),
        cmocka_unit_test(test_convert_carries_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
