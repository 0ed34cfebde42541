/*
 * decoder.c — decoders (see decoder.h). Each decoder maps a token list to a token list, as
 * Hugging Face's decode_chain does; the final list is concatenated.
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/decoder.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

enum {
    D_BYTE_LEVEL,
    D_METASPACE,
    D_WORDPIECE,
    D_REPLACE,
    D_BYTE_FALLBACK,
    D_FUSE,
    D_STRIP,
    D_BPE,
    D_SEQUENCE
};

struct tk_decoder {
    int type;
    char *a, *b; /* Replace pattern/content; WordPiece prefix; BPE suffix; Strip content */
    size_t a_len, b_len;
    bool cleanup;
    int prepend; /* Metaspace: strip the leading space of the first token */
    size_t start, stop;
    tk_decoder **children;
    size_t n_children;
};

int tk_strlist_push(tk_strlist *l, const char *s, size_t len) {
    RT_TRY(RT_GROW(l->offs, l->cap, l->n + 2));
    if (l->n == 0) l->offs[0] = l->text.len;
    RT_TRY(rt_strbuf_append(&l->text, s, len));
    l->offs[++l->n] = l->text.len;
    return RT_OK;
}

void tk_strlist_clear(tk_strlist *l) {
    l->n = 0;
    l->text.len = 0;
}

void tk_strlist_free(tk_strlist *l) {
    rt_strbuf_free(&l->text);
    free(l->offs);
    memset(l, 0, sizeof *l);
}

void tk_decoder_free(tk_decoder *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n_children; i++)
        tk_decoder_free(d->children[i]);
    free(d->children);
    free(d->a);
    free(d->b);
    free(d);
}

static int replace_all(const char *s, size_t len, const char *pat, size_t pat_len, const char *with,
                       size_t with_len, rt_strbuf *out) {
    size_t i = 0;
    while (pat_len && i < len) {
        const char *hit = memmem(s + i, len - i, pat, pat_len);
        if (!hit) break;
        RT_TRY(rt_strbuf_append(out, s + i, (size_t)(hit - (s + i))));
        RT_TRY(rt_strbuf_append(out, with, with_len));
        i = (size_t)(hit - s) + pat_len;
    }
    return rt_strbuf_append(out, s + i, len - i);
}

static int wordpiece_cleanup(rt_strbuf *in, rt_strbuf *tmp) {
    static const char *const pairs[][2] = {
        {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
        {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
        {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        if (!in->len || !memmem(in->data, in->len, pairs[k][0], strlen(pairs[k][0]))) continue;
        tmp->len = 0;
        RT_TRY(replace_all(in->data, in->len, pairs[k][0], strlen(pairs[k][0]), pairs[k][1],
                           strlen(pairs[k][1]), tmp));
        in->len = 0;
        RT_TRY(rt_strbuf_append(in, tmp->data, tmp->len));
    }
    return RT_OK;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* One step: in -> out. */
static int step(const tk_decoder *d, const tk_strlist *in, tk_strlist *out) {
    rt_strbuf t = {0}, tmp = {0};
    int rc = RT_OK;
    for (size_t i = 0; rc == RT_OK && i < in->n; i++) {
        const char *s = in->text.data + in->offs[i];
        size_t len = in->offs[i + 1] - in->offs[i];
        t.len = 0;
        switch (d->type) {
        case D_BYTE_LEVEL: {
            /* All characters must be in the byte alphabet, else the token is kept as is. */
            const uint8_t *u = (const uint8_t *)s;
            bool ok = true;
            for (size_t k = 0; ok && k < len;) {
                int32_t cp;
                int m = tk_utf8_decode(u + k, len - k, &cp);
                int b = tk_cp_to_byte(cp);
                if (b < 0)
                    ok = false;
                else {
                    uint8_t c = (uint8_t)b;
                    rc = rt_strbuf_append(&t, &c, 1);
                }
                k += (size_t)m;
            }
            if (!ok) {
                t.len = 0;
                rc = rt_strbuf_append(&t, s, len);
            }
            break;
        }
        case D_METASPACE:
            rc = replace_all(s, len, d->a, d->a_len, " ", 1, &t);
            if (rc == RT_OK && i == 0 && d->prepend && t.len && t.data[0] == ' ') {
                memmove(t.data, t.data + 1, t.len - 1);
                t.len--;
            }
            break;
        case D_WORDPIECE:
            if (i != 0) {
                if (len >= d->a_len && !memcmp(s, d->a, d->a_len)) {
                    s += d->a_len;
                    len -= d->a_len;
                } else {
                    rc = rt_strbuf_append(&t, " ", 1);
                }
            }
            if (rc == RT_OK) rc = rt_strbuf_append(&t, s, len);
            if (rc == RT_OK && d->cleanup) rc = wordpiece_cleanup(&t, &tmp);
            break;
        case D_REPLACE:
            rc = replace_all(s, len, d->a, d->a_len, d->b, d->b_len, &t);
            break;
        case D_BYTE_FALLBACK: {
            /* Runs of <0xXX> tokens become their bytes if valid UTF-8, else one U+FFFD each. */
            size_t j = i;
            rt_strbuf bytes = {0};
            while (rc == RT_OK && j < in->n) {
                const char *q = in->text.data + in->offs[j];
                size_t ql = in->offs[j + 1] - in->offs[j];
                int hi, lo;
                if (ql != 6 || memcmp(q, "<0x", 3) || q[5] != '>' || (hi = hexval(q[3])) < 0 ||
                    (lo = hexval(q[4])) < 0)
                    break;
                uint8_t c = (uint8_t)(hi * 16 + lo);
                rc = rt_strbuf_append(&bytes, &c, 1);
                j++;
            }
            if (rc == RT_OK && j > i) {
                if (tk_utf8_valid((const uint8_t *)bytes.data, bytes.len)) {
                    rc = tk_strlist_push(out, bytes.data, bytes.len);
                } else {
                    for (size_t k = 0; rc == RT_OK && k < j - i; k++)
                        rc = tk_strlist_push(out, "\xEF\xBF\xBD", 3);
                }
                rt_strbuf_free(&bytes);
                i = j - 1;
                continue;
            }
            rt_strbuf_free(&bytes);
            rc = rt_strbuf_append(&t, s, len);
            break;
        }
        case D_FUSE:
            rc = rt_strbuf_append(&t, s, len);
            break;
        case D_STRIP: {
            size_t b = 0, e = len;
            for (size_t k = 0; k < d->start && b + d->a_len <= e && !memcmp(s + b, d->a, d->a_len);
                 k++)
                b += d->a_len;
            for (size_t k = 0;
                 k < d->stop && e >= b + d->a_len && !memcmp(s + e - d->a_len, d->a, d->a_len); k++)
                e -= d->a_len;
            rc = rt_strbuf_append(&t, s + b, e - b);
            break;
        }
        case D_BPE:
            rc = replace_all(s, len, d->a, d->a_len, i + 1 == in->n ? "" : " ",
                             i + 1 == in->n ? 0 : 1, &t);
            break;
        }
        if (rc == RT_OK && d->type != D_FUSE)
            rc = tk_strlist_push(out, t.data ? t.data : "", t.len);
        if (rc == RT_OK && d->type == D_FUSE) {
            if (i == 0) rc = tk_strlist_push(out, "", 0);
            if (rc == RT_OK) {
                rc = rt_strbuf_append(&out->text, s, len);
                out->offs[out->n] = out->text.len;
            }
        }
    }
    rt_strbuf_free(&t);
    rt_strbuf_free(&tmp);
    return rc;
}

static int run_chain(const tk_decoder *d, tk_strlist *tokens, tk_strlist *spare) {
    if (d->type == D_SEQUENCE) {
        for (size_t i = 0; i < d->n_children; i++)
            RT_TRY(run_chain(d->children[i], tokens, spare));
        return RT_OK;
    }
    tk_strlist_clear(spare);
    RT_TRY(step(d, tokens, spare));
    tk_strlist t = *tokens;
    *tokens = *spare;
    *spare = t;
    return RT_OK;
}

int tk_decode_tokens(const tk_decoder *d, tk_strlist *tokens, rt_strbuf *out) {
    if (!d) {
        for (size_t i = 0; i < tokens->n; i++) {
            if (i) RT_TRY(rt_strbuf_append(out, " ", 1));
            RT_TRY(rt_strbuf_append(out, tokens->text.data + tokens->offs[i],
                                    tokens->offs[i + 1] - tokens->offs[i]));
        }
        return RT_OK;
    }
    tk_strlist spare = {0};
    int rc = run_chain(d, tokens, &spare);
    tk_strlist_free(&spare);
    RT_TRY(rc);
    if (tokens->n)
        RT_TRY(rt_strbuf_append(out, tokens->text.data + tokens->offs[0],
                                tokens->offs[tokens->n] - tokens->offs[0]));
    return RT_OK;
}

static int dup(const json_t *j, const char *dflt, char **out, size_t *len) {
    const char *s = json_is_string(j) ? json_string_value(j) : dflt;
    size_t n = json_is_string(j) ? json_string_length(j) : strlen(dflt);
    *out = rt_malloc(n + 1);
    if (!*out) return RT_ERR_NOMEM;
    memcpy(*out, s, n);
    (*out)[n] = 0;
    *len = n;
    return RT_OK;
}

int tk_decoder_wordpiece(tk_decoder **out) {
    tk_decoder *d = rt_calloc(1, sizeof *d);
    if (!d) return RT_ERR_NOMEM;
    d->type = D_WORDPIECE;
    d->cleanup = true;
    if (dup(NULL, "##", &d->a, &d->a_len) < 0) {
        free(d);
        return RT_ERR_NOMEM;
    }
    *out = d;
    return RT_OK;
}

int tk_decoder_from_json(const json_t *j, const char *where, tk_decoder **out) {
    *out = NULL;
    if (!j || json_is_null(j)) return RT_OK;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type)
        return rt_error(RT_ERR_FORMAT, "%s: decoder without a \"type\"", where);
    tk_decoder *d = rt_calloc(1, sizeof *d);
    if (!d) return RT_ERR_NOMEM;
    int rc = RT_OK;
    if (!strcmp(type, "ByteLevel")) {
        d->type = D_BYTE_LEVEL;
    } else if (!strcmp(type, "Metaspace")) {
        d->type = D_METASPACE;
        rc = dup(json_object_get(j, "replacement"), "\xE2\x96\x81", &d->a, &d->a_len);
        const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
        const json_t *aps = json_object_get(j, "add_prefix_space");
        d->prepend = scheme ? strcmp(scheme, "never") != 0
                            : (json_is_boolean(aps) ? json_is_true(aps) : true);
    } else if (!strcmp(type, "WordPiece")) {
        d->type = D_WORDPIECE;
        rc = dup(json_object_get(j, "prefix"), "##", &d->a, &d->a_len);
        const json_t *c = json_object_get(j, "cleanup");
        d->cleanup = json_is_boolean(c) ? json_is_true(c) : true;
    } else if (!strcmp(type, "Replace")) {
        d->type = D_REPLACE;
        const json_t *pat = json_object_get(j, "pattern");
        const json_t *str = json_object_get(pat, "String");
        if (!json_is_string(str))
            rc = rt_error(RT_ERR_UNSUPPORTED, "%s: Replace decoder supports String patterns only",
                          where);
        else
            rc = dup(str, "", &d->a, &d->a_len);
        if (rc == RT_OK) rc = dup(json_object_get(j, "content"), "", &d->b, &d->b_len);
    } else if (!strcmp(type, "ByteFallback")) {
        d->type = D_BYTE_FALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d->type = D_FUSE;
    } else if (!strcmp(type, "Strip")) {
        d->type = D_STRIP;
        rc = dup(json_object_get(j, "content"), " ", &d->a, &d->a_len);
        json_int_t st = json_integer_value(json_object_get(j, "start"));
        json_int_t sp = json_integer_value(json_object_get(j, "stop"));
        if (st < 0 || sp < 0 || st > 1 << 20 || sp > 1 << 20)
            rc = rt_error(RT_ERR_FORMAT, "%s: Strip decoder start/stop out of range", where);
        d->start = (size_t)st;
        d->stop = (size_t)sp;
    } else if (!strcmp(type, "BPEDecoder")) {
        d->type = D_BPE;
        rc = dup(json_object_get(j, "suffix"), "</w>", &d->a, &d->a_len);
    } else if (!strcmp(type, "Sequence")) {
        d->type = D_SEQUENCE;
        const json_t *arr = json_object_get(j, "decoders");
        if (!json_is_array(arr)) {
            rc = rt_error(RT_ERR_FORMAT, "%s: Sequence decoder without \"decoders\"", where);
        } else {
            size_t k = json_array_size(arr);
            d->children = rt_calloc(k ? k : 1, sizeof *d->children);
            if (!d->children) rc = RT_ERR_NOMEM;
            for (size_t i = 0; rc == RT_OK && i < k; i++) {
                rc = tk_decoder_from_json(json_array_get(arr, i), where, &d->children[i]);
                if (rc == RT_OK && !d->children[i])
                    rc = rt_error(RT_ERR_FORMAT, "%s: null inside a Sequence decoder", where);
                if (rc == RT_OK) d->n_children++;
            }
        }
    } else {
        rc = rt_error(RT_ERR_UNSUPPORTED, "%s: decoder type \"%s\" is not supported", where, type);
    }
    if (rc < 0) {
        tk_decoder_free(d);
        return rc;
    }
    *out = d;
    return RT_OK;
}
