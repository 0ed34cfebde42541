/*
 * hf.h — Hugging Face model directories: config.json -> rt_model_config, the safetensors files
 * (one model.safetensors, or shards listed by model.safetensors.index.json) and the mapping of
 * Hugging Face tensor names onto rt_model_weights for llama/mistral, qwen2, gpt2 and bert.
 *
 * Views point into the mapped files wherever the layout already matches config.h; GPT-2's Conv1D
 * weights (stored (n_in, n_out), q/k/v fused in c_attn) are transposed and split into owned
 * tensors, and a tensor whose data is not aligned to its element size is copied.
 *
 * It does not read tokenizers (src/tokenizer) and does not convert dtypes.
 */
#ifndef RT_MODEL_HF_H
#define RT_MODEL_HF_H

#include "model/config.h"
#include "model/safetensors.h"

#include <jansson.h>

/* Largest config.json accepted. */
#define RT_HF_MAX_CONFIG ((size_t)16 * 1024 * 1024)

/* Parses config.json text (`what` names it in errors). Unknown architectures and unsupported
 * features (rope scaling other than llama3, mlp biases, ...) give RT_ERR_UNSUPPORTED. */
int rt_hf_config_parse(const char *text, size_t len, const char *what, rt_model_config *cfg);

/* Reads dir/config.json into cfg and, for bert, the sentence-transformers pooling and
 * normalization (1_Pooling/config.json, modules.json) when present. If raw is not NULL it
 * receives the parsed config.json (caller json_decref's it). */
int rt_hf_config_load(const char *dir, rt_model_config *cfg, json_t **raw);

/* The tensors of one model: one or more safetensors files. */
typedef struct rt_hf_tensors {
    char *what; /* file or index path, for messages; owned */
    size_t n_files;
    rt_safetensors *files; /* owned */
} rt_hf_tensors;

/* Opens path: a .safetensors file, or a directory holding model.safetensors or
 * model.safetensors.index.json (with its shards). */
int rt_hf_tensors_open(const char *path, rt_hf_tensors *out);
void rt_hf_tensors_close(rt_hf_tensors *ts);
/* The tensor called name in any of the files, or NULL. */
const rt_safetensors_entry *rt_hf_tensors_find(const rt_hf_tensors *ts, const char *name);

/* Fills w (zeroed by the caller or not: it is overwritten) with the tensors of cfg's
 * architecture. Every tensor is checked for presence, dtype (f32/f16/bf16) and shape; the error
 * names the tensor, the file and the expected shape. On failure w is freed. The caller releases
 * w with rt_model_weights_free (model_file.h) before closing ts. */
int rt_hf_weights_map(const rt_model_config *cfg, const rt_hf_tensors *ts, rt_model_weights *w);

/* Writes dir/config.json and dir/model.safetensors (Hugging Face names and layouts, GPT-2
 * Conv1D transposed back) from cfg and w. Tensors must be f32/f16/bf16 (convert q8_0/q4_0 first).
 * Creates dir if needed. */
int rt_hf_write(const char *dir, const rt_model_config *cfg, const rt_model_weights *w);

#endif
