/*
 * vocab.c — the vocabulary hash table (linear probing, power-of-two size, load <= 1/2).
 */
#include "tokenizer/vocab.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

uint64_t tk_hash_bytes(const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ mix64(w)) * 0x100000001b3ull;
        h = (h << 23) | (h >> 41);
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, len);
    h ^= mix64(w ^ ((uint64_t)len << 56));
    return mix64(h);
}

static int grow_table(tk_vocab *v) {
    size_t cap = v->mask ? (v->mask + 1) * 2 : 1024;
    int32_t *slots = rt_malloc(cap * sizeof *slots);
    uint64_t *hashes = rt_malloc(cap * sizeof *hashes);
    if (!slots || !hashes) {
        free(slots);
        free(hashes);
        return RT_ERR_NOMEM;
    }
    memset(slots, 0xff, cap * sizeof *slots);
    size_t mask = cap - 1;
    for (size_t i = 0; v->mask && i <= v->mask; i++) {
        if (v->slots[i] < 0) continue;
        size_t j = v->hashes[i] & mask;
        while (slots[j] >= 0)
            j = (j + 1) & mask;
        slots[j] = v->slots[i];
        hashes[j] = v->hashes[i];
    }
    free(v->slots);
    free(v->hashes);
    v->slots = slots;
    v->hashes = hashes;
    v->mask = mask;
    return RT_OK;
}

int tk_vocab_set(tk_vocab *v, int32_t id, const char *s, size_t len, int replace) {
    if (id < 0 || len > UINT32_MAX / 2)
        return rt_error(RT_ERR_RANGE, "vocabulary: bad token id %d", id);
    if (id >= v->n) {
        int32_t n = v->n ? v->n : 256;
        while (n <= id) {
            if (n > INT32_MAX / 2) return rt_error(RT_ERR_RANGE, "vocabulary: id %d too large", id);
            n *= 2;
        }
        char **strs = rt_realloc(v->strs, (size_t)n * sizeof *strs);
        if (!strs) return RT_ERR_NOMEM;
        v->strs = strs;
        uint32_t *lens = rt_realloc(v->lens, (size_t)n * sizeof *lens);
        if (!lens) return RT_ERR_NOMEM;
        v->lens = lens;
        for (int32_t i = v->n; i < n; i++)
            strs[i] = NULL, lens[i] = 0;
        /* n is the capacity here; the used range is tracked below. */
        v->n = n;
    }
    if (v->strs[id]) {
        /* Re-setting an id: drop the old string from the table if it maps here. */
        int32_t old = tk_vocab_find(v, v->strs[id], v->lens[id]);
        if (old == id) {
            uint64_t h = tk_hash_bytes(v->strs[id], v->lens[id]);
            size_t j = h & v->mask;
            while (v->slots[j] != id)
                j = (j + 1) & v->mask;
            /* Backward-shift deletion keeps probe chains intact. */
            size_t hole = j;
            for (size_t k = (j + 1) & v->mask; v->slots[k] >= 0; k = (k + 1) & v->mask) {
                size_t home = v->hashes[k] & v->mask;
                if (((k - home) & v->mask) >= ((k - hole) & v->mask)) {
                    v->slots[hole] = v->slots[k];
                    v->hashes[hole] = v->hashes[k];
                    hole = k;
                }
            }
            v->slots[hole] = -1;
            v->count--;
        }
        free(v->strs[id]);
        v->strs[id] = NULL;
    }
    char *copy = rt_malloc(len + 1);
    if (!copy) return RT_ERR_NOMEM;
    memcpy(copy, s, len);
    copy[len] = 0;
    v->strs[id] = copy;
    v->lens[id] = (uint32_t)len;
    if (id >= v->size) v->size = id + 1;
    if (len > v->max_len) v->max_len = (uint32_t)len;
    if ((v->count + 1) * 2 > v->mask + 1 || !v->mask) RT_TRY(grow_table(v));
    uint64_t h = tk_hash_bytes(s, len);
    size_t j = h & v->mask;
    while (v->slots[j] >= 0) {
        int32_t other = v->slots[j];
        if (v->hashes[j] == h && v->lens[other] == len && !memcmp(v->strs[other], s, len)) {
            if (replace) v->slots[j] = id;
            return RT_OK;
        }
        j = (j + 1) & v->mask;
    }
    v->slots[j] = id;
    v->hashes[j] = h;
    v->count++;
    return RT_OK;
}

int32_t tk_vocab_find(const tk_vocab *v, const char *s, size_t len) {
    if (!v->mask) return -1;
    uint64_t h = tk_hash_bytes(s, len);
    size_t j = h & v->mask;
    for (;;) {
        int32_t id = v->slots[j];
        if (id < 0) return -1;
        if (v->hashes[j] == h && v->lens[id] == len && !memcmp(v->strs[id], s, len)) return id;
        j = (j + 1) & v->mask;
    }
}

const char *tk_vocab_get(const tk_vocab *v, int32_t id, size_t *len) {
    if (id < 0 || id >= v->n || !v->strs[id]) return NULL;
    if (len) *len = v->lens[id];
    return v->strs[id];
}

void tk_vocab_free(tk_vocab *v) {
    for (int32_t i = 0; i < v->n; i++)
        free(v->strs[i]);
    free(v->strs);
    free(v->lens);
    free(v->slots);
    free(v->hashes);
    memset(v, 0, sizeof *v);
}
