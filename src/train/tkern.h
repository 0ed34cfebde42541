/*
 * tkern.h — the elementwise and row kernels of training (activations, norms, softmax, AdamW),
 * one table per ISA level like core/kernels: the same plain C (tkern_body.inc) compiled as
 * scalar, AVX2 and AVX-512 (tkern_scalar.c, tkern_avx2.c, tkern_avx512.c, at -O3 so the
 * compiler vectorizes loops of any length), picked at first use from core/cpu's level (RT_CPU
 * lowers it) through core/dispatch.h. Every kernel works on one span or row and is
 * single-threaded; ops.c and optim.c split the work over threads. The exponential is a polynomial (Cephes expf: range reduction by
 * ln 2, degree-6 polynomial, within 2 ulp of expf on [-87.3, 88.3], 0 below) that vectorizes;
 * levels differ only by FMA contraction and summation order.
 */
#ifndef RT_TRAIN_TKERN_H
#define RT_TRAIN_TKERN_H

#include "core/cpu.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tkern_table {
    rt_cpu_level level;
    /* x[i] = exp(x[i] - shift) for i < n; returns the sum of the new values (for softmax). */
    float (*exp_shift_sum)(float *x, int64_t n, float shift);
    /* max of x[0..n) (-inf for n = 0) */
    float (*max)(const float *x, int64_t n);
    /* x[i] *= s */
    void (*scale)(float *x, int64_t n, float s);
    /* h = silu(gate) * up */
    void (*swiglu_fwd)(float *h, const float *gate, const float *up, int64_t n);
    /* dgate, dup from dh; dgate may be dh (in place) */
    void (*swiglu_bwd)(float *dgate, float *dup, const float *dh, const float *gate,
                       const float *up, int64_t n);
    /* One RMSNorm row: o = x * rstd * w; returns rstd = 1 / sqrt(mean(x^2) + eps). */
    float (*rmsnorm_fwd_row)(float *o, const float *x, const float *w, int C, float eps);
    /* One RMSNorm row backward: dx += r * (d*w - x*r * mean(d*w*x*r)). */
    void (*rmsnorm_bwd_row)(float *dx, const float *d, const float *x, const float *w, float r,
                            int C);
    /* acc[c] += sum over rows i, in order, of d[i][c] * x[i][c] * rstd[i] for c < width (rows
     * stride apart: a slice of channels of an (rows, stride) matrix). */
    void (*rmsnorm_dw_rows)(float *acc, const float *d, const float *x, const float *rstd, int rows,
                            int width, int stride);
    /* AdamW on a span, torch 1.13's order of operations:
     * p *= decay; m = m*b1 + (1-b1)*g; v = v*b2 + (1-b2)*g*g; p -= step * m / (sqrt(v)/bc2s + eps)
     */
    void (*adamw)(float *p, const float *g, float *m, float *v, int64_t n, float decay, float b1,
                  float b2, float bc2_sqrt, float eps, float step_size);
    /* Softmax backward on one row: with s = sum p[i]*d[i], d[i] = p[i] * (d[i] - s) * scale. */
    void (*softmax_bwd_row)(const float *p, float *d, int64_t n, float scale);
    /* RoPE on one token's n_heads heads of head_dim (x, in place) with that position's cos/sin
     * (head_dim/2 each); rotate-half pairs (i, i + half) or interleaved pairs (2i, 2i + 1);
     * sign -1 rotates backwards (the gradient). */
    void (*rope_row)(float *x, const float *cos_t, const float *sin_t, int n_heads, int head_dim,
                     int interleaved, float sign);
    /* sum of x[i]^2 in double */
    double (*sumsq)(const float *x, int64_t n);
} tkern_table;

/* The table for the CPU level in use (thread-safe). */
const tkern_table *tkern_get(void);
/* The table of one level (for tests), or NULL if the CPU lacks it. */
const tkern_table *tkern_get_level(rt_cpu_level level);
/* The tables of each level (tkern_<level>.c). */
extern const tkern_table tkern_table_scalar, tkern_table_avx2, tkern_table_avx512;

#endif
