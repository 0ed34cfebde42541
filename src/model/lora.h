/*
 * lora.h — LoRA adapters applied at run time: the matrices an rt_adapter holds (per layer and
 * linear, in the model's own row order) and their application in the forward pass,
 * out += scale * B (A x), on top of a projection of any dtype. The base weights are never
 * touched, so one rt_model serves contexts with different adapters at once.
 *
 * Files are not read here: rt_adapter_load (train/adapter_runtime.c) fills the struct with the
 * parsers of train/adapter.c (PEFT) and train/adapter_gguf.c (llama.cpp GGUF LoRA), which sit
 * above this layer.
 */
#ifndef RT_MODEL_LORA_H
#define RT_MODEL_LORA_H

#include "model/config.h"
#include "ragtune.h"

/* The linears an adapter can change, in this order (train/tmodel.h's RT_LORA_* bit order). */
enum { RT_LORA_N_LINEAR = 7 }; /* q, k, v, o, gate, up, down */

/* One adapted linear of one layer: y += scale * user_scale * B (A x). */
typedef struct rt_lora_linear {
    int rank;    /* 0: not adapted */
    float scale; /* the module's PEFT scale alpha/r (alpha/sqrt(r) for rsLoRA) */
    float *a;    /* (rank, n_in) */
    float *bt;   /* (rank, n_out): B transposed, rows already in the model's q/k order */
} rt_lora_linear;

struct rt_adapter {
    char *path;
    rt_model_config config;  /* the base it was checked against (shapes, RoPE pairing) */
    rt_lora_linear *linears; /* (n_layer, RT_LORA_N_LINEAR) */
    int max_rank;
};

/* An empty adapter for model's configuration (every linear rank 0); path is copied. */
int rt_adapter_alloc(const rt_model_config *config, const char *path, rt_adapter **out);
/* The linear j (q, k, v, o, gate, up, down) of layer l. */
rt_lora_linear *rt_adapter_linear(rt_adapter *a, int layer, int j);
/* Rows (n_out) and columns (n_in) of linear j's weight in config; 0 when the architecture has
 * no such linear (gpt2's gate). */
void rt_lora_linear_shape(const rt_model_config *config, int j, int *n_out, int *n_in);
/* Gives linear (layer l, j) a rank-`rank` pair with copies of a (rank, n_in) and b (n_out,
 * rank), b transposed on the way in. */
int rt_adapter_set_linear(rt_adapter *ad, int layer, int j, int rank, float scale, const float *a,
                          const float *b);

/* out (T, n_out) += sum over ctx's adapters of scale_i * s * B (A in) for linear j of layer l;
 * in (T, n_in). A no-op without adapters. Uses ctx->lora_tmp. */
void rt_lora_apply(rt_context *ctx, int layer, int j, float *out, const float *in, int T);

#endif
