/*
 * checkpoint.c — writing and validating training checkpoints.
 */
#include "train/checkpoint.h"

#include "core/error.h"
#include "core/file.h"

#include <string.h>

static const char MAGIC[8] = {'R', 'T', 'C', 'K', 'P', 'T', '0', '1'};
#define CKPT_VERSION 1u
#define HEADER_BYTES (8 + 4 + 4 + 8 + 8 * 4 + 8 + 8 + 4 + 4 + 8)

static uint64_t checksum(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

typedef struct writer {
    FILE *fp;
    const char *path;
    uint64_t sum;
    int st;
} writer;

static void put(writer *w, const void *data, size_t n) {
    if (w->st < 0) return;
    w->sum = checksum(w->sum, data, n);
    w->st = rt_fwrite_all(w->fp, data, n, w->path);
}

int ckpt_save(const char *path, const ckpt_state *s) {
    rt_atomic_file f;
    RT_TRY(rt_atomic_file_open(&f, path));
    writer w = {f.fp, path, 0xcbf29ce484222325ULL, RT_OK};
    uint32_t ver = CKPT_VERSION, flags = s->v ? 1u : 0u;
    uint64_t n = s->n;
    put(&w, MAGIC, 8);
    put(&w, &ver, 4);
    put(&w, &flags, 4);
    put(&w, &s->config_hash, 8);
    put(&w, &s->step, 8);
    put(&w, &s->epoch, 8);
    put(&w, &s->cursor, 8);
    put(&w, &s->tokens, 8);
    put(&w, &s->rng, 8);
    put(&w, &s->optim_t, 8);
    put(&w, &s->best_val, 4);
    put(&w, &s->bad_evals, 4);
    put(&w, &n, 8);
    put(&w, s->params, s->n * sizeof(float));
    put(&w, s->m, s->n * sizeof(float));
    if (s->v) put(&w, s->v, s->n * sizeof(float));
    uint64_t sum = w.sum;
    if (w.st == RT_OK) w.st = rt_fwrite_all(f.fp, &sum, 8, path);
    if (w.st < 0) {
        rt_atomic_file_abort(&f);
        return w.st;
    }
    return rt_atomic_file_commit(&f);
}

int ckpt_load(const char *path, ckpt_state *s) {
    rt_mmap map;
    RT_TRY(rt_mmap_open(path, &map));
    const unsigned char *p = map.data;
    size_t size = map.size;
    int st = RT_OK;
    uint32_t ver, flags;
    uint64_t hash, n;
    if (size < HEADER_BYTES + 8 || memcmp(p, MAGIC, 8)) {
        st = rt_error(RT_ERR_FORMAT, "%s: not a ragtune checkpoint (bad magic or truncated)", path);
        goto out;
    }
    memcpy(&ver, p + 8, 4);
    memcpy(&flags, p + 12, 4);
    memcpy(&hash, p + 16, 8);
    if (ver != CKPT_VERSION) {
        st = rt_error(RT_ERR_UNSUPPORTED, "%s: checkpoint version %u (expected %u)", path, ver,
                      CKPT_VERSION);
        goto out;
    }
    memcpy(&n, p + HEADER_BYTES - 8, 8);
    if (hash != s->config_hash || n != s->n || ((flags & 1) != 0) != (s->v != NULL)) {
        st = rt_error(RT_ERR_FORMAT,
                      "%s: checkpoint of a different model or optimizer (%llu parameters, "
                      "expected %zu)",
                      path, (unsigned long long)n, s->n);
        goto out;
    }
    size_t arrays = (flags & 1) ? 3 : 2, need;
    if (!rt_mul_size((size_t)n, arrays * sizeof(float), &need) ||
        !rt_add_size(need, HEADER_BYTES + 8, &need) || need != size) {
        st = rt_error(RT_ERR_FORMAT, "%s: size %zu does not match %llu parameters", path, size,
                      (unsigned long long)n);
        goto out;
    }
    uint64_t sum;
    memcpy(&sum, p + size - 8, 8);
    if (checksum(0xcbf29ce484222325ULL, p, size - 8) != sum) {
        st = rt_error(RT_ERR_FORMAT, "%s: checksum mismatch (corrupt checkpoint)", path);
        goto out;
    }
    const unsigned char *q = p + 24;
    memcpy(&s->step, q, 8);
    memcpy(&s->epoch, q + 8, 8);
    memcpy(&s->cursor, q + 16, 8);
    memcpy(&s->tokens, q + 24, 8);
    memcpy(&s->rng, q + 32, 8);
    memcpy(&s->optim_t, q + 40, 8);
    memcpy(&s->best_val, q + 48, 4);
    memcpy(&s->bad_evals, q + 52, 4);
    if (s->step < 0 || s->epoch < 0 || s->cursor < 0 || s->optim_t < 0) {
        st = rt_error(RT_ERR_FORMAT, "%s: negative counters", path);
        goto out;
    }
    q = p + HEADER_BYTES;
    memcpy(s->params, q, (size_t)n * sizeof(float));
    memcpy(s->m, q + (size_t)n * 4, (size_t)n * sizeof(float));
    if (s->v) memcpy(s->v, q + (size_t)n * 8, (size_t)n * sizeof(float));
out:
    rt_mmap_close(&map);
    return st;
}
