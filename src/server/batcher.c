/*
 * batcher.c — the continuous-batching scheduler and its start-up calibration (see batcher.h).
 */
#include "server/batcher.h"

#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct srv_batch_item {
    rt_context *ctx;
    int32_t token;
    int status;
    bool done;
};

static struct timespec deadline_in(double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

static void *scheduler(void *arg) {
    srv_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->closing && b->n_pending == 0)
            pthread_cond_wait(&b->work_cv, &b->mu);
        if (b->n_pending == 0) break; /* closing with nothing left */
        /* wait for the other decoding sequences only as long as joining this step saves */
        if (b->gather_s > 0 && b->batched && b->n_pending < b->n_members) {
            struct timespec until = deadline_in(b->gather_s);
            while (!b->closing && b->batched && b->n_pending < b->n_members)
                if (pthread_cond_timedwait(&b->work_cv, &b->mu, &until) == ETIMEDOUT) break;
        }
        int n = b->n_pending;
        for (int i = 0; i < n; i++) {
            b->step_items[i] = b->pending[i];
            b->step_ctxs[i] = b->pending[i]->ctx;
            b->step_tokens[i] = b->pending[i]->token;
        }
        b->n_pending = 0;
        pthread_mutex_unlock(&b->mu);
        int rc = rt_decode_batch(b->step_ctxs, b->step_tokens, n);
        pthread_mutex_lock(&b->mu);
        for (int i = 0; i < n; i++) {
            b->step_items[i]->status = rc;
            b->step_items[i]->done = true;
        }
        b->n_steps++;
        b->n_tokens += (uint64_t)n;
        pthread_cond_broadcast(&b->done_cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- calibration ---- */

enum { CALIBRATE_STEPS = 4, CALIBRATE_RUNS = 3 };

/* Holds the calibration threads until every one of them is started. */
typedef struct start_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
} start_gate;

typedef struct alone_run {
    rt_context *ctx;
    int32_t token;
    int status;
    start_gate *gate;
} alone_run;

/* What a slot does without a batcher: CALIBRATE_STEPS decode steps of its own sequence. */
static void *decode_alone(void *arg) {
    alone_run *a = arg;
    pthread_mutex_lock(&a->gate->mu);
    while (!a->gate->open)
        pthread_cond_wait(&a->gate->cv, &a->gate->mu);
    pthread_mutex_unlock(&a->gate->mu);
    for (int i = 0; i < CALIBRATE_STEPS && a->status == RT_OK; i++)
        a->status = rt_model_eval(a->ctx, &a->token, 1, NULL);
    return NULL;
}

/* Seconds per step of k sequences each decoding alone on its own thread, all at once (the
 * clock starts once every thread exists, so thread creation is not counted). */
static int time_alone(rt_context **ctxs, int k, int32_t token, double *out) {
    alone_run runs[SRV_CALIBRATE_MAX];
    pthread_t threads[SRV_CALIBRATE_MAX];
    start_gate gate = {.open = false};
    pthread_mutex_init(&gate.mu, NULL);
    pthread_cond_init(&gate.cv, NULL);
    int started = 0, st = RT_OK;
    for (int i = 0; i < k; i++) {
        runs[i] = (alone_run){ctxs[i], token, RT_OK, &gate};
        if (pthread_create(&threads[i], NULL, decode_alone, &runs[i]) != 0) {
            st = rt_error(RT_ERR_IO, "batcher: cannot start a calibration thread");
            break;
        }
        started++;
    }
    pthread_mutex_lock(&gate.mu);
    gate.open = true;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    double t0 = rt_time_now();
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        if (st == RT_OK) st = runs[i].status;
    }
    *out = (rt_time_now() - t0) / CALIBRATE_STEPS;
    pthread_mutex_destroy(&gate.mu);
    pthread_cond_destroy(&gate.cv);
    return st;
}

/* Seconds per step of the first n sequences: batched, or (n == 1) one rt_model_eval. */
static int time_steps(rt_context **ctxs, const int32_t *tokens, int n, double *out) {
    int st = RT_OK;
    double t0 = rt_time_now();
    for (int i = 0; i < CALIBRATE_STEPS && st == RT_OK; i++)
        st = n == 1 ? rt_model_eval(ctxs[0], tokens, 1, NULL) : rt_decode_batch(ctxs, tokens, n);
    *out = (rt_time_now() - t0) / CALIBRATE_STEPS;
    return st;
}

static void rewind_all(rt_context **ctxs, int k) {
    for (int i = 0; i < k; i++)
        rt_context_rewind(ctxs[i], 1);
}

int srv_batcher_calibrate(rt_model *model, int k, srv_batch_cost *out) {
    memset(out, 0, sizeof *out);
    if (k < 2 || k > SRV_CALIBRATE_MAX)
        return rt_error(RT_ERR_RANGE, "batcher: calibrating %d sequences (2..%d)", k,
                        SRV_CALIBRATE_MAX);
    out->k = k;
    rt_context *ctxs[SRV_CALIBRATE_MAX] = {0};
    int32_t tokens[SRV_CALIBRATE_MAX];
    int32_t token = rt_model_bos(model) >= 0 ? rt_model_bos(model) : 0;
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = 2 + CALIBRATE_STEPS;
    int st = RT_OK;
    for (int i = 0; i < k && st == RT_OK; i++) {
        tokens[i] = token;
        st = rt_context_new(model, &cp, &ctxs[i]);
        if (st == RT_OK) st = rt_model_eval(ctxs[i], &token, 1, NULL);
    }
    double single = 0, batch = 0, alone = 0;
    out->single_s = out->batch_s = out->alone_s = INFINITY;
    for (int run = 0; run < CALIBRATE_RUNS && st == RT_OK; run++) {
        st = time_steps(ctxs, tokens, 1, &single);
        rewind_all(ctxs, k);
        if (st != RT_OK) break;
        if (single < out->single_s) out->single_s = single;
        if (single > SRV_CALIBRATE_SLOW) break; /* memory-bound: batching pays; not timed */
        st = time_steps(ctxs, tokens, k, &batch);
        rewind_all(ctxs, k);
        if (st == RT_OK) st = time_alone(ctxs, k, token, &alone);
        rewind_all(ctxs, k);
        if (st != RT_OK) break;
        out->measured = true;
        if (batch < out->batch_s) out->batch_s = batch;
        if (alone < out->alone_s) out->alone_s = alone;
    }
    for (int i = 0; i < k; i++)
        rt_context_free(ctxs[i]);
    if (st != RT_OK) return rt_error_wrap("batcher: calibrating");
    if (out->measured) {
        double per_sequence = (out->batch_s - out->single_s) / (k - 1);
        out->fixed_s = out->single_s - per_sequence > 0 ? out->single_s - per_sequence : 0;
    } else {
        out->batch_s = out->alone_s = NAN;
        out->fixed_s = out->single_s;
    }
    return RT_OK;
}

bool srv_batch_cost_pays(const srv_batch_cost *c) {
    return !c->measured || c->batch_s <= c->alone_s;
}

/* ---- the scheduler's life ---- */

int srv_batcher_init(srv_batcher *b, int cap, double gather_s) {
    memset(b, 0, sizeof *b);
    if (cap < 1 || cap > RT_DECODE_BATCH_MAX)
        return rt_error(RT_ERR_RANGE, "batcher: %d sequences (1..%d)", cap, RT_DECODE_BATCH_MAX);
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->work_cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&b->done_cv, NULL);
    b->cap = cap;
    b->batched = true;
    srv_batch_policy_init(&b->policy, true);
    b->gather_s = gather_s > 0 ? (gather_s < SRV_BATCH_WAIT_MAX ? gather_s : SRV_BATCH_WAIT_MAX) : 0;
    b->pending = rt_calloc((size_t)cap, sizeof *b->pending);
    b->members = rt_calloc((size_t)cap, sizeof *b->members);
    b->step_items = rt_calloc((size_t)cap, sizeof *b->step_items);
    b->step_ctxs = rt_calloc((size_t)cap, sizeof *b->step_ctxs);
    b->step_tokens = rt_calloc((size_t)cap, sizeof *b->step_tokens);
    if (!b->pending || !b->members || !b->step_items || !b->step_ctxs || !b->step_tokens)
        return RT_ERR_NOMEM;
    if (pthread_create(&b->thread, NULL, scheduler, b) != 0)
        return rt_error(RT_ERR_IO, "batcher: cannot start the scheduler thread");
    b->started = true;
    return RT_OK;
}

void srv_batcher_adapt(srv_batcher *b, bool batched) {
    if (!b->cap) return;
    pthread_mutex_lock(&b->mu);
    b->adaptive = true;
    b->batched = batched;
    srv_batch_policy_init(&b->policy, batched);
    b->win_tokens = 0;
    pthread_mutex_unlock(&b->mu);
}

/* Counts one decode step (mu held, the sequence a member) in the current window; a window long
 * enough goes to the policy, which sets the mode of the next one. */
static void window_step(srv_batcher *b) {
    double now = rt_time_now();
    if (b->win_tokens == 0) {
        b->win_start = now;
        b->win_active = 0;
    }
    b->win_tokens += 1;
    b->win_active += b->n_members;
    if (now - b->win_start < SRV_POLICY_WINDOW || b->win_tokens < SRV_POLICY_MIN_TOKENS) return;
    srv_batch_window w = {.batched = b->batched,
                          .seconds = now - b->win_start,
                          .tokens = b->win_tokens,
                          .mean_active = b->win_active / b->win_tokens};
    bool was = b->batched;
    b->batched = srv_batch_policy_update(&b->policy, &w);
    b->win_tokens = 0;
    if (b->batched != was)
        rt_log_debug("batching: %s for the next window (%.0f tokens/s %s, %.1f sequences)",
                     b->batched ? "on" : "off", w.tokens / w.seconds, was ? "batched" : "alone",
                     w.mean_active);
}

void srv_batcher_close(srv_batcher *b) {
    if (!b->started) return;
    pthread_mutex_lock(&b->mu);
    b->closing = true;
    pthread_cond_broadcast(&b->work_cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    b->started = false;
}

void srv_batcher_free(srv_batcher *b) {
    if (!b->cap) return;
    srv_batcher_close(b);
    free(b->pending);
    free(b->members);
    free(b->step_items);
    free(b->step_ctxs);
    free(b->step_tokens);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work_cv);
    pthread_cond_destroy(&b->done_cv);
    memset(b, 0, sizeof *b);
}

static int member_index(const srv_batcher *b, const rt_context *ctx) {
    for (int i = 0; i < b->n_members; i++)
        if (b->members[i] == ctx) return i;
    return -1;
}

int srv_batcher_decode(void *user, rt_context *ctx, int32_t token) {
    srv_batcher *b = user;
    srv_batch_item item = {.ctx = ctx, .token = token};
    pthread_mutex_lock(&b->mu);
    bool alone = b->closing || !b->started;
    if (!alone && member_index(b, ctx) < 0) {
        if (b->n_members == b->cap)
            alone = true; /* more sequences than slots: not one of ours */
        else
            b->members[b->n_members++] = ctx;
    }
    if (!alone && b->adaptive) window_step(b);
    bool batched = !alone && b->batched;
    if (batched) {
        b->pending[b->n_pending++] = &item;
        pthread_cond_signal(&b->work_cv);
        while (!item.done)
            pthread_cond_wait(&b->done_cv, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    if (!batched || item.status != RT_OK) return rt_model_eval(ctx, &token, 1, NULL);
    return RT_OK;
}

void srv_batcher_leave(srv_batcher *b, rt_context *ctx) {
    if (!b->cap) return;
    pthread_mutex_lock(&b->mu);
    int i = member_index(b, ctx);
    if (i >= 0) {
        b->members[i] = b->members[--b->n_members];
        if (b->n_members == 0) b->win_tokens = 0; /* idle: the window starts over */
        pthread_cond_signal(&b->work_cv); /* the step may wait for nobody else now */
    }
    pthread_mutex_unlock(&b->mu);
}

void srv_batcher_stats(srv_batcher *b, uint64_t *steps, uint64_t *tokens) {
    *steps = *tokens = 0;
    if (!b->cap) return;
    pthread_mutex_lock(&b->mu);
    *steps = b->n_steps;
    *tokens = b->n_tokens;
    pthread_mutex_unlock(&b->mu);
}

bool srv_batcher_batching(srv_batcher *b, unsigned *n_switches) {
    if (n_switches) *n_switches = 0;
    if (!b->cap) return false;
    pthread_mutex_lock(&b->mu);
    bool on = b->started && b->batched;
    if (n_switches) *n_switches = b->policy.n_switches;
    pthread_mutex_unlock(&b->mu);
    return on;
}
