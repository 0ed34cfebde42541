/*
 * strmap.c — the string hash table (see strmap.h).
 */
#include "core/strmap.h"

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

uint64_t rt_hash_bytes(const void *data, size_t len) {
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
    if (len) memcpy(&w, p, len);
    h ^= mix64(w ^ ((uint64_t)len << 56));
    return mix64(h);
}

static bool key_equal(const rt_strmap *m, const rt_strmap_slot *s, uint64_t h, const char *key,
                      size_t len) {
    return s->hash == h && s->key_len == len && (!len || !memcmp(m->arena + s->key_off, key, len));
}

/* The slot of key, or of the empty slot where it would go. */
static size_t find_slot(const rt_strmap *m, const char *key, size_t len, uint64_t h) {
    size_t j = h & m->mask;
    while (m->slots[j].key_off != RT_STRMAP_EMPTY && !key_equal(m, &m->slots[j], h, key, len))
        j = (j + 1) & m->mask;
    return j;
}

static int grow_table(rt_strmap *m) {
    size_t cap = m->mask ? (m->mask + 1) * 2 : 64;
    if (cap > SIZE_MAX / sizeof(rt_strmap_slot)) return rt_error(RT_ERR_RANGE, "strmap: too large");
    rt_strmap_slot *slots = rt_malloc(cap * sizeof *slots);
    if (!slots) return RT_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++)
        slots[i].key_off = RT_STRMAP_EMPTY;
    size_t mask = cap - 1;
    for (size_t i = 0; m->mask && i <= m->mask; i++) {
        if (m->slots[i].key_off == RT_STRMAP_EMPTY) continue;
        size_t j = m->slots[i].hash & mask;
        while (slots[j].key_off != RT_STRMAP_EMPTY)
            j = (j + 1) & mask;
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->mask = mask;
    return RT_OK;
}

/* Copies key into the arena; its offset to *off. */
static int arena_add(rt_strmap *m, const char *key, size_t len, size_t *off) {
    size_t need = m->arena_len + len + 1;
    if (len >= RT_STRMAP_EMPTY || need >= RT_STRMAP_EMPTY)
        return rt_error(RT_ERR_RANGE, "strmap: keys larger than 4 GiB in all");
    if (need > m->arena_cap) {
        size_t cap = m->arena_cap ? m->arena_cap : 1024;
        while (cap < need) {
            if (cap > SIZE_MAX / 2) return rt_error(RT_ERR_RANGE, "strmap: keys too large");
            cap *= 2;
        }
        char *a = rt_realloc(m->arena, cap);
        if (!a) return RT_ERR_NOMEM;
        m->arena = a;
        m->arena_cap = cap;
    }
    if (len) memcpy(m->arena + m->arena_len, key, len);
    m->arena[m->arena_len + len] = 0;
    *off = m->arena_len;
    m->arena_len = need;
    return RT_OK;
}

int rt_strmap_add(rt_strmap *m, const char *key, size_t len, int64_t value, int64_t *existing) {
    uint64_t h = rt_hash_bytes(key, len);
    if (m->mask) {
        size_t j = find_slot(m, key, len, h);
        if (m->slots[j].key_off != RT_STRMAP_EMPTY) {
            if (existing) *existing = m->slots[j].value;
            return 0;
        }
    }
    if (!m->mask || (m->count + 1) * 2 > m->mask + 1) RT_TRY(grow_table(m));
    size_t off = 0;
    RT_TRY(arena_add(m, key, len, &off));
    size_t j = find_slot(m, key, len, h);
    m->slots[j] = (rt_strmap_slot){h, (uint32_t)off, (uint32_t)len, value};
    m->count++;
    if (existing) *existing = value;
    return 1;
}

int rt_strmap_put(rt_strmap *m, const char *key, size_t len, int64_t value) {
    int r = rt_strmap_add(m, key, len, value, NULL);
    if (r < 0) return r;
    if (r == 0) m->slots[find_slot(m, key, len, rt_hash_bytes(key, len))].value = value;
    return RT_OK;
}

bool rt_strmap_get(const rt_strmap *m, const char *key, size_t len, int64_t *value) {
    if (!m->mask) return false;
    size_t j = find_slot(m, key, len, rt_hash_bytes(key, len));
    if (m->slots[j].key_off == RT_STRMAP_EMPTY) return false;
    if (value) *value = m->slots[j].value;
    return true;
}

bool rt_strmap_remove(rt_strmap *m, const char *key, size_t len) {
    if (!m->mask) return false;
    size_t hole = find_slot(m, key, len, rt_hash_bytes(key, len));
    if (m->slots[hole].key_off == RT_STRMAP_EMPTY) return false;
    /* Backward shift: move each later entry of the probe run whose home is not between the
     * hole and it into the hole, so lookups never meet a gap inside their run. */
    for (size_t k = (hole + 1) & m->mask; m->slots[k].key_off != RT_STRMAP_EMPTY; k = (k + 1) & m->mask) {
        size_t home = m->slots[k].hash & m->mask;
        if (((k - home) & m->mask) >= ((k - hole) & m->mask)) {
            m->slots[hole] = m->slots[k];
            hole = k;
        }
    }
    m->slots[hole].key_off = RT_STRMAP_EMPTY;
    m->count--;
    return true;
}

const char *rt_strmap_slot_key(const rt_strmap *m, const rt_strmap_slot *s) {
    return m->arena + s->key_off;
}

void rt_strmap_free(rt_strmap *m) {
    free(m->slots);
    free(m->arena);
    memset(m, 0, sizeof *m);
}
