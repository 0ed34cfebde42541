/*
 * normalizer.c — normalizers (see normalizer.h). Each works string to string; a Sequence
 * ping-pongs between two buffers.
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/normalizer.h"

#include "core/error.h"
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum {
    NORM_NFC,
    NORM_NFD,
    NORM_NFKC,
    NORM_NFKD,
    NORM_LOWERCASE,
    NORM_BERT,
    NORM_STRIP_ACCENTS,
    NORM_STRIP,
    NORM_PREPEND,
    NORM_REPLACE,
    NORM_SEQUENCE,
};

struct tk_normalizer {
    int type;
    bool clean_text, chinese, lowercase, left, right;
    int strip_accents;
    char *a; /* Prepend text / Replace literal pattern */
    size_t a_len;
    char *b; /* Replace content */
    size_t b_len;
    pcre2_code *re; /* Replace regex */
    tk_normalizer **children;
    size_t n_children;
};

bool tk_is_whitespace(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

bool tk_is_punctuation(int32_t c) {
    if (c < 0x80)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    int cat = utf8proc_category(c);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool tk_is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool tk_is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    int cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_CN || cat >= UTF8PROC_CATEGORY_CC;
}

static bool is_cased(int32_t c) {
    int cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
           cat == UTF8PROC_CATEGORY_LT || utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
}

static bool is_case_ignorable(int32_t c) {
    if (c == '\'' || c == '.' || c == ':' || c == '^' || c == '`' || c == 0xB7 || c == 0x2018 ||
        c == 0x2019 || c == 0x2024 || c == 0xFE13 || c == 0xFE52 || c == 0xFE55 || c == 0xFF07 ||
        c == 0xFF0E || c == 0xFF1A || c == 0x387 || c == 0x55F || c == 0x5F4 || c == 0x2027 ||
        c == 0xAD)
        return true;
    int cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME ||
           cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_LM ||
           cat == UTF8PROC_CATEGORY_SK;
}

void tk_normalizer_free(tk_normalizer *n) {
    if (!n) return;
    for (size_t i = 0; i < n->n_children; i++)
        tk_normalizer_free(n->children[i]);
    free(n->children);
    free(n->a);
    free(n->b);
    if (n->re) pcre2_code_free(n->re);
    free(n);
}

static bool all_ascii(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

static int unicode_form(const char *s, size_t len, int options, rt_strbuf *out) {
    if (all_ascii(s, len)) return rt_strbuf_append(out, s, len);
    utf8proc_uint8_t *dest = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dest,
                                      (utf8proc_option_t)(options | UTF8PROC_STABLE));
    if (n < 0) return rt_error(RT_ERR_INVALID, "normalizer: %s", utf8proc_errmsg(n));
    int rc = rt_strbuf_append(out, dest, (size_t)n);
    free(dest);
    return rc;
}

/* Rust's str::to_lowercase. */
static int lowercase(const char *s, size_t len, rt_strbuf *out) {
    RT_TRY(rt_strbuf_reserve(out, len));
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            char c = (char)u[i];
            if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
            RT_TRY(rt_strbuf_append(out, &c, 1));
            i++;
            continue;
        }
        int32_t cp;
        int n = tk_utf8_decode(u + i, len - i, &cp);
        if (cp == 0x130) {
            RT_TRY(rt_strbuf_append(out, "i\xCC\x87", 3));
        } else if (cp == 0x3A3) {
            /* Final sigma: preceded by a cased letter and not followed by one (skipping
             * case-ignorable characters on both sides). */
            bool before = false, after = false;
            size_t j = i;
            while (j > 0) {
                size_t k = j - 1;
                while (k > 0 && (u[k] & 0xC0) == 0x80)
                    k--;
                int32_t pc;
                tk_utf8_decode(u + k, len - k, &pc);
                j = k;
                if (is_case_ignorable(pc)) continue;
                before = is_cased(pc);
                break;
            }
            for (size_t k = i + (size_t)n; k < len;) {
                int32_t nc;
                int m = tk_utf8_decode(u + k, len - k, &nc);
                k += (size_t)m;
                if (is_case_ignorable(nc)) continue;
                after = is_cased(nc);
                break;
            }
            RT_TRY(tk_append_cp(out, before && !after ? 0x3C2 : 0x3C3));
        } else {
            RT_TRY(tk_append_cp(out, utf8proc_tolower(cp)));
        }
        i += (size_t)n;
    }
    return RT_OK;
}

/* Drops combining marks: BERT drops nonspacing marks (Mn) only, the StripAccents normalizer
 * every mark (Mn, Mc, Me), as Hugging Face's two implementations do. */
static int strip_marks(const char *s, size_t len, bool all_marks, rt_strbuf *out) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        int n = tk_utf8_decode(u + i, len - i, &cp);
        int cat = cp < 0x300 ? UTF8PROC_CATEGORY_CN : utf8proc_category(cp);
        bool mark = all_marks ? (cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME)
                              : cat == UTF8PROC_CATEGORY_MN;
        if (!mark) RT_TRY(rt_strbuf_append(out, u + i, (size_t)n));
        i += (size_t)n;
    }
    return RT_OK;
}

static int bert(const tk_normalizer *n, const char *s, size_t len, rt_strbuf *out) {
    if (all_ascii(s, len)) {
        /* One pass, no temporary buffers: accents and CJK cannot occur. */
        RT_TRY(rt_strbuf_reserve(out, len));
        char *o = out->data + out->len;
        for (size_t i = 0; i < len; i++) {
            char c = s[i];
            if (n->clean_text) {
                /* Control characters (Cc) go, except \t \n \r, which become spaces. */
                if (c == 0x7f || (c < 0x20 && c != '\t' && c != '\n' && c != '\r')) continue;
                if (c == '\t' || c == '\n' || c == '\r') c = ' ';
            }
            if (n->lowercase && c >= 'A' && c <= 'Z') c = (char)(c + 32);
            *o++ = c;
        }
        out->len = (size_t)(o - out->data);
        out->data[out->len] = 0;
        return RT_OK;
    }
    rt_strbuf a = {0}, b = {0};
    int rc = RT_OK;
    const uint8_t *u = (const uint8_t *)s;
    /* clean_text and CJK spacing in one pass. */
    if ((rc = rt_strbuf_reserve(&a, len)) < 0) goto done;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        int m = tk_utf8_decode(u + i, len - i, &cp);
        if (n->clean_text) {
            if (cp == 0 || cp == 0xFFFD || tk_is_control(cp)) {
                i += (size_t)m;
                continue;
            }
            if (tk_is_whitespace(cp)) {
                if ((rc = rt_strbuf_append(&a, " ", 1)) < 0) goto done;
                i += (size_t)m;
                continue;
            }
        }
        if (n->chinese && tk_is_cjk(cp)) {
            if ((rc = rt_strbuf_append(&a, " ", 1)) < 0) goto done;
            if ((rc = rt_strbuf_append(&a, u + i, (size_t)m)) < 0) goto done;
            if ((rc = rt_strbuf_append(&a, " ", 1)) < 0) goto done;
        } else if ((rc = rt_strbuf_append(&a, u + i, (size_t)m)) < 0) {
            goto done;
        }
        i += (size_t)m;
    }
    bool strip = n->strip_accents < 0 ? n->lowercase : n->strip_accents;
    if (strip) {
        if ((rc = unicode_form(a.data ? a.data : "", a.len, UTF8PROC_DECOMPOSE, &b)) < 0) goto done;
        a.len = 0;
        if ((rc = strip_marks(b.data ? b.data : "", b.len, false, &a)) < 0) goto done;
    }
    if (n->lowercase)
        rc = lowercase(a.data ? a.data : "", a.len, out);
    else
        rc = rt_strbuf_append(out, a.data ? a.data : "", a.len);
done:
    rt_strbuf_free(&a);
    rt_strbuf_free(&b);
    return rc;
}

static int replace(const tk_normalizer *n, const char *s, size_t len, rt_strbuf *out) {
    if (!n->re) {
        if (n->a_len == 0) return rt_strbuf_append(out, s, len);
        size_t i = 0;
        while (i < len) {
            const char *hit = NULL;
            if (len - i >= n->a_len) hit = memmem(s + i, len - i, n->a, n->a_len);
            if (!hit) break;
            RT_TRY(rt_strbuf_append(out, s + i, (size_t)(hit - (s + i))));
            RT_TRY(rt_strbuf_append(out, n->b, n->b_len));
            i = (size_t)(hit - s) + n->a_len;
        }
        return rt_strbuf_append(out, s + i, len - i);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(n->re, NULL);
    pcre2_match_context *mctx = pcre2_match_context_create(NULL);
    if (!md || !mctx) {
        pcre2_match_data_free(md);
        pcre2_match_context_free(mctx);
        return rt_error(RT_ERR_NOMEM, "normalizer: out of memory");
    }
    pcre2_set_match_limit(mctx, UINT32_MAX);
    size_t i = 0, last = 0;
    int rc = RT_OK;
    while (i <= len) {
        int r = pcre2_match(n->re, (PCRE2_SPTR)s, len, i, PCRE2_NO_UTF_CHECK, md, mctx);
        if (r < 0) {
            if (r != PCRE2_ERROR_NOMATCH)
                rc = rt_error(RT_ERR_RANGE, "normalizer: regex match failed (%d)", r);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if ((rc = rt_strbuf_append(out, s + last, ov[0] - last)) < 0) break;
        if ((rc = rt_strbuf_append(out, n->b, n->b_len)) < 0) break;
        last = ov[1];
        if (ov[1] == ov[0]) {
            if (ov[1] >= len) break;
            int32_t cp;
            size_t step = (size_t)tk_utf8_decode((const uint8_t *)s + ov[1], len - ov[1], &cp);
            if ((rc = rt_strbuf_append(out, s + ov[1], step)) < 0) break;
            last = ov[1] + step;
            i = last;
        } else {
            i = ov[1];
        }
    }
    pcre2_match_data_free(md);
    pcre2_match_context_free(mctx);
    RT_TRY(rc);
    return last <= len ? rt_strbuf_append(out, s + last, len - last) : RT_OK;
}

int tk_normalize(const tk_normalizer *n, const char *s, size_t len, rt_strbuf *out) {
    return tk_normalize_with(n, s, len, out, NULL);
}

int tk_normalize_with(const tk_normalizer *n, const char *s, size_t len, rt_strbuf *out,
                      rt_strbuf *tmp_buf) {
    out->len = 0;
    RT_TRY(rt_strbuf_reserve(out, len));
    out->data[0] = 0;
    switch (n->type) {
    case NORM_NFC:
        return unicode_form(s, len, UTF8PROC_COMPOSE, out);
    case NORM_NFD:
        return unicode_form(s, len, UTF8PROC_DECOMPOSE, out);
    case NORM_NFKC:
        return unicode_form(s, len, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out);
    case NORM_NFKD:
        return unicode_form(s, len, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out);
    case NORM_LOWERCASE:
        return lowercase(s, len, out);
    case NORM_BERT:
        return bert(n, s, len, out);
    case NORM_STRIP_ACCENTS:
        return strip_marks(s, len, true, out);
    case NORM_PREPEND:
        if (len) RT_TRY(rt_strbuf_append(out, n->a, n->a_len));
        return rt_strbuf_append(out, s, len);
    case NORM_REPLACE:
        return replace(n, s, len, out);
    case NORM_STRIP: {
        const uint8_t *u = (const uint8_t *)s;
        size_t b = 0, e = len;
        while (n->left && b < e) {
            int32_t cp;
            int m = tk_utf8_decode(u + b, e - b, &cp);
            if (!tk_is_whitespace(cp)) break;
            b += (size_t)m;
        }
        while (n->right && e > b) {
            size_t k = e - 1;
            while (k > b && (u[k] & 0xC0) == 0x80)
                k--;
            int32_t cp;
            tk_utf8_decode(u + k, e - k, &cp);
            if (!tk_is_whitespace(cp)) break;
            e = k;
        }
        return rt_strbuf_append(out, s + b, e - b);
    }
    case NORM_SEQUENCE: {
        /* Ping-pong between out and a temporary (the caller's, when given; a nested Sequence
         * gets none and allocates its own). */
        rt_strbuf local = {0};
        rt_strbuf *tmp = tmp_buf ? tmp_buf : &local;
        int rc = rt_strbuf_append(out, s, len);
        for (size_t i = 0; rc == RT_OK && i < n->n_children; i++) {
            tmp->len = 0;
            rc = rt_strbuf_append(tmp, out->data, out->len);
            if (rc == RT_OK) rc = tk_normalize_with(n->children[i], tmp->data, tmp->len, out, NULL);
        }
        rt_strbuf_free(&local);
        return rc;
    }
    }
    return rt_error(RT_ERR_INTERNAL, "normalizer: bad type %d", n->type);
}

static int pattern_from_json(const json_t *pat, const char *where, char **lit, size_t *lit_len,
                             pcre2_code **re) {
    const json_t *str = json_object_get(pat, "String");
    const json_t *rx = json_object_get(pat, "Regex");
    if (json_is_string(str)) {
        *lit_len = json_string_length(str);
        *lit = rt_malloc(*lit_len + 1);
        if (!*lit) return RT_ERR_NOMEM;
        memcpy(*lit, json_string_value(str), *lit_len + 1);
        return RT_OK;
    }
    if (json_is_string(rx))
        return tk_regex_compile(json_string_value(rx), json_string_length(rx), where, (void **)re);
    return rt_error(RT_ERR_FORMAT, "%s: pattern needs \"String\" or \"Regex\"", where);
}

static int dup_json_string(const json_t *j, char **out, size_t *len) {
    size_t n = json_is_string(j) ? json_string_length(j) : 0;
    *out = rt_malloc(n + 1);
    if (!*out) return RT_ERR_NOMEM;
    if (n) memcpy(*out, json_string_value(j), n);
    (*out)[n] = 0;
    if (len) *len = n;
    return RT_OK;
}

int tk_normalizer_bert(bool clean_text, bool chinese, int strip_accents, bool lowercase_,
                       tk_normalizer **out) {
    tk_normalizer *n = rt_calloc(1, sizeof *n);
    if (!n) return RT_ERR_NOMEM;
    n->type = NORM_BERT;
    n->clean_text = clean_text;
    n->chinese = chinese;
    n->strip_accents = strip_accents;
    n->lowercase = lowercase_;
    *out = n;
    return RT_OK;
}

static bool json_flag(const json_t *j, const char *key, bool dflt) {
    const json_t *v = json_object_get(j, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

int tk_normalizer_from_json(const json_t *j, const char *where, tk_normalizer **out) {
    *out = NULL;
    if (!j || json_is_null(j)) return RT_OK;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type)
        return rt_error(RT_ERR_FORMAT, "%s: normalizer without a \"type\"", where);
    tk_normalizer *n = rt_calloc(1, sizeof *n);
    if (!n) return RT_ERR_NOMEM;
    int rc = RT_OK;
    if (!strcmp(type, "NFC"))
        n->type = NORM_NFC;
    else if (!strcmp(type, "NFD"))
        n->type = NORM_NFD;
    else if (!strcmp(type, "NFKC"))
        n->type = NORM_NFKC;
    else if (!strcmp(type, "NFKD"))
        n->type = NORM_NFKD;
    else if (!strcmp(type, "Lowercase"))
        n->type = NORM_LOWERCASE;
    else if (!strcmp(type, "StripAccents"))
        n->type = NORM_STRIP_ACCENTS;
    else if (!strcmp(type, "BertNormalizer")) {
        n->type = NORM_BERT;
        n->clean_text = json_flag(j, "clean_text", true);
        n->chinese = json_flag(j, "handle_chinese_chars", true);
        n->lowercase = json_flag(j, "lowercase", true);
        const json_t *sa = json_object_get(j, "strip_accents");
        n->strip_accents = json_is_boolean(sa) ? json_is_true(sa) : -1;
    } else if (!strcmp(type, "Strip")) {
        n->type = NORM_STRIP;
        n->left = json_flag(j, "strip_left", true);
        n->right = json_flag(j, "strip_right", true);
    } else if (!strcmp(type, "Prepend")) {
        n->type = NORM_PREPEND;
        rc = dup_json_string(json_object_get(j, "prepend"), &n->a, &n->a_len);
    } else if (!strcmp(type, "Replace")) {
        n->type = NORM_REPLACE;
        rc = pattern_from_json(json_object_get(j, "pattern"), where, &n->a, &n->a_len, &n->re);
        if (rc == RT_OK) rc = dup_json_string(json_object_get(j, "content"), &n->b, &n->b_len);
    } else if (!strcmp(type, "Sequence")) {
        n->type = NORM_SEQUENCE;
        const json_t *arr = json_object_get(j, "normalizers");
        if (!json_is_array(arr)) {
            rc = rt_error(RT_ERR_FORMAT, "%s: Sequence normalizer without \"normalizers\"", where);
        } else {
            size_t k = json_array_size(arr);
            n->children = rt_calloc(k ? k : 1, sizeof *n->children);
            if (!n->children) rc = RT_ERR_NOMEM;
            for (size_t i = 0; rc == RT_OK && i < k; i++) {
                rc = tk_normalizer_from_json(json_array_get(arr, i), where, &n->children[i]);
                if (rc == RT_OK && !n->children[i])
                    rc = rt_error(RT_ERR_FORMAT, "%s: null inside a Sequence normalizer", where);
                if (rc == RT_OK) n->n_children++;
            }
        }
    } else {
        rc = rt_error(RT_ERR_UNSUPPORTED, "%s: normalizer type \"%s\" is not supported", where,
                      type);
    }
    if (rc < 0) {
        tk_normalizer_free(n);
        return rc;
    }
    *out = n;
    return RT_OK;
}
