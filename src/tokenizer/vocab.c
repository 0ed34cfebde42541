/*
 * vocab.c — a tokenizer vocabulary: token strings by id, and ids by token string (rt_strmap).
 */
#include "tokenizer/vocab.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

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
        if (tk_vocab_find(v, v->strs[id], v->lens[id]) == id)
            rt_strmap_remove(&v->ids, v->strs[id], v->lens[id]);
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
    int st = replace ? rt_strmap_put(&v->ids, s, len, id) : rt_strmap_add(&v->ids, s, len, id, NULL);
    return st < 0 ? st : RT_OK;
}

int32_t tk_vocab_find(const tk_vocab *v, const char *s, size_t len) {
    int64_t id;
    return rt_strmap_get(&v->ids, s, len, &id) ? (int32_t)id : -1;
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
    rt_strmap_free(&v->ids);
    memset(v, 0, sizeof *v);
}
