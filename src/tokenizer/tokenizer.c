/*
 * tokenizer.c — the encode/decode pipeline of rt_tokenizer, added-token matching, special
 * ids, token pieces and the streaming detokenizer. Loading lives in loader.c.
 *
 * Defined behaviour at the edges: invalid UTF-8 input is repaired (each maximal invalid
 * subsequence becomes U+FFFD) before tokenizing; empty input gives no ids (plus the
 * post-processor's specials when asked); a long single line is handled in linear memory (the
 * BPE merge loop switches to a heap for long words; WordPiece returns [UNK] beyond
 * max_input_chars_per_word, as Hugging Face does).
 */
#include "tokenizer/tokenizer.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- construction helpers ------------------------------------------------------------------ */

int tk_tokenizer_new(rt_tokenizer_type type, rt_tokenizer **out) {
    rt_tokenizer *t = rt_calloc(1, sizeof *t);
    if (!t) return RT_ERR_NOMEM;
    t->type = type;
    int rc = tk_bpe_init(&t->bpe);
    if (rc < 0) {
        free(t);
        return rc;
    }
    t->wp.unk_id = -1;
    t->wp.max_chars = 100;
    memcpy(t->wp.prefix, "##", 3);
    t->wp.prefix_len = 2;
    for (int i = 0; i < 5; i++)
        t->special_ids[i] = -1;
    *out = t;
    return RT_OK;
}

void rt_tokenizer_free(rt_tokenizer *tok) {
    if (!tok) return;
    tk_vocab_free(&tok->vocab);
    tk_bpe_free(&tok->bpe);
    tk_normalizer_free(tok->normalizer);
    tk_pretok_free(tok->pretok);
    tk_decoder_free(tok->decoder);
    for (size_t i = 0; i < tok->n_added; i++)
        free(tok->added[i].content);
    free(tok->added);
    tk_vocab_free(&tok->added_map[0]);
    tk_vocab_free(&tok->added_map[1]);
    free(tok->is_special);
    free(tok->post_prefix);
    free(tok->post_suffix);
    free(tok->post_pair);
    free(tok->post_pair_type);
    free(tok->chat_template_source);
    free(tok);
}

int tk_tokenizer_add_token(rt_tokenizer *tok, int32_t id, const char *content, size_t len,
                           bool special, bool normalized, bool lstrip, bool rstrip,
                           bool single_word) {
    if (len == 0) return rt_error(RT_ERR_FORMAT, "added token %d has empty content", id);
    if (id < 0) return rt_error(RT_ERR_FORMAT, "added token has a negative id %d", id);
    RT_TRY(RT_GROW(tok->added, tok->cap_added, tok->n_added + 1));
    tk_added *a = &tok->added[tok->n_added];
    memset(a, 0, sizeof *a);
    a->content = rt_malloc(len + 1);
    if (!a->content) return RT_ERR_NOMEM;
    memcpy(a->content, content, len);
    a->content[len] = 0;
    a->len = len;
    a->id = id;
    a->special = special;
    a->normalized = normalized;
    a->lstrip = lstrip;
    a->rstrip = rstrip;
    a->single_word = single_word;
    tok->n_added++;
    return tk_vocab_set(&tok->vocab, id, content, len, 1);
}

int tk_tokenizer_finish(rt_tokenizer *tok) {
    for (int k = 0; k < 2; k++) {
        tk_vocab_free(&tok->added_map[k]);
        memset(tok->added_first[k], 0, 256);
        tok->n_added_lens[k] = 0;
    }
    rt_strbuf norm = {0};
    for (size_t i = 0; i < tok->n_added; i++) {
        tk_added *a = &tok->added[i];
        /* As in Hugging Face: tokens flagged normalized are matched in the normalized text,
         * in their normalized form; the others in the raw text. */
        int k = a->normalized ? 1 : 0;
        const char *content = a->content;
        size_t len = a->len;
        if (k == 1 && tok->normalizer) {
            int rc = tk_normalize(tok->normalizer, a->content, a->len, &norm);
            if (rc < 0) {
                rt_strbuf_free(&norm);
                return rc;
            }
            if (norm.len == 0) continue;
            content = norm.data;
            len = norm.len;
        }
        int rc = tk_vocab_set(&tok->added_map[k], (int32_t)i, content, len, 1);
        if (rc < 0) {
            rt_strbuf_free(&norm);
            return rc;
        }
        tok->added_first[k][(uint8_t)content[0]] = 1;
        bool seen = false;
        for (size_t j = 0; j < tok->n_added_lens[k]; j++)
            seen |= tok->added_lens[k][j] == len;
        if (!seen) {
            if (tok->n_added_lens[k] == 64) {
                rt_strbuf_free(&norm);
                return rt_error(RT_ERR_UNSUPPORTED, "more than 64 distinct added-token lengths");
            }
            tok->added_lens[k][tok->n_added_lens[k]++] = (uint32_t)len;
        }
    }
    rt_strbuf_free(&norm);
    for (int k = 0; k < 2; k++) { /* longest first */
        uint32_t *l = tok->added_lens[k];
        for (size_t i = 1; i < tok->n_added_lens[k]; i++)
            for (size_t j = i; j > 0 && l[j] > l[j - 1]; j--) {
                uint32_t t = l[j];
                l[j] = l[j - 1];
                l[j - 1] = t;
            }
    }
    free(tok->is_special);
    tok->is_special = rt_calloc((size_t)(tok->vocab.size ? tok->vocab.size : 1), 1);
    if (!tok->is_special) return RT_ERR_NOMEM;
    for (size_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].special) tok->is_special[tok->added[i].id] = 1;
    if (tok->type != RT_TOKENIZER_WORDPIECE) RT_TRY(tk_bpe_finish(&tok->bpe, &tok->vocab));
    return RT_OK;
}

/* ---- encoding ---------------------------------------------------------------------------- */

/* Working memory of one thread's encode calls, kept between calls (one per thread, freed at
 * thread exit), so short texts do not pay for allocating regex and merge buffers each time. */
typedef struct enc_scratch {
    tk_bpe_scratch bs;
    rt_strbuf wp_scratch;
    tk_pretok_scratch *ps;
    rt_strbuf norm, norm_tmp;
} enc_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *p) {
    enc_scratch *s = p;
    if (!s) return;
    tk_bpe_scratch_free(&s->bs);
    rt_strbuf_free(&s->wp_scratch);
    rt_strbuf_free(&s->norm);
    rt_strbuf_free(&s->norm_tmp);
    tk_pretok_scratch_free(s->ps);
    free(s);
}

static void scratch_key_init(void) {
    pthread_key_create(&scratch_key, scratch_destroy);
}

/* This thread's scratch, or NULL (out of memory). Large buffers are released after use so a
 * 10 MB text does not pin memory for the life of the thread. */
static enc_scratch *scratch_get(void) {
    pthread_once(&scratch_once, scratch_key_init);
    enc_scratch *s = pthread_getspecific(scratch_key);
    if (s) return s;
    s = rt_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ps = tk_pretok_scratch_new();
    if (!s->ps || pthread_setspecific(scratch_key, s) != 0) {
        scratch_destroy(s);
        rt_error(RT_ERR_NOMEM, "tokenizer: out of memory");
        return NULL;
    }
    return s;
}

static void scratch_trim(enc_scratch *s, size_t text_len) {
    if (text_len > (1u << 20)) { /* segment lists and buffers grew with the text: drop all */
        pthread_setspecific(scratch_key, NULL);
        scratch_destroy(s);
        return;
    }
    if (s->bs.cap > (1u << 16) || s->bs.heap_cap > (1u << 16) || s->bs.str.cap > (1u << 20))
        tk_bpe_scratch_free(&s->bs);
}

typedef struct enc_ctx {
    rt_tokenizer *tok;
    tk_bpe_scratch *bs;
    rt_strbuf *wp_scratch;
    tk_pretok_scratch *ps;
    rt_strbuf *norm, *norm_tmp;
    tk_ids *out;
    bool use_cache;
} enc_ctx;

static int on_word(const char *w, size_t len, void *user) {
    enc_ctx *c = user;
    rt_tokenizer *t = c->tok;
    if (t->type == RT_TOKENIZER_WORDPIECE)
        return tk_wordpiece_encode_word(&t->wp, &t->vocab, c->wp_scratch, w, len, c->out);
    return tk_bpe_encode_word(&t->bpe, &t->vocab, c->bs, w, len, c->use_cache, c->out);
}

static bool is_word_cp(int32_t cp) {
    if (cp == '_') return true;
    int cat = utf8proc_category(cp);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO);
}

/* Finds the leftmost-longest added token of set k in s[from..len). Returns true and the
 * token's index and its [b, e) span (widened by lstrip/rstrip). */
static bool find_added(const rt_tokenizer *t, int k, const char *s, size_t len, size_t from,
                       size_t *b, size_t *e, size_t *idx) {
    const uint8_t *u = (const uint8_t *)s;
    for (size_t p = from; p < len; p++) {
        if (!t->added_first[k][u[p]]) continue;
        for (size_t j = 0; j < t->n_added_lens[k]; j++) {
            size_t l = t->added_lens[k][j];
            if (l > len - p) continue;
            int32_t i = tk_vocab_find(&t->added_map[k], s + p, l);
            if (i < 0) continue;
            const tk_added *a = &t->added[i];
            size_t mb = p, me = p + l;
            if (a->single_word) {
                int32_t cp = -1;
                if (mb > 0) {
                    size_t q = mb - 1;
                    while (q > 0 && (u[q] & 0xC0) == 0x80)
                        q--;
                    tk_utf8_decode(u + q, len - q, &cp);
                    if (cp >= 0 && is_word_cp(cp)) continue;
                }
                if (me < len) {
                    tk_utf8_decode(u + me, len - me, &cp);
                    if (cp >= 0 && is_word_cp(cp)) continue;
                }
            }
            if (a->lstrip) {
                while (mb > from) {
                    size_t q = mb - 1;
                    while (q > from && (u[q] & 0xC0) == 0x80)
                        q--;
                    int32_t cp;
                    tk_utf8_decode(u + q, len - q, &cp);
                    if (!tk_is_whitespace(cp)) break;
                    mb = q;
                }
            }
            if (a->rstrip) {
                while (me < len) {
                    int32_t cp;
                    int m = tk_utf8_decode(u + me, len - me, &cp);
                    if (!tk_is_whitespace(cp)) break;
                    me += (size_t)m;
                }
            }
            *b = mb;
            *e = me;
            *idx = (size_t)i;
            return true;
        }
    }
    return false;
}

/* Normalized text: split on normalized added tokens, pre-tokenize the rest. */
static int encode_normalized(enc_ctx *c, const char *s, size_t len, bool at_start) {
    rt_tokenizer *t = c->tok;
    size_t pos = 0;
    while (t->n_added_lens[1] && pos < len) {
        size_t b, e, idx;
        if (!find_added(t, 1, s, len, pos, &b, &e, &idx)) break;
        RT_TRY(
            tk_pretokenize(t->pretok, c->ps, s + pos, b - pos, at_start && pos == 0, on_word, c));
        RT_TRY(tk_ids_push(c->out, t->added[idx].id));
        pos = e;
    }
    return tk_pretokenize(t->pretok, c->ps, s + pos, len - pos, at_start && pos == 0, on_word, c);
}

static int encode_segment(enc_ctx *c, const char *s, size_t len, bool at_start) {
    if (len == 0) return RT_OK;
    rt_tokenizer *t = c->tok;
    if (!t->normalizer) return encode_normalized(c, s, len, at_start);
    RT_TRY(tk_normalize_with(t->normalizer, s, len, c->norm, c->norm_tmp));
    return encode_normalized(c, c->norm->data, c->norm->len, at_start);
}

static int encode_text(enc_ctx *c, const char *s, size_t len) {
    rt_tokenizer *t = c->tok;
    size_t pos = 0;
    while (t->n_added_lens[0] && pos < len) {
        size_t b, e, idx;
        if (!find_added(t, 0, s, len, pos, &b, &e, &idx)) break;
        RT_TRY(encode_segment(c, s + pos, b - pos, pos == 0));
        RT_TRY(tk_ids_push(c->out, t->added[idx].id));
        pos = e;
    }
    return encode_segment(c, s + pos, len - pos, pos == 0);
}

int rt_tokenizer_encode(const rt_tokenizer *tok, const char *text, size_t len, bool add_special,
                        int32_t **ids, size_t *n_ids) {
    if (!tok || !ids || !n_ids || (!text && len))
        return rt_error(RT_ERR_INVALID, "rt_tokenizer_encode: NULL argument");
    *ids = NULL;
    *n_ids = 0;
    rt_tokenizer *t = (rt_tokenizer *)tok; /* only the word cache changes, under its lock */
    tk_ids out = {0};
    rt_strbuf fixed = {0};
    enc_ctx c = {.tok = t, .out = &out};
    enc_scratch *sc = NULL;
    int rc = RT_OK;
    if (!text) text = "";
    if (!tk_utf8_valid((const uint8_t *)text, len)) {
        if ((rc = tk_utf8_repair((const uint8_t *)text, len, &fixed)) < 0) goto done;
        text = fixed.data;
        len = fixed.len;
    }
    sc = scratch_get();
    if (!sc) {
        rc = RT_ERR_NOMEM;
        goto done;
    }
    c.bs = &sc->bs;
    c.wp_scratch = &sc->wp_scratch;
    c.ps = sc->ps;
    c.norm = &sc->norm;
    c.norm_tmp = &sc->norm_tmp;
    if ((rc = tk_ids_reserve(&out, len / 3 + 8)) < 0) goto done;
    if (add_special)
        for (size_t i = 0; rc == RT_OK && i < t->n_post_prefix; i++)
            rc = tk_ids_push(&out, t->post_prefix[i]);
    if (rc < 0) goto done;
    c.use_cache =
        t->type != RT_TOKENIZER_WORDPIECE && pthread_mutex_trylock(&t->bpe.cache_lock) == 0;
    rc = encode_text(&c, text, len);
    if (c.use_cache) pthread_mutex_unlock(&t->bpe.cache_lock);
    if (rc < 0) goto done;
    if (add_special)
        for (size_t i = 0; rc == RT_OK && i < t->n_post_suffix; i++)
            rc = tk_ids_push(&out, t->post_suffix[i]);
done:
    if (sc) scratch_trim(sc, len);
    rt_strbuf_free(&fixed);
    if (rc < 0) {
        tk_ids_free(&out);
        return rc;
    }
    if (!out.data) out.data = rt_malloc(sizeof(int32_t));
    if (!out.data) return RT_ERR_NOMEM;
    *ids = out.data;
    *n_ids = out.len;
    return RT_OK;
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* Decodes ids into raw bytes (not repaired) appended to out. */
static int decode_raw(const rt_tokenizer *t, const int32_t *ids, size_t n, bool skip_special,
                      tk_strlist *tokens, rt_strbuf *out) {
    tk_strlist_clear(tokens);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = tk_vocab_get(&t->vocab, ids[i], &len);
        if (!s)
            return rt_error(RT_ERR_INVALID, "decode: token id %d out of range (n_vocab %d)", ids[i],
                            t->vocab.size);
        if (skip_special && t->is_special[ids[i]]) continue;
        RT_TRY(tk_strlist_push(tokens, s, len));
    }
    return tk_decode_tokens(t->decoder, tokens, out);
}

int rt_tokenizer_decode(const rt_tokenizer *tok, const int32_t *ids, size_t n_ids,
                        bool skip_special, char **text, size_t *len) {
    if (!tok || !text || (!ids && n_ids))
        return rt_error(RT_ERR_INVALID, "rt_tokenizer_decode: NULL argument");
    tk_strlist tokens = {0};
    rt_strbuf raw = {0}, fixed = {0};
    int rc = decode_raw(tok, ids, n_ids, skip_special, &tokens, &raw);
    if (rc == RT_OK)
        rc = tk_utf8_repair((const uint8_t *)(raw.data ? raw.data : ""), raw.len, &fixed);
    if (rc == RT_OK && !fixed.data) rc = rt_strbuf_reserve(&fixed, 0);
    tk_strlist_free(&tokens);
    rt_strbuf_free(&raw);
    if (rc < 0) {
        rt_strbuf_free(&fixed);
        return rc;
    }
    fixed.data[fixed.len] = 0;
    *text = fixed.data;
    if (len) *len = fixed.len;
    return RT_OK;
}

/* ---- small accessors --------------------------------------------------------------------- */

rt_tokenizer_type rt_tokenizer_get_type(const rt_tokenizer *tok) {
    return tok->type;
}

size_t rt_tokenizer_n_vocab(const rt_tokenizer *tok) {
    return (size_t)tok->vocab.size;
}

const char *rt_tokenizer_id_to_token(const rt_tokenizer *tok, int32_t id) {
    return tk_vocab_get(&tok->vocab, id, NULL);
}

int32_t rt_tokenizer_token_to_id(const rt_tokenizer *tok, const char *token) {
    if (!token) return -1;
    return tk_vocab_find(&tok->vocab, token, strlen(token));
}

bool rt_tokenizer_is_special(const rt_tokenizer *tok, int32_t id) {
    return id >= 0 && id < tok->vocab.size && tok->is_special[id];
}

int32_t rt_tokenizer_special_id(const rt_tokenizer *tok, rt_special_token which) {
    if ((int)which < 0 || (int)which > RT_TOKEN_EOT) return -1;
    return tok->special_ids[which];
}

int rt_tokenizer_token_to_piece(const rt_tokenizer *tok, int32_t id, char *buf, size_t cap) {
    size_t len;
    const char *s = tk_vocab_get(&tok->vocab, id, &len);
    if (!s) return rt_error(RT_ERR_INVALID, "token id %d out of range", id);
    rt_strbuf out = {0};
    int rc = RT_OK;
    if (id < tok->vocab.size && tok->is_special[id]) {
        rc = rt_strbuf_append(&out, s, len);
    } else if (tok->type == RT_TOKENIZER_BPE) {
        const uint8_t *u = (const uint8_t *)s;
        for (size_t k = 0; rc == RT_OK && k < len;) {
            int32_t cp;
            int m = tk_utf8_decode(u + k, len - k, &cp);
            int b = tk_cp_to_byte(cp);
            if (b >= 0) {
                uint8_t c = (uint8_t)b;
                rc = rt_strbuf_append(&out, &c, 1);
            } else {
                rc = rt_strbuf_append(&out, u + k, (size_t)m);
            }
            k += (size_t)m;
        }
    } else if (tok->type == RT_TOKENIZER_SPM_BPE) {
        unsigned hexv;
        if (len == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && sscanf(s + 3, "%2x", &hexv) == 1) {
            uint8_t c = (uint8_t)hexv;
            rc = rt_strbuf_append(&out, &c, 1);
        } else {
            for (size_t k = 0; rc == RT_OK && k < len;) {
                if (k + 3 <= len && !memcmp(s + k, "\xE2\x96\x81", 3)) {
                    rc = rt_strbuf_append(&out, " ", 1);
                    k += 3;
                } else {
                    rc = rt_strbuf_append(&out, s + k, 1);
                    k++;
                }
            }
        }
    } else {
        if (len >= tok->wp.prefix_len && !memcmp(s, tok->wp.prefix, tok->wp.prefix_len))
            rc = rt_strbuf_append(&out, s + tok->wp.prefix_len, len - tok->wp.prefix_len);
        else
            rc = rt_strbuf_append(&out, s, len);
    }
    if (rc < 0) {
        rt_strbuf_free(&out);
        return rc;
    }
    if (buf && cap) memcpy(buf, out.data, out.len < cap ? out.len : cap);
    int n = (int)out.len;
    rt_strbuf_free(&out);
    return n;
}

/* ---- streaming decoder ------------------------------------------------------------------ */

/* Follows Hugging Face's DecodeStream: the window holds the ids of the last emitted chunk (as
 * context: byte-fallback runs and leading-space rules depend on neighbours) plus the ids not
 * yet emitted. New text is emitted only when the window decodes to complete characters that do
 * not end in U+FFFD (which may be an unfinished <0xXX> run). */
struct rt_detokenizer {
    const rt_tokenizer *tok;
    bool skip_special;
    tk_ids window;    /* context ids, then pending ids */
    size_t n_context; /* leading ids of window already emitted */
    size_t emitted;   /* bytes of decode_raw(window[0..n_context]) */
    tk_strlist tokens;
    rt_strbuf raw;
    rt_strbuf out;
};

int rt_detokenizer_new(const rt_tokenizer *tok, bool skip_special, rt_detokenizer **out) {
    if (!tok || !out) return rt_error(RT_ERR_INVALID, "rt_detokenizer_new: NULL argument");
    rt_detokenizer *d = rt_calloc(1, sizeof *d);
    if (!d) return RT_ERR_NOMEM;
    d->tok = tok;
    d->skip_special = skip_special;
    *out = d;
    return RT_OK;
}

int rt_detokenizer_push(rt_detokenizer *d, int32_t id, const char **text, size_t *len) {
    if (id < 0 || id >= d->tok->vocab.size || !tk_vocab_get(&d->tok->vocab, id, NULL))
        return rt_error(RT_ERR_INVALID, "detokenizer: token id %d out of range", id);
    RT_TRY(tk_ids_push(&d->window, id));
    d->raw.len = 0;
    RT_TRY(decode_raw(d->tok, d->window.data, d->window.len, d->skip_special, &d->tokens, &d->raw));
    d->out.len = 0;
    RT_TRY(rt_strbuf_reserve(&d->out, 0));
    const uint8_t *r = (const uint8_t *)d->raw.data;
    bool ready = d->raw.len > d->emitted && tk_utf8_complete_prefix(r, d->raw.len) == d->raw.len &&
                 !(d->raw.len >= 3 && !memcmp(r + d->raw.len - 3, "\xEF\xBF\xBD", 3));
    if (ready) {
        RT_TRY(tk_utf8_repair(r + d->emitted, d->raw.len - d->emitted, &d->out));
        /* The ids just emitted become the context; older context is dropped. */
        size_t keep = d->window.len - d->n_context;
        memmove(d->window.data, d->window.data + d->n_context, keep * sizeof(int32_t));
        d->window.len = keep;
        d->n_context = keep;
        d->raw.len = 0;
        RT_TRY(decode_raw(d->tok, d->window.data, keep, d->skip_special, &d->tokens, &d->raw));
        d->emitted = d->raw.len;
    }
    *text = d->out.data;
    *len = d->out.len;
    return RT_OK;
}

int rt_detokenizer_flush(rt_detokenizer *d, const char **text, size_t *len) {
    d->out.len = 0;
    RT_TRY(rt_strbuf_reserve(&d->out, 0));
    d->raw.len = 0;
    RT_TRY(decode_raw(d->tok, d->window.data, d->window.len, d->skip_special, &d->tokens, &d->raw));
    if (d->raw.len > d->emitted)
        RT_TRY(tk_utf8_repair((const uint8_t *)d->raw.data + d->emitted, d->raw.len - d->emitted,
                              &d->out));
    d->window.len = 0;
    d->n_context = 0;
    d->raw.len = 0;
    d->emitted = 0;
    *text = d->out.data;
    *len = d->out.len;
    return RT_OK;
}

void rt_detokenizer_free(rt_detokenizer *d) {
    if (!d) return;
    tk_ids_free(&d->window);
    tk_strlist_free(&d->tokens);
    rt_strbuf_free(&d->raw);
    rt_strbuf_free(&d->out);
    free(d);
}

/* Hugging Face tokenizers' "longest_first" truncation of a pair to budget tokens: the shorter
 * keeps its length when the longer can take the rest, else both get half (the odd one to the
 * second). */
static void truncate_pair(size_t *na, size_t *nb, size_t budget) {
    if (*na + *nb <= budget) return;
    size_t n1 = *na, n2 = *nb;
    bool swap = n1 > n2;
    if (swap) {
        size_t t = n1;
        n1 = n2;
        n2 = t;
    }
    n2 = n1 > budget ? n1 : (n1 > budget - n1 ? n1 : budget - n1);
    if (n1 + n2 > budget) {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
    }
    if (swap) {
        size_t t = n1;
        n1 = n2;
        n2 = t;
    }
    if (n1 < *na) *na = n1;
    if (n2 < *nb) *nb = n2;
}

int rt_tokenizer_encode_pair(const rt_tokenizer *tok, const char *a, size_t a_len, const char *b,
                             size_t b_len, size_t max_len, int32_t **ids, int32_t **type_ids,
                             size_t *n_ids) {
    if (!tok || !ids || !type_ids || !n_ids || (!a && a_len) || (!b && b_len))
        return rt_error(RT_ERR_INVALID, "rt_tokenizer_encode_pair: NULL argument");
    *ids = NULL;
    *type_ids = NULL;
    *n_ids = 0;
    if (!tok->n_post_pair)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "tokenizer: its post-processor has no template for a pair of texts");
    size_t n_special = 0;
    for (size_t i = 0; i < tok->n_post_pair; i++)
        n_special += tok->post_pair[i] >= 0;
    if (max_len && max_len <= n_special)
        return rt_error(RT_ERR_RANGE, "tokenizer: a pair needs more than %zu tokens", max_len);
    int32_t *ia = NULL, *ib = NULL;
    size_t na = 0, nb = 0;
    int rc = rt_tokenizer_encode(tok, a ? a : "", a_len, false, &ia, &na);
    if (rc == RT_OK) rc = rt_tokenizer_encode(tok, b ? b : "", b_len, false, &ib, &nb);
    if (rc == RT_OK && max_len) truncate_pair(&na, &nb, max_len - n_special);
    size_t n = n_special + na + nb;
    int32_t *out = NULL, *types = NULL;
    if (rc == RT_OK) {
        out = rt_malloc(n * sizeof *out);
        types = rt_malloc(n * sizeof *types);
        if (!out || !types) rc = RT_ERR_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; rc == RT_OK && i < tok->n_post_pair; i++) {
        int32_t item = tok->post_pair[i];
        const int32_t *src = item == -1 ? ia : item == -2 ? ib : &tok->post_pair[i];
        size_t count = item == -1 ? na : item == -2 ? nb : 1;
        for (size_t j = 0; j < count; j++, k++) {
            out[k] = src[j];
            types[k] = tok->post_pair_type[i];
        }
    }
    free(ia);
    free(ib);
    if (rc < 0) {
        free(out);
        free(types);
        return rc;
    }
    *ids = out;
    *type_ids = types;
    *n_ids = n;
    return RT_OK;
}
