/*
 * bpe.c — BPE merges (hash table over id pairs), initial symbols, the merge loop and the
 * word cache. The merge loop scans for the lowest-ranked pair in short words and uses a binary
 * heap of (rank, position) in long ones; both pick the same pair (lowest rank, then leftmost),
 * which is the order of Hugging Face's priority queue, so results are identical.
 */
#include "tokenizer/bpe.h"

#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_MAX 48
#define CACHE_SLOTS (1u << 15)
#define CACHE_WORD_MAX 256
#define CACHE_WORD_ARENA (4u << 20)
#define CACHE_IDS_ARENA (1u << 20)
#define NO_RANK UINT32_MAX

static inline size_t pair_slot(uint64_t key, size_t mask) {
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & mask;
}

int tk_bpe_init(tk_bpe *bpe) {
    memset(bpe, 0, sizeof *bpe);
    bpe->unk_id = -1;
    for (int i = 0; i < 256; i++)
        bpe->byte_ids[i] = -1;
    bpe->cont_prefix = rt_strdup("");
    if (!bpe->cont_prefix) return RT_ERR_NOMEM;
    pthread_mutex_init(&bpe->cache_lock, NULL);
    return RT_OK;
}

static int grow_merges(tk_bpe *bpe) {
    size_t cap = bpe->mask ? (bpe->mask + 1) * 2 : 4096;
    tk_merge *m = rt_malloc(cap * sizeof *m);
    if (!m) return RT_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++)
        m[i].key = UINT64_MAX;
    for (size_t i = 0; bpe->mask && i <= bpe->mask; i++) {
        if (bpe->merges[i].key == UINT64_MAX) continue;
        size_t j = pair_slot(bpe->merges[i].key, cap - 1);
        while (m[j].key != UINT64_MAX)
            j = (j + 1) & (cap - 1);
        m[j] = bpe->merges[i];
    }
    free(bpe->merges);
    bpe->merges = m;
    bpe->mask = cap - 1;
    return RT_OK;
}

int tk_bpe_add_merge(tk_bpe *bpe, int32_t left, int32_t right, int32_t merged, uint32_t rank) {
    if (left < 0 || right < 0 || merged < 0)
        return rt_error(RT_ERR_FORMAT, "BPE merge %u: negative id", rank);
    if (!bpe->mask || (bpe->n_merges + 1) * 2 > bpe->mask + 1) RT_TRY(grow_merges(bpe));
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    size_t j = pair_slot(key, bpe->mask);
    while (bpe->merges[j].key != UINT64_MAX && bpe->merges[j].key != key)
        j = (j + 1) & bpe->mask;
    if (bpe->merges[j].key == UINT64_MAX) bpe->n_merges++;
    bpe->merges[j].key = key;
    bpe->merges[j].rank = rank;
    bpe->merges[j].merged = merged;
    return RT_OK;
}

const tk_merge *tk_bpe_find_merge(const tk_bpe *bpe, int32_t left, int32_t right) {
    if (!bpe->mask) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    size_t j = pair_slot(key, bpe->mask);
    for (;;) {
        const tk_merge *m = &bpe->merges[j];
        if (m->key == key) return m;
        if (m->key == UINT64_MAX) return NULL;
        j = (j + 1) & bpe->mask;
    }
}

int tk_bpe_finish(tk_bpe *bpe, const tk_vocab *vocab) {
    for (int b = 0; b < 256; b++) {
        char tmp[8];
        size_t n;
        if (bpe->byte_level) {
            n = (size_t)tk_utf8_encode(tk_byte_to_cp((uint8_t)b), (uint8_t *)tmp);
        } else {
            n = (size_t)snprintf(tmp, sizeof tmp, "<0x%02X>", b);
        }
        bpe->byte_ids[b] = tk_vocab_find(vocab, tmp, n);
    }
    if (!bpe->cache) {
        bpe->cache = rt_calloc(CACHE_SLOTS, sizeof *bpe->cache);
        bpe->word_arena = rt_malloc(CACHE_WORD_ARENA);
        bpe->ids_arena = rt_malloc(CACHE_IDS_ARENA * sizeof(int32_t));
        if (!bpe->cache || !bpe->word_arena || !bpe->ids_arena) return RT_ERR_NOMEM;
        bpe->cache_mask = CACHE_SLOTS - 1;
        bpe->word_arena_cap = CACHE_WORD_ARENA;
        bpe->ids_arena_cap = CACHE_IDS_ARENA;
    }
    return RT_OK;
}

static int scratch_reserve(tk_bpe_scratch *s, size_t n) {
    /* five parallel arrays of one capacity: each grows from s->cap to the same new one */
    size_t cap = s->cap;
    RT_TRY(RT_GROW(s->sym, cap, n));
    cap = s->cap;
    RT_TRY(RT_GROW(s->prev, cap, n));
    cap = s->cap;
    RT_TRY(RT_GROW(s->next, cap, n));
    cap = s->cap;
    RT_TRY(RT_GROW(s->rank, cap, n));
    cap = s->cap;
    RT_TRY(RT_GROW(s->merged, cap, n));
    s->cap = cap;
    return RT_OK;
}

void tk_bpe_scratch_free(tk_bpe_scratch *s) {
    free(s->sym);
    free(s->prev);
    free(s->next);
    free(s->rank);
    free(s->merged);
    free(s->heap);
    rt_strbuf_free(&s->str);
    memset(s, 0, sizeof *s);
}

/* Splits the word into initial symbols (s->sym[0..*n)). */
static int initial_symbols(const tk_bpe *bpe, const tk_vocab *vocab, tk_bpe_scratch *s,
                           const uint8_t *w, size_t len, size_t *n_out) {
    size_t n = 0;
    if (bpe->byte_level) {
        RT_TRY(scratch_reserve(s, len));
        int32_t unk_pending = 0;
        for (size_t i = 0; i < len; i++) {
            int32_t id = bpe->byte_ids[w[i]];
            if (id >= 0) {
                s->sym[n++] = id;
                unk_pending = 0;
            } else if (bpe->unk_id >= 0 && !(bpe->fuse_unk && unk_pending)) {
                s->sym[n++] = bpe->unk_id;
                unk_pending = 1;
            }
        }
        *n_out = n;
        return RT_OK;
    }
    /* Character-level symbols; at most 4 byte-fallback symbols per byte of input. */
    RT_TRY(scratch_reserve(s, len + 1));
    bool unk_pending = false;
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        size_t clen = (size_t)tk_utf8_decode(w + i, len - i, &cp);
        int32_t id;
        if (i > 0 && bpe->cont_prefix_len) {
            s->str.len = 0;
            RT_TRY(rt_strbuf_append(&s->str, bpe->cont_prefix, bpe->cont_prefix_len));
            RT_TRY(rt_strbuf_append(&s->str, w + i, clen));
            id = tk_vocab_find(vocab, s->str.data, s->str.len);
        } else {
            id = tk_vocab_find(vocab, (const char *)w + i, clen);
        }
        if (id >= 0) {
            if (unk_pending) s->sym[n++] = bpe->unk_id;
            unk_pending = false;
            s->sym[n++] = id;
        } else {
            bool done = false;
            if (bpe->byte_fallback) {
                bool all = true;
                for (size_t k = 0; k < clen; k++)
                    all = all && bpe->byte_ids[w[i + k]] >= 0;
                if (all) {
                    for (size_t k = 0; k < clen; k++)
                        s->sym[n++] = bpe->byte_ids[w[i + k]];
                    done = true;
                }
            }
            if (!done && bpe->unk_id >= 0) {
                if (unk_pending && !bpe->fuse_unk) s->sym[n++] = bpe->unk_id;
                unk_pending = true;
            }
        }
        i += clen;
    }
    if (unk_pending) s->sym[n++] = bpe->unk_id;
    *n_out = n;
    return RT_OK;
}

static inline void pair_rank(const tk_bpe *bpe, tk_bpe_scratch *s, int32_t i) {
    int32_t j = s->next[i];
    if (j < 0) {
        s->rank[i] = NO_RANK;
        return;
    }
    const tk_merge *m = tk_bpe_find_merge(bpe, s->sym[i], s->sym[j]);
    s->rank[i] = m ? m->rank : NO_RANK;
    s->merged[i] = m ? m->merged : -1;
}

static void merge_at(const tk_bpe *bpe, tk_bpe_scratch *s, int32_t i) {
    int32_t j = s->next[i];
    s->sym[i] = s->merged[i];
    s->next[i] = s->next[j];
    if (s->next[j] >= 0) s->prev[s->next[j]] = i;
    s->sym[j] = -1;
    pair_rank(bpe, s, i);
    if (s->prev[i] >= 0) pair_rank(bpe, s, s->prev[i]);
}

static int heap_push(tk_bpe_scratch *s, uint64_t v) {
    RT_TRY(RT_GROW(s->heap, s->heap_cap, s->heap_len + 1));
    size_t k = s->heap_len++;
    while (k > 0) {
        size_t parent = (k - 1) / 2;
        if (s->heap[parent] <= v) break;
        s->heap[k] = s->heap[parent];
        k = parent;
    }
    s->heap[k] = v;
    return RT_OK;
}

static uint64_t heap_pop(tk_bpe_scratch *s) {
    uint64_t top = s->heap[0];
    uint64_t last = s->heap[--s->heap_len];
    size_t k = 0, n = s->heap_len;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= n) break;
        if (c + 1 < n && s->heap[c + 1] < s->heap[c]) c++;
        if (s->heap[c] >= last) break;
        s->heap[k] = s->heap[c];
        k = c;
    }
    if (n) s->heap[k] = last;
    return top;
}

static int merge_all(const tk_bpe *bpe, tk_bpe_scratch *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        s->prev[i] = (int32_t)i - 1;
        s->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i < n; i++)
        pair_rank(bpe, s, (int32_t)i);
    if (n <= SCAN_MAX) {
        for (;;) {
            uint32_t best = NO_RANK;
            int32_t at = -1;
            for (int32_t i = 0; i >= 0; i = s->next[i]) {
                if (s->rank[i] < best) best = s->rank[i], at = i;
            }
            if (at < 0) return RT_OK;
            merge_at(bpe, s, at);
        }
    }
    s->heap_len = 0;
    for (size_t i = 0; i < n; i++)
        if (s->rank[i] != NO_RANK) RT_TRY(heap_push(s, ((uint64_t)s->rank[i] << 32) | i));
    while (s->heap_len) {
        uint64_t top = heap_pop(s);
        uint32_t rank = (uint32_t)(top >> 32);
        int32_t i = (int32_t)(uint32_t)top;
        if (s->sym[i] < 0 || s->rank[i] != rank) continue; /* stale */
        merge_at(bpe, s, i);
        if (s->rank[i] != NO_RANK) RT_TRY(heap_push(s, ((uint64_t)s->rank[i] << 32) | (uint32_t)i));
        int32_t p = s->prev[i];
        if (p >= 0 && s->rank[p] != NO_RANK)
            RT_TRY(heap_push(s, ((uint64_t)s->rank[p] << 32) | (uint32_t)p));
    }
    return RT_OK;
}

static const tk_bpe_cache_entry *cache_get(const tk_bpe *bpe, uint64_t h, const char *w,
                                           size_t len) {
    const tk_bpe_cache_entry *e = &bpe->cache[h & bpe->cache_mask];
    if (e->hash == h && e->word_len == len && !memcmp(bpe->word_arena + e->word_off, w, len))
        return e;
    return NULL;
}

static void cache_put(tk_bpe *bpe, uint64_t h, const char *w, size_t len, const int32_t *ids,
                      size_t n) {
    if (bpe->word_arena_len + len > bpe->word_arena_cap ||
        bpe->ids_arena_len + n > bpe->ids_arena_cap) {
        memset(bpe->cache, 0, (bpe->cache_mask + 1) * sizeof *bpe->cache);
        bpe->word_arena_len = bpe->ids_arena_len = 0;
    }
    tk_bpe_cache_entry *e = &bpe->cache[h & bpe->cache_mask];
    e->hash = h;
    e->word_off = (uint32_t)bpe->word_arena_len;
    e->word_len = (uint32_t)len;
    e->ids_off = (uint32_t)bpe->ids_arena_len;
    e->n_ids = (uint32_t)n;
    memcpy(bpe->word_arena + bpe->word_arena_len, w, len);
    memcpy(bpe->ids_arena + bpe->ids_arena_len, ids, n * sizeof *ids);
    bpe->word_arena_len += len;
    bpe->ids_arena_len += n;
}

int tk_bpe_encode_word(tk_bpe *bpe, const tk_vocab *vocab, tk_bpe_scratch *s, const char *word,
                       size_t len, bool use_cache, tk_ids *out) {
    if (len == 0) return RT_OK;
    uint64_t h = 0;
    use_cache = use_cache && bpe->cache && len <= CACHE_WORD_MAX;
    if (use_cache) {
        h = rt_hash_bytes(word, len) | 1;
        const tk_bpe_cache_entry *e = cache_get(bpe, h, word, len);
        if (e) {
            RT_TRY(tk_ids_reserve(out, e->n_ids));
            memcpy(out->data + out->len, bpe->ids_arena + e->ids_off, e->n_ids * sizeof(int32_t));
            out->len += e->n_ids;
            return RT_OK;
        }
    }
    size_t start = out->len;
    bool whole = false;
    if (bpe->ignore_merges) {
        int32_t id;
        if (bpe->byte_level) {
            s->str.len = 0;
            for (size_t i = 0; i < len; i++)
                RT_TRY(tk_append_cp(&s->str, tk_byte_to_cp((uint8_t)word[i])));
            id = tk_vocab_find(vocab, s->str.data, s->str.len);
        } else {
            id = tk_vocab_find(vocab, word, len);
        }
        if (id >= 0) {
            RT_TRY(tk_ids_push(out, id));
            whole = true;
        }
    }
    if (!whole) {
        size_t n;
        RT_TRY(initial_symbols(bpe, vocab, s, (const uint8_t *)word, len, &n));
        if (n) {
            RT_TRY(merge_all(bpe, s, n));
            RT_TRY(tk_ids_reserve(out, n));
            for (int32_t i = 0; i >= 0; i = s->next[i])
                out->data[out->len++] = s->sym[i];
        }
    }
    if (use_cache) cache_put(bpe, h, word, len, out->data + start, out->len - start);
    return RT_OK;
}

void tk_bpe_free(tk_bpe *bpe) {
    free(bpe->merges);
    free(bpe->cont_prefix);
    free(bpe->cache);
    free(bpe->word_arena);
    free(bpe->ids_arena);
    pthread_mutex_destroy(&bpe->cache_lock);
    memset(bpe, 0, sizeof *bpe);
}
