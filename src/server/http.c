/*
 * http.c — answering requests: JSON bodies, OpenAI-shaped errors, extra headers and the
 * server-sent-events stream (a buffer filled by a producer thread and drained by
 * libmicrohttpd's content reader on the connection's thread). Routing, auth and the access log
 * are in server.c.
 */
#include "server/http.h"
#include "server/context.h"

#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *srv_query(srv_request *rq, const char *key) {
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *srv_header(srv_request *rq, const char *key) {
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, key);
}

int srv_client_fd(srv_request *rq) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

void srv_add_header(srv_request *rq, const char *name, const char *value) {
    if (rq->n_hdr >= 4) return;
    snprintf(rq->hdr_name[rq->n_hdr], sizeof rq->hdr_name[0], "%s", name);
    snprintf(rq->hdr_value[rq->n_hdr], sizeof rq->hdr_value[0], "%s", value);
    rq->n_hdr++;
}

static int queue(srv_request *rq, unsigned status, struct MHD_Response *resp,
                 const char *content_type) {
    if (!resp) return MHD_NO;
    if (content_type) MHD_add_response_header(resp, "Content-Type", content_type);
    for (int i = 0; i < rq->n_hdr; i++)
        MHD_add_response_header(resp, rq->hdr_name[i], rq->hdr_value[i]);
    int ret = MHD_queue_response(rq->conn, status, resp);
    MHD_destroy_response(resp);
    rq->status = (int)status;
    rq->responded = true;
    return ret;
}

int srv_respond_bytes(srv_request *rq, unsigned status, const char *content_type, const void *data,
                      size_t len) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    return queue(rq, status, resp, content_type);
}

int srv_respond_json(srv_request *rq, unsigned status, json_t *value) {
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (!text) return srv_respond_bytes(rq, 500, "application/json", "{}", 2);
    size_t len = strlen(text);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) free(text);
    return queue(rq, status, resp, "application/json");
}

static const char *error_type(unsigned status) {
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 409:
        return "conflict_error";
    case 413:
        return "invalid_request_error";
    case 429:
        return "rate_limit_error";
    case 503:
        return "service_unavailable_error";
    case 504:
        return "timeout_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

int srv_respond_error(srv_request *rq, unsigned status, const char *param, const char *code,
                      const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:s, s:s, s:o, s:o}", "message", msg, "type", error_type(status),
                            "param", param ? json_string(param) : json_null(), "code",
                            code ? json_string(code) : json_null());
    /* a message with invalid UTF-8 (echoing bad input) must still produce an error */
    if (!err)
        err = json_pack("{s:s, s:s}", "message", "invalid request", "type", error_type(status));
    return srv_respond_json(rq, status, json_pack("{s:o}", "error", err));
}

/* ---- server-sent events ---- */

srv_stream *srv_stream_new(struct srv *server) {
    srv_stream *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->refs = 2;
    st->server = server;
    return st;
}

static void stream_unref(srv_stream *st) {
    pthread_mutex_lock(&st->mu);
    int left = --st->refs;
    pthread_mutex_unlock(&st->mu);
    if (left) return;
    rt_strbuf_free(&st->buf);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
}

bool srv_stream_send(srv_stream *st, json_t *value) {
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (value && !text) return !atomic_load(&st->cancelled);
    pthread_mutex_lock(&st->mu);
    rt_strbuf_puts(&st->buf, "data: ");
    rt_strbuf_puts(&st->buf, text ? text : "[DONE]");
    rt_strbuf_puts(&st->buf, "\n\n");
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    free(text);
    return !atomic_load(&st->cancelled);
}

void srv_stream_finish(srv_stream *st) {
    pthread_mutex_lock(&st->mu);
    st->done = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    stream_unref(st);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    srv_stream *st = cls;
    pthread_mutex_lock(&st->mu);
    while (st->sent == st->buf.len && !st->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&st->cv, &st->mu, &ts);
    }
    ssize_t n;
    if (st->sent < st->buf.len) {
        size_t k = st->buf.len - st->sent;
        if (k > max) k = max;
        memcpy(buf, st->buf.data + st->sent, k);
        st->sent += k;
        n = (ssize_t)k;
    } else {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

/* libmicrohttpd is done with the response: the stream ended, or the client went away. */
static void stream_release(void *cls) {
    srv_stream *st = cls;
    atomic_store(&st->cancelled, true);
    stream_unref(st);
}

int srv_respond_stream(srv_request *rq, srv_stream *st) {
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_release);
    if (!resp) {
        stream_release(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    return queue(rq, 200, resp, "text/event-stream");
}

typedef struct producer_arg {
    struct srv *server;
    void *(*fn)(void *);
    void *arg;
} producer_arg;

static void *producer_main(void *p) {
    producer_arg a = *(producer_arg *)p;
    free(p);
    a.fn(a.arg);
    pthread_mutex_lock(&a.server->producers_mu);
    a.server->n_producers--;
    pthread_cond_broadcast(&a.server->producers_cv);
    pthread_mutex_unlock(&a.server->producers_mu);
    return NULL;
}

bool srv_spawn_producer(struct srv *server, void *(*fn)(void *), void *arg) {
    producer_arg *a = malloc(sizeof *a);
    if (!a) return false;
    a->server = server;
    a->fn = fn;
    a->arg = arg;
    pthread_mutex_lock(&server->producers_mu);
    server->n_producers++;
    pthread_mutex_unlock(&server->producers_mu);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, producer_main, a);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(a);
        pthread_mutex_lock(&server->producers_mu);
        server->n_producers--;
        pthread_mutex_unlock(&server->producers_mu);
        return false;
    }
    return true;
}
