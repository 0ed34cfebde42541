/*
 * hf_tokenizer.c — see hf_tokenizer.h. Reads the JSON with jansson, builds owned arrays
 * (tokens, types, scores, merges) and points GGUF KVs at them.
 */
#include "model/hf_tokenizer.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* llama.cpp token types */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

/* The pre-tokenizer regexes llama.cpp names "llama-bpe" and "qwen2". */
static const char PAT_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char PAT_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

#define MAX_KVS 24

typedef struct store {
    int n;
    char **tokens;
    size_t *tok_lens;
    int32_t *types;
    float *scores;
    size_t n_merges;
    char **merges;
    size_t *merge_lens;
    char *chat_template;
    rt_gguf_kv kvs[MAX_KVS];
} store;

static void store_free(store *s) {
    if (!s) return;
    for (int i = 0; s->tokens && i < s->n; i++)
        free(s->tokens[i]);
    for (size_t i = 0; s->merges && i < s->n_merges; i++)
        free(s->merges[i]);
    free(s->tokens);
    free(s->tok_lens);
    free(s->types);
    free(s->scores);
    free(s->merges);
    free(s->merge_lens);
    free(s->chat_template);
    free(s);
}

void rt_hf_gguf_tokenizer_free(rt_hf_gguf_tokenizer *t) {
    store_free(t->storage);
    memset(t, 0, sizeof *t);
}

/* A special token given as "text" or {"content": "text"} in tokenizer_config.json. */
static const char *special_text(json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    return json_string_value(v);
}

static int token_id(json_t *tok, const char *text) {
    if (!text) return -1;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tok, "added_tokens"), i, a) {
        const char *c = json_string_value(json_object_get(a, "content"));
        if (c && !strcmp(c, text)) return (int)json_integer_value(json_object_get(a, "id"));
    }
    json_t *id = json_object_get(json_object_get(json_object_get(tok, "model"), "vocab"), text);
    return json_is_integer(id) ? (int)json_integer_value(id) : -1;
}

/* Finds the first object of `type` in a pre-tokenizer / normalizer / decoder / post-processor
 * tree. */
static json_t *find_typed(json_t *node, const char *type) {
    if (!json_is_object(node)) return NULL;
    const char *t = json_string_value(json_object_get(node, "type"));
    if (t && !strcmp(t, type)) return node;
    const char *lists[] = {"pretokenizers", "normalizers", "decoders", "processors"};
    for (size_t k = 0; k < 4; k++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(node, lists[k]), i, c) {
            json_t *r = find_typed(c, type);
            if (r) return r;
        }
    }
    return NULL;
}

static const char *bpe_pre(json_t *tok, const char *path) {
    json_t *pre = json_object_get(tok, "pre_tokenizer");
    json_t *split = find_typed(pre, "Split");
    const char *pat =
        split ? json_string_value(json_object_get(json_object_get(split, "pattern"), "Regex"))
              : NULL;
    if (pat && !strcmp(pat, PAT_LLAMA3)) return "llama-bpe";
    if (pat && !strcmp(pat, PAT_QWEN2)) return "qwen2";
    json_t *bl = find_typed(pre, "ByteLevel");
    if (!split && bl && !json_is_false(json_object_get(bl, "use_regex")) &&
        !find_typed(pre, "Digits"))
        return "gpt-2";
    rt_log_warn("%s: pre-tokenizer not recognized; tokenizer.ggml.pre = \"default\"", path);
    return "default";
}

static int set_token(store *s, int id, const char *text, size_t len, const char *path) {
    if (id < 0 || id >= s->n)
        return rt_error(RT_ERR_FORMAT, "%s: token id %d outside the vocabulary of %d", path, id,
                        s->n);
    if (s->tokens[id] && (s->tok_lens[id] != len || memcmp(s->tokens[id], text, len)))
        return rt_error(RT_ERR_FORMAT, "%s: token id %d is given twice", path, id);
    if (s->tokens[id]) return RT_OK;
    s->tokens[id] = rt_malloc(len + 1);
    if (!s->tokens[id]) return RT_ERR_NOMEM;
    memcpy(s->tokens[id], text, len);
    s->tokens[id][len] = '\0';
    s->tok_lens[id] = len;
    return RT_OK;
}

/* "##ing" -> "ing", "[CLS]" stays, "word" -> "▁word" (llama.cpp's form of a WordPiece vocab). */
static char *phantom(const char *t, size_t *len) {
    size_t n = strlen(t);
    char *out = rt_malloc(n + 4);
    if (!out) return NULL;
    if (n >= 2 && t[0] == '#' && t[1] == '#') {
        memcpy(out, t + 2, n - 1);
        *len = n - 2;
    } else if (n && t[0] == '[' && t[n - 1] == ']') {
        memcpy(out, t, n + 1);
        *len = n;
    } else {
        memcpy(out, "\xE2\x96\x81", 3);
        memcpy(out + 3, t, n + 1);
        *len = n + 3;
    }
    return out;
}

static void kv_set(store *s, size_t *k, const char *key, rt_gguf_value v) {
    if (*k >= MAX_KVS) return;
    s->kvs[*k].key = key;
    s->kvs[*k].value = v;
    (*k)++;
}

static void kv_id(store *s, size_t *k, const char *key, int id) {
    if (id < 0 || id >= s->n) return;
    rt_gguf_value v = {.type = RT_GGUF_UINT32};
    v.u64 = (uint64_t)id;
    kv_set(s, k, key, v);
}

static void kv_flag(store *s, size_t *k, const char *key, bool b) {
    rt_gguf_value v = {.type = RT_GGUF_BOOL};
    v.b = b;
    kv_set(s, k, key, v);
}

static int build(const char *path, json_t *tok, json_t *cfg, int n_vocab, store *s, size_t *n_kvs) {
    json_t *model = json_object_get(tok, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    json_t *vocab = json_object_get(model, "vocab");
    if (!type || !json_is_object(vocab))
        return rt_error(RT_ERR_FORMAT, "%s: no model.type / model.vocab", path);
    bool wordpiece = !strcmp(type, "WordPiece");
    if (!wordpiece && strcmp(type, "BPE"))
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: tokenizer model '%s' cannot be written to GGUF "
                        "(BPE, WordPiece)",
                        path, type);
    bool spm = !wordpiece && (json_is_true(json_object_get(model, "byte_fallback")) ||
                              find_typed(json_object_get(tok, "decoder"), "ByteFallback"));
    /* Vocabulary size: the largest id + 1, padded to the model's n_vocab. */
    int max_id = -1;
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 22))
            return rt_error(RT_ERR_FORMAT, "%s: vocabulary id of '%s' is out of range", path, key);
        if (json_integer_value(v) > max_id) max_id = (int)json_integer_value(v);
    }
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tok, "added_tokens"), i, a) {
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        if (!json_is_string(json_object_get(a, "content")) || id < 0 || id >= (1 << 22))
            return rt_error(RT_ERR_FORMAT, "%s: added_tokens[%zu] is malformed", path, i);
        if (id > max_id) max_id = (int)id;
    }
    if (max_id + 1 > n_vocab)
        return rt_error(RT_ERR_FORMAT, "%s: the tokenizer has %d tokens but the model only %d",
                        path, max_id + 1, n_vocab);
    s->n = n_vocab;
    s->tokens = rt_calloc((size_t)s->n, sizeof *s->tokens);
    s->tok_lens = rt_calloc((size_t)s->n, sizeof *s->tok_lens);
    s->types = rt_calloc((size_t)s->n, sizeof *s->types);
    if (spm) s->scores = rt_calloc((size_t)s->n, sizeof *s->scores);
    if (!s->tokens || !s->tok_lens || !s->types || (spm && !s->scores)) return RT_ERR_NOMEM;
    json_object_foreach(vocab, key, v) {
        int id = (int)json_integer_value(v);
        if (wordpiece) {
            size_t len;
            char *p = phantom(key, &len);
            if (!p) return RT_ERR_NOMEM;
            int rc = set_token(s, id, p, len, path);
            free(p);
            RT_TRY(rc);
        } else {
            RT_TRY(set_token(s, id, key, strlen(key), path));
        }
        s->types[id] = TT_NORMAL;
        if (spm && strlen(key) == 6 && !strncmp(key, "<0x", 3) && key[5] == '>')
            s->types[id] = TT_BYTE;
    }
    json_array_foreach(json_object_get(tok, "added_tokens"), i, a) {
        int id = (int)json_integer_value(json_object_get(a, "id"));
        const char *c = json_string_value(json_object_get(a, "content"));
        if (!s->tokens[id]) RT_TRY(set_token(s, id, c, strlen(c), path));
        s->types[id] = json_is_true(json_object_get(a, "special")) ? TT_CONTROL : TT_USER;
    }
    for (int id = 0; id < s->n; id++) {
        if (s->tokens[id]) continue;
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%d]", id);
        RT_TRY(set_token(s, id, pad, strlen(pad), path));
        s->types[id] = TT_UNUSED;
    }
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    int unk_id = token_id(tok, unk);
    if (unk_id >= 0 && unk_id < s->n) s->types[unk_id] = TT_UNKNOWN;
    /* Merges: "a b" strings, or [a, b] pairs in newer files. */
    json_t *merges = json_object_get(model, "merges");
    if (!wordpiece) {
        size_t nm = json_array_size(merges);
        s->merges = rt_calloc(nm + 1, sizeof *s->merges);
        s->merge_lens = rt_calloc(nm + 1, sizeof *s->merge_lens);
        if (!s->merges || !s->merge_lens) return RT_ERR_NOMEM;
        json_array_foreach(merges, i, a) {
            const char *x = json_string_value(a), *y = NULL;
            if (json_is_array(a) && json_array_size(a) == 2) {
                x = json_string_value(json_array_get(a, 0));
                y = json_string_value(json_array_get(a, 1));
            }
            if (!x || (json_is_array(a) && !y))
                return rt_error(RT_ERR_FORMAT, "%s: merges[%zu] is malformed", path, i);
            size_t len = strlen(x) + (y ? strlen(y) + 1 : 0);
            char *m = rt_malloc(len + 1);
            if (!m) return RT_ERR_NOMEM;
            if (y)
                snprintf(m, len + 1, "%s %s", x, y);
            else
                memcpy(m, x, len + 1);
            s->merges[i] = m;
            s->merge_lens[i] = len;
            s->n_merges++;
            if (spm) { /* the merged piece ranks by its merge: earlier merges score higher */
                char *sp = strchr(m, ' ');
                if (!sp) continue;
                *sp = '\0';
                char joined[1024];
                snprintf(joined, sizeof joined, "%s%s", m, sp + 1);
                *sp = ' ';
                int id = token_id(tok, joined);
                if (id >= 0 && id < s->n && s->scores[id] == 0) s->scores[id] = -(float)(i + 1);
            }
        }
        /* Pieces no merge makes rank after every merged piece, in id order. */
        for (int id = 0; spm && id < s->n; id++)
            if (s->scores[id] == 0 && s->types[id] == TT_NORMAL)
                s->scores[id] = -(float)(s->n_merges + 1 + (size_t)id);
    }
    /* The KVs. */
    size_t k = 0;
    rt_gguf_value sv = {.type = RT_GGUF_STRING};
    sv.str = wordpiece ? "bert" : spm ? "llama" : "gpt2";
    sv.len = strlen(sv.str);
    kv_set(s, &k, "tokenizer.ggml.model", sv);
    if (!wordpiece && !spm) {
        sv.str = bpe_pre(tok, path);
        sv.len = strlen(sv.str);
        kv_set(s, &k, "tokenizer.ggml.pre", sv);
    }
    rt_gguf_value arr = {.type = RT_GGUF_ARRAY, .arr_type = RT_GGUF_STRING};
    arr.n = (uint64_t)s->n;
    arr.strs = (const char *const *)s->tokens;
    arr.lens = s->tok_lens;
    kv_set(s, &k, "tokenizer.ggml.tokens", arr);
    rt_gguf_value tv = {.type = RT_GGUF_ARRAY, .arr_type = RT_GGUF_INT32};
    tv.n = (uint64_t)s->n;
    tv.data = s->types;
    kv_set(s, &k, "tokenizer.ggml.token_type", tv);
    if (spm) {
        rt_gguf_value scv = {.type = RT_GGUF_ARRAY, .arr_type = RT_GGUF_FLOAT32};
        scv.n = (uint64_t)s->n;
        scv.data = s->scores;
        kv_set(s, &k, "tokenizer.ggml.scores", scv);
    } else if (!wordpiece) {
        rt_gguf_value mv = {.type = RT_GGUF_ARRAY, .arr_type = RT_GGUF_STRING};
        mv.n = s->n_merges;
        mv.strs = (const char *const *)s->merges;
        mv.lens = s->merge_lens;
        kv_set(s, &k, "tokenizer.ggml.merges", mv);
    }
    int bos = token_id(tok, special_text(cfg, "bos_token"));
    int eos = token_id(tok, special_text(cfg, "eos_token"));
    if (wordpiece) {
        if (bos < 0) bos = token_id(tok, special_text(cfg, "cls_token"));
        if (bos < 0) bos = token_id(tok, "[CLS]");
        if (eos < 0) eos = token_id(tok, special_text(cfg, "sep_token"));
        if (eos < 0) eos = token_id(tok, "[SEP]");
        kv_id(s, &k, "tokenizer.ggml.seperator_token_id", token_id(tok, "[SEP]"));
        kv_id(s, &k, "tokenizer.ggml.cls_token_id", token_id(tok, "[CLS]"));
        kv_id(s, &k, "tokenizer.ggml.mask_token_id", token_id(tok, "[MASK]"));
    }
    kv_id(s, &k, "tokenizer.ggml.bos_token_id", bos);
    kv_id(s, &k, "tokenizer.ggml.eos_token_id", eos);
    kv_id(s, &k, "tokenizer.ggml.unknown_token_id", unk_id);
    kv_id(s, &k, "tokenizer.ggml.padding_token_id", token_id(tok, special_text(cfg, "pad_token")));
    /* add_bos: tokenizer_config's flag, else whether the post-processor starts with a token
     * (what Hugging Face adds, so GGUF and tokenizer.json give the same ids). */
    json_t *ab = json_object_get(cfg, "add_bos_token");
    bool add_bos = wordpiece || spm;
    if (json_is_boolean(ab)) {
        add_bos = json_is_true(ab);
    } else if (!wordpiece && !spm) {
        json_t *tp = find_typed(json_object_get(tok, "post_processor"), "TemplateProcessing");
        json_t *first = json_array_get(json_object_get(tp, "single"), 0);
        add_bos = tp && json_object_get(first, "SpecialToken") != NULL;
    }
    kv_flag(s, &k, "tokenizer.ggml.add_bos_token", add_bos);
    json_t *ae = json_object_get(cfg, "add_eos_token");
    kv_flag(s, &k, "tokenizer.ggml.add_eos_token",
            json_is_boolean(ae) ? json_is_true(ae) : wordpiece);
    if (spm) {
        json_t *prep = find_typed(json_object_get(tok, "normalizer"), "Prepend");
        json_t *meta = find_typed(json_object_get(tok, "pre_tokenizer"), "Metaspace");
        const char *scheme = json_string_value(json_object_get(meta, "prepend_scheme"));
        kv_flag(s, &k, "tokenizer.ggml.add_space_prefix",
                prep != NULL || (meta && (!scheme || strcmp(scheme, "never"))));
    }
    /* Chat template: a string, or a list of {name, template} (the "default" one). */
    json_t *ct = json_object_get(cfg, "chat_template");
    const char *tmpl = json_string_value(ct);
    if (json_is_array(ct)) {
        json_array_foreach(ct, i, a) {
            const char *name = json_string_value(json_object_get(a, "name"));
            if (name && !strcmp(name, "default"))
                tmpl = json_string_value(json_object_get(a, "template"));
        }
    }
    if (tmpl) {
        s->chat_template = rt_strdup(tmpl);
        if (!s->chat_template) return RT_ERR_NOMEM;
        rt_gguf_value cv = {
            .type = RT_GGUF_STRING, .str = s->chat_template, .len = strlen(s->chat_template)};
        kv_set(s, &k, "tokenizer.chat_template", cv);
    }
    *n_kvs = k;
    return RT_OK;
}

int rt_hf_gguf_tokenizer_parse(const char *tok_json, size_t tok_len, const char *cfg_json,
                               size_t cfg_len, int n_vocab, const char *what,
                               rt_hf_gguf_tokenizer *out) {
    memset(out, 0, sizeof *out);
    json_error_t err;
    int rc = RT_OK;
    store *s = NULL;
    json_t *cfg = NULL, *tok = json_loadb(tok_json, tok_len, 0, &err);
    if (!tok) return rt_error(RT_ERR_FORMAT, "%s: line %d: %s", what, err.line, err.text);
    cfg = cfg_json ? json_loadb(cfg_json, cfg_len, JSON_DECODE_INT_AS_REAL, &err) : json_object();
    if (!cfg) {
        rc = rt_error(RT_ERR_FORMAT, "%s: tokenizer_config.json: line %d: %s", what, err.line,
                      err.text);
        goto done;
    }
    if (!json_is_object(tok) || !json_is_object(cfg)) {
        rc = rt_error(RT_ERR_FORMAT, "%s: not a JSON object", what);
        goto done;
    }
    s = rt_calloc(1, sizeof *s);
    if (!s) {
        rc = RT_ERR_NOMEM;
        goto done;
    }
    size_t n = 0;
    rc = build(what, tok, cfg, n_vocab, s, &n);
    if (rc == RT_OK) {
        out->kvs = s->kvs;
        out->n_kvs = n;
        out->storage = s;
        s = NULL;
    }
done:
    store_free(s);
    json_decref(tok);
    json_decref(cfg);
    return rc;
}

int rt_hf_gguf_tokenizer_load(const char *dir, int n_vocab, rt_hf_gguf_tokenizer *out) {
    memset(out, 0, sizeof *out);
    char *tpath = rt_path_join(dir, "tokenizer.json");
    char *cpath = rt_path_join(dir, "tokenizer_config.json");
    char *tok = NULL, *cfg = NULL;
    size_t tlen = 0, clen = 0;
    int rc = RT_OK;
    if (!tpath || !cpath) {
        rc = RT_ERR_NOMEM;
        goto done;
    }
    if (!rt_is_file(tpath)) {
        rc = rt_error(RT_ERR_NOT_FOUND, "%s: no tokenizer.json", dir);
        goto done;
    }
    rc = rt_file_read_all(tpath, (size_t)512 << 20, &tok, &tlen);
    if (rc == RT_OK && rt_is_file(cpath))
        rc = rt_file_read_all(cpath, (size_t)64 << 20, &cfg, &clen);
    if (rc == RT_OK) rc = rt_hf_gguf_tokenizer_parse(tok, tlen, cfg, clen, n_vocab, tpath, out);
done:
    free(tok);
    free(cfg);
    free(tpath);
    free(cpath);
    return rc;
}
