/*
 * test_attention.c — the training attention (train/ops.c: causal, tiled in blocks of query rows)
 * against a direct double-precision computation, at sequence lengths that span several tiles and
 * end in a partial one, with grouped KV heads. ref_grad checks the same op against PyTorch at a
 * short length (one tile); this test covers the tiling. Tolerance 2e-5 relative to the largest
 * value of each output.
 * bf16 (--precision bf16): the same op with its products on rt_gemm_bf16, against the double
 * computation on bf16-rounded q, k, v and dout. The probabilities P and score gradients dS are
 * rounded too where they enter a product (relative error at most 2^-8 each), which the
 * reference does not do, so each output's tolerance is 1.25 * 2^-8 times the sum of the
 * magnitudes of its terms (sum_u P_u |v_u| for out, and so on), plus the f32 tolerance above.
 */
#include "testutil.h"

#include "train/ops.h"
#include "core/dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* mag (NULL: f32) holds, per output, the sum of the magnitudes of its terms (bf16 tolerance) */
static void check(const float *got, const double *want, const double *mag, size_t n,
                  const char *what) {
    double mx = 0.0;
    for (size_t i = 0; i < n; i++)
        mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
    for (size_t i = 0; i < n; i++) {
        double tol = 2e-5 * mx + (mag ? 1.25 * 0x1p-8 * mag[i] : 0.0);
        if (!(fabs(got[i] - want[i]) <= tol))
            fail_msg("%s[%zu]: %g vs %g (tolerance %g)", what, i, got[i], want[i], tol);
    }
}

static float round_bf16(float x) {
    return rt_bf16_to_f32(rt_f32_to_bf16(x));
}

static void run(int B, int T, int H, int KV, int D, bool bf16) {
    size_t N = (size_t)B * T, qn = N * H * D, kn = N * KV * D;
    int qs = H * D, ks = KV * D, group = H / KV;
    float *q = malloc(qn * 4), *k = malloc(kn * 4), *v = malloc(kn * 4), *out = malloc(qn * 4);
    float *dout = malloc(qn * 4), *dq = calloc(qn, 4), *dk = calloc(kn, 4), *dv = calloc(kn, 4);
    float *lse = malloc((size_t)B * H * T * 4);
    double *wo = calloc(qn, 8), *wdq = calloc(qn, 8), *wdk = calloc(kn, 8), *wdv = calloc(kn, 8);
    double *wl = calloc((size_t)B * H * T, 8), *p = malloc((size_t)T * 8),
           *dp = malloc((size_t)T * 8);
    double *mo = calloc(qn, 8), *mdq = calloc(qn, 8), *mdk = calloc(kn, 8), *mdv = calloc(kn, 8);
    unsigned s = (unsigned)T;
    for (size_t i = 0; i < qn; i++) {
        q[i] = tu_frand(&s, -1.0f, 1.0f) * 2.0f;
        dout[i] = tu_frand(&s, -1.0f, 1.0f);
    }
    for (size_t i = 0; i < kn; i++) {
        k[i] = tu_frand(&s, -1.0f, 1.0f) * 2.0f;
        v[i] = tu_frand(&s, -1.0f, 1.0f);
    }
    /* the reference reads the inputs as the products see them: rounded to bf16 with bf16 */
    float *rq = malloc(qn * 4), *rk = malloc(kn * 4), *rv = malloc(kn * 4), *rd = malloc(qn * 4);
    for (size_t i = 0; i < qn; i++) {
        rq[i] = bf16 ? round_bf16(q[i]) : q[i];
        rd[i] = bf16 ? round_bf16(dout[i]) : dout[i];
    }
    for (size_t i = 0; i < kn; i++) {
        rk[i] = bf16 ? round_bf16(k[i]) : k[i];
        rv[i] = bf16 ? round_bf16(v[i]) : v[i];
    }
    double scale = 1.0 / sqrt((double)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            int kh = h / group;
            for (int t = 0; t < T; t++) {
                const float *qt = rq + ((size_t)b * T + t) * qs + (size_t)h * D;
                double mx = -INFINITY, sum = 0.0;
                for (int u = 0; u <= t; u++) {
                    const float *ku = rk + ((size_t)b * T + u) * ks + (size_t)kh * D;
                    double d = 0.0;
                    for (int i = 0; i < D; i++)
                        d += (double)qt[i] * ku[i];
                    p[u] = d * scale;
                    mx = p[u] > mx ? p[u] : mx;
                }
                for (int u = 0; u <= t; u++)
                    sum += (p[u] = exp(p[u] - mx));
                wl[((size_t)b * H + h) * T + t] = mx + log(sum);
                const float *dot = rd + ((size_t)b * T + t) * qs + (size_t)h * D;
                size_t qo = ((size_t)b * T + t) * qs + (size_t)h * D;
                double *o = wo + qo, rowsum = 0.0;
                for (int u = 0; u <= t; u++) {
                    p[u] /= sum;
                    const float *vu = rv + ((size_t)b * T + u) * ks + (size_t)kh * D;
                    double d = 0.0;
                    for (int i = 0; i < D; i++) {
                        o[i] += p[u] * vu[i];
                        mo[qo + i] += fabs(p[u] * vu[i]);
                        d += (double)dot[i] * vu[i];
                    }
                    dp[u] = d;
                    rowsum += p[u] * d;
                }
                for (int u = 0; u <= t; u++) {
                    double ds = p[u] * (dp[u] - rowsum) * scale;
                    size_t ko = ((size_t)b * T + u) * ks + (size_t)kh * D;
                    for (int i = 0; i < D; i++) {
                        wdv[ko + i] += p[u] * dot[i];
                        wdq[qo + i] += ds * rk[ko + i];
                        wdk[ko + i] += ds * qt[i];
                        mdv[ko + i] += fabs(p[u] * dot[i]);
                        mdq[qo + i] += fabs(ds * rk[ko + i]);
                        mdk[ko + i] += fabs(ds * qt[i]);
                    }
                }
            }
        }
    op_attention_forward(bf16, out, lse, q, k, v, B, T, H, KV, D);
    op_attention_backward(bf16, dq, dk, dv, dout, q, k, v, lse, B, T, H, KV, D);
    check(out, wo, bf16 ? mo : NULL, qn, "out");
    check(lse, wl, NULL, (size_t)B * H * T, "lse");
    check(dq, wdq, bf16 ? mdq : NULL, qn, "dq");
    check(dk, wdk, bf16 ? mdk : NULL, kn, "dk");
    check(dv, wdv, bf16 ? mdv : NULL, kn, "dv");
    free(q), free(k), free(v), free(out), free(dout), free(dq), free(dk), free(dv), free(lse);
    free(wo), free(wdq), free(wdk), free(wdv), free(wl), free(p), free(dp);
    free(mo), free(mdq), free(mdk), free(mdv), free(rq), free(rk), free(rv), free(rd);
}

static void test_one_tile(void **state) {
    (void)state;
    run(2, 12, 4, 2, 8, false);
}

static void test_several_tiles(void **state) {
    (void)state;
    run(1, 150, 4, 2, 16, false); /* tiles of 64, 64, 22 rows; two query heads per KV head */
    run(2, 128, 2, 2, 8, false);  /* exact multiple of the tile */
}

/* bf16: the keys and values of each kv head packed once, used by causal prefixes of every row
 * block (odd lengths, a head dim past the 64-column panels, a KV group of three query heads) */
static void test_bf16(void **state) {
    (void)state;
    run(2, 12, 4, 2, 8, true);
    run(1, 151, 6, 2, 16, true);
    run(2, 128, 2, 1, 72, true);
    run(1, 67, 2, 2, 64, true);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_one_tile),
                                       cmocka_unit_test(test_several_tiles),
                                       cmocka_unit_test(test_bf16)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
