/*
 * test_gemm_bf16.c — the bf16 GEMM of training's --precision bf16 (core/matmul.h's rt_gemm_bf16
 * and the gemm_bf16_pack / gemm_bf16_tile kernels of every level this CPU runs):
 *   - packing is bit-exact with rt_f32_to_bf16 (ties, subnormals, NaN, infinities) in both
 *     layouts, with zero padding of short panels and odd k;
 *   - products of every transposition case, with ragged edges of every block size (MR, NR, KC,
 *     MC, NC), strided operands, alpha, beta and beta = 0 over a C full of NaN (never read),
 *     against a double-precision product of the bf16-rounded inputs;
 *   - the same products with op(B) packed ahead (rt_gemm_bf16_panels), also for prefixes of the
 *     packed rows and columns (attention's causal key prefixes), across KC blocks, split by
 *     rows and by columns, and on one thread inside a parallel region.
 * Tolerance: |C - ref| <= 2 (K + 2) 2^-24 (|alpha| sum_k |a_ik b_kj| + |beta c_ij|) + 1e-30,
 * twice the classic bound on f32 summation of K + 2 terms (the products themselves are exact).
 */
#include "testutil.h"
#include "core/cpu.h"
#include "core/kernels/kernels.h"
#include "core/matmul.h"
#include "ragtune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static unsigned seed = 12345;

static float bf(float x) {
    return rt_bf16_to_f32(rt_f32_to_bf16(x));
}

/* The bf16 GEMM kernel tables to test: scalar, and avx512 when the CPU has AVX512-BF16. */
static int gemm_levels(const rt_kernels **out) {
    int n = 0;
    out[n++] = rt_kernels_for(RT_CPU_SCALAR);
    const rt_kernels *k = rt_kernels_for(RT_CPU_AVX512);
    if (k && rt_cpu_features_get()->avx512bf16) out[n++] = k;
    return n;
}

static void test_pack_exact(void **state) {
    (void)state;
    const rt_kernels *levels[2];
    int n_levels = gemm_levels(levels);
    /* values that exercise rounding: ties both ways, subnormals, NaN, inf, -0 */
    const float special[] = {1.0f + 0x1p-8f,  1.0f + 0x3p-8f,    -1.0f - 0x1p-8f,
                             0x1p-130f,       -0x1.fffffep-127f, NAN,
                             INFINITY,        -INFINITY,         -0.0f,
                             0x1.fffffep127f, 3.14159f,          1e-40f};
    enum { ROWS = 80, K = 37, LD = 83 };
    float *src = malloc(sizeof(float) * ROWS * LD);
    for (int i = 0; i < ROWS * LD; i++)
        src[i] = i % 5 == 0 ? special[(i / 5) % 12] : tu_frand(&seed, -3.0f, 3.0f);
    /* width 1 (A row after row), 6 (a width the SIMD level leaves to the scalar code), 16, 64
     * (B's panels); n one short of, equal to and past whole panels */
    const int widths[] = {1, 6, 16, RT_GEMM_BF16_NR};
    const int ns[] = {5, 16, 41, 64, 70};
    size_t cap = (size_t)(K + 1) / 2 * 128;
    uint32_t *got = malloc(cap * sizeof(uint32_t)), *want = malloc(cap * sizeof(uint32_t));
    for (int wi = 0; wi < 4; wi++)
        for (int ni = 0; ni < 5; ni++)
            for (int k_contig = 0; k_contig < 2; k_contig++)
                for (int kc = 1; kc <= K; kc += 3) {
                    int width = widths[wi], n = ns[ni];
                    int n_pad = (n + width - 1) / width * width;
                    int64_t kp = (kc + 1) / 2;
                    size_t size = (size_t)kp * n_pad;
                    /* the expected panels, from the layout's definition */
                    for (int r = 0; r < n_pad; r++)
                        for (int64_t p = 0; p < kp; p++) {
                            uint32_t pair = 0;
                            for (int h = 0; h < 2; h++) {
                                int64_t k = 2 * p + h;
                                if (r >= n || k >= kc) continue;
                                float e =
                                    k_contig ? src[(size_t)r * LD + k] : src[(size_t)k * LD + r];
                                pair |= (uint32_t)rt_f32_to_bf16(e) << (16 * h);
                            }
                            want[(size_t)(r / width) * kp * width + p * width + r % width] = pair;
                        }
                    for (int l = 0; l < n_levels; l++) {
                        memset(got, 0xab, cap * sizeof(uint32_t));
                        levels[l]->gemm_bf16_pack(src, LD, k_contig, n, kc, width, got);
                        if (memcmp(got, want, size * sizeof(uint32_t)) != 0)
                            fail_msg("pack level %s width %d n %d k_contig %d kc %d differs",
                                     rt_cpu_level_name(levels[l]->level), width, n, k_contig, kc);
                        for (size_t i = size; i < cap; i++) /* nothing written past the panels */
                            if (got[i] != 0xabababab) fail_msg("pack wrote past its panels");
                    }
                }
    free(src);
    free(got);
    free(want);
}

/* check_gemm_packed's product with B (op(B) at least K x N) given, packed into panels or not. */
static double check_product(bool ta, bool tb, int M, int N, int K, float alpha, float beta,
                            const float *B, int ldb, const rt_gemm_bf16_panels *panels) {
    int lda = (ta ? M : K) + 3, ldc = N + 2;
    size_t a_rows = ta ? (size_t)K : (size_t)M;
    float *A = malloc(sizeof(float) * a_rows * lda);
    float *C = malloc(sizeof(float) * (size_t)M * ldc),
          *C0 = malloc(sizeof(float) * (size_t)M * ldc);
    for (size_t i = 0; i < a_rows * lda; i++)
        A[i] = tu_frand(&seed, -2.0f, 2.0f);
    for (size_t i = 0; i < (size_t)M * ldc; i++)
        C0[i] = C[i] = beta == 0.0f ? NAN : tu_frand(&seed, -1.0f, 1.0f);
    if (panels)
        rt_gemm_bf16_panels_mul(ta, M, N, K, alpha, A, lda, panels, beta, C, ldc);
    else
        rt_gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double worst = 0.0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0, mag = 0.0;
            for (int k = 0; k < K; k++) {
                double a = bf(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
                double b = bf(tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                s += a * b;
                mag += fabs(a * b);
            }
            double c0 = beta == 0.0f ? 0.0 : C0[(size_t)i * ldc + j];
            double ref = alpha * s + beta * c0;
            double tol = 2.0 * (K + 2) * 0x1p-24 * (fabs(alpha) * mag + fabs(beta * c0)) + 1e-30;
            double got = C[(size_t)i * ldc + j];
            double e = isfinite(got) ? fabs(got - ref) / tol : INFINITY;
            if (e > worst) worst = e;
        }
    /* the padding columns of C are never written */
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++) {
            float was = C0[(size_t)i * ldc + j], is = C[(size_t)i * ldc + j];
            if (memcmp(&was, &is, sizeof was) != 0) worst = INFINITY;
        }
    free(A);
    free(C);
    free(C0);
    return worst;
}

/* C (M,N) with op(A), op(B) as rt_gemm_bf16 defines them; returns the largest error relative to
 * the tolerance (<= 1 passes). packed_K > 0: op(B) of packed_K x packed_N (at least K x N) is
 * packed into panels first and the product takes its first K rows and N columns. */
static double check_gemm_packed(bool ta, bool tb, int M, int N, int K, float alpha, float beta,
                                int packed_K, int packed_N) {
    if (packed_K > 0) { /* B holds the whole packed op(B) */
        int ldb = (tb ? packed_K : packed_N) + 1;
        size_t b_rows = tb ? (size_t)packed_N : (size_t)packed_K;
        float *B = malloc(sizeof(float) * b_rows * ldb);
        for (size_t i = 0; i < b_rows * ldb; i++)
            B[i] = tu_frand(&seed, -2.0f, 2.0f);
        rt_gemm_bf16_panels p = {NULL, packed_K, packed_N};
        p.data = malloc(rt_gemm_bf16_panels_size(packed_K, packed_N) * sizeof(uint32_t));
        rt_gemm_bf16_pack_panels(&p, tb, B, ldb);
        double worst = check_product(ta, tb, M, N, K, alpha, beta, B, ldb, &p);
        free(p.data);
        free(B);
        return worst;
    }
    int ldb = (tb ? K : N) + 1;
    size_t b_rows = tb ? (size_t)N : (size_t)K;
    float *B = malloc(sizeof(float) * b_rows * ldb);
    for (size_t i = 0; i < b_rows * ldb; i++)
        B[i] = tu_frand(&seed, -2.0f, 2.0f);
    double worst = check_product(ta, tb, M, N, K, alpha, beta, B, ldb, NULL);
    free(B);
    return worst;
}

static double check_gemm(bool ta, bool tb, int M, int N, int K, float alpha, float beta) {
    return check_gemm_packed(ta, tb, M, N, K, alpha, beta, 0, 0);
}

static void test_gemm_shapes(void **state) {
    (void)state;
    rt_set_threads(2);
    /* ragged around MR (6), NR (64), and k pairs; M > N and M < N split differently */
    const int dims[] = {1, 2, 5, 6, 7, 13, 63, 64, 65, 131};
    const int n_dims = sizeof dims / sizeof dims[0];
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        for (int a = 0; a < n_dims; a++)
            for (int b = 0; b < n_dims; b += 2)
                for (int c = 0; c < n_dims; c += 3) {
                    int M = dims[a], N = dims[(b + a) % n_dims], K = dims[c];
                    double e = check_gemm(ta, tb, M, N, K, 1.0f, 0.0f);
                    if (!(e <= 1.0))
                        fail_msg("trans %d%d M %d N %d K %d: error %.3g of tolerance", ta, tb, M, N,
                                 K, e);
                }
    }
}

static void test_gemm_blocks(void **state) {
    (void)state;
    rt_set_threads(2);
    /* across KC (512), MC (96) and NC (2048), with alpha and beta as the trainer uses them */
    struct {
        int M, N, K;
        float alpha, beta;
    } cases[] = {
        {200, 70, 300, 1.0f, 1.0f},  {97, 1100, 257, 0.5f, 0.0f}, {30, 1030, 513, 1.0f, 1.0f},
        {1100, 9, 33, -2.0f, 0.25f}, {5, 3, 600, 1.0f, 1.0f},     {20, 2100, 70, 1.0f, 1.0f},
        {130, 40, 1100, 1.0f, 0.5f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int t = 0; t < 4; t++) {
            double e = check_gemm(t & 1, t & 2, cases[i].M, cases[i].N, cases[i].K, cases[i].alpha,
                                  cases[i].beta);
            if (!(e <= 1.0)) fail_msg("case %zu trans %d: error %.3g of tolerance", i, t, e);
        }
    /* no k: C = beta C */
    float c[4] = {1, 2, 3, 4};
    rt_gemm_bf16(false, false, 2, 2, 0, 1.0f, c, 1, c, 1, 0.5f, c, 2);
    assert_true(c[0] == 0.5f && c[3] == 2.0f);
}

static void test_gemm_panels(void **state) {
    (void)state;
    rt_set_threads(2);
    struct {
        int M, N, K, packed_K, packed_N;
    } cases[] = {
        {64, 128, 64, 64, 256},     /* scores against a prefix of the keys */
        {64, 72, 192, 256, 72},     /* probabilities times a prefix of the values */
        {63, 70, 151, 151, 70},     /* the last block: the whole odd length */
        {200, 130, 600, 1100, 250}, /* prefixes across KC blocks, split by rows */
        {30, 700, 520, 1030, 800},  /* split by columns */
        {5, 3, 2, 2, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int t = 0; t < 4; t++) {
            double e = check_gemm_packed(t & 1, t & 2, cases[i].M, cases[i].N, cases[i].K, 0.5f,
                                         t < 2 ? 0.0f : 1.0f, cases[i].packed_K, cases[i].packed_N);
            if (!(e <= 1.0)) fail_msg("panels case %zu trans %d: error %.3g of tolerance", i, t, e);
        }
    /* inside a parallel region each thread's product runs on its own thread */
    double worst[2] = {0.0, 0.0};
#pragma omp parallel for num_threads(2)
    for (int t = 0; t < 2; t++)
        worst[t] = check_gemm_packed(t, true, 200, 130, 96, 1.0f, 0.0f, 96, 190);
    if (!(worst[0] <= 1.0 && worst[1] <= 1.0))
        fail_msg("panels in a parallel region: error %.3g, %.3g", worst[0], worst[1]);
}

/* One tile of every level against the double reference (the scalar table is the emulation used
 * on CPUs without AVX512-BF16; here it is checked directly). */
static void test_tile_levels(void **state) {
    (void)state;
    const rt_kernels *levels[2];
    int n_levels = gemm_levels(levels);
    enum { MR = RT_GEMM_BF16_MR, NR = RT_GEMM_BF16_NR, K = 75, LDC = NR + 3 };
    float a[MR * K], b[K * NR];
    for (int i = 0; i < MR * K; i++)
        a[i] = tu_frand(&seed, -1.0f, 1.0f);
    for (int i = 0; i < K * NR; i++)
        b[i] = tu_frand(&seed, -1.0f, 1.0f);
    enum { KP = (K + 1) / 2 };
    uint32_t ap[KP * 16], bp[KP * NR];
    float c[MR * LDC];
    for (int l = 0; l < n_levels; l++)
        for (int rows = 0; rows < 2; rows++) /* A row after row, or one 16-row panel */
            for (int m = 1; m <= MR; m += 5)
                for (int n = 1; n <= NR; n += 21) {
                    /* a (MR, K) row-major is k_contig; as a panel read across, its transpose */
                    levels[l]->gemm_bf16_pack(a, K, 1, m, K, rows ? 16 : 1, ap);
                    levels[l]->gemm_bf16_pack(b, NR, 0, n, K, NR, bp);
                    for (int i = 0; i < MR * LDC; i++)
                        c[i] = 7.0f;
                    levels[l]->gemm_bf16_tile(KP, ap, rows ? 1 : KP, rows ? 16 : 1, bp, c, LDC, m,
                                              n, 2.0f, 0.5f);
                    for (int i = 0; i < MR; i++)
                        for (int j = 0; j < LDC; j++) {
                            if (i >= m || j >= n) {
                                assert_true(c[i * LDC + j] == 7.0f);
                                continue;
                            }
                            double s = 0.0, mag = 0.0;
                            for (int k = 0; k < K; k++) {
                                double p = (double)bf(a[i * K + k]) * bf(b[k * NR + j]);
                                s += p;
                                mag += fabs(p);
                            }
                            double ref = 2.0 * s + 3.5;
                            double tol = 2.0 * (K + 2) * 0x1p-24 * (2.0 * mag + 3.5);
                            if (!(fabs(c[i * LDC + j] - ref) <= tol))
                                fail_msg("level %s m %d n %d (%d,%d): %g vs %g",
                                         rt_cpu_level_name(levels[l]->level), m, n, i, j,
                                         c[i * LDC + j], ref);
                        }
                }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_exact),  cmocka_unit_test(test_tile_levels),
        cmocka_unit_test(test_gemm_shapes), cmocka_unit_test(test_gemm_blocks),
        cmocka_unit_test(test_gemm_panels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
