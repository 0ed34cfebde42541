/*
 * gguf.h (model) — GGUF as a model file: rt_gguf_model_config / rt_gguf_model_weights map
 * llama.cpp's keys and tensor names onto config.h; rt_gguf_write does the reverse (permuting
 * llama's wq/wk rows as llama.cpp's converter does, fusing GPT-2's q/k/v into attn_qkv). The
 * container reader is core/gguf.h.
 */
#ifndef RT_MODEL_GGUF_H
#define RT_MODEL_GGUF_H

#include "core/gguf.h"
#include "model/config.h"

/* llama.cpp metadata -> config (general.architecture, {arch}.embedding_length, ...). */
int rt_gguf_model_config(const rt_gguf *g, rt_model_config *cfg);
/* llama.cpp tensor names -> weights (views into the map; GPT-2's attn_qkv split into views).
 * Checks presence, type and shape; on failure w is freed. */
int rt_gguf_model_weights(const rt_gguf *g, const rt_model_config *cfg, rt_model_weights *w);

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

/* Writes a GGUF v3 file of metadata only (no tensors), atomically: e.g. the tokenizer.* keys of
 * a model, so that a tokenizer travels beside a model stored in another format. */
int rt_gguf_write_metadata(const char *path, const rt_gguf_kv *kvs, size_t n);

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
