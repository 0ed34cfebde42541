/*
 * batcher.h — continuous batching for the server's slots. Each slot's session decodes through
 * srv_batcher_decode (an rt_decode_fn): the request thread hands over its sequence and the
 * token it sampled and waits, while one scheduler thread gathers every sequence that is
 * decoding and steps them all together with rt_decode_batch, so the weights are read once per
 * step for all requests instead of once per request. Sequences join at their first decode step
 * and leave when their generation ends (srv_batcher_leave), so requests come and go between
 * steps. Prefill stays on the request's own thread, one sequence at a time.
 *
 * The scheduler is continuous: it steps as soon as one sequence has handed in its token, and
 * whoever hands in while a step runs joins the next one. It waits for the other decoding
 * sequences only as long as that pays: at most half the fixed (weight-reading) part of a step,
 * as srv_batcher_calibrate measured it, so a compute-bound model whose weights sit in cache
 * steps at once, and a request busy elsewhere (e.g. writing to a slow client) delays the
 * others by at most that much. Sampling, detokenizing and streaming stay on the request
 * threads, in parallel.
 *
 * Whether batching pays at all depends on the model and the machine: srv_batcher_calibrate
 * times k sequences decoded together against the same k decoded alone on k threads at once
 * (what the server does without a batcher), so the server can guess at start-up. That guess is
 * noisy for a model whose step takes a fraction of a millisecond (k threads share the cores),
 * so an adaptive batcher (srv_batcher_adapt) goes on deciding while it serves: it counts the
 * decode steps of all its sequences in windows, and batch_policy.h picks the mode (batched, or
 * each sequence decoding alone on its request thread, as without a batcher) from the tokens/s
 * the two modes reached at the same load.
 */
#ifndef RT_SERVER_BATCHER_H
#define RT_SERVER_BATCHER_H

#include "ragtune.h"
#include "server/batch_policy.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* The longest a step waits for the other sequences, whatever the calibration said. */
#define SRV_BATCH_WAIT_MAX 0.002 /* seconds */

typedef struct srv_batch_item srv_batch_item;

typedef struct srv_batcher {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* the scheduler waits for tokens */
    pthread_cond_t done_cv; /* request threads wait for their step */
    int cap;                /* sequences at most (one per slot) */
    srv_batch_item **pending; /* (cap) handed in for the next step */
    int n_pending;
    rt_context **members; /* (cap) sequences decoding now */
    int n_members;
    /* the step being run: (cap) each */
    srv_batch_item **step_items;
    rt_context **step_ctxs;
    int32_t *step_tokens;
    double gather_s; /* a step waits at most this long for the other sequences */
    bool closing;
    bool started;
    pthread_t thread;
    uint64_t n_steps, n_tokens; /* steps run and sequences stepped, for /metrics */
    /* the mode: batched steps through the scheduler, or each sequence alone on its thread */
    bool batched;
    bool adaptive; /* the mode follows policy (srv_batcher_adapt) */
    srv_batch_policy policy;
    double win_start;  /* rt_time_now() at the current window's first decode step */
    double win_tokens; /* decode steps in the current window (0: none yet) */
    double win_active; /* sum over those steps of the sequences decoding */
} srv_batcher;

/* What srv_batcher_calibrate measured (seconds per decode step; the best of a few runs). */
typedef struct srv_batch_cost {
    int k;           /* sequences per step */
    double single_s; /* one sequence alone */
    double batch_s;  /* k sequences in one rt_decode_batch step */
    double alone_s;  /* k sequences, each alone on its own thread, all at once (wall) */
    double fixed_s;  /* the part of a step that does not grow with its sequences (>= 0) */
    bool measured;   /* false: a step is too slow to time at start-up (memory-bound: batch) */
} srv_batch_cost;

/* Decodes a few steps of k fresh sequences of model (k >= 2) with and without batching and
 * fills *out. A model whose single step takes longer than SRV_CALIBRATE_SLOW is not timed
 * further (out->measured false). Errors: the model's (e.g. an encoder). */
#define SRV_CALIBRATE_SLOW 0.05 /* seconds */
#define SRV_CALIBRATE_MAX 16      /* k at most */
int srv_batcher_calibrate(rt_model *model, int k, srv_batch_cost *out);
/* True when batching k sequences decodes at least as fast as decoding them alone. */
bool srv_batch_cost_pays(const srv_batch_cost *c);

/* Starts the scheduler thread for up to cap sequences at once; a step waits at most gather_s
 * (clamped to 0..SRV_BATCH_WAIT_MAX) for sequences that have not handed in their token. */
int srv_batcher_init(srv_batcher *b, int cap, double gather_s);
/* From now on the mode follows the tokens/s measured while serving (batch_policy.h), starting
 * batched or not (the measurements so far are dropped). Safe while sequences decode; without
 * it, every step is batched. */
void srv_batcher_adapt(srv_batcher *b, bool batched);
/* Runs what was handed in, stops the scheduler; later decode steps run alone. Idempotent. */
void srv_batcher_close(srv_batcher *b);
/* Closes (if needed) and frees. */
void srv_batcher_free(srv_batcher *b);
/* rt_decode_fn (user = the batcher): appends token to ctx in the next batched step. A step the
 * batch refused runs again alone on the calling thread, so its error is the caller's. */
int srv_batcher_decode(void *user, rt_context *ctx, int32_t token);
/* ctx's generation ended: the scheduler stops waiting for it. A no-op for a non-member. */
void srv_batcher_leave(srv_batcher *b, rt_context *ctx);
void srv_batcher_stats(srv_batcher *b, uint64_t *steps, uint64_t *tokens);
/* Whether steps are batched now (false for a batcher never started); *n_switches (may be NULL)
 * gets how often an adaptive batcher changed its mind. */
bool srv_batcher_batching(srv_batcher *b, unsigned *n_switches);

#endif
