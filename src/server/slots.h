/*
 * slots.h — the serving engine's parallel slots and the adapter registry.
 *
 * A slot is one rt_session (its own KV cache, prefix reuse across its requests) over the one
 * shared rt_model; a request holds a slot for its whole generation, on its own thread. When
 * every slot is busy a request waits in a bounded queue; past the bound it is refused (429).
 * With a batcher (batcher.h), the slots' decode steps are batched: sequences of different
 * requests are decoded together in one forward pass; without, each slot decodes on its own.
 *
 * Adapters are loaded once (read-only, shared by every slot) and never unloaded while the
 * server runs; each slot sets its own adapter set before each request, so one request's
 * adapters never reach another's.
 */
#ifndef RT_SERVER_SLOTS_H
#define RT_SERVER_SLOTS_H

#include "ragtune.h"
#include "server/batcher.h"

#include <pthread.h>
#include <stdbool.h>

typedef struct srv_slot {
    int id;
    rt_session *session;
    bool busy;
    uint64_t affinity; /* key of the last request served (see srv_slots_acquire) */
} srv_slot;

typedef struct srv_slots {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_slot *slots;
    int n;
    int waiting;   /* requests queued for a slot */
    int max_queue; /* waiting beyond this is refused */
    bool closing;
    srv_batcher *batcher; /* NULL: no batching */
} srv_slots;

enum { SRV_SLOT_OK = 0, SRV_SLOT_QUEUE_FULL = 1, SRV_SLOT_TIMEOUT = 2, SRV_SLOT_CLOSING = 3 };

/* Opens n sessions over model/tokenizer (shared, caller-owned); with batcher (may be NULL;
 * caller-owned, outlives the slots) their decode steps go through it. */
int srv_slots_init(srv_slots *sl, int n, int max_queue, rt_model *model,
                   const rt_tokenizer *tokenizer, int n_ctx, srv_batcher *batcher);
void srv_slots_free(srv_slots *sl);
/* Takes a free slot, waiting up to deadline (rt_time_now() seconds) in the queue; among free
 * slots, one whose last request had the same affinity key (model, adapters and the start of the
 * prompt) is preferred, so its KV cache prefix and adapter set are reused.
 * Returns SRV_SLOT_OK with *out, or why not. */
int srv_slots_acquire(srv_slots *sl, double deadline, uint64_t affinity, srv_slot **out);
/* Frees the slot (its sequence leaves the batch). */
void srv_slots_release(srv_slots *sl, srv_slot *slot);
/* The slot's generation ended (another may follow in the same slot): it leaves the batch. */
void srv_slot_generation_done(srv_slots *sl, srv_slot *slot);
/* Wakes every waiter with SRV_SLOT_CLOSING from now on. */
void srv_slots_close(srv_slots *sl);
void srv_slots_stats(srv_slots *sl, int *waiting, int *busy);

typedef struct srv_adapter_entry {
    char *name; /* id in requests and /v1/models ("base:name" or the ft: model id) */
    char *path;
    rt_adapter *adapter;
    float scale; /* global scale (POST /lora-adapters); 0 = off by default */
} srv_adapter_entry;

typedef struct srv_adapters {
    pthread_mutex_t mu;
    srv_adapter_entry **items; /* entries never move or go away while the server runs */
    int n, cap;
} srv_adapters;

void srv_adapters_init(srv_adapters *a);
void srv_adapters_free(srv_adapters *a);
/* Loads path for model and registers it under name with a global scale; *id (may be NULL)
 * gets its index. RT_ERR_INVALID when the name is taken. */
int srv_adapters_add(srv_adapters *a, const rt_model *model, const char *path, const char *name,
                     float scale, int *id);
/* Index of the adapter named name, or -1. */
int srv_adapters_find(srv_adapters *a, const char *name);
int srv_adapters_count(srv_adapters *a);
/* A snapshot of entry id (NULL when out of range); the entry itself is stable. */
srv_adapter_entry *srv_adapters_get(srv_adapters *a, int id);
void srv_adapters_set_scale(srv_adapters *a, int id, float scale);

#endif
