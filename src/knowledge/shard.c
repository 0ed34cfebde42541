/*
 * shard.c — sharded search over the process group (dist/comm.h): a corpus split into one
 * collection per process, searched as one.
 *
 * Model: process r opens its own shard (a collection holding part of the documents; the CLI
 * names it with {rank} in the path). Rank 0 is the client: rt_collection_search on its shard
 * broadcasts the query and the parameters; the other ranks serve in rt_collection_shard_begin
 * until rank 0 calls rt_collection_shard_end. Each search, on every rank:
 *   1. BM25 statistics: each shard's live chunk count, total length and per-term document
 *      frequency of the query's analyzed terms are summed over the shards (all-reduce), and
 *      every shard scores with them: its scores equal the unsharded collection's exactly (same
 *      float operations on the same numbers).
 *   2. Each shard retrieves its top candidates per retriever (BM25, dense), texts included.
 *   3. The lists are gathered; rank 0 merges each retriever's list by score (ties: rank, chunk
 *      id), keeps the top candidates, fuses them as rt_collection_search does (hybrid), and
 *      keeps k. A shard's top-n holds every chunk of the global top-n that lives there, so the
 *      merge of exact dense searches is the exact search of the whole corpus.
 * A shard that fails sends its error in place of its hits, and rank 0 reports it; the group
 * never waits on a rank that has stopped calling the collectives.
 *
 * Not supported over shards (a clear error on rank 0): MMR (needs vectors from every shard),
 * metadata filters and caller-given query vectors (not sent to the shards).
 * Results' chunk_id is global: id within its shard * N + the shard's rank. Rank 0's
 * rt_collection_get_document and rt_collection_chunk_title (what rt_ask's context assembly
 * reads) go to the shard that holds the document or chunk the same way.
 */
#include "knowledge/collection.h"
#include "knowledge/fusion.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "dist/comm.h"

#include <stdlib.h>
#include <string.h>

enum { OP_SEARCH = 1, OP_END = 2, OP_DOCUMENT = 3, OP_TITLE = 4 };

/* What rank 0 broadcasts for each request: a search's parameters, or a document id or global
 * chunk id to look up (then query_len bytes of query: the query, document id or chunk id). */
typedef struct request {
    int32_t op;
    int32_t k, mode, fusion, candidates, ef_search, exact;
    float rrf_k, alpha;
    uint32_t query_len;
} request;

/* One hit as gathered: the shard's search result and the rank that holds it. */
typedef struct item {
    int rank;
    rt_search_result r;
} item;

/* ---- packing hits for the all-gather ------------------------------------------------------ */

static int put(rt_strbuf *b, const void *p, size_t n) {
    return rt_strbuf_append(b, p, n);
}

static int put_str(rt_strbuf *b, const char *s) {
    uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
    RT_TRY(put(b, &n, 4));
    return s ? put(b, s, n) : RT_OK;
}

static int put_results(rt_strbuf *b, const rt_search_results *res) {
    uint32_t n = res ? (uint32_t)res->n : 0;
    RT_TRY(put(b, &n, 4));
    for (uint32_t i = 0; i < n; i++) {
        const rt_search_result *x = &res->items[i];
        RT_TRY(put(b, &x->chunk_id, 8));
        RT_TRY(put(b, &x->start, 8));
        RT_TRY(put(b, &x->end, 8));
        float s[3] = {x->score, x->bm25_score, x->dense_score};
        RT_TRY(put(b, s, sizeof s));
        RT_TRY(put_str(b, x->doc_id));
        RT_TRY(put_str(b, x->path));
        RT_TRY(put_str(b, x->text));
    }
    return RT_OK;
}

typedef struct reader {
    const char *p, *end;
    bool bad;
} reader;

static void get(reader *r, void *dst, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p, n);
    r->p += n;
}

static char *get_str(reader *r) {
    uint32_t n;
    get(r, &n, 4);
    if (r->bad || n == UINT32_MAX) return NULL;
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    char *s = rt_malloc((size_t)n + 1);
    if (!s) {
        r->bad = true;
        return NULL;
    }
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    return s;
}

static void item_free(item *it) {
    free(it->r.doc_id);
    free(it->r.path);
    free(it->r.text);
}

/* Appends the hits of one packed list to *items. */
static int get_results(reader *r, int rank, item **items, size_t *n, size_t *cap) {
    uint32_t count;
    get(r, &count, 4);
    for (uint32_t i = 0; i < count && !r->bad; i++) {
        if (RT_GROW(*items, *cap, *n + 1) < 0) return RT_ERR_NOMEM;
        item *it = &(*items)[*n];
        memset(it, 0, sizeof *it);
        it->rank = rank;
        get(r, &it->r.chunk_id, 8);
        get(r, &it->r.start, 8);
        get(r, &it->r.end, 8);
        float s[3];
        get(r, s, sizeof s);
        it->r.score = s[0];
        it->r.bm25_score = s[1];
        it->r.dense_score = s[2];
        it->r.doc_id = get_str(r);
        it->r.path = get_str(r);
        it->r.text = get_str(r);
        (*n)++;
        if (!it->r.doc_id || !it->r.text) r->bad = true;
    }
    return r->bad ? rt_error(RT_ERR_INTERNAL, "sharded search: a malformed reply from rank %d",
                             rank)
                  : RT_OK;
}

/* ---- the search on every rank ------------------------------------------------------------- */

static uint64_t terms_hash(const rt_bm25_stats *st) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < st->n_terms; i++)
        for (const char *p = st->terms[i]; ; p++) {
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
            if (!*p) break;
        }
    return h >> 1; /* fits int64 */
}

/* Sums the query's BM25 statistics over the shards into *st. Every rank calls it; *ok false
 * (on every rank alike) when a rank failed or the shards analyze the query differently, and then
 * nothing is summed. */
static int share_stats(rt_bm25_stats *st, int local_status, bool *ok) {
    size_t n = st->n_terms + 2;
    int64_t *v = local_status == RT_OK ? rt_malloc(n * sizeof *v) : NULL;
    int64_t check[5] = {!v, (int64_t)st->n_terms, -(int64_t)st->n_terms, 0, 0};
    if (v) {
        check[3] = (int64_t)terms_hash(st);
        check[4] = -check[3];
    }
    int rc = dist_allreduce_max_i64(check, 5);
    *ok = rc == RT_OK && !check[0] && check[1] == -check[2] && check[3] == -check[4];
    if (*ok) {
        v[0] = st->n_chunks;
        v[1] = st->total_len;
        if (st->n_terms) memcpy(v + 2, st->df, st->n_terms * sizeof *v);
        rc = dist_allreduce_i64(v, n);
        st->n_chunks = v[0];
        st->total_len = v[1];
        if (st->n_terms) memcpy(st->df, v + 2, st->n_terms * sizeof *v);
    }
    free(v);
    return rc;
}

/* This shard's part of a search: statistics, local lists, packed into *packed. The local
 * status (an error of this shard) goes into the packet; the return is RT_OK unless MPI fails. */
static int local_part(rt_collection *c, const request *rq, const char *query, rt_strbuf *packed) {
    rt_search_scratch *scr = NULL;
    rt_bm25_stats st = {0};
    rt_search_results *bm = NULL, *dn = NULL;
    int local = rt_search_scratch_new(&scr);
    size_t qlen = strlen(query);
    if (rq->mode != RT_SEARCH_DENSE) {
        if (local == RT_OK)
            local = rt_bm25_query_stats(c->bm25, rt_search_scratch_bm25(scr), query, qlen, &st);
        bool ok;
        if (share_stats(&st, local, &ok) < 0) goto mpi_fail;
        if (local == RT_OK && !ok)
            local = rt_error(RT_ERR_INVALID,
                             "%s: the shards analyze the query differently (BM25 language or "
                             "stopwords differ between shards, or one failed)",
                             c->dir);
        if (local == RT_OK) rt_bm25_scratch_use_stats(rt_search_scratch_bm25(scr), &st);
    }
    int ncand = rq->candidates > rq->k ? rq->candidates : rq->k;
    if (rq->mode == RT_SEARCH_BM25) ncand = rq->k;
    rt_search_params sp = rt_search_default_params();
    sp.k = ncand;
    sp.candidates = ncand;
    sp.ef_search = rq->ef_search;
    sp.exact = rq->exact != 0;
    if (local == RT_OK && rq->mode != RT_SEARCH_DENSE) {
        sp.mode = RT_SEARCH_BM25;
        local = rt_collection_search_with(c, scr, query, &sp, &bm);
    }
    if (local == RT_OK && rq->mode != RT_SEARCH_BM25) {
        sp.mode = RT_SEARCH_DENSE;
        local = rt_collection_search_with(c, scr, query, &sp, &dn);
    }
    int32_t status = local;
    const char *msg = local == RT_OK ? NULL : rt_last_error();
    int rc = put(packed, &status, 4);
    if (rc == RT_OK) rc = put_str(packed, msg ? msg : "");
    if (rc == RT_OK) rc = put_results(packed, local == RT_OK ? bm : NULL);
    if (rc == RT_OK) rc = put_results(packed, local == RT_OK ? dn : NULL);
    rt_search_results_free(bm);
    rt_search_results_free(dn);
    rt_bm25_stats_free(&st);
    rt_search_scratch_free(scr);
    return rc;
mpi_fail:
    rt_bm25_stats_free(&st);
    rt_search_scratch_free(scr);
    return RT_ERR_INTERNAL;
}

/* ---- merging on rank 0 -------------------------------------------------------------------- */

/* Best score first; ties by rank, then chunk id. */
static int cmp_scored(const item *x, const item *y, float sx, float sy) {
    if (sx != sy) return sx > sy ? -1 : 1;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->r.chunk_id < y->r.chunk_id ? -1 : x->r.chunk_id > y->r.chunk_id;
}

static int cmp_bm25(const void *a, const void *b) {
    const item *x = a, *y = b;
    return cmp_scored(x, y, x->r.bm25_score, y->r.bm25_score);
}

static int cmp_dense(const void *a, const void *b) {
    const item *x = a, *y = b;
    return cmp_scored(x, y, x->r.dense_score, y->r.dense_score);
}

/* Index in u (n) of the hit with it's rank and chunk id, or -1. */
static int find_item(const item *u, int n, const item *it) {
    for (int i = 0; i < n; i++)
        if (u[i].rank == it->rank && u[i].r.chunk_id == it->r.chunk_id) return i;
    return -1;
}

static int copy_result(rt_search_result *dst, const rt_search_result *src) {
    *dst = *src;
    dst->doc_id = rt_strdup(src->doc_id);
    dst->text = rt_strdup(src->text);
    dst->path = src->path ? rt_strdup(src->path) : NULL;
    return dst->doc_id && dst->text && (!src->path || dst->path) ? RT_OK : RT_ERR_NOMEM;
}

/* The merged result: each retriever's gathered list sorted and cut to ncand, fused for hybrid,
 * then the top k. */
static int merge(const request *rq, item *bm, size_t nbm, item *dn, size_t ndn,
                 rt_search_results *res) {
    int ncand = rq->candidates > rq->k ? rq->candidates : rq->k;
    if (rq->mode == RT_SEARCH_BM25) ncand = rq->k;
    if (nbm) qsort(bm, nbm, sizeof *bm, cmp_bm25);
    if (ndn) qsort(dn, ndn, sizeof *dn, cmp_dense);
    if (nbm > (size_t)ncand) nbm = (size_t)ncand;
    if (ndn > (size_t)ncand) ndn = (size_t)ncand;
    /* one entry per distinct chunk (a hybrid search finds some by both retrievers) */
    int n_union = 0;
    item *u = rt_calloc(nbm + ndn + 1, sizeof *u);
    rt_hit *hb = rt_malloc((nbm + 1) * sizeof *hb), *hd = rt_malloc((ndn + 1) * sizeof *hd);
    rt_hit *fused = rt_malloc((nbm + ndn + 1) * sizeof *fused);
    int rc = u && hb && hd && fused ? RT_OK : RT_ERR_NOMEM;
    for (size_t i = 0; rc == RT_OK && i < nbm + ndn; i++) {
        const item *it = i < nbm ? &bm[i] : &dn[i - nbm];
        int j = find_item(u, n_union, it);
        if (j < 0) {
            j = n_union++;
            u[j] = *it; /* borrowed strings: bm/dn own them */
            u[j].r.bm25_score = u[j].r.dense_score = 0;
        }
        if (i < nbm) {
            u[j].r.bm25_score = it->r.bm25_score;
            hb[i] = (rt_hit){j, it->r.bm25_score};
        } else {
            u[j].r.dense_score = it->r.dense_score;
            hd[i - nbm] = (rt_hit){j, it->r.dense_score};
        }
    }
    int nf = 0;
    if (rc == RT_OK) {
        if (rq->mode == RT_SEARCH_BM25) {
            if (nbm) memcpy(fused, hb, nbm * sizeof *fused);
            nf = (int)nbm;
        } else if (rq->mode == RT_SEARCH_DENSE) {
            if (ndn) memcpy(fused, hd, ndn * sizeof *fused);
            nf = (int)ndn;
        } else if (rq->fusion == RT_FUSION_WEIGHTED) {
            nf = rt_fuse_weighted(hd, (int)ndn, hb, (int)nbm, rq->alpha, fused);
        } else {
            nf = rt_fuse_rrf(hb, (int)nbm, hd, (int)ndn, rq->rrf_k, fused);
        }
        if (nf < 0) rc = nf;
    }
    if (rc == RT_OK && nf > rq->k) nf = rq->k;
    if (rc == RT_OK && !(res->items = rt_calloc((size_t)nf + 1, sizeof *res->items)))
        rc = RT_ERR_NOMEM;
    for (int i = 0; rc == RT_OK && i < nf; i++) {
        const item *it = &u[fused[i].id];
        rc = copy_result(&res->items[i], &it->r);
        res->items[i].chunk_id = it->r.chunk_id * rt_dist_size() + it->rank;
        res->items[i].score = fused[i].score;
        res->n++;
    }
    free(u);
    free(hb);
    free(hd);
    free(fused);
    return rc;
}

/* Rank 0: unpacks every rank's reply; the first failed shard's error wins. */
static int collect(const request *rq, const char *all, const size_t *offsets,
                   rt_search_results **out) {
    item *bm = NULL, *dn = NULL;
    size_t nbm = 0, cbm = 0, ndn = 0, cdn = 0;
    int rc = RT_OK;
    for (int r = 0; rc == RT_OK && r < rt_dist_size(); r++) {
        reader rd = {all + offsets[r], all + offsets[r + 1], false};
        int32_t status;
        get(&rd, &status, 4);
        char *msg = get_str(&rd);
        if (rd.bad)
            rc = rt_error(RT_ERR_INTERNAL, "sharded search: a malformed reply from rank %d", r);
        else if (status < 0)
            rc = rt_error(status, "shard %d of %d: %s", r, rt_dist_size(), msg ? msg : "failed");
        free(msg);
        if (rc == RT_OK) rc = get_results(&rd, r, &bm, &nbm, &cbm);
        if (rc == RT_OK) rc = get_results(&rd, r, &dn, &ndn, &cdn);
    }
    rt_search_results *res = rc == RT_OK ? rt_calloc(1, sizeof *res) : NULL;
    if (rc == RT_OK && !res) rc = RT_ERR_NOMEM;
    if (rc == RT_OK) rc = merge(rq, bm, nbm, dn, ndn, res);
    for (size_t i = 0; i < nbm; i++)
        item_free(&bm[i]);
    for (size_t i = 0; i < ndn; i++)
        item_free(&dn[i]);
    free(bm);
    free(dn);
    if (rc < 0) {
        rt_search_results_free(res);
        return rc;
    }
    *out = res;
    return RT_OK;
}

/* One search on every rank (rank 0: rq and query are its own; out receives the merge). */
static int search_all(rt_collection *c, const request *rq, const char *query,
                      rt_search_results **out) {
    rt_strbuf packed = {0};
    int rc = local_part(c, rq, query, &packed);
    if (rc == RT_ERR_INTERNAL) {
        rt_strbuf_free(&packed);
        return rc;
    }
    if (rc < 0) { /* could not even pack: send an empty reply, which rank 0 reports */
        rt_strbuf_free(&packed);
        packed = (rt_strbuf){0};
    }
    char *all = NULL;
    size_t all_len, *offsets = rt_malloc(((size_t)rt_dist_size() + 1) * sizeof *offsets);
    if (!offsets) return RT_ERR_NOMEM; /* not recoverable: the others wait in the all-gather */
    rc = dist_allgather_bytes(packed.data, packed.len, &all, &all_len, offsets);
    rt_strbuf_free(&packed);
    if (rc == RT_OK && out) rc = collect(rq, all, offsets, out);
    free(all);
    free(offsets);
    return rc;
}

int rt_shard_search(rt_collection *c, const char *query, const rt_search_params *params,
                    rt_search_results **out) {
    rt_search_params p = params ? *params : rt_search_default_params();
    if (p.mmr || p.n_filters > 0 || p.query_vector)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: sharded search does not support %s", c->dir,
                        p.mmr ? "MMR" : p.n_filters ? "metadata filters" : "query vectors");
    if (p.k <= 0 || p.k > 10000) return rt_error(RT_ERR_INVALID, "search: k must be 1..10000");
    if ((unsigned)p.mode > RT_SEARCH_HYBRID)
        return rt_error(RT_ERR_INVALID, "search: unknown mode");
    if (!query) query = "";
    size_t qlen = strlen(query);
    if (qlen > (1u << 24)) return rt_error(RT_ERR_RANGE, "search: query of %zu bytes", qlen);
    request rq = {OP_SEARCH,   p.k,     (int32_t)p.mode, (int32_t)p.fusion, p.candidates,
                  p.ef_search, p.exact, p.rrf_k,         p.alpha,           (uint32_t)qlen};
    RT_TRY(dist_bcast(&rq, sizeof rq, 0));
    RT_TRY(dist_bcast((void *)query, qlen, 0)); /* rank 0 only reads it */
    return search_all(c, &rq, query, out);
}

/* ---- documents and chunk titles from the shard that holds them ----------------------------- */

/* This rank's answer to a lookup: status, found, then the fields (document: path, text,
 * metadata, version; title: the title). */
static int lookup_local(rt_collection *c, const request *rq, const char *key, rt_strbuf *b) {
    int32_t status = RT_OK, found = 0;
    rt_stored_document *d = NULL;
    char *title = NULL;
    if (rq->op == OP_DOCUMENT) {
        status = rt_collection_get_document(c, key, &d);
        if (status == RT_ERR_NOT_FOUND) status = RT_OK;
        found = d != NULL;
    } else {
        int64_t id;
        memcpy(&id, key, sizeof id);
        if (id % rt_dist_size() == rt_dist_rank()) {
            status = rt_collection_chunk_title(c, id / rt_dist_size(), &title);
            found = title != NULL;
        }
    }
    int rc = put(b, &status, 4);
    if (rc == RT_OK) rc = put_str(b, status < 0 ? rt_last_error() : "");
    if (rc == RT_OK) rc = put(b, &found, 4);
    if (rc == RT_OK && d) rc = put_str(b, d->path);
    if (rc == RT_OK && d) rc = put_str(b, d->text);
    if (rc == RT_OK && d) rc = put_str(b, d->metadata_json);
    if (rc == RT_OK && d) rc = put(b, &d->version, 8);
    if (rc == RT_OK && title) rc = put_str(b, title);
    rt_stored_document_free(d);
    free(title);
    return rc;
}

/* Rank 0: the first rank's answer that found it (document or title into *out). */
static int lookup_collect(const request *rq, const char *key, const char *all,
                          const size_t *offsets, void *out) {
    for (int r = 0; r < rt_dist_size(); r++) {
        reader rd = {all + offsets[r], all + offsets[r + 1], false};
        int32_t status, found;
        get(&rd, &status, 4);
        char *msg = get_str(&rd);
        get(&rd, &found, 4);
        int rc = rd.bad ? rt_error(RT_ERR_INTERNAL, "sharded lookup: a malformed reply from "
                                                    "rank %d", r)
                 : status < 0 ? rt_error(status, "shard %d of %d: %s", r, rt_dist_size(), msg)
                              : RT_OK;
        free(msg);
        RT_TRY(rc);
        if (!found) continue;
        if (rq->op == OP_TITLE) {
            *(char **)out = get_str(&rd);
            return rd.bad ? RT_ERR_NOMEM : RT_OK;
        }
        rt_stored_document *d = rt_calloc(1, sizeof *d);
        if (!d) return RT_ERR_NOMEM;
        d->id = rt_strdup(key);
        d->path = get_str(&rd);
        d->text = get_str(&rd);
        d->metadata_json = get_str(&rd);
        get(&rd, &d->version, 8);
        if (rd.bad || !d->id || !d->text) {
            rt_stored_document_free(d);
            return rt_error(RT_ERR_INTERNAL, "sharded lookup: a malformed reply from rank %d", r);
        }
        d->len = strlen(d->text);
        *(rt_stored_document **)out = d;
        return RT_OK;
    }
    return rq->op == OP_TITLE ? RT_OK
                              : rt_error(RT_ERR_NOT_FOUND, "no shard holds document '%s'", key);
}

/* One lookup on every rank (rank 0: out receives the answer). */
static int lookup_all(rt_collection *c, const request *rq, const char *key, void *out) {
    rt_strbuf packed = {0};
    int rc = lookup_local(c, rq, key, &packed);
    if (rc < 0) { /* an empty reply, which rank 0 reports as malformed */
        rt_strbuf_free(&packed);
        packed = (rt_strbuf){0};
    }
    char *all = NULL;
    size_t all_len, *offsets = rt_malloc(((size_t)rt_dist_size() + 1) * sizeof *offsets);
    if (!offsets) return RT_ERR_NOMEM;
    rc = dist_allgather_bytes(packed.data, packed.len, &all, &all_len, offsets);
    rt_strbuf_free(&packed);
    if (rc == RT_OK && out) rc = lookup_collect(rq, key, all, offsets, out);
    free(all);
    free(offsets);
    return rc;
}

/* Rank 0: sends a lookup of key (len bytes) to every shard. */
static int lookup(rt_collection *c, int op, const void *key, size_t len, void *out) {
    request rq = {.op = op, .query_len = (uint32_t)len};
    char *k = rt_malloc(len + 1);
    if (!k) return RT_ERR_NOMEM;
    memcpy(k, key, len);
    k[len] = '\0';
    int rc = dist_bcast(&rq, sizeof rq, 0);
    if (rc == RT_OK) rc = dist_bcast(k, len, 0);
    if (rc == RT_OK) rc = lookup_all(c, &rq, k, out);
    free(k);
    return rc;
}

int rt_shard_get_document(rt_collection *c, const char *doc_id, rt_stored_document **out) {
    size_t n = strlen(doc_id);
    if (n > (1u << 20)) return rt_error(RT_ERR_RANGE, "document id of %zu bytes", n);
    c->sharded = false; /* the local lookup inside must not come back here */
    int rc = lookup(c, OP_DOCUMENT, doc_id, n, out);
    c->sharded = true;
    return rc;
}

int rt_shard_chunk_title(rt_collection *c, int64_t chunk_id, char **title) {
    c->sharded = false;
    int rc = lookup(c, OP_TITLE, &chunk_id, sizeof chunk_id, title);
    c->sharded = true;
    return rc;
}

int rt_collection_shard_begin(rt_collection *c, int status) {
    if (!dist_active()) return status;
    RT_TRY(dist_agree(status));
    if (rt_dist_rank() == 0) {
        c->sharded = true;
        return RT_OK;
    }
    for (;;) {
        request rq;
        RT_TRY(dist_bcast(&rq, sizeof rq, 0));
        if (rq.op == OP_END) return RT_OK;
        char *query = rt_malloc((size_t)rq.query_len + 1);
        if (!query) return RT_ERR_NOMEM; /* not recoverable: rank 0 waits in the broadcast */
        int rc = dist_bcast(query, rq.query_len, 0);
        query[rq.query_len] = '\0';
        if (rc == RT_OK && rq.op == OP_SEARCH) rc = search_all(c, &rq, query, NULL);
        if (rc == RT_OK && rq.op != OP_SEARCH) rc = lookup_all(c, &rq, query, NULL);
        free(query);
        RT_TRY(rc);
    }
}

int rt_collection_shard_end(rt_collection *c) {
    if (!c || !c->sharded) return RT_OK;
    c->sharded = false;
    request rq = {.op = OP_END};
    return dist_bcast(&rq, sizeof rq, 0);
}
