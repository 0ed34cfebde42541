/*
 * rng.h — the deterministic random numbers of training: a splitmix64 stream (one uint64 of
 * state, saved in checkpoints so a resumed run draws the same numbers) and a counter-based hash
 * for dropout masks, which lets backward regenerate a mask instead of storing it.
 */
#ifndef RT_TRAIN_RNG_H
#define RT_TRAIN_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t rt_rng_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Next 64 random bits of the stream. */
static inline uint64_t rt_rng_next(uint64_t *state) {
    *state += 0x9e3779b97f4a7c15ULL;
    return rt_rng_mix(*state);
}

/* Uniform in [0, 1) with 24 bits. */
static inline float rt_rng_uniform(uint64_t *state) {
    return (float)(rt_rng_next(state) >> 40) * (1.0f / 16777216.0f);
}

/* Standard normal (Box-Muller, one value per call). */
static inline float rt_rng_normal(uint64_t *state) {
    double u1 = ((double)(rt_rng_next(state) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(rt_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

/* Element i of a dropout mask with seed: true when kept (probability 1 - p). */
/* The seed whose rt_rng_keep mask at i equals seed's mask at i + k: a process holding only part of
 * a batch (data-parallel training) draws the same dropout masks as one holding all of it. */
static inline uint64_t rt_rng_keep_skip(uint64_t seed, uint64_t k) {
    return seed + k * 0x9e3779b97f4a7c15ULL;
}

static inline int rt_rng_keep(uint64_t seed, uint64_t i, float p) {
    return (float)(rt_rng_mix(seed + i * 0x9e3779b97f4a7c15ULL) >> 40) * (1.0f / 16777216.0f) >= p;
}

#endif
