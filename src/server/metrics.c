/*
 * metrics.c — Prometheus text exposition of the server's counters (see metrics.h).
 */
#include "server/metrics.h"

#include <string.h>

static const double latency_le[SRV_LATENCY_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                       1,     2.5,  5,     10,   30,  60,   300};

void srv_metrics_init(srv_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void srv_metrics_destroy(srv_metrics *m) {
    pthread_mutex_destroy(&m->mu);
}

void srv_metrics_request(srv_metrics *m, const char *route, int status, double seconds) {
    pthread_mutex_lock(&m->mu);
    int i = 0;
    while (i < m->n_requests &&
           !(m->requests[i].status == status && strcmp(m->requests[i].route, route) == 0))
        i++;
    if (i == m->n_requests && i < SRV_METRIC_ROUTES) {
        m->requests[i].route = route;
        m->requests[i].status = status;
        m->requests[i].count = 0;
        m->n_requests++;
    }
    if (i < m->n_requests) m->requests[i].count++;
    for (int b = 0; b < SRV_LATENCY_BUCKETS; b++)
        if (seconds <= latency_le[b]) {
            m->latency_bucket[b]++;
            break;
        }
    m->latency_count++;
    m->latency_sum += seconds;
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_tokens(srv_metrics *m, uint64_t prompt, uint64_t completion) {
    pthread_mutex_lock(&m->mu);
    m->prompt_tokens += prompt;
    m->completion_tokens += completion;
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_add(srv_metrics *m, uint64_t *counter, uint64_t n) {
    pthread_mutex_lock(&m->mu);
    *counter += n;
    pthread_mutex_unlock(&m->mu);
}

int srv_metrics_render(srv_metrics *m, rt_strbuf *o, int queue_depth, int slots_busy,
                       int slots_total, int jobs_running) {
    pthread_mutex_lock(&m->mu);
    rt_strbuf_puts(o, "# HELP ragtune_requests_total HTTP requests answered.\n"
                      "# TYPE ragtune_requests_total counter\n");
    for (int i = 0; i < m->n_requests; i++)
        rt_strbuf_printf(o, "ragtune_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
                         m->requests[i].route, m->requests[i].status,
                         (unsigned long long)m->requests[i].count);
    rt_strbuf_puts(o, "# HELP ragtune_request_duration_seconds Time from arrival to the end of "
                      "the response.\n# TYPE ragtune_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < SRV_LATENCY_BUCKETS; b++) {
        cum += m->latency_bucket[b];
        rt_strbuf_printf(o, "ragtune_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                         latency_le[b], (unsigned long long)cum);
    }
    rt_strbuf_printf(o, "ragtune_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                     (unsigned long long)m->latency_count);
    rt_strbuf_printf(o, "ragtune_request_duration_seconds_sum %.6f\n", m->latency_sum);
    rt_strbuf_printf(o, "ragtune_request_duration_seconds_count %llu\n",
                     (unsigned long long)m->latency_count);
    rt_strbuf_printf(
        o,
        "# TYPE ragtune_prompt_tokens_total counter\nragtune_prompt_tokens_total %llu\n"
        "# TYPE ragtune_completion_tokens_total counter\n"
        "ragtune_completion_tokens_total %llu\n"
        "# TYPE ragtune_embedding_inputs_total counter\n"
        "ragtune_embedding_inputs_total %llu\n"
        "# TYPE ragtune_rejected_queue_full_total counter\n"
        "ragtune_rejected_queue_full_total %llu\n"
        "# TYPE ragtune_cancelled_total counter\nragtune_cancelled_total %llu\n",
        (unsigned long long)m->prompt_tokens, (unsigned long long)m->completion_tokens,
        (unsigned long long)m->embedding_tokens, (unsigned long long)m->rejected_queue_full,
        (unsigned long long)m->cancelled);
    pthread_mutex_unlock(&m->mu);
    return rt_strbuf_printf(o,
                            "# TYPE ragtune_queue_depth gauge\nragtune_queue_depth %d\n"
                            "# TYPE ragtune_slots_busy gauge\nragtune_slots_busy %d\n"
                            "# TYPE ragtune_slots gauge\nragtune_slots %d\n"
                            "# TYPE ragtune_jobs_running gauge\nragtune_jobs_running %d\n",
                            queue_depth, slots_busy, slots_total, jobs_running);
}
