/*
 * metrics.h — the server's Prometheus counters: requests by route and status, a latency
 * histogram, prompt and generated tokens, queue depth and busy slots (gauges read at scrape
 * time). Updated from many threads under one mutex (a handful of adds per request).
 */
#ifndef RT_SERVER_METRICS_H
#define RT_SERVER_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "core/strbuf.h"

#define SRV_METRIC_ROUTES 48
#define SRV_LATENCY_BUCKETS 14

typedef struct srv_metrics {
    pthread_mutex_t mu;
    struct {
        const char *route; /* static string */
        int status;
        uint64_t count;
    } requests[SRV_METRIC_ROUTES];
    int n_requests;
    uint64_t latency_bucket[SRV_LATENCY_BUCKETS]; /* cumulative at render time */
    uint64_t latency_count;
    double latency_sum;
    uint64_t prompt_tokens, completion_tokens, embedding_tokens;
    uint64_t rejected_queue_full;
    uint64_t cancelled;
} srv_metrics;

void srv_metrics_init(srv_metrics *m);
void srv_metrics_destroy(srv_metrics *m);
/* One finished request: route name (static), status and seconds from arrival. */
void srv_metrics_request(srv_metrics *m, const char *route, int status, double seconds);
void srv_metrics_tokens(srv_metrics *m, uint64_t prompt, uint64_t completion);
void srv_metrics_add(srv_metrics *m, uint64_t *counter, uint64_t n);
/* Appends the exposition text (version 0.0.4); gauges are passed in. */
int srv_metrics_render(srv_metrics *m, rt_strbuf *out, int queue_depth, int slots_busy,
                       int slots_total, int jobs_running);

#endif
