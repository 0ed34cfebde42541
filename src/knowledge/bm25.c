/*
 * bm25.c — see bm25.h. Postings are per-term arrays of (chunk index, tf); a search accumulates
 * scores term at a time into a dense array and keeps the best k in a heap. A forward list of
 * each chunk's distinct terms makes deletes exact (df and length totals are updated).
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

/* Title keys (see rt_bm25_add_titled) start with '=', which no analyzed word does. */
static bool is_title_key(const rt_bm25 *b, const term *t) {
    return t->len > 0 && b->arena[t->off] == '=';
}

static float idf(const rt_bm25 *b, uint32_t df) {
    double n = (double)b->n_live;
    return (float)log(1.0 + (n - df + 0.5) / (df + 0.5));
}

struct rt_bm25_scratch {
    float *acc;         /* (cap) score per chunk, 0 between searches */
    uint32_t *touched;  /* (cap) chunks with a score */
    size_t cap;
    struct sb_stemmer *stemmer; /* for `language` */
    char language[32];
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
    free(s);
}

/* Sizes s for b: an accumulator per chunk and a stemmer of b's language (a Snowball stemmer
 * keeps state, so each searching thread needs its own). */
static int scratch_fit(const rt_bm25 *b, rt_bm25_scratch *s) {
    if (s->cap < b->n_chunks) {
        float *acc = rt_calloc(b->n_chunks, sizeof *acc);
        uint32_t *touched = rt_malloc(b->n_chunks * sizeof *touched);
        if (!acc || !touched) {
            free(acc);
            free(touched);
            return RT_ERR_NOMEM;
        }
        free(s->acc);
        free(s->touched);
        s->acc = acc;
        s->touched = touched;
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

/* Distinct known query term ids into c (sorted); stemmer: b's, or a searching thread's. */
static int query_terms(const rt_bm25 *b, struct sb_stemmer *stemmer, const char *query,
                       size_t len, collect_ctx *c) {
    memset(c, 0, sizeof *c);
    c->b = b;
    c->stemmer = stemmer;
    collect_ids(query, len, c);
    if (c->status) return c->status;
    /* title keys: each longest run of 1..TITLE_MAX_TERMS consecutive query terms that is a
     * title ("programming language", not also "language", for "What is a programming
     * language?"); a run inside a matching run of more content terms is dropped */
    stems qs;
    stems_of(b, stemmer, query, len, &qs);
    char key[TITLE_KEY_MAX];
    uint32_t hit_id[QUERY_MAX_STEMS * 2];
    size_t hit_i[QUERY_MAX_STEMS * 2], hit_j[QUERY_MAX_STEMS * 2], hit_w[QUERY_MAX_STEMS * 2];
    size_t n_hits = 0;
    for (size_t i = 0; i < qs.n; i++)
        for (size_t j = i + 1; j <= qs.n && j - i <= TITLE_MAX_TERMS; j++) {
            size_t kn = title_key(&qs, i, j, key);
            int64_t id = kn ? term_find(b, key, kn) : -1;
            if (id < 0 || n_hits == QUERY_MAX_STEMS * 2) continue;
            size_t words = 0; /* content terms: "a programming language" is not longer */
            for (size_t k = i; k < j; k++)
                words += !qs.stop[k];
            hit_id[n_hits] = (uint32_t)id;
            hit_i[n_hits] = i;
            hit_j[n_hits] = j;
            hit_w[n_hits++] = words;
        }
    for (size_t h = 0; h < n_hits; h++) {
        bool inside = false;
        for (size_t o = 0; o < n_hits && !inside; o++)
            inside = hit_i[o] <= hit_i[h] && hit_j[h] <= hit_j[o] && hit_w[o] > hit_w[h];
        if (!inside && push_id(c, hit_id[h])) return c->status;
    }
    if (c->n) qsort(c->ids, c->n, sizeof *c->ids, cmp_u32);
    size_t m = 0;
    for (size_t i = 0; i < c->n; i++)
        if (m == 0 || c->ids[m - 1] != c->ids[i]) c->ids[m++] = c->ids[i];
    c->n = m;
    return RT_OK;
}

int rt_bm25_search_with(const rt_bm25 *b, rt_bm25_scratch *s, const char *query, size_t len,
                        int k, const rt_idset *allowed, rt_hit *out) {
    if (k <= 0) return 0;
    RT_TRY(scratch_fit(b, s));
    collect_ctx q;
    RT_TRY(query_terms(b, b->stemmer ? s->stemmer : NULL, query, len, &q));
    if (q.n == 0 || b->n_live == 0) {
        free(q.ids);
        return 0;
    }
    float *acc = s->acc;
    uint32_t *touched = s->touched;
    size_t n_touched = 0;
    const float k1 = b->cfg.k1, bb = b->cfg.b;
    const float avglen = (float)((double)b->total_len / (double)b->n_live);
    const float norm0 = k1 * (1 - bb), norm1 = avglen > 0 ? k1 * bb / avglen : 0;
    const uint32_t *clen = b->chunk_len;
    const uint8_t *del = b->deleted;
    for (size_t qi = 0; qi < q.n; qi++) {
        const term *t = &b->terms[q.ids[qi]];
        if (t->df == 0) continue;
        const float w = idf(b, t->df) * (k1 + 1);
        const bool key = is_title_key(b, t);
        const posting *p = t->p;
        for (uint32_t i = 0; i < t->n; i++) {
            uint32_t idx = p[i].idx;
            if (del[idx]) continue;
            if (allowed && !rt_idset_has(allowed, b->chunk_ids[idx])) continue;
            float tf = (float)p[i].tf;
            float score = key ? w / (k1 + 1) : w * tf / (tf + norm0 + norm1 * (float)clen[idx]);
            if (acc[idx] == 0) touched[n_touched++] = idx;
            acc[idx] += score;
        }
    }
    free(q.ids);
    rt_topk top = {out, 0, k};
    for (size_t i = 0; i < n_touched; i++) {
        uint32_t idx = touched[i];
        rt_topk_push(&top, b->chunk_ids[idx], acc[idx]);
        acc[idx] = 0;
    }
    return rt_topk_sort(&top);
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
    if (query_terms(b, b->stemmer, query, len, &q)) return 0;
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
