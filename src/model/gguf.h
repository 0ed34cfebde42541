/*
 * gguf.h — reading and writing GGUF (v3; v2 read), llama.cpp's model file format.
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
 *
 * rt_gguf_model_config / rt_gguf_model_weights map llama.cpp's keys and tensor names onto
 * config.h; rt_gguf_write does the reverse (permuting llama's wq/wk rows as llama.cpp's
 * converter does, fusing GPT-2's q/k/v into attn_qkv).
 */
#ifndef RT_MODEL_GGUF_H
#define RT_MODEL_GGUF_H

#include "model/config.h"

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

/* llama.cpp metadata -> config (general.architecture, {arch}.embedding_length, ...). */
int rt_gguf_model_config(const rt_gguf *g, rt_model_config *cfg);
/* llama.cpp tensor names -> weights (views into the map; GPT-2's attn_qkv split into views).
 * Checks presence, type and shape; on failure w is freed. */
int rt_gguf_model_weights(const rt_gguf *g, const rt_model_config *cfg, rt_model_weights *w);

/* One extra metadata KV for the writer (e.g. tokenizer.ggml.tokens). Values are given like
 * rt_gguf_value (arrays: strs/lens, or data holding elements of arr_type's width). */
typedef struct rt_gguf_kv {
    const char *key;
    rt_gguf_value value;
} rt_gguf_kv;

typedef struct rt_gguf_write_params {
    rt_dtype dtype;          /* storage type of 2-D weight matrices (f32, f16, bf16, q8_0, q4_0) */
    const rt_gguf_kv *extra; /* extra KVs: tokenizer.* ones win over config's special ids; any
                                other key the writer sets itself is skipped */
    size_t n_extra;
    const char *name; /* general.name (may be NULL) */
} rt_gguf_write_params;

/* Writes cfg + w as a GGUF v3 file llama.cpp can load, atomically. Norms, biases and 1-D
 * tensors stay f32; 2-D weights whose rows are not a multiple of 32 fall back to f16 for
 * q8_0/q4_0 (as llama.cpp does). The token embedding is quantized too. */
int rt_gguf_write(const char *path, const rt_model_config *cfg, const rt_model_weights *w,
                  const rt_gguf_write_params *params);

/* Bytes of one scalar of type t (0 for strings and arrays). */
size_t rt_gguf_type_size(rt_gguf_type t);

/* Llama 3 rope frequency factors, one per rotary pair (head_dim/2 values): the divisor of each
 * pair's base frequency, as llama.cpp's converter computes them for rope_freqs.weight from
 * cfg's rope_scaling_* fields. */
void rt_llama3_rope_freq_factors(const rt_model_config *cfg, float *out);

/* Reorders the rows of a q or k projection (n_rows = n_heads * head_dim rows of row_bytes each;
 * biases: rows of one element) between Hugging Face's rotate_half pairing and llama.cpp's
 * interleaved pairing, as llama.cpp's convert_hf_to_gguf permute() does (to_interleaved) or
 * undoes. Row h*D + s*D/2 + i (s in {0,1}) <-> row h*D + 2i + s. src and dst must not overlap. */
void rt_rope_permute_rows(const void *src, void *dst, int64_t n_rows, size_t row_bytes, int n_heads,
                          bool to_interleaved);

#endif
