/*
 * test_kernels.c — every kernel of every ISA level this CPU has, against the scalar reference:
 * conversions bit-exact (q8_0 quantization, f16/bf16 both ways, dequantization), dot products
 * within float-reordering tolerance, on random rows of awkward lengths and 1..17 activation
 * rows. Also CPU detection / RT_CPU parsing and rt_matmul / rt_matmul_backward_x against a
 * double-precision loop over the dequantized weights.
 */
#include "testutil.h"
#include "core/cpu.h"
#include "core/dtype.h"
#include "core/kernels/kernels.h"
#include "core/matmul.h"
#include "core/quant.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Uniform in [-scale, scale). */
static float rng_f32(float scale) {
    return ((float)rng_u32() / 4294967296.0f * 2.0f - 1.0f) * scale;
}

static void fill(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_f32(scale);
}

/* Levels this CPU runs, beyond scalar. */
static int other_levels(const rt_kernels **out) {
    int n = 0;
    for (int l = RT_CPU_SCALAR + 1; l < RT_CPU_LEVEL_COUNT; l++) {
        const rt_kernels *k = rt_kernels_for((rt_cpu_level)l);
        if (k) out[n++] = k;
    }
    return n;
}

static void test_cpu_detect(void **state) {
    (void)state;
    const rt_cpu_features *f = rt_cpu_features_get();
    rt_cpu_level max = rt_cpu_max_level();
    if (max >= RT_CPU_AVX2) assert_true(f->avx2 && f->fma && f->f16c);
    if (max >= RT_CPU_AVX512) assert_true(f->avx512f && f->avx512bw && f->avx512vnni);
    assert_true(rt_cpu_level_get() <= max);
    assert_non_null(rt_kernels_for(RT_CPU_SCALAR));
    assert_ptr_equal(rt_kernels_get(), rt_kernels_for(rt_cpu_level_get()));
    rt_cpu_level l;
    assert_int_equal(rt_cpu_level_parse("avx2", &l), 0);
    assert_int_equal(l, RT_CPU_AVX2);
    assert_int_equal(rt_cpu_level_parse("sse9", &l), -1);
    assert_string_equal(rt_cpu_level_name(RT_CPU_AVX512), "avx512");
    print_message("cpu level %s (max %s), vnni %d, bf16 %d\n",
                  rt_cpu_level_name(rt_cpu_level_get()), rt_cpu_level_name(max), f->avx512vnni,
                  f->avx512bf16);
}

/* Special values for the 16-bit conversions: zeros, subnormals of both formats, halfway cases,
 * overflow, infinities. */
static void fill_special(float *x, int n) {
    static const float special[] = {0.0f,           -0.0f,    1.0f,      -1.0f,   65504.0f,
                                    65520.0f,       1e6f,     -1e30f,    6.1e-5f, 3e-8f,
                                    -5.96e-8f,      2.98e-8f, 1e-40f,    -1e-45f, 0.33325f,
                                    1.00048828125f, INFINITY, -INFINITY, 3.0e38f, 1.0039062f};
    int ns = (int)(sizeof special / sizeof special[0]);
    for (int i = 0; i < n; i++) {
        if (i < ns)
            x[i] = special[i];
        else if (i % 3 == 0) {
            /* random bit patterns (no NaN: its payload is implementation defined) */
            union {
                uint32_t u;
                float f;
            } v = {.u = rng_u32()};
            if ((v.u & 0x7f800000) == 0x7f800000) v.u &= 0xbfffffff;
            x[i] = v.f;
        } else
            x[i] = rng_f32(4.0f);
    }
}

/* core/dispatch: a level's part falls back to the level below for what it leaves NULL. */
static void test_dispatch_fallback(void **state) {
    (void)state;
    const rt_kernels *s = rt_kernels_for(RT_CPU_SCALAR);
    assert_int_equal(s->level, RT_CPU_SCALAR);
    assert_null(s->amx_gemm_q);
    for (int l = RT_CPU_SCALAR; l < RT_CPU_LEVEL_COUNT; l++) {
        const rt_kernels *k = rt_kernels_for((rt_cpu_level)l);
        if (!k) continue;
        assert_int_equal(k->level, l);
        assert_non_null(k->f16_to_f32);
        assert_non_null(k->dot_q8_0_q8);
        assert_true((k->amx_gemm_q != NULL) == (l >= RT_CPU_AMX));
    }
    const rt_kernels *a2 = rt_kernels_for(RT_CPU_AVX2), *a5 = rt_kernels_for(RT_CPU_AVX512);
    if (a2 && a5) { /* avx512 specialises the dot products, not the row conversions */
        assert_ptr_equal(a5->q8_0_to_f32, a2->q8_0_to_f32);
        assert_ptr_equal(a5->f32_to_bf16, a2->f32_to_bf16);
        assert_ptr_not_equal(a5->dot_q8_0_q8, a2->dot_q8_0_q8);
    }
}

/* x (n) to dtype q through the kernel table's typed kernels, and back to f32 into y. */
static void typed_round_trip(const rt_kernels *k, rt_dtype d, const float *x, void *q, float *y,
                             int n) {
    switch (d) {
    case RT_DTYPE_F32:
        memcpy(q, x, sizeof(float) * n);
        memcpy(y, x, sizeof(float) * n);
        break;
    case RT_DTYPE_F16:
        k->f32_to_f16(x, q, n);
        k->f16_to_f32(q, y, n);
        break;
    case RT_DTYPE_BF16:
        k->f32_to_bf16(x, q, n);
        k->bf16_to_f32(q, y, n);
        break;
    case RT_DTYPE_Q8_0:
        k->quantize_row_q8_0(x, q, n);
        k->q8_0_to_f32(q, y, n);
        break;
    default:
        k->quantize_row_q4_0(x, q, n);
        k->q4_0_to_f32(q, y, n);
        break;
    }
}

/* core/dtype's traits: sizes as GGUF has them, and every row entry gives the same bits as the
 * kernel table's typed kernel it stands for (round trips f32 -> dtype -> f32 included). */
static void test_dtype_traits(void **state) {
    (void)state;
    enum { N = 96 };
    const rt_kernels *k = rt_kernels_get();
    float x[N], y[N], z[N];
    fill(x, N, 3.0f);
    unsigned char a[N * 4], b[N * 4];
    const struct {
        rt_dtype d;
        int bs;
        size_t bb;
    } want[] = {{RT_DTYPE_F32, 1, 4},    {RT_DTYPE_F16, 1, 2},    {RT_DTYPE_BF16, 1, 2},
                {RT_DTYPE_Q8_0, 32, 34}, {RT_DTYPE_Q4_0, 32, 18}, {RT_DTYPE_I32, 1, 4}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const rt_dtype_traits *t = rt_dtype_traits_of(want[i].d);
        assert_non_null(t);
        assert_int_equal(t->block_size, want[i].bs);
        assert_int_equal(t->block_bytes, want[i].bb);
        assert_int_equal(rt_dtype_block_size(want[i].d), want[i].bs);
        assert_string_equal(rt_dtype_name(want[i].d), t->name);
        rt_dtype parsed;
        assert_int_equal(rt_dtype_parse(t->name, &parsed), RT_OK);
        assert_int_equal(parsed, want[i].d);
    }
    assert_null(rt_dtype_traits_of((rt_dtype)3));
    assert_null(rt_dtype_traits_of(RT_DTYPE_COUNT));
    assert_false(rt_dtype_valid(-1));
    assert_null(rt_dtype_traits_of(RT_DTYPE_I32)->from_f32);

    const rt_dtype d_all[] = {RT_DTYPE_F32, RT_DTYPE_F16, RT_DTYPE_BF16, RT_DTYPE_Q8_0,
                              RT_DTYPE_Q4_0};
    for (size_t i = 0; i < sizeof d_all / sizeof *d_all; i++) {
        const rt_dtype_traits *t = rt_dtype_traits_of(d_all[i]);
        t->from_f32(x, a, N);
        t->to_f32(a, y, N);
        typed_round_trip(k, d_all[i], x, b, z, N);
        assert_memory_equal(a, b, N / t->block_size * t->block_bytes);
        assert_memory_equal(y, z, sizeof y);
    }
    /* i32 to f32 */
    int32_t ints[4] = {-7, 0, 3, 1 << 20};
    rt_dtype_traits_of(RT_DTYPE_I32)->to_f32(ints, y, 4);
    assert_true(y[0] == -7.0f && y[1] == 0.0f && y[2] == 3.0f && y[3] == 1048576.0f);
    /* dot entries: q8 for the block dtypes, f32 for the 16-bit floats */
    uint8_t xq[N];
    float xd[N / 32], d1, d2;
    k->quantize_row_q8_act(x, xq, xd, N);
    rt_dtype_traits_of(RT_DTYPE_Q8_0)->from_f32(y, a, N);
    rt_dtype_traits_of(RT_DTYPE_Q8_0)->dot_q8(N, a, xq, xd, 1, &d1, 1);
    k->dot_q8_0_q8(N, (const rt_block_q8_0 *)a, xq, xd, 1, &d2, 1);
    assert_true(d1 == d2);
    rt_dtype_traits_of(RT_DTYPE_F16)->from_f32(y, a, N);
    rt_dtype_traits_of(RT_DTYPE_F16)->dot_f32(N, a, x, N, 1, &d1, 1);
    k->dot_f16_f32(N, (const uint16_t *)a, x, N, 1, &d2, 1);
    assert_true(d1 == d2);
    assert_null(rt_dtype_traits_of(RT_DTYPE_F32)->dot_q8);
}

static void test_conversions_exact(void **state) {
    (void)state;
    const rt_kernels *ref = &rt_kernels_scalar, *levels[RT_CPU_LEVEL_COUNT];
    int nl = other_levels(levels);
    const int lens[] = {1, 7, 15, 16, 17, 31, 33, 64, 100, 257};
    enum { N = 320 };
    float x[N], y0[N], y1[N];
    uint16_t h0[N], h1[N];
    for (int li = 0; li < nl; li++) {
        const rt_kernels *k = levels[li];
        for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++) {
            int n = lens[c];
            fill_special(x, N);
            ref->f32_to_f16(x, h0, n);
            k->f32_to_f16(x, h1, n);
            assert_memory_equal(h0, h1, n * sizeof(uint16_t));
            ref->f32_to_bf16(x, h0, n);
            k->f32_to_bf16(x, h1, n);
            assert_memory_equal(h0, h1, n * sizeof(uint16_t));
            for (int i = 0; i < n; i++)
                h0[i] = (uint16_t)rng_u32();
            ref->f16_to_f32(h0, y0, n);
            k->f16_to_f32(h0, y1, n);
            for (int i = 0; i < n; i++)
                if (!isnan(y0[i])) assert_memory_equal(&y0[i], &y1[i], sizeof(float));
            ref->bf16_to_f32(h0, y0, n);
            k->bf16_to_f32(h0, y1, n);
            assert_memory_equal(y0, y1, n * sizeof(float));
        }
    }
}

static void test_quantize_exact(void **state) {
    (void)state;
    const rt_kernels *ref = &rt_kernels_scalar, *levels[RT_CPU_LEVEL_COUNT];
    int nl = other_levels(levels);
    enum { NB = 9, N = NB * RT_QK };
    float x[N], y0[N], y1[N];
    rt_block_q8_0 q0[NB], q1[NB];
    rt_block_q4_0 r0[NB], r1[NB];
    for (int trial = 0; trial < 50; trial++) {
        fill(x, N, trial % 2 ? 1.0f : 30.0f);
        /* exact halves after scaling (x * 127/amax = k + 0.5) and an all-zero block */
        x[0] = 127.0f;
        x[1] = 0.5f;
        x[2] = -2.5f;
        x[3] = 63.5f;
        for (int j = 0; j < RT_QK; j++)
            x[RT_QK + j] = 0.0f;
        ref->quantize_row_q8_0(x, q0, N);
        ref->quantize_row_q4_0(x, r0, N);
        for (int li = 0; li < nl; li++) {
            const rt_kernels *k = levels[li];
            k->quantize_row_q8_0(x, q1, N);
            assert_memory_equal(q0, q1, sizeof q0);
            k->quantize_row_q4_0(x, r1, N);
            assert_memory_equal(r0, r1, sizeof r0);
            ref->q8_0_to_f32(q0, y0, N);
            k->q8_0_to_f32(q0, y1, N);
            assert_memory_equal(y0, y1, sizeof y0);
            ref->q4_0_to_f32(r0, y0, N);
            k->q4_0_to_f32(r0, y1, N);
            assert_memory_equal(y0, y1, sizeof y0);
        }
    }
}

/* |a - b| <= tol * (sum of |terms| + 1e-6): float reordering error bound scaled by the size of
 * the terms (n * eps * sum|w x| is the worst case; we use 1e-5 for rows of <= 1000 terms). */
static void check_close(float got, float want, double abs_terms, const char *what, int t) {
    double tol = 1e-5 * (abs_terms + 1e-6);
    if (fabs((double)got - want) > tol) {
        print_error("%s row %d: got %.9g want %.9g (tol %.3g)\n", what, t, got, want, tol);
        fail();
    }
}

static void test_dots(void **state) {
    (void)state;
    const rt_kernels *ref = &rt_kernels_scalar, *levels[RT_CPU_LEVEL_COUNT];
    int nl = other_levels(levels);
    const int lens_blocks[] = {1, 2, 3, 7, 8, 31};
    const int lens_half[] = {1, 5, 16, 31, 32, 33, 63, 100, 257};
    enum { MAXN = 31 * RT_QK, MAXT = 17 };
    float *x = malloc(sizeof(float) * MAXN * MAXT), *w = malloc(sizeof(float) * MAXN);
    uint8_t *xq = malloc((size_t)MAXN * MAXT), *xq2 = malloc(MAXN);
    float *xd = malloc(sizeof(float) * (MAXN / RT_QK) * MAXT), *xd2 = malloc(sizeof(float) * MAXN);
    rt_block_q8_0 *wq8 = malloc(sizeof(rt_block_q8_0) * (MAXN / RT_QK));
    rt_block_q4_0 *wq4 = malloc(sizeof(rt_block_q4_0) * (MAXN / RT_QK));
    uint16_t *wh = malloc(sizeof(uint16_t) * MAXN);
    float want[MAXT * 3], got[MAXT * 3], absw[MAXT];
    for (int li = 0; li < nl; li++) {
        const rt_kernels *k = levels[li];
        for (int n_x = 1; n_x <= MAXT; n_x++) {
            /* q8_0 / q4_0 against q8_act activations; out_stride 3 checks the stride */
            for (size_t c = 0; c < sizeof lens_blocks / sizeof lens_blocks[0]; c++) {
                int nb = lens_blocks[c], n = nb * RT_QK;
                fill(x, (int64_t)MAXN * MAXT, 2.0f);
                fill(w, n, 0.5f);
                for (int t = 0; t < n_x; t++) {
                    ref->quantize_row_q8_act(x + t * n, xq + t * n, xd + t * nb, n);
                    k->quantize_row_q8_act(x + t * n, xq2, xd2, n);
                    assert_memory_equal(xq + t * n, xq2, n);
                    assert_memory_equal(xd + t * nb, xd2, nb * sizeof(float));
                    /* same numbers as q8_0 blocks */
                    ref->quantize_row_q8_0(x + t * n, wq8, n);
                    for (int b = 0; b < nb; b++) {
                        assert_true(rt_f16_to_f32(wq8[b].d) == xd[t * nb + b]);
                        for (int j = 0; j < RT_QK; j++)
                            assert_int_equal(wq8[b].qs[j], xq[t * n + b * RT_QK + j] - 128);
                    }
                }
                ref->quantize_row_q8_0(w, wq8, n);
                ref->quantize_row_q4_0(w, wq4, n);
                for (int pass = 0; pass < 2; pass++) {
                    if (pass == 0) {
                        ref->dot_q8_0_q8(n, wq8, xq, xd, n_x, want, 3);
                        k->dot_q8_0_q8(n, wq8, xq, xd, n_x, got, 3);
                    } else {
                        ref->dot_q4_0_q8(n, wq4, xq, xd, n_x, want, 3);
                        k->dot_q4_0_q8(n, wq4, xq, xd, n_x, got, 3);
                    }
                    for (int t = 0; t < n_x; t++) {
                        /* sum|terms| <= |w|max * |x|max * n */
                        check_close(got[t * 3], want[t * 3], 0.5 * 2.0 * n, pass ? "q4_0" : "q8_0",
                                    t);
                    }
                }
            }
            for (size_t c = 0; c < sizeof lens_half / sizeof lens_half[0]; c++) {
                int n = lens_half[c];
                fill(x, (int64_t)n * n_x, 2.0f);
                fill(w, n, 0.5f);
                for (int pass = 0; pass < 2; pass++) {
                    if (pass == 0) {
                        ref->f32_to_f16(w, wh, n);
                        ref->dot_f16_f32(n, wh, x, n, n_x, want, 1);
                        k->dot_f16_f32(n, wh, x, n, n_x, got, 1);
                    } else {
                        ref->f32_to_bf16(w, wh, n);
                        ref->dot_bf16_f32(n, wh, x, n, n_x, want, 1);
                        k->dot_bf16_f32(n, wh, x, n, n_x, got, 1);
                    }
                    for (int t = 0; t < n_x; t++) {
                        absw[t] = 0;
                        for (int i = 0; i < n; i++)
                            absw[t] += fabsf(w[i] * x[t * n + i]);
                        check_close(got[t], want[t], absw[t], pass ? "bf16" : "f16", t);
                    }
                }
            }
        }
    }
    free(x);
    free(w);
    free(xq);
    free(xq2);
    free(xd);
    free(xd2);
    free(wq8);
    free(wq4);
    free(wh);
}

/* dot_q8_0_q8_r4 / dot_q4_0_q8_r4 (four weight rows against one activation row) against the
 * scalar one-row dot product on each row, at every level that has them; rows with block counts
 * around the kernels' 8-block steps, rows further apart than their length (row_bytes). */
static void test_dots_r4(void **state) {
    (void)state;
    const rt_kernels *ref = &rt_kernels_scalar, *levels[RT_CPU_LEVEL_COUNT];
    int nl = other_levels(levels), tested = 0;
    const int lens_blocks[] = {1, 2, 3, 4, 7, 8, 9, 12, 15, 16, 17, 24, 31, 80};
    enum { MAXB = 80, MAXN = MAXB * RT_QK, GAP = 3 };
    float *x = malloc(sizeof(float) * MAXN), *w = malloc(sizeof(float) * MAXN);
    uint8_t *xq = malloc(MAXN);
    float *xd = malloc(sizeof(float) * MAXB);
    rt_block_q8_0 *wq8 = malloc(sizeof(rt_block_q8_0) * (MAXB + GAP) * 4);
    rt_block_q4_0 *wq4 = malloc(sizeof(rt_block_q4_0) * (MAXB + GAP) * 4);
    for (int li = 0; li < nl; li++) {
        const rt_kernels *k = levels[li];
        if (!k->dot_q8_0_q8_r4) continue;
        assert_non_null(k->dot_q4_0_q8_r4);
        tested++;
        for (size_t c = 0; c < sizeof lens_blocks / sizeof lens_blocks[0]; c++) {
            int nb = lens_blocks[c], n = nb * RT_QK, stride = nb + GAP; /* blocks between rows */
            fill(x, n, 2.0f);
            ref->quantize_row_q8_act(x, xq, xd, n);
            for (int r = 0; r < 4; r++) {
                fill(w, n, 0.5f);
                ref->quantize_row_q8_0(w, wq8 + r * stride, n);
                ref->quantize_row_q4_0(w, wq4 + r * stride, n);
            }
            for (int pass = 0; pass < 2; pass++) {
                float got[4], want;
                if (pass == 0)
                    k->dot_q8_0_q8_r4(n, wq8, stride * sizeof *wq8, xq, xd, got);
                else
                    k->dot_q4_0_q8_r4(n, wq4, stride * sizeof *wq4, xq, xd, got);
                for (int r = 0; r < 4; r++) {
                    if (pass == 0)
                        ref->dot_q8_0_q8(n, wq8 + r * stride, xq, xd, 1, &want, 1);
                    else
                        ref->dot_q4_0_q8(n, wq4 + r * stride, xq, xd, 1, &want, 1);
                    check_close(got[r], want, 0.5 * 2.0 * n, pass ? "q4_0 r4" : "q8_0 r4", r);
                }
            }
        }
    }
    if (!tested) print_message("no level with four-row dot products on this CPU\n");
    free(x);
    free(w);
    free(xq);
    free(xd);
    free(wq8);
    free(wq4);
}

/* gemv_f32 (decode's f32 matrix-vector product) against a double-precision loop, at every level
 * that has it: row lengths around its 32- and 16-element steps, 1 to 9 rows (the four-row passes
 * and the rows left over), rows further apart than their length. */
static void test_gemv_f32(void **state) {
    (void)state;
    const rt_kernels *levels[RT_CPU_LEVEL_COUNT];
    int nl = other_levels(levels);
    const int lens[] = {1, 15, 16, 17, 31, 32, 33, 100, 773};
    enum { MAXN = 773, LD = MAXN + 3, MAXR = 9 };
    float *w = malloc(sizeof(float) * LD * MAXR), *x = malloc(sizeof(float) * MAXN), y[MAXR];
    for (int li = 0; li < nl; li++) {
        const rt_kernels *k = levels[li];
        if (!k->gemv_f32) continue;
        for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++) {
            int n = lens[c];
            fill(w, (int64_t)LD * MAXR, 0.5f);
            fill(x, n, 2.0f);
            for (int n_rows = 1; n_rows <= MAXR; n_rows++) {
                k->gemv_f32(n, w, LD, n_rows, x, y);
                for (int r = 0; r < n_rows; r++) {
                    double s = 0, a = 0;
                    for (int i = 0; i < n; i++) {
                        s += (double)w[(size_t)r * LD + i] * x[i];
                        a += fabs((double)w[(size_t)r * LD + i] * x[i]);
                    }
                    check_close(y[r], (float)s, a, "gemv_f32", r);
                }
            }
        }
    }
    free(w);
    free(x);
}

/* rt_matmul and rt_matmul_backward_x against double-precision loops over the dequantized
 * weights. For q8_0/q4_0 weights the activations are also quantized to q8_0 (as llama.cpp does),
 * so the reference uses the dequantized q8_0 activations too; what is left is float rounding. */
static void check_matmul(rt_dtype dtype, int n_out, int n_in, int T) {
    int64_t shape[2] = {n_out, n_in};
    rt_tensor w;
    assert_int_equal(rt_tensor_alloc(&w, "w", dtype, 2, shape), RT_OK);
    float *wf = malloc(sizeof(float) * n_out * n_in), *x = malloc(sizeof(float) * T * n_in);
    float *xr = malloc(sizeof(float) * T * n_in), *bias = malloc(sizeof(float) * n_out);
    float *out = malloc(sizeof(float) * T * n_out), *dy = malloc(sizeof(float) * T * n_out);
    float *dx = malloc(sizeof(float) * T * n_in);
    fill(wf, (int64_t)n_out * n_in, 0.2f);
    fill(x, (int64_t)T * n_in, 1.0f);
    fill(bias, n_out, 1.0f);
    fill(dy, (int64_t)T * n_out, 1.0f);
    size_t rb = rt_tensor_row_bytes(&w);
    for (int o = 0; o < n_out; o++) {
        rt_quantize_row(dtype, wf + (size_t)o * n_in, (char *)w.data + o * rb, n_in);
        rt_dequantize_row(dtype, (char *)w.data + o * rb, wf + (size_t)o * n_in, n_in);
    }
    memcpy(xr, x, sizeof(float) * T * n_in);
    if (dtype == RT_DTYPE_Q8_0 || dtype == RT_DTYPE_Q4_0) {
        rt_block_q8_0 *tmp = malloc(sizeof(rt_block_q8_0) * (n_in / RT_QK));
        for (int t = 0; t < T; t++) {
            rt_quantize_row(RT_DTYPE_Q8_0, x + (size_t)t * n_in, tmp, n_in);
            rt_dequantize_row(RT_DTYPE_Q8_0, tmp, xr + (size_t)t * n_in, n_in);
        }
        free(tmp);
    }
    if (dtype == RT_DTYPE_BF16) /* the AMX path rounds activations to bf16 */
        for (size_t i = 0; i < (size_t)T * n_in; i++)
            xr[i] = rt_bf16_to_f32(rt_f32_to_bf16(x[i]));
    rt_matmul(out, x, &w, bias, T);
    for (int t = 0; t < T; t++) {
        for (int o = 0; o < n_out; o++) {
            /* q8_0/q4_0 may take quantized activations (xr) or, for long inputs below AVX-512,
             * f32 ones (x); bf16 takes bf16-rounded activations on AMX, f32 ones elsewhere:
             * accept whichever reference is closer */
            double s = bias[o], s_f32 = bias[o], a = fabs(bias[o]);
            for (int i = 0; i < n_in; i++) {
                s += (double)xr[(size_t)t * n_in + i] * wf[(size_t)o * n_in + i];
                s_f32 += (double)x[(size_t)t * n_in + i] * wf[(size_t)o * n_in + i];
                a += fabs((double)xr[(size_t)t * n_in + i] * wf[(size_t)o * n_in + i]);
            }
            float got = out[(size_t)t * n_out + o];
            if (fabs(got - s_f32) < fabs(got - s)) s = s_f32;
            check_close(got, (float)s, a, rt_dtype_name(dtype), t);
        }
    }
    for (size_t i = 0; i < (size_t)T * n_in; i++)
        dx[i] = 0.5f;
    rt_matmul_backward_x(dx, dy, &w, T);
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < n_in; i++) {
            double s = 0.5, a = 0.5;
            for (int o = 0; o < n_out; o++) {
                s += (double)dy[(size_t)t * n_out + o] * wf[(size_t)o * n_in + i];
                a += fabs((double)dy[(size_t)t * n_out + o] * wf[(size_t)o * n_in + i]);
            }
            check_close(dx[(size_t)t * n_in + i], (float)s, a, "backward", t);
        }
    }
    rt_tensor_free(&w);
    free(wf);
    free(x);
    free(xr);
    free(bias);
    free(out);
    free(dy);
    free(dx);
}

static void test_matmul_all_dtypes(void **state) {
    (void)state;
    const rt_dtype dtypes[] = {RT_DTYPE_F32, RT_DTYPE_F16, RT_DTYPE_BF16, RT_DTYPE_Q8_0,
                               RT_DTYPE_Q4_0};
    const int tokens[] = {1, 2, 3, 5, 8, 9, 17, 70};
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++)
        for (size_t t = 0; t < sizeof tokens / sizeof tokens[0]; t++)
            check_matmul(dtypes[d], 37, 96, tokens[t]);
    /* rows long enough for the kernels' 8-block steps (and decode's four-row kernels) */
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++)
        for (int T = 1; T <= 2; T++)
            check_matmul(dtypes[d], 37, 17 * RT_QK, T);
    /* bf16 activations (AMX-BF16 when present) */
    rt_matmul_set_bf16_activations(true);
    for (size_t t = 0; t < sizeof tokens / sizeof tokens[0]; t++) {
        check_matmul(RT_DTYPE_BF16, 37, 96, tokens[t]);
        check_matmul(RT_DTYPE_BF16, 19, 100, tokens[t]); /* a partial tile of k */
    }
    rt_matmul_set_bf16_activations(false);
}

/* rt_matmul_multi: each item the same as rt_matmul on it alone (up to summation order), with
 * biases, for one dtype (stacked: products big enough to be threaded, pieces of items split
 * between threads) and for mixed dtypes (one product after another). */
static void test_matmul_multi(void **state) {
    (void)state;
    const rt_dtype dtypes[] = {RT_DTYPE_F32, RT_DTYPE_Q8_0, RT_DTYPE_Q4_0, RT_DTYPE_F16};
    const int rows[3] = {257, 64, 63}, n_in = 1024, tokens[] = {1, 3, 20};
    float *x = malloc(sizeof(float) * 20 * n_in), *wf = malloc(sizeof(float) * 257 * n_in);
    float *want = malloc(sizeof(float) * 20 * 257), *got[3], *bias[3];
    fill(x, 20 * n_in, 1.0f);
    for (int mixed = 0; mixed < 2; mixed++) {
        for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
            rt_tensor w[3];
            rt_matmul_item items[3];
            for (int i = 0; i < 3; i++) {
                rt_dtype dt = mixed ? dtypes[(d + i) % 4] : dtypes[d];
                int64_t shape[2] = {rows[i], n_in};
                assert_int_equal(rt_tensor_alloc(&w[i], "w", dt, 2, shape), RT_OK);
                fill(wf, (int64_t)rows[i] * n_in, 0.2f);
                for (int o = 0; o < rows[i]; o++)
                    rt_quantize_row(dt, wf + (size_t)o * n_in,
                                    (char *)w[i].data + o * rt_tensor_row_bytes(&w[i]), n_in);
                got[i] = malloc(sizeof(float) * 20 * rows[i]);
                bias[i] = i == 1 ? NULL : malloc(sizeof(float) * rows[i]);
                if (bias[i]) fill(bias[i], rows[i], 1.0f);
                items[i] = (rt_matmul_item){got[i], &w[i], bias[i]};
            }
            for (size_t t = 0; t < sizeof tokens / sizeof tokens[0]; t++) {
                int T = tokens[t];
                rt_matmul_multi(x, T, items, 3);
                for (int i = 0; i < 3; i++) {
                    rt_matmul(want, x, &w[i], bias[i], T);
                    for (int r = 0; r < T * rows[i]; r++)
                        check_close(got[i][r], want[r], 0.2 * 1.0 * n_in + 1.0,
                                    rt_dtype_name(w[i].dtype), r / rows[i]);
                }
            }
            for (int i = 0; i < 3; i++) {
                rt_tensor_free(&w[i]);
                free(got[i]);
                free(bias[i]);
            }
        }
    }
    free(x);
    free(wf);
    free(want);
}

/* Two application threads multiplying at once (each has its own scratch; the OpenBLAS thread
 * count nests) get the same bits as one thread alone. */
typedef struct job {
    rt_tensor *w;
    const float *x;
    float *out;
    int T;
} job;

static void *run_job(void *p) {
    job *j = p;
    for (int r = 0; r < 20; r++)
        rt_matmul(j->out, j->x, j->w, NULL, j->T);
    return NULL;
}

static void test_matmul_concurrent(void **state) {
    (void)state;
    enum { N_OUT = 96, N_IN = 128, T = 9 };
    const rt_dtype dtypes[] = {RT_DTYPE_F32, RT_DTYPE_BF16, RT_DTYPE_Q4_0};
    float *wf = malloc(sizeof(float) * N_OUT * N_IN), x[T * N_IN];
    float want[T * N_OUT], got[2][T * N_OUT];
    fill(wf, N_OUT * N_IN, 0.5f);
    fill(x, T * N_IN, 1.0f);
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
        int64_t shape[2] = {N_OUT, N_IN};
        rt_tensor w;
        assert_int_equal(rt_tensor_alloc(&w, "w", dtypes[d], 2, shape), RT_OK);
        for (int o = 0; o < N_OUT; o++)
            rt_quantize_row(dtypes[d], wf + o * N_IN, (char *)w.data + o * rt_tensor_row_bytes(&w),
                            N_IN);
        rt_matmul(want, x, &w, NULL, T);
        job jobs[2] = {{&w, x, got[0], T}, {&w, x, got[1], T}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < 2; i++)
            assert_memory_equal(want, got[i], sizeof want);
        rt_tensor_free(&w);
    }
    free(wf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch_fallback), cmocka_unit_test(test_dtype_traits),
        cmocka_unit_test(test_cpu_detect),        cmocka_unit_test(test_conversions_exact),
        cmocka_unit_test(test_quantize_exact),    cmocka_unit_test(test_dots),
        cmocka_unit_test(test_matmul_all_dtypes), cmocka_unit_test(test_matmul_concurrent),
        cmocka_unit_test(test_dots_r4),           cmocka_unit_test(test_matmul_multi),
        cmocka_unit_test(test_gemv_f32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
