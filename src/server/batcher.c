/*
 * batcher.c — the continuous-batching scheduler (see batcher.h).
 */
#include "server/batcher.h"

#include "core/error.h"

#include <errno.h>
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
        /* give the other decoding sequences a moment to hand in their tokens */
        struct timespec until = deadline_in(SRV_BATCH_WAIT);
        while (!b->closing && b->n_pending < b->n_members)
            if (pthread_cond_timedwait(&b->work_cv, &b->mu, &until) == ETIMEDOUT) break;
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

int srv_batcher_init(srv_batcher *b, int cap) {
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
    if (!alone) {
        b->pending[b->n_pending++] = &item;
        pthread_cond_signal(&b->work_cv);
        while (!item.done)
            pthread_cond_wait(&b->done_cv, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    if (alone || item.status != RT_OK) return rt_model_eval(ctx, &token, 1, NULL);
    return RT_OK;
}

void srv_batcher_leave(srv_batcher *b, rt_context *ctx) {
    if (!b->cap) return;
    pthread_mutex_lock(&b->mu);
    int i = member_index(b, ctx);
    if (i >= 0) {
        b->members[i] = b->members[--b->n_members];
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
