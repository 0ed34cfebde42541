/*
 * gguf_vocab.c — tokenizers stored in GGUF metadata as llama.cpp writes them:
 *   tokenizer.ggml.model       "gpt2" (byte-level BPE), "llama" (SentencePiece BPE with byte
 *                              fallback, merges ranked by score) or "bert" (WordPiece)
 *   tokenizer.ggml.pre         pre-tokenizer family for gpt2 models ("llama-bpe", "qwen2",
 *                              "gpt-2", "default", ...)
 *   tokenizer.ggml.tokens / .scores / .token_type / .merges, special ids, add_bos_token,
 *   add_space_prefix, and tokenizer.chat_template.
 * Each is turned into the same objects a tokenizer.json gives (so the encode path is shared).
 * This is the tokenizer layer's one use of the model layer: its GGUF file reader.
 */
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "core/log.h"
#include "core/gguf.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* llama.cpp token types */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

#define PAT_GPT2                                                                                   \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define PAT_LLAMA3                                                                                 \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+" \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define PAT_QWEN2                                                                                  \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"      \
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static int json_piece(const char *text, const char *where,
                      int (*make)(const json_t *, const char *, void *), void *out) {
    json_t *j = json_loads(text, 0, NULL);
    if (!j) return rt_error(RT_ERR_INTERNAL, "%s: bad built-in JSON", where);
    int rc = make(j, where, out);
    json_decref(j);
    return rc;
}

static int make_pretok(const json_t *j, const char *w, void *out) {
    return tk_pretok_from_json(j, w, (tk_pretok **)out);
}
static int make_norm(const json_t *j, const char *w, void *out) {
    return tk_normalizer_from_json(j, w, (tk_normalizer **)out);
}
static int make_dec(const json_t *j, const char *w, void *out) {
    return tk_decoder_from_json(j, w, (tk_decoder **)out);
}

static int byte_level_pretok(const char *pre, const char *where, tk_pretok **out,
                             bool *ignore_merges) {
    const char *pattern = PAT_GPT2;
    *ignore_merges = false;
    if (pre && (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3") || !strcmp(pre, "smaug-bpe"))) {
        pattern = PAT_LLAMA3;
        *ignore_merges = true;
    } else if (pre && (!strcmp(pre, "qwen2") || !strcmp(pre, "qwen35"))) {
        pattern = PAT_QWEN2;
    } else if (pre && strcmp(pre, "gpt-2") && strcmp(pre, "default") && strcmp(pre, "gpt2")) {
        rt_log_warn("%s: tokenizer.ggml.pre \"%s\" is not known; using the GPT-2 pattern", where,
                    pre);
    }
    if (!strcmp(pattern, PAT_GPT2))
        return json_piece("{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}",
                          where, make_pretok, out);
    json_t *j = json_pack("{s:s,s:[{s:s,s:{s:s},s:s,s:b},{s:s,s:b,s:b}]}", "type", "Sequence",
                          "pretokenizers", "type", "Split", "pattern", "Regex", pattern, "behavior",
                          "Isolated", "invert", 0, "type", "ByteLevel", "add_prefix_space", 0,
                          "use_regex", 0);
    if (!j) return RT_ERR_NOMEM;
    int rc = tk_pretok_from_json(j, where, out);
    json_decref(j);
    return rc;
}

typedef struct scored {
    float score;
    int32_t id;
} scored;

static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* SentencePiece BPE: merge (l, r) -> t for every split of every token t into two tokens,
 * ranked by t's score (higher first), as Hugging Face's converter derives merges. */
static int spm_merges(rt_tokenizer *t, const rt_gguf_value *scores, const uint8_t *ttype) {
    int32_t n = t->vocab.size;
    scored *order = rt_malloc((size_t)n * sizeof *order);
    if (!order) return RT_ERR_NOMEM;
    for (int32_t i = 0; i < n; i++) {
        order[i].id = i;
        order[i].score = scores ? (float)rt_gguf_arr_f64(scores, (uint64_t)i) : (float)-i;
    }
    qsort(order, (size_t)n, sizeof *order, cmp_scored);
    int rc = RT_OK;
    for (int32_t r = 0; rc == RT_OK && r < n; r++) {
        int32_t id = order[r].id;
        if (ttype && ttype[id] != TT_NORMAL && ttype[id] != TT_USER) continue;
        size_t len;
        const char *s = tk_vocab_get(&t->vocab, id, &len);
        for (size_t k = 1; rc == RT_OK && k < len; k++) {
            if (((uint8_t)s[k] & 0xC0) == 0x80) continue;
            int32_t a = tk_vocab_find(&t->vocab, s, k),
                    b = tk_vocab_find(&t->vocab, s + k, len - k);
            if (a < 0 || b < 0) continue;
            if (tk_bpe_find_merge(&t->bpe, a, b)) continue; /* keep the best-ranked target */
            rc = tk_bpe_add_merge(&t->bpe, a, b, id, (uint32_t)r);
        }
    }
    free(order);
    return rc;
}

static int special_id(const rt_gguf *g, const char *key, int32_t n, int32_t *out) {
    int64_t v;
    if (rt_gguf_get_i64(g, key, &v) != RT_OK) {
        rt_error_clear();
        return RT_OK;
    }
    if (v >= 0 && v < n) *out = (int32_t)v;
    return RT_OK;
}

int tk_tokenizer_load_gguf(const char *path, rt_tokenizer **out) {
    *out = NULL;
    rt_gguf *g;
    RT_TRY(rt_gguf_open(path, &g));
    rt_tokenizer *t = NULL;
    int rc = RT_OK;
    const char *model = NULL, *pre = NULL;
    if (rt_gguf_get_str(g, "tokenizer.ggml.model", &model) != RT_OK) {
        rc = rt_error(RT_ERR_NOT_FOUND,
                      "%s: no tokenizer.ggml.model key (no tokenizer in this file)", path);
        goto done;
    }
    if (rt_gguf_get_str(g, "tokenizer.ggml.pre", &pre) != RT_OK) {
        pre = NULL;
        rt_error_clear();
    }
    const rt_gguf_value *tokens = rt_gguf_find(g, "tokenizer.ggml.tokens");
    const rt_gguf_value *types = rt_gguf_find(g, "tokenizer.ggml.token_type");
    const rt_gguf_value *scores = rt_gguf_find(g, "tokenizer.ggml.scores");
    const rt_gguf_value *merges = rt_gguf_find(g, "tokenizer.ggml.merges");
    if (!tokens || tokens->type != RT_GGUF_ARRAY || tokens->arr_type != RT_GGUF_STRING ||
        !tokens->n || tokens->n > (1u << 24)) {
        rc = rt_error(RT_ERR_FORMAT, "%s: tokenizer.ggml.tokens is not a non-empty string array",
                      path);
        goto done;
    }
    int32_t n = (int32_t)tokens->n;
    if (types && (types->type != RT_GGUF_ARRAY || types->n != tokens->n)) {
        rc = rt_error(RT_ERR_FORMAT, "%s: tokenizer.ggml.token_type has %llu entries for %d tokens",
                      path, (unsigned long long)(types ? types->n : 0), n);
        goto done;
    }
    if (scores && (scores->type != RT_GGUF_ARRAY || scores->n != tokens->n)) {
        rc = rt_error(RT_ERR_FORMAT, "%s: tokenizer.ggml.scores has the wrong length", path);
        goto done;
    }
    uint8_t *ttype = NULL;
    if (types) {
        ttype = rt_malloc((size_t)n);
        if (!ttype) {
            rc = RT_ERR_NOMEM;
            goto done;
        }
        for (int32_t i = 0; i < n; i++)
            ttype[i] = (uint8_t)rt_gguf_arr_i64(types, (uint64_t)i);
    }
    bool is_bert = !strcmp(model, "bert");
    bool is_llama = !strcmp(model, "llama");
    bool is_gpt2 = !strcmp(model, "gpt2");
    if (!is_bert && !is_llama && !is_gpt2) {
        free(ttype);
        rc = rt_error(RT_ERR_UNSUPPORTED,
                      "%s: tokenizer.ggml.model \"%s\" is not supported "
                      "(supported: gpt2, llama, bert)",
                      path, model);
        goto done;
    }
    rc = tk_tokenizer_new(is_bert    ? RT_TOKENIZER_WORDPIECE
                          : is_llama ? RT_TOKENIZER_SPM_BPE
                                     : RT_TOKENIZER_BPE,
                          &t);
    rt_strbuf tmp = {0};
    bool has_upper = false;
    for (int32_t i = 0; rc == RT_OK && i < n; i++) {
        const char *s = tokens->strs[i];
        size_t len = tokens->lens[i];
        if (is_bert) { /* llama.cpp stores "▁word" for word starts, bare continuations */
            tmp.len = 0;
            if (len >= 3 && !memcmp(s, "\xE2\x96\x81", 3)) {
                rc = rt_strbuf_append(&tmp, s + 3, len - 3);
            } else if (len && s[0] == '[' && s[len - 1] == ']') {
                rc = rt_strbuf_append(&tmp, s, len);
            } else {
                rc = rt_strbuf_append(&tmp, "##", 2);
                if (rc == RT_OK) rc = rt_strbuf_append(&tmp, s, len);
            }
            if (rc < 0) break;
            s = tmp.data;
            len = tmp.len;
            if (len && s[0] != '[')
                for (size_t k = 0; k < len; k++)
                    has_upper |= s[k] >= 'A' && s[k] <= 'Z';
        }
        rc = tk_vocab_set(&t->vocab, i, s, len, 0);
    }
    rt_strbuf_free(&tmp);
    for (int32_t i = 0; rc == RT_OK && ttype && i < n; i++) {
        /* llama.cpp matches control, user-defined and unknown tokens in text. */
        if (ttype[i] == TT_CONTROL || ttype[i] == TT_USER || ttype[i] == TT_UNKNOWN)
            rc = tk_tokenizer_add_token(t, i, tokens->strs[i], tokens->lens[i], ttype[i] != TT_USER,
                                        false, false, false, false);
    }
    if (rc < 0) {
        free(ttype);
        goto done;
    }
    int32_t *sp = t->special_ids;
    special_id(g, "tokenizer.ggml.bos_token_id", n, &sp[RT_TOKEN_BOS]);
    special_id(g, "tokenizer.ggml.eos_token_id", n, &sp[RT_TOKEN_EOS]);
    special_id(g, "tokenizer.ggml.padding_token_id", n, &sp[RT_TOKEN_PAD]);
    special_id(g, "tokenizer.ggml.unknown_token_id", n, &sp[RT_TOKEN_UNK]);
    special_id(g, "tokenizer.ggml.eot_token_id", n, &sp[RT_TOKEN_EOT]);
    if (sp[RT_TOKEN_EOT] < 0) sp[RT_TOKEN_EOT] = sp[RT_TOKEN_EOS];
    bool add_bos = is_llama || is_bert, add_eos = is_bert, flag;
    if (rt_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &flag) == RT_OK) add_bos = flag;
    if (rt_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &flag) == RT_OK) add_eos = flag;
    rt_error_clear();
    if (is_gpt2) {
        bool ignore;
        rc = byte_level_pretok(pre, path, &t->pretok, &ignore);
        t->bpe.byte_level = true;
        t->bpe.ignore_merges = ignore;
        if (rc == RT_OK) rc = json_piece("{\"type\":\"ByteLevel\"}", path, make_dec, &t->decoder);
        if (rc == RT_OK &&
            (!merges || merges->type != RT_GGUF_ARRAY || merges->arr_type != RT_GGUF_STRING))
            rc = rt_error(RT_ERR_FORMAT, "%s: gpt2 tokenizer without tokenizer.ggml.merges", path);
        rt_strbuf joined = {0};
        for (uint64_t i = 0; rc == RT_OK && i < merges->n; i++) {
            const char *m = merges->strs[i];
            const char *space = memchr(m, ' ', merges->lens[i]);
            if (!space) {
                rc = rt_error(RT_ERR_FORMAT, "%s: merge %llu is not \"a b\"", path,
                              (unsigned long long)i);
                break;
            }
            size_t al = (size_t)(space - m), bl = merges->lens[i] - al - 1;
            joined.len = 0;
            if ((rc = rt_strbuf_append(&joined, m, al)) < 0 ||
                (rc = rt_strbuf_append(&joined, space + 1, bl)) < 0)
                break;
            int32_t a = tk_vocab_find(&t->vocab, m, al),
                    b = tk_vocab_find(&t->vocab, space + 1, bl);
            int32_t c = tk_vocab_find(&t->vocab, joined.data, joined.len);
            if (a < 0 || b < 0 || c < 0) {
                rc = rt_error(RT_ERR_FORMAT, "%s: merge %llu names a token not in the vocabulary",
                              path, (unsigned long long)i);
                break;
            }
            rc = tk_bpe_add_merge(&t->bpe, a, b, c, (uint32_t)i);
        }
        rt_strbuf_free(&joined);
    } else if (is_llama) {
        bool space_prefix = true;
        if (rt_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &flag) == RT_OK)
            space_prefix = flag;
        rt_error_clear();
        t->bpe.byte_fallback = true;
        t->bpe.fuse_unk = true;
        t->bpe.unk_id = sp[RT_TOKEN_UNK];
        rc = json_piece(
            space_prefix
                ? "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":"
                  "\"\\u2581\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},"
                  "\"content\":\"\\u2581\"}]}"
                : "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\\u2581\"}",
            path, make_norm, &t->normalizer);
        if (rc == RT_OK)
            rc = json_piece(
                space_prefix
                    ? "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":"
                      "{\"String\":\"\\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},"
                      "{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,"
                      "\"stop\":0}]}"
                    : "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":"
                      "{\"String\":\"\\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},"
                      "{\"type\":\"Fuse\"}]}",
                path, make_dec, &t->decoder);
        if (rc == RT_OK) rc = spm_merges(t, scores, ttype);
    } else {
        t->wp.unk_id =
            sp[RT_TOKEN_UNK] >= 0 ? sp[RT_TOKEN_UNK] : tk_vocab_find(&t->vocab, "[UNK]", 5);
        if (t->wp.unk_id < 0)
            rc = rt_error(RT_ERR_FORMAT, "%s: bert tokenizer without an unknown token", path);
        if (rc == RT_OK) rc = tk_normalizer_bert(true, true, -1, !has_upper, &t->normalizer);
        if (rc == RT_OK) rc = tk_pretok_bert(&t->pretok);
        if (rc == RT_OK) rc = tk_decoder_wordpiece(&t->decoder);
        if (rc == RT_OK && sp[RT_TOKEN_BOS] < 0)
            sp[RT_TOKEN_BOS] = tk_vocab_find(&t->vocab, "[CLS]", 5);
        if (rc == RT_OK && sp[RT_TOKEN_EOS] < 0)
            sp[RT_TOKEN_EOS] = tk_vocab_find(&t->vocab, "[SEP]", 5);
    }
    free(ttype);
    if (rc == RT_OK && add_bos && sp[RT_TOKEN_BOS] >= 0) {
        t->post_prefix = rt_malloc(sizeof(int32_t));
        if (!t->post_prefix)
            rc = RT_ERR_NOMEM;
        else
            t->post_prefix[t->n_post_prefix++] = sp[RT_TOKEN_BOS];
    }
    if (rc == RT_OK && add_eos && sp[RT_TOKEN_EOS] >= 0) {
        t->post_suffix = rt_malloc(sizeof(int32_t));
        if (!t->post_suffix)
            rc = RT_ERR_NOMEM;
        else
            t->post_suffix[t->n_post_suffix++] = sp[RT_TOKEN_EOS];
    }
    if (rc == RT_OK) rc = tk_tokenizer_finish(t);
    const char *tmpl;
    if (rc == RT_OK && rt_gguf_get_str(g, "tokenizer.chat_template", &tmpl) == RT_OK) {
        t->chat_template_source = rt_strdup(tmpl);
        if (!t->chat_template_source)
            rc = RT_ERR_NOMEM;
        else if (rt_chat_template_detect(tmpl, &t->chat_template) != RT_OK) {
            rt_log_warn("%s: chat template not recognised; using the plain template", path);
            t->chat_template = RT_CHAT_PLAIN;
            rt_error_clear();
        }
    } else if (rc == RT_OK) {
        rt_error_clear();
    }
done:
    rt_gguf_close(g);
    if (rc < 0) {
        rt_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return RT_OK;
}
