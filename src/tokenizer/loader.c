/*
 * loader.c — builds an rt_tokenizer from files: Hugging Face tokenizer.json (BPE and
 * WordPiece models), a WordPiece vocab.txt, a model directory, plus tokenizer_config.json for
 * special tokens and the chat template. Everything read is validated: ids in range, merges
 * naming vocabulary tokens, sizes bounded; errors name the file and the problem.
 */
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENIZER_FILE ((size_t)1 << 30)
#define MAX_VOCAB ((size_t)1 << 24)

/* model.vocab ({"token": id, ...}) into t->vocab. */
static int load_vocab_object(rt_tokenizer *t, const json_t *vocab, const char *where) {
    const char *key;
    size_t key_len;
    json_t *val;
    json_object_keylen_foreach((json_t *)vocab, key, key_len, val) {
        json_int_t id = json_integer_value(val);
        if (!json_is_integer(val) || id < 0 || (size_t)id >= MAX_VOCAB)
            return rt_error(RT_ERR_FORMAT, "%s: model.vocab[\"%.40s\"] is not an id in range",
                            where, key);
        RT_TRY(tk_vocab_set(&t->vocab, (int32_t)id, key, key_len, 0));
    }
    return RT_OK;
}

static int load_bpe(rt_tokenizer *t, const json_t *model, const char *where) {
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *merges = json_object_get(model, "merges");
    if (!json_is_object(vocab))
        return rt_error(RT_ERR_FORMAT, "%s: model.vocab is not an object", where);
    if (!json_is_array(merges))
        return rt_error(RT_ERR_FORMAT, "%s: model.merges is not an array", where);
    if (json_object_size(vocab) > MAX_VOCAB)
        return rt_error(RT_ERR_RANGE, "%s: vocabulary of %zu tokens is too large", where,
                        json_object_size(vocab));
    RT_TRY(load_vocab_object(t, vocab, where));
    const json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk)) {
        t->bpe.unk_id = tk_vocab_find(&t->vocab, json_string_value(unk), json_string_length(unk));
    }
    t->bpe.byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    t->bpe.fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    t->bpe.ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    const json_t *cp = json_object_get(model, "continuing_subword_prefix");
    if (json_is_string(cp) && json_string_length(cp)) {
        free(t->bpe.cont_prefix);
        t->bpe.cont_prefix = rt_strdup(json_string_value(cp));
        if (!t->bpe.cont_prefix) return RT_ERR_NOMEM;
        t->bpe.cont_prefix_len = strlen(t->bpe.cont_prefix);
    }
    const json_t *eow = json_object_get(model, "end_of_word_suffix");
    if (json_is_string(eow) && json_string_length(eow))
        return rt_error(RT_ERR_UNSUPPORTED, "%s: BPE end_of_word_suffix is not supported", where);
    const json_t *dropout = json_object_get(model, "dropout");
    if (json_is_number(dropout) && json_number_value(dropout) > 0)
        rt_error_clear(); /* dropout only matters in training; encoding is deterministic */
    rt_strbuf joined = {0};
    int rc = RT_OK;
    size_t n = json_array_size(merges);
    for (size_t i = 0; rc == RT_OK && i < n; i++) {
        const json_t *m = json_array_get(merges, i);
        const char *a, *b;
        size_t al, bl;
        if (json_is_string(m)) {
            const char *s = json_string_value(m);
            const char *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                rc = rt_error(RT_ERR_FORMAT, "%s: merge %zu \"%.40s\" is not two tokens", where, i,
                              s);
                break;
            }
            a = s, al = (size_t)(sp - s), b = sp + 1, bl = strlen(sp + 1);
        } else if (json_is_array(m) && json_array_size(m) == 2 &&
                   json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            al = json_string_length(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            bl = json_string_length(json_array_get(m, 1));
        } else {
            rc = rt_error(RT_ERR_FORMAT, "%s: merge %zu is neither \"a b\" nor [a, b]", where, i);
            break;
        }
        int32_t ia = tk_vocab_find(&t->vocab, a, al), ib = tk_vocab_find(&t->vocab, b, bl);
        joined.len = 0;
        if ((rc = rt_strbuf_append(&joined, a, al)) < 0 ||
            (rc = rt_strbuf_append(&joined, b, bl)) < 0)
            break;
        int32_t im = tk_vocab_find(&t->vocab, joined.data, joined.len);
        if (ia < 0 || ib < 0 || im < 0) {
            rc = rt_error(RT_ERR_FORMAT,
                          "%s: merge %zu (\"%.*s\" \"%.*s\") names a token that is "
                          "not in the vocabulary",
                          where, i, (int)(al > 40 ? 40 : al), a, (int)(bl > 40 ? 40 : bl), b);
            break;
        }
        rc = tk_bpe_add_merge(&t->bpe, ia, ib, im, (uint32_t)i);
    }
    rt_strbuf_free(&joined);
    return rc;
}

static int load_wordpiece(rt_tokenizer *t, const json_t *model, const char *where) {
    const json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab))
        return rt_error(RT_ERR_FORMAT, "%s: model.vocab is not an object", where);
    if (json_object_size(vocab) > MAX_VOCAB)
        return rt_error(RT_ERR_RANGE, "%s: vocabulary too large", where);
    RT_TRY(load_vocab_object(t, vocab, where));
    const json_t *unk = json_object_get(model, "unk_token");
    const char *u = json_is_string(unk) ? json_string_value(unk) : "[UNK]";
    t->wp.unk_id = tk_vocab_find(&t->vocab, u, strlen(u));
    if (t->wp.unk_id < 0)
        return rt_error(RT_ERR_FORMAT, "%s: WordPiece unk_token \"%.40s\" is not in the vocabulary",
                        where, u);
    const json_t *p = json_object_get(model, "continuing_subword_prefix");
    if (json_is_string(p)) {
        if (json_string_length(p) >= sizeof t->wp.prefix)
            return rt_error(RT_ERR_UNSUPPORTED, "%s: continuing_subword_prefix too long", where);
        memcpy(t->wp.prefix, json_string_value(p), json_string_length(p) + 1);
        t->wp.prefix_len = json_string_length(p);
    }
    const json_t *mc = json_object_get(model, "max_input_chars_per_word");
    if (json_is_integer(mc) && json_integer_value(mc) > 0)
        t->wp.max_chars = (size_t)json_integer_value(mc);
    return RT_OK;
}

static int token_id(rt_tokenizer *t, const json_t *name, const char *where, int32_t *id) {
    if (!json_is_string(name))
        return rt_error(RT_ERR_FORMAT, "%s: post_processor token is not a string", where);
    *id = tk_vocab_find(&t->vocab, json_string_value(name), json_string_length(name));
    if (*id < 0)
        return rt_error(RT_ERR_FORMAT,
                        "%s: post_processor token \"%.40s\" is not in the vocabulary", where,
                        json_string_value(name));
    return RT_OK;
}

static int push_id(int32_t **arr, size_t *n, int32_t id) {
    int32_t *p = rt_realloc(*arr, (*n + 1) * sizeof *p);
    if (!p) return RT_ERR_NOMEM;
    p[(*n)++] = id;
    *arr = p;
    return RT_OK;
}

/* Appends an item (special id, or TK_PAIR_A / TK_PAIR_B) to the pair template. */
enum { TK_PAIR_A = -1, TK_PAIR_B = -2 };
static int pair_push(rt_tokenizer *t, int32_t id, int type_id) {
    uint8_t *types = rt_realloc(t->post_pair_type, t->n_post_pair + 1);
    if (!types) return RT_ERR_NOMEM;
    t->post_pair_type = types;
    types[t->n_post_pair] = (uint8_t)type_id;
    return push_id(&t->post_pair, &t->n_post_pair, id);
}

/* BertProcessing's pair: [CLS] A [SEP] B [SEP], types 0 0 0 1 1; RobertaProcessing's:
 * <s> A </s> </s> B </s>, all type 0 (as Hugging Face tokenizers builds them). */
static int pair_bert_like(rt_tokenizer *t, int32_t cls, int32_t sep, bool roberta) {
    t->n_post_pair = 0;
    int b = roberta ? 0 : 1;
    RT_TRY(pair_push(t, cls, 0));
    RT_TRY(pair_push(t, TK_PAIR_A, 0));
    RT_TRY(pair_push(t, sep, 0));
    if (roberta) RT_TRY(pair_push(t, sep, 0));
    RT_TRY(pair_push(t, TK_PAIR_B, b));
    return pair_push(t, sep, b);
}

/* TemplateProcessing's "pair": [{"SpecialToken": {"id", "type_id"}} | {"Sequence": {"id":
 * "A"|"B", "type_id"}}, ...]. */
static int pair_template(rt_tokenizer *t, const json_t *pair, const json_t *specials,
                         const char *where) {
    t->n_post_pair = 0;
    for (size_t i = 0; i < json_array_size(pair); i++) {
        const json_t *item = json_array_get(pair, i);
        const json_t *seq = json_object_get(item, "Sequence");
        const json_t *st = json_object_get(item, "SpecialToken");
        const json_t *body = seq ? seq : st;
        json_int_t type_id = json_integer_value(json_object_get(body, "type_id"));
        const char *name = json_string_value(json_object_get(body, "id"));
        if (!name || type_id < 0 || type_id > 255)
            return rt_error(RT_ERR_FORMAT, "%s: TemplateProcessing pair item %zu is malformed",
                            where, i);
        if (seq) {
            if (strcmp(name, "A") && strcmp(name, "B"))
                return rt_error(RT_ERR_FORMAT, "%s: TemplateProcessing pair sequence \"%.10s\"",
                                where, name);
            RT_TRY(pair_push(t, name[0] == 'A' ? TK_PAIR_A : TK_PAIR_B, (int)type_id));
            continue;
        }
        const json_t *ids = json_object_get(json_object_get(specials, name), "ids");
        if (!json_is_array(ids))
            return rt_error(RT_ERR_FORMAT, "%s: special token \"%.40s\" has no ids", where, name);
        for (size_t k = 0; k < json_array_size(ids); k++) {
            json_int_t id = json_integer_value(json_array_get(ids, k));
            if (id < 0 || id >= t->vocab.size)
                return rt_error(RT_ERR_FORMAT, "%s: special token id %lld out of range", where,
                                (long long)id);
            RT_TRY(pair_push(t, (int32_t)id, (int)type_id));
        }
    }
    return RT_OK;
}

static int load_post(rt_tokenizer *t, const json_t *j, const char *where) {
    if (!j || json_is_null(j)) return RT_OK;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) return rt_error(RT_ERR_FORMAT, "%s: post_processor without a \"type\"", where);
    if (!strcmp(type, "ByteLevel")) return RT_OK;
    if (!strcmp(type, "Sequence")) {
        const json_t *arr = json_object_get(j, "processors");
        if (!json_is_array(arr))
            return rt_error(RT_ERR_FORMAT, "%s: Sequence post_processor without \"processors\"",
                            where);
        for (size_t i = 0; i < json_array_size(arr); i++)
            RT_TRY(load_post(t, json_array_get(arr, i), where));
        return RT_OK;
    }
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        int32_t cls, sep;
        RT_TRY(token_id(t, json_array_get(json_object_get(j, "cls"), 0), where, &cls));
        RT_TRY(token_id(t, json_array_get(json_object_get(j, "sep"), 0), where, &sep));
        RT_TRY(push_id(&t->post_prefix, &t->n_post_prefix, cls));
        RT_TRY(pair_bert_like(t, cls, sep, !strcmp(type, "RobertaProcessing")));
        return push_id(&t->post_suffix, &t->n_post_suffix, sep);
    }
    if (!strcmp(type, "TemplateProcessing")) {
        const json_t *single = json_object_get(j, "single");
        const json_t *specials = json_object_get(j, "special_tokens");
        if (!json_is_array(single))
            return rt_error(RT_ERR_FORMAT, "%s: TemplateProcessing without \"single\"", where);
        const json_t *pair = json_object_get(j, "pair");
        if (json_is_array(pair)) RT_TRY(pair_template(t, pair, specials, where));
        bool after = false;
        for (size_t i = 0; i < json_array_size(single); i++) {
            const json_t *item = json_array_get(single, i);
            if (json_object_get(item, "Sequence")) {
                after = true;
                continue;
            }
            const json_t *st = json_object_get(item, "SpecialToken");
            const char *name = json_string_value(json_object_get(st, "id"));
            if (!name)
                return rt_error(
                    RT_ERR_FORMAT,
                    "%s: TemplateProcessing item %zu is neither Sequence nor SpecialToken", where,
                    i);
            const json_t *ids = json_object_get(json_object_get(specials, name), "ids");
            if (!json_is_array(ids))
                return rt_error(RT_ERR_FORMAT, "%s: special token \"%.40s\" has no ids", where,
                                name);
            for (size_t k = 0; k < json_array_size(ids); k++) {
                json_int_t id = json_integer_value(json_array_get(ids, k));
                if (id < 0 || id >= t->vocab.size)
                    return rt_error(RT_ERR_FORMAT, "%s: special token id %lld out of range", where,
                                    (long long)id);
                if (after)
                    RT_TRY(push_id(&t->post_suffix, &t->n_post_suffix, (int32_t)id));
                else
                    RT_TRY(push_id(&t->post_prefix, &t->n_post_prefix, (int32_t)id));
            }
        }
        return RT_OK;
    }
    return rt_error(RT_ERR_UNSUPPORTED, "%s: post_processor type \"%s\" is not supported", where,
                    type);
}

static const char *special_name(const json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    return json_string_value(json_object_get(v, "content"));
}

static void guess_specials(rt_tokenizer *t) {
    static const char *const bos[] = {"<|begin_of_text|>", "<s>", "<bos>", "[CLS]", NULL};
    static const char *const eos[] = {"<|end_of_text|>", "</s>",          "<eos>",
                                      "[SEP]",           "<|endoftext|>", NULL};
    static const char *const pad[] = {"<pad>", "[PAD]", "<|finetune_right_pad_id|>", NULL};
    static const char *const unk[] = {"<unk>", "[UNK]", NULL};
    static const char *const eot[] = {"<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", NULL};
    const char *const *lists[] = {bos, eos, pad, unk, eot};
    for (int k = 0; k < 5; k++) {
        if (t->special_ids[k] >= 0) continue;
        for (const char *const *p = lists[k]; *p; p++) {
            int32_t id = tk_vocab_find(&t->vocab, *p, strlen(*p));
            if (id >= 0) {
                t->special_ids[k] = id;
                break;
            }
        }
    }
    if (t->special_ids[RT_TOKEN_UNK] < 0)
        t->special_ids[RT_TOKEN_UNK] =
            t->type == RT_TOKENIZER_WORDPIECE ? t->wp.unk_id : t->bpe.unk_id;
    if (t->special_ids[RT_TOKEN_EOT] < 0)
        t->special_ids[RT_TOKEN_EOT] = t->special_ids[RT_TOKEN_EOS];
}

int tk_tokenizer_read_config(rt_tokenizer *t, const char *path) {
    if (!rt_is_file(path)) return RT_OK;
    json_error_t err;
    json_t *cfg = json_load_file(path, JSON_DECODE_INT_AS_REAL, &err);
    if (!cfg) return rt_error(RT_ERR_FORMAT, "%s: line %d: %s", path, err.line, err.text);
    static const char *const keys[] = {"bos_token", "eos_token", "pad_token", "unk_token"};
    for (int k = 0; k < 4; k++) {
        const char *name = special_name(json_object_get(cfg, keys[k]));
        if (!name) continue;
        int32_t id = tk_vocab_find(&t->vocab, name, strlen(name));
        if (id >= 0) t->special_ids[k] = id;
    }
    const json_t *lower = json_object_get(cfg, "do_lower_case");
    (void)lower; /* vocab.txt loading reads it separately */
    const json_t *tmpl = json_object_get(cfg, "chat_template");
    if (json_is_array(tmpl)) { /* [{"name": "default", "template": ...}, ...] */
        for (size_t i = 0; i < json_array_size(tmpl); i++) {
            const json_t *e = json_array_get(tmpl, i);
            const char *nm = json_string_value(json_object_get(e, "name"));
            if (nm && !strcmp(nm, "default")) tmpl = json_object_get(e, "template");
        }
    }
    int rc = RT_OK;
    if (json_is_string(tmpl)) {
        free(t->chat_template_source);
        t->chat_template_source = rt_strdup(json_string_value(tmpl));
        if (!t->chat_template_source)
            rc = RT_ERR_NOMEM;
        else if (rt_chat_template_detect(t->chat_template_source, &t->chat_template) < 0) {
            rt_log_warn("%s: chat template not recognised; using the plain template", path);
            t->chat_template = RT_CHAT_PLAIN;
            rt_error_clear();
        }
    }
    json_decref(cfg);
    /* The EOS of an instruct model's config may be its end-of-turn token; keep EOT in sync. */
    if (t->special_ids[RT_TOKEN_EOS] >= 0) {
        const char *e = tk_vocab_get(&t->vocab, t->special_ids[RT_TOKEN_EOS], NULL);
        if (e &&
            (!strcmp(e, "<|eot_id|>") || !strcmp(e, "<|im_end|>") || !strcmp(e, "<end_of_turn>")))
            t->special_ids[RT_TOKEN_EOT] = t->special_ids[RT_TOKEN_EOS];
    }
    return rc;
}

int rt_tokenizer_load_json(const char *text, size_t len, const char *name, rt_tokenizer **out) {
    if (!text || !out) return rt_error(RT_ERR_INVALID, "rt_tokenizer_load_json: NULL argument");
    *out = NULL;
    const char *where = name ? name : "tokenizer.json";
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_ALLOW_NUL, &err);
    if (!root)
        return rt_error(RT_ERR_FORMAT, "%s: line %d column %d: %s", where, err.line, err.column,
                        err.text);
    int rc = RT_OK;
    rt_tokenizer *t = NULL;
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) {
        rc = rt_error(RT_ERR_FORMAT, "%s: no \"model\" object", where);
        goto done;
    }
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type)
        type = json_object_get(model, "merges")                      ? "BPE"
               : json_object_get(model, "continuing_subword_prefix") ? "WordPiece"
                                                                     : "?";
    const json_t *pre = json_object_get(root, "pre_tokenizer");
    if (!strcmp(type, "BPE")) {
        if ((rc = tk_tokenizer_new(RT_TOKENIZER_BPE, &t)) < 0) goto done;
        if ((rc = tk_pretok_from_json(pre, where, &t->pretok)) < 0) goto done;
        t->bpe.byte_level = tk_pretok_is_byte_level(t->pretok);
        if ((rc = load_bpe(t, model, where)) < 0) goto done;
        if (!t->bpe.byte_level) t->type = RT_TOKENIZER_SPM_BPE;
    } else if (!strcmp(type, "WordPiece")) {
        if ((rc = tk_tokenizer_new(RT_TOKENIZER_WORDPIECE, &t)) < 0) goto done;
        if ((rc = tk_pretok_from_json(pre, where, &t->pretok)) < 0) goto done;
        if ((rc = load_wordpiece(t, model, where)) < 0) goto done;
    } else {
        rc = rt_error(RT_ERR_UNSUPPORTED,
                      "%s: tokenizer model type \"%s\" is not supported "
                      "(supported: BPE, WordPiece)",
                      where, type);
        goto done;
    }
    if ((rc = tk_normalizer_from_json(json_object_get(root, "normalizer"), where, &t->normalizer)) <
        0)
        goto done;
    if ((rc = tk_decoder_from_json(json_object_get(root, "decoder"), where, &t->decoder)) < 0)
        goto done;
    const json_t *added = json_object_get(root, "added_tokens");
    for (size_t i = 0; rc == RT_OK && i < json_array_size(added); i++) {
        const json_t *a = json_array_get(added, i);
        const json_t *id = json_object_get(a, "id"), *content = json_object_get(a, "content");
        if (!json_is_integer(id) || !json_is_string(content) || json_integer_value(id) < 0 ||
            (size_t)json_integer_value(id) >= MAX_VOCAB) {
            rc = rt_error(RT_ERR_FORMAT, "%s: added_tokens[%zu] needs an id in range and a content",
                          where, i);
            break;
        }
        rc = tk_tokenizer_add_token(
            t, (int32_t)json_integer_value(id), json_string_value(content),
            json_string_length(content), json_is_true(json_object_get(a, "special")),
            json_is_true(json_object_get(a, "normalized")),
            json_is_true(json_object_get(a, "lstrip")), json_is_true(json_object_get(a, "rstrip")),
            json_is_true(json_object_get(a, "single_word")));
    }
    if (rc < 0) goto done;
    if (t->vocab.size == 0) {
        rc = rt_error(RT_ERR_FORMAT, "%s: empty vocabulary", where);
        goto done;
    }
    for (int32_t i = 0; i < t->vocab.size; i++) {
        if (!t->vocab.strs[i]) {
            rc = rt_error(RT_ERR_FORMAT, "%s: id %d has no token (ids must be dense)", where, i);
            goto done;
        }
    }
    if ((rc = load_post(t, json_object_get(root, "post_processor"), where)) < 0) goto done;
    if ((rc = tk_tokenizer_finish(t)) < 0) goto done;
    guess_specials(t);
done:
    json_decref(root);
    if (rc < 0) {
        rt_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return RT_OK;
}

/* A BERT vocab.txt: one token per line, the line number is the id. */
static int load_vocab_txt(const char *path, const char *config, rt_tokenizer **out) {
    char *data;
    size_t len;
    RT_TRY(rt_file_read_all(path, MAX_TOKENIZER_FILE, &data, &len));
    rt_tokenizer *t;
    int rc = tk_tokenizer_new(RT_TOKENIZER_WORDPIECE, &t);
    if (rc < 0) {
        free(data);
        return rc;
    }
    bool has_upper = false;
    int32_t id = 0;
    size_t i = 0;
    while (rc == RT_OK && i < len) {
        size_t e = i;
        while (e < len && data[e] != '\n')
            e++;
        size_t l = e - i;
        if (l && data[i + l - 1] == '\r') l--;
        if (!tk_utf8_valid((const uint8_t *)data + i, l)) {
            rc = rt_error(RT_ERR_FORMAT, "%s: line %d is not valid UTF-8", path, id + 1);
            break;
        }
        if (l && data[i] != '[')
            for (size_t k = 0; k < l; k++)
                has_upper |= data[i + k] >= 'A' && data[i + k] <= 'Z';
        while (l && (data[i + l - 1] == ' ' || data[i + l - 1] == '\t'))
            l--;
        rc = tk_vocab_set(&t->vocab, id, data + i, l, 1); /* a repeated line: the later id wins */
        id++;
        i = e + 1;
        if ((size_t)id > MAX_VOCAB) rc = rt_error(RT_ERR_RANGE, "%s: too many lines", path);
    }
    free(data);
    bool lower = !has_upper;
    if (rc == RT_OK && config && rt_is_file(config)) {
        json_t *cfg = json_load_file(config, JSON_DECODE_INT_AS_REAL, NULL);
        const json_t *dl = json_object_get(cfg, "do_lower_case");
        if (json_is_boolean(dl)) lower = json_is_true(dl);
        json_decref(cfg);
    }
    if (rc == RT_OK) {
        t->wp.unk_id = tk_vocab_find(&t->vocab, "[UNK]", 5);
        if (t->wp.unk_id < 0) rc = rt_error(RT_ERR_FORMAT, "%s: no [UNK] token", path);
    }
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int k = 0; rc == RT_OK && k < 5; k++) {
        int32_t sid = tk_vocab_find(&t->vocab, specials[k], strlen(specials[k]));
        if (sid >= 0)
            rc = tk_tokenizer_add_token(t, sid, specials[k], strlen(specials[k]), true, false,
                                        false, false, false);
    }
    if (rc == RT_OK) rc = tk_normalizer_bert(true, true, -1, lower, &t->normalizer);
    if (rc == RT_OK) rc = tk_pretok_bert(&t->pretok);
    if (rc == RT_OK) rc = tk_decoder_wordpiece(&t->decoder);
    int32_t cls = tk_vocab_find(&t->vocab, "[CLS]", 5), sep = tk_vocab_find(&t->vocab, "[SEP]", 5);
    if (rc == RT_OK && cls >= 0 && sep >= 0) {
        rc = push_id(&t->post_prefix, &t->n_post_prefix, cls);
        if (rc == RT_OK) rc = push_id(&t->post_suffix, &t->n_post_suffix, sep);
        if (rc == RT_OK) rc = pair_bert_like(t, cls, sep, false);
    }
    if (rc == RT_OK) rc = tk_tokenizer_finish(t);
    if (rc < 0) {
        rt_tokenizer_free(t);
        return rc;
    }
    guess_specials(t);
    *out = t;
    return RT_OK;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return rt_strdup(".");
    size_t n = (size_t)(slash - path);
    char *d = rt_malloc(n + 2);
    if (!d) return NULL;
    memcpy(d, path, n ? n : 1);
    d[n ? n : 1] = 0;
    if (!n) d[0] = '/';
    return d;
}

int rt_tokenizer_load(const char *path, rt_tokenizer **out) {
    if (!path || !out) return rt_error(RT_ERR_INVALID, "rt_tokenizer_load: NULL argument");
    *out = NULL;
    if (rt_is_dir(path)) {
        char *tj = rt_path_join(path, "tokenizer.json");
        char *vt = rt_path_join(path, "vocab.txt");
        char *cfg = rt_path_join(path, "tokenizer_config.json");
        char *tg = rt_path_join(path, "tokenizer.gguf"); /* a GGUF model's vocabulary, copied */
        int rc;
        if (!tj || !vt || !cfg || !tg)
            rc = RT_ERR_NOMEM;
        else if (rt_is_file(tj))
            rc = rt_tokenizer_load(tj, out);
        else if (rt_is_file(vt))
            rc = rt_tokenizer_load(vt, out);
        else if (rt_is_file(tg))
            rc = rt_tokenizer_load(tg, out);
        else
            rc = rt_error(RT_ERR_NOT_FOUND,
                          "%s: no tokenizer.json, vocab.txt or tokenizer.gguf in this directory",
                          path);
        free(tj);
        free(vt);
        free(tg);
        free(cfg);
        return rc;
    }
    char *dir = dir_of(path);
    if (!dir) return RT_ERR_NOMEM;
    char *cfg = rt_path_join(dir, "tokenizer_config.json");
    free(dir);
    if (!cfg) return RT_ERR_NOMEM;
    int rc;
    rt_tokenizer *t = NULL;
    if (rt_path_has_suffix(path, ".gguf")) {
        rc = tk_tokenizer_load_gguf(path, &t);
        free(cfg);
        if (rc == RT_OK) *out = t;
        return rc;
    }
    if (rt_path_has_suffix(path, ".txt")) {
        rc = load_vocab_txt(path, cfg, &t);
    } else {
        char *data;
        size_t len;
        rc = rt_file_read_all(path, MAX_TOKENIZER_FILE, &data, &len);
        if (rc == RT_OK) {
            rc = rt_tokenizer_load_json(data, len, path, &t);
            free(data);
        }
    }
    if (rc == RT_OK) rc = tk_tokenizer_read_config(t, cfg);
    free(cfg);
    if (rc < 0) {
        rt_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return RT_OK;
}
