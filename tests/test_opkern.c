/*
 * test_opkern.c — every level of the inference row kernels (model/opkern.h) against a double
 * precision computation with libm, on random inputs of odd lengths (vector body and tails), and
 * every level against the scalar one; then rt_op_attention (threaded, GQA, causal) against the
 * double reference. Tolerances: exponentials 1e-6 relative (the polynomial is within 2 ulp of
 * expf), times 1 + |argument| where the argument is itself a rounded float difference; sums, norms and attention 2e-6 relative to the size of the terms they combine (float
 * accumulation of up to 1000 terms in a different order per level); tanh-GELU as v sigmoid(2u)
 * 1e-6 absolute; erf-GELU 1e-6 absolute.
 */
#include "testutil.h"

#include "model/opkern.h"
#include "model/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int lengths[] = {1, 3, 7, 15, 16, 17, 33, 64, 100, 255, 1000};
enum { N_LEN = sizeof lengths / sizeof *lengths, MAXN = 1000 };

static unsigned seed = 7;

static void fill(float *x, int n, float lo, float hi) {
    for (int i = 0; i < n; i++)
        x[i] = tu_frand(&seed, lo, hi);
}

static void check(double got, double want, double tol, double scale, const char *what, int n) {
    if (!(fabs(got - want) <= tol * scale))
        fail_msg("%s n=%d: got %.9g want %.9g (tol %g x %g)", what, n, got, want, tol, scale);
}

static void each_level(void (*fn)(const opkern_table *)) {
    int run = 0;
    for (int lv = RT_CPU_SCALAR; lv < RT_CPU_LEVEL_COUNT; lv++) {
        const opkern_table *t = opkern_get_level((rt_cpu_level)lv);
        if (!t) continue;
        assert_int_equal(t->level, lv);
        fn(t);
        run++;
    }
    assert_true(run >= 1);
}

static void norms(const opkern_table *k) {
    static float x[MAXN], w[MAXN], b[MAXN], o[MAXN];
    for (int li = 0; li < N_LEN; li++) {
        int n = lengths[li];
        fill(x, n, -3, 3);
        fill(w, n, -1, 1);
        fill(b, n, -1, 1);
        double ss = 0, sum = 0;
        for (int i = 0; i < n; i++) {
            ss += (double)x[i] * x[i];
            sum += x[i];
        }
        double r = 1.0 / sqrt(ss / n + 1e-5);
        k->rmsnorm_row(o, x, w, n, 1e-5f);
        for (int i = 0; i < n; i++)
            check(o[i], x[i] * r * w[i], 2e-6, fabs(x[i] * r) + 1e-6, "rmsnorm", n);
        memcpy(o, x, sizeof(float) * n); /* in place */
        k->rmsnorm_row(o, o, w, n, 1e-5f);
        for (int i = 0; i < n; i++)
            check(o[i], x[i] * r * w[i], 2e-6, fabs(x[i] * r) + 1e-6, "rmsnorm in place", n);
        double mean = sum / n, var = 0;
        for (int i = 0; i < n; i++)
            var += (x[i] - mean) * (x[i] - mean);
        double rs = 1.0 / sqrt(var / n + 1e-5);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            k->layernorm_row(o, x, w, with_bias ? b : NULL, n, 1e-5f);
            for (int i = 0; i < n; i++) {
                double want = (x[i] - mean) * rs * w[i] + (with_bias ? b[i] : 0);
                check(o[i], want, 2e-6, (fabs(x[i]) + fabs(mean)) * rs + 1, "layernorm", n);
            }
        }
    }
}

static void softmax_and_activations(const opkern_table *k) {
    static float x[MAXN], y[MAXN], up[MAXN];
    for (int li = 0; li < N_LEN; li++) {
        int n = lengths[li];
        fill(x, n, -20, 20);
        memcpy(y, x, sizeof(float) * n);
        k->softmax(y, n);
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++)
            mx = x[i] > mx ? x[i] : mx;
        for (int i = 0; i < n; i++)
            sum += exp((double)x[i] - mx);
        /* x - max is rounded in float: an error of ulp(|x - max|) in the exponent */
        for (int i = 0; i < n; i++) {
            double want = exp((double)x[i] - mx) / sum;
            check(y[i], want, 1e-6, want * (1 + fabs(x[i] - mx)), "softmax", n);
        }

        fill(x, n, -8, 8);
        fill(up, n, -2, 2);
        memcpy(y, x, sizeof(float) * n);
        k->swiglu(y, up, n);
        for (int i = 0; i < n; i++)
            check(y[i], x[i] / (1 + exp(-(double)x[i])) * up[i], 1e-6,
                  fabs((double)x[i] * up[i]) + 1e-30, "swiglu", n);
        memcpy(y, x, sizeof(float) * n);
        k->gelu_tanh(y, n);
        for (int i = 0; i < n; i++) {
            double v = x[i], u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
            check(y[i], 0.5 * v * (1 + tanh(u)), 1e-6, 1 + fabs(v), "gelu_tanh", n);
        }
        memcpy(y, x, sizeof(float) * n);
        k->gelu_erf(y, n);
        for (int i = 0; i < n; i++) {
            double v = x[i];
            check(y[i], 0.5 * v * (1 + erf(v / sqrt(2.0))), 1e-6, 1 + fabs(v), "gelu_erf", n);
        }
        memcpy(y, x, sizeof(float) * n);
        k->add(y, up, n);
        for (int i = 0; i < n; i++)
            assert_true(y[i] == x[i] + up[i]);
    }
}

static void rope(const opkern_table *k) {
    enum { H = 3, HD = 34 };
    float x[H * HD], y[H * HD], cs[HD];
    fill(x, H * HD, -2, 2);
    for (int i = 0; i < HD / 2; i++) {
        double a = 0.37 * (i + 1);
        cs[2 * i] = (float)cos(a);
        cs[2 * i + 1] = (float)sin(a);
    }
    for (int inter = 0; inter < 2; inter++) {
        memcpy(y, x, sizeof y);
        k->rope_row(y, cs, H, HD, inter);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < HD / 2; i++) {
                int i0 = h * HD + (inter ? 2 * i : i),
                    i1 = h * HD + (inter ? 2 * i + 1 : i + HD / 2);
                double c = cs[2 * i], s = cs[2 * i + 1];
                check(y[i0], x[i0] * c - x[i1] * s, 1e-6, 4, "rope", HD);
                check(y[i1], x[i1] * c + x[i0] * s, 1e-6, 4, "rope", HD);
            }
    }
}

/* out (hd) for one head, double precision */
static void attention_ref(double *out, const float *q, const float *kc, const float *vc,
                          size_t stride, int n_see, int hd, double scale) {
    double *s = malloc(sizeof(double) * n_see), mx = -INFINITY, sum = 0;
    for (int j = 0; j < n_see; j++) {
        double d = 0;
        for (int i = 0; i < hd; i++)
            d += (double)q[i] * kc[j * stride + i];
        s[j] = d * scale;
        mx = s[j] > mx ? s[j] : mx;
    }
    for (int j = 0; j < n_see; j++)
        sum += (s[j] = exp(s[j] - mx));
    for (int i = 0; i < hd; i++) {
        out[i] = 0;
        for (int j = 0; j < n_see; j++)
            out[i] += s[j] / sum * vc[j * stride + i];
    }
    free(s);
}

/* Head sizes of whole vectors take the vector kernel (2-16 vectors of 16 lanes at the AVX-512
 * level, of 8 at AVX2, of 4 at the scalar level), the others the plain loops; lengths around
 * its 16-, 8- and 4-key blocks. */
static void attention_head(const opkern_table *k) {
    static float kc[MAXN * 259], vc[MAXN * 259], att[MAXN];
    float q[256], out[256];
    double want[256];
    const int dims[] = {1, 8, 17, 32, 64, 72, 80, 96, 128, 256};
    for (int di = 0; di < (int)(sizeof dims / sizeof *dims); di++) {
        int hd = dims[di];
        size_t stride = (size_t)hd + 3; /* rows wider than one head, as in a GQA cache */
        for (int li = 0; li < N_LEN; li++) {
            int n = lengths[li];
            fill(q, hd, -1, 1);
            fill(kc, (int)(n * stride), -1, 1);
            fill(vc, (int)(n * stride), -1, 1);
            k->attention_head(out, q, kc, vc, stride, n, hd, 0.5f, att);
            attention_ref(want, q, kc, vc, stride, n, hd, 0.5);
            for (int i = 0; i < hd; i++)
                check(out[i], want[i], 2e-6, 1, "attention_head", n);
        }
    }
}

/* Every level gives the scalar level's results within the tolerance above. */
static void same_as_scalar(const opkern_table *k) {
    const opkern_table *s = opkern_get_level(RT_CPU_SCALAR);
    static float x[MAXN], w[MAXN], a[MAXN], b[MAXN];
    for (int li = 0; li < N_LEN; li++) {
        int n = lengths[li];
        fill(x, n, -5, 5);
        fill(w, n, -1, 1);
        s->rmsnorm_row(a, x, w, n, 1e-6f);
        k->rmsnorm_row(b, x, w, n, 1e-6f);
        for (int i = 0; i < n; i++)
            check(b[i], a[i], 4e-6, fabs(a[i]) + 1e-6, "rmsnorm vs scalar", n);
        memcpy(a, x, sizeof(float) * n);
        memcpy(b, x, sizeof(float) * n);
        s->softmax(a, n);
        k->softmax(b, n);
        for (int i = 0; i < n; i++)
            check(b[i], a[i], 2e-6, a[i] + 1e-30, "softmax vs scalar", n);
    }
}

#define LEVEL_TEST(name)                                                                           \
    static void test_##name(void **state) {                                                        \
        (void)state;                                                                               \
        each_level(name);                                                                          \
    }
LEVEL_TEST(norms)
LEVEL_TEST(softmax_and_activations)
LEVEL_TEST(rope)
LEVEL_TEST(attention_head)
LEVEL_TEST(same_as_scalar)

/* rt_op_attention: T new tokens at pos0 against a cache of n_kv, GQA, causal and not, threaded
 * (work above the threading threshold), against attention_ref per (token, head). */
static void test_op_attention(void **state) {
    (void)state;
    enum { T = 9, POS0 = 40, NKV = 49, NH = 6, NKVH = 2, HD = 64 };
    size_t stride = (size_t)NKVH * HD;
    float *q = malloc(sizeof(float) * T * NH * HD), *out = malloc(sizeof(float) * T * NH * HD);
    float *kc = malloc(sizeof(float) * NKV * stride), *vc = malloc(sizeof(float) * NKV * stride);
    float *scratch = malloc(sizeof(float) * 8 * NKV);
    double want[HD];
    fill(q, T * NH * HD, -1, 1);
    fill(kc, (int)(NKV * stride), -1, 1);
    fill(vc, (int)(NKV * stride), -1, 1);
    for (int causal = 0; causal < 2; causal++) {
        rt_op_attention(out, q, kc, vc, T, POS0, NKV, NH, NKVH, HD, stride, causal, scratch, 8);
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                int n_see = causal ? POS0 + t + 1 : NKV, g = h / (NH / NKVH);
                attention_ref(want, q + ((size_t)t * NH + h) * HD, kc + g * HD, vc + g * HD, stride,
                              n_see, HD, 1.0 / sqrt((double)HD));
                for (int i = 0; i < HD; i++)
                    check(out[((size_t)t * NH + h) * HD + i], want[i], 2e-6, 1, "rt_op_attention",
                          n_see);
            }
    }
    free(q);
    free(out);
    free(kc);
    free(vc);
    free(scratch);
}

/* The elementwise ops split into spans over threads: same results as one call per element. */
static void test_op_spans(void **state) {
    (void)state;
    size_t n = 50001;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    float *up = malloc(sizeof(float) * n), *z = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        x[i] = tu_frand(&seed, -6, 6);
        up[i] = tu_frand(&seed, -1, 1);
    }
    const opkern_table *k = opkern_get();
    memcpy(y, x, sizeof(float) * n);
    rt_op_swiglu(y, up, n);
    for (size_t i = 0; i < n; i++) {
        z[i] = x[i];
        k->swiglu(z + i, up + i, 1);
    }
    assert_memory_equal(y, z, sizeof(float) * n);
    memcpy(y, x, sizeof(float) * n);
    rt_op_add(y, up, n);
    for (size_t i = 0; i < n; i++)
        assert_true(y[i] == x[i] + up[i]);
    free(x);
    free(y);
    free(up);
    free(z);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norms),          cmocka_unit_test(test_softmax_and_activations),
        cmocka_unit_test(test_rope),           cmocka_unit_test(test_attention_head),
        cmocka_unit_test(test_same_as_scalar), cmocka_unit_test(test_op_attention),
        cmocka_unit_test(test_op_spans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
