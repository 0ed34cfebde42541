/*
 * hnsw.c — see hnsw.h. Distances inside the graph are "smaller is closer": squared L2, or the
 * negated dot product for inner product and cosine; scores returned to callers are their
 * negation.
 */
#include "knowledge/hnsw.h"
#include "knowledge/vector.h"
#include "core/error.h"
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HNSW_MAGIC "RTHNSW\0\0"
#define HNSW_VERSION 1u
#define HEADER_SIZE 128
#define MAX_LEVEL 32
#define MAX_DIM 65536
#define MAX_M 256

typedef struct cand {
    float d;
    uint32_t id;
} cand;

/* A binary heap of candidates: min-heap (closest on top) or max-heap (farthest on top). */
typedef struct heap {
    cand *a;
    size_t n, cap;
} heap;

/* What one search writes: visited stamps (one per node), the two heaps, the query buffer. */
struct rt_hnsw_scratch {
    uint16_t *visited; /* (visited_cap) */
    size_t visited_cap;
    uint16_t epoch;
    heap cands, res;
    float *qbuf; /* (dim) */
    size_t dim;
    uint64_t n_hops, n_dist; /* nodes expanded, distances computed (rt_hnsw_scratch_counts) */
};

struct rt_hnsw {
    rt_hnsw_config cfg;
    const rt_vec_kernels *k;
    size_t dim;
    uint32_t m, m0;
    size_t links_bytes; /* 4 + 4 * m0 */
    size_t vec_bytes;   /* dim * 4, or dim + 8 for int8 */
    size_t label_off;   /* offset of the label in a block */
    size_t block;       /* bytes per node on level 0 */
    uint8_t *level0;    /* n blocks */
    size_t n, cap;
    void *map_base; /* non-NULL while level0 lives in a file mapping */
    size_t map_size;
    uint8_t *levels;     /* (n) top level of each node */
    uint8_t *deleted;    /* (n) tombstones */
    uint64_t *upper_off; /* (n) offset in pool of level 1 links (u32 units) */
    uint32_t *pool;      /* per node and level >= 1: [count, links[m]] */
    size_t pool_len, pool_cap;
    uint32_t entry;
    int max_level;
    size_t n_deleted;
    double level_mult;
    uint64_t rng;
    uint64_t applied_seq;
    /* scratch of inserts (and of rt_hnsw_search); visited grows with cap */
    rt_hnsw_scratch own;
    cand *sorted; /* heuristic input, grows */
    size_t sorted_cap;
    cand *selected;             /* (m0 + 1) */
    float *vbuf, *vbuf2; /* (dim) each */
};

/* ---- heaps ------------------------------------------------------------------------------- */

static int heap_reserve(heap *h, size_t need) {
    if (need <= h->cap) return RT_OK;
    size_t c = h->cap ? h->cap * 2 : 256;
    while (c < need)
        c *= 2;
    cand *a = rt_realloc(h->a, c * sizeof *a);
    if (!a) return RT_ERR_NOMEM;
    h->a = a;
    h->cap = c;
    return RT_OK;
}

/* max = true: farthest on top. Capacity must be reserved. */
static inline void heap_push(heap *h, float d, uint32_t id, bool max) {
    size_t i = h->n++;
    cand *a = h->a;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (max ? a[p].d >= d : a[p].d <= d) break;
        a[i] = a[p];
        i = p;
    }
    a[i].d = d;
    a[i].id = id;
}

static inline void heap_pop(heap *h, bool max) {
    cand *a = h->a;
    cand x = a[--h->n];
    size_t n = h->n, i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float md = x.d;
        if (l < n && (max ? a[l].d > md : a[l].d < md)) {
            m = l;
            md = a[l].d;
        }
        if (r < n && (max ? a[r].d > md : a[r].d < md)) m = r;
        if (m == i) break;
        a[i] = a[m];
        i = m;
    }
    if (n) a[i] = x;
}

/* ---- memory ------------------------------------------------------------------------------ */

/* Node arrays of 2 MiB or more (level-0 blocks, visited stamps) are 2 MiB-aligned and advised
 * for transparent huge pages: at 1M nodes almost every hop lands on a 4 KiB page no TLB entry
 * covers, and with THP in "madvise" mode (the common default) nothing else gets huge pages.
 * The advice may be refused (then 4 KiB pages serve). Released with free(). */
static void *alloc_nodes(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge) return rt_malloc(bytes);
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0) {
        rt_error(RT_ERR_NOMEM, "hnsw: out of memory allocating %zu bytes", bytes);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

/* ---- node access ------------------------------------------------------------------------- */

static inline uint8_t *block_of(const rt_hnsw *h, uint32_t id) {
    return h->level0 + (size_t)id * h->block;
}

static inline uint32_t *links_at(const rt_hnsw *h, uint32_t id, int level) {
    if (level == 0) return (uint32_t *)block_of(h, id);
    return h->pool + h->upper_off[id] + (size_t)(level - 1) * (h->m + 1);
}

static inline const uint8_t *vec_of(const rt_hnsw *h, uint32_t id) {
    return block_of(h, id) + h->links_bytes;
}

static inline int64_t label_of(const rt_hnsw *h, uint32_t id) {
    int64_t l;
    memcpy(&l, block_of(h, id) + h->label_off, sizeof l);
    return l;
}

/* Distance of query q (|q|^2 = qn, used by int8 L2) to a stored vector. */
static inline float dist_q(const rt_hnsw *h, const float *q, float qn, const uint8_t *v) {
    if (!h->cfg.int8) {
        if (h->cfg.metric == RT_METRIC_L2) return h->k->l2sq(q, (const float *)v, h->dim);
        return -h->k->dot(q, (const float *)v, h->dim);
    }
    float scale, sq;
    memcpy(&scale, v + h->dim, 4);
    memcpy(&sq, v + h->dim + 4, 4);
    float d = scale * h->k->dot_i8(q, (const int8_t *)v, h->dim);
    return h->cfg.metric == RT_METRIC_L2 ? qn + sq - 2 * d : -d;
}

/* The float vector of a node: in place, or dequantized into buf. */
static const float *node_f32(const rt_hnsw *h, uint32_t id, float *buf) {
    const uint8_t *v = vec_of(h, id);
    if (!h->cfg.int8) return (const float *)v;
    float scale;
    memcpy(&scale, v + h->dim, 4);
    for (size_t i = 0; i < h->dim; i++)
        buf[i] = scale * (float)((const int8_t *)v)[i];
    return buf;
}

static float sqnorm(const float *v, size_t dim) {
    float s = 0;
    for (size_t i = 0; i < dim; i++)
        s += v[i] * v[i];
    return s;
}

static void encode_vec(const rt_hnsw *h, const float *x, uint8_t *dst) {
    if (!h->cfg.int8) {
        memcpy(dst, x, h->dim * sizeof(float));
        return;
    }
    float maxabs = 0;
    for (size_t i = 0; i < h->dim; i++)
        maxabs = fmaxf(maxabs, fabsf(x[i]));
    float scale = maxabs > 0 ? maxabs / 127.0f : 1.0f;
    float inv = 1.0f / scale, sq = 0;
    int8_t *q = (int8_t *)dst;
    for (size_t i = 0; i < h->dim; i++) {
        float r = roundf(x[i] * inv);
        r = r > 127 ? 127 : (r < -127 ? -127 : r);
        q[i] = (int8_t)r;
        sq += (scale * r) * (scale * r);
    }
    memcpy(dst + h->dim, &scale, 4);
    memcpy(dst + h->dim + 4, &sq, 4);
}

/* ---- creation ---------------------------------------------------------------------------- */

rt_hnsw_config rt_hnsw_default_config(int dim) {
    rt_hnsw_config c = {dim, RT_METRIC_L2, 16, 200, false, 0x5eed5eedull};
    return c;
}

static int validate_config(const rt_hnsw_config *c, const char *name) {
    if (c->dim <= 0 || c->dim > MAX_DIM)
        return rt_error(RT_ERR_INVALID, "%s: dimension %d out of range (1..%d)", name, c->dim,
                        MAX_DIM);
    if (c->m < 2 || c->m > MAX_M)
        return rt_error(RT_ERR_INVALID, "%s: M %d out of range (2..%d)", name, c->m, MAX_M);
    if (c->ef_construction < 1 || c->ef_construction > 1 << 16)
        return rt_error(RT_ERR_INVALID, "%s: efConstruction %d out of range", name,
                        c->ef_construction);
    if ((unsigned)c->metric > RT_METRIC_COSINE)
        return rt_error(RT_ERR_INVALID, "%s: unknown metric %d", name, (int)c->metric);
    return RT_OK;
}

int rt_hnsw_new(const rt_hnsw_config *cfg, rt_hnsw **out) {
    *out = NULL;
    RT_TRY(validate_config(cfg, "hnsw"));
    rt_hnsw *h = rt_calloc(1, sizeof *h);
    if (!h) return RT_ERR_NOMEM;
    h->cfg = *cfg;
    h->k = rt_vec_kernels_get();
    h->dim = (size_t)cfg->dim;
    h->m = (uint32_t)cfg->m;
    h->m0 = 2 * h->m;
    h->links_bytes = 4 + 4 * (size_t)h->m0;
    h->vec_bytes = cfg->int8 ? h->dim + 8 : h->dim * 4;
    h->label_off = (h->links_bytes + h->vec_bytes + 7) & ~(size_t)7;
    h->block = h->label_off + 8;
    h->entry = UINT32_MAX;
    h->max_level = -1;
    h->level_mult = 1.0 / log((double)h->m);
    h->rng = cfg->seed ? cfg->seed : 1;
    h->selected = rt_malloc((h->m0 + 1) * sizeof *h->selected);
    h->own.qbuf = rt_malloc(h->dim * sizeof(float));
    h->own.dim = h->dim;
    h->vbuf = rt_malloc(h->dim * sizeof(float));
    h->vbuf2 = rt_malloc(h->dim * sizeof(float));
    if (!h->selected || !h->own.qbuf || !h->vbuf || !h->vbuf2 ||
        heap_reserve(&h->own.cands, 256) || heap_reserve(&h->own.res, 256)) {
        rt_hnsw_free(h);
        return RT_ERR_NOMEM;
    }
    *out = h;
    return RT_OK;
}

static void unmap_level0(rt_hnsw *h) {
    if (h->map_base) munmap(h->map_base, h->map_size);
    h->map_base = NULL;
    h->level0 = NULL;
}

void rt_hnsw_free(rt_hnsw *h) {
    if (!h) return;
    if (h->map_base)
        unmap_level0(h);
    else
        free(h->level0);
    free(h->levels);
    free(h->deleted);
    free(h->upper_off);
    free(h->pool);
    free(h->own.visited);
    free(h->own.cands.a);
    free(h->own.res.a);
    free(h->sorted);
    free(h->selected);
    free(h->own.qbuf);
    free(h->vbuf);
    free(h->vbuf2);
    free(h);
}

int rt_hnsw_reserve(rt_hnsw *h, size_t n) {
    if (n <= h->cap && !h->map_base) return RT_OK;
    if (n < h->n) n = h->n;
    if (n > UINT32_MAX - 1) return rt_error(RT_ERR_RANGE, "hnsw: more than 2^32 nodes");
    size_t bytes;
    if (!rt_mul_size(n, h->block, &bytes)) return rt_error(RT_ERR_RANGE, "hnsw: size overflow");
    uint8_t *l0 = alloc_nodes(bytes);
    if (!l0) return RT_ERR_NOMEM;
    if (h->n) memcpy(l0, h->level0, h->n * h->block);
    if (h->map_base)
        unmap_level0(h);
    else
        free(h->level0);
    h->level0 = l0;
    uint8_t *lv = rt_realloc(h->levels, n);
    if (!lv) return RT_ERR_NOMEM;
    h->levels = lv;
    uint8_t *del = rt_realloc(h->deleted, n);
    if (!del) return RT_ERR_NOMEM;
    h->deleted = del;
    uint64_t *uo = rt_realloc(h->upper_off, n * sizeof *uo);
    if (!uo) return RT_ERR_NOMEM;
    h->upper_off = uo;
    uint16_t *vis = alloc_nodes(n * sizeof *vis);
    if (!vis) return RT_ERR_NOMEM;
    size_t kept = h->own.visited_cap < n ? h->own.visited_cap : n;
    if (kept) memcpy(vis, h->own.visited, kept * sizeof *vis);
    memset(vis + kept, 0, (n - kept) * sizeof *vis);
    free(h->own.visited);
    h->own.visited = vis;
    h->own.visited_cap = n;
    h->cap = n;
    return RT_OK;
}

/* ---- search ------------------------------------------------------------------------------ */

static inline void new_epoch(rt_hnsw_scratch *s) {
    if (++s->epoch == 0) {
        memset(s->visited, 0, s->visited_cap * sizeof *s->visited);
        s->epoch = 1;
    }
}

static inline bool result_ok(const rt_hnsw *h, uint32_t id, const rt_idset *allowed) {
    return !h->deleted[id] && (!allowed || rt_idset_has(allowed, label_of(h, id)));
}

/* Cache lines of neighbour vectors kept in flight ahead of the distance being computed: a
 * 128-dim distance takes ~10 ns, a miss to DRAM with its page walk ~100 ns or more, so one vector
 * ahead (hnswlib's choice) leaves most of the latency exposed. Measured at 300k x 128 (9 lines a
 * vector): 2 or 4 vectors ahead gain less than 12-16; all of a hop's neighbours at once, less. */
#define PREFETCH_LINES 128

/* Prefetches the cache lines of p .. p + n - 1 (n > 0). */
static inline void prefetch_bytes(const uint8_t *p, size_t n) {
    for (size_t off = 0; off < n; off += 64)
        __builtin_prefetch(p + off);
    __builtin_prefetch(p + n - 1);
}

/* Beam search on one level from ep; the ef closest (filtered when filtering) end in s->res
 * (max-heap). Each hop first gathers the unvisited neighbours (their visited stamps prefetched
 * together), then computes their distances with the vectors of the next few neighbours in flight
 * (PREFETCH_LINES); the link block of the likely next hop (the candidate heap's top) is
 * prefetched a hop ahead. Returns RT_OK or RT_ERR_NOMEM. */
static int search_layer(const rt_hnsw *h, rt_hnsw_scratch *s, const float *q, float qn, uint32_t ep,
                        float ep_d, size_t ef, int level, bool filtering,
                        const rt_idset *allowed) {
    new_epoch(s);
    /* Locals, not fields: with -fno-strict-aliasing every heap store could alias *h, so the
     * compiler would reload fields inside the loop. */
    const uint16_t epoch = s->epoch;
    uint16_t *const visited = s->visited;
    const uint8_t *const level0 = h->level0;
    const size_t block = h->block, links_bytes = h->links_bytes, dim = h->dim;
    const size_t vec_bytes = h->vec_bytes;
    const size_t lines = (vec_bytes + 63) / 64 + 1; /* a vector not aligned to a line */
    const uint32_t ahead = lines >= PREFETCH_LINES / 2 ? 2 : (uint32_t)(PREFETCH_LINES / lines);
    const bool f32 = !h->cfg.int8;
    float (*const fdist)(const float *, const float *, size_t) =
        h->cfg.metric == RT_METRIC_L2 ? h->k->l2sq : h->k->dot;
    const float sign = h->cfg.metric == RT_METRIC_L2 ? 1.0f : -1.0f;
    heap *cands = &s->cands, *res = &s->res;
    uint64_t n_hops = 0, n_dist = 0;
    uint32_t todo[2 * MAX_M]; /* unvisited neighbours of the current hop */
    cands->n = res->n = 0;
    RT_TRY(heap_reserve(res, ef + 2));
    RT_TRY(heap_reserve(cands, 256));
    visited[ep] = epoch;
    heap_push(cands, -ep_d, ep, true); /* max-heap on -d is a min-heap on d */
    if (!filtering || result_ok(h, ep, allowed)) heap_push(res, ep_d, ep, true);
    float lower = res->n ? res->a[0].d : INFINITY;
    while (cands->n) {
        cand c = cands->a[0];
        if (-c.d > lower && res->n >= ef) break;
        heap_pop(cands, true);
        if (level == 0 && cands->n)
            prefetch_bytes(level0 + (size_t)cands->a[0].id * block, links_bytes);
        const uint32_t *links = level == 0 ? (const uint32_t *)(level0 + (size_t)c.id * block)
                                           : links_at(h, c.id, level);
        uint32_t cnt = links[0];
        n_hops++;
        for (uint32_t j = 1; j <= cnt; j++)
            __builtin_prefetch(visited + links[j]);
        uint32_t nt = 0;
        for (uint32_t j = 1; j <= cnt; j++) {
            uint32_t nb = links[j];
            if (visited[nb] == epoch) continue;
            visited[nb] = epoch;
            todo[nt++] = nb;
        }
        n_dist += nt;
        if (cands->n + nt + 1 > cands->cap && heap_reserve(cands, cands->n + nt + 1))
            return RT_ERR_NOMEM;
        for (uint32_t i = 0; i < nt && i < ahead; i++)
            prefetch_bytes(level0 + (size_t)todo[i] * block + links_bytes, vec_bytes);
        for (uint32_t i = 0; i < nt; i++) {
            if (i + ahead < nt)
                prefetch_bytes(level0 + (size_t)todo[i + ahead] * block + links_bytes, vec_bytes);
            uint32_t nb = todo[i];
            const uint8_t *v = level0 + (size_t)nb * block + links_bytes;
            float d = f32 ? sign * fdist(q, (const float *)v, dim) : dist_q(h, q, qn, v);
            if (res->n < ef || d < lower) {
                heap_push(cands, -d, nb, true);
                if (!filtering || result_ok(h, nb, allowed)) {
                    heap_push(res, d, nb, true);
                    if (res->n > ef) heap_pop(res, true);
                }
                if (res->n) lower = res->a[0].d;
            }
        }
    }
    s->n_hops += n_hops;
    s->n_dist += n_dist;
    return RT_OK;
}

/* Greedy descent from the entry point to level `stop` + 1; returns the closest node found. */
static uint32_t greedy_descend(const rt_hnsw *h, const float *q, float qn, int stop, float *d_out) {
    uint32_t cur = h->entry;
    float d = dist_q(h, q, qn, vec_of(h, cur));
    for (int lc = h->max_level; lc > stop; lc--) {
        bool changed = true;
        while (changed) {
            changed = false;
            const uint32_t *links = links_at(h, cur, lc);
            for (uint32_t j = 1; j <= links[0]; j++) {
                float dn = dist_q(h, q, qn, vec_of(h, links[j]));
                if (dn < d) {
                    d = dn;
                    cur = links[j];
                    changed = true;
                }
            }
        }
    }
    *d_out = d;
    return cur;
}

static const float *prepare_query(const rt_hnsw *h, rt_hnsw_scratch *s, const float *q,
                                  float *qn) {
    if (h->cfg.metric == RT_METRIC_COSINE) {
        memcpy(s->qbuf, q, h->dim * sizeof(float));
        rt_vec_normalize(s->qbuf, h->dim);
        q = s->qbuf;
    }
    *qn = h->cfg.int8 ? sqnorm(q, h->dim) : 0; /* only int8 L2 distances use |q|^2 */
    return q;
}

int rt_hnsw_scratch_new(rt_hnsw_scratch **out) {
    *out = rt_calloc(1, sizeof **out);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

void rt_hnsw_scratch_free(rt_hnsw_scratch *s) {
    if (!s) return;
    free(s->visited);
    free(s->cands.a);
    free(s->res.a);
    free(s->qbuf);
    free(s);
}

/* Sizes s for h: a visited stamp per node and a query buffer of h's dimension. */
static int scratch_fit(const rt_hnsw *h, rt_hnsw_scratch *s) {
    if (s->visited_cap < h->n) {
        size_t n = h->cap > h->n ? h->cap : h->n; /* a mapped index has no spare capacity */
        uint16_t *v = alloc_nodes(n * sizeof *v);
        if (!v) return RT_ERR_NOMEM;
        memset(v, 0, n * sizeof *v);
        free(s->visited);
        s->visited = v;
        s->visited_cap = n;
        s->epoch = 0;
    }
    if (s->dim < h->dim) {
        float *q = rt_malloc(h->dim * sizeof *q);
        if (!q) return RT_ERR_NOMEM;
        free(s->qbuf);
        s->qbuf = q;
        s->dim = h->dim;
    }
    return RT_OK;
}

int rt_hnsw_search_with(const rt_hnsw *h, rt_hnsw_scratch *s, const float *q, int k, int ef,
                        const rt_idset *allowed, rt_hit *out) {
    if (k <= 0 || h->n == 0 || h->n == h->n_deleted) return 0;
    if (ef < k) ef = k;
    RT_TRY(scratch_fit(h, s));
    float qn, d;
    q = prepare_query(h, s, q, &qn);
    uint32_t ep = greedy_descend(h, q, qn, 0, &d);
    RT_TRY(search_layer(h, s, q, qn, ep, d, (size_t)ef, 0, true, allowed));
    heap *res = &s->res;
    while (res->n > (size_t)k)
        heap_pop(res, true);
    int n = (int)res->n;
    for (int i = n - 1; i >= 0; i--) {
        out[i].id = label_of(h, res->a[0].id);
        out[i].score = -res->a[0].d;
        heap_pop(res, true);
    }
    return n;
}

void rt_hnsw_scratch_counts(const rt_hnsw_scratch *s, uint64_t *hops, uint64_t *dists) {
    *hops = s->n_hops;
    *dists = s->n_dist;
}

int rt_hnsw_search(rt_hnsw *h, const float *q, int k, int ef, const rt_idset *allowed,
                   rt_hit *out) {
    return rt_hnsw_search_with(h, &h->own, q, k, ef, allowed, out);
}

int rt_hnsw_search_exact_with(const rt_hnsw *h, rt_hnsw_scratch *s, const float *q, int k,
                              const rt_idset *allowed, rt_hit *out) {
    if (k <= 0) return 0;
    RT_TRY(scratch_fit(h, s));
    float qn;
    q = prepare_query(h, s, q, &qn);
    rt_topk top = {out, 0, k};
    for (uint32_t i = 0; i < h->n; i++) {
        if (!result_ok(h, i, allowed)) continue;
        rt_topk_push(&top, label_of(h, i), -dist_q(h, q, qn, vec_of(h, i)));
    }
    return rt_topk_sort(&top);
}

int rt_hnsw_search_exact(rt_hnsw *h, const float *q, int k, const rt_idset *allowed, rt_hit *out) {
    return rt_hnsw_search_exact_with(h, &h->own, q, k, allowed, out);
}

/* ---- insertion --------------------------------------------------------------------------- */

static int cmp_cand(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The paper's heuristic: from cands (sorted by distance to the base), keep a candidate only if
 * it is closer to the base than to every kept one. Writes up to max into h->selected. */
static size_t select_neighbors(rt_hnsw *h, const cand *cands, size_t n, size_t max) {
    size_t n_sel = 0;
    for (size_t i = 0; i < n && n_sel < max; i++) {
        const float *cv = node_f32(h, cands[i].id, h->vbuf);
        float cn = h->cfg.int8 ? sqnorm(cv, h->dim) : 0;
        bool good = true;
        for (size_t j = 0; j < n_sel; j++) {
            float d = dist_q(h, cv, cn, vec_of(h, h->selected[j].id));
            if (d < cands[i].d) {
                good = false;
                break;
            }
        }
        if (good) h->selected[n_sel++] = cands[i];
    }
    return n_sel;
}

static int reserve_sorted(rt_hnsw *h, size_t n) {
    if (n <= h->sorted_cap) return RT_OK;
    cand *s = rt_realloc(h->sorted, n * sizeof *s);
    if (!s) return RT_ERR_NOMEM;
    h->sorted = s;
    h->sorted_cap = n;
    return RT_OK;
}

/* Adds link src -> dst on level; prunes src's list with the heuristic when full. */
static int add_link(rt_hnsw *h, uint32_t src, uint32_t dst, int level) {
    uint32_t *links = links_at(h, src, level);
    uint32_t cap = level == 0 ? h->m0 : h->m;
    uint32_t cnt = links[0];
    for (uint32_t j = 1; j <= cnt; j++)
        if (links[j] == dst) return RT_OK;
    if (cnt < cap) {
        links[1 + cnt] = dst;
        links[0] = cnt + 1;
        return RT_OK;
    }
    RT_TRY(reserve_sorted(h, (size_t)cap + 1));
    const float *sv = node_f32(h, src, h->vbuf2);
    float sn = h->cfg.int8 ? sqnorm(sv, h->dim) : 0;
    for (uint32_t j = 0; j < cnt; j++) {
        h->sorted[j].id = links[1 + j];
        h->sorted[j].d = dist_q(h, sv, sn, vec_of(h, links[1 + j]));
    }
    h->sorted[cnt].id = dst;
    h->sorted[cnt].d = dist_q(h, sv, sn, vec_of(h, dst));
    qsort(h->sorted, (size_t)cnt + 1, sizeof *h->sorted, cmp_cand);
    size_t n_sel = select_neighbors(h, h->sorted, (size_t)cnt + 1, cap);
    for (size_t j = 0; j < n_sel; j++)
        links[1 + j] = h->selected[j].id;
    links[0] = (uint32_t)n_sel;
    return RT_OK;
}

static int random_level(rt_hnsw *h) {
    h->rng ^= h->rng << 13;
    h->rng ^= h->rng >> 7;
    h->rng ^= h->rng << 17;
    double u = ((h->rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    int l = (int)(-log(u) * h->level_mult);
    return l > MAX_LEVEL - 1 ? MAX_LEVEL - 1 : l;
}

int rt_hnsw_add(rt_hnsw *h, int64_t label, const float *v) {
    if (h->n && label <= label_of(h, (uint32_t)(h->n - 1)))
        return rt_error(RT_ERR_INVALID, "hnsw: label %lld added out of order", (long long)label);
    for (size_t i = 0; i < h->dim; i++)
        if (!isfinite(v[i]))
            return rt_error(RT_ERR_INVALID,
                            "hnsw: vector for label %lld has a non-finite value "
                            "at %zu",
                            (long long)label, i);
    if (h->n == h->cap || h->map_base)
        RT_TRY(rt_hnsw_reserve(h, h->cap ? h->cap + h->cap / 2 + 1 : 1024));
    float qn;
    const float *q = prepare_query(h, &h->own, v, &qn);
    int level = random_level(h);
    size_t need = h->pool_len + (size_t)level * (h->m + 1);
    if (need > h->pool_cap) {
        size_t c = h->pool_cap ? h->pool_cap * 2 : 4096;
        while (c < need)
            c *= 2;
        uint32_t *p = rt_realloc(h->pool, c * sizeof *p);
        if (!p) return RT_ERR_NOMEM;
        h->pool = p;
        h->pool_cap = c;
    }
    uint32_t id = (uint32_t)h->n;
    uint8_t *blk = block_of(h, id);
    memset(blk, 0, h->block);
    encode_vec(h, q, blk + h->links_bytes);
    memcpy(blk + h->label_off, &label, sizeof label);
    h->levels[id] = (uint8_t)level;
    h->deleted[id] = 0;
    h->upper_off[id] = h->pool_len;
    if (level) memset(h->pool + h->pool_len, 0, (size_t)level * (h->m + 1) * sizeof *h->pool);
    h->pool_len = need;
    h->own.visited[id] = 0;
    h->n++;
    if (h->entry == UINT32_MAX) {
        h->entry = id;
        h->max_level = level;
        return RT_OK;
    }
    if (h->cfg.int8) { /* search with the stored (quantized) vector, as later queries see it */
        q = node_f32(h, id, h->own.qbuf);
        qn = sqnorm(q, h->dim);
    }
    float d;
    uint32_t ep = greedy_descend(h, q, qn, level, &d);
    for (int lc = level < h->max_level ? level : h->max_level; lc >= 0; lc--) {
        RT_TRY(search_layer(h, &h->own, q, qn, ep, d, (size_t)h->cfg.ef_construction, lc, false,
                            NULL));
        heap *res = &h->own.res;
        RT_TRY(reserve_sorted(h, res->n + 1));
        size_t nr = res->n;
        for (size_t i = nr; i-- > 0;) {
            h->sorted[i] = res->a[0];
            heap_pop(res, true);
        }
        ep = h->sorted[0].id;
        d = h->sorted[0].d;
        /* sorted is consumed by add_link's pruning, so keep the selection first. */
        size_t n_sel = select_neighbors(h, h->sorted, nr, h->m);
        uint32_t sel[MAX_M * 2];
        for (size_t j = 0; j < n_sel; j++)
            sel[j] = h->selected[j].id;
        uint32_t *links = links_at(h, id, lc);
        for (size_t j = 0; j < n_sel; j++)
            links[1 + j] = sel[j];
        links[0] = (uint32_t)n_sel;
        for (size_t j = 0; j < n_sel; j++)
            RT_TRY(add_link(h, sel[j], id, lc));
    }
    if (level > h->max_level) {
        h->entry = id;
        h->max_level = level;
    }
    return RT_OK;
}

/* Node index of label, or -1. */
static int64_t find_label(const rt_hnsw *h, int64_t label) {
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (label_of(h, (uint32_t)mid) < label)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < h->n && label_of(h, (uint32_t)lo) == label ? (int64_t)lo : -1;
}

int rt_hnsw_remove(rt_hnsw *h, int64_t label) {
    int64_t id = find_label(h, label);
    if (id < 0 || h->deleted[id]) return RT_OK;
    h->deleted[id] = 1;
    h->n_deleted++;
    return RT_OK;
}

int rt_hnsw_get(const rt_hnsw *h, int64_t label, float *out) {
    int64_t id = find_label(h, label);
    if (id < 0 || h->deleted[id])
        return rt_error(RT_ERR_NOT_FOUND, "hnsw: no vector for label %lld", (long long)label);
    const float *v = node_f32(h, (uint32_t)id, out);
    if (v != out) memcpy(out, v, h->dim * sizeof(float));
    return RT_OK;
}

size_t rt_hnsw_size(const rt_hnsw *h) {
    return h->n - h->n_deleted;
}
size_t rt_hnsw_n_deleted(const rt_hnsw *h) {
    return h->n_deleted;
}

int rt_hnsw_compact(rt_hnsw **hp) {
    rt_hnsw *h = *hp;
    if (!h->n_deleted) return RT_OK;
    rt_hnsw *g;
    RT_TRY(rt_hnsw_new(&h->cfg, &g));
    int st = rt_hnsw_reserve(g, h->n - h->n_deleted);
    float *buf = rt_malloc(h->dim * sizeof *buf);
    if (!buf) st = RT_ERR_NOMEM;
    for (uint32_t i = 0; !st && i < h->n; i++) {
        if (h->deleted[i]) continue;
        const float *v = node_f32(h, i, buf);
        st = rt_hnsw_add(g, label_of(h, i), v);
    }
    free(buf);
    if (st) {
        rt_hnsw_free(g);
        return st;
    }
    g->applied_seq = h->applied_seq;
    rt_hnsw_free(h);
    *hp = g;
    return RT_OK;
}
int rt_hnsw_dim(const rt_hnsw *h) {
    return (int)h->dim;
}
uint64_t rt_hnsw_applied_seq(const rt_hnsw *h) {
    return h->applied_seq;
}
void rt_hnsw_set_applied_seq(rt_hnsw *h, uint64_t seq) {
    h->applied_seq = seq;
}

size_t rt_hnsw_memory(const rt_hnsw *h) {
    return h->cap * (h->block + 1 + 1 + 8 + 2) + h->pool_cap * 4 +
           (h->own.cands.cap + h->own.res.cap + h->sorted_cap) * sizeof(cand);
}

/* ---- persistence -------------------------------------------------------------------------
 * Header (128 bytes, little-endian): magic[8]; u32 version, dim, metric, int8, m, m0,
 * ef_construction; i32 max_level; u32 entry; u32 reserved; u64 n, block, pool_len, applied_seq,
 * rng; zero padding. Then level0 (n * block), levels u8[n], deleted u8[n], zero padding to a
 * multiple of 8, upper_off u64[n], pool u32[pool_len]. */

typedef struct hnsw_header {
    char magic[8];
    uint32_t version, dim, metric, int8, m, m0, ef_construction;
    int32_t max_level;
    uint32_t entry, reserved;
    uint64_t n, block, pool_len, applied_seq, rng;
} hnsw_header;

_Static_assert(sizeof(hnsw_header) <= HEADER_SIZE, "header fits");

int rt_hnsw_save(const rt_hnsw *h, const char *path) {
    uint8_t hdr[HEADER_SIZE] = {0};
    hnsw_header hh = {.version = HNSW_VERSION,
                      .dim = (uint32_t)h->dim,
                      .metric = (uint32_t)h->cfg.metric,
                      .int8 = h->cfg.int8,
                      .m = h->m,
                      .m0 = h->m0,
                      .ef_construction = (uint32_t)h->cfg.ef_construction,
                      .max_level = h->max_level,
                      .entry = h->entry,
                      .n = h->n,
                      .block = h->block,
                      .pool_len = h->pool_len,
                      .applied_seq = h->applied_seq,
                      .rng = h->rng};
    memcpy(hh.magic, HNSW_MAGIC, 8);
    memcpy(hdr, &hh, sizeof hh);
    rt_atomic_file f;
    RT_TRY(rt_atomic_file_open(&f, path));
    static const uint8_t zeros[8] = {0};
    size_t pad = (8 - (2 * h->n) % 8) % 8;
    int st = rt_fwrite_all(f.fp, hdr, sizeof hdr, path);
    if (!st) st = rt_fwrite_all(f.fp, h->level0, h->n * h->block, path);
    if (!st) st = rt_fwrite_all(f.fp, h->levels, h->n, path);
    if (!st) st = rt_fwrite_all(f.fp, h->deleted, h->n, path);
    if (!st) st = rt_fwrite_all(f.fp, zeros, pad, path);
    if (!st) st = rt_fwrite_all(f.fp, h->upper_off, h->n * sizeof *h->upper_off, path);
    if (!st) st = rt_fwrite_all(f.fp, h->pool, h->pool_len * sizeof *h->pool, path);
    if (st) {
        rt_atomic_file_abort(&f);
        return st;
    }
    return rt_atomic_file_commit(&f);
}

static int check_links(const rt_hnsw *h, const uint32_t *links, uint32_t cap, uint32_t self,
                       const char *name, int level) {
    if (links[0] > cap)
        return rt_error(RT_ERR_FORMAT, "%s: node %u level %d: %u links, more than %u", name, self,
                        level, links[0], cap);
    for (uint32_t j = 1; j <= links[0]; j++) {
        if (links[j] >= h->n || links[j] == self)
            return rt_error(RT_ERR_FORMAT, "%s: node %u level %d: bad link %u", name, self, level,
                            links[j]);
        /* a search that follows this link reads the target's links at this level */
        if (h->levels[links[j]] < level)
            return rt_error(RT_ERR_FORMAT, "%s: node %u level %d: link to node %u of level %u",
                            name, self, level, links[j], h->levels[links[j]]);
    }
    return RT_OK;
}

/* Parses a whole file image. When map_base is set, level0 stays in the mapping. */
static int parse(const uint8_t *data, size_t size, const char *name, void *map_base,
                 size_t map_size, rt_hnsw **out) {
    *out = NULL;
    if (size < HEADER_SIZE)
        return rt_error(RT_ERR_FORMAT, "%s: %zu bytes, too short for an HNSW header", name, size);
    hnsw_header hh;
    memcpy(&hh, data, sizeof hh);
    if (memcmp(hh.magic, HNSW_MAGIC, 8) != 0)
        return rt_error(RT_ERR_FORMAT, "%s: offset 0: not a ragtune HNSW index (bad magic)", name);
    if (hh.version != HNSW_VERSION)
        return rt_error(RT_ERR_UNSUPPORTED, "%s: offset 8: HNSW version %u, expected %u", name,
                        hh.version, HNSW_VERSION);
    rt_hnsw_config cfg = {(int)(hh.dim > MAX_DIM ? 0 : hh.dim),
                          (rt_metric)hh.metric,
                          (int)(hh.m > MAX_M ? 0 : hh.m),
                          (int)hh.ef_construction,
                          hh.int8 != 0,
                          hh.rng};
    if (hh.int8 > 1 || hh.ef_construction > 1 << 16)
        return rt_error(RT_ERR_FORMAT, "%s: bad header fields", name);
    RT_TRY(validate_config(&cfg, name));
    rt_hnsw *h;
    RT_TRY(rt_hnsw_new(&cfg, &h));
    int st = RT_OK;
    if (hh.m0 != h->m0 || hh.block != h->block) {
        st = rt_error(RT_ERR_FORMAT, "%s: block size %llu / m0 %u disagree with dim %u, m %u", name,
                      (unsigned long long)hh.block, hh.m0, hh.dim, hh.m);
        goto fail;
    }
    size_t n = (size_t)hh.n, pool_len = (size_t)hh.pool_len, need = HEADER_SIZE, t;
    if (hh.n > size || hh.pool_len > size || !rt_mul_size(n, h->block, &t) ||
        !rt_add_size(need, t, &need) || !rt_add_size(need, 2 * n, &need) ||
        !rt_add_size(need, (8 - (2 * n) % 8) % 8, &need) || !rt_add_size(need, 8 * n, &need) ||
        !rt_add_size(need, 4 * pool_len, &need) || need != size) {
        st = rt_error(RT_ERR_FORMAT,
                      "%s: file is %zu bytes; header (n=%llu, pool=%llu) implies "
                      "a different size",
                      name, size, (unsigned long long)hh.n, (unsigned long long)hh.pool_len);
        goto fail;
    }
    if (n == 0 ? (hh.entry != UINT32_MAX || hh.max_level != -1)
               : (hh.entry >= n || hh.max_level < 0 || hh.max_level >= MAX_LEVEL)) {
        st = rt_error(RT_ERR_FORMAT, "%s: bad entry point %u / max level %d", name, hh.entry,
                      hh.max_level);
        goto fail;
    }
    if (n) {
        if (map_base) {
            h->map_base = map_base;
            h->map_size = map_size;
            h->level0 = (uint8_t *)data + HEADER_SIZE;
            h->cap = 0;
            /* side arrays are ordinary allocations */
            h->levels = rt_malloc(n);
            h->deleted = rt_malloc(n);
            h->upper_off = rt_malloc(n * 8);
            h->own.visited = alloc_nodes(n * sizeof *h->own.visited);
            if (h->own.visited) memset(h->own.visited, 0, n * sizeof *h->own.visited);
            h->own.visited_cap = n;
            if (!h->levels || !h->deleted || !h->upper_off || !h->own.visited) {
                st = RT_ERR_NOMEM;
                goto fail;
            }
            h->cap = n;
        } else {
            if ((st = rt_hnsw_reserve(h, n))) goto fail;
            memcpy(h->level0, data + HEADER_SIZE, n * h->block);
        }
    }
    if (!n && map_base) munmap(map_base, map_size);
    map_base = NULL; /* owned by h from here */
    h->n = n;
    const uint8_t *p = data + HEADER_SIZE + n * h->block;
    if (n) {
        memcpy(h->levels, p, n);
        memcpy(h->deleted, p + n, n);
        memcpy(h->upper_off, p + 2 * n + (8 - (2 * n) % 8) % 8, n * 8);
    }
    p += 2 * n + (8 - (2 * n) % 8) % 8 + 8 * n;
    h->pool = rt_malloc(pool_len * 4 + 4);
    if (!h->pool) {
        st = RT_ERR_NOMEM;
        goto fail;
    }
    memcpy(h->pool, p, pool_len * 4);
    h->pool_len = h->pool_cap = pool_len;
    h->entry = hh.entry;
    h->max_level = hh.max_level;
    h->applied_seq = hh.applied_seq;
    h->rng = hh.rng ? hh.rng : 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = (uint32_t)i;
        if (i > 0 && label_of(h, id) <= label_of(h, id - 1)) {
            st = rt_error(RT_ERR_FORMAT, "%s: labels not increasing at node %zu", name, i);
            goto fail;
        }
        if (h->deleted[i] > 1 || h->levels[i] > h->max_level) {
            st = rt_error(RT_ERR_FORMAT, "%s: node %zu: bad level %u or tombstone %u", name, i,
                          h->levels[i], h->deleted[i]);
            goto fail;
        }
        h->n_deleted += h->deleted[i];
        if ((st = check_links(h, links_at(h, id, 0), h->m0, id, name, 0))) goto fail;
        if (h->levels[i]) {
            uint64_t off = h->upper_off[i], len = (uint64_t)h->levels[i] * (h->m + 1);
            if (off > pool_len || len > pool_len - off) {
                st = rt_error(RT_ERR_FORMAT, "%s: node %zu: upper links outside the pool", name, i);
                goto fail;
            }
            for (int lc = 1; lc <= h->levels[i]; lc++)
                if ((st = check_links(h, links_at(h, id, lc), h->m, id, name, lc))) goto fail;
        }
        if (h->cfg.int8) {
            float s[2];
            memcpy(s, vec_of(h, id) + h->dim, 8);
            if (!isfinite(s[0]) || !isfinite(s[1]) || s[0] <= 0) {
                st = rt_error(RT_ERR_FORMAT, "%s: node %zu: bad quantization scale", name, i);
                goto fail;
            }
        }
    }
    if (n && h->levels[h->entry] != h->max_level) {
        st = rt_error(RT_ERR_FORMAT, "%s: entry point %u is not on the top level", name, h->entry);
        goto fail;
    }
    *out = h;
    return RT_OK;
fail:
    if (map_base) munmap(map_base, map_size);
    rt_hnsw_free(h);
    return st;
}

int rt_hnsw_load_buffer(const void *data, size_t size, const char *name, rt_hnsw **out) {
    return parse(data, size, name, NULL, 0, out);
}

int rt_hnsw_load(const char *path, rt_hnsw **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rt_error(RT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rt_error(RT_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size < HEADER_SIZE) {
        close(fd);
        return rt_error(RT_ERR_FORMAT, "%s: %zu bytes, too short for an HNSW header", path, size);
    }
    /* Private writable mapping: pages are shared with the page cache until written. */
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return rt_error(RT_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    return parse(p, size, path, p, size, out);
}
