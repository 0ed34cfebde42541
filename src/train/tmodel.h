/*
 * tmodel.h — a decoder transformer (llama, qwen2, gpt2) that can be trained: f32 parameters,
 * a forward pass that keeps its activations (llm.c style) and the backward pass through every
 * op, with optional LoRA adapters on the linear layers and per-layer activation recomputation.
 *
 * Two modes:
 *   full  every model tensor is a trainable f32 parameter with a gradient buffer.
 *   lora  the base is frozen (linear weights stored f32, bf16 or q8_0; norms and embeddings
 *         f32) and only the LoRA matrices A (rank, n_in) and B (n_out, rank) are trainable:
 *         y = x W^T + b + (alpha/rank) * dropout(x) A^T B^T, PEFT's semantics. No gradient buffer
 *         exists for the base.
 *
 * Tensor names are Hugging Face llama names for every architecture ("model.embed_tokens.weight",
 * "model.layers.N.self_attn.q_proj.weight", "model.layers.N.mlp.up_proj.bias",
 * "model.embed_positions.weight" for gpt2, "lm_head.weight" when untied); LoRA names are PEFT's
 * without the "base_model.model." prefix ("model.layers.N.self_attn.q_proj.lora_A.weight").
 *
 * Not here: the optimizer (train/optim.h), data (train/dataset.h), files (train/checkpoint.h).
 */
#ifndef RT_TRAIN_TMODEL_H
#define RT_TRAIN_TMODEL_H

#include "model/config.h"
#include "core/matmul.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/* LoRA target modules, a bit set. */
enum {
    RT_LORA_Q = 1 << 0,
    RT_LORA_K = 1 << 1,
    RT_LORA_V = 1 << 2,
    RT_LORA_O = 1 << 3,
    RT_LORA_GATE = 1 << 4,
    RT_LORA_UP = 1 << 5,
    RT_LORA_DOWN = 1 << 6,
    RT_LORA_ALL = 0x7f,
};

typedef struct tm_options {
    int lora_rank; /* 0 = full training */
    float lora_alpha;
    float lora_dropout;
    bool lora_rslora;      /* rank-stabilized LoRA: scale alpha / sqrt(rank), not alpha / rank */
    unsigned lora_targets; /* RT_LORA_* bits */
    rt_dtype base_dtype;   /* lora: storage of frozen linear weights (f32, bf16, q8_0) */
    bool recompute;        /* keep only layer inputs; recompute each layer in backward */
    bool bf16;             /* --precision bf16: the f32 linear layers' and the lm head's products
                              take bf16-rounded inputs with f32 sums (core/matmul's rt_gemm_bf16;
                              ops.h's op_gemm keeps products with a dimension < 32, such as LoRA's
                              rank-r ones, f32); attention, norms, softmax, loss and all stored
                              tensors stay f32 */
    uint64_t seed;         /* initialization and dropout */
} tm_options;

/* The scale of a rank-`rank` LoRA pair with this alpha: alpha / rank, or alpha / sqrt(rank) for
 * rsLoRA (PEFT's use_rslora), in float. Everything that sets or checks a scale uses this. */
static inline float tm_lora_scale(float alpha, double rank, bool rslora) {
    return rslora ? alpha / sqrtf((float)rank) : alpha / (float)rank;
}

/* One named tensor of the trainable set (f32, at `offset` floats into tmodel.train_data). */
typedef struct tm_param {
    char name[112];
    int n_dims;
    int64_t shape[2];
    size_t offset;
    size_t n;
    bool decay; /* weight decay applies (matrices and embeddings, not norms/biases) */
} tm_param;

/* One named tensor of the model (base weights), for export and merging. */
typedef struct tm_tensor {
    char name[112];
    rt_tensor *t;  /* f32 view into the store, or an owned converted tensor */
    rt_tensor vec; /* the view for 1-D tensors (norms, biases); t points here */
} tm_tensor;

typedef struct tm_linear {
    int n_in, n_out;
    rt_tensor w;             /* (n_out, n_in): f32 view into the store, or owned bf16/q8_0 */
    float *dw;               /* (n_out, n_in) or NULL when frozen */
    float *b, *db;           /* (n_out) bias or NULL; db NULL when frozen */
    int rank;                /* 0 = no LoRA on this layer */
    float scale;             /* alpha / rank */
    float *lora_a, *dlora_a; /* (rank, n_in) */
    float *lora_b, *dlora_b; /* (n_out, rank) */
    bool bf16;               /* products through rt_gemm_bf16 (tm_options.bf16; f32 bases) */
    /* bf16 with a frozen f32 base (LoRA): W^T (the forward's op(B)) and W (the input
     * gradient's) rounded and packed once at creation instead of at every product; 2 bytes per
     * weight each. NULL data: packed per product. The weights must not change while these exist
     * (tmodel_merge_lora packs them again). */
    rt_gemm_bf16_panels w_fwd, w_bwd;
} tm_linear;

typedef struct tm_layer {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b; /* (C); biases for gpt2 */
    float *dln1_w, *dln1_b, *dln2_w, *dln2_b;
    tm_linear q, k, v, o, gate, up, down; /* gate: llama/qwen2 only */
} tm_layer;

typedef struct tmodel tmodel;
struct tmodel {
    rt_model_config cfg;
    tm_options opt;
    bool is_gpt2;
    rt_tensor wte; /* (V, C) f32 view into the store */
    float *dwte;
    float *wpe, *dwpe; /* (n_ctx_train, C) gpt2 */
    tm_layer *layers;
    float *lnf_w, *lnf_b, *dlnf_w, *dlnf_b;
    rt_tensor head; /* (V, C) lm head: view of wte when tied */
    float *dhead;

    float *store; /* all f32 model tensors */
    size_t n_store;
    float *grad_store; /* full mode: gradients of the store */
    float *lora_store, *lora_grad;
    size_t n_lora;

    /* The trainable set the optimizer sees. */
    float *train_data, *train_grad;
    size_t n_train;
    tm_param *params;
    int n_params;
    tm_tensor *tensors;
    int n_tensors;

    uint64_t dropout_seed; /* drawn per forward from rng */
    int64_t dropout_row0;  /* data-parallel: rows (tokens) of the global batch before this
                              process's share, so its dropout masks are the global batch's; 0 */
    uint64_t rng;
    struct tm_acts *acts; /* activations for the reserved (B,T) */

    /* Where backward finishes gradients, for a data-parallel all-reduce that overlaps it:
     * layer l's gradients are train_grad[grad_bounds[l], grad_bounds[l + 1]) (n_layer + 1
     * entries, ascending); below grad_bounds[0] the embeddings, above grad_bounds[n_layer] the
     * final norm and an untied head. When grad_final is set, backward calls it with `from` each
     * time train_grad[from, n_train) holds its final values for this pass: after the final norm,
     * after each layer (last first), after the embeddings (from = 0). NULL: not called. */
    size_t *grad_bounds;
    void (*grad_final)(void *user, size_t from);
    void *grad_final_user;
};

/* Creates a model for cfg. weights == NULL: random initialization from opt->seed (documented
 * in tmodel.c: N(0, 0.02) for embeddings and linear weights, gpt2's residual projections
 * N(0, 0.02/sqrt(2 n_layer)), norms 1, biases 0). Otherwise copies/dequantizes the given
 * weights. LoRA A is kaiming-uniform (bound 1/sqrt(n_in)), B zeros. Free with tmodel_free. */
int tmodel_new(const rt_model_config *cfg, const rt_model_weights *weights, const tm_options *opt,
               tmodel **out);
void tmodel_free(tmodel *m);

/* Mean cross-entropy of targets over the positions where target >= 0, for inputs and targets
 * (B, T). With backward, adds grad_scale * d(loss)/d(param) into train_grad (the caller zeroes
 * it at the start of an accumulation cycle). Returns RT_OK or an error (bad ids, sizes). The
 * loss of a batch with no target is 0. */
int tmodel_step(tmodel *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                bool backward, float grad_scale, float *loss, int64_t *n_targets);

/* The final-normed hidden states (B, T, C) of inputs (B, T), for objectives other than the LM
 * head's (train/contrastive.c pools them into embeddings). *hidden points into the model's
 * activations: valid until the next forward pass. training: LoRA dropout is on and the
 * activations are kept for tmodel_hidden_backward. */
int tmodel_hidden(tmodel *m, const int32_t *inputs, int B, int T, bool training,
                  const float **hidden);
/* Backward from dhidden = d(loss)/d(hidden) (B, T, C), right after tmodel_hidden of the same
 * inputs (training): adds d(loss)/d(param) into train_grad. */
int tmodel_hidden_backward(tmodel *m, const int32_t *inputs, int B, int T, const float *dhidden);

/* Hugging Face module path of linear j within a layer ("self_attn.q_proj", ...,
 * "mlp.down_proj"), in RT_LORA_* bit order. */
extern const char *const tm_linear_paths[7];

/* Linear j of a layer, in RT_LORA_* bit order: q, k, v, o, gate, up, down. */
tm_linear *tmodel_linear(const tmodel *m, int layer, int j);

/* Index of a trainable parameter by name, or -1. */
int tmodel_find_param(const tmodel *m, const char *name);
/* A model tensor by name (NULL when absent). */
rt_tensor *tmodel_find_tensor(const tmodel *m, const char *name);

/* Fills w with views of the model's tensors (f32, or the converted base dtype) for writing with
 * rt_hf_write / rt_gguf_write. Release with rt_model_weights_free (views only lose the layer
 * array). */
int tmodel_weights(const tmodel *m, rt_model_weights *w);
/* Folds every LoRA branch into its f32 base weight (W += alpha/r B A) and zeroes B. */
int tmodel_merge_lora(tmodel *m);

/* Bytes of the activation buffers currently reserved. */
size_t tmodel_activation_bytes(const tmodel *m);

#endif
