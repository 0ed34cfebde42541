/*
 * gguf.c — see gguf.h. Parts: the validating reader (a bounds-checked cursor over the map;
 * metadata copied into an arena owned by the handle) and the llama.cpp metadata/tensor-name
 * mapping onto config.h. The writer is gguf_write.c.
 */
#include "model/gguf.h"
#include "model/model_file.h"
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

static bool supported_dtype(uint32_t type) {
    return type == RT_DTYPE_F32 || type == RT_DTYPE_F16 || type == RT_DTYPE_BF16 ||
           type == RT_DTYPE_Q8_0 || type == RT_DTYPE_Q4_0;
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

/* ---- llama.cpp metadata -> config -------------------------------------------------------------
 */

/* {arch}.<suffix> as an int in [lo, hi]; dflt when absent (INT32_MIN: required). */
static int arch_int(const rt_gguf *g, const char *arch, const char *suffix, int dflt, int lo,
                    int hi, int *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    int rc = rt_gguf_get_i64(g, key, &v);
    if (rc == RT_ERR_NOT_FOUND) {
        if (dflt == INT32_MIN)
            return rt_error(RT_ERR_FORMAT, "%s: missing metadata key '%s'", g->path, key);
        *out = dflt;
        return RT_OK;
    }
    if (rc < 0) {
        const rt_gguf_value *val = rt_gguf_find(g, key);
        if (val && val->type == RT_GGUF_ARRAY)
            return rt_error(RT_ERR_UNSUPPORTED,
                            "%s: '%s' varies per layer, which is not "
                            "supported",
                            g->path, key);
        return rc;
    }
    if (v < lo || v > hi)
        return rt_error(RT_ERR_RANGE, "%s: '%s' = %" PRId64 " is outside [%d, %d]", g->path, key, v,
                        lo, hi);
    *out = (int)v;
    return RT_OK;
}

static int arch_float(const rt_gguf *g, const char *arch, const char *suffix, float dflt,
                      float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double v;
    int rc = rt_gguf_get_f64(g, key, &v);
    if (rc == RT_ERR_NOT_FOUND) {
        *out = dflt;
        return RT_OK;
    }
    RT_TRY(rc);
    if (!(v >= 0 && v < 1e30))
        return rt_error(RT_ERR_RANGE, "%s: '%s' = %g is out of range", g->path, key, v);
    *out = (float)v;
    return RT_OK;
}

static int token_id(const rt_gguf *g, const char *key, int *out) {
    int64_t v;
    int rc = rt_gguf_get_i64(g, key, &v);
    if (rc == RT_ERR_NOT_FOUND) return RT_OK;
    RT_TRY(rc);
    if (v < 0 || v > INT32_MAX)
        return rt_error(RT_ERR_RANGE, "%s: '%s' is out of range", g->path, key);
    *out = (int)v;
    return RT_OK;
}

void rt_llama3_rope_freq_factors(const rt_model_config *c, float *out) {
    int half = c->head_dim / 2;
    double lo_wl = c->rope_original_ctx / c->rope_low_freq_factor;
    double hi_wl = c->rope_original_ctx / c->rope_high_freq_factor;
    for (int i = 0; i < half; i++) {
        double freq = 1.0 / pow(c->rope_theta, (2.0 * i) / c->head_dim);
        double wl = 2 * M_PI / freq;
        if (wl < hi_wl) {
            out[i] = 1.0f;
        } else if (wl > lo_wl) {
            out[i] = c->rope_scaling_factor;
        } else {
            double smooth = (c->rope_original_ctx / wl - c->rope_low_freq_factor) /
                            (c->rope_high_freq_factor - c->rope_low_freq_factor);
            out[i] = (float)(1.0 / ((1 - smooth) / c->rope_scaling_factor + smooth));
        }
    }
}

/* Recovers the llama3 rope parameters: from ragtune's own keys when present, else by matching
 * rope_freqs.weight against the Llama 3.1 defaults (low 1, high 4, original context 8192). */
static int read_llama3_scaling(const rt_gguf *g, const char *arch, rt_model_config *c) {
    const rt_gguf_tensor *rf = rt_gguf_find_tensor(g, "rope_freqs.weight");
    float factor = 0;
    RT_TRY(arch_float(g, "ragtune", "rope.llama3.factor", 0, &factor));
    if (factor > 0) {
        c->rope_scaling_factor = factor;
        RT_TRY(
            arch_float(g, "ragtune", "rope.llama3.low_freq_factor", 1, &c->rope_low_freq_factor));
        RT_TRY(
            arch_float(g, "ragtune", "rope.llama3.high_freq_factor", 4, &c->rope_high_freq_factor));
        RT_TRY(arch_int(g, "ragtune", "rope.llama3.original_context_length", 8192, 1, 1 << 24,
                        &c->rope_original_ctx));
        if (c->rope_scaling_factor < 1 || c->rope_high_freq_factor <= c->rope_low_freq_factor)
            return rt_error(RT_ERR_FORMAT, "%s: ragtune.rope.llama3.* factors are inconsistent",
                            g->path);
        return RT_OK;
    }
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    const char *type = NULL;
    if (rt_gguf_get_str(g, key, &type) == RT_OK && strcmp(type, "none"))
        return rt_error(RT_ERR_UNSUPPORTED, "%s: rope scaling '%s' is not supported", g->path,
                        type);
    if (!rf) return RT_OK;
    int half = c->head_dim / 2;
    if (rf->type != RT_DTYPE_F32 || rf->n_dims != 1 || rf->ne[0] != half)
        return rt_error(RT_ERR_FORMAT, "%s: rope_freqs.weight must be f32 (%d)", g->path, half);
    float *got = rt_malloc((size_t)half * sizeof *got), *want = rt_malloc((size_t)half * 4);
    if (!got || !want) {
        free(got);
        free(want);
        return RT_ERR_NOMEM;
    }
    memcpy(got, rf->data, (size_t)half * 4);
    float maxf = 1;
    for (int i = 0; i < half; i++)
        maxf = got[i] > maxf ? got[i] : maxf;
    c->rope_scaling_factor = maxf;
    c->rope_low_freq_factor = 1;
    c->rope_high_freq_factor = 4;
    c->rope_original_ctx = 8192;
    rt_llama3_rope_freq_factors(c, want);
    bool same = maxf > 1;
    for (int i = 0; i < half && same; i++)
        same = fabsf(got[i] - want[i]) <= 1e-4f * want[i];
    free(got);
    free(want);
    if (!same)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: rope_freqs.weight does not match Llama 3 "
                        "scaling with the default parameters",
                        g->path);
    return RT_OK;
}

int rt_gguf_model_config(const rt_gguf *g, rt_model_config *c) {
    memset(c, 0, sizeof *c);
    c->bos_token_id = c->eos_token_id = c->pad_token_id = -1;
    const char *arch = NULL;
    int rc = rt_gguf_get_str(g, "general.architecture", &arch);
    if (rc == RT_ERR_NOT_FOUND)
        return rt_error(RT_ERR_FORMAT, "%s: missing general.architecture", g->path);
    RT_TRY(rc);
    c->arch = rt_arch_from_name(arch);
    if (c->arch == RT_ARCH_UNKNOWN || strcmp(arch, rt_arch_name(c->arch)))
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: architecture '%s' is not supported (llama, "
                        "qwen2, gpt2, bert)",
                        g->path, arch);
    const int REQ = INT32_MIN;
    RT_TRY(arch_int(g, arch, "embedding_length", REQ, 1, 1 << 16, &c->n_embd));
    RT_TRY(arch_int(g, arch, "block_count", REQ, 1, 1024, &c->n_layer));
    RT_TRY(arch_int(g, arch, "feed_forward_length", REQ, 1, 1 << 20, &c->n_ff));
    RT_TRY(arch_int(g, arch, "attention.head_count", REQ, 1, 1 << 12, &c->n_head));
    RT_TRY(arch_int(g, arch, "attention.head_count_kv", c->n_head, 1, 1 << 12, &c->n_kv_head));
    RT_TRY(arch_int(g, arch, "context_length", REQ, 1, 1 << 24, &c->n_ctx_train));
    char klkey[128];
    snprintf(klkey, sizeof klkey, "%s.attention.key_length", arch);
    if (c->n_embd % c->n_head && !rt_gguf_find(g, klkey))
        return rt_error(RT_ERR_FORMAT,
                        "%s: embedding_length %d is not a multiple of head_count "
                        "%d",
                        g->path, c->n_embd, c->n_head);
    RT_TRY(arch_int(g, arch, "attention.key_length", c->n_embd / c->n_head, 1, 4096, &c->head_dim));
    int vlen;
    RT_TRY(arch_int(g, arch, "attention.value_length", c->head_dim, 1, 4096, &vlen));
    if (vlen != c->head_dim)
        return rt_error(RT_ERR_UNSUPPORTED, "%s: key_length %d != value_length %d", g->path,
                        c->head_dim, vlen);
    const rt_gguf_tensor *te = rt_gguf_find_tensor(g, "token_embd.weight");
    if (!te || te->n_dims != 2)
        return rt_error(RT_ERR_FORMAT, "%s: missing 2-D tensor 'token_embd.weight'", g->path);
    if (te->ne[1] < 1 || te->ne[1] > (1 << 22))
        return rt_error(RT_ERR_RANGE, "%s: vocabulary of %" PRId64 " tokens", g->path, te->ne[1]);
    c->n_vocab = (int)te->ne[1];
    RT_TRY(token_id(g, "tokenizer.ggml.bos_token_id", &c->bos_token_id));
    RT_TRY(token_id(g, "tokenizer.ggml.eos_token_id", &c->eos_token_id));
    RT_TRY(token_id(g, "tokenizer.ggml.padding_token_id", &c->pad_token_id));
    const rt_gguf_tensor *out = rt_gguf_find_tensor(g, "output.weight");
    c->tied_embeddings = out == NULL;
    if (out && c->arch == RT_ARCH_GPT2 && out->type == te->type && out->nbytes == te->nbytes &&
        !memcmp(out->data, te->data, te->nbytes))
        c->tied_embeddings = true; /* llama.cpp's converter stores GPT-2's tied copy */
    switch (c->arch) {
    case RT_ARCH_LLAMA:
    case RT_ARCH_QWEN2: {
        RT_TRY(arch_float(g, arch, "attention.layer_norm_rms_epsilon", 1e-5f, &c->norm_eps));
        RT_TRY(arch_float(g, arch, "rope.freq_base", 10000.0f, &c->rope_theta));
        int rot;
        RT_TRY(arch_int(g, arch, "rope.dimension_count", c->head_dim, 1, 4096, &rot));
        if (rot != c->head_dim)
            return rt_error(RT_ERR_UNSUPPORTED,
                            "%s: partial rotary embeddings (%d of %d) are "
                            "not supported",
                            g->path, rot, c->head_dim);
        c->rope_interleaved = c->arch == RT_ARCH_LLAMA; /* llama.cpp permutes llama's wq/wk */
        c->attn_bias = c->arch == RT_ARCH_QWEN2 || rt_gguf_find_tensor(g, "blk.0.attn_q.bias");
        if (c->arch == RT_ARCH_LLAMA) RT_TRY(read_llama3_scaling(g, arch, c));
        break;
    }
    case RT_ARCH_GPT2:
        RT_TRY(arch_float(g, arch, "attention.layer_norm_epsilon", 1e-5f, &c->norm_eps));
        c->attn_bias = true;
        break;
    case RT_ARCH_BERT: {
        RT_TRY(arch_float(g, arch, "attention.layer_norm_epsilon", 1e-12f, &c->norm_eps));
        c->attn_bias = true;
        c->tied_embeddings = false;
        const rt_gguf_tensor *tt = rt_gguf_find_tensor(g, "token_types.weight");
        c->n_type_vocab = tt && tt->n_dims == 2 && tt->ne[1] <= (1 << 16) ? (int)tt->ne[1] : 0;
        int pool;
        RT_TRY(arch_int(g, arch, "pooling_type", 1, 0, 4, &pool));
        c->pooling = pool == 2 ? RT_POOLING_CLS : pool == 3 ? RT_POOLING_LAST : RT_POOLING_MEAN;
        bool norm = true;
        rc = rt_gguf_get_bool(g, "ragtune.embeddings.normalize", &norm);
        if (rc < 0 && rc != RT_ERR_NOT_FOUND) return rc;
        c->normalize_embeddings = norm;
        break;
    }
    default:
        break;
    }
    return rt_model_config_check(c, g->path);
}

/* ---- llama.cpp tensor names -> weights ----------------------------------------------------------
 */

static void shape_text(char *buf, size_t n, int n_dims, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < n_dims && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (o < n) snprintf(buf + o, n - o, ")");
}

/* View of tensor `name` with row-major shape (d0[, d1]) (d1 < 0: a vector); rows [r0, r0+d0) of
 * a larger matrix when full_rows > 0 (GPT-2's attn_qkv). Missing and optional: zeroed, RT_OK. */
static int gguf_take(const rt_gguf *g, const char *name, int64_t d0, int64_t d1, bool optional,
                     int64_t full_rows, int64_t r0, rt_tensor *out) {
    memset(out, 0, sizeof *out);
    int n_dims = d1 < 0 ? 1 : 2;
    int64_t want[2] = {full_rows > 0 ? full_rows : d0, d1};
    char ws[64];
    shape_text(ws, sizeof ws, n_dims, want);
    const rt_gguf_tensor *t = rt_gguf_find_tensor(g, name);
    if (!t) {
        if (optional) return RT_OK;
        return rt_error(RT_ERR_NOT_FOUND, "%s: missing tensor '%s' (expected shape %s)", g->path,
                        name, ws);
    }
    if (!supported_dtype(t->type))
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: tensor '%s' has type %s (supported: f32, f16, "
                        "bf16, q8_0, q4_0)",
                        g->path, name, rt_ggml_type_name(t->type));
    int64_t got[4];
    for (int i = 0; i < t->n_dims; i++)
        got[i] = t->ne[t->n_dims - 1 - i];
    if (t->n_dims != n_dims || got[0] != want[0] || (n_dims == 2 && got[1] != want[1])) {
        char gs[64];
        shape_text(gs, sizeof gs, t->n_dims, got);
        return rt_error(RT_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", g->path, name,
                        gs, ws);
    }
    rt_dtype dt = (rt_dtype)t->type;
    size_t skip = 0; /* bytes before row (or element) r0 */
    RT_TRY(rt_dtype_nbytes(dt, n_dims == 2 ? r0 * d1 : r0, &skip, name));
    const uint8_t *src = (const uint8_t *)t->data + skip;
    int64_t shape[2] = {d0, d1};
    size_t nbytes;
    RT_TRY(rt_dtype_nbytes(dt, n_dims == 2 ? d0 * d1 : d0, &nbytes, name));
    size_t align = dt == RT_DTYPE_F32 ? 4 : 2;
    if ((uintptr_t)src % align) {
        RT_TRY(rt_tensor_alloc(out, name, dt, n_dims, shape));
        memcpy(out->data, src, nbytes);
        return RT_OK;
    }
    out->dtype = dt;
    out->n_dims = n_dims;
    for (int i = 0; i < RT_MAX_DIMS; i++)
        out->shape[i] = 1;
    out->shape[0] = d0;
    if (n_dims == 2) out->shape[1] = d1;
    out->data = (void *)src;
    out->nbytes = nbytes;
    out->name = rt_strdup(name);
    return out->name ? RT_OK : RT_ERR_NOMEM;
}

static int map_weights(const rt_gguf *g, const rt_model_config *c, rt_model_weights *w) {
    int64_t E = c->n_embd, Q = (int64_t)c->n_head * c->head_dim,
            KV = (int64_t)c->n_kv_head * c->head_dim, F = c->n_ff, V = c->n_vocab;
    bool bert = c->arch == RT_ARCH_BERT, gpt2 = c->arch == RT_ARCH_GPT2;
    bool ln = bert || gpt2; /* LayerNorm with bias */
    RT_TRY(gguf_take(g, "token_embd.weight", V, E, false, 0, 0, &w->token_embd));
    if (bert || gpt2)
        RT_TRY(gguf_take(g, "position_embd.weight", c->n_ctx_train, E, false, 0, 0, &w->pos_embd));
    if (bert) {
        if (c->n_type_vocab)
            RT_TRY(
                gguf_take(g, "token_types.weight", c->n_type_vocab, E, false, 0, 0, &w->type_embd));
        RT_TRY(gguf_take(g, "token_embd_norm.weight", E, -1, false, 0, 0, &w->embd_norm));
        RT_TRY(gguf_take(g, "token_embd_norm.bias", E, -1, false, 0, 0, &w->embd_norm_b));
    } else {
        RT_TRY(gguf_take(g, "output_norm.weight", E, -1, false, 0, 0, &w->output_norm));
        if (gpt2) RT_TRY(gguf_take(g, "output_norm.bias", E, -1, false, 0, 0, &w->output_norm_b));
        if (!c->tied_embeddings)
            RT_TRY(gguf_take(g, "output.weight", V, E, false, 0, 0, &w->output));
    }
    const char *an = bert ? "attn_output_norm" : "attn_norm";
    const char *fn = bert ? "layer_output_norm" : "ffn_norm";
    char n[96];
    for (int il = 0; il < c->n_layer; il++) {
        rt_layer_weights *l = &w->layers[il];
#define T(field, base, kind, d0, d1, opt)                                                          \
    snprintf(n, sizeof n, "blk.%d.%s.%s", il, base, kind);                                         \
    RT_TRY(gguf_take(g, n, d0, d1, opt, 0, 0, &l->field))
        T(attn_norm, an, "weight", E, -1, false);
        if (ln) {
            T(attn_norm_b, an, "bias", E, -1, false);
        }
        if (gpt2) {
            for (int j = 0; j < 3; j++) {
                rt_tensor *wt = j == 0 ? &l->wq : j == 1 ? &l->wk : &l->wv;
                rt_tensor *bt = j == 0 ? &l->bq : j == 1 ? &l->bk : &l->bv;
                snprintf(n, sizeof n, "blk.%d.attn_qkv.weight", il);
                RT_TRY(gguf_take(g, n, E, E, false, 3 * E, j * E, wt));
                snprintf(n, sizeof n, "blk.%d.attn_qkv.bias", il);
                RT_TRY(gguf_take(g, n, E, -1, false, 3 * E, j * E, bt));
            }
        } else {
            T(wq, "attn_q", "weight", Q, E, false);
            T(wk, "attn_k", "weight", KV, E, false);
            T(wv, "attn_v", "weight", KV, E, false);
            if (c->attn_bias) {
                T(bq, "attn_q", "bias", Q, -1, false);
                T(bk, "attn_k", "bias", KV, -1, false);
                T(bv, "attn_v", "bias", KV, -1, false);
            }
        }
        T(wo, "attn_output", "weight", E, Q, false);
        T(bo, "attn_output", "bias", E, -1, !ln);
        T(ffn_norm, fn, "weight", E, -1, false);
        if (ln) {
            T(ffn_norm_b, fn, "bias", E, -1, false);
        }
        if (!ln) {
            T(ffn_gate, "ffn_gate", "weight", F, E, false);
        }
        T(ffn_up, "ffn_up", "weight", F, E, false);
        T(ffn_down, "ffn_down", "weight", E, F, false);
        if (ln) {
            T(ffn_up_b, "ffn_up", "bias", F, -1, false);
            T(ffn_down_b, "ffn_down", "bias", E, -1, false);
        }
#undef T
    }
    return RT_OK;
}

int rt_gguf_model_weights(const rt_gguf *g, const rt_model_config *c, rt_model_weights *w) {
    memset(w, 0, sizeof *w);
    w->layers = rt_calloc((size_t)c->n_layer, sizeof *w->layers);
    if (!w->layers) return RT_ERR_NOMEM;
    int rc = map_weights(g, c, w);
    if (rc < 0) rt_model_weights_free(w, c->n_layer);
    return rc;
}
