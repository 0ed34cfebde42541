/*
 * contrastive.h — the contrastive objective of a bi-encoder (`ragtune train-embedder`): texts
 * are embedded as rt_model_embed embeds a decoder (mean over the final-normed hidden states of
 * the text's tokens, then L2-normalized), and InfoNCE over in-batch negatives pulls each query
 * towards its own passage and away from the other passages of the batch.
 *
 * Loss of n pairs with unit embeddings q_i, p_j and temperature tau, S_ij = q_i . p_j / tau:
 *   query->passage  L_qp = mean_i [ logsumexp_j S_ij - S_ii ]
 *   symmetric       (L_qp + L_pq) / 2, L_pq = mean_j [ logsumexp_i S_ij - S_jj ]
 *
 * Not here: reading pairs and the training loop (train/embed_trainer.c).
 */
#ifndef RT_TRAIN_CONTRASTIVE_H
#define RT_TRAIN_CONTRASTIVE_H

#include "train/tmodel.h"

#include <stdbool.h>
#include <stdint.h>

/* InfoNCE of n pairs of unit vectors q, p (n, C). Returns the loss; when dq and dp are not NULL
 * they receive d(loss)/dq and d(loss)/dp (n, C), overwritten. */
double ct_infonce(const float *q, const float *p, int n, int C, float temperature, bool symmetric,
                  float *dq, float *dp);

/* Mean over the first lens[b] positions of hidden (B, T, C), L2-normalized (divided by
 * max(norm, 1e-12), as rt_model_embed does): out (B, C), norms (B) the norms before. */
void ct_pool(const float *hidden, const int *lens, int B, int T, int C, float *out, float *norms);
/* d(hidden) (B, T, C) from dout = d(loss)/d(out) (B, C); zero at the padding positions. */
void ct_pool_backward(float *dhidden, const float *dout, const float *out, const float *norms,
                      const int *lens, int B, int T, int C);

/* Buffers of one contrastive step for up to n_max pairs of up to t_max tokens each. */
typedef struct ct_work {
    int n_max, t_max, C;
    float *q, *p, *dq, *dp; /* (n_max, C) */
    float *qnorm, *pnorm;   /* (n_max) */
    float *dhidden;         /* (n_max, t_max, C) */
} ct_work;
int ct_work_init(ct_work *w, int n_max, int t_max, int C);
void ct_work_free(ct_work *w);

/* One step of the encoder m on n pairs: queries q_ids (n, Tq) of lengths q_lens, passages p_ids
 * (n, Tp) of lengths p_lens (1 <= len <= T; right-padded with any valid id — attention is
 * causal, so padding never reaches a real position). Writes the loss; with backward adds
 * grad_scale * d(loss)/d(param) into m->train_grad. Passages run first, then queries (run again
 * for their backward pass, as the model keeps one set of activations). */
int ct_step(tmodel *m, ct_work *w, const int32_t *q_ids, const int *q_lens, int Tq,
            const int32_t *p_ids, const int *p_lens, int Tp, int n, float temperature,
            bool symmetric, bool backward, float grad_scale, float *loss);

#endif
