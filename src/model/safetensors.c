/*
 * safetensors.c — see safetensors.h. Validation happens in parse_header(), before any tensor
 * pointer is formed; the writer lays out tensors 4-byte dtypes first so all data is aligned.
 */
#include "model/safetensors.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct st_dtype_info {
    const char *name;
    size_t size;
    int rt; /* rt_dtype, or RT_DTYPE_COUNT when none */
} st_dtype_info;

static const st_dtype_info st_dtypes[] = {
    {"F32", 4, RT_DTYPE_F32},    {"F16", 2, RT_DTYPE_F16},   {"BF16", 2, RT_DTYPE_BF16},
    {"I32", 4, RT_DTYPE_I32},    {"I64", 8, RT_DTYPE_COUNT}, {"F64", 8, RT_DTYPE_COUNT},
    {"I16", 2, RT_DTYPE_COUNT},  {"I8", 1, RT_DTYPE_COUNT},  {"U8", 1, RT_DTYPE_COUNT},
    {"BOOL", 1, RT_DTYPE_COUNT},
};

static const st_dtype_info *dtype_by_name(const char *name) {
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (!strcmp(st_dtypes[i].name, name)) return &st_dtypes[i];
    return NULL;
}

static const char *dtype_to_st(rt_dtype d) {
    switch (d) {
    case RT_DTYPE_F32:
        return "F32";
    case RT_DTYPE_F16:
        return "F16";
    case RT_DTYPE_BF16:
        return "BF16";
    case RT_DTYPE_I32:
        return "I32";
    default:
        return NULL;
    }
}

static int cmp_entry_name(const void *a, const void *b) {
    const rt_safetensors_entry *x = a, *y = b;
    return strcmp(x->t.name, y->t.name);
}

static int cmp_entry_offset(const void *a, const void *b) {
    const rt_safetensors_entry *const *x = a, *const *y = b;
    if ((*x)->offset != (*y)->offset) return (*x)->offset < (*y)->offset ? -1 : 1;
    return (*x)->t.nbytes < (*y)->t.nbytes ? -1 : (*x)->t.nbytes > (*y)->t.nbytes;
}

static uint64_t read_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Fills one entry from its JSON description; offsets are checked against data_size. */
static int parse_entry(const char *what, const char *name, json_t *desc, const uint8_t *data,
                       size_t data_start, size_t data_size, rt_safetensors_entry *e) {
    if (!json_is_object(desc))
        return rt_error(RT_ERR_FORMAT, "%s: tensor '%s': header entry is not an object", what,
                        name);
    json_t *jd = json_object_get(desc, "dtype");
    json_t *js = json_object_get(desc, "shape");
    json_t *jo = json_object_get(desc, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo))
        return rt_error(RT_ERR_FORMAT,
                        "%s: tensor '%s': expected dtype (string), shape and data_offsets "
                        "(arrays)",
                        what, name);
    const st_dtype_info *di = dtype_by_name(json_string_value(jd));
    if (!di)
        return rt_error(RT_ERR_UNSUPPORTED, "%s: tensor '%s': unsupported dtype '%.16s'", what,
                        name, json_string_value(jd));
    size_t n_dims = json_array_size(js);
    if (n_dims > RT_MAX_DIMS)
        return rt_error(RT_ERR_UNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d)", what,
                        name, n_dims, RT_MAX_DIMS);
    size_t numel = 1;
    e->t.n_dims = n_dims == 0 ? 1 : (int)n_dims; /* a scalar is a 1-element vector */
    for (int i = 0; i < RT_MAX_DIMS; i++)
        e->t.shape[i] = 1;
    for (size_t i = 0; i < n_dims; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return rt_error(RT_ERR_FORMAT,
                            "%s: tensor '%s': shape[%zu] is not a non-negative "
                            "integer",
                            what, name, i);
        json_int_t v = json_integer_value(d);
        if ((uint64_t)v > (uint64_t)INT64_MAX / 2 || !rt_mul_size(numel, (size_t)v, &numel))
            return rt_error(RT_ERR_RANGE, "%s: tensor '%s': shape overflows", what, name);
        e->t.shape[i] = v;
    }
    size_t nbytes;
    if (!rt_mul_size(numel, di->size, &nbytes))
        return rt_error(RT_ERR_RANGE, "%s: tensor '%s': size overflows", what, name);
    if (json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return rt_error(RT_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end]", what,
                        name);
    json_int_t b = json_integer_value(json_array_get(jo, 0));
    json_int_t en = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || en < b || (uint64_t)en > data_size)
        return rt_error(RT_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%lld, %lld] outside the data section "
                        "(%zu bytes)",
                        what, name, (long long)b, (long long)en, data_size);
    if ((uint64_t)(en - b) != nbytes)
        return rt_error(RT_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets span %lld bytes but %s shape needs %zu",
                        what, name, (long long)(en - b), di->name, nbytes);
    e->t.name = rt_strdup(name);
    if (!e->t.name) return RT_ERR_NOMEM;
    snprintf(e->st_dtype, sizeof e->st_dtype, "%s", di->name);
    e->t.dtype = (rt_dtype)di->rt;
    e->t.nbytes = nbytes;
    e->offset = data_start + (size_t)b;
    e->t.data = (void *)(data + e->offset);
    e->t.owned = false;
    return RT_OK;
}

static int parse_header(const uint8_t *data, size_t size, const char *what, rt_safetensors *st) {
    if (size < 8)
        return rt_error(RT_ERR_FORMAT, "%s: %zu bytes, too short for a safetensors header", what,
                        size);
    uint64_t hlen = read_le64(data);
    if (hlen > RT_SAFETENSORS_MAX_HEADER)
        return rt_error(RT_ERR_RANGE, "%s: header length %llu exceeds the %zu-byte limit", what,
                        (unsigned long long)hlen, RT_SAFETENSORS_MAX_HEADER);
    if (hlen > size - 8)
        return rt_error(RT_ERR_FORMAT,
                        "%s: header length %llu runs past the end of the file "
                        "(%zu bytes)",
                        what, (unsigned long long)hlen, size);
    if (hlen < 2 || data[8] != '{')
        return rt_error(RT_ERR_FORMAT, "%s: offset 8: header is not a JSON object", what);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return rt_error(RT_ERR_FORMAT, "%s: header JSON: %s (at byte %d of the header)", what,
                        jerr.text, jerr.position);
    int rc = RT_OK;
    if (!json_is_object(root)) {
        rc = rt_error(RT_ERR_FORMAT, "%s: header is not a JSON object", what);
        goto done;
    }
    size_t data_start = 8 + (size_t)hlen, data_size = size - data_start;
    size_t n = json_object_size(root);
    json_t *meta = json_object_get(root, "__metadata__");
    if (meta) {
        if (!json_is_object(meta)) {
            rc = rt_error(RT_ERR_FORMAT, "%s: __metadata__ is not an object", what);
            goto done;
        }
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v) {
            if (!json_is_string(v)) {
                rc = rt_error(RT_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", what,
                              k);
                goto done;
            }
        }
        st->metadata = json_incref(meta);
        n--;
    }
    st->tensors = rt_calloc(n ? n : 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = RT_ERR_NOMEM;
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) continue;
        rc = parse_entry(what, key, val, data, data_start, data_size, &st->tensors[st->n_tensors]);
        if (rc < 0) {
            rt_tensor_free(&st->tensors[st->n_tensors].t);
            goto done;
        }
        st->n_tensors++;
    }
    /* No two tensors may share bytes. */
    if (st->n_tensors > 1) {
        rt_safetensors_entry **by_off = rt_malloc(st->n_tensors * sizeof *by_off);
        if (!by_off) {
            rc = RT_ERR_NOMEM;
            goto done;
        }
        for (size_t i = 0; i < st->n_tensors; i++)
            by_off[i] = &st->tensors[i];
        qsort(by_off, st->n_tensors, sizeof *by_off, cmp_entry_offset);
        for (size_t i = 1; i < st->n_tensors; i++) {
            const rt_safetensors_entry *p = by_off[i - 1], *c = by_off[i];
            if (c->offset < p->offset + p->t.nbytes && c->t.nbytes > 0 && p->t.nbytes > 0) {
                rc = rt_error(RT_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", what, p->t.name,
                              c->t.name);
                break;
            }
        }
        free(by_off);
        if (rc < 0) goto done;
    }
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, cmp_entry_name);
done:
    json_decref(root);
    return rc;
}

int rt_safetensors_parse(const void *data, size_t size, const char *what, rt_safetensors *st) {
    memset(st, 0, sizeof *st);
    st->path = rt_strdup(what ? what : "safetensors");
    if (!st->path) return RT_ERR_NOMEM;
    int rc = parse_header(data, size, st->path, st);
    if (rc < 0) {
        char *p = st->path;
        st->path = NULL;
        rt_safetensors_close(st);
        free(p);
    }
    return rc;
}

int rt_safetensors_open(const char *path, rt_safetensors *st) {
    memset(st, 0, sizeof *st);
    rt_mmap map;
    RT_TRY(rt_mmap_open(path, &map));
    int rc = rt_safetensors_parse(map.data, map.size, path, st);
    if (rc < 0) {
        rt_mmap_close(&map);
        return rc;
    }
    st->map = map;
    return RT_OK;
}

void rt_safetensors_close(rt_safetensors *st) {
    for (size_t i = 0; i < st->n_tensors; i++)
        rt_tensor_free(&st->tensors[i].t);
    free(st->tensors);
    if (st->metadata) json_decref(st->metadata);
    rt_mmap_close(&st->map);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const rt_safetensors_entry *rt_safetensors_find(const rt_safetensors *st, const char *name) {
    size_t lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->tensors[mid].t.name, name);
        if (c == 0) return &st->tensors[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *rt_safetensors_meta(const rt_safetensors *st, const char *key) {
    if (!st->metadata) return NULL;
    return json_string_value(json_object_get(st->metadata, key));
}

/* ---- writer --------------------------------------------------------------------------------- */

int rt_safetensors_write(const char *path, const rt_tensor *tensors, size_t n,
                         const char *const *meta_kv, size_t n_meta) {
    int rc = RT_OK;
    size_t *order = rt_malloc((n ? n : 1) * sizeof *order);
    json_t *root = json_object();
    char *header = NULL;
    if (!order || !root) {
        rc = rt_error(RT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (n_meta) {
        json_t *meta = json_object();
        for (size_t i = 0; i < n_meta; i++)
            json_object_set_new(meta, meta_kv[2 * i], json_string(meta_kv[2 * i + 1]));
        json_object_set_new(root, "__metadata__", meta);
    }
    /* 4-byte dtypes first, then 2-byte ones: every tensor stays aligned to its element size. */
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            size_t es = rt_dtype_block_bytes(tensors[i].dtype);
            if ((pass == 0) == (es == 4)) order[k++] = i;
        }
    size_t off = 0;
    for (size_t j = 0; j < n; j++) {
        const rt_tensor *t = &tensors[order[j]];
        const char *dt = dtype_to_st(t->dtype);
        if (!t->name || !*t->name) {
            rc = rt_error(RT_ERR_INVALID, "%s: tensor %zu has no name", path, order[j]);
            goto done;
        }
        if (!dt) {
            rc = rt_error(RT_ERR_UNSUPPORTED,
                          "%s: tensor '%s': dtype %s cannot be stored in "
                          "safetensors (use f32, f16 or bf16)",
                          path, t->name, rt_dtype_name(t->dtype) ? rt_dtype_name(t->dtype) : "?");
            goto done;
        }
        if (json_object_get(root, t->name)) {
            rc = rt_error(RT_ERR_INVALID, "%s: duplicate tensor name '%s'", path, t->name);
            goto done;
        }
        size_t nbytes;
        rc = rt_dtype_nbytes(t->dtype, rt_tensor_nelements(t), &nbytes, t->name);
        if (rc < 0) goto done;
        json_t *shape = json_array();
        for (int d = 0; d < t->n_dims; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *desc = json_object();
        json_object_set_new(desc, "dtype", json_string(dt));
        json_object_set_new(desc, "shape", shape);
        json_object_set_new(desc, "data_offsets",
                            json_pack("[II]", (json_int_t)off, (json_int_t)(off + nbytes)));
        json_object_set_new(root, t->name, desc);
        off += nbytes;
    }
    header = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!header) {
        rc = rt_error(RT_ERR_NOMEM, "%s: cannot serialize the header", path);
        goto done;
    }
    size_t hlen = strlen(header), padded = (hlen + 7) / 8 * 8;
    rt_atomic_file f;
    rc = rt_atomic_file_open(&f, path);
    if (rc < 0) goto done;
    uint8_t lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    rc = rt_fwrite_all(f.fp, lenbuf, 8, path);
    if (rc == RT_OK) rc = rt_fwrite_all(f.fp, header, hlen, path);
    if (rc == RT_OK) rc = rt_fwrite_all(f.fp, spaces, padded - hlen, path);
    for (size_t j = 0; j < n && rc == RT_OK; j++) {
        const rt_tensor *t = &tensors[order[j]];
        size_t nbytes = 0;
        rt_dtype_nbytes(t->dtype, rt_tensor_nelements(t), &nbytes, t->name);
        if (nbytes) rc = rt_fwrite_all(f.fp, t->data, nbytes, path);
    }
    if (rc < 0)
        rt_atomic_file_abort(&f);
    else
        rc = rt_atomic_file_commit(&f);
done:
    free(header);
    free(order);
    if (root) json_decref(root);
    return rc;
}
