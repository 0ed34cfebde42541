/*
 * adapter.h — LoRA adapters on disk in PEFT's format: adapter_config.json (peft_type LORA, r,
 * lora_alpha, lora_dropout, target_modules, ...) and adapter_model.safetensors with PEFT's
 * tensor names ("base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight", A (r, n_in),
 * B (n_out, r)), llama.cpp's GGUF LoRA (adapter_gguf.c), and folding an adapter into its base
 * (ragtune merge).
 *
 * Names are the Hugging Face modules PEFT targets: llama/qwen2's split projections, gpt2's
 * Conv1D modules (attn.c_attn holding q, k, v fused, attn.c_proj, mlp.c_fc, mlp.c_proj). How
 * ragtune's separate q/k/v pairs map to and from one c_attn LoRA is described in adapter.c.
 */
#ifndef RT_TRAIN_ADAPTER_H
#define RT_TRAIN_ADAPTER_H

#include "train/tmodel.h"

/* Writes dir/adapter_config.json and dir/adapter_model.safetensors for the LoRA matrices of m
 * (base_model may be NULL). Creates dir. */
int adapter_save_peft(const tmodel *m, const char *dir, const char *base_model);

/* Writes m's LoRA matrices as a llama.cpp GGUF LoRA adapter (llama, qwen2, gpt2), see
 * adapter_gguf.c. RT_ERR_UNSUPPORTED when the pairs' scales are not all alpha/rank. */
int adapter_save_gguf(const tmodel *m, const char *path);

/* Reads dir/adapter_config.json: rank r, alpha, dropout, targets (RT_LORA_* bits; gpt2's
 * c_attn sets q, k and v). Per-module rank_pattern / alpha_pattern are applied by
 * adapter_load_peft. */
int adapter_read_config(const char *dir, tm_options *opt);
/* The same from text in memory (`what` names it in errors). */
int adapter_config_parse(const char *text, size_t len, const char *what, tm_options *opt);

/* Copies the tensors of dir/adapter_model.safetensors into the LoRA matrices of m (created with
 * the options of adapter_read_config) and sets each linear's scale to PEFT's alpha/r for its
 * module. Every LoRA matrix of m must be present with its shape; a module whose rank (from
 * rank_pattern) the model cannot hold at its one LoRA rank is RT_ERR_UNSUPPORTED. */
int adapter_load_peft(tmodel *m, const char *dir);

#endif
