/*
 * server.c — the server's life: load the models (while /health answers 503), listen with
 * libmicrohttpd (thread per connection, connection limit, inactivity timeout against slow
 * clients), route each request after reading its body up to a limit and checking the Bearer
 * key, log it, count it, and shut down gracefully on SIGINT/SIGTERM.
 */
#include "server/context.h"
#include "server/server.h"

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

srv_params srv_default_params(void) {
    srv_params p;
    memset(&p, 0, sizeof p);
    p.host = "127.0.0.1";
    p.port = 8080;
    p.data_dir = "ragtune-data";
    p.parallel = 2;
    p.queue = 16;
    p.weight_dtype = -1;
    p.max_body = 8u << 20;
    p.max_upload = 64u << 20;
    p.request_timeout = 600;
    p.conn_timeout = 30;
    p.max_connections = 64;
    p.batch = SRV_BATCH_AUTO;
    return p;
}

bool srv_name_valid(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return strstr(name, "..") == NULL;
}

/* ---- routes of this file ---- */

static int route_health(srv *s, srv_request *rq) {
    if (!atomic_load(&s->ready))
        return srv_respond_json(rq, 503, json_pack("{s:s}", "status", "loading"));
    int waiting, busy;
    srv_slots_stats(&s->slots, &waiting, &busy);
    return srv_respond_json(rq, 200,
                            json_pack("{s:s, s:i, s:i, s:i}", "status", "ok", "slots_idle",
                                      s->slots.n - busy, "slots_processing", busy, "queue_depth",
                                      waiting));
}

static int route_metrics(srv *s, srv_request *rq) {
    int waiting = 0, busy = 0;
    if (atomic_load(&s->ready)) srv_slots_stats(&s->slots, &waiting, &busy);
    rt_strbuf b = {0};
    srv_metrics_render(&s->metrics, &b, waiting, busy, s->slots.n,
                       atomic_load(&s->ready) ? srv_jobs_running(s) : 0);
    uint64_t steps = 0, stepped = 0;
    unsigned switches = 0;
    bool batching = false;
    if (atomic_load(&s->ready)) { /* the batcher is set up while loading */
        batching = s->batching && srv_batcher_batching(&s->batcher, &switches);
        srv_batcher_stats(&s->batcher, &steps, &stepped);
    }
    rt_strbuf_printf(&b,
                     "# HELP ragtune_batching 1 when the slots' decode steps are batched\n"
                     "# TYPE ragtune_batching gauge\nragtune_batching %d\n"
                     "# HELP ragtune_decode_steps_total batched decode steps (continuous batching)\n"
                     "# TYPE ragtune_decode_steps_total counter\nragtune_decode_steps_total %llu\n"
                     "# HELP ragtune_decode_step_sequences_total sequences over all batched steps\n"
                     "# TYPE ragtune_decode_step_sequences_total counter\n"
                     "ragtune_decode_step_sequences_total %llu\n"
                     "# HELP ragtune_batching_switches_total times auto batching changed mode "
                     "from the tokens/s measured while serving\n"
                     "# TYPE ragtune_batching_switches_total counter\n"
                     "ragtune_batching_switches_total %u\n",
                     batching ? 1 : 0, (unsigned long long)steps, (unsigned long long)stepped,
                     switches);
    int ret = srv_respond_bytes(rq, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
    rt_strbuf_free(&b);
    return ret;
}

/* ---- routing ---- */

typedef struct route {
    const char *method; /* NULL: any (the handler checks) */
    const char *path;   /* exact path, or a prefix when it ends in '/' */
    const char *name;   /* metrics label */
    int (*handler)(srv *s, srv_request *rq);
    bool open; /* no key needed */
    bool needs_ready;
} route;

static const route routes[] = {
    {"GET", "/health", "health", route_health, true, false},
    {"GET", "/metrics", "metrics", route_metrics, false, false},
    {"GET", "/", "web", srv_route_web, true, false},
    {"GET", "/index.html", "web", srv_route_web, true, false},
    {"GET", "/v1/models", "models", srv_route_models, false, true},
    {"GET", "/v1/models/", "models", srv_route_models, false, true},
    {"POST", "/v1/chat/completions", "chat", srv_route_chat, false, true},
    {"POST", "/v1/completions", "completions", srv_route_completions, false, true},
    {"POST", "/v1/embeddings", "embeddings", srv_route_embeddings, false, true},
    {"GET", "/lora-adapters", "lora", srv_route_lora_list, false, true},
    {"POST", "/lora-adapters", "lora", srv_route_lora_set, false, true},
    {NULL, "/v1/collections", "collections", srv_route_collections, false, true},
    {NULL, "/v1/collections/", "collections", srv_route_collections, false, true},
    {NULL, "/v1/vector_stores/", "vector_stores", srv_route_collections, false, true},
    {NULL, "/v1/files", "files", srv_route_files, false, true},
    {NULL, "/v1/files/", "files", srv_route_files, false, true},
    {NULL, "/v1/fine_tuning/jobs", "jobs", srv_route_jobs, false, true},
    {NULL, "/v1/fine_tuning/jobs/", "jobs", srv_route_jobs, false, true},
    {NULL, "/v1/compare/jobs", "compare_jobs", srv_route_compare_jobs, false, true},
    {NULL, "/v1/compare/jobs/", "compare_jobs", srv_route_compare_jobs, false, true},
};

static const route *find_route(const char *method, const char *path, bool *method_mismatch) {
    *method_mismatch = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route *r = &routes[i];
        size_t n = strlen(r->path);
        bool prefix = n > 1 && r->path[n - 1] == '/';
        bool match =
            prefix ? strncmp(path, r->path, n) == 0 && path[n] : strcmp(path, r->path) == 0;
        if (!match) continue;
        if (r->method && strcmp(r->method, method) != 0) {
            *method_mismatch = true;
            continue;
        }
        return r;
    }
    return NULL;
}

/* Constant-time comparison of the presented key with the configured one. */
static bool key_matches(const char *given, const char *want) {
    size_t a = strlen(given), b = strlen(want);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(given[i < a ? i : 0] ^ want[i]);
    return diff == 0;
}

static bool authorized(srv *s, srv_request *rq) {
    if (!s->params.api_key || !*s->params.api_key) return true;
    const char *h = srv_header(rq, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    return key_matches(h + 7, s->params.api_key);
}

static int dispatch(srv *s, srv_request *rq) {
    bool mismatch;
    const route *r = find_route(rq->method, rq->path, &mismatch);
    if (!r) {
        rq->route = "unknown";
        if (mismatch)
            return srv_respond_error(rq, 405, NULL, "method_not_allowed",
                                     "method %s is not allowed on %s", rq->method, rq->path);
        return srv_respond_error(rq, 404, NULL, "not_found", "no route for %s %s", rq->method,
                                 rq->path);
    }
    rq->route = r->name;
    if (!r->open && !authorized(s, rq))
        return srv_respond_error(rq, 401, NULL, "invalid_api_key",
                                 "missing or incorrect API key (Authorization: Bearer ...)");
    if (rq->too_large)
        return srv_respond_error(rq, 413, NULL, "request_too_large",
                                 "request body is larger than %zu bytes", rq->body_limit);
    if (r->needs_ready && !atomic_load(&s->ready))
        return srv_respond_error(rq, 503, NULL, "loading", "the model is still loading");
    if (atomic_load(&s->stopping))
        return srv_respond_error(rq, 503, NULL, "shutting_down", "the server is shutting down");
    return r->handler(s, rq);
}

static void request_free(srv_request *rq) {
    if (rq->upload && rq->upload_free) rq->upload_free(rq->upload);
    free(rq->body);
    free(rq->path);
    free(rq);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    srv *s = cls;
    srv_request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        rq->conn = conn;
        rq->server = s;
        rq->start = rt_time_now();
        rq->route = "unknown";
        snprintf(rq->method, sizeof rq->method, "%s", method);
        rq->path = strdup(url ? url : "/");
        if (!rq->path) {
            free(rq);
            return MHD_NO;
        }
        char *q = strchr(rq->path, '?');
        if (q) *q = 0;
        *con_cls = rq;
        bool files = strcmp(method, "POST") == 0 && strcmp(rq->path, "/v1/files") == 0;
        rq->body_limit = files ? s->params.max_upload : s->params.max_body;
        const char *cl = srv_header(rq, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > rq->body_limit) rq->too_large = true;
        }
        if (files && !rq->too_large && authorized(s, rq)) srv_files_upload_begin(s, rq);
        /* refuse an oversized body before reading it (the connection is closed after) */
        if (rq->too_large) return (enum MHD_Result)dispatch(s, rq);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->responded) return MHD_YES;
        if (rq->too_large || rq->body_len + n > rq->body_limit) {
            rq->too_large = true;
            return MHD_YES;
        }
        if (rq->multipart) {
            if (srv_files_upload_data(s, rq, upload_data, n) != RT_OK) rq->too_large = true;
            rq->body_len += n;
            return MHD_YES;
        }
        char *b = realloc(rq->body, rq->body_len + n + 1);
        if (!b) return MHD_NO;
        memcpy(b + rq->body_len, upload_data, n);
        rq->body = b;
        rq->body_len += n;
        rq->body[rq->body_len] = 0;
        return MHD_YES;
    }
    if (rq->responded) return MHD_YES;
    return (enum MHD_Result)dispatch(s, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn;
    srv *s = cls;
    srv_request *rq = *con_cls;
    if (!rq) return;
    double dt = rt_time_now() - rq->start;
    int status = rq->status ? rq->status : 499;
    srv_metrics_request(&s->metrics, rq->route, status, dt);
    if (strcmp(rq->route, "health") != 0 && strcmp(rq->route, "metrics") != 0)
        rt_log_info("%s %s %d %.3fs%s", rq->method, rq->path, status, dt,
                    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (client gone)");
    request_free(rq);
    *con_cls = NULL;
}

/* ---- start-up and shutdown ---- */

static char *model_name_from_path(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    char *name = rt_malloc(n - b + 1);
    if (!name) return NULL;
    memcpy(name, path + b, n - b);
    name[n - b] = 0;
    char *dot = strrchr(name, '.');
    if (dot && dot != name && strcmp(dot, ".gguf") == 0) *dot = 0;
    return name;
}

/* The embedder given to collections and /v1/embeddings: the model's, one call at a time. */
static int embed_locked(void *user, const char *const *texts, const size_t *lens, int n,
                        float *out) {
    srv *s = user;
    pthread_mutex_lock(&s->embed_mu);
    int rc = s->embedder.embed(s->embedder.user, texts, lens, n, out);
    pthread_mutex_unlock(&s->embed_mu);
    return rc;
}

/* Times the model's decode steps batched and alone (srv_batcher_calibrate): whether to start
 * batched (always with SRV_BATCH_ON), whether to go on deciding from the tokens/s measured while
 * serving (*adapt: SRV_BATCH_AUTO, when the steps were fast enough to time, i.e. when the choice
 * is in doubt) and how long a step may wait for stragglers (*gather_s). */
static bool choose_batching(srv *s, double *gather_s, bool *adapt) {
    const srv_params *p = &s->params;
    int k = p->parallel < SRV_CALIBRATE_MAX ? p->parallel : SRV_CALIBRATE_MAX;
    srv_batch_cost c;
    *gather_s = SRV_BATCH_WAIT_MAX;
    *adapt = false;
    if (srv_batcher_calibrate(s->model, k, &c) != RT_OK) {
        rt_log_warn("batching: cannot time the decode steps: %s", rt_last_error());
        *adapt = p->batch == SRV_BATCH_AUTO;
        return true;
    }
    bool on = p->batch == SRV_BATCH_ON || srv_batch_cost_pays(&c);
    if (!c.measured) {
        rt_log_info("batching: on (one decode step takes %.0f ms: memory-bound)",
                    c.single_s * 1e3);
        return true;
    }
    *gather_s = c.fixed_s / 2;
    *adapt = p->batch == SRV_BATCH_AUTO;
    rt_log_info("batching: %s%s: %d sequences %.3f ms per step batched, %.3f ms each alone on "
                "%d threads at once (one alone %.3f ms); a step waits at most %.3f ms%s",
                on ? "on" : "off", p->batch == SRV_BATCH_ON ? " (--batch)" : "", k,
                c.batch_s * 1e3, c.alone_s * 1e3, k, c.single_s * 1e3,
                (*gather_s < SRV_BATCH_WAIT_MAX ? *gather_s : SRV_BATCH_WAIT_MAX) * 1e3,
                *adapt ? "; from now on decided by the tokens/s measured while serving" : "");
    return on;
}

static int load_models(srv *s) {
    const srv_params *p = &s->params;
    rt_model_params mp = rt_model_default_params();
    mp.weight_dtype = p->weight_dtype;
    RT_TRY(rt_model_load(p->model_path, &mp, &s->model));
    if (rt_model_is_encoder(s->model))
        return rt_error(RT_ERR_INVALID,
                        "%s: an encoder cannot generate; give it as "
                        "--embed-model",
                        p->model_path);
    RT_TRY(rt_tokenizer_load(p->tokenizer_path ? p->tokenizer_path : p->model_path, &s->tokenizer));
    double gather_s;
    bool start_batched = false, adapt = false;
    /* one slot: nobody to join */
    bool batch = p->batch != SRV_BATCH_OFF && p->parallel > 1;
    if (batch) start_batched = choose_batching(s, &gather_s, &adapt);
    batch = batch && (start_batched || adapt);
    if (batch) {
        RT_TRY(srv_batcher_init(&s->batcher, p->parallel < RT_DECODE_BATCH_MAX
                                                 ? p->parallel
                                                 : RT_DECODE_BATCH_MAX,
                                gather_s));
        if (adapt) srv_batcher_adapt(&s->batcher, start_batched);
    }
    s->batching = batch;
    RT_TRY(srv_slots_init(&s->slots, p->parallel, p->queue, s->model, s->tokenizer, p->n_ctx,
                          batch ? &s->batcher : NULL));
    for (int i = 0; i < p->n_lora; i++) {
        char *path;
        float scale;
        RT_TRY(rt_adapter_spec_parse(p->lora[i], &path, &scale));
        char *base = model_name_from_path(path);
        char name[256];
        snprintf(name, sizeof name, "%s:%s", s->model_id, base ? base : "adapter");
        free(base);
        int rc = srv_adapters_add(&s->adapters, s->model, path, name, scale, NULL);
        free(path);
        if (rc != RT_OK) return rt_error_wrap("--lora %s", p->lora[i]);
    }
    if (p->embed_model_path) {
        RT_TRY(rt_embedder_open_model(p->embed_model_path, 0, &s->embedder));
        s->has_embedder = true;
        s->embedder_safe = s->embedder;
        s->embedder_safe.embed = embed_locked;
        s->embedder_safe.user = s;
    }
    RT_TRY(srv_collections_open(s));
    RT_TRY(srv_jobs_open(s));
    return RT_OK;
}

static void srv_log_to_stderr(rt_log_level level, const char *message, void *user) {
    (void)user;
    static const char *names[] = {"debug", "info", "warn", "error"};
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s %s %s\n", ts, names[level < 4 ? level : 3], message);
}

int srv_run(const srv_params *params) {
    if (!params->model_path) return rt_error(RT_ERR_INVALID, "serve: no model given");
    srv *s = rt_calloc(1, sizeof *s);
    if (!s) return RT_ERR_NOMEM;
    s->params = *params;
    if (s->params.parallel < 1) s->params.parallel = 1;
    if (s->params.queue < 0) s->params.queue = 0;
    srv_metrics_init(&s->metrics);
    srv_adapters_init(&s->adapters);
    pthread_mutex_init(&s->embed_mu, NULL);
    pthread_mutex_init(&s->producers_mu, NULL);
    pthread_cond_init(&s->producers_cv, NULL);
    s->model_id =
        s->params.alias ? rt_strdup(s->params.alias) : model_name_from_path(s->params.model_path);
    rt_log_set(srv_log_to_stderr, NULL);

    int rc = RT_OK;
    struct MHD_Daemon *d = NULL;
    /* Signals are taken by sigwait below; every thread started from here inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->params.port);
    const char *host = strcmp(s->params.host, "localhost") == 0 ? "127.0.0.1" : s->params.host;
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        rc = rt_error(RT_ERR_INVALID, "--host '%s' is not an IPv4 address", s->params.host);
        goto done;
    }
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_ERROR_LOG | MHD_USE_ITC,
                         0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->params.conn_timeout,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->params.max_connections,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                         (unsigned int)s->params.max_connections, MHD_OPTION_END);
    if (!d) {
        rc = rt_error(RT_ERR_IO, "cannot listen on %s:%d: %s", s->params.host, s->params.port,
                      strerror(errno));
        goto done;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info ? info->port : s->params.port;
    rt_log_info("listening on http://%s:%d (loading %s)", s->params.host, port,
                s->params.model_path);
    if (s->params.port_file) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%d\n", port);
        rt_file_write_atomic(s->params.port_file, buf, (size_t)n);
    }
    rc = load_models(s);
    if (rc != RT_OK) goto done;
    atomic_store(&s->ready, true);
    rt_log_info("ready: model %s, %d slots, queue %d%s", s->model_id, s->slots.n, s->params.queue,
                s->params.api_key ? ", API key required" : "");

    int sig = 0;
    sigwait(&set, &sig);
    rt_log_info("signal %d: shutting down", sig);

done:
    atomic_store(&s->stopping, true);
    if (d) MHD_quiesce_daemon(d);
    if (s->slots.slots) srv_slots_close(&s->slots);
    srv_jobs_close(s);
    /* in-flight generations see `stopping` and end; wait for streaming producers */
    pthread_mutex_lock(&s->producers_mu);
    while (s->n_producers > 0)
        pthread_cond_wait(&s->producers_cv, &s->producers_mu);
    pthread_mutex_unlock(&s->producers_mu);
    if (d) MHD_stop_daemon(d);
    srv_collections_close(s);
    srv_batcher_close(&s->batcher);
    if (s->slots.slots) srv_slots_free(&s->slots);
    srv_batcher_free(&s->batcher);
    srv_adapters_free(&s->adapters);
    if (s->has_embedder) rt_embedder_close_model(&s->embedder);
    rt_tokenizer_free(s->tokenizer);
    rt_model_free(s->model);
    free(s->model_id);
    srv_metrics_destroy(&s->metrics);
    pthread_mutex_destroy(&s->embed_mu);
    pthread_mutex_destroy(&s->producers_mu);
    pthread_cond_destroy(&s->producers_cv);
    free(s);
    rt_log_set(NULL, NULL);
    if (rc == RT_OK) rt_log_info("stopped");
    return rc;
}
