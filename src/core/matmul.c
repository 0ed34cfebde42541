/*
 * matmul.c — out = x W^T (forward) and dx += dy W (backward to the input) for any weight dtype.
 *
 * Paths, by weight dtype and number of tokens T:
 *   f32                 each team thread runs single-threaded OpenBLAS on its share of W's
 *                       rows: sgemm, or for T = 1 (decode) a matrix-vector product that reads
 *                       W once (sgemm would pack it first, 2x slower): core/kernels' gemv_f32
 *                       on AVX-512 (four rows per pass, prefetched far ahead), else sgemv.
 *                       Backward: sgemm per thread on column ranges.
 *   q8_0, q4_0, T >= 16 amx level: x quantized to q8_0 once, 16 weight rows at a time packed
 *                       into AMX tiles and multiplied with TDPBSSD against 16 tokens at a time
 *                       (2.5-3x f32 sgemm's rate on one core).
 *   q8_0, q4_0          x rows quantized to q8_0 once (as llama.cpp does), then integer dot
 *                       products (VNNI on AVX-512) threaded over weight rows; tokens go in
 *                       blocks of 8, whose quantized activations stay in L1 while W streams
 *                       past (T = 1 on AVX-512: four weight rows per pass over x). On AVX-512
 *                       this matches f32 sgemm's FLOP rate at any T.
 *   q8_0, q4_0, T >= 64 below AVX-512 only: tiles of W widened to f32, then sgemm per tile (the
 *                       AVX2 integer kernel reaches half of sgemm's rate); activations stay f32
 *                       there, so results differ by at most the activation-quantization error.
 *   bf16, T >= 16       amx level, if rt_matmul_set_bf16_activations(true): x rounded to bf16
 *                       (as llama.cpp does for bf16 weights) and multiplied on AMX-BF16 tiles
 *                       with f32 sums (5x the widen + sgemm path; the activation rounding adds
 *                       a relative error of at most 2^-9 per product).
 *   f16, bf16, T < 8    dot products of 16-bit weight rows with f32 activations, threaded over
 *                       weight rows (decode: memory-bandwidth bound).
 *   f16, bf16, T >= 8   tiles of W widened to f32, then sgemm per tile (prefill: compute bound,
 *                       where sgemm beats a dot-product loop).
 *   backward, not f32   threads own column ranges of dx; tiles of W widened to f32, then sgemm
 *                       per tile (T < 8: each widened row added with saxpy).
 * rt_gemm_bf16 (training's --precision bf16) is a general C = alpha op(A) op(B) + beta C with
 * both operands rounded to bf16 and f32 sums: BLIS-style blocks packed into bf16 pairs and the
 * AVX512-BF16 micro-kernel of core/kernels (VDPBF16PS, ~2x sgemm's peak per core), or its exact
 * scalar emulation on CPUs without it.
 * rt_matmul_multi stacks several weights of one dtype that multiply the same x (q, k, v; gate,
 * up) into one threaded product: one parallel region instead of one per weight.
 * The forward products run on core/team.h's light team (a thread that finishes its rows early
 * takes the others' last ones, core/steal.h), except the AMX paths, which keep OpenMP; the
 * backward products and rt_gemm_bf16 (training) use OpenMP.
 * Scratch memory is two buffers per thread, grown as needed and freed at thread exit, so the hot
 * loops never allocate.
 */
#include "core/matmul.h"
#include "core/error.h"
#include "core/cpu.h"
#include "core/kernels/kernels.h"
#include "core/quant.h"
#include "core/team.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum {
    TOKEN_BLOCK = 8,             /* activation rows per pass over W in the q8_0/q4_0 path */
    ROW_BLOCK = 16,              /* weight rows per pass over the token blocks (q8_0/q4_0) */
    SGEMM_MIN_TOKENS = 8,        /* from here on f16/bf16 go through f32 tiles and sgemm */
    QUANT_SGEMM_MIN_TOKENS = 64, /* and q8_0/q4_0, below AVX-512 */
    AMX_MIN_TOKENS = 16,         /* q8_0/q4_0 on AMX tiles from here on (amx level) */
    /* Multiply-adds below which a product runs on the calling thread: waking the team costs
     * more than it saves, and on a loaded machine every barrier waits for a descheduled thread
     * (a 3M-parameter model decoded 30x slower with every small product threaded while idle
     * threads slept at once; they now spin ~60 us first, so a region starts in about a
     * microsecond and a 384 x 384 decode product, ~10 us, is worth sharing). */
    PARALLEL_MIN_WORK = 1 << 17,
    TILE_BYTES = 4 << 20,      /* f32 tile of W for the sgemm paths (per thread) */
    ROW_TILE_BYTES = 32 << 10, /* rows of quantized W per thread per pass (q8_0/q4_0 path) */
    DECODE_UNIT_BYTES = 8 << 10, /* rows per claim of a decode product (T = 1; core/steal.h) */
};

/* ---- per-thread scratch ------------------------------------------------------------------ */

/* Two buffers per thread: SCRATCH_ACT for what the calling thread prepares for all threads
 * (quantized activations), SCRATCH_TILE for what each thread uses alone (f32 or AMX tiles of W),
 * so a thread that is both never overwrites the first with the second. */
enum { SCRATCH_ACT, SCRATCH_TILE, SCRATCH_SLOTS };

typedef struct scratch {
    void *buf[SCRATCH_SLOTS];
    size_t cap[SCRATCH_SLOTS];
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p) {
    scratch *s = p;
    for (int i = 0; i < SCRATCH_SLOTS; i++)
        free(s->buf[i]);
    free(s);
}

static void scratch_key_init(void) {
    RT_ASSERT(pthread_key_create(&scratch_key, scratch_free) == 0);
}

/* A 64-byte aligned buffer of at least n bytes, owned by this thread (valid until its next call
 * for the same slot). Allocation failure is fatal: rt_matmul has no error return, and callers
 * size models to fit memory. */
static void *scratch_get(int slot, size_t n) {
    pthread_once(&scratch_once, scratch_key_init);
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        RT_ASSERT(s);
        RT_ASSERT(pthread_setspecific(scratch_key, s) == 0);
    }
    if (s->cap[slot] < n) {
        free(s->buf[slot]);
        s->buf[slot] = aligned_alloc(64, (n + 63) / 64 * 64);
        RT_ASSERT(s->buf[slot]);
        s->cap[slot] = n;
    }
    return s->buf[slot];
}

static atomic_bool bf16_activations;

void rt_matmul_set_bf16_activations(bool on) {
    atomic_store(&bf16_activations, on);
}

/* ---- forward ------------------------------------------------------------------------------ */

/* x (T, n_in) f32, w (n_out, n_in) q8_0 or q4_0, out (T, n_out), on AMX tiles: activations
 * quantized once (signed, padded to whole tiles of 16 rows), then each thread packs 16 weight
 * rows at a time and runs them against all tokens. */
static void matmul_amx(float *out, const float *x, const rt_tensor *w, int T, int n_out, int n_in) {
    const rt_kernels *k = rt_kernels_get();
    size_t nb = (size_t)n_in / RT_QK, row_bytes = rt_tensor_row_bytes(w);
    int T_pad = (T + 15) / 16 * 16;
    /* rows quantized first (xq), then laid out in tiles (xs) as amx_gemm_q wants them */
    size_t q_bytes = (size_t)T_pad * n_in;
    uint8_t *xq = scratch_get(SCRATCH_ACT, 2 * q_bytes + (size_t)T_pad * nb * sizeof(float));
    int8_t *xs = (int8_t *)xq + q_bytes;
    float *xd = (float *)(xq + 2 * q_bytes);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T_pad; t++) {
        uint8_t *q = xq + (size_t)t * n_in;
        if (t < T) {
            k->quantize_row_q8_act(x + (size_t)t * n_in, q, xd + (size_t)t * nb, n_in);
        } else {
            memset(q, 0x80, (size_t)n_in); /* offset-binary zero */
            memset(xd + (size_t)t * nb, 0, nb * sizeof(float));
        }
        int8_t *tile = xs + (size_t)(t / 16) * n_in * 16 + (size_t)(t % 16) * RT_QK;
        for (size_t b = 0; b < nb; b++)
            for (int j = 0; j < RT_QK; j++) /* offset-binary to signed */
                tile[b * 16 * RT_QK + j] = (int8_t)(q[b * RT_QK + j] ^ 0x80);
    }
    int n_groups = (n_out + 15) / 16;
#pragma omp parallel for schedule(dynamic, 1)
    for (int g = 0; g < n_groups; g++) {
        int o0 = g * 16, n_w = n_out - o0 < 16 ? n_out - o0 : 16;
        int8_t *packed = scratch_get(SCRATCH_TILE, (size_t)n_in * 16 + nb * 16 * sizeof(float));
        float *dw = (float *)(packed + (size_t)n_in * 16);
        k->amx_pack_q(w->dtype, (const char *)w->data + (size_t)o0 * row_bytes, row_bytes, n_w,
                      n_in, packed, dw);
        k->amx_gemm_q(n_in, packed, dw, n_w, xs, xd, T, out + o0, (size_t)n_out);
    }
}

/* x (T, n_in) f32, w (n_out, n_in) bf16, out (T, n_out), on AMX-BF16 tiles: activations rounded
 * to bf16 once and laid out in tiles (T and n_in padded with zeros), then each thread packs 16
 * weight rows at a time and runs them against all tokens. */
static void matmul_amx_bf16(float *out, const float *x, const rt_tensor *w, int T, int n_out,
                            int n_in) {
    const rt_kernels *k = rt_kernels_get();
    int T_pad = (T + 15) / 16 * 16;
    size_t k_pad = ((size_t)n_in + 31) / 32 * 32;
    uint16_t *xb = scratch_get(SCRATCH_ACT, (size_t)T_pad * (k_pad + n_in) * sizeof(uint16_t));
    uint16_t *rows = xb + (size_t)T_pad * k_pad;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T_pad; t++) {
        uint16_t *row = rows + (size_t)t * n_in;
        if (t < T)
            k->f32_to_bf16(x + (size_t)t * n_in, row, n_in);
        else
            memset(row, 0, (size_t)n_in * sizeof(uint16_t));
        uint16_t *tile = xb + (size_t)(t / 16) * k_pad * 16 + (size_t)(t % 16) * 32;
        for (size_t c = 0; c < k_pad; c += 32) {
            size_t len = n_in - c < 32 ? n_in - c : 32;
            memcpy(tile + c * 16, row + c, len * sizeof(uint16_t));
            memset(tile + c * 16 + len, 0, (32 - len) * sizeof(uint16_t));
        }
    }
    int n_groups = (n_out + 15) / 16;
#pragma omp parallel for schedule(dynamic, 1)
    for (int g = 0; g < n_groups; g++) {
        int o0 = g * 16, n_w = n_out - o0 < 16 ? n_out - o0 : 16;
        uint16_t *packed = scratch_get(SCRATCH_TILE, k_pad * 16 * sizeof(uint16_t));
        k->amx_pack_bf16((const uint16_t *)w->data + (size_t)o0 * n_in, (size_t)n_in, n_w, n_in,
                         packed);
        k->amx_gemm_bf16(n_in, packed, n_w, xb, T, out + o0, (size_t)n_out);
    }
}

static bool worth_threads(int T, int n_out, int n_in) {
    return (double)T * n_out * n_in >= PARALLEL_MIN_WORK;
}

/* Several products of the same input, out_i (T, n_out_i) = x W_i^T, seen as one product with the
 * weights stacked: "rows" below are rows of that stack. A piece is the part of one product that
 * a row range covers. */
typedef struct mm_stack {
    const rt_matmul_item *items;
    int n_items;
    int n_rows; /* all items' rows */
} mm_stack;

/* Calls piece(item, first row, number of rows, arg) for the pieces of stacked rows [r0, r1). */
#define FOR_PIECES(stk, r0, r1, i, o0, n, body)                                                    \
    for (int i = 0, base_ = 0; i < (stk)->n_items; base_ += (int)(stk)->items[i++].w->shape[0]) {  \
        int lo_ = (r0) > base_ ? (r0) : base_;                                                     \
        int hi_ = base_ + (int)(stk)->items[i].w->shape[0];                                        \
        if ((r1) < hi_) hi_ = (r1);                                                                \
        if (lo_ >= hi_) continue;                                                                  \
        int o0 = lo_ - base_, n = hi_ - lo_;                                                       \
        body                                                                                       \
    }

/* The integer q8_0/q4_0 product of a stack over row units: activations quantized (xq, xd). */
typedef struct quant_job {
    const mm_stack *stk;
    const uint8_t *xq;
    const float *xd;
    int T, n_in, rows;
    size_t nb, row_bytes;
    void (*dot)(int64_t, const void *, const uint8_t *, const float *, int, float *, size_t);
    void (*dot4)(int64_t, const void *, size_t, const uint8_t *, const float *, float *);
} quant_job;

/* Stacked rows of units [u0, u1): within a unit token blocks go in order, so its rows stay in
 * L2 and each block's quantized activations in L1 while the rows stream. A single token
 * (decode) takes weight rows four at a time where the kernel can. */
static void quant_units(void *arg, int thread, int u0, int u1) {
    (void)thread;
    const quant_job *j = arg;
    const mm_stack *stk = j->stk;
    int T = j->T, n_in = j->n_in;
    size_t row_bytes = j->row_bytes;
    int r0 = u0 * j->rows, r1 = stk->n_rows < u1 * j->rows ? stk->n_rows : u1 * j->rows;
    FOR_PIECES(stk, r0, r1, it, o0, n, {
        const rt_matmul_item *m = &stk->items[it];
        const char *wd = (const char *)m->w->data;
        size_t m_out = (size_t)m->w->shape[0];
        int o = o0;
        if (T == 1 && j->dot4)
            for (; o + 4 <= o0 + n; o += 4)
                j->dot4(n_in, wd + o * row_bytes, row_bytes, j->xq, j->xd, m->out + o);
        for (int t0 = 0; t0 < T; t0 += TOKEN_BLOCK) {
            int nt = T - t0 < TOKEN_BLOCK ? T - t0 : TOKEN_BLOCK;
            const uint8_t *xqb = j->xq + (size_t)t0 * n_in;
            const float *xdb = j->xd + (size_t)t0 * j->nb;
            float *ob = m->out + (size_t)t0 * m_out;
            for (int r = o; r < o0 + n; r++)
                j->dot(n_in, wd + r * row_bytes, xqb, xdb, nt, ob + r, m_out);
        }
    })
}

/* x (T, n_in) f32, the stack's weights (n_out_i, n_in) q8_0 or q4_0 (one dtype) */
static void matmul_quantized(const mm_stack *stk, const float *x, int T, int n_in) {
    const rt_kernels *k = rt_kernels_get();
    const rt_tensor *w0 = stk->items[0].w;
    if (k->amx_gemm_q && T >= AMX_MIN_TOKENS) {
        for (int i = 0; i < stk->n_items; i++)
            matmul_amx(stk->items[i].out, x, stk->items[i].w, T, (int)stk->items[i].w->shape[0],
                       n_in);
        return;
    }
    int n_out = stk->n_rows;
    size_t nb = (size_t)n_in / RT_QK, row_bytes = rt_tensor_row_bytes(w0);
    /* activations in the q8_act layout: T rows of n_in quants, then T rows of nb scales (a
     * row takes ~0.1 us: not worth threads) */
    uint8_t *xq = scratch_get(SCRATCH_ACT, (size_t)T * n_in + (size_t)T * nb * sizeof(float));
    float *xd = (float *)(xq + (size_t)T * n_in);
    for (int t = 0; t < T; t++)
        k->quantize_row_q8_act(x + (size_t)t * n_in, xq + (size_t)t * n_in, xd + (size_t)t * nb,
                               n_in);
    /* One team run over units of the stacked rows (a region per token block cost a thread
     * wake-up each: 16 per product at T = 128, which made q8_0 prefill slower than f32). Units
     * of ~8 KiB for a single token, so the threads' last claims are short (core/steal.h), and of
     * ROW_TILE_BYTES otherwise, which each token block reads from L2. */
    quant_job j = {.stk = stk,
                   .xq = xq,
                   .xd = xd,
                   .T = T,
                   .n_in = n_in,
                   .nb = nb,
                   .row_bytes = row_bytes,
                   .dot = rt_dtype_traits_of(w0->dtype)->dot_q8,
                   .dot4 = w0->dtype == RT_DTYPE_Q8_0 ? k->dot_q8_0_q8_r4 : k->dot_q4_0_q8_r4};
    j.rows = (int)((T == 1 ? DECODE_UNIT_BYTES : ROW_TILE_BYTES) / row_bytes) / 4 * 4;
    if (j.rows < 4) j.rows = 4;
    int n_threads = worth_threads(T, n_out, n_in) ? rt_get_threads() : 1;
    rt_team_for((n_out + j.rows - 1) / j.rows, 1, n_threads, quant_units, &j);
}

/* x (T, n_in) f32, w (n_out, n_in) f16 or bf16, out (T, n_out); T small */
/* One product's arguments for a team run over its rows or tiles of rows. */
typedef struct one_job {
    float *out;
    const float *x;
    const rt_tensor *w;
    int T, n_out, n_in, rows;
} one_job;

static void half_dot_rows(void *arg, int thread, int lo, int hi) {
    (void)thread;
    const one_job *j = arg;
    void (*dot)(int64_t, const void *, const float *, size_t, int, float *, size_t) =
        rt_dtype_traits_of(j->w->dtype)->dot_f32;
    const uint16_t *wd = j->w->data;
    for (int o = lo; o < hi; o++)
        dot(j->n_in, wd + (size_t)o * j->n_in, j->x, (size_t)j->n_in, j->T, j->out + o,
            (size_t)j->n_out);
}

static void matmul_half_dot(float *out, const float *x, const rt_tensor *w, int T, int n_out,
                            int n_in) {
    one_job j = {out, x, w, T, n_out, n_in, 1};
    rt_team_for(n_out, 16, worth_threads(T, n_out, n_in) ? rt_get_threads() : 1, half_dot_rows,
                &j);
}

/* W[o0:o0+n_rows, c0:c0+n_cols] as f32 into tile (n_rows, n_cols); c0 and n_cols are multiples
 * of the block size. */
static void widen_block(float *tile, const rt_tensor *w, int o0, int n_rows, int c0, int n_cols) {
    size_t row_bytes = rt_tensor_row_bytes(w);
    size_t col_bytes =
        (size_t)c0 / (size_t)rt_dtype_block_size(w->dtype) * rt_dtype_block_bytes(w->dtype);
    for (int r = 0; r < n_rows; r++)
        rt_dequantize_row(w->dtype,
                          (const char *)w->data + (size_t)(o0 + r) * row_bytes + col_bytes,
                          tile + (size_t)r * n_cols, n_cols);
}

/* Rows of W per f32 tile, so that a tile of n_cols columns stays in L2. */
static int tile_rows(int n_cols, int n_rows) {
    int r = (int)(TILE_BYTES / ((size_t)n_cols * sizeof(float)));
    if (r < 8) r = 8;
    return r < n_rows ? r : n_rows;
}

/* Team (or OpenMP) threads each call a single-threaded OpenBLAS on their own share: no
 * alternation between our threads and OpenBLAS's pool, whose spinning waiters would take each
 * other's cores
 * (measured: 4-8x slower prefill). OpenBLAS's thread count is global, so calls from several
 * application threads at once nest: the first sets 1 and the last restores it. */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static int blas_depth, blas_saved_threads;

static void blas_single_begin(void) {
    pthread_mutex_lock(&blas_lock);
    if (blas_depth++ == 0) {
        blas_saved_threads = openblas_get_num_threads();
        openblas_set_num_threads(1);
    }
    pthread_mutex_unlock(&blas_lock);
}

static void blas_single_end(void) {
    pthread_mutex_lock(&blas_lock);
    if (--blas_depth == 0) openblas_set_num_threads(blas_saved_threads);
    pthread_mutex_unlock(&blas_lock);
}

/* x (T, n_in) f32, w (n_out, n_in) any dtype, out (T, n_out): f32 tiles of W and sgemm */
static void tiled_sgemm_tiles(void *arg, int thread, int lo, int hi) {
    (void)thread;
    const one_job *j = arg;
    for (int i = lo; i < hi; i++) {
        int o0 = i * j->rows, n = j->n_out - o0 < j->rows ? j->n_out - o0 : j->rows;
        float *tile = scratch_get(SCRATCH_TILE, (size_t)j->rows * j->n_in * sizeof(float));
        widen_block(tile, j->w, o0, n, 0, j->n_in);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->T, n, j->n_in, 1.0f, j->x,
                    j->n_in, tile, j->n_in, 0.0f, j->out + o0, j->n_out);
    }
}

static void matmul_tiled_sgemm(float *out, const float *x, const rt_tensor *w, int T, int n_out,
                               int n_in) {
    /* at least one tile per thread */
    int per_thread = ((n_out + rt_get_threads() - 1) / rt_get_threads() + 15) / 16 * 16;
    int rows = tile_rows(n_in, per_thread < n_out ? per_thread : n_out);
    one_job j = {out, x, w, T, n_out, n_in, rows};
    blas_single_begin();
    rt_team_for((n_out + rows - 1) / rows, 1, rt_get_threads(), tiled_sgemm_tiles, &j);
    blas_single_end();
}

typedef struct f32_job {
    const mm_stack *stk;
    const float *x;
    int T, n_in;
} f32_job;

enum { F32_UNIT_ROWS = 16 }; /* whole cache lines of out per claim */

/* Stacked rows of units [u0, u1) of F32_UNIT_ROWS: sgemv (T = 1) or sgemm, single-threaded. */
static void f32_units(void *arg, int thread, int u0, int u1) {
    (void)thread;
    const f32_job *j = arg;
    const mm_stack *stk = j->stk;
    int T = j->T, n_in = j->n_in;
    int r0 = u0 * F32_UNIT_ROWS, r1 = u1 * F32_UNIT_ROWS;
    if (r1 > stk->n_rows) r1 = stk->n_rows;
    void (*gemv)(int64_t, const float *, size_t, int, const float *, float *) =
        rt_kernels_get()->gemv_f32;
    FOR_PIECES(stk, r0, r1, i, o0, n, {
        const float *w = (const float *)stk->items[i].w->data + (size_t)o0 * n_in;
        float *out = stk->items[i].out + o0;
        int m_out = (int)stk->items[i].w->shape[0];
        if (T == 1 && gemv) /* decode: W read once, prefetched far ahead */
            gemv(n_in, w, (size_t)n_in, n, j->x, out);
        else if (T == 1) /* gemv reads W once, where gemm would first pack it */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, n_in, 1.0f, w, n_in, j->x, 1, 0.0f, out, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, n, n_in, 1.0f, j->x, n_in, w,
                        n_in, 0.0f, out, m_out);
    })
}

/* x (T, n_in), the stack's weights (n_out_i, n_in) f32: each thread of a team run takes its
 * share of the stacked rows (stealing the others' last ones, core/steal.h) through
 * single-threaded OpenBLAS or gemv_f32 (see blas_single_begin). */
static void matmul_f32_split(const mm_stack *stk, const float *x, int T, int n_in) {
    int n_out = stk->n_rows;
    int n_threads = worth_threads(T, n_out, n_in) ? rt_get_threads() : 1;
    f32_job j = {stk, x, T, n_in};
    blas_single_begin();
    rt_team_for((n_out + F32_UNIT_ROWS - 1) / F32_UNIT_ROWS, 1, n_threads, f32_units, &j);
    blas_single_end();
}

static void add_bias(float *out, const float *bias, int T, int n_out) {
    if (bias)
        for (int t = 0; t < T; t++)
            for (int o = 0; o < n_out; o++)
                out[(size_t)t * n_out + o] += bias[o];
}

/* Whether products of dtype over n_tokens take a path that stacks weights (f32 split, the
 * integer q8_0/q4_0 path); the others (f16/bf16, q8_0/q4_0 widened to f32 tiles) go one by one. */
static bool stackable(rt_dtype dtype, int n_tokens) {
    if (dtype == RT_DTYPE_F32) return true;
    return (dtype == RT_DTYPE_Q8_0 || dtype == RT_DTYPE_Q4_0) &&
           (n_tokens < QUANT_SGEMM_MIN_TOKENS || rt_cpu_level_get() >= RT_CPU_AVX512);
}

static void matmul_stacked(const mm_stack *stk, const float *x, int n_tokens, int n_in) {
    if (stk->items[0].w->dtype == RT_DTYPE_F32)
        matmul_f32_split(stk, x, n_tokens, n_in);
    else
        matmul_quantized(stk, x, n_tokens, n_in);
}

/* One product (no bias) of a weight whose dtype does not stack (see stackable). */
static void matmul_one(float *out, const float *x, const rt_tensor *w, int n_tokens) {
    int n_out = (int)w->shape[0], n_in = (int)w->shape[w->n_dims - 1];
    switch (w->dtype) {
    case RT_DTYPE_Q8_0:
    case RT_DTYPE_Q4_0:
        matmul_tiled_sgemm(out, x, w, n_tokens, n_out, n_in);
        break;
    case RT_DTYPE_F16:
    case RT_DTYPE_BF16:
        if (w->dtype == RT_DTYPE_BF16 && n_tokens >= AMX_MIN_TOKENS &&
            atomic_load_explicit(&bf16_activations, memory_order_relaxed) &&
            rt_kernels_get()->amx_gemm_bf16)
            matmul_amx_bf16(out, x, w, n_tokens, n_out, n_in);
        else if (n_tokens < SGEMM_MIN_TOKENS)
            matmul_half_dot(out, x, w, n_tokens, n_out, n_in);
        else
            matmul_tiled_sgemm(out, x, w, n_tokens, n_out, n_in);
        break;
    default:
        RT_ASSERT(!"unsupported weight dtype in rt_matmul");
    }
}

void rt_matmul_multi(const float *x, int n_tokens, const rt_matmul_item *items, int n_items) {
    if (n_tokens <= 0 || n_items <= 0) return;
    const rt_tensor *w0 = items[0].w;
    int n_in = (int)w0->shape[w0->n_dims - 1], n_rows = 0;
    bool same = true;
    for (int i = 0; i < n_items; i++) {
        const rt_tensor *w = items[i].w;
        same = same && w->dtype == w0->dtype && w->shape[w->n_dims - 1] == n_in;
        n_rows += (int)w->shape[0];
    }
    if (n_rows <= 0) return;
    if (same && stackable(w0->dtype, n_tokens)) {
        mm_stack stk = {items, n_items, n_rows};
        matmul_stacked(&stk, x, n_tokens, n_in);
    } else {
        for (int i = 0; i < n_items; i++) {
            const rt_tensor *w = items[i].w;
            int n_out = (int)w->shape[0], w_in = (int)w->shape[w->n_dims - 1];
            mm_stack one = {&items[i], 1, n_out};
            if (n_out <= 0) continue;
            if (stackable(w->dtype, n_tokens))
                matmul_stacked(&one, x, n_tokens, w_in);
            else
                matmul_one(items[i].out, x, w, n_tokens);
        }
    }
    for (int i = 0; i < n_items; i++)
        add_bias(items[i].out, items[i].bias, n_tokens, (int)items[i].w->shape[0]);
}

void rt_matmul(float *out, const float *x, const rt_tensor *w, const float *bias, int n_tokens) {
    rt_matmul_item item = {out, w, bias};
    rt_matmul_multi(x, n_tokens, &item, 1);
}

/* ---- backward ----------------------------------------------------------------------------- */

void rt_matmul_backward_x(float *dx, const float *dy, const rt_tensor *w, int n_tokens) {
    int n_out = (int)w->shape[0], n_in = (int)w->shape[w->n_dims - 1];
    if (n_tokens <= 0 || n_out <= 0) return;
    if (w->dtype == RT_DTYPE_F32) {
        /* dx[:, c0:c0+nc] += dy . W[:, c0:c0+nc], one column range per thread */
        int n_threads = rt_get_threads();
        int cols = ((n_in + n_threads - 1) / n_threads + 15) / 16 * 16;
        int n_parts = (n_in + cols - 1) / cols;
        blas_single_begin();
#pragma omp parallel for schedule(static, 1)
        for (int i = 0; i < n_parts; i++) {
            int c0 = i * cols, nc = n_in - c0 < cols ? n_in - c0 : cols;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_tokens, nc, n_out, 1.0f, dy,
                        n_out, (const float *)w->data + c0, n_in, 1.0f, dx + c0, n_in);
        }
        blas_single_end();
        return;
    }
    /* Threads own column ranges of dx (whole blocks), so their updates never overlap. */
    int bs = rt_dtype_block_size(w->dtype), n_threads = rt_get_threads();
    int cols = (n_in / n_threads + bs - 1) / bs * bs;
    if (cols > 1024) cols = 1024;
    if (cols < bs) cols = bs;
    int n_col_tiles = (n_in + cols - 1) / cols, rows = tile_rows(cols, n_out);
    blas_single_begin();
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < n_col_tiles; c++) {
        int c0 = c * cols, nc = n_in - c0 < cols ? n_in - c0 : cols;
        float *tile = scratch_get(SCRATCH_TILE, (size_t)rows * cols * sizeof(float));
        if (n_tokens < SGEMM_MIN_TOKENS) {
            /* few tokens: one widened row (in L1) added into each dx row; W is read once */
            for (int o = 0; o < n_out; o++) {
                widen_block(tile, w, o, 1, c0, nc);
                for (int t = 0; t < n_tokens; t++)
                    cblas_saxpy(nc, dy[(size_t)t * n_out + o], tile, 1, dx + (size_t)t * n_in + c0,
                                1);
            }
            continue;
        }
        for (int o0 = 0; o0 < n_out; o0 += rows) {
            int n = n_out - o0 < rows ? n_out - o0 : rows;
            widen_block(tile, w, o0, n, c0, nc);
            /* dx[:, c0:c0+nc] (T, nc) += dy[:, o0:o0+n] (T, n) . tile (n, nc) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_tokens, nc, n, 1.0f, dy + o0,
                        n_out, tile, nc, 1.0f, dx + c0, n_in);
        }
    }
    blas_single_end();
}

/* ---- bf16 GEMM (training's --precision bf16) ---------------------------------------------- */

/* Blocking of rt_gemm_bf16 (BLIS's loops): a KC x NC block of B (up to 512 x 2048 bf16, 2 MB) is
 * packed once and shared by the threads; its NR-column panels (64 KB) stream from L2 past the
 * MR-row panels of an MC x KC block of A (96 KB, in L2). A long KC lets each micro-tile's sums
 * run long between its loads and stores of C (measured on one Zen 5 core: KC 256 -> 512 took
 * the forward product from ~170 to ~300 GFLOP/s); a wide NC repacks A less often (NC 512 to 2048
 * measured within noise). */
enum { GEMM_BF16_KC = 512, GEMM_BF16_MC = 16 * RT_GEMM_BF16_MR, GEMM_BF16_NC = 2048 };

/* The kernels of the level in use, or the scalar reference when that level is avx512 (or amx)
 * on a CPU without AVX512-BF16. */
static const rt_kernels *gemm_bf16_kernels(void) {
    const rt_kernels *k = rt_kernels_get();
    if (k->level >= RT_CPU_AVX512 && !rt_cpu_features_get()->avx512bf16)
        k = rt_kernels_for(RT_CPU_SCALAR);
    return k;
}

bool rt_gemm_bf16_native(void) {
    return gemm_bf16_kernels()->level >= RT_CPU_AVX512;
}

/* A product of rt_gemm_bf16: C (M,N) = alpha op(A) (M,K) op(B) (K,N) + beta C, with A(i,k) at
 * A[i * a_rs + k * a_cs] (one of the strides is 1) and B(k,j) at B[k * b_rs + j * b_cs]. */
typedef struct gemm_bf16_args {
    const rt_kernels *kn;
    int M, N, K;
    float alpha, beta;
    const float *A, *B;
    size_t a_rs, a_cs, b_rs, b_cs;
    float *C;
    size_t ldc;
} gemm_bf16_args;

/* Bytes of a packed B block (KC x NC) and of a packed A block (MC x KC) of g. */
static size_t gemm_bf16_b_bytes(const gemm_bf16_args *g) {
    size_t kc = (size_t)(g->K < GEMM_BF16_KC ? g->K : GEMM_BF16_KC);
    size_t nc = (size_t)(g->N < GEMM_BF16_NC ? g->N : GEMM_BF16_NC);
    return (kc + 1) / 2 * ((nc + RT_GEMM_BF16_NR - 1) / RT_GEMM_BF16_NR * RT_GEMM_BF16_NR) * 4;
}

static size_t gemm_bf16_a_bytes(const gemm_bf16_args *g) {
    size_t kc = (size_t)(g->K < GEMM_BF16_KC ? g->K : GEMM_BF16_KC);
    size_t mc = (size_t)(g->M < GEMM_BF16_MC ? g->M : GEMM_BF16_MC);
    return (kc + 1) / 2 * ((mc + 15) / 16 * 16) * 4;
}

/* NR-column panels q0 .. q1 - 1 of the block of B at (pc, jc) (kc x nc) into bp, each at
 * bp + q * kp * NR. */
static void gemm_bf16_pack_b(const gemm_bf16_args *g, int jc, int nc, int pc, int kc, int q0,
                             int q1, uint32_t *bp) {
    enum { NR = RT_GEMM_BF16_NR };
    int k_contig = g->b_rs == 1, n = nc - q0 * NR < (q1 - q0) * NR ? nc - q0 * NR : (q1 - q0) * NR;
    size_t kp = ((size_t)kc + 1) / 2;
    if (n <= 0) return;
    g->kn->gemm_bf16_pack(g->B + (size_t)pc * g->b_rs + (size_t)(jc + q0 * NR) * g->b_cs,
                          k_contig ? g->b_cs : g->b_rs, k_contig, n, kc, NR,
                          bp + (size_t)q0 * kp * NR);
}

/* Rows m0 .. m1 - 1 of C's columns jc .. jc + nc - 1, adding the products over k in
 * [pc, pc + kc) with B's block packed in bp (panels b_kp pairs apart, of which the first
 * (kc + 1) / 2 are used); A's blocks are packed into ap. A not transposed
 * (k stride 1) is packed row after row; transposed, as one panel as wide as the block (a
 * multiple of 16 rows), read across. */
static void gemm_bf16_rows(const gemm_bf16_args *g, int m0, int m1, int jc, int nc, int pc, int kc,
                           const uint32_t *bp, int64_t b_kp, uint32_t *ap) {
    enum { MR = RT_GEMM_BF16_MR, NR = RT_GEMM_BF16_NR };
    const int a_k_contig = g->a_cs == 1;
    const size_t a_ld = a_k_contig ? g->a_rs : g->a_cs;
    const int64_t kp = (kc + 1) / 2;
    const float beta = pc == 0 ? g->beta : 1.0f;
    for (int ic = m0; ic < m1; ic += GEMM_BF16_MC) {
        int mc = m1 - ic < GEMM_BF16_MC ? m1 - ic : GEMM_BF16_MC;
        int a_width = a_k_contig ? 1 : (mc + 15) / 16 * 16;
        size_t pair_stride = a_k_contig ? 1 : (size_t)a_width; /* between a row's pairs */
        size_t row_stride = a_k_contig ? (size_t)kp : 1;
        g->kn->gemm_bf16_pack(g->A + (size_t)ic * g->a_rs + (size_t)pc * g->a_cs, a_ld, a_k_contig,
                              mc, kc, a_width, ap);
        for (int jr = 0; jr < nc; jr += NR)
            for (int ir = 0; ir < mc; ir += MR)
                g->kn->gemm_bf16_tile(
                    kp, ap + (size_t)ir * row_stride, row_stride, pair_stride,
                    bp + (size_t)jr * b_kp, g->C + (size_t)(ic + ir) * g->ldc + jc + jr, g->ldc,
                    mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR, g->alpha, beta);
    }
}

/* Columns n0 .. n1 - 1 of C on the calling thread (its own packing buffers). */
static void gemm_bf16_columns(const gemm_bf16_args *g, int n0, int n1) {
    uint32_t *bp = scratch_get(SCRATCH_ACT, gemm_bf16_b_bytes(g));
    uint32_t *ap = scratch_get(SCRATCH_TILE, gemm_bf16_a_bytes(g));
    for (int jc = n0; jc < n1; jc += GEMM_BF16_NC) {
        int nc = n1 - jc < GEMM_BF16_NC ? n1 - jc : GEMM_BF16_NC;
        for (int pc = 0; pc < g->K; pc += GEMM_BF16_KC) {
            int kc = g->K - pc < GEMM_BF16_KC ? g->K - pc : GEMM_BF16_KC;
            gemm_bf16_pack_b(g, jc, nc, pc, kc, 0, (nc + RT_GEMM_BF16_NR - 1) / RT_GEMM_BF16_NR,
                             bp);
            gemm_bf16_rows(g, 0, g->M, jc, nc, pc, kc, bp, (kc + 1) / 2, ap);
        }
    }
}

/* All of C, threads over row ranges (whole MR panels) sharing each packed block of B: they
 * pack its panels together, then each multiplies its rows. */
static void gemm_bf16_shared_b(const gemm_bf16_args *g, int n_threads) {
    enum { MR = RT_GEMM_BF16_MR, NR = RT_GEMM_BF16_NR };
    uint32_t *bp = scratch_get(SCRATCH_ACT, gemm_bf16_b_bytes(g)); /* the calling thread's */
    size_t a_bytes = gemm_bf16_a_bytes(g);
    int n_units = (g->M + MR - 1) / MR;
#pragma omp parallel num_threads(n_threads)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int lo = (int)((int64_t)n_units * t / nt) * MR;
        int hi = (int)((int64_t)n_units * (t + 1) / nt) * MR;
        if (hi > g->M) hi = g->M;
        uint32_t *ap = scratch_get(SCRATCH_TILE, a_bytes);
        for (int jc = 0; jc < g->N; jc += GEMM_BF16_NC) {
            int nc = g->N - jc < GEMM_BF16_NC ? g->N - jc : GEMM_BF16_NC;
            for (int pc = 0; pc < g->K; pc += GEMM_BF16_KC) {
                int kc = g->K - pc < GEMM_BF16_KC ? g->K - pc : GEMM_BF16_KC;
                int n_panels = (nc + NR - 1) / NR;
#pragma omp for schedule(static)
                for (int q = 0; q < n_panels; q++)
                    gemm_bf16_pack_b(g, jc, nc, pc, kc, q, q + 1, bp);
                /* (the loop's barrier: B's block is complete) */
                if (lo < hi) gemm_bf16_rows(g, lo, hi, jc, nc, pc, kc, bp, (kc + 1) / 2, ap);
#pragma omp barrier /* before the next block overwrites bp */
            }
        }
    }
}

static gemm_bf16_args gemm_bf16_make(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                                     const float *A, int lda, const float *B, int ldb, float beta,
                                     float *C, int ldc) {
    gemm_bf16_args g = {
        .kn = gemm_bf16_kernels(),
        .M = M,
        .N = N,
        .K = K,
        .alpha = alpha,
        .beta = beta,
        .A = A,
        .B = B,
        .a_rs = trans_a ? 1 : (size_t)lda,
        .a_cs = trans_a ? (size_t)lda : 1,
        .b_rs = trans_b ? 1 : (size_t)ldb,
        .b_cs = trans_b ? (size_t)ldb : 1,
        .C = C,
        .ldc = (size_t)ldc,
    };
    return g;
}

void rt_gemm_bf16(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* no products: C = beta C (not read when beta is 0) */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    gemm_bf16_args g =
        gemm_bf16_make(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    /* inside a parallel region (attention's heads) the product runs on the calling thread */
    int n_threads = worth_threads(M, N, K) && !omp_in_parallel() ? rt_get_threads() : 1;
    if (n_threads <= 1) {
        gemm_bf16_columns(&g, 0, N);
    } else if (M >= N) {
        /* tall C: row ranges, B packed once for all (each thread packing all of B cost ~10%) */
        gemm_bf16_shared_b(&g, n_threads);
    } else {
        /* wide C: column ranges (whole NR panels), each thread packing its own B and all of A */
        int n_units = (N + RT_GEMM_BF16_NR - 1) / RT_GEMM_BF16_NR;
        if (n_threads > n_units) n_threads = n_units;
#pragma omp parallel for schedule(static, 1) num_threads(n_threads)
        for (int t = 0; t < n_threads; t++) {
            int lo = (int)((int64_t)n_units * t / n_threads) * RT_GEMM_BF16_NR;
            int hi = (int)((int64_t)n_units * (t + 1) / n_threads) * RT_GEMM_BF16_NR;
            if (hi > N) hi = N;
            if (lo < hi) gemm_bf16_columns(&g, lo, hi);
        }
    }
}

/* ---- bf16 GEMM with B packed ahead -------------------------------------------------------- */

/* Layout of rt_gemm_bf16_panels: blocks of GEMM_BF16_KC rows of op(B) (the last one shorter),
 * one after the other; in each, the NR-column panels of all N (padded to whole panels) with
 * the block's pairs (kc + 1) / 2 per column, as gemm_bf16_pack_b writes one block. Every block
 * but the last holds KC / 2 pairs per column, so block pc / KC starts at (pc / KC) (KC / 2)
 * n_pad. */
static size_t panels_n_pad(int N) {
    return ((size_t)N + RT_GEMM_BF16_NR - 1) / RT_GEMM_BF16_NR * RT_GEMM_BF16_NR;
}

/* The pairs per column of p's block at row pc (a multiple of KC). */
static int64_t panels_block_kp(const rt_gemm_bf16_panels *p, int pc) {
    int kc = p->K - pc < GEMM_BF16_KC ? p->K - pc : GEMM_BF16_KC;
    return (kc + 1) / 2;
}

static uint32_t *panels_block(const rt_gemm_bf16_panels *p, int pc) {
    return p->data + (size_t)(pc / GEMM_BF16_KC) * (GEMM_BF16_KC / 2) * panels_n_pad(p->N);
}

size_t rt_gemm_bf16_panels_size(int K, int N) {
    if (K <= 0 || N <= 0) return 0;
    return ((size_t)K + 1) / 2 * panels_n_pad(N);
}

void rt_gemm_bf16_pack_panels(rt_gemm_bf16_panels *p, bool trans_b, const float *B, int ldb) {
    enum { NR = RT_GEMM_BF16_NR };
    if (p->K <= 0 || p->N <= 0) return;
    const rt_kernels *kn = gemm_bf16_kernels();
    size_t b_rs = trans_b ? 1 : (size_t)ldb, b_cs = trans_b ? (size_t)ldb : 1;
    int k_contig = trans_b, n_panels = (p->N + NR - 1) / NR;
    int n_blocks = (p->K + GEMM_BF16_KC - 1) / GEMM_BF16_KC;
    bool threads = !omp_in_parallel() && (double)p->K * p->N >= PARALLEL_MIN_WORK / 4;
#pragma omp parallel for collapse(2) schedule(static) if (threads)
    for (int blk = 0; blk < n_blocks; blk++)
        for (int q = 0; q < n_panels; q++) {
            int pc = blk * GEMM_BF16_KC, kc = p->K - pc < GEMM_BF16_KC ? p->K - pc : GEMM_BF16_KC;
            int n = p->N - q * NR < NR ? p->N - q * NR : NR;
            int64_t kp = (kc + 1) / 2;
            kn->gemm_bf16_pack(B + (size_t)pc * b_rs + (size_t)q * NR * b_cs,
                               k_contig ? b_cs : b_rs, k_contig, n, kc, NR,
                               panels_block(p, pc) + (size_t)q * kp * NR);
        }
}

/* Rows m0 .. m1 - 1 and columns n0 .. n1 - 1 (n0 a multiple of NR) of C from p's panels, on
 * the calling thread. No NC blocking: B is packed already, and each block of A is packed once
 * for all columns (the lm head's 8192 or more) instead of once per NC columns. */
static void gemm_bf16_panels_part(const gemm_bf16_args *g, const rt_gemm_bf16_panels *p, int m0,
                                  int m1, int n0, int n1) {
    uint32_t *ap = scratch_get(SCRATCH_TILE, gemm_bf16_a_bytes(g));
    for (int pc = 0; pc < g->K; pc += GEMM_BF16_KC) {
        int kc = g->K - pc < GEMM_BF16_KC ? g->K - pc : GEMM_BF16_KC;
        int64_t b_kp = panels_block_kp(p, pc);
        const uint32_t *bp =
            panels_block(p, pc) + (size_t)(n0 / RT_GEMM_BF16_NR) * b_kp * RT_GEMM_BF16_NR;
        gemm_bf16_rows(g, m0, m1, n0, n1 - n0, pc, kc, bp, b_kp, ap);
    }
}

void rt_gemm_bf16_panels_mul(bool trans_a, int M, int N, int K, float alpha, const float *A,
                             int lda, const rt_gemm_bf16_panels *B, float beta, float *C, int ldc) {
    enum { MR = RT_GEMM_BF16_MR, NR = RT_GEMM_BF16_NR };
    RT_ASSERT(N <= B->N && K <= B->K && (K == B->K || K % 2 == 0));
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        rt_gemm_bf16(trans_a, false, M, N, 0, alpha, A, lda, NULL, N, beta, C, ldc);
        return;
    }
    gemm_bf16_args g =
        gemm_bf16_make(trans_a, false, M, N, K, alpha, A, lda, NULL, 0, beta, C, ldc);
    int n_threads = worth_threads(M, N, K) && !omp_in_parallel() ? rt_get_threads() : 1;
    /* Row ranges when A is at least half as wide as B (each thread packs only its rows of A and
     * reads all the panels), else column ranges (each packs all of A: the head's few rows). */
    bool by_rows = 2 * (int64_t)M >= N;
    int n_units = by_rows ? (M + MR - 1) / MR : (N + NR - 1) / NR;
    if (n_threads > n_units) n_threads = n_units;
    if (n_threads <= 1) {
        gemm_bf16_panels_part(&g, B, 0, M, 0, N);
        return;
    }
#pragma omp parallel for schedule(static, 1) num_threads(n_threads)
    for (int t = 0; t < n_threads; t++) {
        int lo = (int)((int64_t)n_units * t / n_threads) * (by_rows ? MR : NR);
        int hi = (int)((int64_t)n_units * (t + 1) / n_threads) * (by_rows ? MR : NR);
        if (by_rows) {
            if (hi > M) hi = M;
            if (lo < hi) gemm_bf16_panels_part(&g, B, lo, hi, 0, N);
        } else {
            if (hi > N) hi = N;
            if (lo < hi) gemm_bf16_panels_part(&g, B, 0, M, lo, hi);
        }
    }
}
