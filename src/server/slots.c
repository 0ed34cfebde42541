/*
 * slots.c — slot pool with a bounded wait queue, and the adapter registry (see slots.h).
 */
#include "server/slots.h"

#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int srv_slots_init(srv_slots *sl, int n, int max_queue, rt_model *model,
                   const rt_tokenizer *tokenizer, int n_ctx, srv_batcher *batcher) {
    memset(sl, 0, sizeof *sl);
    sl->batcher = batcher;
    pthread_mutex_init(&sl->mu, NULL);
    pthread_cond_init(&sl->cv, NULL);
    sl->max_queue = max_queue;
    sl->slots = rt_calloc((size_t)n, sizeof *sl->slots);
    if (!sl->slots) return RT_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        rt_session_params sp = rt_session_default_params();
        sp.model = model;
        sp.tokenizer = tokenizer;
        sp.n_ctx = n_ctx;
        if (batcher) {
            sp.decode = srv_batcher_decode;
            sp.decode_user = batcher;
        }
        int rc = rt_session_open(&sp, &sl->slots[i].session);
        if (rc != RT_OK) return rt_error_wrap("slot %d", i);
        sl->slots[i].id = i;
        sl->n = i + 1;
    }
    return RT_OK;
}

void srv_slots_free(srv_slots *sl) {
    for (int i = 0; i < sl->n; i++)
        rt_session_close(sl->slots[i].session);
    free(sl->slots);
    sl->slots = NULL;
    sl->n = 0;
    pthread_mutex_destroy(&sl->mu);
    pthread_cond_destroy(&sl->cv);
}

int srv_slots_acquire(srv_slots *sl, double deadline, uint64_t affinity, srv_slot **out) {
    pthread_mutex_lock(&sl->mu);
    int rc = SRV_SLOT_OK;
    bool queued = false;
    for (;;) {
        if (sl->closing) {
            rc = SRV_SLOT_CLOSING;
            break;
        }
        srv_slot *free_slot = NULL;
        for (int i = 0; i < sl->n; i++) {
            srv_slot *c = &sl->slots[i];
            if (c->busy) continue;
            if (!free_slot || (c->affinity == affinity && free_slot->affinity != affinity))
                free_slot = c;
        }
        if (free_slot) {
            free_slot->busy = true;
            free_slot->affinity = affinity;
            *out = free_slot;
            break;
        }
        if (!queued) {
            if (sl->waiting >= sl->max_queue) {
                rc = SRV_SLOT_QUEUE_FULL;
                break;
            }
            sl->waiting++;
            queued = true;
        }
        double now = rt_time_now();
        if (now >= deadline) {
            rc = SRV_SLOT_TIMEOUT;
            break;
        }
        /* the condition variable waits on the real-time clock; wait in short steps so a
         * deadline on the monotonic clock is honoured */
        double wait = deadline - now < 1.0 ? deadline - now : 1.0;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long ns = (long long)ts.tv_nsec + (long long)(wait * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000LL);
        ts.tv_nsec = (long)(ns % 1000000000LL);
        pthread_cond_timedwait(&sl->cv, &sl->mu, &ts);
    }
    if (queued) sl->waiting--;
    pthread_mutex_unlock(&sl->mu);
    return rc;
}

void srv_slot_generation_done(srv_slots *sl, srv_slot *slot) {
    if (sl->batcher) srv_batcher_leave(sl->batcher, rt_session_context(slot->session));
}

void srv_slots_release(srv_slots *sl, srv_slot *slot) {
    srv_slot_generation_done(sl, slot);
    pthread_mutex_lock(&sl->mu);
    slot->busy = false;
    pthread_cond_broadcast(&sl->cv);
    pthread_mutex_unlock(&sl->mu);
}

void srv_slots_close(srv_slots *sl) {
    pthread_mutex_lock(&sl->mu);
    sl->closing = true;
    pthread_cond_broadcast(&sl->cv);
    pthread_mutex_unlock(&sl->mu);
}

void srv_slots_stats(srv_slots *sl, int *waiting, int *busy) {
    pthread_mutex_lock(&sl->mu);
    *waiting = sl->waiting;
    int b = 0;
    for (int i = 0; i < sl->n; i++)
        b += sl->slots[i].busy;
    *busy = b;
    pthread_mutex_unlock(&sl->mu);
}

/* ---- adapters ---- */

void srv_adapters_init(srv_adapters *a) {
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
}

void srv_adapters_free(srv_adapters *a) {
    for (int i = 0; i < a->n; i++) {
        rt_adapter_free(a->items[i]->adapter);
        free(a->items[i]->name);
        free(a->items[i]->path);
        free(a->items[i]);
    }
    free(a->items);
    pthread_mutex_destroy(&a->mu);
}

int srv_adapters_add(srv_adapters *a, const rt_model *model, const char *path, const char *name,
                     float scale, int *id) {
    if (srv_adapters_find(a, name) >= 0)
        return rt_error(RT_ERR_INVALID, "adapter name '%s' is already in use", name);
    rt_adapter *ad;
    RT_TRY(rt_adapter_load(model, path, &ad));
    srv_adapter_entry *e = rt_calloc(1, sizeof *e);
    if (!e) {
        rt_adapter_free(ad);
        return RT_ERR_NOMEM;
    }
    e->name = rt_strdup(name);
    e->path = rt_strdup(path);
    e->adapter = ad;
    e->scale = scale;
    pthread_mutex_lock(&a->mu);
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 8;
        srv_adapter_entry **items = realloc(a->items, (size_t)cap * sizeof *items);
        if (!items) {
            pthread_mutex_unlock(&a->mu);
            rt_adapter_free(ad);
            free(e->name);
            free(e->path);
            free(e);
            return rt_error(RT_ERR_NOMEM, "adapter registry");
        }
        a->items = items;
        a->cap = cap;
    }
    a->items[a->n] = e;
    if (id) *id = a->n;
    a->n++;
    pthread_mutex_unlock(&a->mu);
    return RT_OK;
}

int srv_adapters_find(srv_adapters *a, const char *name) {
    pthread_mutex_lock(&a->mu);
    int found = -1;
    for (int i = 0; i < a->n && found < 0; i++)
        if (strcmp(a->items[i]->name, name) == 0) found = i;
    pthread_mutex_unlock(&a->mu);
    return found;
}

int srv_adapters_count(srv_adapters *a) {
    pthread_mutex_lock(&a->mu);
    int n = a->n;
    pthread_mutex_unlock(&a->mu);
    return n;
}

srv_adapter_entry *srv_adapters_get(srv_adapters *a, int id) {
    pthread_mutex_lock(&a->mu);
    srv_adapter_entry *e = id >= 0 && id < a->n ? a->items[id] : NULL;
    pthread_mutex_unlock(&a->mu);
    return e;
}

void srv_adapters_set_scale(srv_adapters *a, int id, float scale) {
    pthread_mutex_lock(&a->mu);
    if (id >= 0 && id < a->n) a->items[id]->scale = scale;
    pthread_mutex_unlock(&a->mu);
}
