/*
 * context.c — context assembly for `ask` (the steps are in context.h).
 */
#include "rag/context.h"

#include "core/error.h"
#include "core/strbuf.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TITLE_LINE_MAX 120

typedef struct span {
    size_t doc; /* index into the fetched documents */
    uint64_t start, end;
    float score, rerank;
    int64_t chunk_id; /* the best-scoring chunk in the span (its agentic title, if any) */
} span;

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') return false;
    return true;
}

static size_t line_end(const char *t, size_t len, size_t pos) {
    while (pos < len && t[pos] != '\n')
        pos++;
    return pos;
}

/* Markdown ATX heading level of line t[0, n) (1..6), 0 when it is not one; *title and *title_len
 * get the heading text. */
static int heading_level(const char *t, size_t n, const char **title, size_t *title_len) {
    size_t i = 0;
    while (i < n && i < 3 && t[i] == ' ')
        i++;
    int level = 0;
    while (i < n && t[i] == '#' && level < 7) {
        i++;
        level++;
    }
    if (level == 0 || level > 6 || (i < n && t[i] != ' ' && t[i] != '\t')) return 0;
    while (i < n && (t[i] == ' ' || t[i] == '\t'))
        i++;
    size_t e = n;
    while (e > i && (t[e - 1] == ' ' || t[e - 1] == '\t' || t[e - 1] == '\r'))
        e--;
    while (e > i && t[e - 1] == '#')
        e--;
    while (e > i && (t[e - 1] == ' ' || t[e - 1] == '\t'))
        e--;
    if (title) *title = t + i;
    if (title_len) *title_len = e - i;
    return level;
}

/* End of the document's title line when its first line is one (see context.h), else 0. */
static size_t title_line_end(const rt_stored_document *d) {
    size_t e = line_end(d->text, d->len, 0);
    if (e == 0 || e > TITLE_LINE_MAX || e >= d->len) return 0;
    if (heading_level(d->text, e, NULL, NULL)) return 0; /* a Markdown heading: the stack's */
    if (d->text[e - 1] == '.' || blank(d->text, e)) return 0;
    /* followed by a blank line, then a body: a document of one line (and trailing blank lines)
     * is all body, not a title */
    size_t next = e + 1, ne = line_end(d->text, d->len, next);
    if (next < d->len && !blank(d->text + next, ne - next)) return 0;
    if (ne >= d->len || blank(d->text + ne, d->len - ne)) return 0;
    return e;
}

static char *metadata_title(const rt_stored_document *d) {
    if (!d->metadata_json) return NULL;
    json_t *m = json_loads(d->metadata_json, 0, NULL);
    if (!m) return NULL;
    const char *t = json_string_value(json_object_get(m, "title"));
    char *r = t && *t ? rt_strdup(t) : NULL;
    json_decref(m);
    return r;
}

int rt_rag_heading_path(const rt_stored_document *doc, uint64_t pos, char **out) {
    *out = NULL;
    rt_strbuf b = {0};
    char *base = metadata_title(doc);
    size_t tl = title_line_end(doc);
    int st = RT_OK;
    if (base)
        st = rt_strbuf_puts(&b, base);
    else if (tl)
        st = rt_strbuf_append(&b, doc->text, tl);
    free(base);
    const char *stack[6];
    size_t stack_len[6];
    int depth = 0;
    for (size_t ls = 0; st == RT_OK && ls < doc->len && ls < pos;) {
        size_t le = line_end(doc->text, doc->len, ls);
        const char *h;
        size_t hl;
        int level = heading_level(doc->text + ls, le - ls, &h, &hl);
        if (level) {
            if (level > depth + 1) level = depth + 1; /* "# A" then "### B": B is A's child */
            stack[level - 1] = h;
            stack_len[level - 1] = hl;
            depth = level;
        }
        ls = le + 1;
    }
    /* headings the text at pos opens with are part of the text, not of the path above it */
    for (size_t ls = pos; ls < doc->len;) {
        size_t le = line_end(doc->text, doc->len, ls);
        int level = heading_level(doc->text + ls, le - ls, NULL, NULL);
        if (!level && !blank(doc->text + ls, le - ls)) break;
        if (level && level - 1 < depth) depth = level - 1;
        ls = le + 1;
    }
    for (int i = 0; st == RT_OK && i < depth; i++) {
        if (!stack_len[i]) continue;
        if (b.len == stack_len[i] && !memcmp(b.data, stack[i], b.len)) continue;
        if (b.len) st = rt_strbuf_puts(&b, " > ");
        if (st == RT_OK) st = rt_strbuf_append(&b, stack[i], stack_len[i]);
    }
    if (st != RT_OK) {
        rt_strbuf_free(&b);
        return st;
    }
    *out = rt_strbuf_take(&b);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

/* True when every line [s, e) touches is a heading (or the title line) and one is. */
static bool heading_only(const rt_stored_document *d, size_t tl, uint64_t s, uint64_t e) {
    size_t ls = s;
    while (ls > 0 && d->text[ls - 1] != '\n')
        ls--;
    bool any = false;
    while (ls < e && ls < d->len) {
        size_t le = line_end(d->text, d->len, ls);
        size_t a = ls > s ? ls : s, z = le < e ? le : e;
        if (z > a && !blank(d->text + a, z - a)) {
            bool head = (ls == 0 && tl) || heading_level(d->text + ls, le - ls, NULL, NULL);
            if (!head) return false;
            any = true;
        }
        ls = le + 1;
    }
    return any;
}

/* The end of the body that follows a heading-only chunk ending at e (e itself when none). */
static uint64_t extend_body(const rt_stored_document *d, uint64_t e) {
    size_t p = e;
    if (p > 0 && d->text[p - 1] != '\n') p = line_end(d->text, d->len, p);
    size_t cap = e + RT_CONTEXT_EXTEND_BYTES < d->len ? e + RT_CONTEXT_EXTEND_BYTES : d->len;
    size_t ls = p < d->len ? p + (d->text[p] == '\n') : p;
    size_t end = p;
    while (ls < d->len) {
        size_t le = line_end(d->text, d->len, ls);
        if (heading_level(d->text + ls, le - ls, NULL, NULL)) break;
        end = le;
        if (end >= cap) break;
        ls = le + 1;
    }
    if (end > cap) {
        /* cut at the last sentence end, else the last space, before cap */
        size_t cut = 0;
        for (size_t i = cap; i > e + 1 && !cut; i--)
            if ((d->text[i - 2] == '.' || d->text[i - 2] == '!' || d->text[i - 2] == '?') &&
                (d->text[i - 1] == ' ' || d->text[i - 1] == '\n'))
                cut = i - 1;
        for (size_t i = cap; i > e && !cut; i--)
            if (d->text[i - 1] == ' ' || d->text[i - 1] == '\n') cut = i - 1;
        end = cut ? cut : cap;
    }
    if (end <= e || blank(d->text + e, end - e)) return e;
    while (end > e && blank(d->text + end - 1, 1))
        end--;
    return end;
}

static int cmp_pos(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->doc != y->doc) return x->doc < y->doc ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static float rank_key(const span *s) {
    return isnan(s->rerank) ? s->score : s->rerank;
}

static int cmp_score(const void *a, const void *b) {
    const span *x = a, *y = b;
    float kx = rank_key(x), ky = rank_key(y);
    if (kx != ky) return kx > ky ? -1 : 1;
    return cmp_pos(a, b);
}

void rt_ask_source_clear(rt_ask_source *s) {
    if (!s) return;
    free(s->doc_id);
    free(s->path);
    free(s->title);
    free(s->text);
    memset(s, 0, sizeof *s);
}

/* Appends the chunk's agentic title (if any, and not already the path's last part) to *path. */
static int add_chunk_title(rt_collection *c, int64_t chunk_id, char **path) {
    char *t = NULL;
    RT_TRY(rt_collection_chunk_title(c, chunk_id, &t));
    if (!t) return RT_OK;
    size_t pl = strlen(*path), tl = strlen(t);
    if (pl >= tl && !strcmp(*path + pl - tl, t) && (pl == tl || (*path)[pl - tl - 1] == ' ')) {
        free(t);
        return RT_OK;
    }
    rt_strbuf b = {0};
    int st = rt_strbuf_puts(&b, *path);
    if (st == RT_OK && pl) st = rt_strbuf_puts(&b, " > ");
    if (st == RT_OK) st = rt_strbuf_puts(&b, t);
    free(t);
    char *r = st == RT_OK ? rt_strbuf_take(&b) : NULL;
    if (!r) {
        rt_strbuf_free(&b);
        return RT_ERR_NOMEM;
    }
    free(*path);
    *path = r;
    return RT_OK;
}

/* Longest prefix of text (cut at a word end) whose count fits budget; 0 when none. */
static size_t fit_prefix(const char *text, size_t len, int budget, rt_rag_count_fn count,
                         void *user) {
    size_t lo = 0, hi = len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (count(user, text, mid) <= budget)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo == len) return len;
    while (lo > 0 && text[lo] != ' ' && text[lo] != '\n')
        lo--;
    return lo;
}

int rt_rag_context_assemble(rt_collection *c, const rt_search_result *hits, const float *rerank,
                            size_t n_hits, int budget_tokens, rt_rag_count_fn count, void *user,
                            rt_ask_source **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (!n_hits) return RT_OK;
    rt_stored_document **docs = rt_calloc(n_hits, sizeof *docs);
    span *spans = rt_calloc(n_hits, sizeof *spans);
    size_t *title_end = rt_calloc(n_hits, sizeof *title_end);
    rt_ask_source *src = rt_calloc(n_hits, sizeof *src);
    size_t n_docs = 0, n_spans = 0, n_src = 0;
    int rc = docs && spans && title_end && src ? RT_OK : RT_ERR_NOMEM;
    for (size_t i = 0; rc == RT_OK && i < n_hits; i++) {
        size_t d = 0;
        while (d < n_docs && strcmp(docs[d]->id, hits[i].doc_id))
            d++;
        if (d == n_docs) {
            rc = rt_collection_get_document(c, hits[i].doc_id, &docs[d]);
            if (rc == RT_ERR_NOT_FOUND) { /* deleted since the search */
                rc = RT_OK;
                continue;
            }
            if (rc != RT_OK) break;
            title_end[d] = title_line_end(docs[d]);
            n_docs++;
        }
        const rt_stored_document *doc = docs[d];
        span s = {d,
                  hits[i].start,
                  hits[i].end,
                  hits[i].score,
                  rerank ? rerank[i] : NAN,
                  hits[i].chunk_id};
        if (s.end > doc->len) s.end = doc->len;
        if (s.start >= s.end) continue;
        if (heading_only(doc, title_end[d], s.start, s.end)) {
            uint64_t e = extend_body(doc, s.end);
            if (e == s.end) continue; /* a heading with no body is no source */
            s.end = e;
        }
        spans[n_spans++] = s;
    }
    if (rc == RT_OK && n_spans) {
        qsort(spans, n_spans, sizeof *spans, cmp_pos);
        size_t m = 0;
        for (size_t i = 1; i < n_spans; i++) {
            span *cur = &spans[m], *nx = &spans[i];
            const rt_stored_document *doc = docs[cur->doc];
            bool touch = nx->doc == cur->doc &&
                         (nx->start <= cur->end ||
                          blank(doc->text + cur->end, (size_t)(nx->start - cur->end)));
            if (touch) {
                if (nx->end > cur->end) cur->end = nx->end;
                if (nx->score > cur->score) {
                    cur->score = nx->score;
                    cur->chunk_id = nx->chunk_id;
                }
                if (!isnan(nx->rerank) && (isnan(cur->rerank) || nx->rerank > cur->rerank))
                    cur->rerank = nx->rerank;
            } else {
                spans[++m] = *nx;
            }
        }
        n_spans = m + 1;
        /* leading heading lines move into the title (the heading path at the body) */
        for (size_t i = 0; i < n_spans; i++) {
            const rt_stored_document *doc = docs[spans[i].doc];
            size_t ls = spans[i].start;
            while (ls < spans[i].end) {
                size_t le = line_end(doc->text, doc->len, ls);
                bool head = (ls == 0 && title_end[spans[i].doc]) ||
                            heading_level(doc->text + ls, le - ls, NULL, NULL) ||
                            blank(doc->text + ls, le - ls);
                if (!head) break;
                ls = le + 1;
            }
            if (ls < spans[i].end && (ls == spans[i].start || doc->text[ls - 1] == '\n'))
                spans[i].start = ls;
        }
        qsort(spans, n_spans, sizeof *spans, cmp_score);
    }
    int left = budget_tokens;
    for (size_t i = 0; rc == RT_OK && i < n_spans && left > RT_CONTEXT_SOURCE_OVERHEAD; i++) {
        const span *s = &spans[i];
        const rt_stored_document *doc = docs[s->doc];
        rt_ask_source *o = &src[n_src];
        rc = rt_rag_heading_path(doc, s->start, &o->title);
        if (rc == RT_OK) rc = add_chunk_title(c, s->chunk_id, &o->title);
        if (rc != RT_OK) break;
        const char *text = doc->text + s->start;
        size_t len = (size_t)(s->end - s->start);
        int cost_title = count(user, o->title, strlen(o->title)) + RT_CONTEXT_SOURCE_OVERHEAD;
        int cost = cost_title + count(user, text, len);
        if (cost > left) {
            if (n_src > 0 || cost_title >= left) {
                free(o->title);
                o->title = NULL;
                continue; /* a smaller one may still fit */
            }
            len = fit_prefix(text, len, left - cost_title, count, user);
            if (!len) {
                free(o->title);
                o->title = NULL;
                continue;
            }
            cost = cost_title + count(user, text, len);
        }
        o->number = (int)n_src + 1;
        o->doc_id = rt_strdup(doc->id);
        o->path = doc->path ? rt_strdup(doc->path) : NULL;
        o->text = rt_malloc(len + 1);
        if (o->text) {
            memcpy(o->text, text, len);
            o->text[len] = '\0';
        }
        o->start = s->start;
        o->end = s->start + len;
        o->score = s->score;
        o->rerank_score = s->rerank;
        n_src++;
        if (!o->doc_id || !o->text || (doc->path && !o->path)) rc = RT_ERR_NOMEM;
        left -= cost;
    }
    for (size_t d = 0; d < n_docs; d++)
        rt_stored_document_free(docs[d]);
    free(docs);
    free(spans);
    free(title_end);
    if (rc != RT_OK) {
        for (size_t i = 0; i <= n_src && src && i < n_hits; i++)
            rt_ask_source_clear(&src[i]);
        free(src);
        return rc;
    }
    if (!n_src) {
        free(src);
        src = NULL;
    }
    *out = src;
    *n_out = n_src;
    return RT_OK;
}
