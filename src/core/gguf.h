/*
 * gguf.h — the GGUF container (v3; v2 read), llama.cpp's model file format: reading and
 * validating it. What its keys and tensors mean for a model is model/gguf.h.
 *
 * Layout: magic "GGUF", u32 version, u64 tensor count, u64 KV count, the KVs (key string, u32
 * type, value), the tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset),
 * padding to general.alignment (default 32), then the tensor data. Strings are u64 length +
 * bytes. ne[0] is the fastest dimension, the reverse of config.h's row-major shapes.
 *
 * The reader maps the file, checks every count, length, type, offset, alignment and size
 * before it forms a pointer, and rejects duplicate keys and duplicate tensor names. Metadata is
 * copied into owned memory (strings NUL-terminated, numeric arrays aligned); tensor data stays in
 * the map. Tensor types f32, f16, bf16, q8_0 and q4_0 are mapped; others are listed (so `info`
 * can show them) but loading them as weights gives RT_ERR_UNSUPPORTED.
 */
#ifndef RT_CORE_GGUF_H
#define RT_CORE_GGUF_H

#include "ragtune.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_GGUF_MAX_TENSORS ((uint64_t)1 << 20)
#define RT_GGUF_MAX_KV ((uint64_t)1 << 20)
#define RT_GGUF_MAX_STRING ((uint64_t)1 << 30)
#define RT_GGUF_DEFAULT_ALIGNMENT 32

typedef struct rt_gguf rt_gguf;

typedef enum rt_gguf_type {
    RT_GGUF_UINT8 = 0,
    RT_GGUF_INT8 = 1,
    RT_GGUF_UINT16 = 2,
    RT_GGUF_INT16 = 3,
    RT_GGUF_UINT32 = 4,
    RT_GGUF_INT32 = 5,
    RT_GGUF_FLOAT32 = 6,
    RT_GGUF_BOOL = 7,
    RT_GGUF_STRING = 8,
    RT_GGUF_ARRAY = 9,
    RT_GGUF_UINT64 = 10,
    RT_GGUF_INT64 = 11,
    RT_GGUF_FLOAT64 = 12,
    RT_GGUF_TYPE_COUNT = 13,
} rt_gguf_type;

/* A metadata value. Scalars: the field matching type (integers widened to i64/u64, floats to
 * f64, bool to b). STRING: str (NUL-terminated) and len. ARRAY: arr_type, n and, by element type,
 * `data` (numeric and bool elements, aligned native copies of their GGUF width), `strs`/`lens`
 * (strings) or `items` (nested arrays). */
typedef struct rt_gguf_value {
    rt_gguf_type type;
    union {
        uint64_t u64;
        int64_t i64;
        double f64;
        bool b;
    };
    const char *str;
    size_t len;
    rt_gguf_type arr_type;
    uint64_t n;
    const void *data;
    const char *const *strs;
    const size_t *lens;
    const struct rt_gguf_value *items;
} rt_gguf_value;

typedef struct rt_gguf_tensor {
    const char *name;
    uint32_t type; /* ggml type id (== rt_dtype for the supported ones) */
    int n_dims;
    int64_t ne[4];    /* GGUF order: ne[0] fastest */
    uint64_t offset;  /* relative to the data section */
    const void *data; /* into the map */
    size_t nbytes;    /* 0 when the type is unknown */
} rt_gguf_tensor;

/* Opens and validates path; on failure *out is NULL and the error names the file. */
int rt_gguf_open(const char *path, rt_gguf **out);
/* Validates a GGUF image in memory (data must outlive the handle). */
int rt_gguf_parse(const void *data, size_t size, const char *what, rt_gguf **out);
void rt_gguf_close(rt_gguf *g);

const char *rt_gguf_path(const rt_gguf *g);
uint32_t rt_gguf_version(const rt_gguf *g);
size_t rt_gguf_alignment(const rt_gguf *g);
size_t rt_gguf_file_size(const rt_gguf *g);

size_t rt_gguf_n_kv(const rt_gguf *g);
const char *rt_gguf_key(const rt_gguf *g, size_t i);
const rt_gguf_value *rt_gguf_kv_value(const rt_gguf *g, size_t i);
/* The value of key, or NULL. */
const rt_gguf_value *rt_gguf_find(const rt_gguf *g, const char *key);
/* Typed getters: RT_OK, RT_ERR_NOT_FOUND (absent) or RT_ERR_FORMAT (other type; the message
 * names the file and key). Integers of any integer type convert if in range. */
int rt_gguf_get_str(const rt_gguf *g, const char *key, const char **out);
int rt_gguf_get_i64(const rt_gguf *g, const char *key, int64_t *out);
int rt_gguf_get_f64(const rt_gguf *g, const char *key, double *out);
int rt_gguf_get_bool(const rt_gguf *g, const char *key, bool *out);
/* Element i of a numeric array as i64 / f64 (0 when out of range or not numeric). */
int64_t rt_gguf_arr_i64(const rt_gguf_value *v, uint64_t i);
double rt_gguf_arr_f64(const rt_gguf_value *v, uint64_t i);
const char *rt_gguf_type_name(rt_gguf_type t);
/* "f32", "q8_0", ..., or "type<N>" into a static buffer for unknown ids. */
const char *rt_ggml_type_name(uint32_t type);

size_t rt_gguf_n_tensors(const rt_gguf *g);
const rt_gguf_tensor *rt_gguf_tensor_at(const rt_gguf *g, size_t i);
const rt_gguf_tensor *rt_gguf_find_tensor(const rt_gguf *g, const char *name);

/* One extra metadata KV for the writer (e.g. tokenizer.ggml.tokens). Values are given like
 * rt_gguf_value (arrays: strs/lens, or data holding elements of arr_type's width). */
typedef struct rt_gguf_kv {
    const char *key;
    rt_gguf_value value;
} rt_gguf_kv;

/* Bytes of one scalar of type t (0 for strings and arrays). */
size_t rt_gguf_type_size(rt_gguf_type t);

#endif
