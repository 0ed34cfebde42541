/*
 * test_tokenizer.c — unit tests of the tokenizer layer on small hand-built tokenizers (the
 * comparison with Hugging Face on real vocabularies is tests/reference/ref_tokenizer.c):
 * BPE merge order, byte fallback, WordPiece from vocab.txt, added tokens, invalid UTF-8,
 * empty input, a 10 MB single line, streaming decode, unknown types, chat templates.
 */
#include "testutil.h"

#include "ragtune.h"
#include "tokenizer/utf8.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A byte-level BPE over the GPT-2 alphabet (ids 0..255 = bytes) with merges for
 * "he", "ll", "hell", "hello", "Ġw" and an added special token <|end|>. */
static rt_tokenizer *tiny_bpe_pre(const char *extra_model, const char *normalizer,
                                  const char *pretok);

static rt_tokenizer *tiny_bpe(const char *extra_model, const char *normalizer) {
    return tiny_bpe_pre(extra_model, normalizer, NULL);
}

static rt_tokenizer *tiny_bpe_pre(const char *extra_model, const char *normalizer,
                                  const char *pretok) {
    json_t *vocab = json_object();
    for (int b = 0; b < 256; b++) {
        uint8_t buf[4];
        int n = tk_utf8_encode(tk_byte_to_cp((uint8_t)b), buf);
        json_object_setn_new(vocab, (const char *)buf, (size_t)n, json_integer(b));
    }
    const char *merged[] = {"he", "ll", "hell", "hello", "\xC4\xA0w"};
    for (int i = 0; i < 5; i++)
        json_object_set_new(vocab, merged[i], json_integer(256 + i));
    json_object_set_new(vocab, "<|end|>", json_integer(261));
    json_t *merges = json_pack("[s,s,s,s,s]", "h e", "l l", "he ll", "hell o", "\xC4\xA0 w");
    json_t *model = json_pack("{s:s,s:o,s:o}", "type", "BPE", "vocab", vocab, "merges", merges);
    if (extra_model) {
        json_t *extra = json_loads(extra_model, 0, NULL);
        json_object_update(model, extra);
        json_decref(extra);
    }
    json_t *root =
        json_pack("{s:o,s:{s:s,s:b,s:b},s:{s:s},s:[{s:i,s:s,s:b,s:b,s:b,s:b,s:b}]}", "model", model,
                  "pre_tokenizer", "type", "ByteLevel", "add_prefix_space", 0, "use_regex", 1,
                  "decoder", "type", "ByteLevel", "added_tokens", "id", 261, "content", "<|end|>",
                  "special", 1, "normalized", 0, "lstrip", 0, "rstrip", 0, "single_word", 0);
    if (normalizer) json_object_set_new(root, "normalizer", json_loads(normalizer, 0, NULL));
    if (pretok) json_object_set_new(root, "pre_tokenizer", json_loads(pretok, 0, NULL));
    char *text = json_dumps(root, 0);
    rt_tokenizer *tok = NULL;
    int rc = rt_tokenizer_load_json(text, strlen(text), "tiny.json", &tok);
    if (rc != RT_OK) fprintf(stderr, "%s\n", rt_last_error());
    assert_int_equal(rc, RT_OK);
    free(text);
    json_decref(root);
    return tok;
}

static void expect_ids(rt_tokenizer *tok, const char *text, size_t len, const int32_t *want,
                       size_t n_want) {
    int32_t *ids;
    size_t n;
    assert_int_equal(rt_tokenizer_encode(tok, text, len, false, &ids, &n), RT_OK);
    if (n != n_want) {
        fprintf(stderr, "got %zu ids:", n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids[i], want[i]);
    free(ids);
}

static void test_bpe_merges(void **state) {
    rt_tokenizer *tok = tiny_bpe(NULL, NULL);
    /* "hello" -> he, ll -> hell -> hello; " wo" -> Ġw + o. */
    const int32_t a[] = {259};
    expect_ids(tok, "hello", 5, a, 1);
    const int32_t b[] = {259, 260, 'o', 261, 'h', 'i'};
    expect_ids(tok, "hello wo<|end|>hi", 17, b, 6);
    assert_int_equal(rt_tokenizer_special_id(tok, RT_TOKEN_BOS), -1);
    assert_true(rt_tokenizer_is_special(tok, 261));
    assert_string_equal(rt_tokenizer_id_to_token(tok, 260), "\xC4\xA0w");
    assert_int_equal(rt_tokenizer_token_to_id(tok, "hell"), 258);
    char piece[16];
    assert_int_equal(rt_tokenizer_token_to_piece(tok, 260, piece, sizeof piece), 2);
    assert_memory_equal(piece, " w", 2);
    rt_tokenizer_free(tok);
}

static void test_empty_and_invalid_utf8(void **state) {
    rt_tokenizer *tok = tiny_bpe(NULL, NULL);
    int32_t *ids;
    size_t n;
    assert_int_equal(rt_tokenizer_encode(tok, "", 0, true, &ids, &n), RT_OK);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(rt_tokenizer_encode(tok, NULL, 0, false, &ids, &n), RT_OK);
    assert_int_equal(n, 0);
    free(ids);
    /* Invalid bytes become U+FFFD (EF BF BD = 3 byte tokens). */
    const char bad[] = {'h', (char)0xFF, 'i', (char)0xE2, (char)0x82};
    assert_int_equal(rt_tokenizer_encode(tok, bad, sizeof bad, false, &ids, &n), RT_OK);
    char *text;
    size_t len;
    assert_int_equal(rt_tokenizer_decode(tok, ids, n, false, &text, &len), RT_OK);
    assert_string_equal(text, "h\xEF\xBF\xBDi\xEF\xBF\xBD");
    free(text);
    free(ids);
    /* Decoding a lone continuation byte token gives U+FFFD, never invalid UTF-8. */
    int32_t lone = 0x80;
    assert_int_equal(rt_tokenizer_decode(tok, &lone, 1, false, &text, &len), RT_OK);
    assert_string_equal(text, "\xEF\xBF\xBD");
    free(text);
    int32_t out_of_range = 9999;
    assert_int_equal(rt_tokenizer_decode(tok, &out_of_range, 1, false, &text, &len),
                     RT_ERR_INVALID);
    rt_tokenizer_free(tok);
}

static void test_long_line(void **state) {
    rt_tokenizer *tok = tiny_bpe(NULL, NULL);
    size_t len = 10u << 20;
    char *s = malloc(len);
    /* One 10 MB "word" of letters and, separately, 10 MB of spaces: linear time and memory. */
    for (size_t i = 0; i < len; i++)
        s[i] = "hello"[i % 5];
    int32_t *ids;
    size_t n;
    assert_int_equal(rt_tokenizer_encode(tok, s, len, false, &ids, &n), RT_OK);
    assert_int_equal(n, len / 5);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids[i], 259);
    free(ids);
    memset(s, ' ', len);
    assert_int_equal(rt_tokenizer_encode(tok, s, len, false, &ids, &n), RT_OK);
    assert_int_equal(n, len);
    free(ids);
    rt_tokenizer_free(tok);
    /* Llama-3's pattern backtracks over a whole whitespace run (\s*[\r\n]+): no match limit. */
    tok = tiny_bpe_pre(NULL, NULL,
                       "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                       "{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?"
                       "\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
                       "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\","
                       "\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                       "\"use_regex\":false}]}");
    s[len - 1] = 'x';
    assert_int_equal(rt_tokenizer_encode(tok, s, len, false, &ids, &n), RT_OK);
    assert_int_equal(n, len);
    free(ids);
    free(s);
    rt_tokenizer_free(tok);
}

static void test_streaming_decode(void **state) {
    rt_tokenizer *tok = tiny_bpe(NULL, NULL);
    const char *text = "h\xC3\xA9llo \xF0\x9F\x98\x80 w<|end|>\xE6\x97\xA5";
    int32_t *ids;
    size_t n;
    assert_int_equal(rt_tokenizer_encode(tok, text, strlen(text), false, &ids, &n), RT_OK);
    rt_detokenizer *d;
    assert_int_equal(rt_detokenizer_new(tok, false, &d), RT_OK);
    char out[256] = {0};
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const char *piece;
        size_t len;
        assert_int_equal(rt_detokenizer_push(d, ids[i], &piece, &len), RT_OK);
        assert_true(tk_utf8_valid((const uint8_t *)piece, len));
        /* Never emits half a character. */
        memcpy(out + used, piece, len);
        used += len;
    }
    const char *piece;
    size_t len;
    assert_int_equal(rt_detokenizer_flush(d, &piece, &len), RT_OK);
    memcpy(out + used, piece, len);
    used += len;
    assert_int_equal(used, strlen(text));
    assert_memory_equal(out, text, used);
    rt_detokenizer_free(d);
    free(ids);
    rt_tokenizer_free(tok);
}

static void test_unknown_types(void **state) {
    rt_tokenizer *tok;
    const char *uni = "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}";
    assert_int_equal(rt_tokenizer_load_json(uni, strlen(uni), "u.json", &tok), RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(rt_last_error(), "Unigram"));
    const char *bad_norm = "{\"normalizer\":{\"type\":\"Precompiled\"},\"model\":{\"type\":\"BPE\","
                           "\"vocab\":{\"a\":0},\"merges\":[]}}";
    assert_int_equal(rt_tokenizer_load_json(bad_norm, strlen(bad_norm), "n.json", &tok),
                     RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(rt_last_error(), "Precompiled"));
    const char *bad_merge =
        "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}";
    assert_int_equal(rt_tokenizer_load_json(bad_merge, strlen(bad_merge), "m.json", &tok),
                     RT_ERR_FORMAT);
    assert_int_equal(rt_tokenizer_load_json("{", 1, "t.json", &tok), RT_ERR_FORMAT);
    assert_int_equal(rt_tokenizer_load("/nonexistent/tokenizer.json", &tok), RT_ERR_IO);
}

static void test_spm_byte_fallback(void **state) {
    /* Character BPE with byte fallback, Llama-2 style normalizer and decoder. */
    const char *j =
        "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\","
        "\"prepend\":\"\\u2581\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},"
        "\"content\":\"\\u2581\"}]},\"pre_tokenizer\":null,"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":"
        "{\"String\":\"\\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":"
        "\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
        "\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"fuse_unk\":true,\"unk_token\":"
        "\"<unk>\",\"vocab\":{\"<unk>\":0,\"<0xC3>\":1,\"<0xA9>\":2,\"\\u2581\":3,\"a\":4,"
        "\"b\":5,\"\\u2581a\":6,\"ab\":7,\"\\u2581ab\":8},\"merges\":[\"\\u2581 a\",\"a b\","
        "\"\\u2581a b\"]}}";
    rt_tokenizer *tok;
    int rc = rt_tokenizer_load_json(j, strlen(j), "spm.json", &tok);
    if (rc) fprintf(stderr, "%s\n", rt_last_error());
    assert_int_equal(rc, RT_OK);
    assert_int_equal(rt_tokenizer_get_type(tok), RT_TOKENIZER_SPM_BPE);
    /* "ab é" -> ▁ab ▁ <0xC3> <0xA9>. */
    const int32_t want[] = {8, 3, 1, 2};
    expect_ids(tok, "ab \xC3\xA9", 5, want, 4);
    char *text;
    size_t len;
    assert_int_equal(rt_tokenizer_decode(tok, want, 4, false, &text, &len), RT_OK);
    assert_string_equal(text, "ab \xC3\xA9");
    free(text);
    /* A character missing from the vocabulary and its bytes: <unk> (fused). */
    const int32_t unk[] = {3, 0};
    expect_ids(tok, "zz", 2, unk, 2);
    rt_tokenizer_free(tok);
}

static void test_vocab_txt(void **state) {
    char *dir = tu_tmpdir("tok_vocab");
    char path[512];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    FILE *fp = fopen(path, "w");
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n,\nun\n##aff\n##able\n", fp);
    fclose(fp);
    rt_tokenizer *tok;
    assert_int_equal(rt_tokenizer_load(dir, &tok), RT_OK);
    assert_int_equal(rt_tokenizer_get_type(tok), RT_TOKENIZER_WORDPIECE);
    int32_t *ids;
    size_t n;
    assert_int_equal(rt_tokenizer_encode(tok, "Hello, WORLDS unaffable xyz", 27, true, &ids, &n),
                     RT_OK);
    const int32_t want[] = {2, 5, 8, 6, 7, 9, 10, 11, 1, 3};
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids[i], want[i]);
    char *text;
    size_t len;
    assert_int_equal(rt_tokenizer_decode(tok, ids, n, true, &text, &len), RT_OK);
    assert_string_equal(text, "hello, worlds unaffable");
    free(text);
    free(ids);
    assert_int_equal(rt_tokenizer_special_id(tok, RT_TOKEN_PAD), 0);
    assert_int_equal(rt_tokenizer_special_id(tok, RT_TOKEN_UNK), 1);
    rt_tokenizer_free(tok);
    tu_rmtree(dir);
    free(dir);
}

static void test_normalizers(void **state) {
    /* NFKC + Lowercase in a Sequence: "ﬁ" -> "fi"; "ΟΔΟΣ" final sigma; "İ" -> "i̇". */
    rt_tokenizer *tok =
        tiny_bpe(NULL, "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},"
                       "{\"type\":\"Lowercase\"}]}");
    int32_t *ids;
    size_t n;
    const char *in = "\xEF\xAC\x81 \xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xC4\xB0";
    assert_int_equal(rt_tokenizer_encode(tok, in, strlen(in), false, &ids, &n), RT_OK);
    char *text;
    size_t len;
    assert_int_equal(rt_tokenizer_decode(tok, ids, n, false, &text, &len), RT_OK);
    assert_string_equal(text, "fi \xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 i\xCC\x87");
    free(text);
    free(ids);
    rt_tokenizer_free(tok);
}

static void test_chat_templates(void **state) {
    rt_chat_message m[] = {
        {"system", "Be brief."}, {"user", " Hi "}, {"assistant", "Hello."}, {"user", "Bye"}};
    char *out;
    assert_int_equal(rt_chat_template_render(RT_CHAT_CHATML, m, 2, true, "", "", &out), RT_OK);
    assert_string_equal(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi "
                             "<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    assert_int_equal(
        rt_chat_template_render(RT_CHAT_LLAMA3, m, 2, true, "<|begin_of_text|>", "", &out), RT_OK);
    assert_string_equal(out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe "
                             "brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi"
                             "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    free(out);
    assert_int_equal(rt_chat_template_render(RT_CHAT_LLAMA2, m, 4, false, "<s>", "</s>", &out),
                     RT_OK);
    assert_string_equal(out, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n Hi [/INST] Hello. </s>"
                             "<s>[INST] Bye [/INST]");
    free(out);
    /* Roles that do not alternate are an error, as in the Jinja template. */
    assert_int_equal(rt_chat_template_render(RT_CHAT_LLAMA2, m + 1, 1, false, "", "", &out), RT_OK);
    free(out);
    rt_chat_message bad[] = {{"assistant", "x"}};
    assert_int_equal(rt_chat_template_render(RT_CHAT_GEMMA, bad, 1, false, "", "", &out),
                     RT_ERR_INVALID);
    rt_chat_template t;
    assert_int_equal(rt_chat_template_detect("{{'<|im_start|>' + message['role']}}", &t), RT_OK);
    assert_int_equal(t, RT_CHAT_CHATML);
    assert_int_equal(rt_chat_template_detect("{% raw %}weird{% endraw %}", &t), RT_ERR_UNSUPPORTED);
    assert_int_equal(rt_chat_template_parse("gemma", &t), RT_OK);
    assert_int_equal(t, RT_CHAT_GEMMA);
}

/* Concurrent encodes on one tokenizer give the single-threaded result (the word cache is
 * shared under a lock; regex and merge scratch is per thread). */
typedef struct thread_arg {
    rt_tokenizer *tok;
    int ok;
} thread_arg;

static const char *const thread_texts[] = {"hello world", "hello wo<|end|>hi",
                                           "\xC3\xA9t\xC3\xA9 42", "  spaces   and\ttabs\n",
                                           "hellohellohello"};

static void *encode_many(void *p) {
    thread_arg *a = p;
    a->ok = 1;
    for (int round = 0; round < 200; round++) {
        for (size_t k = 0; k < 5; k++) {
            int32_t *ids, *ref;
            size_t n, n_ref;
            const char *t = thread_texts[k];
            if (rt_tokenizer_encode(a->tok, t, strlen(t), false, &ids, &n) != RT_OK) a->ok = 0;
            if (rt_tokenizer_encode(a->tok, t, strlen(t), false, &ref, &n_ref) != RT_OK) a->ok = 0;
            if (n != n_ref || memcmp(ids, ref, n * sizeof *ids)) a->ok = 0;
            free(ids);
            free(ref);
        }
    }
    return NULL;
}

static void test_threads(void **state) {
    rt_tokenizer *tok = tiny_bpe(NULL, NULL);
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].tok = tok;
        assert_int_equal(pthread_create(&th[i], NULL, encode_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].ok);
    }
    const int32_t want[] = {259, 260, 'o', 261, 'h', 'i'};
    expect_ids(tok, "hello wo<|end|>hi", 17, want, 6);
    rt_tokenizer_free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bpe_merges),     cmocka_unit_test(test_empty_and_invalid_utf8),
        cmocka_unit_test(test_long_line),      cmocka_unit_test(test_streaming_decode),
        cmocka_unit_test(test_unknown_types),  cmocka_unit_test(test_spm_byte_fallback),
        cmocka_unit_test(test_vocab_txt),      cmocka_unit_test(test_normalizers),
        cmocka_unit_test(test_chat_templates), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
