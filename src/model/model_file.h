/*
 * model_file.h — opening a model whatever its format: a GGUF file, a .safetensors file with
 * config.json beside it, or a Hugging Face directory (single or sharded safetensors). The result
 * is the format-independent rt_model_config + rt_model_weights (config.h) that inference,
 * training and conversion use, plus the raw metadata for layers that need more (the tokenizer
 * reads tokenizer.ggml.* from GGUF, or tokenizer.json from rt_model_file_dir()).
 *
 * Weights are views into read-only memory maps where possible; the few tensors that must be
 * rearranged (GPT-2 Conv1D, misaligned data) are owned copies. Everything is released by
 * rt_model_file_close. This module does not run the model.
 */
#ifndef RT_MODEL_MODEL_FILE_H
#define RT_MODEL_MODEL_FILE_H

#include "model/config.h"

#include <jansson.h>

typedef struct rt_model_file rt_model_file;
typedef struct rt_gguf rt_gguf;

typedef enum rt_model_format {
    RT_MODEL_FORMAT_GGUF = 1,
    RT_MODEL_FORMAT_HF = 2, /* config.json + safetensors */
} rt_model_format;

/* Opens path (a .gguf file, a .safetensors file with config.json in the same directory, or a
 * Hugging Face directory). On failure *out is NULL and rt_last_error() names the file. */
int rt_model_file_open(const char *path, rt_model_file **out);
void rt_model_file_close(rt_model_file *f);

/* Writes cfg + w (e.g. f's weights after training or merging) as a GGUF file (out ending in
 * ".gguf"; 2-D weights stored as dtype) or a Hugging Face directory (dtype f32/f16/bf16),
 * carrying f's tokenizer: GGUF tokenizer.* metadata, or an HF directory's tokenizer files (as
 * tokenizer.ggml.* metadata when writing GGUF). Atomic per file. */
int rt_model_file_save_as(const rt_model_file *f, const rt_model_config *cfg,
                          const rt_model_weights *w, const char *out, rt_dtype dtype);

const rt_model_config *rt_model_file_config(const rt_model_file *f);
const rt_model_weights *rt_model_file_weights(const rt_model_file *f);
rt_model_format rt_model_file_format(const rt_model_file *f);
/* The path given to open. */
const char *rt_model_file_path(const rt_model_file *f);
/* The directory holding tokenizer.json, tokenizer_config.json etc. (NULL for GGUF). */
const char *rt_model_file_dir(const rt_model_file *f);
/* The GGUF file (metadata KVs such as tokenizer.ggml.tokens), or NULL for HF models. */
const rt_gguf *rt_model_file_gguf(const rt_model_file *f);
/* The parsed config.json, or NULL for GGUF models. Borrowed. */
const json_t *rt_model_file_hf_config(const rt_model_file *f);

/* Checks a configuration for consistency (sizes positive and bounded, n_head a multiple of
 * n_kv_head, even head_dim for RoPE, ...); `what` names the source in the error. */
int rt_model_config_check(const rt_model_config *cfg, const char *what);

/* Calls rt_tensor_free on every tensor of w (views lose their names, owned copies their data)
 * and frees the layer array. */
void rt_model_weights_free(rt_model_weights *w, int n_layer);

/* One weight of a model with its llama.cpp (GGUF) name, e.g. "blk.3.attn_q.weight". */
typedef struct rt_weight_ref {
    char name[64];
    rt_tensor *t;
} rt_weight_ref;
/* Lists the present tensors of w (data != NULL) in GGUF order and names. Returns the count
 * (at most max; call with max 0 to size the array). */
size_t rt_model_weights_list(const rt_model_config *cfg, const rt_model_weights *w,
                             rt_weight_ref *refs, size_t max);
/* Total number of parameters (elements) of the present tensors. */
int64_t rt_model_weights_n_params(const rt_model_config *cfg, const rt_model_weights *w);

#endif
