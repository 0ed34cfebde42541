/*
 * gguf_writer.h — the one GGUF writer of ragtune (v3, the layout core/gguf.h reads), used for
 * models (model/gguf_write.c), LoRA adapters (train/adapter_gguf.c) and metadata-only files.
 * Like ggml's gguf API: collect key/values and tensor descriptions, then write. The file is
 * always written atomically (core/file.h): until rt_gguf_writer_finish succeeds the target path
 * keeps its old contents, and any failure or an unfinished writer leaves no partial file.
 *
 * Two ways to give tensor data: pointers at rt_gguf_writer_add_tensor and one
 * rt_gguf_writer_write_file call, or streaming — rt_gguf_writer_begin, then
 * rt_gguf_writer_write_tensor for each tensor in the order added (so that only one converted
 * tensor need be in memory), then rt_gguf_writer_finish.
 *
 * Tensor data is aligned to general.alignment (32 unless a UINT32 "general.alignment" KV sets
 * another power of two) and every tensor is followed by padding to it, as ggml writes.
 * What the keys mean is the caller's business; this writer only refuses what the reader would
 * (duplicate keys or tensor names, names of 64 bytes or more, unknown types).
 */
#ifndef RT_CORE_GGUF_WRITER_H
#define RT_CORE_GGUF_WRITER_H

#include "core/gguf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ggml's GGML_MAX_NAME: tensor names are shorter than this (NUL included). */
#define RT_GGUF_MAX_NAME 64

typedef struct rt_gguf_writer rt_gguf_writer;

/* A new, empty writer (free with rt_gguf_writer_free). */
int rt_gguf_writer_new(rt_gguf_writer **out);
/* Releases the writer; a file begun and not finished is discarded (the target is untouched). */
void rt_gguf_writer_free(rt_gguf_writer *w);

/* Adds a key/value. The key is copied; strings and arrays the value points to are borrowed and
 * must stay valid until the file is written. RT_ERR_INVALID for a duplicate key, a bad type or
 * after rt_gguf_writer_begin. */
int rt_gguf_writer_set(rt_gguf_writer *w, const char *key, const rt_gguf_value *value);
/* Typed shortcuts; set_str copies the string. */
int rt_gguf_writer_set_u32(rt_gguf_writer *w, const char *key, uint32_t v);
int rt_gguf_writer_set_f32(rt_gguf_writer *w, const char *key, float v);
int rt_gguf_writer_set_bool(rt_gguf_writer *w, const char *key, bool v);
int rt_gguf_writer_set_str(rt_gguf_writer *w, const char *key, const char *v);
/* True if key was already set. */
bool rt_gguf_writer_has_key(const rt_gguf_writer *w, const char *key);

/* Adds a tensor: ggml type id (f32, f16, bf16, q8_0, q4_0, i32), n_dims (1..4) and ne in GGUF
 * order (ne[0] the fastest dimension). data (borrowed; may be NULL when streaming) holds the
 * tensor's bytes as stored. RT_ERR_INVALID for a duplicate or too long name or bad shape,
 * RT_ERR_UNSUPPORTED for a type without a known size. */
int rt_gguf_writer_add_tensor(rt_gguf_writer *w, const char *name, uint32_t type, int n_dims,
                              const int64_t *ne, const void *data);
size_t rt_gguf_writer_n_tensors(const rt_gguf_writer *w);

/* Streaming: opens a temporary file beside path and writes the header and tensor infos. */
int rt_gguf_writer_begin(rt_gguf_writer *w, const char *path);
/* Writes the next tensor's bytes (nbytes must be its size) and its padding. */
int rt_gguf_writer_write_tensor(rt_gguf_writer *w, const void *data, size_t nbytes);
/* Checks that every tensor was written, then fsyncs and renames over the path. After any
 * failure of begin/write_tensor/finish the temporary file is removed and later calls return
 * the first error. */
int rt_gguf_writer_finish(rt_gguf_writer *w);

/* begin + every tensor from the data given at add_tensor + finish. */
int rt_gguf_writer_write_file(rt_gguf_writer *w, const char *path);

#endif
