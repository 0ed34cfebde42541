/*
 * batcher.h — continuous batching for the server's slots. Each slot's session decodes through
 * srv_batcher_decode (an rt_decode_fn): the request thread hands over its sequence and the
 * token it sampled and waits, while one scheduler thread gathers every sequence that is
 * decoding and steps them all together with rt_decode_batch, so the weights are read once per
 * step for all requests instead of once per request. Sequences join at their first decode step
 * and leave when their generation ends (srv_batcher_leave), so requests come and go between
 * steps. Prefill stays on the request's own thread, one sequence at a time.
 *
 * A step starts as soon as every sequence decoding has handed in its token, or SRV_BATCH_WAIT
 * after the first one did (a request busy elsewhere, e.g. writing to a slow client, delays the
 * others by at most that much). Sampling, detokenizing and streaming stay on the request
 * threads, in parallel.
 */
#ifndef RT_SERVER_BATCHER_H
#define RT_SERVER_BATCHER_H

#include "ragtune.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SRV_BATCH_WAIT 0.001 /* seconds */

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
    bool closing;
    bool started;
    pthread_t thread;
    uint64_t n_steps, n_tokens; /* steps run and sequences stepped, for /metrics */
} srv_batcher;

/* Starts the scheduler thread for up to cap sequences at once. */
int srv_batcher_init(srv_batcher *b, int cap);
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

#endif
