/*
 * test_tkern.c — every level of the training kernel table (train/tkern.h) against a double
 * precision computation with libm, on lengths that exercise the vector body and the tails.
 * Tolerances: the exponential 3e-7 relative (Cephes' expf is within 2 ulp = 2.4e-7); sums and
 * norms 1e-5 relative (float accumulation of up to 1000 terms); elementwise results 1e-6 to 2e-6
 * of the size of the terms they combine (where a difference cancels, of the terms, not the
 * result).
 */
#include "testutil.h"

#include "train/tkern.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int lengths[] = {1, 7, 15, 16, 17, 33, 255, 1000};
enum { N_LEN = sizeof lengths / sizeof *lengths, MAXN = 1000 };

static void check_rel(double got, double want, double tol) {
    double scale = fabs(want) > 1e-30 ? fabs(want) : 1.0;
    if (fabs(got - want) > tol * scale) fail_msg("got %.9g want %.9g (tol %g)", got, want, tol);
}

static void each_level(void (*fn)(const tkern_table *)) {
    int run = 0;
    for (int lv = RT_CPU_SCALAR; lv < RT_CPU_LEVEL_COUNT; lv++) {
        const tkern_table *t = tkern_get_level((rt_cpu_level)lv);
        if (!t) continue;
        fn(t);
        run++;
    }
    assert_true(run >= 1);
}

static void exp_and_softmax(const tkern_table *t) {
    static float x[MAXN], y[MAXN];
    unsigned s = 1;
    for (int li = 0; li < N_LEN; li++) {
        int n = lengths[li];
        for (int i = 0; i < n; i++)
            x[i] = tu_frand(&s, -100.0f, 60.0f);
        x[0] = -200.0f;               /* underflows to 0 */
        if (n > 1) x[n - 1] = 120.0f; /* clamped: exp(88.376), the largest finite result */
        memcpy(y, x, sizeof(float) * (size_t)n);
        double shift = -3.0, want_sum = 0.0;
        float sum = t->exp_shift_sum(y, n, (float)shift);
        for (int i = 0; i < n; i++) {
            float arg = x[i] - (float)shift;
            /* above the clamp the result is exp of the clamp (as a float) */
            double e = arg < -87.3365447505531f  ? 0.0
                       : arg > 88.3762626647949f ? exp((double)88.3762626647949f)
                                                 : exp(arg);
            check_rel(y[i], e, 3e-7);
            want_sum += y[i];
        }
        check_rel(sum, want_sum, 1e-5);
        float mx = -INFINITY;
        for (int i = 0; i < n; i++)
            mx = x[i] > mx ? x[i] : mx;
        assert_true(t->max(x, n) == mx);
    }
    assert_true(t->max(x, 0) == -INFINITY);
}

static void swiglu(const tkern_table *t) {
    static float g[MAXN], u[MAXN], h[MAXN], dh[MAXN], dg[MAXN], du[MAXN];
    unsigned s = 2;
    for (int li = 0; li < N_LEN; li++) {
        int n = lengths[li];
        for (int i = 0; i < n; i++) {
            g[i] = tu_frand(&s, -20.0f, 20.0f);
            u[i] = tu_frand(&s, -2.0f, 2.0f);
            dh[i] = tu_frand(&s, -1.0f, 1.0f);
        }
        t->swiglu_fwd(h, g, u, n);
        t->swiglu_bwd(dg, du, dh, g, u, n);
        for (int i = 0; i < n; i++) {
            double sg = 1.0 / (1.0 + exp(-(double)g[i]));
            check_rel(h[i], g[i] * sg * u[i], 1e-6);
            check_rel(du[i], dh[i] * g[i] * sg, 1e-6);
            /* 1 + g (1 - s) cancels near g = -1.28: the bound scales with the terms' size */
            double want = dh[i] * u[i] * sg * (1.0 + g[i] * (1.0 - sg));
            double size = fabs(dh[i] * u[i] * sg) * (1.0 + fabs(g[i]));
            if (fabs(dg[i] - want) > 2e-6 * size + 1e-30) fail_msg("swiglu dgate %d", i);
        }
        /* in place: dgate = dh */
        memcpy(h, dh, sizeof(float) * (size_t)n);
        t->swiglu_bwd(h, du, h, g, u, n);
        for (int i = 0; i < n; i++)
            assert_true(h[i] == dg[i]);
    }
}

static void rmsnorm(const tkern_table *t) {
    static float x[MAXN], w[MAXN], o[MAXN], d[MAXN], dx[MAXN], acc[MAXN];
    unsigned s = 3;
    for (int li = 0; li < N_LEN; li++) {
        int C = lengths[li];
        double ss = 0.0;
        for (int c = 0; c < C; c++) {
            x[c] = tu_frand(&s, -3.0f, 3.0f);
            w[c] = tu_frand(&s, 0.5f, 1.5f);
            d[c] = tu_frand(&s, -1.0f, 1.0f);
            dx[c] = 0.25f;
            acc[c] = 1.0f;
            ss += (double)x[c] * x[c];
        }
        double r = 1.0 / sqrt(ss / C + 1e-5);
        float rf = t->rmsnorm_fwd_row(o, x, w, C, 1e-5f);
        check_rel(rf, r, 1e-5);
        double dot = 0.0;
        for (int c = 0; c < C; c++) {
            check_rel(o[c], x[c] * r * w[c], 1e-5);
            dot += (double)d[c] * w[c] * x[c] * r;
        }
        dot /= C;
        t->rmsnorm_bwd_row(dx, d, x, w, rf, C);
        t->rmsnorm_dw_rows(acc, d, x, &rf, 1, C, C);
        for (int c = 0; c < C; c++) {
            double want = 0.25 + r * (d[c] * w[c] - x[c] * r * dot);
            if (fabs(dx[c] - want) > 1e-5 * (1.0 + fabs(want))) fail_msg("rmsnorm dx %d", c);
            double term = (double)d[c] * x[c] * rf;
            if (fabs(acc[c] - (1.0 + term)) > 1e-6 * (1.0 + fabs(term))) fail_msg("dw %d", c);
        }
    }
}

static void adamw_sumsq_scale(const tkern_table *t) {
    static float p[MAXN], g[MAXN], m[MAXN], v[MAXN];
    unsigned s = 4;
    for (int li = 0; li < N_LEN; li++) {
        int n = lengths[li];
        double want_ss = 0.0;
        for (int i = 0; i < n; i++) {
            p[i] = tu_frand(&s, -1.0f, 1.0f);
            g[i] = tu_frand(&s, -1.0f, 1.0f);
            m[i] = tu_frand(&s, -0.1f, 0.1f);
            v[i] = tu_frand(&s, 0.0f, 0.01f);
            want_ss += (double)g[i] * g[i];
        }
        check_rel(t->sumsq(g, n), want_ss, 1e-5);
        float p0[MAXN], m0[MAXN], v0[MAXN];
        memcpy(p0, p, sizeof(float) * (size_t)n);
        memcpy(m0, m, sizeof(float) * (size_t)n);
        memcpy(v0, v, sizeof(float) * (size_t)n);
        t->adamw(p, g, m, v, n, 0.999f, 0.9f, 0.999f, 0.3f, 1e-8f, 0.01f);
        for (int i = 0; i < n; i++) {
            /* the betas as the kernel has them: floats, and 1 - beta taken in float */
            double b1 = 0.9f, b2 = 0.999f, c1 = 1.0f - 0.9f, c2 = 1.0f - 0.999f;
            double mi = m0[i] * b1 + c1 * g[i], vi = v0[i] * b2 + c2 * (double)g[i] * g[i];
            double pi = p0[i] * 0.999 - 0.01 * mi / (sqrt(vi) / 0.3 + 1e-8);
            if (fabs(m[i] - mi) > 1e-6 * (fabs(m0[i] * b1) + fabs(c1 * g[i])))
                fail_msg("adamw m %d", i);
            check_rel(v[i], vi, 1e-6);
            /* p0 decay minus the step: bound by the size of both terms */
            double size = fabs(p0[i]) + 0.01 * fabs(mi / (sqrt(vi) / 0.3 + 1e-8));
            if (fabs(p[i] - pi) > 1e-6 * size) fail_msg("adamw p %d: %g vs %g", i, p[i], pi);
        }
        t->scale(g, n, 0.5f);
        check_rel(t->sumsq(g, n), want_ss * 0.25, 1e-5);
    }
}

static void softmax_backward(const tkern_table *t) {
    static float pr[MAXN], d[MAXN];
    unsigned s = 5;
    for (int li = 0; li < N_LEN; li++) {
        int n = lengths[li];
        double dot = 0.0;
        float d0[MAXN];
        for (int i = 0; i < n; i++) {
            pr[i] = tu_frand(&s, 0.0f, 1.0f);
            d[i] = d0[i] = tu_frand(&s, -1.0f, 1.0f);
            dot += (double)pr[i] * d[i];
        }
        t->softmax_bwd_row(pr, d, n, 0.125f);
        for (int i = 0; i < n; i++) {
            double want = pr[i] * (d0[i] - dot) * 0.125;
            if (fabs(d[i] - want) > 1e-6 * (1.0 + fabs(want))) fail_msg("softmax bwd %d", i);
        }
    }
}

static void rope(const tkern_table *t) {
    static const int dims[] = {2, 8, 34, 64, 128};
    unsigned s = 6;
    for (int di = 0; di < 5; di++)
        for (int inter = 0; inter < 2; inter++) {
            int D = dims[di], H = 3, half = D / 2;
            float x[3 * 128], y[3 * 128], c[64], sn[64];
            for (int i = 0; i < H * D; i++)
                x[i] = y[i] = tu_frand(&s, -2.0f, 2.0f);
            for (int i = 0; i < half; i++) {
                double a = tu_frand(&s, -3.0f, 3.0f);
                c[i] = (float)cos(a);
                sn[i] = (float)sin(a);
            }
            float sign = inter ? -1.0f : 1.0f;
            t->rope_row(y, c, sn, H, D, inter, sign);
            for (int h = 0; h < H; h++)
                for (int i = 0; i < half; i++) {
                    int i0 = h * D + (inter ? 2 * i : i),
                        i1 = h * D + (inter ? 2 * i + 1 : i + half);
                    double ss = (double)sign * sn[i];
                    double w0 = (double)x[i0] * c[i] - (double)x[i1] * ss;
                    double w1 = (double)x[i1] * c[i] + (double)x[i0] * ss;
                    if (fabs(y[i0] - w0) > 1e-6 * (fabs(x[i0]) + fabs(x[i1])) ||
                        fabs(y[i1] - w1) > 1e-6 * (fabs(x[i0]) + fabs(x[i1])))
                        fail_msg("rope D %d interleaved %d head %d pair %d", D, inter, h, i);
                }
        }
}

/* NaN and infinities in (a diverged run): NaN stays NaN, +inf clamps, -inf gives 0, and no
 * undefined behaviour on the way (UBSan checks the integer conversion in the polynomial). */
static void exp_nonfinite(const tkern_table *t) {
    float x[17];
    for (int i = 0; i < 17; i++)
        x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    float sum = t->exp_shift_sum(x, 17, 0.0f);
    assert_true(isnan(sum));
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 0) assert_true(isnan(x[i]));
        if (i % 3 == 1) check_rel(x[i], exp((double)88.3762626647949f), 3e-7);
        if (i % 3 == 2) assert_true(x[i] == 0.0f);
    }
}

/* one cmocka test per kernel group, each run on every level the CPU has */
#define LEVEL_TEST(fn)                                                                             \
    static void test_##fn(void **state) {                                                          \
        (void)state;                                                                               \
        each_level(fn);                                                                            \
    }
LEVEL_TEST(rope)
LEVEL_TEST(exp_and_softmax)
LEVEL_TEST(swiglu)
LEVEL_TEST(rmsnorm)
LEVEL_TEST(adamw_sumsq_scale)
LEVEL_TEST(softmax_backward)
LEVEL_TEST(exp_nonfinite)

/* tkern_get follows core/cpu's level */
static void test_dispatch(void **state) {
    (void)state;
    assert_int_equal(tkern_get()->level >= RT_CPU_AVX512 ? RT_CPU_AVX512 : tkern_get()->level,
                     rt_cpu_level_get() >= RT_CPU_AVX512 ? RT_CPU_AVX512 : rt_cpu_level_get());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_and_softmax),  cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_rmsnorm),          cmocka_unit_test(test_adamw_sumsq_scale),
        cmocka_unit_test(test_softmax_backward), cmocka_unit_test(test_rope),
        cmocka_unit_test(test_dispatch),         cmocka_unit_test(test_exp_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
