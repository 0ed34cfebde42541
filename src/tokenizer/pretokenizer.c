/*
 * pretokenizer.c — pre-tokenizers (see pretokenizer.h). A Sequence runs its members as a
 * chain of callbacks: member k hands each piece to member k+1. Members that rewrite text
 * (ByteLevel's prefix space, Metaspace) write into a buffer owned by their depth in the chain,
 * which is free again once the deeper members have consumed the piece.
 */
#define _GNU_SOURCE /* memmem */
#include "tokenizer/pretokenizer.h"

#include "core/error.h"
#include "tokenizer/normalizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define GPT2_PATTERN                                                                               \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define MAX_DEPTH 16

enum {
    PT_SPLIT,
    PT_BYTE_LEVEL,
    PT_METASPACE,
    PT_BERT,
    PT_WHITESPACE,
    PT_WHITESPACE_SPLIT,
    PT_PUNCTUATION,
    PT_DIGITS,
    PT_SEQUENCE
};
enum { B_REMOVED, B_ISOLATED, B_MERGED_PREV, B_MERGED_NEXT, B_CONTIGUOUS };

struct tk_pretok {
    int type;
    int behavior;
    bool invert;
    bool add_prefix_space; /* ByteLevel */
    bool individual;       /* Digits */
    bool split;            /* Metaspace */
    int prepend;           /* Metaspace: 0 never, 1 first, 2 always */
    char *literal;         /* Split on a String */
    size_t literal_len;
    char repl[8]; /* Metaspace replacement (UTF-8) */
    size_t repl_len;
    pcre2_code *re;
    tk_pretok **children;
    size_t n_children;
};

typedef struct seg {
    size_t b, e;
    bool delim;
} seg;

struct tk_pretok_scratch {
    rt_strbuf bufs[MAX_DEPTH];
    seg *segs[MAX_DEPTH];
    size_t seg_cap[MAX_DEPTH];
    pcre2_match_data *md;
    pcre2_match_context *mctx; /* no match limit: a 10 MB whitespace run backtracks 10M steps */
    pcre2_jit_stack *jit_stack;
};

tk_pretok_scratch *tk_pretok_scratch_new(void) {
    tk_pretok_scratch *s = rt_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->md = pcre2_match_data_create(4, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!s->md || !s->mctx || !s->jit_stack) {
        pcre2_match_data_free(s->md);
        pcre2_match_context_free(s->mctx);
        pcre2_jit_stack_free(s->jit_stack);
        free(s);
        rt_error(RT_ERR_NOMEM, "pre-tokenizer: out of memory");
        return NULL;
    }
    pcre2_set_match_limit(s->mctx, UINT32_MAX);
    pcre2_set_depth_limit(s->mctx, UINT32_MAX);
    pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    return s;
}

void tk_pretok_scratch_free(tk_pretok_scratch *s) {
    if (!s) return;
    for (int i = 0; i < MAX_DEPTH; i++) {
        rt_strbuf_free(&s->bufs[i]);
        free(s->segs[i]);
    }
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit_stack);
    free(s);
}

void tk_pretok_free(tk_pretok *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_children; i++)
        tk_pretok_free(p->children[i]);
    free(p->children);
    free(p->literal);
    if (p->re) pcre2_code_free(p->re);
    free(p);
}

bool tk_pretok_is_byte_level(const tk_pretok *p) {
    if (!p) return false;
    if (p->type == PT_BYTE_LEVEL) return true;
    for (size_t i = 0; i < p->n_children; i++)
        if (tk_pretok_is_byte_level(p->children[i])) return true;
    return false;
}

/* Oniguruma (which Hugging Face uses) takes \s as the White_Space property; PCRE2's \s also
 * matches U+180E (and, depending on version, other characters). Patterns are rewritten so
 * that \s and \S name exactly the White_Space set. */
#define WS_CHARS                                                                                   \
    "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"             \
    "\\x{202F}\\x{205F}\\x{3000}"

static int rewrite_pattern(const char *pattern, size_t len, rt_strbuf *out) {
    bool in_class = false;
    for (size_t i = 0; i < len; i++) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < len) {
            char d = pattern[i + 1];
            if (d == 's') {
                RT_TRY(rt_strbuf_append(out, in_class ? WS_CHARS : "[" WS_CHARS "]",
                                        strlen(WS_CHARS) + (in_class ? 0 : 2)));
            } else if (d == 'S' && !in_class) {
                RT_TRY(rt_strbuf_append(out, "[^" WS_CHARS "]", strlen(WS_CHARS) + 3));
            } else {
                RT_TRY(rt_strbuf_append(out, pattern + i, 2));
            }
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            RT_TRY(rt_strbuf_append(out, &c, 1));
            /* A ']' right after '[' or '[^' is a literal member. */
            if (i + 1 < len && pattern[i + 1] == '^') {
                RT_TRY(rt_strbuf_append(out, "^", 1));
                i++;
            }
            if (i + 1 < len && pattern[i + 1] == ']') {
                RT_TRY(rt_strbuf_append(out, "]", 1));
                i++;
            }
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        RT_TRY(rt_strbuf_append(out, &c, 1));
    }
    return RT_OK;
}

int tk_regex_compile(const char *pattern, size_t len, const char *where, void **out_code) {
    rt_strbuf rewritten = {0};
    int rc = rewrite_pattern(pattern, len, &rewritten);
    if (rc < 0) {
        rt_strbuf_free(&rewritten);
        return rc;
    }
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(rewritten.data ? rewritten.data : ""),
                                   rewritten.len, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    rt_strbuf_free(&rewritten);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        return rt_error(RT_ERR_UNSUPPORTED, "%s: pre-tokenizer pattern /%.*s/: %s", where,
                        (int)(len > 200 ? 200 : len), pattern, (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if unavailable */
    *out_code = re;
    return RT_OK;
}

/* ---- segment lists ------------------------------------------------------------------------ */

typedef struct walk {
    const tk_pretok *const *chain; /* remaining members of the Sequence */
    size_t n_chain;
    tk_pretok_scratch *scratch;
    int depth;
    tk_word_fn fn;
    void *user;
} walk;

static int run(const tk_pretok *p, walk *w, const char *s, size_t len, bool at_start);

/* Hands one piece to the rest of the chain (or to the caller's callback at the end). */
static int emit(walk *w, const char *s, size_t len, bool at_start) {
    if (len == 0) return RT_OK;
    if (w->n_chain == 0) return w->fn(s, len, w->user);
    walk next = *w;
    next.chain = w->chain + 1;
    next.n_chain = w->n_chain - 1;
    next.depth = w->depth + 1;
    if (next.depth >= MAX_DEPTH)
        return rt_error(RT_ERR_UNSUPPORTED, "pre-tokenizer: sequences nested too deeply");
    return run(w->chain[0], &next, s, len, at_start);
}

static int push_seg(walk *w, size_t *n, size_t b, size_t e, bool delim) {
    int d = w->depth;
    tk_pretok_scratch *sc = w->scratch;
    RT_TRY(RT_GROW(sc->segs[d], sc->seg_cap[d], *n + 1));
    sc->segs[d][(*n)++] = (seg){b, e, delim};
    return RT_OK;
}

/* Applies a delimiter behaviour to the segments (delim = matched by the pattern), folding
 * them in place as Hugging Face's SplitDelimiterBehavior does, and emits the pieces. */
static int emit_segments(walk *w, const char *s, size_t n, int behavior, bool at_start) {
    seg *sg = w->scratch->segs[w->depth];
    size_t m = 0;
    bool prev = false;
    switch (behavior) {
    case B_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!sg[i].delim) sg[m++] = sg[i];
        break;
    case B_ISOLATED:
        m = n;
        break;
    case B_MERGED_PREV:
        for (size_t i = 0; i < n; i++) {
            if (sg[i].delim && !prev && m > 0)
                sg[m - 1].e = sg[i].e;
            else
                sg[m++] = sg[i];
            prev = sg[i].delim;
        }
        break;
    case B_MERGED_NEXT: {
        /* Fold from the right, writing the result to the right end of the array. */
        size_t k = n;
        for (size_t i = n; i-- > 0;) {
            bool d = sg[i].delim;
            if (d && !prev && k < n)
                sg[k].b = sg[i].b;
            else
                sg[--k] = sg[i];
            prev = d;
        }
        memmove(sg, sg + k, (n - k) * sizeof *sg);
        m = n - k;
        break;
    }
    case B_CONTIGUOUS:
        for (size_t i = 0; i < n; i++) {
            bool d = sg[i].delim;
            if (d == prev && m > 0)
                sg[m - 1].e = sg[i].e;
            else
                sg[m++] = sg[i];
            prev = d;
        }
        break;
    }
    for (size_t i = 0; i < m; i++) {
        /* emit() never touches this depth's segments, so sg stays valid. */
        size_t b = w->scratch->segs[w->depth][i].b, e = w->scratch->segs[w->depth][i].e;
        RT_TRY(emit(w, s + b, e - b, at_start && b == 0));
    }
    return RT_OK;
}

static int regex_segments(const tk_pretok *p, walk *w, const pcre2_code *re, const char *s,
                          size_t len, size_t *n) {
    size_t pos = 0, last = 0;
    *n = 0;
    pcre2_match_data *md = w->scratch->md;
    while (pos <= len) {
        int r = pcre2_match(re, (PCRE2_SPTR)s, len, pos, PCRE2_NO_UTF_CHECK, md, w->scratch->mctx);
        if (r == PCRE2_ERROR_NOMATCH) break;
        if (r < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(r, msg, sizeof msg);
            return rt_error(RT_ERR_RANGE, "pre-tokenizer: regex match failed: %s",
                            (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t b = ov[0], e = ov[1];
        if (e == b) { /* empty match: step over one character */
            if (b >= len) break;
            int32_t cp;
            pos = b + (size_t)tk_utf8_decode((const uint8_t *)s + b, len - b, &cp);
            continue;
        }
        if (b > last) RT_TRY(push_seg(w, n, last, b, p->invert));
        RT_TRY(push_seg(w, n, b, e, !p->invert));
        last = pos = e;
    }
    if (last < len) RT_TRY(push_seg(w, n, last, len, p->invert));
    return RT_OK;
}

static int literal_segments(const tk_pretok *p, walk *w, const char *s, size_t len, size_t *n) {
    size_t last = 0;
    *n = 0;
    if (p->literal_len == 0) return push_seg(w, n, 0, len, p->invert);
    while (last < len) {
        const char *hit = memmem(s + last, len - last, p->literal, p->literal_len);
        if (!hit) break;
        size_t b = (size_t)(hit - s);
        if (b > last) RT_TRY(push_seg(w, n, last, b, p->invert));
        RT_TRY(push_seg(w, n, b, b + p->literal_len, !p->invert));
        last = b + p->literal_len;
    }
    if (last < len) RT_TRY(push_seg(w, n, last, len, p->invert));
    return RT_OK;
}

/* Per-character classification splits (Bert, Punctuation, Digits, WhitespaceSplit). */
typedef int (*char_class)(int32_t cp, const tk_pretok *p); /* 0 keep, 1 delimiter, 2 remove */

static int class_segments(const tk_pretok *p, walk *w, const char *s, size_t len, char_class cls,
                          size_t *n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, run_b = 0;
    int run_cls = -1;
    *n = 0;
    while (i < len) {
        int32_t cp;
        int m = tk_utf8_decode(u + i, len - i, &cp);
        int c = cls(cp, p);
        if (c != run_cls || c == 1) {
            if (run_cls >= 0 && run_cls != 2) RT_TRY(push_seg(w, n, run_b, i, run_cls == 1));
            run_b = i;
            run_cls = c;
        }
        i += (size_t)m;
    }
    if (run_cls >= 0 && run_cls != 2) RT_TRY(push_seg(w, n, run_b, len, run_cls == 1));
    return RT_OK;
}

static int cls_punct(int32_t cp, const tk_pretok *p) {
    return tk_is_punctuation(cp) ? 1 : 0;
}

static bool is_numeric(int32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    int c = utf8proc_category(cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

static int cls_digits(int32_t cp, const tk_pretok *p) {
    return is_numeric(cp) ? 1 : 0;
}

static bool is_word_char(int32_t cp) {
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
               cp == '_';
    int c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ND) || c == UTF8PROC_CATEGORY_NL ||
           c == UTF8PROC_CATEGORY_PC || cp == 0x200C || cp == 0x200D;
}

/* Runs the words of class `keep` (1 = word chars, 0 = other non-space) together. */
static int whitespace_segments(walk *w, const char *s, size_t len, bool split_only, size_t *n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, run_b = 0;
    int run = -1; /* -1 none, 0 space, 1 word, 2 other */
    *n = 0;
    while (i < len) {
        int32_t cp;
        int m = tk_utf8_decode(u + i, len - i, &cp);
        int c = tk_is_whitespace(cp) ? 0 : split_only ? 1 : is_word_char(cp) ? 1 : 2;
        if (c != run) {
            if (run > 0) RT_TRY(push_seg(w, n, run_b, i, false));
            run_b = i;
            run = c;
        }
        i += (size_t)m;
    }
    if (run > 0) RT_TRY(push_seg(w, n, run_b, len, false));
    return RT_OK;
}

static int run(const tk_pretok *p, walk *w, const char *s, size_t len, bool at_start) {
    size_t n = 0;
    switch (p->type) {
    case PT_SEQUENCE: {
        if (p->n_children == 0) return emit(w, s, len, at_start);
        walk inner = *w;
        /* Chain: this Sequence's members, then whatever followed the Sequence. Only the
         * common non-nested case is flattened; nested Sequences recurse through emit. */
        const tk_pretok *chain[MAX_DEPTH];
        size_t k = 0;
        for (size_t i = 1; i < p->n_children && k < MAX_DEPTH; i++)
            chain[k++] = p->children[i];
        for (size_t i = 0; i < w->n_chain && k < MAX_DEPTH; i++)
            chain[k++] = w->chain[i];
        if (k >= MAX_DEPTH)
            return rt_error(RT_ERR_UNSUPPORTED, "pre-tokenizer: sequences nested too deeply");
        inner.chain = chain;
        inner.n_chain = k;
        return run(p->children[0], &inner, s, len, at_start);
    }
    case PT_SPLIT:
        if (p->re)
            RT_TRY(regex_segments(p, w, p->re, s, len, &n));
        else
            RT_TRY(literal_segments(p, w, s, len, &n));
        return emit_segments(w, s, n, p->behavior, at_start);
    case PT_BYTE_LEVEL: {
        rt_strbuf *buf = &w->scratch->bufs[w->depth];
        if (p->add_prefix_space && s[0] != ' ') {
            buf->len = 0;
            RT_TRY(rt_strbuf_append(buf, " ", 1));
            RT_TRY(rt_strbuf_append(buf, s, len));
            s = buf->data;
            len = buf->len;
        }
        if (!p->re) return emit(w, s, len, at_start);
        RT_TRY(regex_segments(p, w, p->re, s, len, &n));
        return emit_segments(w, s, n, B_ISOLATED, at_start);
    }
    case PT_METASPACE: {
        rt_strbuf *buf = &w->scratch->bufs[w->depth];
        buf->len = 0;
        RT_TRY(rt_strbuf_reserve(buf, len + p->repl_len));
        bool prepend = p->prepend == 2 || (p->prepend == 1 && at_start);
        if (prepend && !(len >= p->repl_len && !memcmp(s, p->repl, p->repl_len)) &&
            !(len && s[0] == ' '))
            RT_TRY(rt_strbuf_append(buf, p->repl, p->repl_len));
        for (size_t i = 0; i < len; i++) {
            if (s[i] == ' ')
                RT_TRY(rt_strbuf_append(buf, p->repl, p->repl_len));
            else
                RT_TRY(rt_strbuf_append(buf, s + i, 1));
        }
        s = buf->data;
        len = buf->len;
        if (!p->split) return emit(w, s, len, at_start);
        tk_pretok lit = {.literal = (char *)p->repl, .literal_len = p->repl_len};
        RT_TRY(literal_segments(&lit, w, s, len, &n));
        return emit_segments(w, s, n, B_MERGED_NEXT, at_start);
    }
    case PT_BERT: {
        /* Whitespace split (removed), then punctuation isolated. */
        RT_TRY(whitespace_segments(w, s, len, true, &n));
        seg *sg = w->scratch->segs[w->depth];
        /* Re-split each word on punctuation at the next depth. */
        for (size_t i = 0; i < n; i++) {
            sg = w->scratch->segs[w->depth];
            size_t b = sg[i].b, e = sg[i].e;
            walk inner = *w;
            inner.depth = w->depth + 1;
            if (inner.depth >= MAX_DEPTH) return RT_ERR_UNSUPPORTED;
            size_t m;
            RT_TRY(class_segments(p, &inner, s + b, e - b, cls_punct, &m));
            RT_TRY(emit_segments(&inner, s + b, m, B_ISOLATED, at_start && b == 0));
        }
        return RT_OK;
    }
    case PT_WHITESPACE:
        RT_TRY(whitespace_segments(w, s, len, false, &n));
        return emit_segments(w, s, n, B_ISOLATED, at_start);
    case PT_WHITESPACE_SPLIT:
        RT_TRY(whitespace_segments(w, s, len, true, &n));
        return emit_segments(w, s, n, B_ISOLATED, at_start);
    case PT_PUNCTUATION:
        RT_TRY(class_segments(p, w, s, len, cls_punct, &n));
        return emit_segments(w, s, n, p->behavior, at_start);
    case PT_DIGITS:
        RT_TRY(class_segments(p, w, s, len, cls_digits, &n));
        return emit_segments(w, s, n, p->individual ? B_ISOLATED : B_CONTIGUOUS, at_start);
    }
    return rt_error(RT_ERR_INTERNAL, "pre-tokenizer: bad type %d", p->type);
}

int tk_pretokenize(const tk_pretok *p, tk_pretok_scratch *scratch, const char *s, size_t len,
                   bool at_start, tk_word_fn fn, void *user) {
    if (len == 0) return RT_OK;
    if (!p) return fn(s, len, user);
    walk w = {.chain = NULL, .n_chain = 0, .scratch = scratch, .depth = 0, .fn = fn, .user = user};
    return run(p, &w, s, len, at_start);
}

/* ---- construction -------------------------------------------------------------------------- */

static int parse_behavior(const json_t *j, const char *where, int *out) {
    const char *b = json_string_value(json_object_get(j, "behavior"));
    if (!b) {
        *out = B_ISOLATED;
        return RT_OK;
    }
    if (!strcmp(b, "Removed"))
        *out = B_REMOVED;
    else if (!strcmp(b, "Isolated"))
        *out = B_ISOLATED;
    else if (!strcmp(b, "MergedWithPrevious"))
        *out = B_MERGED_PREV;
    else if (!strcmp(b, "MergedWithNext"))
        *out = B_MERGED_NEXT;
    else if (!strcmp(b, "Contiguous"))
        *out = B_CONTIGUOUS;
    else
        return rt_error(RT_ERR_FORMAT, "%s: unknown split behavior \"%s\"", where, b);
    return RT_OK;
}

static bool flag(const json_t *j, const char *key, bool dflt) {
    const json_t *v = json_object_get(j, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

int tk_pretok_bert(tk_pretok **out) {
    tk_pretok *p = rt_calloc(1, sizeof *p);
    if (!p) return RT_ERR_NOMEM;
    p->type = PT_BERT;
    *out = p;
    return RT_OK;
}

int tk_pretok_from_json(const json_t *j, const char *where, tk_pretok **out) {
    *out = NULL;
    if (!j || json_is_null(j)) return RT_OK;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type)
        return rt_error(RT_ERR_FORMAT, "%s: pre_tokenizer without a \"type\"", where);
    tk_pretok *p = rt_calloc(1, sizeof *p);
    if (!p) return RT_ERR_NOMEM;
    int rc = RT_OK;
    if (!strcmp(type, "Split")) {
        p->type = PT_SPLIT;
        p->invert = flag(j, "invert", false);
        rc = parse_behavior(j, where, &p->behavior);
        const json_t *pat = json_object_get(j, "pattern");
        const json_t *str = json_object_get(pat, "String");
        const json_t *rx = json_object_get(pat, "Regex");
        if (rc < 0) {
        } else if (json_is_string(str)) {
            p->literal_len = json_string_length(str);
            p->literal = rt_malloc(p->literal_len + 1);
            if (!p->literal)
                rc = RT_ERR_NOMEM;
            else
                memcpy(p->literal, json_string_value(str), p->literal_len + 1);
        } else if (json_is_string(rx)) {
            rc = tk_regex_compile(json_string_value(rx), json_string_length(rx), where,
                                  (void **)&p->re);
        } else {
            rc = rt_error(RT_ERR_FORMAT, "%s: Split needs a String or Regex pattern", where);
        }
    } else if (!strcmp(type, "ByteLevel")) {
        p->type = PT_BYTE_LEVEL;
        p->add_prefix_space = flag(j, "add_prefix_space", true);
        if (flag(j, "use_regex", true))
            rc = tk_regex_compile(GPT2_PATTERN, strlen(GPT2_PATTERN), where, (void **)&p->re);
    } else if (!strcmp(type, "Metaspace")) {
        p->type = PT_METASPACE;
        const char *r = json_string_value(json_object_get(j, "replacement"));
        if (!r) r = "\xE2\x96\x81";
        p->repl_len = strlen(r);
        if (p->repl_len == 0 || p->repl_len > 4) {
            rc = rt_error(RT_ERR_FORMAT, "%s: Metaspace replacement must be one character", where);
        } else {
            memcpy(p->repl, r, p->repl_len);
        }
        p->split = flag(j, "split", true);
        const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
        if (scheme)
            p->prepend = !strcmp(scheme, "always") ? 2 : !strcmp(scheme, "first") ? 1 : 0;
        else
            p->prepend = flag(j, "add_prefix_space", true) ? 2 : 0;
    } else if (!strcmp(type, "BertPreTokenizer")) {
        p->type = PT_BERT;
    } else if (!strcmp(type, "Whitespace")) {
        p->type = PT_WHITESPACE;
    } else if (!strcmp(type, "WhitespaceSplit")) {
        p->type = PT_WHITESPACE_SPLIT;
    } else if (!strcmp(type, "Punctuation")) {
        p->type = PT_PUNCTUATION;
        rc = parse_behavior(j, where, &p->behavior);
    } else if (!strcmp(type, "Digits")) {
        p->type = PT_DIGITS;
        p->individual = flag(j, "individual_digits", false);
    } else if (!strcmp(type, "Sequence")) {
        p->type = PT_SEQUENCE;
        const json_t *arr = json_object_get(j, "pretokenizers");
        if (!json_is_array(arr)) {
            rc = rt_error(RT_ERR_FORMAT, "%s: Sequence without \"pretokenizers\"", where);
        } else if (json_array_size(arr) >= MAX_DEPTH) {
            rc = rt_error(RT_ERR_UNSUPPORTED, "%s: Sequence of %zu pre-tokenizers is too long",
                          where, json_array_size(arr));
        } else {
            size_t k = json_array_size(arr);
            p->children = rt_calloc(k ? k : 1, sizeof *p->children);
            if (!p->children) rc = RT_ERR_NOMEM;
            for (size_t i = 0; rc == RT_OK && i < k; i++) {
                rc = tk_pretok_from_json(json_array_get(arr, i), where, &p->children[i]);
                if (rc == RT_OK && !p->children[i])
                    rc = rt_error(RT_ERR_FORMAT, "%s: null inside a Sequence", where);
                if (rc == RT_OK) p->n_children++;
            }
        }
    } else {
        rc = rt_error(RT_ERR_UNSUPPORTED, "%s: pre_tokenizer type \"%s\" is not supported", where,
                      type);
    }
    if (rc < 0) {
        tk_pretok_free(p);
        return rc;
    }
    *out = p;
    return RT_OK;
}
