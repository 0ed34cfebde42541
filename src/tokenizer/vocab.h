/*
 * vocab.h — a tokenizer vocabulary: id -> token string and token string -> id (core's string
 * hash table, rt_strmap, whose byte hash the rest of the tokenizer layer shares).
 * Token strings may hold any bytes (including NUL); ids are dense in [0, n). No I/O here.
 */
#ifndef RT_TOKENIZER_VOCAB_H
#define RT_TOKENIZER_VOCAB_H

#include "core/strmap.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tk_vocab {
    char **strs;      /* (n) token bytes, NUL-terminated; NULL for an unused id */
    uint32_t *lens;   /* (n) byte lengths */
    int32_t n;        /* capacity of strs/lens */
    int32_t size;     /* highest id set + 1 */
    rt_strmap ids;    /* token string -> id */
    uint32_t max_len; /* longest token in bytes */
} tk_vocab;

/* Sets token `id` to s[0..len) (growing the id range as needed). If another id already has the
 * same string, the string keeps mapping to the lower id... unless `replace` is set, in which
 * case the string maps to this id. Returns RT_OK or an error. */
int tk_vocab_set(tk_vocab *v, int32_t id, const char *s, size_t len, int replace);
/* The id of s[0..len), or -1. */
int32_t tk_vocab_find(const tk_vocab *v, const char *s, size_t len);
/* The token string of id (NULL if out of range or unused); *len receives its byte length. */
const char *tk_vocab_get(const tk_vocab *v, int32_t id, size_t *len);
void tk_vocab_free(tk_vocab *v);

#endif
