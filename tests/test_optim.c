/*
 * test_optim.c — optimizers, clipping and schedules against hand-computed values.
 */
#include "testutil.h"

#include "train/optim.h"
#include "train/schedule.h"

#include <math.h>
#include <string.h>

/* One AdamW step from zero state: m = 0.1 g, v = 0.001 g^2, bias-corrected m/sqrt(v) = sign(g),
 * so p' = p (1 - lr wd) - lr * g / (|g| + eps). */
static void test_adamw_first_step(void **state) {
    (void)state;
    optim o;
    assert_int_equal(optim_init(&o, OPTIM_ADAMW, 3, 0.1f), 0);
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.5f, -0.25f, 0.0f};
    optim_step(&o, p, g, NULL, 0, 0.01f);
    assert_float_equal(p[0], 1.0f * (1 - 0.001f) - 0.01f, 1e-6);
    assert_float_equal(p[1], -2.0f * (1 - 0.001f) + 0.01f, 1e-6);
    assert_float_equal(p[2], 0.5f * (1 - 0.001f), 1e-6);
    /* second step with the same gradient: m/sqrt(v) still sign(g) after bias correction */
    optim_step(&o, p, g, NULL, 0, 0.01f);
    assert_float_equal(p[0], (1.0f * 0.999f - 0.01f) * 0.999f - 0.01f, 1e-5);
    optim_free(&o);
}

static void test_weight_decay_groups(void **state) {
    (void)state;
    optim o;
    assert_int_equal(optim_init(&o, OPTIM_ADAMW, 2, 0.5f), 0);
    tm_param ps[2];
    memset(ps, 0, sizeof ps);
    ps[0].offset = 0, ps[0].n = 1, ps[0].decay = true;
    ps[1].offset = 1, ps[1].n = 1, ps[1].decay = false;
    float p[2] = {1.0f, 1.0f}, g[2] = {0.0f, 0.0f};
    optim_step(&o, p, g, ps, 2, 0.1f);
    assert_float_equal(p[0], 0.95f, 1e-7);
    assert_float_equal(p[1], 1.0f, 0.0);
    optim_free(&o);
}

static void test_sgd_momentum(void **state) {
    (void)state;
    optim o;
    assert_int_equal(optim_init(&o, OPTIM_SGD, 1, 0.0f), 0);
    o.momentum = 0.9f;
    float p = 1.0f, g = 1.0f;
    optim_step(&o, &p, &g, NULL, 0, 0.1f); /* buf = 1 */
    assert_float_equal(p, 0.9f, 1e-7);
    optim_step(&o, &p, &g, NULL, 0, 0.1f); /* buf = 1.9 */
    assert_float_equal(p, 0.71f, 1e-6);
    optim_free(&o);
}

static void test_clip(void **state) {
    (void)state;
    float g[2] = {3.0f, 4.0f};
    float norm = optim_clip_grad_norm(g, 2, 1.0f);
    assert_float_equal(norm, 5.0f, 1e-6);
    assert_float_equal(g[0], 0.6f, 1e-5);
    assert_float_equal(g[1], 0.8f, 1e-5);
    float h[2] = {0.3f, 0.4f};
    optim_clip_grad_norm(h, 2, 1.0f);
    assert_float_equal(h[0], 0.3f, 0.0);
}

static void test_schedules(void **state) {
    (void)state;
    /* warmup 10 of 110: step 5 -> 0.5 for every kind */
    assert_float_equal(schedule_factor(SCHEDULE_COSINE, 5, 10, 110), 0.5, 1e-12);
    assert_float_equal(schedule_factor(SCHEDULE_LINEAR, 5, 10, 110), 0.5, 1e-12);
    assert_float_equal(schedule_factor(SCHEDULE_CONSTANT, 5, 10, 110), 0.5, 1e-12);
    /* half way through the decay: cosine 0.5, linear 0.5; at the end 0 */
    assert_float_equal(schedule_factor(SCHEDULE_COSINE, 60, 10, 110), 0.5, 1e-12);
    assert_float_equal(schedule_factor(SCHEDULE_LINEAR, 60, 10, 110), 0.5, 1e-12);
    assert_float_equal(schedule_factor(SCHEDULE_COSINE, 110, 10, 110), 0.0, 1e-12);
    assert_float_equal(schedule_factor(SCHEDULE_CONSTANT, 100, 10, 110), 1.0, 0.0);
    /* a quarter: cosine (1 + cos(pi/4)) / 2 */
    assert_float_equal(schedule_factor(SCHEDULE_COSINE, 35, 10, 110), 0.5 * (1 + cos(M_PI * 0.25)),
                       1e-12);
    schedule_kind k;
    assert_int_equal(schedule_parse("linear", &k), 0);
    assert_int_equal(k, SCHEDULE_LINEAR);
    assert_int_equal(schedule_parse("bogus", &k), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_first_step), cmocka_unit_test(test_weight_decay_groups),
        cmocka_unit_test(test_sgd_momentum),     cmocka_unit_test(test_clip),
        cmocka_unit_test(test_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
