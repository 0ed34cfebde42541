/*
 * opkern.h — the row kernels under model/ops.c (inference): norms, rotary embedding, softmax,
 * activations and one attention head, one table per ISA level like train/tkern: the same plain
 * C (opkern_body.inc) compiled as scalar, AVX2 and AVX-512 (opkern_scalar.c, opkern_avx2.c,
 * opkern_avx512.c, at -O3 so loops of any length vectorize at the level's width), registered
 * with core/dispatch.h and picked once from core/cpu's level (RT_CPU lowers it).
 *
 * Every kernel works on one row or span and is single-threaded; ops.c splits the work over
 * threads. Exponentials (softmax, attention, SwiGLU, tanh-GELU) use core/kernels/vmath.h's
 * polynomial expf (within 2 ulp of libm), so they vectorize; the erf of exact GELU is libm's.
 * Levels differ only by FMA contraction and float summation order.
 */
#ifndef RT_MODEL_OPKERN_H
#define RT_MODEL_OPKERN_H

#include "core/cpu.h"

#include <stddef.h>
#include <stdint.h>

typedef struct opkern_table {
    rt_cpu_level level;
    /* o (C) = x (C) / sqrt(mean(x^2) + eps) * w (C); o may be x. */
    void (*rmsnorm_row)(float *o, const float *x, const float *w, int C, float eps);
    /* o (C) = (x - mean) / sqrt(var + eps) * w (C) + b (C, or NULL); o may be x. */
    void (*layernorm_row)(float *o, const float *x, const float *w, const float *b, int C,
                          float eps);
    /* RoPE in place on one token, x (n_heads, head_dim), with its position's cs (head_dim/2, 2)
     * (cos, sin pairs); pairs (i, i + head_dim/2), or (2i, 2i + 1) when interleaved. */
    void (*rope_row)(float *x, const float *cs, int n_heads, int head_dim, int interleaved);
    /* In-place softmax over x (n), max-subtracted. */
    void (*softmax)(float *x, int n);
    /* In place over x (n): tanh-approximated GELU, exact (erf) GELU. */
    void (*gelu_tanh)(float *x, size_t n);
    void (*gelu_erf)(float *x, size_t n);
    /* gate (n) = silu(gate) * up (n) */
    void (*swiglu)(float *gate, const float *up, size_t n);
    /* a (n) += b (n) */
    void (*add)(float *a, const float *b, size_t n);
    /* One query head q (head_dim) against n_see >= 1 cached positions: k, v rows kv_stride
     * apart (head_dim each), att (n_see) scratch; out (head_dim) = softmax(q.k * scale) . v. */
    void (*attention_head)(float *out, const float *q, const float *k, const float *v,
                           size_t kv_stride, int n_see, int head_dim, float scale, float *att);
} opkern_table;

/* The table for the CPU level in use (thread-safe). */
const opkern_table *opkern_get(void);
/* The table of one level (for tests), or NULL if the CPU lacks it. */
const opkern_table *opkern_get_level(rt_cpu_level level);
/* The tables of each level (opkern_<level>.c). */
extern const opkern_table opkern_table_scalar, opkern_table_avx2, opkern_table_avx512;

#endif
