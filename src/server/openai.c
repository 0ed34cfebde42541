/*
 * openai.c — the OpenAI-compatible routes: /v1/models, /v1/chat/completions, /v1/completions
 * (plain and SSE streaming, n choices, usage, finish_reason), /v1/embeddings (floats or
 * base64), and llama.cpp's /lora-adapters. A generation holds one slot for all its choices;
 * the slot's session gets this request's adapter set first, so adapters never leak between
 * concurrent requests.
 */
#include "server/collections.h"
#include "server/context.h"
#include "server/request.h"

#include "core/error.h"
#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

/* ---- models and adapters ---- */

static json_t *model_object(const char *id, const char *parent) {
    json_t *m = json_pack("{s:s, s:s, s:I, s:s}", "id", id, "object", "model", "created",
                          (json_int_t)0, "owned_by", "ragtune");
    if (m && parent) json_object_set_new(m, "parent", json_string(parent));
    return m;
}

int srv_route_models(srv *s, srv_request *rq) {
    const char *prefix = "/v1/models/";
    json_t *data = json_array();
    json_array_append_new(data, model_object(s->model_id, NULL));
    int n = srv_adapters_count(&s->adapters);
    for (int i = 0; i < n; i++) {
        srv_adapter_entry *e = srv_adapters_get(&s->adapters, i);
        json_array_append_new(data, model_object(e->name, s->model_id));
    }
    if (strncmp(rq->path, prefix, strlen(prefix)) == 0) {
        const char *want = rq->path + strlen(prefix);
        size_t i;
        json_t *m;
        json_array_foreach(data, i, m) {
            if (strcmp(json_string_value(json_object_get(m, "id")), want) == 0) {
                json_incref(m);
                json_decref(data);
                return srv_respond_json(rq, 200, m);
            }
        }
        json_decref(data);
        return srv_respond_error(rq, 404, "model", "model_not_found",
                                 "the model '%s' does not exist", want);
    }
    return srv_respond_json(rq, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

int srv_route_lora_list(srv *s, srv_request *rq) {
    json_t *list = json_array();
    int n = srv_adapters_count(&s->adapters);
    for (int i = 0; i < n; i++) {
        srv_adapter_entry *e = srv_adapters_get(&s->adapters, i);
        pthread_mutex_lock(&s->adapters.mu);
        float scale = e->scale;
        pthread_mutex_unlock(&s->adapters.mu);
        json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:f}", "id", i, "name", e->name,
                                              "path", e->path, "scale", (double)scale));
    }
    return srv_respond_json(rq, 200, list);
}

int srv_route_lora_set(srv *s, srv_request *rq) {
    json_error_t e;
    json_t *root = rq->body ? json_loadb(rq->body, rq->body_len, 0, &e) : NULL;
    if (!json_is_array(root)) {
        json_decref(root);
        return srv_respond_error(rq, 400, NULL, "invalid_body",
                                 "expected a JSON array of {\"id\", \"scale\"}");
    }
    int n = srv_adapters_count(&s->adapters);
    size_t i;
    json_t *item;
    json_array_foreach(root, i, item) {
        json_t *id = json_object_get(item, "id"), *scale = json_object_get(item, "scale");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= n ||
            !json_is_number(scale) || !isfinite(json_number_value(scale))) {
            json_decref(root);
            return srv_respond_error(rq, 400, "id", "invalid_adapter",
                                     "entry %zu: needs an adapter id in [0, %d) and a numeric "
                                     "scale",
                                     i, n);
        }
    }
    /* all valid: apply together */
    json_array_foreach(root, i, item)
        srv_adapters_set_scale(&s->adapters, (int)json_integer_value(json_object_get(item, "id")),
                               (float)json_number_value(json_object_get(item, "scale")));
    json_decref(root);
    return srv_route_lora_list(s, rq);
}

/* ---- generation ---- */

typedef struct gen_job {
    srv *s;
    srv_gen_request g;
    srv_slot *slot;
    srv_stream *st;
    rt_adapter *adapters[SRV_MAX_REQ_LORA + SRV_MAX_LORA];
    float scales[SRV_MAX_REQ_LORA + SRV_MAX_LORA];
    int n_adapters;
    const char *model_name; /* echoed in responses */
    char id[48];
    long long created;
    double deadline;
    bool timed_out;
    int client_fd; /* non-streaming: the client's socket, polled for a hang-up (-1) */
    int n_callbacks;
    bool cancelled; /* the client went away */
    int choice;     /* index of the choice being generated */
    long long prompt_tokens, completion_tokens;
    json_t *choices; /* non-streaming */
    int error_status;
    char error[512];
} gen_job;

void srv_random_id(char *out, size_t cap, const char *prefix) {
    unsigned char r[12];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        unsigned long long t = (unsigned long long)(rt_time_now() * 1e9);
        memcpy(r, &t, sizeof t < sizeof r ? sizeof t : sizeof r);
    }
    size_t n = (size_t)snprintf(out, cap, "%s", prefix);
    for (size_t i = 0; i < sizeof r && n + 2 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%02x", r[i]);
}

/* Resolves the model name and lora field to this request's adapter set; on failure fills
 * job->error_status/error. */
static bool resolve_adapters(gen_job *job) {
    srv *s = job->s;
    const srv_gen_request *g = &job->g;
    job->model_name = s->model_id;
    int n = srv_adapters_count(&s->adapters);
    int named = -1;
    if (g->model && strcmp(g->model, s->model_id) != 0) {
        named = srv_adapters_find(&s->adapters, g->model);
        if (named < 0) {
            job->error_status = 404;
            snprintf(job->error, sizeof job->error,
                     "the model '%s' does not exist (see "
                     "/v1/models)",
                     g->model);
            return false;
        }
        job->model_name = srv_adapters_get(&s->adapters, named)->name;
    }
    if (g->has_lora) {
        for (int i = 0; i < g->n_lora; i++) {
            srv_adapter_entry *e = srv_adapters_get(&s->adapters, g->lora[i].id);
            if (!e) {
                job->error_status = 400;
                snprintf(job->error, sizeof job->error,
                         "lora[%d]: no adapter with id %d (see "
                         "/lora-adapters)",
                         i, g->lora[i].id);
                return false;
            }
            if (g->lora[i].scale == 0) continue;
            job->adapters[job->n_adapters] = e->adapter;
            job->scales[job->n_adapters++] = g->lora[i].scale;
        }
    } else if (named >= 0) {
        srv_adapter_entry *e = srv_adapters_get(&s->adapters, named);
        pthread_mutex_lock(&s->adapters.mu);
        float scale = e->scale != 0 ? e->scale : 1.0f;
        pthread_mutex_unlock(&s->adapters.mu);
        job->adapters[0] = e->adapter;
        job->scales[0] = scale;
        job->n_adapters = 1;
    } else {
        /* the base model with the global scales (/lora-adapters, --lora PATH:SCALE) */
        for (int i = 0; i < n && job->n_adapters < SRV_MAX_LORA; i++) {
            srv_adapter_entry *e = srv_adapters_get(&s->adapters, i);
            pthread_mutex_lock(&s->adapters.mu);
            float scale = e->scale;
            pthread_mutex_unlock(&s->adapters.mu);
            if (scale == 0 || strncmp(e->name, "ft:", 3) == 0) continue;
            job->adapters[job->n_adapters] = e->adapter;
            job->scales[job->n_adapters++] = scale;
        }
    }
    return true;
}

/* True when the client closed its connection (a zero-byte peek); checked every few tokens. */
static bool client_gone(gen_job *job) {
    if (job->client_fd < 0 || ++job->n_callbacks % 8 != 0) return false;
    char c;
    ssize_t n = recv(job->client_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static bool job_should_stop(gen_job *job) {
    if (atomic_load(&job->s->stopping)) return true;
    if (job->st && atomic_load(&job->st->cancelled)) return true;
    if (client_gone(job)) {
        job->client_fd = -1;
        job->cancelled = true;
        srv_metrics_add(&job->s->metrics, &job->s->metrics.cancelled, 1);
        return true;
    }
    if (job->cancelled) return true;
    if (rt_time_now() > job->deadline) {
        job->timed_out = true;
        return true;
    }
    return false;
}

static json_t *chunk_base(gen_job *job) {
    return json_pack("{s:s, s:s, s:I, s:s}", "id", job->id, "object",
                     job->g.chat ? "chat.completion.chunk" : "text_completion", "created",
                     (json_int_t)job->created, "model", job->model_name);
}

static json_t *stream_choice(gen_job *job, const char *text, size_t len, const char *finish) {
    json_t *c = json_pack("{s:i, s:o}", "index", job->choice, "finish_reason",
                          finish ? json_string(finish) : json_null());
    if (job->g.chat) {
        json_t *delta = json_object();
        if (text) json_object_set_new(delta, "content", json_stringn(text, len));
        json_object_set_new(c, "delta", delta);
    } else {
        json_object_set_new(c, "text", json_stringn(text ? text : "", text ? len : 0));
        json_object_set_new(c, "logprobs", json_null());
    }
    return c;
}

static int on_text(void *user, const char *text, size_t len) {
    gen_job *job = user;
    if (job->st && len) {
        json_t *chunk = chunk_base(job);
        json_object_set_new(chunk, "choices",
                            json_pack("[o]", stream_choice(job, text, len, NULL)));
        srv_stream_send(job->st, chunk);
    }
    return job_should_stop(job) ? 1 : 0;
}

static const char *finish_reason(gen_job *job, rt_stop_reason r) {
    if (r == RT_STOP_LENGTH || r == RT_STOP_CONTEXT || job->timed_out) return "length";
    return "stop";
}

/* Generates every choice in the job's slot; fills choices (non-streaming) or the stream. */
static void generate_all(gen_job *job) {
    srv *s = job->s;
    const srv_gen_request *g = &job->g;
    rt_session *session = job->slot->session;
    if (rt_session_set_adapters(session, job->adapters, job->scales, job->n_adapters) != RT_OK) {
        job->error_status = 500;
        snprintf(job->error, sizeof job->error, "adapters: %s", rt_last_error());
        return;
    }
    uint64_t seed = g->has_seed ? g->seed : 0;
    if (!g->has_seed && getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)(rt_time_now() * 1e9);
    int max_tokens = g->max_tokens > 0 ? g->max_tokens : 256;
    for (int i = 0; i < g->n; i++) {
        job->choice = i;
        if (job->st && g->chat) {
            json_t *chunk = chunk_base(job);
            json_t *c = json_pack("{s:i, s:{s:s, s:s}, s:n}", "index", i, "delta", "role",
                                  "assistant", "content", "", "finish_reason");
            json_object_set_new(chunk, "choices", json_pack("[o]", c));
            srv_stream_send(job->st, chunk);
        }
        rt_session_request req = rt_session_default_request();
        if (g->chat) {
            req.messages = g->messages;
            req.n_messages = g->n_messages;
        } else {
            req.prompt = g->prompt;
        }
        req.max_tokens = max_tokens;
        req.sampler = rt_sampler_default_params();
        req.sampler.temperature = g->temperature;
        req.sampler.top_p = g->top_p;
        req.sampler.top_k = g->top_k;
        req.sampler.min_p = g->min_p;
        req.sampler.repeat_penalty = g->repeat_penalty;
        req.sampler.seed = seed + (uint64_t)i;
        req.ignore_eos = g->ignore_eos;
        req.stop_strings = g->stop;
        req.n_stop_strings = g->n_stop;
        req.on_text = on_text;
        req.user = job;
        rt_session_result res;
        memset(&res, 0, sizeof res);
        int rc = rt_session_generate(session, &req, &res);
        srv_slot_generation_done(&s->slots, job->slot);
        if (rc != RT_OK) {
            job->error_status = rc == RT_ERR_RANGE ? 400 : 500;
            snprintf(job->error, sizeof job->error, "%s", rt_last_error());
            rt_session_result_clear(&res);
            return;
        }
        job->prompt_tokens = res.n_prompt; /* the same prompt for every choice */
        job->completion_tokens += res.n_generated;
        srv_metrics_tokens(&s->metrics, (uint64_t)res.n_prompt, (uint64_t)res.n_generated);
        const char *finish = finish_reason(job, res.stop_reason);
        if (job->st) {
            json_t *chunk = chunk_base(job);
            json_object_set_new(chunk, "choices",
                                json_pack("[o]", stream_choice(job, NULL, 0, finish)));
            srv_stream_send(job->st, chunk);
        } else {
            json_t *text = json_stringn(res.text ? res.text : "", res.text_len);
            if (!text) text = json_string("");
            json_t *c;
            if (g->chat)
                c = json_pack("{s:i, s:{s:s, s:o, s:n}, s:n, s:s}", "index", i, "message", "role",
                              "assistant", "content", text, "refusal", "logprobs", "finish_reason",
                              finish);
            else
                c = json_pack("{s:i, s:o, s:n, s:s}", "index", i, "text", text, "logprobs",
                              "finish_reason", finish);
            json_array_append_new(job->choices, c);
        }
        rt_session_result_clear(&res);
        if (job->cancelled || job->timed_out || atomic_load(&s->stopping) ||
            (job->st && atomic_load(&job->st->cancelled)))
            break;
    }
}

static json_t *usage_object(gen_job *job) {
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)job->prompt_tokens,
                     "completion_tokens", (json_int_t)job->completion_tokens, "total_tokens",
                     (json_int_t)(job->prompt_tokens + job->completion_tokens));
}

static void job_free(gen_job *job) {
    if (job->slot) srv_slots_release(&job->s->slots, job->slot);
    srv_gen_request_free(&job->g);
    json_decref(job->choices);
    free(job);
}

static void *stream_producer(void *arg) {
    gen_job *job = arg;
    generate_all(job);
    if (job->error_status) {
        json_t *err =
            json_pack("{s:{s:s, s:s}}", "error", "message", job->error, "type", "server_error");
        srv_stream_send(job->st, err);
    } else if (job->g.include_usage) {
        json_t *chunk = chunk_base(job);
        json_object_set_new(chunk, "choices", json_array());
        json_object_set_new(chunk, "usage", usage_object(job));
        srv_stream_send(job->st, chunk);
    }
    srv_stream_send(job->st, NULL);
    if (atomic_load(&job->st->cancelled))
        srv_metrics_add(&job->s->metrics, &job->s->metrics.cancelled, 1);
    srv_stream_finish(job->st);
    job_free(job);
    return NULL;
}

/* FNV-1a over the model name and the first bytes of the prompt (system prompt, instructions):
 * requests alike go to the slot whose cache already holds their prefix. */
static uint64_t affinity_key(const gen_job *job) {
    uint64_t h = 1469598103934665603ULL;
    const char *parts[2] = {job->model_name, job->g.chat && job->g.n_messages
                                                 ? job->g.messages[0].content
                                                 : job->g.prompt};
    for (int p = 0; p < 2; p++) {
        const char *t = parts[p] ? parts[p] : "";
        for (size_t i = 0; t[i] && i < 256; i++)
            h = (h ^ (unsigned char)t[i]) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

/* Takes a slot for job or answers rq with why not (429 queue full, 503 closing/timeout). */
static int acquire_slot(srv *s, srv_request *rq, gen_job *job) {
    int rc = srv_slots_acquire(&s->slots, job->deadline, affinity_key(job), &job->slot);
    if (rc == SRV_SLOT_OK) return MHD_YES;
    job->slot = NULL;
    if (rc == SRV_SLOT_QUEUE_FULL) {
        srv_metrics_add(&s->metrics, &s->metrics.rejected_queue_full, 1);
        srv_add_header(rq, "Retry-After", "1");
        return srv_respond_error(rq, 429, NULL, "queue_full",
                                 "all %d slots are busy and %d requests are waiting; retry later",
                                 s->slots.n, s->slots.max_queue);
    }
    if (rc == SRV_SLOT_TIMEOUT)
        return srv_respond_error(rq, 503, NULL, "timeout",
                                 "no slot became free within the "
                                 "request time limit");
    return srv_respond_error(rq, 503, NULL, "shutting_down", "the server is shutting down");
}

static int route_generate(srv *s, srv_request *rq, bool chat) {
    gen_job *job = calloc(1, sizeof *job);
    if (!job) return srv_respond_error(rq, 500, NULL, NULL, "out of memory");
    job->s = s;
    char msg[512];
    const char *param = NULL;
    if (srv_gen_request_parse(rq->body, rq->body_len, chat, &job->g, msg, sizeof msg, &param) !=
        RT_OK) {
        free(job);
        return srv_respond_error(rq, 400, param, "invalid_request", "%s", msg);
    }
    if (job->g.collection) {
        if (!chat) {
            job_free(job);
            return srv_respond_error(rq, 400, "collection", "invalid_request",
                                     "'collection' needs /v1/chat/completions");
        }
        int ret = srv_chat_rag(s, rq, &job->g);
        job_free(job);
        return ret;
    }
    job->created = (long long)time(NULL);
    job->deadline = rq->start + s->params.request_timeout;
    job->client_fd = job->g.stream ? -1 : srv_client_fd(rq);
    srv_random_id(job->id, sizeof job->id, chat ? "chatcmpl-" : "cmpl-");
    if (!resolve_adapters(job)) {
        int status = job->error_status;
        int ret = srv_respond_error(rq, (unsigned)status, status == 404 ? "model" : "lora",
                                    status == 404 ? "model_not_found" : "invalid_adapter", "%s",
                                    job->error);
        job_free(job);
        return ret;
    }
    int ret = acquire_slot(s, rq, job);
    if (!job->slot) {
        job_free(job);
        return ret;
    }
    if (job->g.stream) {
        job->st = srv_stream_new(s);
        if (!job->st) {
            job_free(job);
            return srv_respond_error(rq, 500, NULL, NULL, "out of memory");
        }
        srv_stream *st = job->st;
        if (!srv_spawn_producer(s, stream_producer, job)) {
            job->st = NULL;
            job_free(job);
            srv_stream_finish(st);
            srv_stream_finish(st); /* the response's reference, never taken */
            return srv_respond_error(rq, 500, NULL, NULL, "cannot start a thread");
        }
        return srv_respond_stream(rq, st);
    }
    job->choices = json_array();
    generate_all(job);
    if (job->error_status) {
        ret = srv_respond_error(rq, (unsigned)job->error_status, NULL, NULL, "%s", job->error);
        job_free(job);
        return ret;
    }
    json_t *resp =
        json_pack("{s:s, s:s, s:I, s:s, s:O, s:o}", "id", job->id, "object",
                  chat ? "chat.completion" : "text_completion", "created", (json_int_t)job->created,
                  "model", job->model_name, "choices", job->choices, "usage", usage_object(job));
    job_free(job);
    return srv_respond_json(rq, 200, resp);
}

int srv_route_chat(srv *s, srv_request *rq) {
    return route_generate(s, rq, true);
}
int srv_route_completions(srv *s, srv_request *rq) {
    return route_generate(s, rq, false);
}

/* ---- embeddings ---- */

static char *base64_floats(const float *v, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *b = (const unsigned char *)v; /* little-endian float32, as OpenAI */
    size_t len = n * sizeof(float);
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned x = (unsigned)b[i] << 16;
        if (i + 1 < len) x |= (unsigned)b[i + 1] << 8;
        if (i + 2 < len) x |= b[i + 2];
        out[o++] = tbl[(x >> 18) & 63];
        out[o++] = tbl[(x >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(x >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tbl[x & 63] : '=';
    }
    out[o] = 0;
    return out;
}

int srv_route_embeddings(srv *s, srv_request *rq) {
    if (!s->has_embedder)
        return srv_respond_error(rq, 400, "model", "no_embedding_model",
                                 "this server has no embedding model (start it with "
                                 "--embed-model)");
    json_t *root;
    char msg[512];
    if (srv_json_object_parse(rq->body, rq->body_len, &root, msg, sizeof msg) != RT_OK)
        return srv_respond_error(rq, 400, NULL, "invalid_request", "%s", msg);
    json_t *input = json_object_get(root, "input");
    size_t n = json_is_string(input) ? 1 : json_is_array(input) ? json_array_size(input) : 0;
    if (n == 0 || n > 256) {
        json_decref(root);
        return srv_respond_error(rq, 400, "input", "invalid_request",
                                 "'input' must be a string or an array of 1 to 256 strings");
    }
    const char **texts = calloc(n, sizeof *texts);
    size_t *lens = calloc(n, sizeof *lens);
    float *out = NULL;
    size_t dim = (size_t)s->embedder.dim;
    int ret;
    for (size_t i = 0; texts && lens && i < n; i++) {
        json_t *t = json_is_string(input) ? input : json_array_get(input, i);
        if (!json_is_string(t) || json_string_length(t) == 0) {
            ret = srv_respond_error(rq, 400, "input", "invalid_request",
                                    "input[%zu] must be a non-empty string (token arrays are not "
                                    "supported)",
                                    i);
            goto done;
        }
        texts[i] = json_string_value(t);
        lens[i] = json_string_length(t);
    }
    json_t *fmt = json_object_get(root, "encoding_format");
    bool b64 = json_is_string(fmt) && strcmp(json_string_value(fmt), "base64") == 0;
    if (fmt && !json_is_null(fmt) && !b64 &&
        !(json_is_string(fmt) && strcmp(json_string_value(fmt), "float") == 0)) {
        ret = srv_respond_error(rq, 400, "encoding_format", "invalid_request",
                                "'encoding_format' must be \"float\" or \"base64\"");
        goto done;
    }
    out = texts && lens ? malloc(n * dim * sizeof *out) : NULL;
    if (!out) {
        ret = srv_respond_error(rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    if (s->embedder_safe.embed(s->embedder_safe.user, texts, lens, (int)n, out) != RT_OK) {
        ret = srv_respond_error(rq, 500, NULL, NULL, "embedding failed: %s", rt_last_error());
        goto done;
    }
    json_t *data = json_array();
    long long tokens = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t *ids = NULL;
        size_t n_ids = 0;
        if (rt_tokenizer_encode(s->tokenizer, texts[i], lens[i], false, &ids, &n_ids) == RT_OK)
            tokens += (long long)n_ids;
        free(ids);
        json_t *e;
        if (b64) {
            char *enc = base64_floats(out + i * dim, dim);
            e = json_string(enc ? enc : "");
            free(enc);
        } else {
            e = json_array();
            for (size_t k = 0; k < dim; k++)
                json_array_append_new(e, json_real(out[i * dim + k]));
        }
        json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index",
                                              (json_int_t)i, "embedding", e));
    }
    srv_metrics_add(&s->metrics, &s->metrics.embedding_tokens, n);
    json_t *model = json_object_get(root, "model");
    ret = srv_respond_json(
        rq, 200,
        json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model",
                  json_is_string(model) ? json_string_value(model) : s->params.embed_model_path,
                  "usage", "prompt_tokens", (json_int_t)tokens, "total_tokens",
                  (json_int_t)tokens));
done:
    free(out);
    free(texts);
    free(lens);
    json_decref(root);
    return ret;
}

/* ---- chat over a collection (RAG) ---- */

/* Citations as annotations: one per [n] marker in the answer, with the source's document. */
static json_t *annotations(const rt_ask_result *r) {
    json_t *list = json_array();
    const char *answer = r->answer ? r->answer : "";
    for (size_t i = 0; i < r->n_citations; i++) {
        const rt_ask_citation *c = &r->citations[i];
        if (c->source < 0 || (size_t)c->source >= r->n_sources) continue;
        const rt_ask_source *src = &r->sources[c->source];
        char marker[24];
        snprintf(marker, sizeof marker, "[%d]", c->marker);
        const char *at = strstr(answer, marker);
        json_int_t start = at ? (json_int_t)(at - answer) : -1;
        json_t *quote = json_string(c->quote ? c->quote : "");
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:I, s:I, s:{s:s, s:s, s:o, s:I, s:I}}", "type",
                            "file_citation", "text", marker, "start_index", start, "end_index",
                            start >= 0 ? start + (json_int_t)strlen(marker) : -1, "file_citation",
                            "file_id", src->doc_id, "filename",
                            src->path ? src->path
                                      : (src->title && *src->title ? src->title : src->doc_id),
                            "quote", quote ? quote : json_string(""), "start",
                            (json_int_t)src->start, "end", (json_int_t)src->end));
    }
    return list;
}

int srv_chat_rag(srv *s, srv_request *rq, const srv_gen_request *g) {
    const char *question = NULL;
    for (size_t i = g->n_messages; i-- > 0;)
        if (!strcmp(g->messages[i].role, "user")) {
            question = g->messages[i].content;
            break;
        }
    if (!question || !*question)
        return srv_respond_error(rq, 400, "messages", "invalid_request",
                                 "a chat over a collection needs a user message (the question)");
    srv_coll *coll;
    int rc = srv_coll_get(s, g->collection, false, &coll);
    if (rc != RT_OK)
        return srv_respond_error(rq, rc == RT_ERR_NOT_FOUND ? 404 : 400, "collection",
                                 rc == RT_ERR_NOT_FOUND ? "collection_not_found"
                                                        : "invalid_request",
                                 "%s", rt_last_error());
    gen_job *job = calloc(1, sizeof *job);
    if (!job) {
        srv_coll_put(coll);
        return srv_respond_error(rq, 500, NULL, NULL, "out of memory");
    }
    job->s = s;
    job->g = *g; /* borrowed: not freed through this job */
    job->deadline = rq->start + s->params.request_timeout;
    job->created = (long long)time(NULL);
    job->client_fd = g->stream ? -1 : srv_client_fd(rq);
    srv_random_id(job->id, sizeof job->id, "chatcmpl-");
    int ret;
    if (!resolve_adapters(job)) {
        ret = srv_respond_error(rq, (unsigned)job->error_status, "model", "model_not_found", "%s",
                                job->error);
        goto out;
    }
    ret = acquire_slot(s, rq, job);
    if (!job->slot) goto out;
    rt_session *session = job->slot->session;
    rt_ask_result *res = NULL;
    rc = rt_session_set_adapters(session, job->adapters, job->scales, job->n_adapters);
    rt_collection *h = rc == RT_OK ? srv_coll_read(coll) : NULL;
    if (h) {
        rt_ask_params ap = rt_ask_default_params();
        ap.search.mode = s->has_embedder ? RT_SEARCH_HYBRID : RT_SEARCH_BM25;
        if (g->rag_k > 0) ap.search.k = g->rag_k;
        if (g->max_tokens > 0) ap.answer_tokens = g->max_tokens;
        ap.embedder = s->has_embedder ? &s->embedder_safe : NULL;
        ap.on_text = on_text; /* only for the deadline and shutdown checks */
        ap.user = job;
        rc = rt_ask(session, h, question, &ap, &res);
        srv_coll_unlock(coll);
    } else if (rc == RT_OK) {
        rc = rt_error(RT_ERR_NOT_FOUND, "collection '%s' was deleted", g->collection);
    }
    srv_slots_release(&s->slots, job->slot);
    job->slot = NULL;
    if (rc != RT_OK) {
        ret = srv_respond_error(rq, rc == RT_ERR_NOT_FOUND ? 404 : 500, NULL, NULL, "%s",
                                rt_last_error());
        goto out;
    }
    srv_metrics_tokens(&s->metrics, (uint64_t)res->gen.n_prompt, (uint64_t)res->gen.n_generated);
    job->prompt_tokens = res->gen.n_prompt;
    job->completion_tokens = res->gen.n_generated;
    char *record = NULL;
    json_t *details =
        rt_ask_result_json(res, &record) == RT_OK && record ? json_loads(record, 0, NULL) : NULL;
    free(record);
    json_t *content = json_string(res->answer ? res->answer : "");
    if (!content) content = json_string("");
    /* an abstention without generation has no stop reason of its own */
    const char *finish =
        res->gen.n_generated == 0 ? "stop" : finish_reason(job, res->gen.stop_reason);
    json_t *message = json_pack("{s:s, s:o, s:n, s:o}", "role", "assistant", "content", content,
                                "refusal", "annotations", annotations(res));
    json_t *extra =
        json_pack("{s:s, s:f, s:b, s:s?, s:o}", "collection", g->collection, "groundedness",
                  (double)res->groundedness, "abstained", res->abstained, "abstain_reason",
                  res->abstain_reason, "details", details ? details : json_null());
    rt_ask_result_free(res);
    if (g->stream) {
        /* the answer is checked (citations, grounding) before it is sent: one content chunk */
        srv_stream *st = srv_stream_new(s);
        if (!st) {
            json_decref(message);
            json_decref(extra);
            ret = srv_respond_error(rq, 500, NULL, NULL, "out of memory");
            goto out;
        }
        job->st = st;
        json_t *chunk = chunk_base(job);
        json_object_set_new(
            chunk, "choices",
            json_pack("[{s:i, s:O, s:n}]", "index", 0, "delta", message, "finish_reason"));
        srv_stream_send(st, chunk);
        chunk = chunk_base(job);
        json_object_set_new(
            chunk, "choices",
            json_pack("[{s:i, s:{}, s:s}]", "index", 0, "delta", "finish_reason", finish));
        json_object_set_new(chunk, "ragtune", extra);
        if (g->include_usage) json_object_set_new(chunk, "usage", usage_object(job));
        srv_stream_send(st, chunk);
        srv_stream_send(st, NULL);
        json_decref(message);
        srv_stream_finish(st);
        job->st = NULL;
        ret = srv_respond_stream(rq, st);
        goto out;
    }
    json_t *resp =
        json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:n, s:s}], s:o, s:o}", "id", job->id,
                  "object", "chat.completion", "created", (json_int_t)job->created, "model",
                  job->model_name, "choices", "index", 0, "message", message, "logprobs",
                  "finish_reason", finish, "usage", usage_object(job), "ragtune", extra);
    ret = srv_respond_json(rq, 200, resp);
out:
    srv_coll_put(coll);
    if (job->slot) srv_slots_release(&s->slots, job->slot);
    free(job);
    return ret;
}
