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

#endif
