/*
 * http.h — one HTTP request as the route handlers see it (method, path, query, body read up to
 * a limit) and the ways to answer it: JSON, OpenAI-shaped errors, plain bytes, and a
 * server-sent-events stream fed by a producer thread. Built on libmicrohttpd in thread-per-
 * connection mode, so a handler may block (waiting for a slot, generating).
 */
#ifndef RT_SERVER_HTTP_H
#define RT_SERVER_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/strbuf.h"

struct srv;

typedef struct srv_request {
    struct MHD_Connection *conn;
    struct srv *server;
    char method[16];
    char *path; /* URL path without the query */
    char *body; /* NUL-terminated; NULL when empty */
    size_t body_len;
    size_t body_limit;
    bool too_large; /* the body passed body_limit (the rest was discarded) */
    bool multipart; /* handled by a post processor (files) */
    void *upload;   /* the files module's upload state */
    void (*upload_free)(void *upload);
    double start;      /* rt_time_now() at arrival */
    int status;        /* status of the response queued (access log) */
    const char *route; /* route name for metrics ("chat", "models", ...) */
    bool responded;
    char hdr_name[4][32]; /* extra response headers (srv_add_header) */
    char hdr_value[4][160];
    int n_hdr;
} srv_request;

/* Value of a query argument or header (NULL when absent). */
const char *srv_query(srv_request *rq, const char *key);
const char *srv_header(srv_request *rq, const char *key);

/* Answers with body (copied) and content type. */
int srv_respond_bytes(srv_request *rq, unsigned status, const char *content_type, const void *data,
                      size_t len);
/* Answers with the JSON value (the reference is stolen). */
int srv_respond_json(srv_request *rq, unsigned status, json_t *value);
/* Answers with OpenAI's error shape {"error":{"message","type","param","code"}}; type is
 * derived from the status (invalid_request_error, authentication_error, ...); param and code
 * may be NULL. */
int srv_respond_error(srv_request *rq, unsigned status, const char *param, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The client's socket (for a hang-up check while a handler works), or -1. */
int srv_client_fd(srv_request *rq);
/* Adds a header to the next response of rq (e.g. Retry-After); at most 4. */
void srv_add_header(srv_request *rq, const char *name, const char *value);

/* A server-sent-events stream: the handler makes one, starts a producer thread that pushes
 * events and finishes it, and answers rq with it. The client going away sets `cancelled`, which
 * the producer polls (and its generation callbacks return as "stop"). */
typedef struct srv_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rt_strbuf buf;
    size_t sent;
    bool done;
    atomic_bool cancelled;
    int refs; /* the producer and libmicrohttpd each hold one */
    struct srv *server;
} srv_stream;

srv_stream *srv_stream_new(struct srv *server);
/* Appends "data: <json>\n\n" (the reference is stolen) or "data: [DONE]\n\n" when value is
 * NULL. Returns false once the client has gone. */
bool srv_stream_send(srv_stream *st, json_t *value);
/* The producer is done with the stream (drops its reference). */
void srv_stream_finish(srv_stream *st);
/* Queues the stream as rq's response (text/event-stream); libmicrohttpd takes a reference. */
int srv_respond_stream(srv_request *rq, srv_stream *st);

/* Runs fn(arg) on a detached producer thread counted by the server (shutdown waits for it).
 * Returns false when no thread could be started. */
bool srv_spawn_producer(struct srv *server, void *(*fn)(void *), void *arg);

#endif
