/*
 * hits.h — what the retrievers share: a scored hit (chunk id, score), a bitmap of allowed chunk
 * ids (metadata filters are resolved into one before a search and tested during it), and a
 * bounded top-k heap. Header-only; internal to the knowledge layer.
 */
#ifndef RT_KNOWLEDGE_HITS_H
#define RT_KNOWLEDGE_HITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_hit {
    int64_t id;  /* chunk id */
    float score; /* higher is better */
} rt_hit;

/* Allowed chunk ids as a bitmap over [0, n_bits). NULL means everything is allowed. */
typedef struct rt_idset {
    uint64_t *bits;
    int64_t n_bits;
} rt_idset;

static inline bool rt_idset_has(const rt_idset *s, int64_t id) {
    if (!s) return true;
    if (id < 0 || id >= s->n_bits) return false;
    return (s->bits[id >> 6] >> (id & 63)) & 1;
}

/* a ranks below b: lower score, or equal score and larger id (ties go to the older chunk). */
static inline bool rt_hit_worse(const rt_hit *a, const rt_hit *b) {
    return a->score < b->score || (a->score == b->score && a->id > b->id);
}

/* A min-heap of the best k hits seen so far (the root is the worst kept). */
typedef struct rt_topk {
    rt_hit *h; /* capacity k */
    int n, k;
} rt_topk;

static inline void rt_topk_sift_down(rt_topk *t, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && rt_hit_worse(&t->h[l], &t->h[m])) m = l;
        if (r < t->n && rt_hit_worse(&t->h[r], &t->h[m])) m = r;
        if (m == i) return;
        rt_hit x = t->h[i];
        t->h[i] = t->h[m];
        t->h[m] = x;
        i = m;
    }
}

/* Offers a hit; keeps it if it beats the worst of the k kept. */
static inline void rt_topk_push(rt_topk *t, int64_t id, float score) {
    if (t->n < t->k) {
        int i = t->n++;
        t->h[i].id = id;
        t->h[i].score = score;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!rt_hit_worse(&t->h[i], &t->h[p])) break;
            rt_hit x = t->h[i];
            t->h[i] = t->h[p];
            t->h[p] = x;
            i = p;
        }
    } else if (t->k > 0 && rt_hit_worse(&t->h[0], &(rt_hit){id, score})) {
        t->h[0].id = id;
        t->h[0].score = score;
        rt_topk_sift_down(t, 0);
    }
}

/* Sorts the kept hits best first (destroys the heap order); returns the count. */
static inline int rt_topk_sort(rt_topk *t) {
    int n = t->n;
    while (t->n > 1) {
        rt_hit x = t->h[0];
        t->h[0] = t->h[t->n - 1];
        t->h[t->n - 1] = x;
        t->n--;
        rt_topk_sift_down(t, 0);
    }
    t->n = n;
    return n;
}

#endif
