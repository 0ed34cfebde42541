/*
 * search.c — rt_collection_search: metadata filters resolved to an allowed-chunk bitmap, BM25
 * and/or dense retrieval with that bitmap applied inside the index walk, fusion, optional MMR,
 * then the chunk rows (document id, byte range, text) from SQLite.
 *
 * Concurrency: a search reads the handle (const) and writes only the caller's scratch, so many
 * threads search one handle at once; they hold the handle's index lock shared (a writer of this
 * handle holds it exclusive from its transaction's start until its indexes match the commit)
 * and share the SQLite connection, which serializes its own calls. A search first checks the change log:
 * documents another handle or process stored since are replayed into this handle's indexes
 * (under the exclusive lock), so a long-lived handle sees them.
 */
#include "knowledge/collection.h"
#include "knowledge/fusion.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many allowed chunks (or 5% of the index) a filtered dense search is exact. */
#define EXACT_FILTER_MAX 2048

rt_search_params rt_search_default_params(void) {
    rt_search_params p;
    memset(&p, 0, sizeof p);
    p.k = 10;
    p.mode = RT_SEARCH_BM25;
    p.fusion = RT_FUSION_RRF;
    p.rrf_k = 60;
    p.alpha = 0.5f;
    p.candidates = 50;
    p.mmr_lambda = 0.7f;
    p.ef_search = 64;
    return p;
}

void rt_search_results_free(rt_search_results *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].doc_id);
        free(r->items[i].text);
        free(r->items[i].path);
    }
    free(r->items);
    free(r);
}

static const char *op_sql(rt_filter_op op) {
    switch (op) {
    case RT_FILTER_EQ:
        return "=";
    case RT_FILTER_NE:
        return "!=";
    case RT_FILTER_LT:
        return "<";
    case RT_FILTER_LE:
        return "<=";
    case RT_FILTER_GT:
        return ">";
    case RT_FILTER_GE:
        return ">=";
    default:
        return NULL;
    }
}

/* Builds the bitmap of chunks whose document metadata satisfies every filter. */
static int resolve_filters(const rt_collection *c, const rt_filter *f, int n, rt_idset *out,
                           size_t *n_allowed) {
    memset(out, 0, sizeof *out);
    *n_allowed = 0;
    size_t cap = 256 + (size_t)n * 192, len = 0;
    char *sql = rt_malloc(cap);
    if (!sql) return RT_ERR_NOMEM;
    len += (size_t)snprintf(sql, cap,
                            "SELECT c.chunk_id FROM chunks c JOIN documents d ON "
                            "d.doc_id = c.doc_id WHERE d.metadata IS NOT NULL");
    for (int i = 0; i < n; i++) {
        const char *op = op_sql(f[i].op);
        if (!op || !f[i].key || !*f[i].key || strpbrk(f[i].key, "\"\\") ||
            (!f[i].is_number && !f[i].string)) {
            free(sql);
            return rt_error(RT_ERR_INVALID,
                            "filter %d: needs a key (without quotes or "
                            "backslashes), an operator and a value",
                            i);
        }
        /* Types never mix: a number matches numbers only, true/false JSON booleans only, any
         * other string strings only (so flag=true does not match 1, nor n>0 the text "1"). */
        bool boolean = !f[i].is_number && (!strcmp(f[i].string, "true") ||
                                           !strcmp(f[i].string, "false"));
        if (boolean && f[i].op != RT_FILTER_EQ && f[i].op != RT_FILTER_NE) {
            free(sql);
            return rt_error(RT_ERR_INVALID, "filter %d: booleans compare with = and != only", i);
        }
        if (f[i].is_number && !isfinite(f[i].number)) {
            free(sql);
            return rt_error(RT_ERR_INVALID, "filter %d: the number is not finite", i);
        }
        const char *types = f[i].is_number ? "('integer', 'real')"
                            : boolean      ? "('true', 'false')"
                                           : "('text')";
        if (boolean)
            len += (size_t)snprintf(sql + len, cap - len,
                                    " AND json_type(d.metadata, ?%d) IN %s AND "
                                    "(json_type(d.metadata, ?%d) = ?%d) %s 1",
                                    2 * i + 1, types, 2 * i + 1, 2 * i + 2, op);
        else
            len += (size_t)snprintf(sql + len, cap - len,
                                    " AND json_type(d.metadata, ?%d) IN %s AND "
                                    "json_extract(d.metadata, ?%d) %s ?%d",
                                    2 * i + 1, types, 2 * i + 1, op, 2 * i + 2);
    }
    sqlite3_stmt *st;
    int rc = rt_coll_prepare(c, sql, &st);
    free(sql);
    RT_TRY(rc);
    char **paths = rt_calloc((size_t)n + 1, sizeof *paths);
    if (!paths) {
        sqlite3_finalize(st);
        return RT_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        size_t kl = strlen(f[i].key) + 8;
        paths[i] = rt_malloc(kl);
        if (!paths[i]) {
            rc = RT_ERR_NOMEM;
            break;
        }
        snprintf(paths[i], kl, "$.\"%s\"", f[i].key);
        sqlite3_bind_text(st, 2 * i + 1, paths[i], -1, SQLITE_STATIC);
        if (f[i].is_number)
            sqlite3_bind_double(st, 2 * i + 2, f[i].number);
        else
            sqlite3_bind_text(st, 2 * i + 2, f[i].string, -1, SQLITE_STATIC);
    }
    int64_t *ids = NULL;
    size_t m = 0, idcap = 0;
    int64_t max_id = -1;
    while (!rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = RT_OK;
        if (m == idcap) {
            idcap = idcap ? 2 * idcap : 1024;
            int64_t *t = rt_realloc(ids, idcap * sizeof *t);
            if (!t) {
                rc = RT_ERR_NOMEM;
                break;
            }
            ids = t;
        }
        ids[m] = sqlite3_column_int64(st, 0);
        if (ids[m] > max_id) max_id = ids[m];
        m++;
    }
    if (rc == SQLITE_DONE)
        rc = RT_OK;
    else if (rc > 0)
        rc = rt_coll_sql_error(c, "filtering");
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    if (!rc) {
        out->n_bits = max_id + 1;
        out->bits = rt_calloc((size_t)(out->n_bits + 63) / 64 + 1, sizeof *out->bits);
        if (!out->bits) rc = RT_ERR_NOMEM;
        for (size_t i = 0; !rc && i < m; i++)
            out->bits[ids[i] >> 6] |= 1ull << (ids[i] & 63);
        *n_allowed = m;
    }
    free(ids);
    return rc;
}

static float score_in(const rt_hit *h, int n, int64_t id) {
    for (int i = 0; i < n; i++)
        if (h[i].id == id) return h[i].score;
    return 0;
}

static int fill_results(const rt_collection *c, const rt_hit *hits, int n, const rt_hit *bm, int nbm,
                        const rt_hit *dn, int ndn, rt_search_results *res) {
    res->items = rt_calloc((size_t)n + 1, sizeof *res->items);
    if (!res->items) return RT_ERR_NOMEM;
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(c,
                           "SELECT c.doc_id, d.path, c.start, c.end, "
                           "substr(CAST(d.text AS BLOB), c.start + 1, c.end - c.start) "
                           "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
                           "WHERE c.chunk_id = ?",
                           &st));
    int rc = RT_OK;
    for (int i = 0; !rc && i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, hits[i].id);
        int got = rt_coll_step(c, st, "reading results");
        if (got < 0) {
            rc = got;
            break;
        }
        if (got == 0) continue; /* deleted meanwhile */
        rt_search_result *r = &res->items[res->n];
        r->doc_id = rt_strdup((const char *)sqlite3_column_text(st, 0));
        const char *path = (const char *)sqlite3_column_text(st, 1);
        r->path = path ? rt_strdup(path) : NULL;
        r->start = (uint64_t)sqlite3_column_int64(st, 2);
        r->end = (uint64_t)sqlite3_column_int64(st, 3);
        int tl = sqlite3_column_bytes(st, 4);
        r->text = rt_malloc((size_t)tl + 1);
        if (r->text) {
            if (tl) memcpy(r->text, sqlite3_column_blob(st, 4), (size_t)tl);
            r->text[tl] = '\0';
        }
        r->chunk_id = hits[i].id;
        r->score = hits[i].score;
        r->bm25_score = score_in(bm, nbm, hits[i].id);
        r->dense_score = score_in(dn, ndn, hits[i].id);
        res->n++;
        if (!r->doc_id || !r->text || (path && !r->path)) rc = RT_ERR_NOMEM;
    }
    sqlite3_finalize(st);
    return rc;
}

struct rt_search_scratch {
    rt_bm25_scratch *bm25;
    rt_hnsw_scratch *hnsw;
};

int rt_search_scratch_new(rt_search_scratch **out) {
    if (!out) return rt_error(RT_ERR_INVALID, "rt_search_scratch_new: NULL argument");
    rt_search_scratch *s = rt_calloc(1, sizeof *s);
    if (!s || rt_bm25_scratch_new(&s->bm25) != RT_OK || rt_hnsw_scratch_new(&s->hnsw) != RT_OK) {
        rt_search_scratch_free(s);
        return RT_ERR_NOMEM;
    }
    *out = s;
    return RT_OK;
}

rt_bm25_scratch *rt_search_scratch_bm25(rt_search_scratch *s) {
    return s->bm25;
}

void rt_search_scratch_free(rt_search_scratch *s) {
    if (!s) return;
    rt_bm25_scratch_free(s->bm25);
    rt_hnsw_scratch_free(s->hnsw);
    free(s);
}

int rt_coll_sync_new(rt_coll_sync **out) {
    rt_coll_sync *s = rt_calloc(1, sizeof *s);
    if (!s) return RT_ERR_NOMEM;
    pthread_rwlock_init(&s->index_lock, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    *out = s;
    return RT_OK;
}

void rt_coll_sync_free(rt_coll_sync *s) {
    if (!s) return;
    for (int i = 0; i < s->n_pool; i++)
        rt_search_scratch_free(s->pool[i]);
    free(s->pool);
    pthread_rwlock_destroy(&s->index_lock);
    pthread_mutex_destroy(&s->pool_mu);
    free(s);
}

static uint64_t applied_seq(const rt_collection *c) {
    uint64_t b = rt_bm25_applied_seq(c->bm25);
    uint64_t h = c->hnsw ? rt_hnsw_applied_seq(c->hnsw) : b;
    return b < h ? b : h;
}

/* Replays what other handles or processes stored since this handle's indexes were last brought
 * up to date. The indexes are this handle's view of the database, not its contents: catching
 * up changes the view, under the exclusive lock, which is why the const is cast away. */
static int catch_up(const rt_collection *c) {
    uint64_t max_seq;
    RT_TRY(rt_coll_max_seq(c, &max_seq));
    pthread_rwlock_rdlock(&c->sync->index_lock);
    bool behind = applied_seq(c) < max_seq;
    pthread_rwlock_unlock(&c->sync->index_lock);
    if (!behind) return RT_OK;
    /* again under the lock: writers of this handle hold it through their transactions, so now
     * the log holds only committed changes */
    pthread_rwlock_wrlock(&c->sync->index_lock);
    int st = rt_coll_max_seq(c, &max_seq);
    if (!st && applied_seq(c) < max_seq) st = rt_coll_replay((rt_collection *)c, max_seq);
    pthread_rwlock_unlock(&c->sync->index_lock);
    return st;
}

int rt_collection_search_with(const rt_collection *c, rt_search_scratch *scratch,
                              const char *query, const rt_search_params *params,
                              rt_search_results **out) {
    if (!out) return rt_error(RT_ERR_INVALID, "search: NULL result pointer");
    *out = NULL;
    if (!c || !scratch) return rt_error(RT_ERR_INVALID, "search: NULL collection or scratch");
    rt_search_params p = params ? *params : rt_search_default_params();
    if (p.k <= 0 || p.k > 10000) return rt_error(RT_ERR_INVALID, "search: k must be 1..10000");
    if ((unsigned)p.mode > RT_SEARCH_HYBRID)
        return rt_error(RT_ERR_INVALID, "search: unknown mode");
    if (!query) query = "";
    int ncand = p.candidates > p.k ? p.candidates : p.k;
    if (p.mode == RT_SEARCH_BM25 && !p.mmr) ncand = p.k;
    bool need_vec = p.mode != RT_SEARCH_BM25 || p.mmr;
    float *qv = NULL;
    int st = RT_OK;
    if (need_vec) {
        if (!c->hnsw || c->dim <= 0)
            return rt_error(RT_ERR_INVALID,
                            "%s: %s needs vectors, and this collection has none "
                            "(ingest with an embedder, e.g. --embed-model)",
                            c->dir, p.mode == RT_SEARCH_BM25 ? "MMR" : "dense search");
        qv = rt_malloc((size_t)c->dim * sizeof *qv);
        if (!qv) return RT_ERR_NOMEM;
        if (p.query_vector) {
            memcpy(qv, p.query_vector, (size_t)c->dim * sizeof *qv);
        } else if (c->embedder) {
            size_t ql = strlen(query);
            st = c->embedder->embed(c->embedder->user, &query, &ql, 1, qv);
            if (st) rt_error_wrap("embedding the query");
        } else {
            st = rt_error(RT_ERR_INVALID,
                          "%s: dense search needs the embedder '%s' or a query "
                          "vector",
                          c->dir, c->embedder_name);
        }
    }
    if (!st) st = catch_up(c);
    /* shared for the whole search, SQL included: no write of this handle is in flight */
    pthread_rwlock_rdlock(&c->sync->index_lock);
    rt_idset allowed = {0};
    size_t n_allowed = 0;
    if (!st && p.n_filters > 0)
        st = resolve_filters(c, p.filters, p.n_filters, &allowed, &n_allowed);
    const rt_idset *filter = p.n_filters > 0 ? &allowed : NULL;
    rt_hit *bm = rt_malloc((size_t)ncand * sizeof *bm), *dn = rt_malloc((size_t)ncand * sizeof *dn);
    rt_hit *fused = rt_malloc((size_t)ncand * 2 * sizeof *fused);
    rt_hit *final = rt_malloc((size_t)ncand * 2 * sizeof *final);
    float *vecs = NULL;
    int nbm = 0, ndn = 0, nf = 0;
    if (!st && (!bm || !dn || !fused || !final)) st = RT_ERR_NOMEM;
    if (!st && p.mode != RT_SEARCH_DENSE) {
        nbm = rt_bm25_search_with(c->bm25, scratch->bm25, query, strlen(query), ncand, filter, bm);
        if (nbm < 0) st = nbm;
    }
    if (!st && p.mode != RT_SEARCH_BM25) {
        size_t live = rt_hnsw_size(c->hnsw);
        bool exact =
            p.exact || (filter && (n_allowed <= EXACT_FILTER_MAX || n_allowed < live / 20));
        int ef = p.ef_search > ncand ? p.ef_search : ncand;
        ndn = exact ? rt_hnsw_search_exact_with(c->hnsw, scratch->hnsw, qv, ncand, filter, dn)
                    : rt_hnsw_search_with(c->hnsw, scratch->hnsw, qv, ncand, ef, filter, dn);
        if (ndn < 0) st = ndn;
    }
    if (!st) {
        if (p.mode == RT_SEARCH_BM25) {
            memcpy(fused, bm, (size_t)nbm * sizeof *fused);
            nf = nbm;
        } else if (p.mode == RT_SEARCH_DENSE) {
            memcpy(fused, dn, (size_t)ndn * sizeof *fused);
            nf = ndn;
        } else if (p.fusion == RT_FUSION_WEIGHTED) {
            nf = rt_fuse_weighted(dn, ndn, bm, nbm, p.alpha, fused);
        } else {
            nf = rt_fuse_rrf(bm, nbm, dn, ndn, p.rrf_k, fused);
        }
    }
    int nfinal = 0;
    if (!st && p.mmr && nf > 0) {
        int n_mmr = nf < ncand ? nf : ncand;
        vecs = rt_malloc((size_t)n_mmr * (size_t)c->dim * sizeof *vecs);
        if (!vecs) st = RT_ERR_NOMEM;
        for (int i = 0; !st && i < n_mmr; i++)
            st = rt_hnsw_get(c->hnsw, fused[i].id, vecs + (size_t)i * (size_t)c->dim);
        if (!st) {
            nfinal = rt_mmr(fused, n_mmr, vecs, c->dim, qv, p.mmr_lambda, p.k, final);
            if (nfinal < 0) st = nfinal;
        }
    } else if (!st) {
        nfinal = nf < p.k ? nf : p.k;
        memcpy(final, fused, (size_t)nfinal * sizeof *final);
    }
    rt_search_results *res = NULL;
    if (!st) {
        res = rt_calloc(1, sizeof *res);
        if (!res) st = RT_ERR_NOMEM;
    }
    if (!st) st = fill_results(c, final, nfinal, bm, nbm, dn, ndn, res);
    pthread_rwlock_unlock(&c->sync->index_lock);
    if (st) {
        rt_search_results_free(res);
    } else {
        *out = res;
    }
    free(allowed.bits);
    free(qv);
    free(bm);
    free(dn);
    free(fused);
    free(final);
    free(vecs);
    return st;
}

int rt_collection_search(rt_collection *c, const char *query, const rt_search_params *params,
                         rt_search_results **out) {
    if (!out) return rt_error(RT_ERR_INVALID, "search: NULL result pointer");
    *out = NULL;
    if (!c) return rt_error(RT_ERR_INVALID, "search: NULL collection");
    if (c->sharded) return rt_shard_search(c, query, params, out);
    rt_coll_sync *sync = c->sync;
    rt_search_scratch *scratch = NULL;
    pthread_mutex_lock(&sync->pool_mu);
    if (sync->n_pool) scratch = sync->pool[--sync->n_pool];
    pthread_mutex_unlock(&sync->pool_mu);
    if (!scratch) RT_TRY(rt_search_scratch_new(&scratch));
    int st = rt_collection_search_with(c, scratch, query, params, out);
    pthread_mutex_lock(&sync->pool_mu);
    if (sync->n_pool == sync->cap_pool) {
        int cap = sync->cap_pool ? 2 * sync->cap_pool : 4;
        rt_search_scratch **grown = realloc(sync->pool, (size_t)cap * sizeof *grown);
        if (grown) {
            sync->pool = grown;
            sync->cap_pool = cap;
        }
    }
    if (sync->n_pool < sync->cap_pool) {
        sync->pool[sync->n_pool++] = scratch;
        scratch = NULL;
    }
    pthread_mutex_unlock(&sync->pool_mu);
    rt_search_scratch_free(scratch); /* the pool could not grow */
    return st;
}
