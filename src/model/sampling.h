/*
 * sampling.h — choosing the next token from logits: repetition penalty, greedy or temperature
 * sampling with top-k, top-p and min-p, from a seeded generator (same seed, same tokens).
 * The public functions (rt_sampler_*) are declared in ragtune.h; this header exposes the
 * generator for tests.
 */
#ifndef RT_MODEL_SAMPLING_H
#define RT_MODEL_SAMPLING_H

#include "ragtune.h"

/* Uniform float in [0, 1) from a splitmix64 state (advanced). */
float rt_rng_uniform(uint64_t *state);

/* Index of the largest of x[0..n), n >= 1: the first on ties; NaNs never win (0 when x[0] is NaN
 * or every value is), exactly as `if (x[i] > x[best]) best = i` from best = 0, but a vectorized
 * maximum and one search for it (the loop above mispredicts its way through a 32,000-word
 * vocabulary in ~150 us, a seventh of a small model's decode step; this takes ~2-5 us). */
int32_t rt_argmax_f32(const float *x, int n);

#endif
