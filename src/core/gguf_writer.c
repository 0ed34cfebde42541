/*
 * gguf_writer.c — the GGUF writer (see gguf_writer.h): KVs and tensor infos kept in memory,
 * written as header, KVs, tensor infos, padding, then the data through rt_atomic_file. Offsets
 * are laid out consecutively at add time, so the header can be written before any data.
 */
#include "core/gguf_writer.h"

#include "core/error.h"
#include "core/file.h"
#include "core/tensor.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ARRAY_DEPTH 4

typedef struct writer_kv {
    char *key;
    rt_gguf_value value;
    char *owned_str; /* set_str's copy */
} writer_kv;

typedef struct writer_tensor {
    char name[RT_GGUF_MAX_NAME];
    uint32_t type;
    int n_dims;
    int64_t ne[4];
    size_t nbytes;
    uint64_t offset; /* in the data section */
    const void *data;
} writer_tensor;

struct rt_gguf_writer {
    writer_kv *kvs;
    size_t n_kv, cap_kv;
    writer_tensor *tensors;
    size_t n_tensors, cap_tensors;
    size_t alignment;
    /* streaming state */
    bool begun, done; /* done: the file was committed or discarded */
    rt_atomic_file file;
    size_t pos;         /* bytes written so far */
    size_t next_tensor; /* index of the tensor write_tensor expects */
    int status;         /* first failure after begin */
};

int rt_gguf_writer_new(rt_gguf_writer **out) {
    *out = rt_calloc(1, sizeof **out);
    if (!*out) return RT_ERR_NOMEM;
    (*out)->alignment = RT_GGUF_DEFAULT_ALIGNMENT;
    return RT_OK;
}

void rt_gguf_writer_free(rt_gguf_writer *w) {
    if (!w) return;
    if (w->begun && !w->done) rt_atomic_file_abort(&w->file);
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        free(w->kvs[i].owned_str);
    }
    free(w->kvs);
    free(w->tensors);
    free(w);
}

bool rt_gguf_writer_has_key(const rt_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kvs[i].key, key)) return true;
    return false;
}

static int check_open(const rt_gguf_writer *w, const char *what) {
    if (w->begun) return rt_error(RT_ERR_INVALID, "GGUF writer: %s after the file was begun", what);
    return RT_OK;
}

int rt_gguf_writer_set(rt_gguf_writer *w, const char *key, const rt_gguf_value *value) {
    RT_TRY(check_open(w, key));
    if (!key || !*key) return rt_error(RT_ERR_INVALID, "GGUF writer: empty key");
    if ((unsigned)value->type >= RT_GGUF_TYPE_COUNT)
        return rt_error(RT_ERR_INVALID, "GGUF writer: key %s has bad type %d", key,
                        (int)value->type);
    if (rt_gguf_writer_has_key(w, key))
        return rt_error(RT_ERR_INVALID, "GGUF writer: duplicate key %s", key);
    size_t alignment = w->alignment;
    if (!strcmp(key, "general.alignment")) {
        if (value->type != RT_GGUF_UINT32 || !value->u64 || value->u64 > 1u << 20 ||
            (value->u64 & (value->u64 - 1)))
            return rt_error(RT_ERR_INVALID,
                            "GGUF writer: general.alignment must be a UINT32 power of two");
        if (w->n_tensors)
            return rt_error(RT_ERR_INVALID,
                            "GGUF writer: general.alignment must be set before any tensor");
        alignment = (size_t)value->u64;
    }
    RT_TRY(RT_GROW(w->kvs, w->cap_kv, w->n_kv + 1));
    char *k = rt_strdup(key);
    if (!k) return RT_ERR_NOMEM;
    w->kvs[w->n_kv++] = (writer_kv){.key = k, .value = *value};
    w->alignment = alignment;
    return RT_OK;
}

int rt_gguf_writer_set_u32(rt_gguf_writer *w, const char *key, uint32_t v) {
    rt_gguf_value val = {.type = RT_GGUF_UINT32};
    val.u64 = v;
    return rt_gguf_writer_set(w, key, &val);
}

int rt_gguf_writer_set_f32(rt_gguf_writer *w, const char *key, float v) {
    rt_gguf_value val = {.type = RT_GGUF_FLOAT32};
    val.f64 = v;
    return rt_gguf_writer_set(w, key, &val);
}

int rt_gguf_writer_set_bool(rt_gguf_writer *w, const char *key, bool v) {
    rt_gguf_value val = {.type = RT_GGUF_BOOL};
    val.b = v;
    return rt_gguf_writer_set(w, key, &val);
}

int rt_gguf_writer_set_str(rt_gguf_writer *w, const char *key, const char *v) {
    char *copy = rt_strdup(v);
    if (!copy) return RT_ERR_NOMEM;
    rt_gguf_value val = {.type = RT_GGUF_STRING, .str = copy, .len = strlen(copy)};
    int st = rt_gguf_writer_set(w, key, &val);
    if (st < 0) {
        free(copy);
        return st;
    }
    w->kvs[w->n_kv - 1].owned_str = copy;
    return RT_OK;
}

int rt_gguf_writer_add_tensor(rt_gguf_writer *w, const char *name, uint32_t type, int n_dims,
                              const int64_t *ne, const void *data) {
    RT_TRY(check_open(w, name));
    if (!name || !*name || strlen(name) >= RT_GGUF_MAX_NAME)
        return rt_error(RT_ERR_INVALID, "GGUF writer: tensor name '%s' is empty or too long (%d)",
                        name ? name : "", RT_GGUF_MAX_NAME);
    if (n_dims < 1 || n_dims > 4)
        return rt_error(RT_ERR_INVALID, "GGUF writer: tensor %s has %d dimensions", name, n_dims);
    if (!rt_dtype_valid((int)type))
        return rt_error(RT_ERR_UNSUPPORTED, "GGUF writer: tensor %s has type %s", name,
                        rt_ggml_type_name(type));
    for (size_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name))
            return rt_error(RT_ERR_INVALID, "GGUF writer: duplicate tensor %s", name);
    writer_tensor t = {.type = type, .n_dims = n_dims, .data = data};
    snprintf(t.name, sizeof t.name, "%s", name);
    int64_t n = 1;
    for (int d = 0; d < 4; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] <= 0 || __builtin_mul_overflow(n, t.ne[d], &n))
            return rt_error(RT_ERR_INVALID, "GGUF writer: tensor %s has a bad shape", name);
    }
    if (t.ne[0] % rt_dtype_block_size((rt_dtype)type))
        return rt_error(RT_ERR_INVALID,
                        "GGUF writer: tensor %s: ne[0] %lld is not a whole %s block", name,
                        (long long)t.ne[0], rt_ggml_type_name(type));
    RT_TRY(rt_dtype_nbytes((rt_dtype)type, n, &t.nbytes, name));
    if (w->n_tensors) {
        const writer_tensor *prev = &w->tensors[w->n_tensors - 1];
        size_t padded = (prev->nbytes + w->alignment - 1) / w->alignment * w->alignment;
        if (!rt_add_size((size_t)prev->offset, padded, &padded))
            return rt_error(RT_ERR_RANGE, "GGUF writer: tensor %s: data size overflow", name);
        t.offset = padded;
    }
    RT_TRY(RT_GROW(w->tensors, w->cap_tensors, w->n_tensors + 1));
    w->tensors[w->n_tensors++] = t;
    return RT_OK;
}

size_t rt_gguf_writer_n_tensors(const rt_gguf_writer *w) {
    return w->n_tensors;
}

/* ---- output ---------------------------------------------------------------------------------
 */

static int put(rt_gguf_writer *w, const void *p, size_t n) {
    if (!n) return RT_OK;
    RT_TRY(rt_fwrite_all(w->file.fp, p, n, w->file.path));
    w->pos += n;
    return RT_OK;
}
static int put_u32(rt_gguf_writer *w, uint32_t v) {
    return put(w, &v, 4);
}
static int put_u64(rt_gguf_writer *w, uint64_t v) {
    return put(w, &v, 8);
}
static int put_str(rt_gguf_writer *w, const char *s, size_t len) {
    RT_TRY(put_u64(w, len));
    return put(w, s, len);
}
static int put_pad(rt_gguf_writer *w) {
    static const uint8_t zeros[64] = {0};
    size_t pad = (w->alignment - w->pos % w->alignment) % w->alignment;
    while (pad) {
        size_t n = pad < sizeof zeros ? pad : sizeof zeros;
        RT_TRY(put(w, zeros, n));
        pad -= n;
    }
    return RT_OK;
}

static int put_value(rt_gguf_writer *w, const rt_gguf_value *v, int depth) {
    switch (v->type) {
    case RT_GGUF_UINT8:
    case RT_GGUF_INT8: {
        uint8_t x = (uint8_t)v->u64;
        return put(w, &x, 1);
    }
    case RT_GGUF_UINT16:
    case RT_GGUF_INT16: {
        uint16_t x = (uint16_t)v->u64;
        return put(w, &x, 2);
    }
    case RT_GGUF_UINT32:
    case RT_GGUF_INT32:
        return put_u32(w, (uint32_t)v->u64);
    case RT_GGUF_UINT64:
    case RT_GGUF_INT64:
        return put_u64(w, v->u64);
    case RT_GGUF_FLOAT32: {
        float x = (float)v->f64;
        return put(w, &x, 4);
    }
    case RT_GGUF_FLOAT64:
        return put(w, &v->f64, 8);
    case RT_GGUF_BOOL: {
        uint8_t x = v->b;
        return put(w, &x, 1);
    }
    case RT_GGUF_STRING:
        return put_str(w, v->str ? v->str : "", v->str ? v->len : 0);
    case RT_GGUF_ARRAY:
        if (depth >= MAX_ARRAY_DEPTH || (unsigned)v->arr_type >= RT_GGUF_TYPE_COUNT)
            return rt_error(RT_ERR_INVALID, "%s: bad array value", w->file.path);
        RT_TRY(put_u32(w, v->arr_type));
        RT_TRY(put_u64(w, v->n));
        if (v->arr_type == RT_GGUF_STRING) {
            for (uint64_t i = 0; i < v->n; i++)
                RT_TRY(put_str(w, v->strs[i], v->lens ? v->lens[i] : strlen(v->strs[i])));
        } else if (v->arr_type == RT_GGUF_ARRAY) {
            for (uint64_t i = 0; i < v->n; i++)
                RT_TRY(put_value(w, &v->items[i], depth + 1));
        } else if (v->n) {
            RT_TRY(put(w, v->data, (size_t)v->n * rt_gguf_type_size(v->arr_type)));
        }
        return RT_OK;
    default:
        return rt_error(RT_ERR_INVALID, "%s: bad value type %d", w->file.path, (int)v->type);
    }
}

static int put_header(rt_gguf_writer *w) {
    RT_TRY(put(w, "GGUF", 4));
    RT_TRY(put_u32(w, 3));
    RT_TRY(put_u64(w, w->n_tensors));
    RT_TRY(put_u64(w, w->n_kv));
    for (size_t i = 0; i < w->n_kv; i++) {
        RT_TRY(put_str(w, w->kvs[i].key, strlen(w->kvs[i].key)));
        RT_TRY(put_u32(w, w->kvs[i].value.type));
        RT_TRY(put_value(w, &w->kvs[i].value, 0));
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        RT_TRY(put_str(w, t->name, strlen(t->name)));
        RT_TRY(put_u32(w, (uint32_t)t->n_dims));
        for (int d = 0; d < t->n_dims; d++)
            RT_TRY(put_u64(w, (uint64_t)t->ne[d]));
        RT_TRY(put_u32(w, t->type));
        RT_TRY(put_u64(w, t->offset));
    }
    return put_pad(w);
}

/* Records the first failure and discards the temporary file; returns st. */
static int fail(rt_gguf_writer *w, int st) {
    if (!w->done) {
        w->status = st;
        w->done = true;
        rt_atomic_file_abort(&w->file);
    }
    return st;
}

/* RT_OK while a begun file can take more. */
static int check_writing(const rt_gguf_writer *w, const char *what) {
    if (!w->begun) return rt_error(RT_ERR_INVALID, "GGUF writer: %s before begin", what);
    if (w->status < 0) return w->status;
    if (w->done) return rt_error(RT_ERR_INVALID, "GGUF writer: %s after finish", what);
    return RT_OK;
}

int rt_gguf_writer_begin(rt_gguf_writer *w, const char *path) {
    RT_TRY(check_open(w, "begin"));
    RT_TRY(rt_atomic_file_open(&w->file, path));
    w->begun = true;
    int st = put_header(w);
    return st < 0 ? fail(w, st) : RT_OK;
}

int rt_gguf_writer_write_tensor(rt_gguf_writer *w, const void *data, size_t nbytes) {
    RT_TRY(check_writing(w, "tensor data"));
    if (w->next_tensor >= w->n_tensors)
        return fail(w, rt_error(RT_ERR_INVALID, "%s: more tensor data than the %zu tensors",
                                w->file.path, w->n_tensors));
    const writer_tensor *t = &w->tensors[w->next_tensor];
    if (nbytes != t->nbytes)
        return fail(w, rt_error(RT_ERR_INVALID, "%s: tensor %s has %zu bytes, its shape needs %zu",
                                w->file.path, t->name, nbytes, t->nbytes));
    int st = put(w, data, nbytes);
    if (st == RT_OK) st = put_pad(w);
    if (st < 0) return fail(w, st);
    w->next_tensor++;
    return RT_OK;
}

int rt_gguf_writer_finish(rt_gguf_writer *w) {
    RT_TRY(check_writing(w, "finish"));
    if (w->next_tensor != w->n_tensors)
        return fail(w, rt_error(RT_ERR_INVALID, "%s: %zu of %zu tensors written", w->file.path,
                                w->next_tensor, w->n_tensors));
    w->done = true; /* commit releases the file whatever happens */
    w->status = rt_atomic_file_commit(&w->file);
    return w->status;
}

int rt_gguf_writer_write_file(rt_gguf_writer *w, const char *path) {
    for (size_t i = 0; i < w->n_tensors; i++)
        if (!w->tensors[i].data)
            return rt_error(RT_ERR_INVALID, "%s: tensor %s has no data", path, w->tensors[i].name);
    RT_TRY(rt_gguf_writer_begin(w, path));
    for (size_t i = 0; i < w->n_tensors; i++)
        RT_TRY(rt_gguf_writer_write_tensor(w, w->tensors[i].data, w->tensors[i].nbytes));
    return rt_gguf_writer_finish(w);
}
