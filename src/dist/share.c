/*
 * share.c — items shared round-robin over the process group and their results gathered in
 * order (see share.h).
 *
 * One all-gather carries everything: each rank sends its status, its error message, and its
 * items as (index, length, bytes); every rank unpacks all of them into the caller's arrays.
 */
#include "dist/share.h"

#include "core/error.h"
#include "core/strbuf.h"
#include "dist/comm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool dist_mine(size_t i) {
    return i % (size_t)rt_dist_size() == (size_t)rt_dist_rank();
}

static void free_items(size_t n, char **results, size_t *lens) {
    for (size_t i = 0; i < n; i++) {
        free(results[i]);
        results[i] = NULL;
        lens[i] = 0;
    }
}

/* This rank's packet: status, message length and text, item count, then each item. */
static int pack(size_t n, char *const *results, const size_t *lens, int status, rt_strbuf *b) {
    int32_t st = status < 0 ? status : 0;
    const char *msg = st < 0 ? rt_last_error() : "";
    uint64_t msg_len = strlen(msg), count = 0;
    for (size_t i = 0; status >= 0 && i < n; i++)
        count += results[i] != NULL;
    int rc = rt_strbuf_append(b, &st, sizeof st);
    if (rc == RT_OK) rc = rt_strbuf_append(b, &msg_len, sizeof msg_len);
    if (rc == RT_OK) rc = rt_strbuf_append(b, msg, msg_len);
    if (rc == RT_OK) rc = rt_strbuf_append(b, &count, sizeof count);
    for (size_t i = 0; rc == RT_OK && count && i < n; i++) {
        if (!results[i]) continue;
        uint64_t head[2] = {i, lens[i]};
        rc = rt_strbuf_append(b, head, sizeof head);
        if (rc == RT_OK) rc = rt_strbuf_append(b, results[i], lens[i]);
    }
    return rc;
}

typedef struct cursor {
    const char *p, *end;
} cursor;

static bool take(cursor *c, void *dst, size_t n) {
    if ((size_t)(c->end - c->p) < n) return false;
    memcpy(dst, c->p, n);
    c->p += n;
    return true;
}

/* Unpacks every rank's packet: the first failed rank's error, else the items into results. */
static int unpack(size_t n, char **results, size_t *lens, const char *all, const size_t *offsets) {
    int size = rt_dist_size();
    /* errors first: a failed rank's packet holds no items */
    for (int r = 0; r < size; r++) {
        cursor c = {all + offsets[r], all + offsets[r + 1]};
        int32_t st;
        uint64_t msg_len;
        if (!take(&c, &st, sizeof st) || !take(&c, &msg_len, sizeof msg_len) ||
            msg_len > (uint64_t)(c.end - c.p))
            return rt_error(RT_ERR_INTERNAL, "process %d of %d sent a malformed reply", r, size);
        if (st < 0 && r == rt_dist_rank()) return st; /* its own error, message as it is */
        if (st < 0) return rt_error(st, "process %d of %d: %.*s", r, size, (int)msg_len, c.p);
    }
    for (int r = 0; r < size; r++) {
        cursor c = {all + offsets[r], all + offsets[r + 1]};
        int32_t st = 0;
        uint64_t msg_len = 0, count;
        take(&c, &st, sizeof st); /* checked above */
        take(&c, &msg_len, sizeof msg_len);
        c.p += msg_len;
        if (!take(&c, &count, sizeof count))
            return rt_error(RT_ERR_INTERNAL, "process %d of %d sent a malformed reply", r, size);
        for (uint64_t k = 0; k < count; k++) {
            uint64_t head[2];
            if (!take(&c, head, sizeof head) || head[0] >= n || results[head[0]] ||
                head[1] > (uint64_t)(c.end - c.p))
                return rt_error(RT_ERR_INTERNAL, "process %d of %d sent a malformed item", r,
                                size);
            char *item = rt_malloc(head[1] ? head[1] : 1);
            if (!item) return RT_ERR_NOMEM;
            memcpy(item, c.p, head[1]);
            c.p += head[1];
            results[head[0]] = item;
            lens[head[0]] = head[1];
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!results[i])
            return rt_error(RT_ERR_INTERNAL, "item %zu of %zu came from no process", i, n);
    return RT_OK;
}

int dist_gather_items(size_t n, char **results, size_t *lens, int status) {
    if (!dist_active()) {
        if (status < 0) free_items(n, results, lens);
        return status < 0 ? status : RT_OK;
    }
    rt_strbuf packed = {0};
    if (pack(n, results, lens, status, &packed) != RT_OK) { /* send the failure instead */
        rt_strbuf_free(&packed);
        packed = (rt_strbuf){0};
        if (pack(0, NULL, NULL, rt_error(RT_ERR_NOMEM, "out of memory packing results"),
                 &packed) != RT_OK)
            rt_strbuf_free(&packed); /* an empty packet: the others report it as malformed */
    }
    /* this rank's results are in the packet; every rank's come back from it */
    free_items(n, results, lens);
    size_t *offsets = rt_malloc(((size_t)rt_dist_size() + 1) * sizeof *offsets);
    char *all = NULL;
    size_t all_len = 0;
    int rc = offsets ? dist_allgather_bytes(packed.data, packed.len, &all, &all_len, offsets)
                     : RT_ERR_NOMEM; /* not recoverable: the others wait in the all-gather */
    rt_strbuf_free(&packed);
    if (rc == RT_OK) rc = unpack(n, results, lens, all, offsets);
    if (rc != RT_OK) free_items(n, results, lens);
    free(all);
    free(offsets);
    return rc;
}

