/*
 * chunker.c — see chunker.h.
 */
#include "knowledge/chunker.h"
#include "knowledge/words.h"
#include "knowledge/vector.h"
#include "core/error.h"
#include "core/log.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct spans {
    rt_span *a;
    size_t n, cap;
} spans;

static int spans_push(spans *s, size_t start, size_t end) {
    RT_TRY(RT_GROW(s->a, s->cap, s->n + 1));
    s->a[s->n].start = start;
    s->a[s->n].end = end;
    s->n++;
    return RT_OK;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Trims [start, end) and pushes it if non-empty. */
static int push_trimmed(spans *s, const char *t, size_t start, size_t end) {
    while (start < end && is_space(t[start]))
        start++;
    while (end > start && is_space(t[end - 1]))
        end--;
    return start < end ? spans_push(s, start, end) : RT_OK;
}

typedef struct ctx {
    const rt_chunker_params *p;
    const char *text;
    spans out;
} ctx;

static size_t count(const ctx *c, size_t start, size_t end) {
    rt_token_count_fn fn = c->p->count_tokens ? c->p->count_tokens : rt_words_count_tokens;
    return fn(c->p->count_tokens_user, c->text + start, end - start);
}

rt_chunker_params rt_chunker_default_params(void) {
    rt_chunker_params p = {RT_CHUNKER_RECURSIVE, 256, 32, 95.0f, NULL, NULL, NULL, NULL};
    return p;
}

/* Whitespace-separated words of [start, end). */
static int split_ws(const char *t, size_t start, size_t end, spans *w) {
    size_t i = start;
    while (i < end) {
        while (i < end && is_space(t[i]))
            i++;
        size_t s = i;
        while (i < end && !is_space(t[i]))
            i++;
        if (i > s) RT_TRY(spans_push(w, s, i));
    }
    return RT_OK;
}

/* Fixed windows over the words of [start, end). */
static int fixed_windows(ctx *c, size_t start, size_t end, size_t max, size_t overlap) {
    spans w = {0};
    int st = split_ws(c->text, start, end, &w);
    size_t *tok = NULL;
    if (!st && w.n) {
        tok = rt_malloc(w.n * sizeof *tok);
        if (!tok) st = RT_ERR_NOMEM;
        for (size_t i = 0; !st && i < w.n; i++)
            tok[i] = count(c, w.a[i].start, w.a[i].end);
    }
    if (overlap >= max) overlap = max / 2;
    size_t i = 0;
    while (!st && i < w.n) {
        size_t j = i, sum = 0;
        while (j < w.n && (j == i || sum + tok[j] <= max))
            sum += tok[j++];
        st = spans_push(&c->out, w.a[i].start, w.a[j - 1].end);
        if (j >= w.n) break;
        /* Step back so the next window starts with ~overlap tokens of this one. */
        size_t k = j, back = 0;
        while (k > i + 1 && back + tok[k - 1] <= overlap)
            back += tok[--k];
        i = k;
    }
    free(tok);
    free(w.a);
    return st;
}

/* Sentence ends inside [start, end): after [.!?] + space, at blank lines, before headings. */
static int split_sentences_range(const char *t, size_t start, size_t end, spans *out) {
    size_t s = start;
    for (size_t i = start; i < end; i++) {
        char ch = t[i];
        size_t cut = 0;
        if ((ch == '.' || ch == '!' || ch == '?') && i + 1 < end && is_space(t[i + 1]))
            cut = i + 1;
        else if (ch == '\n' && i + 1 < end &&
                 (t[i + 1] == '\n' || t[i + 1] == '#' ||
                  (t[i + 1] == '\r' && i + 2 < end && t[i + 2] == '\n')))
            cut = i + 1;
        if (cut) {
            RT_TRY(push_trimmed(out, t, s, cut));
            s = cut;
        }
    }
    return push_trimmed(out, t, s, end);
}

int rt_split_sentences(const char *text, size_t len, rt_span **out, size_t *n_out) {
    spans s = {0};
    int st = split_sentences_range(text, 0, len, &s);
    if (st) {
        free(s.a);
        return st;
    }
    *out = s.a;
    *n_out = s.n;
    return RT_OK;
}

/* Packs consecutive pieces up to max tokens; a piece larger than max goes to `big`. */
static int pack(ctx *c, const spans *pieces, size_t max, int (*big)(ctx *, size_t, size_t, int),
                int level) {
    size_t i = 0;
    while (i < pieces->n) {
        size_t n0 = count(c, pieces->a[i].start, pieces->a[i].end);
        if (n0 > max) {
            RT_TRY(big(c, pieces->a[i].start, pieces->a[i].end, level));
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < pieces->n && count(c, pieces->a[i].start, pieces->a[j].end) <= max)
            j++;
        RT_TRY(push_trimmed(&c->out, c->text, pieces->a[i].start, pieces->a[j - 1].end));
        i = j;
    }
    return RT_OK;
}

/* Pieces of [start, end) at a level: 0 headings, 1 paragraphs, 2 sentences. */
static int split_level(const char *t, size_t start, size_t end, int level, spans *out) {
    if (level == 2) return split_sentences_range(t, start, end, out);
    size_t s = start;
    for (size_t i = start; i + 1 < end; i++) {
        if (t[i] != '\n') continue;
        size_t cut = 0;
        if (level == 0 && t[i + 1] == '#') cut = i + 1;
        if (level == 1 &&
            (t[i + 1] == '\n' || (t[i + 1] == '\r' && i + 2 < end && t[i + 2] == '\n')))
            cut = i + 1;
        if (cut && cut > s) {
            RT_TRY(push_trimmed(out, t, s, cut));
            s = cut;
        }
    }
    return push_trimmed(out, t, s, end);
}

static int recursive(ctx *c, size_t start, size_t end, int level) {
    size_t max = (size_t)c->p->chunk_tokens;
    if (count(c, start, end) <= max) return push_trimmed(&c->out, c->text, start, end);
    for (; level <= 2; level++) {
        spans pieces = {0};
        int st = split_level(c->text, start, end, level, &pieces);
        if (!st && pieces.n > 1) st = pack(c, &pieces, max, recursive, level + 1);
        size_t n = pieces.n;
        free(pieces.a);
        if (st) return st;
        if (n > 1) return RT_OK;
    }
    return fixed_windows(c, start, end, max, 0);
}

static int by_words(ctx *c, size_t start, size_t end, int level) {
    (void)level;
    return fixed_windows(c, start, end, (size_t)c->p->chunk_tokens, 0);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int semantic(ctx *c, const rt_embedder *e, size_t len) {
    if (!e || !e->embed || e->dim <= 0)
        return rt_error(RT_ERR_INVALID, "chunker: the semantic chunker needs an embedder");
    spans s = {0};
    RT_TRY(split_sentences_range(c->text, 0, len, &s));
    if (s.n <= 1) {
        int st = s.n ? push_trimmed(&c->out, c->text, s.a[0].start, s.a[0].end) : RT_OK;
        free(s.a);
        return st;
    }
    int st = RT_OK;
    size_t dim = (size_t)e->dim, bytes;
    float *vec = NULL, *dist = NULL, *sorted = NULL;
    const char **texts = rt_malloc(s.n * sizeof *texts);
    size_t *lens = rt_malloc(s.n * sizeof *lens);
    if (!rt_mul_size(s.n * dim, sizeof(float), &bytes)) st = rt_error(RT_ERR_RANGE, "chunker");
    if (!st) vec = rt_malloc(bytes);
    dist = rt_malloc(s.n * sizeof *dist);
    sorted = rt_malloc(s.n * sizeof *sorted);
    if (!st && (!texts || !lens || !vec || !dist || !sorted)) st = RT_ERR_NOMEM;
    for (size_t i = 0; !st && i < s.n; i++) {
        texts[i] = c->text + s.a[i].start;
        lens[i] = s.a[i].end - s.a[i].start;
    }
    for (size_t i = 0; !st && i < s.n; i += 64) {
        int n = (int)(s.n - i < 64 ? s.n - i : 64);
        st = e->embed(e->user, (const char *const *)texts + i, lens + i, n, vec + i * dim);
        if (st) rt_error_wrap("chunker: embedding sentences");
    }
    if (!st) {
        for (size_t i = 0; i < s.n; i++)
            rt_vec_normalize(vec + i * dim, dim);
        for (size_t i = 0; i + 1 < s.n; i++) {
            dist[i] = 1 - rt_vec_kernels_get()->dot(vec + i * dim, vec + (i + 1) * dim, dim);
            sorted[i] = dist[i];
        }
        qsort(sorted, s.n - 1, sizeof *sorted, cmp_float);
        double pct = c->p->semantic_percentile;
        pct = pct < 0 ? 0 : (pct > 100 ? 100 : pct);
        float thr = sorted[(size_t)floor(pct / 100.0 * (double)(s.n - 2) + 0.5)];
        spans group = {0};
        size_t first = 0;
        for (size_t i = 0; !st && i < s.n; i++) {
            bool cut = i + 1 == s.n || dist[i] > thr;
            if (!cut) continue;
            group.n = 0;
            for (size_t j = first; !st && j <= i; j++)
                st = spans_push(&group, s.a[j].start, s.a[j].end);
            if (!st) st = pack(c, &group, (size_t)c->p->chunk_tokens, by_words, 0);
            first = i + 1;
        }
        free(group.a);
    }
    free(texts);
    free(lens);
    free(vec);
    free(dist);
    free(sorted);
    free(s.a);
    return st;
}

static int cmp_proposal(const void *a, const void *b) {
    size_t x = ((const rt_chunk_proposal *)a)->start, y = ((const rt_chunk_proposal *)b)->start;
    return (x > y) - (x < y);
}

/* AGENTIC: sections [start_i, start_i+1) from the proposer, each split further (recursive) when
 * longer than chunk_tokens; each piece gets its section's title. NULL *titles_out when the
 * proposal was unusable and recursive chunking was used instead (the caller falls back). */
static int agentic(ctx *c, size_t len, char ***titles_out) {
    const rt_chunker_params *p = c->p;
    rt_chunk_proposal *pr = NULL;
    size_t n = 0;
    int st = p->propose ? p->propose(p->propose_user, c->text, len, &pr, &n)
                        : rt_error(RT_ERR_INVALID, "no model to propose chunks");
    bool ok = st == RT_OK && n > 0;
    if (ok) {
        qsort(pr, n, sizeof *pr, cmp_proposal);
        for (size_t i = 0; i < n && ok; i++)
            ok = pr[i].start < len && (i == 0 || pr[i].start > pr[i - 1].start);
    }
    char **titles = NULL;
    size_t filled = 0; /* titles[0, filled) are set */
    if (ok) {
        pr[0].start = 0;
        for (size_t i = 0; i < n && st == RT_OK; i++) {
            size_t s = pr[i].start, e = i + 1 < n ? pr[i + 1].start : len;
            st = count(c, s, e) > (size_t)p->chunk_tokens ? recursive(c, s, e, 0)
                                                           : push_trimmed(&c->out, c->text, s, e);
            if (st != RT_OK || c->out.n == filled) continue;
            char **t = rt_realloc(titles, c->out.n * sizeof *t);
            if (!t) {
                st = RT_ERR_NOMEM;
                break;
            }
            titles = t;
            const char *title = pr[i].title && *pr[i].title ? pr[i].title : NULL;
            for (; filled < c->out.n; filled++) {
                titles[filled] = title ? rt_strdup(title) : NULL;
                if (title && !titles[filled]) {
                    st = RT_ERR_NOMEM;
                    break;
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(pr[i].title);
    free(pr);
    if (ok && st == RT_OK) {
        *titles_out = titles;
        return RT_OK;
    }
    for (size_t j = 0; j < filled; j++)
        free(titles[j]);
    free(titles);
    if (ok) return st; /* out of memory, not a bad proposal */
    rt_log_warn("agentic chunker: %s; recursive chunking instead",
                st != RT_OK ? rt_last_error() : "the model proposed no usable boundaries");
    c->out.n = 0;
    return recursive(c, 0, len, 0);
}

/* A piece of at most chunk_tokens/16 tokens (a heading, a dangling line) is not a chunk on its
 * own: it joins the chunk after it, or the one before when it is last, which may then exceed
 * chunk_tokens by that much. Alone it would be retrieved for its few words and tell the reader
 * nothing ("Lisp" above the entry that defines it). */
static void merge_tiny(ctx *c) {
    size_t tiny = (size_t)c->p->chunk_tokens / 16, m = 0;
    if (tiny == 0 || c->out.n < 2) return;
    rt_span *a = c->out.a;
    bool carry = false;
    size_t carry_start = 0;
    for (size_t i = 0; i < c->out.n; i++) {
        rt_span s = a[i];
        if (carry) s.start = carry_start;
        carry = i + 1 < c->out.n && count(c, s.start, s.end) <= tiny;
        if (carry) {
            carry_start = s.start;
            continue;
        }
        if (i + 1 == c->out.n && m > 0 && count(c, s.start, s.end) <= tiny) {
            a[m - 1].end = s.end;
            continue;
        }
        a[m++] = s;
    }
    c->out.n = m;
}

int rt_chunk_text(const rt_chunker_params *p, const rt_embedder *embedder, const char *text,
                  size_t len, rt_span **out, size_t *n_out) {
    char **titles = NULL;
    int st = rt_chunk_text_titled(p, embedder, text, len, out, &titles, n_out);
    for (size_t i = 0; titles && i < *n_out; i++)
        free(titles[i]);
    free(titles);
    return st;
}

int rt_chunk_text_titled(const rt_chunker_params *p, const rt_embedder *embedder,
                         const char *text, size_t len, rt_span **out, char ***titles,
                         size_t *n_out) {
    *out = NULL;
    *titles = NULL;
    *n_out = 0;
    if (p->chunk_tokens <= 0 || p->overlap_tokens < 0)
        return rt_error(RT_ERR_INVALID, "chunker: chunk_tokens must be > 0 and overlap >= 0");
    ctx c = {p, text, {0}};
    int st;
    switch (p->kind) {
    case RT_CHUNKER_FIXED:
        st = fixed_windows(&c, 0, len, (size_t)p->chunk_tokens, (size_t)p->overlap_tokens);
        break;
    case RT_CHUNKER_RECURSIVE:
        st = recursive(&c, 0, len, 0);
        if (!st) merge_tiny(&c);
        break;
    case RT_CHUNKER_SENTENCE: {
        spans s = {0};
        st = split_sentences_range(text, 0, len, &s);
        if (!st) st = pack(&c, &s, (size_t)p->chunk_tokens, by_words, 0);
        if (!st) merge_tiny(&c);
        free(s.a);
        break;
    }
    case RT_CHUNKER_SEMANTIC:
        st = semantic(&c, embedder, len);
        break;
    case RT_CHUNKER_AGENTIC:
        st = agentic(&c, len, titles);
        break;
    default:
        st = rt_error(RT_ERR_INVALID, "chunker: unknown kind %d", (int)p->kind);
    }
    if (st) {
        free(c.out.a);
        return st;
    }
    *out = c.out.a;
    *n_out = c.out.n;
    return RT_OK;
}
