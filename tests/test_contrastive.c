/*
 * test_contrastive.c — InfoNCE and pooling of train/contrastive.c on cases computed by hand.
 *
 * The 2x2 case: q1 = (1, 0), q2 = (0.6, 0.8), p1 = (0, 1), p2 = (1, 0), temperature 1, so
 * S = [[0, 1], [0.8, 0.6]].
 *   query->passage: row 1  log(1 + e) - 0                     = 1.3132617
 *                   row 2  0.8 + log(1 + e^-0.2) - 0.6        = 0.7981389   mean 1.0557003
 *   passage->query: col 1  0.8 + log(1 + e^-0.8)              = 1.1711006
 *                   col 2  1 + log(1 + e^-0.4) - 0.6          = 0.9130153   mean 1.0420580
 *   symmetric: (1.0557003 + 1.0420580) / 2 = 1.0488791
 *   d/dq1 (query->passage) = (softmax(0, 1) - (1, 0)) / 2 . [p1; p2] = (0.3655293, -0.3655293)
 *   d/dq2                  = (softmax(0.8, 0.6) - (0, 1)) / 2 . [p1; p2] = (-0.2749170, 0.2749170)
 * Tolerance 1e-6 (float inputs, double arithmetic).
 */
#include "testutil.h"

#include "train/contrastive.h"

#include <math.h>
#include <string.h>

static const float Q[4] = {1.0f, 0.0f, 0.6f, 0.8f};
static const float P[4] = {0.0f, 1.0f, 1.0f, 0.0f};

static void test_infonce_2x2(void **state) {
    (void)state;
    float dq[4], dp[4];
    double l = ct_infonce(Q, P, 2, 2, 1.0f, false, dq, dp);
    assert_true(fabs(l - 1.0557003) < 1e-6);
    assert_true(fabs(dq[0] - 0.3655293) < 1e-6 && fabs(dq[1] + 0.3655293) < 1e-6);
    assert_true(fabs(dq[2] + 0.2749170) < 1e-6 && fabs(dq[3] - 0.2749170) < 1e-6);
    l = ct_infonce(Q, P, 2, 2, 1.0f, true, NULL, NULL);
    assert_true(fabs(l - 1.0488791) < 1e-6);
    /* temperature 0.5 doubles the scores: row 1 = log(1 + e^2) = 2.1269280 */
    float q1p2[4] = {1.0f, 0.0f, 0.0f, 1.0f}, p2[4] = {0.0f, 1.0f, 1.0f, 0.0f};
    l = ct_infonce(q1p2, p2, 2, 2, 0.5f, false, NULL, NULL);
    assert_true(fabs(l - 2.1269280) < 1e-6);
}

/* Gradients against central differences of the loss (random unit vectors, 4 x 3). */
static void test_infonce_gradient(void **state) {
    (void)state;
    float q[12], p[12], dq[12], dp[12];
    for (int i = 0; i < 12; i++) {
        q[i] = sinf(1.3f * i + 0.2f);
        p[i] = cosf(0.7f * i - 0.4f);
    }
    ct_infonce(q, p, 4, 3, 0.3f, true, dq, dp);
    for (int i = 0; i < 12; i++) {
        float h = 1e-3f, o = q[i];
        q[i] = o + h;
        double lp = ct_infonce(q, p, 4, 3, 0.3f, true, NULL, NULL);
        q[i] = o - h;
        double lm = ct_infonce(q, p, 4, 3, 0.3f, true, NULL, NULL);
        q[i] = o;
        assert_true(fabs((lp - lm) / (2 * h) - dq[i]) < 1e-4);
        o = p[i];
        p[i] = o + h;
        lp = ct_infonce(q, p, 4, 3, 0.3f, true, NULL, NULL);
        p[i] = o - h;
        lm = ct_infonce(q, p, 4, 3, 0.3f, true, NULL, NULL);
        p[i] = o;
        assert_true(fabs((lp - lm) / (2 * h) - dp[i]) < 1e-4);
    }
}

/* Mean over the first len rows only, then unit length; padding rows get no gradient. */
static void test_pool(void **state) {
    (void)state;
    /* B = 1, T = 3, C = 2, len 2: rows (3, 0), (1, 2) -> mean (2, 1) -> (2, 1)/sqrt(5) */
    float h[6] = {3, 0, 1, 2, 100, -100}, out[2], norm;
    int len = 2;
    ct_pool(h, &len, 1, 3, 2, out, &norm);
    assert_true(fabsf(out[0] - 2 / sqrtf(5)) < 1e-6f && fabsf(out[1] - 1 / sqrtf(5)) < 1e-6f);
    assert_true(fabsf(norm - sqrtf(5)) < 1e-6f);
    float dout[2] = {1, 0}, dh[6];
    ct_pool_backward(dh, dout, out, &norm, &len, 1, 3, 2);
    /* d out0 / d e = (1 - u0^2)/|e| = (1 - 4/5)/sqrt(5); d out0/ d e1 = -u0 u1/|e| ; / len */
    assert_true(fabsf(dh[0] - (0.2f / sqrtf(5)) / 2) < 1e-6f);
    assert_true(fabsf(dh[1] - (-0.4f / sqrtf(5)) / 2) < 1e-6f);
    assert_true(dh[2] == dh[0] && dh[3] == dh[1] && dh[4] == 0 && dh[5] == 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_infonce_2x2),
        cmocka_unit_test(test_infonce_gradient),
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
