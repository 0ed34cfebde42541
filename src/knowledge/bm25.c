/*
 * bm25.c — see bm25.h. Postings are per-term arrays of (chunk index, tf). A forward list of each
 * chunk's distinct terms makes deletes exact (df and length totals are updated).
 *
 * Two ways to search, with the same result (ids, scores bit for bit, ties to the smaller id):
 * - exhaustive, term at a time: every posting of every query term is scored into a dense
 *   accumulator and the best k go through a heap. Best when the query's lists are short.
 * - MaxScore (Turtle & Flood 1995), term at a time, for long lists (common terms of a large
 *   corpus): each term has an upper bound on its contribution to any chunk. Terms are scored in
 *   decreasing bound order into the same dense accumulator; before each, the k-th best partial
 *   score is a lower bound of the final k-th best, and once the bounds of the terms left sum to
 *   less, no chunk they alone contain can reach the top k: their lists are not walked. The chunks
 *   already scored that can still make it (partial + bounds left above the k-th) are few; only
 *   they are rescored, probing every list by galloping search, summing in term-id order as the
 *   exhaustive search does, so scores match bit for bit.
 *   Why this and not WAND / block-max WAND (document at a time): bench_bm25's queries, like RAG's,
 *   are OR queries of 2-3 terms, typically rare terms with a common one. The common term's bound
 *   (low idf) drops below the k-th score once the rare lists are scored, so its long list is only
 *   probed for a few candidates, while the rare lists go through the tight accumulator loop; a
 *   document-at-a-time walk (tried first) pays a cursor merge per posting and was barely faster
 *   than exhaustive scoring on 300k passages. The bounds need no index rebuild (below).
 * Bounds: BM25's per-posting factor tf / (tf + k1 (1 - b) + k1 b len / avglen) depends on the
 * corpus average length, which every add and delete moves. Bounds are stored for a reference
 * average (bound_avglen) and scaled at query time: the factor at avglen A is at most
 * max(1, A / A_ref) times the factor at A_ref. They are recomputed at load, compaction and each
 * doubling of the chunk count (amortized O(1) per posting) so the scale stays near 1. The file
 * format is unchanged (bounds are derived, never stored).
 */
#include "knowledge/bm25.h"
#include "knowledge/words.h"
#include "core/error.h"
#include "core/file.h"

#include <libstemmer.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BM25_MAGIC "RTBM25\0\0"
#define BM25_VERSION 2u /* 2: chunks carry their document's title key (older files rebuild) */
#define MAX_WORD 128
/* Title keys: "=" + the title's terms joined by spaces, for titles of 1..TITLE_MAX_TERMS terms */
#define TITLE_MAX_TERMS 6
#define TITLE_KEY_MAX 256
#define QUERY_MAX_STEMS 64

typedef struct posting {
    uint32_t idx; /* chunk index */
    uint32_t tf;
} posting;

typedef struct term {
    uint32_t off, len; /* in the arena */
    uint32_t n, cap;   /* postings */
    uint32_t df;       /* live chunks containing the term */
    posting *p;
    float bound; /* max BM25 length-normalized tf factor over p, at bound_avglen */
} term;

typedef struct surface {
    uint32_t off, len; /* in surf_arena */
    uint32_t value;    /* term id or SURF_STOP */
} surface;

#define SURF_STOP UINT32_MAX
#define SURF_MAX ((size_t)1 << 22) /* distinct surface forms cached at most */

struct rt_bm25 {
    rt_bm25_config cfg;
    char language[32];
    struct sb_stemmer *stemmer;
    /* chunks */
    int64_t *chunk_ids;
    uint32_t *chunk_len;
    uint8_t *deleted;
    uint32_t **fwd; /* distinct term ids per chunk */
    uint32_t *fwd_n;
    size_t n_chunks, cap_chunks, n_live;
    uint64_t total_len;
    /* terms */
    char *arena;
    size_t arena_len, arena_cap;
    term *terms;
    size_t n_terms, cap_terms;
    uint32_t *table; /* open addressing: term id + 1, 0 = empty */
    size_t table_cap;
    /* surface-form cache: folded word -> term id, or SURF_STOP for a stopword, so repeated
     * words skip the stopword lookup and the stemmer */
    surface *surf;
    size_t n_surf, cap_surf;
    char *surf_arena;
    size_t surf_arena_len, surf_arena_cap;
    uint32_t *surf_table; /* open addressing: surface index + 1, 0 = empty */
    size_t surf_table_cap;
    rt_bm25_scratch *own; /* scratch of rt_bm25_search (created on first use) */
    uint64_t applied_seq;
    double bound_avglen; /* average chunk length the term bounds were computed at (0: none) */
};

/* English stopwords (sorted for bsearch). */
static const char *const stopwords_en[] = {
    "a",      "about",  "above", "after",  "again",    "against",    "all",  "am",
    "an",     "and",    "any",   "are",    "as",       "at",         "be",   "because",
    "been",   "before", "being", "below",  "between",  "both",       "but",  "by",
    "can",    "could",  "did",   "do",     "does",     "doing",      "down", "during",
    "each",   "few",    "for",   "from",   "further",  "had",        "has",  "have",
    "having", "he",     "her",   "here",   "hers",     "herself",    "him",  "himself",
    "his",    "how",    "i",     "if",     "in",       "into",       "is",   "it",
    "its",    "itself", "just",  "me",     "more",     "most",       "my",   "myself",
    "no",     "nor",    "not",   "now",    "of",       "off",        "on",   "once",
    "only",   "or",     "other", "our",    "ours",     "ourselves",  "out",  "over",
    "own",    "same",   "she",   "should", "so",       "some",       "such", "than",
    "that",   "the",    "their", "theirs", "them",     "themselves", "then", "there",
    "these",  "they",   "this",  "those",  "through",  "to",         "too",  "under",
    "until",  "up",     "very",  "was",    "we",       "were",       "what", "when",
    "where",  "which",  "while", "who",    "whom",     "why",        "will", "with",
    "would",  "you",    "your",  "yours",  "yourself", "yourselves",
};

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_stopword(const char *w) {
    const char *key = w;
    return bsearch(&key, stopwords_en, sizeof stopwords_en / sizeof *stopwords_en,
                   sizeof *stopwords_en, cmp_str) != NULL;
}

const char *const *rt_bm25_stopwords(size_t *n) {
    *n = sizeof stopwords_en / sizeof *stopwords_en;
    return stopwords_en;
}

rt_bm25_config rt_bm25_default_config(void) {
    rt_bm25_config c = {1.2f, 0.75f, "english", true};
    return c;
}

int rt_bm25_new(const rt_bm25_config *cfg, rt_bm25 **out) {
    *out = NULL;
    rt_bm25_config c = cfg ? *cfg : rt_bm25_default_config();
    if (!(c.k1 >= 0) || !(c.b >= 0 && c.b <= 1))
        return rt_error(RT_ERR_INVALID, "bm25: k1 must be >= 0 and b in [0, 1] (got %g, %g)",
                        (double)c.k1, (double)c.b);
    rt_bm25 *b = rt_calloc(1, sizeof *b);
    if (!b) return RT_ERR_NOMEM;
    snprintf(b->language, sizeof b->language, "%s", c.language ? c.language : "none");
    c.language = b->language;
    b->cfg = c;
    if (strcmp(b->language, "none") != 0) {
        b->stemmer = sb_stemmer_new(b->language, "UTF_8");
        if (!b->stemmer) {
            rt_error(RT_ERR_INVALID, "bm25: no Snowball stemmer for language '%s'", b->language);
            free(b);
            return RT_ERR_INVALID;
        }
    }
    b->table_cap = 1024;
    b->table = rt_calloc(b->table_cap, sizeof *b->table);
    if (!b->table) {
        rt_bm25_free(b);
        return RT_ERR_NOMEM;
    }
    *out = b;
    return RT_OK;
}

void rt_bm25_free(rt_bm25 *b) {
    if (!b) return;
    if (b->stemmer) sb_stemmer_delete(b->stemmer);
    for (size_t i = 0; i < b->n_chunks; i++)
        free(b->fwd[i]);
    for (size_t i = 0; i < b->n_terms; i++)
        free(b->terms[i].p);
    free(b->fwd);
    free(b->fwd_n);
    free(b->chunk_ids);
    free(b->chunk_len);
    free(b->deleted);
    free(b->arena);
    free(b->terms);
    free(b->table);
    rt_bm25_scratch_free(b->own);
    free(b->surf);
    free(b->surf_arena);
    free(b->surf_table);
    free(b);
}

typedef struct analyze_ctx {
    rt_bm25 *b;
    const char *text;
    rt_term_fn fn;
    void *user;
} analyze_ctx;

static int analyze_word(void *user, size_t start, size_t end) {
    analyze_ctx *a = user;
    char buf[MAX_WORD];
    size_t n = rt_word_fold(a->text + start, end - start, buf, sizeof buf);
    if (n == 0) return 0; /* too long to be a useful term */
    if (a->b->cfg.stopwords && is_stopword(buf)) return 0;
    if (a->b->stemmer) {
        const sb_symbol *s = sb_stemmer_stem(a->b->stemmer, (const sb_symbol *)buf, (int)n);
        if (s) return a->fn(a->user, (const char *)s, (size_t)sb_stemmer_length(a->b->stemmer));
    }
    return a->fn(a->user, buf, n);
}

int rt_bm25_analyze(rt_bm25 *b, const char *text, size_t len, rt_term_fn fn, void *user) {
    analyze_ctx a = {b, text, fn, user};
    return rt_words_split(text, len, analyze_word, &a);
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* Returns the term id of s, or -1. */
static int64_t term_find(const rt_bm25 *b, const char *s, size_t n) {
    size_t mask = b->table_cap - 1;
    for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        uint32_t v = b->table[i];
        if (!v) return -1;
        const term *t = &b->terms[v - 1];
        if (t->len == n && memcmp(b->arena + t->off, s, n) == 0) return v - 1;
    }
}

static void table_insert(rt_bm25 *b, uint32_t id) {
    const term *t = &b->terms[id];
    size_t mask = b->table_cap - 1;
    size_t i = hash_bytes(b->arena + t->off, t->len) & mask;
    while (b->table[i])
        i = (i + 1) & mask;
    b->table[i] = id + 1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return RT_OK;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    size_t bytes;
    if (!rt_mul_size(c, elem, &bytes)) return rt_error(RT_ERR_RANGE, "bm25: size overflow");
    void *q = rt_realloc(*p, bytes);
    if (!q) return RT_ERR_NOMEM;
    *p = q;
    *cap = c;
    return RT_OK;
}

/* Returns the id of term s, adding it if new; -1 on allocation failure. */
static int64_t term_intern(rt_bm25 *b, const char *s, size_t n) {
    int64_t id = term_find(b, s, n);
    if (id >= 0) return id;
    if (b->n_terms >= UINT32_MAX - 1 || b->arena_len + n > UINT32_MAX) {
        rt_error(RT_ERR_RANGE, "bm25: too many terms");
        return -1;
    }
    if (grow((void **)&b->terms, &b->cap_terms, b->n_terms + 1, sizeof *b->terms)) return -1;
    if (grow((void **)&b->arena, &b->arena_cap, b->arena_len + n, 1)) return -1;
    if ((b->n_terms + 1) * 2 > b->table_cap) {
        size_t cap = b->table_cap * 2;
        uint32_t *t = rt_calloc(cap, sizeof *t);
        if (!t) return -1;
        free(b->table);
        b->table = t;
        b->table_cap = cap;
        for (size_t i = 0; i < b->n_terms; i++)
            table_insert(b, (uint32_t)i);
    }
    memcpy(b->arena + b->arena_len, s, n);
    term *t = &b->terms[b->n_terms];
    memset(t, 0, sizeof *t);
    t->off = (uint32_t)b->arena_len;
    t->len = (uint32_t)n;
    b->arena_len += n;
    table_insert(b, (uint32_t)b->n_terms);
    return (int64_t)b->n_terms++;
}

typedef struct collect_ctx {
    const rt_bm25 *b;
    rt_bm25 *writable;          /* b when indexing (terms interned, surface cache filled) */
    struct sb_stemmer *stemmer; /* the caller's (queries on a shared index) or b's */
    uint32_t *ids;
    size_t n, cap;
    bool intern; /* add unknown terms (indexing) or skip them (queries) */
    int status;
} collect_ctx;

static int push_id(collect_ctx *c, uint32_t id) {
    if (grow((void **)&c->ids, &c->cap, c->n + 1, sizeof *c->ids)) {
        c->status = RT_ERR_NOMEM;
        return 1;
    }
    c->ids[c->n++] = id;
    return 0;
}

/* Caches folded word w -> value (best effort: silently skipped when full or out of memory). */
static void surface_put(rt_bm25 *b, const char *w, size_t n, uint32_t value) {
    if (b->n_surf >= SURF_MAX) return;
    if ((b->n_surf + 1) * 2 > b->surf_table_cap) {
        size_t cap = b->surf_table_cap ? b->surf_table_cap * 2 : 4096;
        uint32_t *t = calloc(cap, sizeof *t);
        if (!t) return;
        for (size_t i = 0; i < b->n_surf; i++) {
            const surface *e = &b->surf[i];
            size_t j = hash_bytes(b->surf_arena + e->off, e->len) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = (uint32_t)i + 1;
        }
        free(b->surf_table);
        b->surf_table = t;
        b->surf_table_cap = cap;
    }
    size_t c1 = b->cap_surf, c2 = b->surf_arena_cap;
    if (grow((void **)&b->surf, &c1, b->n_surf + 1, sizeof *b->surf) ||
        grow((void **)&b->surf_arena, &c2, b->surf_arena_len + n, 1)) {
        rt_error_clear();
        return;
    }
    b->cap_surf = c1;
    b->surf_arena_cap = c2;
    memcpy(b->surf_arena + b->surf_arena_len, w, n);
    surface *e = &b->surf[b->n_surf];
    e->off = (uint32_t)b->surf_arena_len;
    e->len = (uint32_t)n;
    e->value = value;
    b->surf_arena_len += n;
    size_t mask = b->surf_table_cap - 1, j = hash_bytes(w, n) & mask;
    while (b->surf_table[j])
        j = (j + 1) & mask;
    b->surf_table[j] = (uint32_t)b->n_surf + 1;
    b->n_surf++;
}

static const surface *surface_get(const rt_bm25 *b, const char *w, size_t n) {
    if (!b->surf_table) return NULL;
    size_t mask = b->surf_table_cap - 1;
    for (size_t j = hash_bytes(w, n) & mask;; j = (j + 1) & mask) {
        uint32_t v = b->surf_table[j];
        if (!v) return NULL;
        const surface *e = &b->surf[v - 1];
        if (e->len == n && memcmp(b->surf_arena + e->off, w, n) == 0) return e;
    }
}

typedef struct word_ctx {
    collect_ctx *c;
    const char *text;
} word_ctx;

/* The analysis chain of analyze_word, producing term ids through the surface cache. */
static int collect_word(void *user, size_t start, size_t end) {
    word_ctx *wc = user;
    collect_ctx *c = wc->c;
    const rt_bm25 *b = c->b;
    char buf[MAX_WORD];
    size_t n = rt_word_fold(wc->text + start, end - start, buf, sizeof buf);
    if (n == 0) return 0;
    const surface *e = surface_get(b, buf, n);
    if (e) return e->value == SURF_STOP ? 0 : push_id(c, e->value);
    if (b->cfg.stopwords && is_stopword(buf)) {
        if (c->writable) surface_put(c->writable, buf, n, SURF_STOP);
        return 0;
    }
    const char *term = buf;
    size_t tn = n;
    if (c->stemmer) {
        const sb_symbol *st = sb_stemmer_stem(c->stemmer, (const sb_symbol *)buf, (int)n);
        if (st) {
            term = (const char *)st;
            tn = (size_t)sb_stemmer_length(c->stemmer);
        }
    }
    int64_t id = c->intern ? term_intern(c->writable, term, tn) : term_find(b, term, tn);
    if (id < 0) {
        if (!c->intern) return 0;
        c->status = rt_last_error_code() ? rt_last_error_code() : RT_ERR_NOMEM;
        return 1;
    }
    if (c->writable) surface_put(c->writable, buf, n, (uint32_t)id);
    return push_id(c, (uint32_t)id);
}

static int collect_ids(const char *text, size_t len, collect_ctx *c) {
    word_ctx wc = {c, text};
    return rt_words_split(text, len, collect_word, &wc);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The terms of a text in order for title keys: folded and stemmed like indexed terms, but
 * stopwords kept (the title "LISP A" must not become "Lisp"); at most QUERY_MAX_STEMS. */
typedef struct stems {
    struct sb_stemmer *stemmer;
    bool stopwords; /* mark stopwords (a key of stopwords only is never made) */
    bool stop[QUERY_MAX_STEMS];
    const char *text;
    char buf[QUERY_MAX_STEMS * 24];
    size_t off[QUERY_MAX_STEMS], len[QUERY_MAX_STEMS], n, used;
} stems;

static int stem_word(void *user, size_t start, size_t end) {
    stems *s = user;
    char buf[MAX_WORD];
    size_t n = rt_word_fold(s->text + start, end - start, buf, sizeof buf);
    if (n == 0) return 0;
    bool stop = s->stopwords && is_stopword(buf);
    const char *t = buf;
    if (s->stemmer) {
        const sb_symbol *st = sb_stemmer_stem(s->stemmer, (const sb_symbol *)buf, (int)n);
        if (st) {
            t = (const char *)st;
            n = (size_t)sb_stemmer_length(s->stemmer);
        }
    }
    if (s->n == QUERY_MAX_STEMS || s->used + n > sizeof s->buf) return 1; /* full: stop */
    memcpy(s->buf + s->used, t, n);
    s->off[s->n] = s->used;
    s->stop[s->n] = stop;
    s->len[s->n++] = n;
    s->used += n;
    return 0;
}

static void stems_of(const rt_bm25 *b, struct sb_stemmer *stemmer, const char *text, size_t len,
                     stems *s) {
    s->stopwords = b->cfg.stopwords;
    s->stemmer = stemmer;
    s->text = text;
    s->n = s->used = 0;
    rt_words_split(text, len, stem_word, s);
}

/* The title key of terms [i, j) of s into key (capacity TITLE_KEY_MAX); its length, or 0 (none:
 * no terms, too many, too long, or stopwords only — "IS" must not match every "What is ...?"). */
static size_t title_key(const stems *s, size_t i, size_t j, char *key) {
    if (j <= i || j - i > TITLE_MAX_TERMS) return 0;
    bool content = false;
    for (size_t k = i; k < j; k++)
        content |= !s->stop[k];
    if (!content) return 0;
    size_t n = 0;
    key[n++] = '=';
    for (size_t k = i; k < j; k++) {
        if (n + s->len[k] + 1 > TITLE_KEY_MAX) return 0;
        if (k > i) key[n++] = ' ';
        memcpy(key + n, s->buf + s->off[k], s->len[k]);
        n += s->len[k];
    }
    return n;
}

/* ---- score bounds (MaxScore) --------------------------------------------------------------- */

/* Title keys (see rt_bm25_add_titled) start with '=', which no analyzed word does. */
static bool is_title_key(const rt_bm25 *b, const term *t) {
    return t->len > 0 && b->arena[t->off] == '=';
}

/* BM25's tf factor of one posting at average length avglen (the score is idf (k1+1) times it). */
static double tf_factor(const rt_bm25 *b, uint32_t tf, uint32_t len, double avglen) {
    double k1 = b->cfg.k1, bb = b->cfg.b;
    return tf / (tf + k1 * (1 - bb) + (avglen > 0 ? k1 * bb * len / avglen : 0));
}

/* Folds posting i of t into its bound. */
static void bound_push(rt_bm25 *b, term *t, uint32_t i) {
    float f = is_title_key(b, t)
                  ? (float)(1.0 / (1.0 + b->cfg.k1)) /* tf 1, no length: the score is idf */
                  : (float)tf_factor(b, t->p[i].tf, b->chunk_len[t->p[i].idx], b->bound_avglen);
    if (f > t->bound || i == 0) t->bound = f;
}

/* Recomputes every bound at the current average length. */
static void bounds_refresh(rt_bm25 *b) {
    b->bound_avglen = b->n_live ? (double)b->total_len / (double)b->n_live : 0;
    for (size_t k = 0; k < b->n_terms; k++) {
        term *t = &b->terms[k];
        t->bound = 0;
        for (uint32_t i = 0; i < t->n; i++)
            bound_push(b, t, i);
    }
}

int rt_bm25_add(rt_bm25 *b, int64_t chunk_id, const char *text, size_t len) {
    return rt_bm25_add_titled(b, chunk_id, text, len, NULL, 0);
}

int rt_bm25_add_titled(rt_bm25 *b, int64_t chunk_id, const char *text, size_t len,
                       const char *title, size_t title_len) {
    if (b->n_chunks && chunk_id <= b->chunk_ids[b->n_chunks - 1])
        return rt_error(RT_ERR_INVALID, "bm25: chunk id %lld added out of order",
                        (long long)chunk_id);
    if (b->n_chunks >= UINT32_MAX - 1) return rt_error(RT_ERR_RANGE, "bm25: too many chunks");
    size_t need = b->n_chunks + 1, cap = b->cap_chunks;
    size_t c1 = cap, c2 = cap, c3 = cap, c4 = cap, c5 = cap;
    if (grow((void **)&b->chunk_ids, &c1, need, sizeof *b->chunk_ids) ||
        grow((void **)&b->chunk_len, &c2, need, sizeof *b->chunk_len) ||
        grow((void **)&b->deleted, &c3, need, 1) ||
        grow((void **)&b->fwd, &c4, need, sizeof *b->fwd) ||
        grow((void **)&b->fwd_n, &c5, need, sizeof *b->fwd_n))
        return RT_ERR_NOMEM;
    b->cap_chunks = c1;
    collect_ctx c = {.b = b, .writable = b, .stemmer = b->stemmer, .intern = true};
    collect_ids(text, len, &c);
    size_t has_key = 0;
    if (!c.status && title && title_len) {
        stems ts;
        stems_of(b, b->stemmer, title, title_len, &ts);
        char key[TITLE_KEY_MAX];
        size_t kn = title_key(&ts, 0, ts.n, key);
        if (kn) {
            int64_t id = term_intern(b, key, kn);
            if (id < 0)
                c.status = rt_last_error_code() ? rt_last_error_code() : RT_ERR_NOMEM;
            else if (!push_id(&c, (uint32_t)id))
                has_key = 1;
        }
    }
    if (c.status) {
        free(c.ids);
        return c.status;
    }
    uint32_t idx = (uint32_t)b->n_chunks;
    if (c.n) qsort(c.ids, c.n, sizeof *c.ids, cmp_u32);
    size_t n_distinct = 0;
    for (size_t i = 0; i < c.n;) {
        size_t j = i;
        while (j < c.n && c.ids[j] == c.ids[i])
            j++;
        term *t = &b->terms[c.ids[i]];
        size_t pcap = t->cap;
        if (grow((void **)&t->p, &pcap, (size_t)t->n + 1, sizeof *t->p)) {
            free(c.ids);
            return RT_ERR_NOMEM; /* earlier terms of this chunk stay; chunk is not registered */
        }
        t->cap = (uint32_t)pcap;
        t->p[t->n].idx = idx;
        t->p[t->n].tf = (uint32_t)(j - i);
        t->n++;
        t->df++;
        c.ids[n_distinct++] = c.ids[i];
        i = j;
    }
    b->chunk_ids[idx] = chunk_id;
    size_t n_terms = c.n - has_key; /* the title is not part of the text's length */
    b->chunk_len[idx] = (uint32_t)(n_terms > UINT32_MAX ? UINT32_MAX : n_terms);
    b->deleted[idx] = 0;
    b->fwd[idx] = c.ids;
    b->fwd_n[idx] = (uint32_t)n_distinct;
    b->n_chunks++;
    b->n_live++;
    b->total_len += b->chunk_len[idx];
    if (b->bound_avglen <= 0 || (b->n_chunks & (b->n_chunks - 1)) == 0) {
        bounds_refresh(b);
    } else {
        for (size_t i = 0; i < n_distinct; i++) {
            term *t = &b->terms[c.ids[i]];
            bound_push(b, t, t->n - 1);
        }
    }
    return RT_OK;
}

/* Index of chunk_id, or -1. */
static int64_t chunk_index(const rt_bm25 *b, int64_t chunk_id) {
    size_t lo = 0, hi = b->n_chunks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->chunk_ids[mid] < chunk_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->n_chunks && b->chunk_ids[lo] == chunk_id ? (int64_t)lo : -1;
}

int rt_bm25_remove(rt_bm25 *b, int64_t chunk_id) {
    int64_t idx = chunk_index(b, chunk_id);
    if (idx < 0 || b->deleted[idx]) return RT_OK;
    b->deleted[idx] = 1;
    for (uint32_t i = 0; i < b->fwd_n[idx]; i++)
        b->terms[b->fwd[idx][i]].df--;
    b->n_live--;
    b->total_len -= b->chunk_len[idx];
    return RT_OK;
}

static float idf(const rt_bm25 *b, uint32_t df) {
    double n = (double)b->n_live;
    return (float)log(1.0 + (n - df + 0.5) / (df + 0.5));
}

/* Average chunk length of the corpus: the index's, or that of the statistics given. */
static float corpus_avglen(const rt_bm25 *b, const rt_bm25_stats *st) {
    if (st) return st->n_chunks ? (float)((double)st->total_len / (double)st->n_chunks) : 0.0f;
    return (float)((double)b->total_len / (double)b->n_live);
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* idf of t: from the index, or from the statistics given (t is found there by its text). */
static float term_idf(const rt_bm25 *b, const rt_bm25_stats *st, const term *t) {
    if (!st) return idf(b, t->df);
    char key[MAX_WORD * 4 + 1];
    size_t n = t->len < sizeof key - 1 ? t->len : sizeof key - 1;
    memcpy(key, b->arena + t->off, n);
    key[n] = '\0';
    const char *k = key;
    char **hit = bsearch(&k, st->terms, st->n_terms, sizeof *st->terms, cmp_cstr);
    int64_t df = hit ? st->df[hit - st->terms] : (int64_t)t->df;
    double nn = (double)st->n_chunks;
    return (float)log(1.0 + (nn - (double)df + 0.5) / ((double)df + 0.5));
}

typedef struct score_params {
    float norm0, norm1; /* k1 (1 - b), k1 b / avglen */
} score_params;

/* One query term during a MaxScore search. */
typedef struct qterm {
    const posting *p;
    uint32_t n, pos; /* postings, probe cursor */
    float w;         /* idf * (k1 + 1), as the exhaustive search computes it */
    double ub;       /* upper bound of the term's contribution to any chunk */
    uint32_t qi;     /* position in the query's term-id order (the order scores are summed in) */
    score_params sp; /* the term's length normalization (none for title keys) */
} qterm;

struct rt_bm25_scratch {
    float *acc;        /* (cap) score per chunk, 0 between searches */
    uint32_t *touched; /* (cap) chunks with a score */
    size_t cap;
    struct sb_stemmer *stemmer; /* for `language` */
    char language[32];
    uint32_t *cand; /* (cap) MaxScore: chunks to rescore */
    float *fin;     /* (cap) their scores */
    qterm *qt;      /* (qcap) MaxScore: query terms, by decreasing bound */
    double *suffix; /* (suffix_cap) suffix[i] = sum of qt[i..m).ub */
    size_t qcap, suffix_cap;
    const rt_bm25_stats *stats; /* the corpus's statistics (sharded search) or NULL: the index's */
};

int rt_bm25_scratch_new(rt_bm25_scratch **out) {
    *out = rt_calloc(1, sizeof **out);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

void rt_bm25_scratch_free(rt_bm25_scratch *s) {
    if (!s) return;
    free(s->acc);
    free(s->touched);
    if (s->stemmer) sb_stemmer_delete(s->stemmer);
    free(s->qt);
    free(s->suffix);
    free(s->cand);
    free(s->fin);
    free(s);
}

/* Sizes s for b: an accumulator per chunk and a stemmer of b's language (a Snowball stemmer
 * keeps state, so each searching thread needs its own). */
static int scratch_fit(const rt_bm25 *b, rt_bm25_scratch *s) {
    if (s->cap < b->n_chunks) {
        float *acc = rt_calloc(b->n_chunks, sizeof *acc);
        uint32_t *touched = rt_malloc(b->n_chunks * sizeof *touched);
        uint32_t *cand = rt_malloc(b->n_chunks * sizeof *cand);
        float *fin = rt_malloc(b->n_chunks * sizeof *fin);
        if (!acc || !touched || !cand || !fin) {
            free(acc);
            free(touched);
            free(cand);
            free(fin);
            return RT_ERR_NOMEM;
        }
        free(s->acc);
        free(s->touched);
        free(s->cand);
        free(s->fin);
        s->acc = acc;
        s->touched = touched;
        s->cand = cand;
        s->fin = fin;
        s->cap = b->n_chunks;
    }
    if (b->stemmer && (!s->stemmer || strcmp(s->language, b->language) != 0)) {
        if (s->stemmer) sb_stemmer_delete(s->stemmer);
        s->stemmer = sb_stemmer_new(b->language, "UTF_8");
        if (!s->stemmer) return RT_ERR_NOMEM; /* the language worked for b */
        snprintf(s->language, sizeof s->language, "%s", b->language);
    }
    return RT_OK;
}

/* Live chunks holding title key (kn bytes, key[kn] writable): from the corpus statistics st
 * when they list it (sharded search), else this index's (0 for an unknown key). */
static int64_t key_df(const rt_bm25 *b, const rt_bm25_stats *st, char *key, size_t kn,
                      int64_t id) {
    if (st) {
        key[kn] = '\0';
        const char *k = key;
        char **hit = bsearch(&k, st->terms, st->n_terms, sizeof *st->terms, cmp_cstr);
        if (hit) return st->df[hit - st->terms];
    }
    return id < 0 ? 0 : (int64_t)b->terms[id].df;
}

/* Distinct known query term ids into c (sorted); stemmer: b's, or a searching thread's. st: the
 * corpus's statistics (sharded search; NULL: the index's), which say which title keys are
 * titles somewhere in the corpus, so every shard applies the longest-match rule to the same
 * matches and keeps those it holds. */
static int query_terms(const rt_bm25 *b, struct sb_stemmer *stemmer, const rt_bm25_stats *st,
                       const char *query, size_t len, collect_ctx *c) {
    memset(c, 0, sizeof *c);
    c->b = b;
    c->stemmer = stemmer;
    collect_ids(query, len, c);
    if (c->status) return c->status;
    /* title keys: each longest run of 1..TITLE_MAX_TERMS consecutive query terms that is a
     * title ("programming language", not also "language", for "What is a programming
     * language?"); a run inside a matching run of more content terms is dropped. A title is
     * a key with live chunks (a deleted document's title no longer matches, as in a fresh
     * index) */
    stems qs;
    stems_of(b, stemmer, query, len, &qs);
    char key[TITLE_KEY_MAX + 1];
    int64_t hit_id[QUERY_MAX_STEMS * 2];
    size_t hit_i[QUERY_MAX_STEMS * 2], hit_j[QUERY_MAX_STEMS * 2], hit_w[QUERY_MAX_STEMS * 2];
    size_t n_hits = 0;
    for (size_t i = 0; i < qs.n; i++)
        for (size_t j = i + 1; j <= qs.n && j - i <= TITLE_MAX_TERMS; j++) {
            size_t kn = title_key(&qs, i, j, key);
            int64_t id = kn ? term_find(b, key, kn) : -1;
            if (!kn || key_df(b, st, key, kn, id) <= 0 || n_hits == QUERY_MAX_STEMS * 2)
                continue;
            size_t words = 0; /* content terms: "a programming language" is not longer */
            for (size_t k = i; k < j; k++)
                words += !qs.stop[k];
            hit_id[n_hits] = id; /* -1: a title of another shard only */
            hit_i[n_hits] = i;
            hit_j[n_hits] = j;
            hit_w[n_hits++] = words;
        }
    for (size_t h = 0; h < n_hits; h++) {
        bool inside = false;
        for (size_t o = 0; o < n_hits && !inside; o++)
            inside = hit_i[o] <= hit_i[h] && hit_j[h] <= hit_j[o] && hit_w[o] > hit_w[h];
        if (!inside && hit_id[h] >= 0 && push_id(c, (uint32_t)hit_id[h])) return c->status;
    }
    if (c->n) qsort(c->ids, c->n, sizeof *c->ids, cmp_u32);
    size_t m = 0;
    for (size_t i = 0; i < c->n; i++)
        if (m == 0 || c->ids[m - 1] != c->ids[i]) c->ids[m++] = c->ids[i];
    c->n = m;
    return RT_OK;
}

/* One posting's score: the single expression both search strategies use, so their sums agree
 * bit for bit. */
static inline float posting_score(float w, uint32_t tf, uint32_t len, float norm0, float norm1) {
    float f = (float)tf;
    return w * f / (f + norm0 + norm1 * (float)len);
}

static score_params score_params_of(const rt_bm25 *b, const rt_bm25_stats *st) {
    const float k1 = b->cfg.k1, bb = b->cfg.b;
    const float avglen = corpus_avglen(b, st);
    score_params sp = {k1 * (1 - bb), avglen > 0 ? k1 * bb / avglen : 0};
    return sp;
}

/* A title key's posting (tf 1) scores idf: the tf factor 1 / (1 + k1), no length term. */
static score_params term_params(const rt_bm25 *b, const term *t, score_params sp) {
    if (is_title_key(b, t)) sp = (score_params){b->cfg.k1, 0};
    return sp;
}

/* Term at a time over every posting of the query's terms (q: distinct term ids, sorted). */
static int search_exhaustive(const rt_bm25 *b, rt_bm25_scratch *s, const collect_ctx *q, int k,
                             const rt_idset *allowed, rt_hit *out) {
    float *acc = s->acc;
    uint32_t *touched = s->touched;
    size_t n_touched = 0;
    const score_params sp = score_params_of(b, s->stats);
    const uint32_t *clen = b->chunk_len;
    const uint8_t *del = b->deleted;
    for (size_t qi = 0; qi < q->n; qi++) {
        const term *t = &b->terms[q->ids[qi]];
        if (t->df == 0) continue;
        const float w = term_idf(b, s->stats, t) * (b->cfg.k1 + 1);
        const score_params tp = term_params(b, t, sp);
        const posting *p = t->p;
        for (uint32_t i = 0; i < t->n; i++) {
            uint32_t idx = p[i].idx;
            if (del[idx]) continue;
            if (allowed && !rt_idset_has(allowed, b->chunk_ids[idx])) continue;
            float score = posting_score(w, p[i].tf, clen[idx], tp.norm0, tp.norm1);
            if (acc[idx] == 0) touched[n_touched++] = idx;
            acc[idx] += score;
        }
    }
    rt_topk top = {out, 0, k};
    for (size_t i = 0; i < n_touched; i++) {
        uint32_t idx = touched[i];
        rt_topk_push(&top, b->chunk_ids[idx], acc[idx]);
        acc[idx] = 0;
    }
    return rt_topk_sort(&top);
}

/* First position >= at in p[0..n) whose chunk index is >= target (galloping, then binary). */
static uint32_t advance_to(const posting *p, uint32_t n, uint32_t at, uint32_t target) {
    if (at >= n || p[at].idx >= target) return at;
    uint32_t lo = at, step = 1, hi = at + 1;
    while (hi < n && p[hi].idx < target) {
        lo = hi;
        step *= 2;
        hi = n - at > step ? at + step : n;
    }
    lo++; /* p[lo - 1].idx < target; the answer is in [lo, hi] */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p[mid].idx < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_qterm_ub_desc(const void *x, const void *y) {
    const qterm *a = x, *b = y;
    return (a->ub < b->ub) - (a->ub > b->ub);
}

/* The k-th best score among touched chunks' accumulators, or -1 when fewer than k. */
static double kth_best(const float *acc, const uint32_t *touched, size_t n_touched, int k,
                       rt_hit *heap) {
    if (n_touched < (size_t)k) return -1;
    rt_topk top = {heap, 0, k};
    for (size_t i = 0; i < n_touched; i++)
        rt_topk_push(&top, touched[i], acc[touched[i]]);
    return top.h[0].score;
}

/* MaxScore, term at a time (see the top of this file). Bounds and the pruning tests carry a
 * relative slack (slack) covering float rounding of scores and of sums taken in another order,
 * so a chunk is dropped only when its score is certainly below the k-th best: exact, ties
 * included. out (capacity k) doubles as the heap for the k-th best score. */
static int search_maxscore(const rt_bm25 *b, rt_bm25_scratch *s, const collect_ctx *q, int k,
                           const rt_idset *allowed, rt_hit *out) {
    RT_TRY(grow((void **)&s->qt, &s->qcap, q->n, sizeof *s->qt));
    RT_TRY(grow((void **)&s->suffix, &s->suffix_cap, q->n + 1, sizeof *s->suffix));
    const score_params sp = score_params_of(b, s->stats);
    const double avglen = corpus_avglen(b, s->stats);
    const double scale0 = b->bound_avglen > 0 && avglen > b->bound_avglen
                              ? avglen / b->bound_avglen
                              : 1.0; /* bounds at bound_avglen -> at avglen */
    const double slack = 1 + 1e-6 * (double)(q->n + 8);
    qterm *qt = s->qt;
    size_t m = 0;
    for (size_t qi = 0; qi < q->n; qi++) {
        const term *t = &b->terms[q->ids[qi]];
        if (t->df == 0) continue;
        qterm *e = &qt[m++];
        e->p = t->p;
        e->n = t->n;
        e->pos = 0;
        e->w = term_idf(b, s->stats, t) * (b->cfg.k1 + 1);
        e->sp = term_params(b, t, sp);
        e->ub = (double)t->bound * (double)e->w * scale0 * slack;
        e->qi = (uint32_t)qi;
    }
    qsort(qt, m, sizeof *qt, cmp_qterm_ub_desc);
    double *suffix = s->suffix;
    suffix[m] = 0;
    for (size_t i = m; i-- > 0;)
        suffix[i] = suffix[i + 1] + qt[i].ub;
    float *acc = s->acc;
    uint32_t *touched = s->touched;
    size_t n_touched = 0;
    const uint32_t *clen = b->chunk_len;
    const uint8_t *del = b->deleted;
    /* Walk whole lists while the terms left could still bring in a chunk of their own. */
    double theta = -1;
    size_t walked = 0;
    for (; walked < m; walked++) {
        if (walked > 0) {
            theta = kth_best(acc, touched, n_touched, k, out);
            if (theta >= 0 && suffix[walked] * slack < theta) break;
        }
        const qterm *e = &qt[walked];
        for (uint32_t i = 0; i < e->n; i++) {
            uint32_t idx = e->p[i].idx;
            if (del[idx]) continue;
            if (allowed && !rt_idset_has(allowed, b->chunk_ids[idx])) continue;
            float score = posting_score(e->w, e->p[i].tf, clen[idx], e->sp.norm0, e->sp.norm1);
            if (acc[idx] == 0) touched[n_touched++] = idx;
            acc[idx] += score;
        }
    }
    if (walked == m) theta = kth_best(acc, touched, n_touched, k, out);
    /* Candidates: chunks whose partial score plus the bounds of the lists not walked can reach
     * theta; the accumulators are cleared on the way. */
    uint32_t *cand = s->cand;
    float *fin = s->fin;
    size_t n_cand = 0;
    for (size_t i = 0; i < n_touched; i++) {
        uint32_t idx = touched[i];
        if (theta < 0 || ((double)acc[idx] * slack + suffix[walked]) * slack >= theta)
            cand[n_cand++] = idx;
        acc[idx] = 0;
    }
    qsort(cand, n_cand, sizeof *cand, cmp_u32);
    /* Rescore the candidates over every list, in term-id order. */
    for (size_t c = 0; c < n_cand; c++)
        fin[c] = 0;
    for (size_t qi = 0; qi < q->n; qi++) {
        const qterm *e = NULL;
        for (size_t i = 0; i < m && !e; i++)
            if (qt[i].qi == qi) e = &qt[i];
        if (!e) continue;
        uint32_t pos = 0;
        for (size_t c = 0; c < n_cand; c++) {
            pos = advance_to(e->p, e->n, pos, cand[c]);
            if (pos >= e->n) break;
            if (e->p[pos].idx == cand[c])
                fin[c] += posting_score(e->w, e->p[pos].tf, clen[cand[c]], e->sp.norm0,
                                        e->sp.norm1);
        }
    }
    rt_topk top = {out, 0, k};
    for (size_t c = 0; c < n_cand; c++)
        rt_topk_push(&top, b->chunk_ids[cand[c]], fin[c]);
    return rt_topk_sort(&top);
}

/* Below this many postings over the query's lists, the term-at-a-time loop is as fast. */
#define MAXSCORE_MIN_POSTINGS 4096

int rt_bm25_search_strategy(const rt_bm25 *b, rt_bm25_scratch *s, rt_bm25_strategy how,
                            const char *query, size_t len, int k, const rt_idset *allowed,
                            rt_hit *out) {
    if (k <= 0) return 0;
    RT_TRY(scratch_fit(b, s));
    collect_ctx q;
    RT_TRY(query_terms(b, b->stemmer ? s->stemmer : NULL, s->stats, query, len, &q));
    if (q.n == 0 || b->n_live == 0) {
        free(q.ids);
        return 0;
    }
    if (how == RT_BM25_AUTO) {
        size_t total = 0;
        for (size_t i = 0; i < q.n; i++)
            total += b->terms[q.ids[i]].n;
        how = total >= MAXSCORE_MIN_POSTINGS ? RT_BM25_MAXSCORE : RT_BM25_EXHAUSTIVE;
    }
    int n = how == RT_BM25_MAXSCORE ? search_maxscore(b, s, &q, k, allowed, out)
                                    : search_exhaustive(b, s, &q, k, allowed, out);
    free(q.ids);
    return n;
}

int rt_bm25_search_with(const rt_bm25 *b, rt_bm25_scratch *s, const char *query, size_t len, int k,
                        const rt_idset *allowed, rt_hit *out) {
    return rt_bm25_search_strategy(b, s, RT_BM25_AUTO, query, len, k, allowed, out);
}

void rt_bm25_scratch_use_stats(rt_bm25_scratch *s, const rt_bm25_stats *stats) {
    s->stats = stats;
}

void rt_bm25_stats_free(rt_bm25_stats *st) {
    for (size_t i = 0; i < st->n_terms; i++)
        free(st->terms[i]);
    free(st->terms);
    free(st->df);
    memset(st, 0, sizeof *st);
}

typedef struct stats_ctx {
    const rt_bm25 *b;
    struct sb_stemmer *stemmer;
    const char *text;
    rt_bm25_stats *st;
    size_t cap;
    int status;
} stats_ctx;

/* Appends a copy of term (n bytes) to the statistics' terms; non-zero when out of memory. */
static int stats_push(stats_ctx *c, const char *term, size_t n) {
    char *copy = rt_malloc(n + 1);
    if (!copy || grow((void **)&c->st->terms, &c->cap, c->st->n_terms + 1, sizeof(char *))) {
        free(copy);
        c->status = RT_ERR_NOMEM;
        return 1;
    }
    memcpy(copy, term, n);
    copy[n] = '\0';
    c->st->terms[c->st->n_terms++] = copy;
    return 0;
}

/* The analysis chain of analyze_word with the searching thread's stemmer, keeping every term. */
static int stats_word(void *user, size_t start, size_t end) {
    stats_ctx *c = user;
    char buf[MAX_WORD];
    size_t n = rt_word_fold(c->text + start, end - start, buf, sizeof buf);
    if (n == 0 || (c->b->cfg.stopwords && is_stopword(buf))) return 0;
    const char *term = buf;
    if (c->stemmer) {
        const sb_symbol *st = sb_stemmer_stem(c->stemmer, (const sb_symbol *)buf, (int)n);
        if (st) {
            term = (const char *)st;
            n = (size_t)sb_stemmer_length(c->stemmer);
        }
    }
    return stats_push(c, term, n);
}

int rt_bm25_query_stats(const rt_bm25 *b, rt_bm25_scratch *s, const char *query, size_t len,
                        rt_bm25_stats *out) {
    memset(out, 0, sizeof *out);
    RT_TRY(scratch_fit(b, s));
    stats_ctx c = {b, b->stemmer ? s->stemmer : NULL, query, out, 0, RT_OK};
    rt_words_split(query, len, stats_word, &c);
    /* every title key the query could match (query_terms' runs), held here or not: summed over
     * the shards, their df say which runs are titles of the corpus */
    stems qs;
    stems_of(b, c.stemmer, query, len, &qs);
    char key[TITLE_KEY_MAX];
    for (size_t i = 0; c.status == RT_OK && i < qs.n; i++)
        for (size_t j = i + 1; j <= qs.n && j - i <= TITLE_MAX_TERMS; j++) {
            size_t kn = title_key(&qs, i, j, key);
            if (kn && stats_push(&c, key, kn)) break;
        }
    if (c.status == RT_OK && out->n_terms) {
        qsort(out->terms, out->n_terms, sizeof *out->terms, cmp_cstr);
        size_t m = 0;
        for (size_t i = 0; i < out->n_terms; i++) {
            if (m && !strcmp(out->terms[m - 1], out->terms[i]))
                free(out->terms[i]);
            else
                out->terms[m++] = out->terms[i];
        }
        out->n_terms = m;
        if (!(out->df = rt_calloc(m, sizeof *out->df))) c.status = RT_ERR_NOMEM;
        for (size_t i = 0; c.status == RT_OK && i < m; i++) {
            int64_t id = term_find(b, out->terms[i], strlen(out->terms[i]));
            out->df[i] = id < 0 ? 0 : b->terms[id].df;
        }
    }
    if (c.status != RT_OK) {
        rt_bm25_stats_free(out);
        return c.status;
    }
    out->n_chunks = (int64_t)b->n_live;
    out->total_len = (int64_t)b->total_len;
    return RT_OK;
}

int rt_bm25_search(rt_bm25 *b, const char *query, size_t len, int k, const rt_idset *allowed,
                   rt_hit *out) {
    if (!b->own) RT_TRY(rt_bm25_scratch_new(&b->own));
    return rt_bm25_search_with(b, b->own, query, len, k, allowed, out);
}

float rt_bm25_score(rt_bm25 *b, const char *query, size_t len, int64_t chunk_id) {
    int64_t idx = chunk_index(b, chunk_id);
    if (idx < 0 || b->deleted[idx] || b->n_live == 0) return 0;
    collect_ctx q;
    if (query_terms(b, b->stemmer, NULL, query, len, &q)) return 0;
    const float k1 = b->cfg.k1, bb = b->cfg.b;
    const double avglen = (double)b->total_len / (double)b->n_live;
    float score = 0;
    for (size_t qi = 0; qi < q.n; qi++) {
        const term *t = &b->terms[q.ids[qi]];
        for (uint32_t i = 0; i < t->n; i++) {
            if (t->p[i].idx != (uint32_t)idx) continue;
            float tf = (float)t->p[i].tf;
            float norm =
                k1 * (1 - bb + bb * (float)(b->chunk_len[idx] / (avglen > 0 ? avglen : 1)));
            float w = idf(b, t->df);
            score += is_title_key(b, t) ? w : w * tf * (k1 + 1) / (tf + norm);
        }
    }
    free(q.ids);
    return score;
}

size_t rt_bm25_n_chunks(const rt_bm25 *b) {
    return b->n_live;
}
size_t rt_bm25_n_deleted(const rt_bm25 *b) {
    return b->n_chunks - b->n_live;
}

int rt_bm25_compact(rt_bm25 *b) {
    if (b->n_live == b->n_chunks) return RT_OK;
    uint32_t *remap = rt_malloc(b->n_chunks * sizeof *remap);
    if (!remap) return RT_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < b->n_chunks; i++) {
        if (b->deleted[i]) {
            remap[i] = UINT32_MAX;
            free(b->fwd[i]);
            continue;
        }
        remap[i] = (uint32_t)m;
        b->chunk_ids[m] = b->chunk_ids[i];
        b->chunk_len[m] = b->chunk_len[i];
        b->deleted[m] = 0;
        b->fwd[m] = b->fwd[i];
        b->fwd_n[m] = b->fwd_n[i];
        m++;
    }
    for (size_t t = 0; t < b->n_terms; t++) {
        term *tm = &b->terms[t];
        uint32_t k = 0;
        for (uint32_t j = 0; j < tm->n; j++) {
            uint32_t idx = remap[tm->p[j].idx];
            if (idx == UINT32_MAX) continue;
            tm->p[k].idx = idx;
            tm->p[k].tf = tm->p[j].tf;
            k++;
        }
        tm->n = k;
    }
    free(remap);
    b->n_chunks = m;
    bounds_refresh(b);
    return RT_OK;
}
size_t rt_bm25_n_terms(const rt_bm25 *b) {
    return b->n_terms;
}
uint64_t rt_bm25_applied_seq(const rt_bm25 *b) {
    return b->applied_seq;
}
void rt_bm25_set_applied_seq(rt_bm25 *b, uint64_t seq) {
    b->applied_seq = seq;
}

/* ---- persistence ---------------------------------------------------------------------------
 * Little-endian layout:
 *   char magic[8] "RTBM25\0\0"; u32 version; u32 reserved; u64 applied_seq;
 *   u64 n_chunks; u64 n_terms; u64 arena_len;
 *   i64 chunk_ids[n_chunks] (strictly increasing); u32 chunk_len[n_chunks]; u8 deleted[n_chunks];
 *   char arena[arena_len];
 *   per term: u32 off; u32 len; u32 n_postings; then n_postings x (u32 idx, u32 tf),
 *   idx strictly increasing and < n_chunks.
 */

int rt_bm25_save(const rt_bm25 *b, const char *path) {
    rt_atomic_file f;
    RT_TRY(rt_atomic_file_open(&f, path));
    int st = RT_OK;
    uint32_t v[2] = {BM25_VERSION, 0};
    uint64_t h[4] = {b->applied_seq, b->n_chunks, b->n_terms, b->arena_len};
    st = rt_fwrite_all(f.fp, BM25_MAGIC, 8, path);
    if (!st) st = rt_fwrite_all(f.fp, v, sizeof v, path);
    if (!st) st = rt_fwrite_all(f.fp, h, sizeof h, path);
    if (!st) st = rt_fwrite_all(f.fp, b->chunk_ids, b->n_chunks * sizeof *b->chunk_ids, path);
    if (!st) st = rt_fwrite_all(f.fp, b->chunk_len, b->n_chunks * sizeof *b->chunk_len, path);
    if (!st) st = rt_fwrite_all(f.fp, b->deleted, b->n_chunks, path);
    if (!st) st = rt_fwrite_all(f.fp, b->arena, b->arena_len, path);
    for (size_t i = 0; !st && i < b->n_terms; i++) {
        const term *t = &b->terms[i];
        uint32_t th[3] = {t->off, t->len, t->n};
        st = rt_fwrite_all(f.fp, th, sizeof th, path);
        if (!st) st = rt_fwrite_all(f.fp, t->p, (size_t)t->n * sizeof *t->p, path);
    }
    if (st) {
        rt_atomic_file_abort(&f);
        return st;
    }
    return rt_atomic_file_commit(&f);
}

typedef struct reader {
    const uint8_t *p;
    size_t size, off;
    const char *name;
} reader;

static int rd(reader *r, void *dst, size_t n, const char *what) {
    if (n > r->size - r->off)
        return rt_error(RT_ERR_FORMAT, "%s: offset %zu: truncated reading %s (%zu bytes)", r->name,
                        r->off, what, n);
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return RT_OK;
}

int rt_bm25_load_buffer(const void *data, size_t size, const char *name, const rt_bm25_config *cfg,
                        rt_bm25 **out) {
    *out = NULL;
    reader r = {data, size, 0, name};
    char magic[8] = {0};
    uint32_t v[2] = {0};
    uint64_t h[4] = {0};
    RT_TRY(rd(&r, magic, 8, "magic"));
    if (memcmp(magic, BM25_MAGIC, 8) != 0)
        return rt_error(RT_ERR_FORMAT, "%s: offset 0: not a ragtune BM25 index (bad magic)", name);
    RT_TRY(rd(&r, v, sizeof v, "version"));
    if (v[0] != BM25_VERSION)
        return rt_error(RT_ERR_UNSUPPORTED, "%s: offset 8: BM25 index version %u, expected %u",
                        name, v[0], BM25_VERSION);
    RT_TRY(rd(&r, h, sizeof h, "header"));
    uint64_t n_chunks = h[1], n_terms = h[2], arena_len = h[3];
    /* Each chunk takes 13 bytes and each term 12 in the file: bound counts by the size. */
    if (n_chunks > size / 13 || n_terms > size / 12 || arena_len > size || n_chunks >= UINT32_MAX)
        return rt_error(RT_ERR_FORMAT,
                        "%s: offset 16: counts (%llu chunks, %llu terms) exceed "
                        "the file size %zu",
                        name, (unsigned long long)n_chunks, (unsigned long long)n_terms, size);
    rt_bm25 *b;
    RT_TRY(rt_bm25_new(cfg, &b));
    int st = RT_OK;
    b->applied_seq = h[0];
    size_t nc = (size_t)n_chunks;
    b->chunk_ids = rt_malloc(nc * sizeof *b->chunk_ids + 1);
    b->chunk_len = rt_malloc(nc * sizeof *b->chunk_len + 1);
    b->deleted = rt_malloc(nc + 1);
    b->fwd = rt_calloc(nc + 1, sizeof *b->fwd);
    b->fwd_n = rt_calloc(nc + 1, sizeof *b->fwd_n);
    b->terms = rt_calloc((size_t)n_terms + 1, sizeof *b->terms);
    b->arena = rt_malloc((size_t)arena_len + 1);
    if (!b->chunk_ids || !b->chunk_len || !b->deleted || !b->fwd || !b->fwd_n || !b->terms ||
        !b->arena) {
        rt_bm25_free(b);
        return RT_ERR_NOMEM;
    }
    b->cap_chunks = nc;
    b->cap_terms = (size_t)n_terms;
    b->arena_cap = (size_t)arena_len;
    if ((st = rd(&r, b->chunk_ids, nc * sizeof *b->chunk_ids, "chunk ids")) ||
        (st = rd(&r, b->chunk_len, nc * sizeof *b->chunk_len, "chunk lengths")) ||
        (st = rd(&r, b->deleted, nc, "deleted flags")) ||
        (st = rd(&r, b->arena, (size_t)arena_len, "term text")))
        goto fail;
    b->n_chunks = nc;
    b->arena_len = (size_t)arena_len;
    for (size_t i = 0; i < nc; i++) {
        if (i > 0 && b->chunk_ids[i] <= b->chunk_ids[i - 1]) {
            st = rt_error(RT_ERR_FORMAT, "%s: chunk ids not increasing at index %zu", name, i);
            goto fail;
        }
        if (b->deleted[i] > 1) {
            st = rt_error(RT_ERR_FORMAT, "%s: bad deleted flag at chunk index %zu", name, i);
            goto fail;
        }
        if (!b->deleted[i]) {
            b->n_live++;
            b->total_len += b->chunk_len[i];
        }
    }
    size_t table_cap = 1024;
    while (table_cap < 2 * (size_t)n_terms + 2)
        table_cap *= 2;
    free(b->table);
    b->table = rt_calloc(table_cap, sizeof *b->table);
    if (!b->table) {
        st = RT_ERR_NOMEM;
        goto fail;
    }
    b->table_cap = table_cap;
    uint64_t *len_check = rt_calloc(nc + 1, sizeof *len_check);
    if (!len_check) {
        st = RT_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < (size_t)n_terms; i++) {
        uint32_t th[3];
        if ((st = rd(&r, th, sizeof th, "term header"))) break;
        term *t = &b->terms[i];
        if ((uint64_t)th[0] + th[1] > arena_len || th[1] == 0 ||
            (uint64_t)th[2] * sizeof(posting) > r.size - r.off) {
            st = rt_error(RT_ERR_FORMAT, "%s: offset %zu: term %zu has a bad range or count", name,
                          r.off, i);
            break;
        }
        t->off = th[0];
        t->len = th[1];
        if (term_find(b, b->arena + t->off, t->len) >= 0) {
            st = rt_error(RT_ERR_FORMAT, "%s: offset %zu: duplicate term %zu", name, r.off, i);
            break;
        }
        b->n_terms = i + 1;
        table_insert(b, (uint32_t)i);
        t->n = t->cap = th[2];
        t->p = rt_malloc((size_t)t->n * sizeof *t->p + 1);
        if (!t->p) {
            st = RT_ERR_NOMEM;
            break;
        }
        if ((st = rd(&r, t->p, (size_t)t->n * sizeof *t->p, "postings"))) break;
        for (uint32_t j = 0; j < t->n; j++) {
            uint32_t idx = t->p[j].idx;
            if (idx >= nc || (j > 0 && idx <= t->p[j - 1].idx) || t->p[j].tf == 0) {
                st = rt_error(RT_ERR_FORMAT, "%s: term %zu: bad posting %u", name, i, j);
                break;
            }
            if (!is_title_key(b, t)) len_check[idx] += t->p[j].tf; /* not in the length */
            if (!b->deleted[idx]) t->df++;
            b->fwd_n[idx]++;
        }
        if (st) break;
    }
    for (size_t i = 0; !st && i < nc; i++)
        if (len_check[i] != b->chunk_len[i])
            st = rt_error(RT_ERR_FORMAT,
                          "%s: chunk index %zu: length %u disagrees with its "
                          "postings (%llu)",
                          name, i, b->chunk_len[i], (unsigned long long)len_check[i]);
    free(len_check);
    if (!st && r.off != r.size)
        st = rt_error(RT_ERR_FORMAT, "%s: offset %zu: %zu trailing bytes", name, r.off,
                      r.size - r.off);
    /* Forward lists from the postings. */
    for (size_t i = 0; !st && i < nc; i++) {
        b->fwd[i] = rt_malloc((size_t)b->fwd_n[i] * sizeof **b->fwd + 1);
        if (!b->fwd[i]) st = RT_ERR_NOMEM;
        b->fwd_n[i] = 0;
    }
    for (size_t i = 0; !st && i < b->n_terms; i++)
        for (uint32_t j = 0; j < b->terms[i].n; j++) {
            uint32_t idx = b->terms[i].p[j].idx;
            b->fwd[idx][b->fwd_n[idx]++] = (uint32_t)i;
        }
    if (st) goto fail;
    bounds_refresh(b);
    *out = b;
    return RT_OK;
fail:
    if (!b->n_chunks) b->n_chunks = nc; /* free the forward lists allocated so far */
    rt_bm25_free(b);
    return st;
}

int rt_bm25_load(const char *path, const rt_bm25_config *cfg, rt_bm25 **out) {
    rt_mmap m;
    RT_TRY(rt_mmap_open(path, &m));
    int st = rt_bm25_load_buffer(m.data, m.size, path, cfg, out);
    rt_mmap_close(&m);
    return st;
}
