/*
 * checkpoint.h — the training checkpoint file: everything needed to continue a run exactly
 * (trainable parameters, optimizer moments and step, the model's RNG, the data position, the
 * best validation loss). Written atomically (core/file.h): a crash leaves the previous
 * checkpoint or the new one. The base model is not in it (it is reloaded from its file).
 *
 * Layout (little-endian): "RTCKPT01", u32 version, u32 flags (1 = has v), u64 config hash,
 * i64 step, epoch, cursor, tokens, u64 rng, i64 optimizer t, f32 best_val, i32 bad_evals,
 * u64 n, f32 params[n], f32 m[n], [f32 v[n]], u64 checksum of everything before it.
 */
#ifndef RT_TRAIN_CHECKPOINT_H
#define RT_TRAIN_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ckpt_state {
    uint64_t config_hash; /* model shape + trainable set; must match on load */
    int64_t step, epoch, cursor, tokens;
    uint64_t rng;
    int64_t optim_t;
    float best_val;
    int32_t bad_evals;
    size_t n;              /* trainable parameters */
    float *params, *m, *v; /* (n) each; v NULL for SGD */
} ckpt_state;

/* Writes s to path atomically. */
int ckpt_save(const char *path, const ckpt_state *s);
/* Reads path into s: s->config_hash, s->n and the arrays (s->v NULL or not) must be set by the
 * caller and match the file; everything else is filled. Errors name the file and the problem;
 * on failure the arrays may be partly overwritten. */
int ckpt_load(const char *path, ckpt_state *s);

#endif
