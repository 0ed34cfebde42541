/*
 * adapter.h — LoRA adapters on disk in PEFT's format: adapter_config.json (peft_type LORA, r,
 * lora_alpha, lora_dropout, target_modules, ...) and adapter_model.safetensors with PEFT's
 * tensor names ("base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight", A (r, n_in),
 * B (n_out, r)), llama.cpp's GGUF LoRA (adapter_gguf.c), and folding an adapter into its base
 * (ragtune merge).
 *
 * Names are llama/qwen2 module names; a gpt2 adapter uses the same split q/k/v names (PEFT's
 * own gpt2 adapters target the fused c_attn and cannot be read here).
 */
#ifndef RT_TRAIN_ADAPTER_H
#define RT_TRAIN_ADAPTER_H

#include "train/tmodel.h"

/* Writes dir/adapter_config.json and dir/adapter_model.safetensors for the LoRA matrices of m
 * (base_model may be NULL). Creates dir. */
int adapter_save_peft(const tmodel *m, const char *dir, const char *base_model);

/* Writes m's LoRA matrices as a llama.cpp GGUF LoRA adapter (llama, qwen2), see
 * adapter_gguf.c. */
int adapter_save_gguf(const tmodel *m, const char *path);

/* Reads dir/adapter_config.json: rank, alpha, dropout, targets (RT_LORA_* bits). */
int adapter_read_config(const char *dir, tm_options *opt);

/* Copies the tensors of dir/adapter_model.safetensors into the LoRA matrices of m (created with
 * the options of adapter_read_config). Every LoRA matrix of m must be present with its shape. */
int adapter_load_peft(tmodel *m, const char *dir);

#endif
