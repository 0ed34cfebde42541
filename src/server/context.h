/*
 * context.h — the state one running server shares between its modules (http, slots, routes,
 * jobs) and the route handlers each module provides. Internal to src/server/.
 */
#ifndef RT_SERVER_CONTEXT_H
#define RT_SERVER_CONTEXT_H

#include "ragtune.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/slots.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct srv_jobs srv_jobs;
typedef struct srv_collections srv_collections;

typedef struct srv {
    srv_params params;
    char *model_id; /* the base model's id in /v1/models */
    rt_model *model;
    rt_tokenizer *tokenizer;
    srv_batcher batcher; /* continuous batching of the slots (unused when batching is false) */
    bool batching;       /* the slots decode through batcher (params.batch, or measured) */
    srv_slots slots;
    srv_adapters adapters;
    /* Embeddings: one embedder behind a mutex (its context is not shared). */
    bool has_embedder;
    rt_embedder embedder;      /* the model's */
    rt_embedder embedder_safe; /* the same behind embed_mu, given to collections */
    pthread_mutex_t embed_mu;
    srv_metrics metrics;
    srv_collections *collections;
    srv_jobs *jobs;
    atomic_bool ready;    /* models loaded */
    atomic_bool stopping; /* shutdown began: generations stop, jobs pause */
    /* Streaming producers still running (shutdown waits for them). */
    pthread_mutex_t producers_mu;
    pthread_cond_t producers_cv;
    int n_producers;
} srv;

/* Route handlers: each answers rq (queues exactly one response) and returns an MHD status. */
int srv_route_models(srv *s, srv_request *rq);
int srv_route_chat(srv *s, srv_request *rq);
int srv_route_completions(srv *s, srv_request *rq);
int srv_route_embeddings(srv *s, srv_request *rq);
int srv_route_lora_list(srv *s, srv_request *rq);
int srv_route_lora_set(srv *s, srv_request *rq);

int srv_collections_open(srv *s);
void srv_collections_close(srv *s);
int srv_route_collections(srv *s, srv_request *rq); /* /v1/collections[/...], /v1/vector_stores */
/* Answers a chat request with a collection through rt_ask (called by srv_route_chat). */
struct srv_gen_request;
int srv_chat_rag(srv *s, srv_request *rq, const struct srv_gen_request *g);

int srv_jobs_open(srv *s);    /* loads persisted jobs, starts the worker */
void srv_jobs_close(srv *s);  /* stops the worker, persists */
int srv_jobs_running(srv *s); /* 1 while a job trains */
/* Multipart upload of POST /v1/files, fed as the body arrives (see server.c). */
int srv_files_upload_begin(srv *s, srv_request *rq);
int srv_files_upload_data(srv *s, srv_request *rq, const char *data, size_t size);
int srv_route_files(srv *s, srv_request *rq);
int srv_route_jobs(srv *s, srv_request *rq);
int srv_route_compare_jobs(srv *s, srv_request *rq); /* /v1/compare/jobs[/...] */

int srv_route_web(srv *s, srv_request *rq);

/* Writes prefix + 24 random hex digits into out ("chatcmpl-...", "file-...", "ftjob-..."). */
void srv_random_id(char *out, size_t cap, const char *prefix);

/* Validates a collection, file or job name: [A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}, no "..".
 * A name that passes is safe as one path component. */
bool srv_name_valid(const char *name);

#endif
