/*
 * safetensors.h — reading and writing the safetensors format (Hugging Face's tensor files).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [..],
 *    "data_offsets": [begin, end]}, ...}
 * then the tensor bytes; offsets are relative to the first byte after the header.
 *
 * The reader maps the file read-only and checks everything before it hands out a pointer: the
 * header length (bounded, inside the file), the JSON (no duplicate keys), each dtype and shape,
 * that end - begin == numel * dtype size, that every range lies inside the data section and that
 * no two ranges overlap. Tensors are views into the map (no copy). F32/F16/BF16/I32 tensors map
 * to rt_dtype; I64, F64, I8, U8, I16 and BOOL tensors are accepted (so real checkpoints with
 * integer buffers open) but have no rt_dtype: their `dtype` is RT_DTYPE_COUNT.
 *
 * It does not convert dtypes, and it does not know tensor names of any architecture (that is
 * model/hf.c).
 */
#ifndef RT_MODEL_SAFETENSORS_H
#define RT_MODEL_SAFETENSORS_H

#include "core/file.h"
#include "core/tensor.h"

#include <jansson.h>
#include <stddef.h>

/* Largest JSON header accepted (HF's own limit is 100 MB). */
#define RT_SAFETENSORS_MAX_HEADER ((size_t)100 * 1024 * 1024)

typedef struct rt_safetensors_entry {
    rt_tensor t;      /* view into the map: name owned, data not owned */
    char st_dtype[8]; /* dtype as written in the file ("F32", "I64", ...) */
    size_t offset;    /* byte offset of the data from the start of the file */
} rt_safetensors_entry;

typedef struct rt_safetensors {
    char *path;  /* owned */
    rt_mmap map; /* empty when parsed from a caller's buffer */
    size_t n_tensors;
    rt_safetensors_entry *tensors; /* sorted by name */
    json_t *metadata;              /* the "__metadata__" object, or NULL; owned */
} rt_safetensors;

/* Opens and validates path. On failure *st is left empty (safe to close) and the error names
 * the file. */
int rt_safetensors_open(const char *path, rt_safetensors *st);
/* Validates a safetensors image in memory (data must outlive st; `what` names it in errors). */
int rt_safetensors_parse(const void *data, size_t size, const char *what, rt_safetensors *st);
void rt_safetensors_close(rt_safetensors *st);

/* The tensor called name, or NULL. */
const rt_safetensors_entry *rt_safetensors_find(const rt_safetensors *st, const char *name);
/* A string of __metadata__, or NULL. */
const char *rt_safetensors_meta(const rt_safetensors *st, const char *key);

/* Writes tensors (each with a name; dtype F32/F16/BF16/I32) and optional string metadata
 * (meta_kv: n_meta pairs key, value) to path atomically. The header is padded with spaces to a
 * multiple of 8 bytes as Hugging Face does, and the data is laid out 4-byte tensors first, so
 * every tensor is aligned to its element size. */
int rt_safetensors_write(const char *path, const rt_tensor *tensors, size_t n,
                         const char *const *meta_kv, size_t n_meta);

#endif
