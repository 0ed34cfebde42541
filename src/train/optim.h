/*
 * optim.h — optimizers over one flat f32 parameter vector: AdamW (PyTorch torch.optim.AdamW:
 * decoupled weight decay, bias correction), SGD with momentum (torch.optim.SGD), and gradient
 * clipping by global L2 norm (torch.nn.utils.clip_grad_norm_). Weight decay applies only to the
 * parameters marked `decay` (matrices and embeddings; norms and biases are excluded).
 * The state (step count, moments) is plain arrays so checkpoints can save and restore it.
 */
#ifndef RT_TRAIN_OPTIM_H
#define RT_TRAIN_OPTIM_H

#include "train/tmodel.h"

#include <stddef.h>
#include <stdint.h>

typedef enum optim_kind { OPTIM_ADAMW = 0, OPTIM_SGD = 1 } optim_kind;

typedef struct optim {
    optim_kind kind;
    float beta1, beta2, eps; /* AdamW (0.9, 0.999, 1e-8) */
    float momentum;          /* SGD (0 = plain) */
    float weight_decay;
    size_t n;
    int64_t t;    /* steps taken */
    float *m, *v; /* (n) AdamW moments; SGD uses m as momentum buffer */
} optim;

/* Allocates the state for n parameters (zeros). Free with optim_free. */
int optim_init(optim *o, optim_kind kind, size_t n, float weight_decay);
void optim_free(optim *o);

/* One update of params (n) from grads (n) at learning rate lr; ps (n_params) tells which
 * ranges get weight decay (NULL: all). */
void optim_step(optim *o, float *params, const float *grads, const tm_param *ps, int n_params,
                float lr);

/* Scales grads (n) so their global L2 norm is at most max_norm (max_norm <= 0: no clipping);
 * returns the norm before clipping, as torch.nn.utils.clip_grad_norm_ does. */
float optim_clip_grad_norm(float *grads, size_t n, float max_norm);

#endif
