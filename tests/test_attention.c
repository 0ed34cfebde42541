/*
 * test_attention.c — the training attention (train/ops.c: causal, tiled in blocks of query rows)
 * against a direct double-precision computation, at sequence lengths that span several tiles and
 * end in a partial one, with grouped KV heads. ref_grad checks the same op against PyTorch at a
 * short length (one tile); this test covers the tiling. Tolerance 2e-5 relative to the largest
 * value of each output.
 */
#include "testutil.h"

#include "train/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check(const float *got, const double *want, size_t n, const char *what) {
    double mx = 0.0, err = 0.0;
    for (size_t i = 0; i < n; i++) {
        mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
        double e = fabs(got[i] - want[i]);
        err = e > err ? e : err;
    }
    if (err > 2e-5 * mx) fail_msg("%s: max error %g of max %g", what, err, mx);
}

static void run(int B, int T, int H, int KV, int D) {
    size_t N = (size_t)B * T, qn = N * H * D, kn = N * KV * D;
    int qs = H * D, ks = KV * D, group = H / KV;
    float *q = malloc(qn * 4), *k = malloc(kn * 4), *v = malloc(kn * 4), *out = malloc(qn * 4);
    float *dout = malloc(qn * 4), *dq = calloc(qn, 4), *dk = calloc(kn, 4), *dv = calloc(kn, 4);
    float *lse = malloc((size_t)B * H * T * 4);
    double *wo = calloc(qn, 8), *wdq = calloc(qn, 8), *wdk = calloc(kn, 8), *wdv = calloc(kn, 8);
    double *wl = calloc((size_t)B * H * T, 8), *p = malloc((size_t)T * 8),
           *dp = malloc((size_t)T * 8);
    unsigned s = (unsigned)T;
    for (size_t i = 0; i < qn; i++) {
        q[i] = tu_frand(&s, -1.0f, 1.0f) * 2.0f;
        dout[i] = tu_frand(&s, -1.0f, 1.0f);
    }
    for (size_t i = 0; i < kn; i++) {
        k[i] = tu_frand(&s, -1.0f, 1.0f) * 2.0f;
        v[i] = tu_frand(&s, -1.0f, 1.0f);
    }
    double scale = 1.0 / sqrt((double)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            int kh = h / group;
            for (int t = 0; t < T; t++) {
                const float *qt = q + ((size_t)b * T + t) * qs + (size_t)h * D;
                double mx = -INFINITY, sum = 0.0;
                for (int u = 0; u <= t; u++) {
                    const float *ku = k + ((size_t)b * T + u) * ks + (size_t)kh * D;
                    double d = 0.0;
                    for (int i = 0; i < D; i++)
                        d += (double)qt[i] * ku[i];
                    p[u] = d * scale;
                    mx = p[u] > mx ? p[u] : mx;
                }
                for (int u = 0; u <= t; u++)
                    sum += (p[u] = exp(p[u] - mx));
                wl[((size_t)b * H + h) * T + t] = mx + log(sum);
                const float *dot = dout + ((size_t)b * T + t) * qs + (size_t)h * D;
                double *o = wo + ((size_t)b * T + t) * qs + (size_t)h * D, rowsum = 0.0;
                for (int u = 0; u <= t; u++) {
                    p[u] /= sum;
                    const float *vu = v + ((size_t)b * T + u) * ks + (size_t)kh * D;
                    double d = 0.0;
                    for (int i = 0; i < D; i++) {
                        o[i] += p[u] * vu[i];
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
                        wdq[((size_t)b * T + t) * qs + (size_t)h * D + i] += ds * k[ko + i];
                        wdk[ko + i] += ds * qt[i];
                    }
                }
            }
        }
    op_attention_forward(out, lse, q, k, v, B, T, H, KV, D);
    op_attention_backward(dq, dk, dv, dout, q, k, v, lse, B, T, H, KV, D);
    check(out, wo, qn, "out");
    float *lf = malloc((size_t)B * H * T * 4);
    memcpy(lf, lse, (size_t)B * H * T * 4);
    check(lf, wl, (size_t)B * H * T, "lse");
    check(dq, wdq, qn, "dq");
    check(dk, wdk, kn, "dk");
    check(dv, wdv, kn, "dv");
    free(q), free(k), free(v), free(out), free(dout), free(dq), free(dk), free(dv), free(lse);
    free(wo), free(wdq), free(wdk), free(wdv), free(wl), free(p), free(dp), free(lf);
}

static void test_one_tile(void **state) {
    (void)state;
    run(2, 12, 4, 2, 8);
}

static void test_several_tiles(void **state) {
    (void)state;
    run(1, 150, 4, 2, 16); /* tiles of 64, 64, 22 rows; two query heads per KV head */
    run(2, 128, 2, 2, 8);  /* exact multiple of the tile */
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_one_tile),
                                       cmocka_unit_test(test_several_tiles)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
