/*
 * gguf.c — see gguf.h: the validating reader of the GGUF container (a bounds-checked cursor
 * over the map; metadata copied into an arena owned by the handle). What the keys and tensor
 * names mean for a model is model/gguf_model.c; the writer is model/gguf_write.c.
 */
#include "core/gguf.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "core/quant.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- ggml type table --------------------------------------------------------------------------
 */

typedef struct ggml_type_info {
    uint32_t id;
    const char *name;
    int block;    /* elements per block */
    size_t bytes; /* bytes per block */
} ggml_type_info;

/* Every ggml type, so files holding types ragtune does not compute with still validate. */
static const ggml_type_info ggml_types[] = {
    {0, "f32", 1, 4},         {1, "f16", 1, 2},         {2, "q4_0", 32, 18},
    {3, "q4_1", 32, 20},      {6, "q5_0", 32, 22},      {7, "q5_1", 32, 24},
    {8, "q8_0", 32, 34},      {9, "q8_1", 32, 36},      {10, "q2_K", 256, 84},
    {11, "q3_K", 256, 110},   {12, "q4_K", 256, 144},   {13, "q5_K", 256, 176},
    {14, "q6_K", 256, 210},   {15, "q8_K", 256, 292},   {16, "iq2_xxs", 256, 66},
    {17, "iq2_xs", 256, 74},  {18, "iq3_xxs", 256, 98}, {19, "iq1_s", 256, 50},
    {20, "iq4_nl", 32, 18},   {21, "iq3_s", 256, 110},  {22, "iq2_s", 256, 82},
    {23, "iq4_xs", 256, 136}, {24, "i8", 1, 1},         {25, "i16", 1, 2},
    {26, "i32", 1, 4},        {27, "i64", 1, 8},        {28, "f64", 1, 8},
    {29, "iq1_m", 256, 56},   {30, "bf16", 1, 2},       {34, "tq1_0", 256, 54},
    {35, "tq2_0", 256, 66},
};

static const ggml_type_info *ggml_type_of(uint32_t id) {
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; i++)
        if (ggml_types[i].id == id) return &ggml_types[i];
    return NULL;
}

const char *rt_ggml_type_name(uint32_t type) {
    static _Thread_local char buf[24];
    const ggml_type_info *t = ggml_type_of(type);
    if (t) return t->name;
    snprintf(buf, sizeof buf, "type%u", type);
    return buf;
}

static const char *const type_names[RT_GGUF_TYPE_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};

const char *rt_gguf_type_name(rt_gguf_type t) {
    return (unsigned)t < RT_GGUF_TYPE_COUNT ? type_names[t] : "?";
}

size_t rt_gguf_type_size(rt_gguf_type t) {
    switch (t) {
    case RT_GGUF_UINT8:
    case RT_GGUF_INT8:
    case RT_GGUF_BOOL:
        return 1;
    case RT_GGUF_UINT16:
    case RT_GGUF_INT16:
        return 2;
    case RT_GGUF_UINT32:
    case RT_GGUF_INT32:
    case RT_GGUF_FLOAT32:
        return 4;
    case RT_GGUF_UINT64:
    case RT_GGUF_INT64:
    case RT_GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

/* ---- the handle ---------------------------------------------------------------------------- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_chunk;

struct rt_gguf {
    char *path;
    rt_mmap map;
    const uint8_t *base;
    size_t size;
    uint32_t version;
    size_t alignment;
    size_t data_offset;
    size_t n_kv;
    const char **keys;
    rt_gguf_value *values;
    size_t *kv_sorted;
    size_t n_tensors;
    rt_gguf_tensor *tensors;
    size_t *t_sorted;
    arena_chunk *arena;
};

static void *arena_alloc(rt_gguf *g, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!g->arena || g->arena->cap - g->arena->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        arena_chunk *c = rt_malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = g->arena;
        c->used = 0;
        c->cap = cap;
        g->arena = c;
    }
    void *p = g->arena->data + g->arena->used;
    g->arena->used += n;
    return p;
}

/* ---- reader -------------------------------------------------------------------------------- */

typedef struct cursor {
    const uint8_t *p;
    size_t pos, size;
    rt_gguf *g;
} cursor;

#define MAX_ARRAY_DEPTH 4

static int need(cursor *c, size_t n, const char *field) {
    if (n > c->size - c->pos)
        return rt_error(RT_ERR_FORMAT,
                        "%s: offset %zu: file truncated reading %s (%zu bytes "
                        "needed, %zu left)",
                        c->g->path, c->pos, field, n, c->size - c->pos);
    return RT_OK;
}

static int rd(cursor *c, void *dst, size_t n, const char *field) {
    RT_TRY(need(c, n, field));
    memcpy(dst, c->p + c->pos, n);
    c->pos += n;
    return RT_OK;
}

static int rd_u32(cursor *c, uint32_t *v, const char *field) {
    return rd(c, v, 4, field);
}
static int rd_u64(cursor *c, uint64_t *v, const char *field) {
    return rd(c, v, 8, field);
}

/* A GGUF string copied NUL-terminated into the arena. */
static int rd_str(cursor *c, const char **out, size_t *len, const char *field) {
    uint64_t n;
    size_t at = c->pos;
    RT_TRY(rd_u64(c, &n, field));
    if (n > RT_GGUF_MAX_STRING || n > c->size - c->pos)
        return rt_error(RT_ERR_FORMAT,
                        "%s: offset %zu: %s of %" PRIu64 " bytes runs past the "
                        "end of the file (truncated?)",
                        c->g->path, at, field, n);
    char *s = arena_alloc(c->g, (size_t)n + 1);
    if (!s) return RT_ERR_NOMEM;
    memcpy(s, c->p + c->pos, (size_t)n);
    s[n] = '\0';
    c->pos += (size_t)n;
    *out = s;
    if (len) *len = (size_t)n;
    return RT_OK;
}

static int rd_value(cursor *c, rt_gguf_type type, rt_gguf_value *v, const char *key, int depth);

static int rd_array(cursor *c, rt_gguf_value *v, const char *key, int depth) {
    uint32_t at;
    uint64_t n;
    size_t pos = c->pos;
    RT_TRY(rd_u32(c, &at, "array type"));
    RT_TRY(rd_u64(c, &n, "array length"));
    if (at >= RT_GGUF_TYPE_COUNT)
        return rt_error(RT_ERR_FORMAT, "%s: offset %zu: key '%s': unknown array element type %u",
                        c->g->path, pos, key, at);
    if (at == RT_GGUF_ARRAY && depth >= MAX_ARRAY_DEPTH)
        return rt_error(RT_ERR_FORMAT, "%s: offset %zu: key '%s': arrays nested deeper than %d",
                        c->g->path, pos, key, MAX_ARRAY_DEPTH);
    /* The smallest encoding of one element bounds the count before anything is allocated. */
    size_t min_el = at == RT_GGUF_STRING ? 8 : at == RT_GGUF_ARRAY ? 12 : rt_gguf_type_size(at);
    if (n > (c->size - c->pos) / min_el)
        return rt_error(RT_ERR_FORMAT,
                        "%s: offset %zu: key '%s': array of %" PRIu64 " %s runs "
                        "past the end of the file",
                        c->g->path, pos, key, n, rt_gguf_type_name(at));
    v->arr_type = (rt_gguf_type)at;
    v->n = n;
    if (at == RT_GGUF_STRING) {
        const char **strs = arena_alloc(c->g, (size_t)n * sizeof *strs + 1);
        size_t *lens = arena_alloc(c->g, (size_t)n * sizeof *lens + 1);
        if (!strs || !lens) return RT_ERR_NOMEM;
        for (uint64_t i = 0; i < n; i++)
            RT_TRY(rd_str(c, &strs[i], &lens[i], "string"));
        v->strs = strs;
        v->lens = lens;
    } else if (at == RT_GGUF_ARRAY) {
        rt_gguf_value *items = arena_alloc(c->g, (size_t)n * sizeof *items + 1);
        if (!items) return RT_ERR_NOMEM;
        memset(items, 0, (size_t)n * sizeof *items);
        for (uint64_t i = 0; i < n; i++)
            RT_TRY(rd_value(c, RT_GGUF_ARRAY, &items[i], key, depth + 1));
        v->items = items;
    } else {
        size_t bytes = (size_t)n * min_el;
        void *data = arena_alloc(c->g, bytes + 1);
        if (!data) return RT_ERR_NOMEM;
        RT_TRY(rd(c, data, bytes, "array data"));
        if (at == RT_GGUF_BOOL)
            for (size_t i = 0; i < bytes; i++)
                if (((uint8_t *)data)[i] > 1)
                    return rt_error(RT_ERR_FORMAT, "%s: key '%s': bool array element %zu is %u",
                                    c->g->path, key, i, ((uint8_t *)data)[i]);
        v->data = data;
    }
    return RT_OK;
}

static int rd_value(cursor *c, rt_gguf_type type, rt_gguf_value *v, const char *key, int depth) {
    v->type = type;
    size_t pos = c->pos;
    switch (type) {
    case RT_GGUF_UINT8: {
        uint8_t x;
        RT_TRY(rd(c, &x, 1, key));
        v->u64 = x;
        break;
    }
    case RT_GGUF_INT8: {
        int8_t x;
        RT_TRY(rd(c, &x, 1, key));
        v->i64 = x;
        break;
    }
    case RT_GGUF_UINT16: {
        uint16_t x;
        RT_TRY(rd(c, &x, 2, key));
        v->u64 = x;
        break;
    }
    case RT_GGUF_INT16: {
        int16_t x;
        RT_TRY(rd(c, &x, 2, key));
        v->i64 = x;
        break;
    }
    case RT_GGUF_UINT32: {
        uint32_t x;
        RT_TRY(rd(c, &x, 4, key));
        v->u64 = x;
        break;
    }
    case RT_GGUF_INT32: {
        int32_t x;
        RT_TRY(rd(c, &x, 4, key));
        v->i64 = x;
        break;
    }
    case RT_GGUF_UINT64: {
        uint64_t x;
        RT_TRY(rd(c, &x, 8, key));
        v->u64 = x;
        break;
    }
    case RT_GGUF_INT64: {
        int64_t x;
        RT_TRY(rd(c, &x, 8, key));
        v->i64 = x;
        break;
    }
    case RT_GGUF_FLOAT32: {
        float x;
        RT_TRY(rd(c, &x, 4, key));
        v->f64 = x;
        break;
    }
    case RT_GGUF_FLOAT64: {
        double x;
        RT_TRY(rd(c, &x, 8, key));
        v->f64 = x;
        break;
    }
    case RT_GGUF_BOOL: {
        uint8_t x;
        RT_TRY(rd(c, &x, 1, key));
        if (x > 1)
            return rt_error(RT_ERR_FORMAT, "%s: offset %zu: key '%s': bool value %u", c->g->path,
                            pos, key, x);
        v->b = x;
        break;
    }
    case RT_GGUF_STRING:
        RT_TRY(rd_str(c, &v->str, &v->len, key));
        break;
    case RT_GGUF_ARRAY:
        RT_TRY(rd_array(c, v, key, depth));
        break;
    default:
        return rt_error(RT_ERR_FORMAT, "%s: offset %zu: key '%s': unknown value type %u",
                        c->g->path, pos, key, (unsigned)type);
    }
    return RT_OK;
}

static _Thread_local const rt_gguf *sort_ctx;
static int cmp_kv(const void *a, const void *b) {
    return strcmp(sort_ctx->keys[*(const size_t *)a], sort_ctx->keys[*(const size_t *)b]);
}
static int cmp_tname(const void *a, const void *b) {
    return strcmp(sort_ctx->tensors[*(const size_t *)a].name,
                  sort_ctx->tensors[*(const size_t *)b].name);
}
static int cmp_toff(const void *a, const void *b) {
    const rt_gguf_tensor *x = &sort_ctx->tensors[*(const size_t *)a];
    const rt_gguf_tensor *y = &sort_ctx->tensors[*(const size_t *)b];
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* qsort with a context: the comparators read the thread-local sort_ctx. */
static void sort_indices(const rt_gguf *g, size_t *idx, size_t n,
                         int (*cmp)(const void *, const void *)) {
    sort_ctx = g;
    qsort(idx, n, sizeof *idx, cmp);
    sort_ctx = NULL;
}

static int parse(rt_gguf *g) {
    cursor c = {g->base, 0, g->size, g};
    char magic[4];
    RT_TRY(rd(&c, magic, 4, "magic"));
    if (memcmp(magic, "GGUF", 4))
        return rt_error(RT_ERR_FORMAT, "%s: offset 0: bad magic (not a GGUF file)", g->path);
    RT_TRY(rd_u32(&c, &g->version, "version"));
    if (g->version == 0x02000000u || g->version == 0x03000000u)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: offset 4: a big-endian GGUF file; only "
                        "little-endian files are supported",
                        g->path);
    if (g->version != 2 && g->version != 3)
        return rt_error(g->version == 1 ? RT_ERR_UNSUPPORTED : RT_ERR_FORMAT,
                        "%s: offset 4: GGUF version %u is not supported (2 or 3)", g->path,
                        g->version);
    uint64_t n_tensors, n_kv;
    RT_TRY(rd_u64(&c, &n_tensors, "tensor count"));
    RT_TRY(rd_u64(&c, &n_kv, "metadata count"));
    /* A KV needs at least 12 bytes and a tensor info 24: bound the counts by the file size. */
    if (n_tensors > RT_GGUF_MAX_TENSORS || n_tensors > g->size / 24)
        return rt_error(RT_ERR_RANGE, "%s: offset 8: tensor count %" PRIu64 " is too large",
                        g->path, n_tensors);
    if (n_kv > RT_GGUF_MAX_KV || n_kv > g->size / 12)
        return rt_error(RT_ERR_RANGE, "%s: offset 16: metadata count %" PRIu64 " is too large",
                        g->path, n_kv);
    g->n_kv = (size_t)n_kv;
    g->n_tensors = (size_t)n_tensors;
    g->keys = rt_calloc(g->n_kv + 1, sizeof *g->keys);
    g->values = rt_calloc(g->n_kv + 1, sizeof *g->values);
    g->kv_sorted = rt_calloc(g->n_kv + 1, sizeof *g->kv_sorted);
    g->tensors = rt_calloc(g->n_tensors + 1, sizeof *g->tensors);
    g->t_sorted = rt_calloc(g->n_tensors + 1, sizeof *g->t_sorted);
    if (!g->keys || !g->values || !g->kv_sorted || !g->tensors || !g->t_sorted) return RT_ERR_NOMEM;
    for (size_t i = 0; i < g->n_kv; i++) {
        uint32_t type;
        size_t klen;
        RT_TRY(rd_str(&c, &g->keys[i], &klen, "key"));
        size_t pos = c.pos;
        RT_TRY(rd_u32(&c, &type, "value type"));
        if (type >= RT_GGUF_TYPE_COUNT)
            return rt_error(RT_ERR_FORMAT, "%s: offset %zu: key '%s': unknown value type %u",
                            g->path, pos, g->keys[i], type);
        RT_TRY(rd_value(&c, (rt_gguf_type)type, &g->values[i], g->keys[i], 0));
        g->kv_sorted[i] = i;
    }
    sort_indices(g, g->kv_sorted, g->n_kv, cmp_kv);
    for (size_t i = 1; i < g->n_kv; i++)
        if (!strcmp(g->keys[g->kv_sorted[i]], g->keys[g->kv_sorted[i - 1]]))
            return rt_error(RT_ERR_FORMAT, "%s: duplicate metadata key '%s'", g->path,
                            g->keys[g->kv_sorted[i]]);
    g->alignment = RT_GGUF_DEFAULT_ALIGNMENT;
    const rt_gguf_value *al = rt_gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != RT_GGUF_UINT32 || al->u64 == 0 || (al->u64 & (al->u64 - 1)))
            return rt_error(RT_ERR_FORMAT, "%s: general.alignment must be a power-of-two u32",
                            g->path);
        g->alignment = (size_t)al->u64;
    }
    for (size_t i = 0; i < g->n_tensors; i++) {
        rt_gguf_tensor *t = &g->tensors[i];
        size_t nlen, pos = c.pos;
        RT_TRY(rd_str(&c, &t->name, &nlen, "tensor name"));
        if (nlen == 0 || nlen >= 64)
            return rt_error(RT_ERR_FORMAT, "%s: offset %zu: tensor name length %zu (1..63)",
                            g->path, pos, nlen);
        uint32_t n_dims;
        pos = c.pos;
        RT_TRY(rd_u32(&c, &n_dims, "n_dims"));
        if (n_dims < 1 || n_dims > 4)
            return rt_error(RT_ERR_FORMAT, "%s: offset %zu: tensor '%s': n_dims %u (1..4)", g->path,
                            pos, t->name, n_dims);
        t->n_dims = (int)n_dims;
        int64_t numel = 1;
        for (int d = 0; d < 4; d++)
            t->ne[d] = 1;
        for (uint32_t d = 0; d < n_dims; d++) {
            pos = c.pos;
            RT_TRY(rd(&c, &t->ne[d], 8, "tensor dimension"));
            if (t->ne[d] < 0 || (t->ne[d] && numel > INT64_MAX / t->ne[d]))
                return rt_error(RT_ERR_RANGE,
                                "%s: offset %zu: tensor '%s': dimension %" PRId64
                                " is negative or overflows",
                                g->path, pos, t->name, t->ne[d]);
            numel *= t->ne[d];
        }
        pos = c.pos;
        RT_TRY(rd_u32(&c, &t->type, "tensor type"));
        RT_TRY(rd_u64(&c, &t->offset, "tensor offset"));
        const ggml_type_info *ti = ggml_type_of(t->type);
        if (!ti)
            return rt_error(RT_ERR_FORMAT, "%s: offset %zu: tensor '%s': unknown ggml type %u",
                            g->path, pos, t->name, t->type);
        if (t->ne[0] % ti->block)
            return rt_error(RT_ERR_FORMAT,
                            "%s: tensor '%s': row of %" PRId64 " elements is not "
                            "a multiple of the %s block size %d",
                            g->path, t->name, t->ne[0], ti->name, ti->block);
        if (!rt_mul_size((size_t)(numel / ti->block), ti->bytes, &t->nbytes))
            return rt_error(RT_ERR_RANGE, "%s: tensor '%s': size overflows", g->path, t->name);
        if (t->offset % g->alignment)
            return rt_error(RT_ERR_FORMAT,
                            "%s: tensor '%s': offset %" PRIu64 " is not a "
                            "multiple of the alignment %zu",
                            g->path, t->name, t->offset, g->alignment);
        g->t_sorted[i] = i;
    }
    sort_indices(g, g->t_sorted, g->n_tensors, cmp_tname);
    for (size_t i = 1; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[g->t_sorted[i]].name, g->tensors[g->t_sorted[i - 1]].name))
            return rt_error(RT_ERR_FORMAT, "%s: duplicate tensor name '%s'", g->path,
                            g->tensors[g->t_sorted[i]].name);
    size_t data_off = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_tensors && (data_off < c.pos || data_off > g->size))
        return rt_error(RT_ERR_FORMAT,
                        "%s: tensor data section starts at %zu, past the end of "
                        "the file (%zu bytes)",
                        g->path, data_off, g->size);
    g->data_offset = data_off;
    size_t data_size = g->n_tensors ? g->size - data_off : 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        rt_gguf_tensor *t = &g->tensors[i];
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return rt_error(RT_ERR_FORMAT,
                            "%s: tensor '%s': data [%" PRIu64 ", +%zu) is out of "
                            "range of the data section (%zu bytes; file truncated?)",
                            g->path, t->name, t->offset, t->nbytes, data_size);
        t->data = g->base + data_off + t->offset;
    }
    /* No two tensors may share bytes. */
    size_t *by_off = rt_malloc((g->n_tensors + 1) * sizeof *by_off);
    if (!by_off) return RT_ERR_NOMEM;
    for (size_t i = 0; i < g->n_tensors; i++)
        by_off[i] = i;
    sort_indices(g, by_off, g->n_tensors, cmp_toff);
    int rc = RT_OK;
    for (size_t i = 1; i < g->n_tensors; i++) {
        const rt_gguf_tensor *p = &g->tensors[by_off[i - 1]], *q = &g->tensors[by_off[i]];
        if (p->nbytes && q->nbytes && q->offset < p->offset + p->nbytes) {
            rc = rt_error(RT_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", g->path, p->name,
                          q->name);
            break;
        }
    }
    free(by_off);
    return rc;
}

int rt_gguf_parse(const void *data, size_t size, const char *what, rt_gguf **out) {
    *out = NULL;
    rt_gguf *g = rt_calloc(1, sizeof *g);
    if (!g) return RT_ERR_NOMEM;
    g->path = rt_strdup(what ? what : "gguf");
    g->base = data;
    g->size = size;
    int rc = g->path ? parse(g) : RT_ERR_NOMEM;
    if (rc < 0) {
        rt_gguf_close(g);
        return rc;
    }
    *out = g;
    return RT_OK;
}

int rt_gguf_open(const char *path, rt_gguf **out) {
    *out = NULL;
    rt_mmap map;
    RT_TRY(rt_mmap_open(path, &map));
    int rc = rt_gguf_parse(map.data, map.size, path, out);
    if (rc < 0) {
        rt_mmap_close(&map);
        return rc;
    }
    (*out)->map = map;
    return RT_OK;
}

void rt_gguf_close(rt_gguf *g) {
    if (!g) return;
    while (g->arena) {
        arena_chunk *n = g->arena->next;
        free(g->arena);
        g->arena = n;
    }
    free(g->keys);
    free(g->values);
    free(g->kv_sorted);
    free(g->tensors);
    free(g->t_sorted);
    rt_mmap_close(&g->map);
    free(g->path);
    free(g);
}

const char *rt_gguf_path(const rt_gguf *g) {
    return g->path;
}
uint32_t rt_gguf_version(const rt_gguf *g) {
    return g->version;
}
size_t rt_gguf_alignment(const rt_gguf *g) {
    return g->alignment;
}
size_t rt_gguf_file_size(const rt_gguf *g) {
    return g->size;
}
size_t rt_gguf_n_kv(const rt_gguf *g) {
    return g->n_kv;
}
const char *rt_gguf_key(const rt_gguf *g, size_t i) {
    return i < g->n_kv ? g->keys[i] : NULL;
}
const rt_gguf_value *rt_gguf_kv_value(const rt_gguf *g, size_t i) {
    return i < g->n_kv ? &g->values[i] : NULL;
}
size_t rt_gguf_n_tensors(const rt_gguf *g) {
    return g->n_tensors;
}
const rt_gguf_tensor *rt_gguf_tensor_at(const rt_gguf *g, size_t i) {
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const rt_gguf_value *rt_gguf_find(const rt_gguf *g, const char *key) {
    size_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->keys[g->kv_sorted[mid]], key);
        if (c == 0) return &g->values[g->kv_sorted[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const rt_gguf_tensor *rt_gguf_find_tensor(const rt_gguf *g, const char *name) {
    size_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->tensors[g->t_sorted[mid]].name, name);
        if (c == 0) return &g->tensors[g->t_sorted[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool is_signed(rt_gguf_type t) {
    return t == RT_GGUF_INT8 || t == RT_GGUF_INT16 || t == RT_GGUF_INT32 || t == RT_GGUF_INT64;
}
static bool is_unsigned(rt_gguf_type t) {
    return t == RT_GGUF_UINT8 || t == RT_GGUF_UINT16 || t == RT_GGUF_UINT32 || t == RT_GGUF_UINT64;
}

int rt_gguf_get_str(const rt_gguf *g, const char *key, const char **out) {
    const rt_gguf_value *v = rt_gguf_find(g, key);
    if (!v) return RT_ERR_NOT_FOUND;
    if (v->type != RT_GGUF_STRING)
        return rt_error(RT_ERR_FORMAT, "%s: key '%s' is a %s, expected a string", g->path, key,
                        rt_gguf_type_name(v->type));
    *out = v->str;
    return RT_OK;
}

int rt_gguf_get_i64(const rt_gguf *g, const char *key, int64_t *out) {
    const rt_gguf_value *v = rt_gguf_find(g, key);
    if (!v) return RT_ERR_NOT_FOUND;
    if (is_signed(v->type))
        *out = v->i64;
    else if (is_unsigned(v->type) && v->u64 <= INT64_MAX)
        *out = (int64_t)v->u64;
    else
        return rt_error(RT_ERR_FORMAT, "%s: key '%s' is a %s, expected an integer", g->path, key,
                        rt_gguf_type_name(v->type));
    return RT_OK;
}

int rt_gguf_get_f64(const rt_gguf *g, const char *key, double *out) {
    const rt_gguf_value *v = rt_gguf_find(g, key);
    if (!v) return RT_ERR_NOT_FOUND;
    if (v->type == RT_GGUF_FLOAT32 || v->type == RT_GGUF_FLOAT64)
        *out = v->f64;
    else if (is_signed(v->type))
        *out = (double)v->i64;
    else if (is_unsigned(v->type))
        *out = (double)v->u64;
    else
        return rt_error(RT_ERR_FORMAT, "%s: key '%s' is a %s, expected a number", g->path, key,
                        rt_gguf_type_name(v->type));
    return RT_OK;
}

int rt_gguf_get_bool(const rt_gguf *g, const char *key, bool *out) {
    const rt_gguf_value *v = rt_gguf_find(g, key);
    if (!v) return RT_ERR_NOT_FOUND;
    if (v->type != RT_GGUF_BOOL)
        return rt_error(RT_ERR_FORMAT, "%s: key '%s' is a %s, expected a bool", g->path, key,
                        rt_gguf_type_name(v->type));
    *out = v->b;
    return RT_OK;
}

/* A float as an integer without undefined behaviour: truncated, saturated, NaN -> 0 (found by
 * fuzz_gguf). */
static int64_t saturate_i64(double x) {
    if (!(x == x)) return 0;
    if (x >= 9.2e18) return INT64_MAX;
    if (x <= -9.2e18) return INT64_MIN;
    return (int64_t)x;
}

int64_t rt_gguf_arr_i64(const rt_gguf_value *v, uint64_t i) {
    if (v->type != RT_GGUF_ARRAY || i >= v->n || !v->data) return 0;
    const uint8_t *d = v->data;
    switch (v->arr_type) {
    case RT_GGUF_UINT8:
    case RT_GGUF_BOOL:
        return d[i];
    case RT_GGUF_INT8:
        return ((const int8_t *)d)[i];
    case RT_GGUF_UINT16:
        return ((const uint16_t *)d)[i];
    case RT_GGUF_INT16:
        return ((const int16_t *)d)[i];
    case RT_GGUF_UINT32:
        return ((const uint32_t *)d)[i];
    case RT_GGUF_INT32:
        return ((const int32_t *)d)[i];
    case RT_GGUF_UINT64:
        return (int64_t)((const uint64_t *)d)[i];
    case RT_GGUF_INT64:
        return ((const int64_t *)d)[i];
    case RT_GGUF_FLOAT32:
        return saturate_i64(((const float *)d)[i]);
    case RT_GGUF_FLOAT64:
        return saturate_i64(((const double *)d)[i]);
    default:
        return 0;
    }
}

double rt_gguf_arr_f64(const rt_gguf_value *v, uint64_t i) {
    if (v->type != RT_GGUF_ARRAY || i >= v->n || !v->data) return 0;
    if (v->arr_type == RT_GGUF_FLOAT32) return ((const float *)v->data)[i];
    if (v->arr_type == RT_GGUF_FLOAT64) return ((const double *)v->data)[i];
    if (v->arr_type == RT_GGUF_UINT64) return (double)((const uint64_t *)v->data)[i];
    return (double)rt_gguf_arr_i64(v, i);
}
