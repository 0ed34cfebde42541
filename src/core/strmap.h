/*
 * strmap.h — the one string hash table of the library: byte-string keys (any bytes, NUL
 * included) to int64 values, open addressing with linear probing in a power-of-two table kept
 * at most half full, keys copied into the map's own arena, deletion by backward shift (no
 * tombstones). Also the byte hash the tokenizer and this table share.
 *
 * Not thread-safe for writers; concurrent readers of an unchanging map are fine. It does not
 * iterate in any useful order, and removed keys' bytes stay in the arena until rt_strmap_free
 * (a map with heavy churn should be rebuilt).
 */
#ifndef RT_CORE_STRMAP_H
#define RT_CORE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A 64-bit hash of data[0..len) (not cryptographic; stable across runs and platforms). */
uint64_t rt_hash_bytes(const void *data, size_t len);

/* 24 bytes: the table stays small next to the keys it indexes (a 150k-token vocabulary). */
typedef struct rt_strmap_slot {
    uint64_t hash;    /* rt_hash_bytes of the key */
    uint32_t key_off; /* into arena; RT_STRMAP_EMPTY for an unused slot */
    uint32_t key_len;
    int64_t value;
} rt_strmap_slot;
#define RT_STRMAP_EMPTY UINT32_MAX

/* Zero-initialized is an empty map ({0}); free with rt_strmap_free. */
typedef struct rt_strmap {
    rt_strmap_slot *slots; /* (mask + 1) */
    size_t mask;           /* table size - 1; 0 before the first insert */
    size_t count;          /* keys present */
    char *arena;           /* key bytes, each followed by a NUL (at most 4 GiB in all) */
    size_t arena_len, arena_cap;
} rt_strmap;

/* Sets key -> value, replacing the value of a key already present. RT_OK or RT_ERR_NOMEM /
 * RT_ERR_RANGE (the map is unchanged then). */
int rt_strmap_put(rt_strmap *m, const char *key, size_t len, int64_t value);
/* Adds key -> value only when key is absent; *existing (may be NULL) gets the value now stored
 * under key (value when it was added). Returns 1 when added, 0 when present, or an error. */
int rt_strmap_add(rt_strmap *m, const char *key, size_t len, int64_t value, int64_t *existing);
/* True and *value (may be NULL) set when key is present. */
bool rt_strmap_get(const rt_strmap *m, const char *key, size_t len, int64_t *value);
/* Removes key; true when it was present. */
bool rt_strmap_remove(rt_strmap *m, const char *key, size_t len);
/* The key bytes of a used slot (NUL-terminated), for a caller walking m->slots (a slot is used
 * when its key_off is not RT_STRMAP_EMPTY). */
const char *rt_strmap_slot_key(const rt_strmap *m, const rt_strmap_slot *s);
void rt_strmap_free(rt_strmap *m);

#endif
