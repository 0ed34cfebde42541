/*
 * test_server_batcher.c — the server's continuous-batching scheduler (src/server/batcher.c) on a
 * tiny random llama: sequences decoded by several threads through srv_batcher_decode, with no
 * gather wait (continuous: a step runs as soon as one sequence is ready) and with the longest
 * wait, end with the same logits as each decoded alone (relative 1e-5 of the largest logit);
 * the scheduler stepped every token; a sequence that leaves does not hold the others up; an
 * adaptive batcher (its mode chosen from measured tokens/s, starting batched or alone) gives the
 * same results, also while its mode changes under load, and one starting alone runs no batched
 * step before its first window; the start-up calibration returns consistent costs. No timing is asserted (batch_policy's decisions
 * are tested with made-up windows in test_server_batch_policy).
 */
#include "testutil.h"

#include "core/error.h"
#include "model/model.h"
#include "server/batcher.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N_SEQ = 4, N_VOCAB = 40, N_CTX = 48, N_STEPS = 10 };
static const double REL_TOL = 1e-5;

typedef struct fixture {
    tu_model m;
} fixture;

static void model_open(fixture *f) {
    tu_random_model_open(&f->m, RT_ARCH_LLAMA, N_VOCAB, 48, N_CTX, RT_DTYPE_F32, 4242u);
}

static void model_close(fixture *f) {
    tu_random_model_close(&f->m);
}

/* Sequence i's tokens: a prompt of i + 1 tokens, then greedy decoding. */
typedef struct sequence {
    fixture *f;
    srv_batcher *b; /* NULL: decode alone */
    int i;
    int n_steps; /* decode steps before leaving */
    int status;
    float logits[N_VOCAB]; /* after the last step */
    int32_t tokens[N_STEPS];
} sequence;

static void *run_sequence(void *arg) {
    sequence *q = arg;
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = N_CTX;
    rt_context *ctx;
    q->status = rt_context_new(q->f->m.model, &cp, &ctx);
    if (q->status != RT_OK) return NULL;
    int32_t prompt[N_SEQ];
    for (int t = 0; t <= q->i; t++)
        prompt[t] = (int32_t)((7 * q->i + 3 * t + 1) % N_VOCAB);
    q->status = rt_model_eval(ctx, prompt, q->i + 1, NULL);
    for (int s = 0; s < q->n_steps && q->status == RT_OK; s++) {
        const float *lg = rt_context_logits(ctx);
        int32_t best = 0;
        for (int v = 1; v < N_VOCAB; v++)
            if (lg[v] > lg[best]) best = v;
        q->tokens[s] = best;
        q->status = q->b ? srv_batcher_decode(q->b, ctx, best) : rt_model_eval(ctx, &best, 1, NULL);
    }
    if (q->status == RT_OK) memcpy(q->logits, rt_context_logits(ctx), sizeof q->logits);
    if (q->b) srv_batcher_leave(q->b, ctx);
    rt_context_free(ctx);
    return NULL;
}

/* Runs N_SEQ sequences on their own threads (through b, or alone). */
static void run_all(fixture *f, srv_batcher *b, const int *n_steps, sequence *out) {
    pthread_t th[N_SEQ];
    for (int i = 0; i < N_SEQ; i++) {
        out[i] = (sequence){.f = f, .b = b, .i = i, .n_steps = n_steps[i]};
        assert_int_equal(pthread_create(&th[i], NULL, run_sequence, &out[i]), 0);
    }
    for (int i = 0; i < N_SEQ; i++)
        pthread_join(th[i], NULL);
}

typedef struct toggler {
    srv_batcher *b;
    atomic_bool stop;
    int n_toggles;
} toggler;

static void *toggle_modes(void *arg) {
    toggler *t = arg;
    struct timespec pause = {0, 200000}; /* 0.2 ms */
    while (!atomic_load(&t->stop)) {
        srv_batcher_adapt(t->b, t->n_toggles++ % 2 == 0);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* together decoded the same tokens as alone, and its logits agree (REL_TOL of the largest). */
static void check_same(const sequence *alone, const sequence *together) {
    assert_int_equal(alone->status, RT_OK);
    assert_int_equal(together->status, RT_OK);
    assert_memory_equal(alone->tokens, together->tokens, sizeof alone->tokens);
    double scale = 0;
    for (int v = 0; v < N_VOCAB; v++)
        scale = fmax(scale, fabs(alone->logits[v]));
    double d = tu_max_abs_diff(alone->logits, together->logits, N_VOCAB);
    if (d > REL_TOL * fmax(scale, 1.0))
        fail_msg("sequence %d: batched logits differ by %g (scale %g)", alone->i, d, scale);
}

/* adapt: 0 every step batched; 1 or 2 an adaptive batcher starting alone (1) or batched (2),
 * whose mode may change at any window, so only the results are checked, not how they ran; 3 a
 * thread changes the mode every 0.2 ms while the sequences decode (steps pending in the
 * scheduler when it goes alone, sequences mid-step alone when it goes batched). */
static void check_batched(double gather_s, int adapt) {
    fixture f;
    model_open(&f);
    /* different lengths: sequences leave while the others go on */
    const int n_steps[N_SEQ] = {N_STEPS, 3, N_STEPS, 6};
    sequence alone[N_SEQ], together[N_SEQ];
    run_all(&f, NULL, n_steps, alone);
    srv_batcher b;
    assert_int_equal(srv_batcher_init(&b, N_SEQ, gather_s), RT_OK);
    assert_true(srv_batcher_batching(&b, NULL));
    if (adapt) {
        srv_batcher_adapt(&b, adapt == 2);
        assert_int_equal(srv_batcher_batching(&b, NULL), adapt == 2);
    }
    toggler t = {.b = &b};
    atomic_init(&t.stop, false);
    pthread_t th;
    if (adapt == 3) assert_int_equal(pthread_create(&th, NULL, toggle_modes, &t), 0);
    run_all(&f, &b, n_steps, together);
    if (adapt == 3) {
        atomic_store(&t.stop, true);
        pthread_join(th, NULL);
        assert_true(t.n_toggles > 0);
    }
    uint64_t steps, stepped;
    srv_batcher_stats(&b, &steps, &stepped);
    srv_batcher_free(&b);
    int total = 0;
    for (int i = 0; i < N_SEQ; i++) {
        check_same(&alone[i], &together[i]);
        total += n_steps[i];
    }
    if (adapt) {
        assert_true(stepped <= (uint64_t)total && steps <= stepped);
    } else {
        /* every decode step went through the scheduler, none twice */
        assert_int_equal(stepped, (uint64_t)total);
        assert_true(steps >= (uint64_t)N_STEPS && steps <= (uint64_t)total);
    }
    model_close(&f);
}

static void test_continuous_no_wait(void **state) {
    (void)state;
    check_batched(0, 0);
}

static void test_longest_wait(void **state) {
    (void)state;
    check_batched(1.0, 0); /* clamped to SRV_BATCH_WAIT_MAX */
}

static void test_adaptive(void **state) {
    (void)state;
    check_batched(0, 1);
    check_batched(SRV_BATCH_WAIT_MAX, 2);
    for (int round = 0; round < 3; round++)
        check_batched(SRV_BATCH_WAIT_MAX, 3);
}

/* An adaptive batcher that starts alone runs no batched step before its first window ends. */
static void test_adaptive_alone_first(void **state) {
    (void)state;
    fixture f;
    model_open(&f);
    const int n_steps[N_SEQ] = {3, 3, 3, 3}; /* 12 steps: fewer than SRV_POLICY_MIN_TOKENS */
    sequence together[N_SEQ];
    srv_batcher b;
    assert_int_equal(srv_batcher_init(&b, N_SEQ, 0), RT_OK);
    srv_batcher_adapt(&b, false);
    run_all(&f, &b, n_steps, together);
    uint64_t steps, stepped;
    srv_batcher_stats(&b, &steps, &stepped);
    unsigned switches = 1;
    assert_false(srv_batcher_batching(&b, &switches));
    assert_int_equal(switches, 0);
    srv_batcher_free(&b);
    assert_int_equal(steps, 0);
    assert_int_equal(stepped, 0);
    for (int i = 0; i < N_SEQ; i++)
        assert_int_equal(together[i].status, RT_OK);
    model_close(&f);
}

static void test_calibrate(void **state) {
    (void)state;
    fixture f;
    model_open(&f);
    srv_batch_cost c;
    assert_int_equal(srv_batcher_calibrate(f.m.model, 1, &c), RT_ERR_RANGE);
    assert_int_equal(srv_batcher_calibrate(f.m.model, SRV_CALIBRATE_MAX + 1, &c), RT_ERR_RANGE);
    assert_int_equal(srv_batcher_calibrate(f.m.model, 3, &c), RT_OK);
    assert_int_equal(c.k, 3);
    assert_true(c.single_s > 0 && isfinite(c.single_s));
    if (c.measured) {
        assert_true(c.batch_s > 0 && isfinite(c.batch_s));
        assert_true(c.alone_s > 0 && isfinite(c.alone_s));
        assert_true(c.fixed_s >= 0 && c.fixed_s <= c.single_s);
        assert_int_equal(srv_batch_cost_pays(&c), c.batch_s <= c.alone_s);
    } else {
        assert_true(c.single_s > SRV_CALIBRATE_SLOW);
        assert_true(srv_batch_cost_pays(&c));
    }
    model_close(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continuous_no_wait),
        cmocka_unit_test(test_longest_wait),
        cmocka_unit_test(test_adaptive),
        cmocka_unit_test(test_adaptive_alone_first),
        cmocka_unit_test(test_calibrate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
