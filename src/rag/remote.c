/*
 * remote.c — OpenAI-compatible client over libcurl (see remote.h): the request loop with
 * retries and backoff, an idle timeout, a cap on reply size, a Server-Sent Events parser, the
 * generation request/reply mapping and the remote embedder.
 *
 * One easy handle per rt_remote (its connection is kept alive between requests); an rt_remote
 * is used by one thread at a time (sessions are single-threaded; the embedder takes a mutex).
 */
#include "rag/remote.h"

#include "core/error.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "model/generate.h"
#include "rag/session.h"
#include "rag/sse.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RT_REMOTE_MAX_REPLY ((size_t)8 << 20) /* default cap on one reply */
#define RT_REMOTE_BACKOFF 0.5                 /* seconds before the first retry, doubled after */
#define RT_REMOTE_MAX_WAIT 60.0               /* longest wait between attempts */
#define RT_REMOTE_EMBED_BATCH 64              /* texts per /embeddings request */
#define RT_REMOTE_PIECE 512                   /* bytes pushed through the stop matcher at once */

struct rt_remote {
    char *base; /* api_base without a trailing '/' */
    char *model;
    char *key; /* NULL: none */
    double timeout;
    int max_retries;
    size_t max_reply;
    CURL *curl;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_status;

static void curl_init(void) {
    curl_init_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *env_key(void) {
    const char *names[] = {"RAGTUNE_API_KEY", "OPENAI_API_KEY"};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) return rt_strdup(v);
    }
    return NULL;
}

int rt_remote_open(const rt_session_params *p, rt_remote **out) {
    *out = NULL;
    const char *base = p->api_base;
    if (!base || (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)))
        return rt_error(RT_ERR_INVALID, "remote: api_base '%s' is not an http:// or https:// URL",
                        base ? base : "");
    if (!p->api_model || !*p->api_model)
        return rt_error(RT_ERR_INVALID,
                        "remote %s: api_model (the model name to send) is "
                        "required",
                        base);
    pthread_once(&curl_once, curl_init);
    if (curl_init_status != CURLE_OK)
        return rt_error(RT_ERR_INTERNAL, "remote: libcurl failed to initialize: %s",
                        curl_easy_strerror(curl_init_status));
    rt_remote *r = rt_calloc(1, sizeof *r);
    if (!r) return RT_ERR_NOMEM;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    r->base = rt_malloc(n + 1);
    r->model = rt_strdup(p->api_model);
    r->key = p->api_key && *p->api_key ? rt_strdup(p->api_key) : env_key();
    r->curl = curl_easy_init();
    if (!r->base || !r->model || !r->curl || ((p->api_key && *p->api_key) && !r->key)) {
        int st =
            r->curl ? RT_ERR_NOMEM : rt_error(RT_ERR_INTERNAL, "remote: curl_easy_init failed");
        rt_remote_close(r);
        return st;
    }
    memcpy(r->base, base, n);
    r->base[n] = 0;
    r->timeout = p->timeout_seconds > 0 ? p->timeout_seconds : 120;
    r->max_retries = p->max_retries > 0 ? p->max_retries : 0;
    r->max_reply = p->max_reply_bytes ? p->max_reply_bytes : RT_REMOTE_MAX_REPLY;
    *out = r;
    return RT_OK;
}

void rt_remote_close(rt_remote *r) {
    if (!r) return;
    if (r->curl) curl_easy_cleanup(r->curl);
    if (r->key) memset(r->key, 0, strlen(r->key));
    free(r->key);
    free(r->model);
    free(r->base);
    free(r);
}

const char *rt_remote_model(const rt_remote *r) {
    return r->model;
}

/* ---- one HTTP exchange: POST with retries, SSE or a JSON body ------------------------------ */

typedef struct http_call {
    rt_remote *r;
    char *url;
    rt_sse events; /* the parser of a streamed reply, with the caller's event handler */
    /* per attempt */
    long status;
    bool checked; /* status and content type looked at (first body byte) */
    bool is_sse;  /* a 200 reply of type text/event-stream */
    rt_strbuf body;
    size_t n_bytes;
    double last_activity;
    double retry_after; /* seconds; negative when the server gave none */
    bool too_large, timed_out, stop;
    int status_code; /* error of an event handler or of an allocation */
    char errbuf[CURL_ERROR_SIZE];
} http_call;

static size_t on_header(char *buf, size_t size, size_t n, void *user) {
    http_call *c = user;
    size_t len = size * n;
    c->last_activity = rt_time_now();
    if (len >= 5 && !strncasecmp(buf, "HTTP/", 5)) {
        c->retry_after = -1; /* a new response (after 100 Continue, say) */
    } else if (len > 12 && !strncasecmp(buf, "retry-after:", 12)) {
        char tmp[64];
        size_t k = len - 12 < sizeof tmp - 1 ? len - 12 : sizeof tmp - 1;
        memcpy(tmp, buf + 12, k);
        tmp[k] = 0;
        char *end;
        double v = strtod(tmp, &end);
        if (end != tmp && v >= 0 && isfinite(v)) c->retry_after = v; /* an HTTP-date: ignored */
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *user) {
    http_call *c = user;
    size_t len = size * n;
    c->last_activity = rt_time_now();
    if (!c->checked) {
        c->checked = true;
        curl_easy_getinfo(c->r->curl, CURLINFO_RESPONSE_CODE, &c->status);
        char *ct = NULL;
        curl_easy_getinfo(c->r->curl, CURLINFO_CONTENT_TYPE, &ct);
        c->is_sse = c->status == 200 && ct && !strncasecmp(ct, "text/event-stream", 17);
    }
    if (len > c->r->max_reply - c->n_bytes) {
        c->too_large = true;
        return 0;
    }
    c->n_bytes += len;
    if (!c->is_sse) {
        int st = rt_strbuf_append(&c->body, buf, len);
        if (st < 0) c->status_code = st;
        return st < 0 ? 0 : len;
    }
    int st = rt_sse_feed(&c->events, buf, len);
    if (st < 0) c->status_code = st;
    if (st > 0) c->stop = true;
    return st != 0 ? 0 : len;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    http_call *c = user;
    if (rt_time_now() - c->last_activity > c->r->timeout) {
        c->timed_out = true;
        return 1;
    }
    return 0;
}

static void sleep_seconds(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The server's own words about an error reply: error.message, error (a string), message, or the
 * start of the body with control characters replaced. Writes into b. */
static void server_message(const rt_strbuf *body, rt_strbuf *b) {
    if (!body->len) return;
    json_t *root = json_loadb(body->data, body->len, 0, NULL);
    const char *msg = NULL;
    if (root) {
        json_t *e = json_object_get(root, "error");
        if (json_is_object(e)) msg = json_string_value(json_object_get(e, "message"));
        if (!msg) msg = json_string_value(e);
        if (!msg) msg = json_string_value(json_object_get(root, "message"));
        if (!msg) msg = json_string_value(json_object_get(root, "detail"));
    }
    if (msg) {
        rt_strbuf_printf(b, ": %.300s", msg);
    } else {
        rt_strbuf_puts(b, ": ");
        size_t n = body->len < 200 ? body->len : 200;
        for (size_t i = 0; i < n; i++) {
            char ch = body->data[i];
            rt_strbuf_append(b, (unsigned char)ch < 0x20 ? " " : &ch, 1);
        }
        if (body->len > n) rt_strbuf_puts(b, "...");
    }
    json_decref(root);
}

static void call_init(http_call *c, rt_sse_event_fn on_event, void *user) {
    memset(c, 0, sizeof *c);
    rt_sse_init(&c->events, on_event, user);
}

static void call_free(http_call *c) {
    rt_strbuf_free(&c->body);
    rt_sse_free(&c->events);
    free(c->url);
}

/* POSTs json to base + path, or to c->url when set (c from call_init). Returns RT_OK after a
 * 200 reply (events went to the handler; a body that is not an event stream is in c->body,
 * c->is_sse false) or after the handler asked to stop (c->stop); otherwise the error, after the
 * retries remote.h describes. */
static int http_post(rt_remote *r, const char *path, const char *json, bool stream, http_call *c) {
    if (!c->url) {
        rt_strbuf u = {0};
        RT_TRY(rt_strbuf_printf(&u, "%s%s", r->base, path));
        c->url = rt_strbuf_take(&u);
        if (!c->url) return RT_ERR_NOMEM;
    }
    c->r = r;
    struct curl_slist *headers = NULL, *h;
    rt_strbuf auth = {0};
    int st = RT_OK;
    const char *fixed[] = {"Content-Type: application/json",
                           stream ? "Accept: text/event-stream" : "Accept: application/json",
                           "Expect:"};
    for (int i = 0; i < 3 && st == RT_OK; i++) {
        h = curl_slist_append(headers, fixed[i]);
        if (!h)
            st = RT_ERR_NOMEM;
        else
            headers = h;
    }
    if (st == RT_OK && r->key) {
        st = rt_strbuf_printf(&auth, "Authorization: Bearer %s", r->key);
        h = st == RT_OK ? curl_slist_append(headers, auth.data) : NULL;
        if (!h)
            st = RT_ERR_NOMEM;
        else
            headers = h;
    }
    CURL *e = r->curl;
    if (st != RT_OK) goto done;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->timeout * 1000));
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ragtune");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");

    double delay = RT_REMOTE_BACKOFF;
    for (int attempt = 1;; attempt++) {
        c->status = 0;
        c->checked = c->is_sse = false;
        c->body.len = 0;
        rt_sse_reset(&c->events);
        c->n_bytes = 0;
        c->retry_after = -1;
        c->too_large = c->timed_out = c->stop = false;
        c->status_code = RT_OK;
        c->errbuf[0] = 0;
        c->last_activity = rt_time_now();
        CURLcode rc = curl_easy_perform(e);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (c->status_code < 0) {
            st = c->status_code;
            break;
        }
        if (c->stop) break;
        if (c->too_large) {
            st = rt_error(RT_ERR_RANGE, "%s: the reply exceeds %zu bytes", c->url, r->max_reply);
            break;
        }
        if (c->timed_out || rc == CURLE_OPERATION_TIMEDOUT) {
            st = rt_error(RT_ERR_IO, "%s: no reply within %g s (timeout)", c->url, r->timeout);
            break;
        }
        rt_strbuf why = {0};
        bool retry = false;
        if (rc != CURLE_OK) {
            retry = c->events.n_events == 0 &&
                    (rc == CURLE_COULDNT_CONNECT || rc == CURLE_GOT_NOTHING ||
                     rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_PARTIAL_FILE);
            rt_strbuf_printf(&why, "cannot reach the server: %s",
                             c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        } else if (status == 200) {
            break;
        } else {
            rt_strbuf msg = {0};
            server_message(&c->body, &msg);
            const char *m = msg.data ? msg.data : "";
            if (status == 401 || status == 403) {
                st = rt_error(RT_ERR_INVALID, "%s: the server refused the API key (HTTP %ld%s)%s",
                              c->url, status, m,
                              r->key ? "" : "; no key is set (RAGTUNE_API_KEY or OPENAI_API_KEY)");
            } else if (status == 429 || status >= 500) {
                retry = true;
                rt_strbuf_printf(&why, "HTTP %ld%s", status, m);
            } else if (status == 404) {
                st =
                    rt_error(RT_ERR_NOT_FOUND, "%s: HTTP 404, no such route or model%s", c->url, m);
            } else {
                st = rt_error(RT_ERR_INVALID, "%s: HTTP %ld%s", c->url, status, m);
            }
            rt_strbuf_free(&msg);
        }
        if (!retry) {
            if (st == RT_OK)
                st = rt_error(RT_ERR_IO, "%s: %s", c->url, why.data ? why.data : "request failed");
            rt_strbuf_free(&why);
            break;
        }
        if (attempt > r->max_retries) {
            st = rt_error(RT_ERR_IO, "%s: %s (after %d attempt%s)", c->url,
                          why.data ? why.data : "request failed", attempt, attempt > 1 ? "s" : "");
            rt_strbuf_free(&why);
            break;
        }
        double wait = c->retry_after >= 0 ? c->retry_after : delay;
        if (wait > RT_REMOTE_MAX_WAIT) wait = RT_REMOTE_MAX_WAIT;
        rt_log_warn("%s: %s; retrying in %.1f s (%d of %d)", c->url,
                    why.data ? why.data : "request failed", wait, attempt, r->max_retries);
        rt_strbuf_free(&why);
        sleep_seconds(wait);
        delay *= 2;
    }
    /* an event the stream ended without a blank line after */
    if (st == RT_OK && c->is_sse && !c->stop) {
        int k = rt_sse_end(&c->events);
        if (k > 0) c->stop = true;
        if (k < 0) st = k;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
done:
    if (auth.data) memset(auth.data, 0, auth.len);
    rt_strbuf_free(&auth);
    curl_slist_free_all(headers);
    return st;
}

/* ---- generation --------------------------------------------------------------------------- */

typedef struct gen_state {
    const char *url; /* for messages */
    bool chat;
    rt_session_sink sink;
    rt_stop_matcher matcher;
    bool have_matcher;
    int n_chunks;
    bool found_stop;
    char finish[32];
    int usage_prompt, usage_completion, usage_cached; /* -1: not given */
} gen_state;

/* Passes text on through the stop matcher (in pieces that end on UTF-8 boundaries). Returns 1
 * when generation is to stop, negative on error. */
static int push_text(gen_state *g, const char *text, size_t len) {
    if (!g->have_matcher) return rt_session_sink_text(&g->sink, text, len);
    while (len) {
        size_t n = len;
        if (n > RT_REMOTE_PIECE) {
            n = RT_REMOTE_PIECE;
            while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
                n--;
            if (n == 0) n = RT_REMOTE_PIECE;
        }
        const char *rel;
        size_t n_rel;
        int found = rt_stop_matcher_push(&g->matcher, text, n, &rel, &n_rel);
        if (found < 0) return found;
        int st = rt_session_sink_text(&g->sink, rel, n_rel);
        if (st) return st;
        if (found) {
            g->found_stop = true;
            return 1;
        }
        text += n;
        len -= n;
    }
    return 0;
}

static int json_int_field(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= INT32_MAX)
        return (int)json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) <= INT32_MAX)
        return (int)json_real_value(v);
    return -1;
}

/* One reply object: a stream chunk or a whole completion. */
static int take_reply(gen_state *g, const json_t *root) {
    if (!json_is_object(root))
        return rt_error(RT_ERR_FORMAT, "%s: a reply that is not a JSON object", g->url);
    const json_t *err = json_object_get(root, "error");
    if (err && !json_is_null(err)) {
        const char *m = json_string_value(json_object_get(err, "message"));
        if (!m) m = json_string_value(err);
        return rt_error(RT_ERR_IO, "%s: the server reported an error: %.300s", g->url,
                        m ? m : "(no message)");
    }
    const json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        g->usage_prompt = json_int_field(usage, "prompt_tokens");
        g->usage_completion = json_int_field(usage, "completion_tokens");
        const json_t *details = json_object_get(usage, "prompt_tokens_details");
        if (json_is_object(details)) g->usage_cached = json_int_field(details, "cached_tokens");
    }
    const json_t *choices = json_object_get(root, "choices");
    if (!choices) {
        if (json_is_object(usage)) return 0;
        return rt_error(RT_ERR_FORMAT, "%s: a reply without \"choices\"", g->url);
    }
    if (!json_is_array(choices))
        return rt_error(RT_ERR_FORMAT, "%s: \"choices\" is not an array", g->url);
    if (json_array_size(choices) == 0) return 0;
    const json_t *c0 = json_array_get(choices, 0);
    if (!json_is_object(c0))
        return rt_error(RT_ERR_FORMAT, "%s: choices[0] is not an object", g->url);
    const json_t *text;
    if (g->chat) {
        const json_t *m = json_object_get(c0, "delta");
        if (!m) m = json_object_get(c0, "message");
        if (m && !json_is_object(m))
            return rt_error(RT_ERR_FORMAT, "%s: choices[0].delta is not an object", g->url);
        text = m ? json_object_get(m, "content") : NULL;
    } else {
        text = json_object_get(c0, "text");
    }
    if (text && !json_is_null(text) && !json_is_string(text))
        return rt_error(RT_ERR_FORMAT, "%s: the generated text is not a string", g->url);
    const char *fr = json_string_value(json_object_get(c0, "finish_reason"));
    if (fr) snprintf(g->finish, sizeof g->finish, "%s", fr);
    size_t len = json_is_string(text) ? json_string_length(text) : 0;
    if (!len) return 0;
    g->n_chunks++;
    rt_session_sink_first(&g->sink);
    return push_text(g, json_string_value(text), len);
}

static int on_gen_event(void *user, const char *data, size_t len) {
    gen_state *g = user;
    json_error_t err;
    json_t *root = json_loadb(data, len, 0, &err);
    if (!root)
        return rt_error(RT_ERR_FORMAT, "%s: malformed JSON in the event stream: %s (event: %.80s)",
                        g->url, err.text, data);
    int st = take_reply(g, root);
    json_decref(root);
    return st;
}

static int add(json_t *o, const char *key, json_t *v) {
    if (!v || json_object_set_new(o, key, v) != 0) return RT_ERR_NOMEM;
    return RT_OK;
}

static int utf8_string(const char *s, const char *what, size_t i, json_t **out) {
    *out = json_string(s ? s : "");
    if (!*out) return rt_error(RT_ERR_INVALID, "remote: %s %zu is not valid UTF-8", what, i);
    return RT_OK;
}

/* The request body (malloc'd JSON text). */
static int generate_body(const rt_remote *r, const rt_session_request *q, char **out) {
    json_t *o = json_object();
    if (!o) return RT_ERR_NOMEM;
    int st = add(o, "model", json_string(r->model));
    if (st == RT_OK && q->n_prompt_ids > 0) {
        json_t *a = json_array();
        st = add(o, "prompt", a);
        for (int i = 0; i < q->n_prompt_ids && st == RT_OK; i++)
            if (json_array_append_new(a, json_integer(q->prompt_ids[i])) != 0) st = RT_ERR_NOMEM;
    } else if (st == RT_OK && q->prompt) {
        json_t *p;
        st = utf8_string(q->prompt, "prompt", 0, &p);
        if (st == RT_OK) st = add(o, "prompt", p);
    } else if (st == RT_OK) {
        json_t *a = json_array();
        st = add(o, "messages", a);
        for (size_t i = 0; i < q->n_messages && st == RT_OK; i++) {
            json_t *role, *content;
            st = utf8_string(q->messages[i].role, "role of message", i, &role);
            if (st == RT_OK) st = utf8_string(q->messages[i].content, "message", i, &content);
            if (st != RT_OK) break;
            json_t *m = json_object();
            if (!m || json_array_append_new(a, m) != 0) st = RT_ERR_NOMEM;
            if (st == RT_OK)
                st = add(m, "role", role);
            else
                json_decref(role);
            if (st == RT_OK)
                st = add(m, "content", content);
            else
                json_decref(content);
        }
    }
    const rt_sampler_params *sp = &q->sampler;
    if (st == RT_OK) st = add(o, "max_tokens", json_integer(q->max_tokens));
    if (st == RT_OK)
        st = add(o, "temperature", json_real(sp->temperature > 0 ? sp->temperature : 0.0));
    if (st == RT_OK && sp->top_p < 1) st = add(o, "top_p", json_real(sp->top_p));
    /* not in OpenAI's API, but understood by llama.cpp and vLLM; sent only when used */
    if (st == RT_OK && sp->top_k > 0) st = add(o, "top_k", json_integer(sp->top_k));
    if (st == RT_OK && sp->min_p > 0) st = add(o, "min_p", json_real(sp->min_p));
    if (st == RT_OK && sp->repeat_penalty != 1)
        st = add(o, "repeat_penalty", json_real(sp->repeat_penalty));
    if (st == RT_OK && q->ignore_eos) st = add(o, "ignore_eos", json_true());
    if (st == RT_OK && sp->temperature > 0)
        st = add(o, "seed", json_integer((json_int_t)(sp->seed & INT64_MAX)));
    if (st == RT_OK && q->n_stop_strings > 0) {
        /* OpenAI takes at most 4; the rest are enforced here all the same */
        json_t *a = json_array();
        st = add(o, "stop", a);
        for (int i = 0; i < q->n_stop_strings && i < 4 && st == RT_OK; i++) {
            json_t *s;
            st = utf8_string(q->stop_strings[i], "stop string", (size_t)i, &s);
            if (st == RT_OK && json_array_append_new(a, s) != 0) st = RT_ERR_NOMEM;
        }
    }
    if (st == RT_OK) st = add(o, "stream", json_true());
    if (st == RT_OK) st = add(o, "stream_options", json_pack("{s:b}", "include_usage", 1));
    if (st == RT_OK) {
        *out = json_dumps(o, JSON_COMPACT);
        if (!*out) st = RT_ERR_NOMEM;
    }
    json_decref(o);
    return st;
}

static int estimate_prompt(const rt_session_request *q) {
    if (q->n_prompt_ids > 0) return q->n_prompt_ids;
    if (q->prompt) return rt_session_estimate_tokens(q->prompt, strlen(q->prompt));
    size_t n = 0;
    for (size_t i = 0; i < q->n_messages; i++)
        n += 4 + (q->messages[i].content ? strlen(q->messages[i].content) : 0);
    return rt_session_estimate_tokens(NULL, n);
}

static int gen_begin(gen_state *g, const rt_session_request *q, bool chat) {
    memset(g, 0, sizeof *g);
    g->chat = chat;
    g->url = "reply";
    g->usage_prompt = g->usage_completion = g->usage_cached = -1;
    rt_session_sink_init(&g->sink, q);
    if (q->n_stop_strings > 0) {
        RT_TRY(rt_stop_matcher_init(&g->matcher, q->stop_strings, q->n_stop_strings));
        g->have_matcher = true;
    }
    return RT_OK;
}

/* A reply that came as one JSON body (a server that does not stream). */
static int gen_take_body(gen_state *g, const char *body, size_t len) {
    json_error_t err;
    json_t *root = json_loadb(body ? body : "", len, 0, &err);
    if (!root)
        return rt_error(RT_ERR_FORMAT, "%s: malformed JSON reply: %s (line %d)", g->url, err.text,
                        err.line);
    int st = take_reply(g, root);
    json_decref(root);
    return st > 0 ? RT_OK : st;
}

/* Checks a streamed reply's end, releases held-back text and fills res; always frees g. */
static int gen_finish(gen_state *g, int st, bool streamed, bool done, bool stopped,
                      const rt_session_request *q, rt_session_result *res) {
    if (st == RT_OK && streamed && !stopped && !done && !g->finish[0])
        st = rt_error(RT_ERR_FORMAT,
                      "%s: the event stream ended before \"[DONE]\" (truncated "
                      "reply)",
                      g->url);
    /* text held back as a possible stop string that never completed is final now */
    if (st == RT_OK && g->have_matcher && !g->found_stop && !g->sink.stopped &&
        g->matcher.n_pending &&
        rt_session_sink_text(&g->sink, g->matcher.pending, g->matcher.n_pending) < 0)
        st = RT_ERR_NOMEM;
    if (g->have_matcher) rt_stop_matcher_free(&g->matcher);
    if (st != RT_OK) {
        rt_session_sink_free(&g->sink);
        return st;
    }
    res->n_prompt = g->usage_prompt >= 0 ? g->usage_prompt : estimate_prompt(q);
    res->n_prompt_cached = g->usage_cached >= 0 ? g->usage_cached : 0;
    res->n_generated = g->usage_completion >= 0 && !g->found_stop && !g->sink.stopped
                           ? g->usage_completion
                           : g->n_chunks;
    if (g->found_stop)
        res->stop_reason = RT_STOP_STRING;
    else if (g->sink.stopped)
        res->stop_reason = RT_STOP_CALLBACK;
    else if (q->max_tokens == 0 || !strcmp(g->finish, "length"))
        res->stop_reason = RT_STOP_LENGTH;
    else
        res->stop_reason = RT_STOP_EOS;
    st = rt_session_sink_finish(&g->sink, res);
    res->prefill_seconds = res->ttft_seconds; /* the server's prefill, seen from here */
    return st;
}

int rt_remote_generate(rt_remote *r, const rt_session_request *q, rt_session_result *res) {
    memset(res, 0, sizeof *res);
    bool chat = q->n_prompt_ids <= 0 && !q->prompt;
    if (chat && (!q->messages || q->n_messages == 0))
        return rt_error(RT_ERR_INVALID, "session: the request has no prompt and no messages");
    if (q->n_stop_tokens > 0 || q->on_token)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "remote %s: stop token ids and per-token callbacks "
                        "need a local model",
                        r->model);
    gen_state g;
    int st = gen_begin(&g, q, chat);
    char *body = NULL;
    http_call c;
    call_init(&c, on_gen_event, &g);
    if (st == RT_OK && q->max_tokens > 0) st = generate_body(r, q, &body);
    if (st == RT_OK && q->max_tokens > 0) {
        rt_strbuf u = {0};
        st = rt_strbuf_printf(&u, "%s%s", r->base, chat ? "/chat/completions" : "/completions");
        c.url = rt_strbuf_take(&u);
        if (st == RT_OK && !c.url) st = RT_ERR_NOMEM;
        if (st == RT_OK) {
            g.url = c.url; /* for messages about the events */
            st = http_post(r, NULL, body, true, &c);
        }
        if (st == RT_OK && !c.stop && !c.is_sse) st = gen_take_body(&g, c.body.data, c.body.len);
    }
    st = gen_finish(&g, st, c.is_sse, c.events.done, c.stop, q, res);
    free(body);
    call_free(&c);
    return st;
}

int rt_remote_parse_reply(const char *reply, size_t len, bool sse, const rt_session_request *q,
                          rt_session_result *res) {
    memset(res, 0, sizeof *res);
    gen_state g;
    int st = gen_begin(&g, q, q->n_prompt_ids <= 0 && !q->prompt);
    bool stopped = false, done = false;
    if (st == RT_OK && sse) {
        rt_sse p;
        rt_sse_init(&p, on_gen_event, &g);
        /* in uneven pieces, as a network delivers them */
        for (size_t i = 0, step = 1; i < len && st == RT_OK; i += step, step = step * 3 % 61 + 1)
            st = rt_sse_feed(&p, reply + i, step < len - i ? step : len - i);
        if (st == RT_OK) st = rt_sse_end(&p);
        if (st > 0) {
            stopped = true;
            st = RT_OK;
        }
        done = p.done;
        rt_sse_free(&p);
    } else if (st == RT_OK) {
        st = gen_take_body(&g, reply, len);
    }
    return gen_finish(&g, st, sse, done, stopped, q, res);
}

/* ---- embeddings --------------------------------------------------------------------------- */

static int unexpected_event(void *user, const char *data, size_t len) {
    return rt_error(RT_ERR_FORMAT, "remote embedder: an event stream where one JSON reply was "
                                   "expected");
}

/* One /embeddings request for n non-empty texts. *dim <= 0: take the server's dimension. out
 * (n x dim) may be NULL (only the dimension is wanted). */
static int embed_request(rt_remote *r, const char *const *texts, const size_t *lens, int n,
                         int *dim, float *out) {
    json_t *o = json_object(), *a = json_array();
    int st = o && a ? RT_OK : RT_ERR_NOMEM;
    if (st == RT_OK) st = add(o, "model", json_string(r->model));
    if (st == RT_OK)
        st = add(o, "input", a);
    else
        json_decref(a);
    for (int i = 0; i < n && st == RT_OK; i++) {
        json_t *s = json_stringn(texts[i], lens[i]);
        if (!s)
            st = rt_error(RT_ERR_INVALID, "remote embedder: text %d is not valid UTF-8", i);
        else if (json_array_append_new(a, s) != 0)
            st = RT_ERR_NOMEM;
    }
    char *body = st == RT_OK ? json_dumps(o, JSON_COMPACT) : NULL;
    if (st == RT_OK && !body) st = RT_ERR_NOMEM;
    json_decref(o);
    http_call c;
    call_init(&c, unexpected_event, NULL);
    json_t *root = NULL;
    if (st == RT_OK) st = http_post(r, "/embeddings", body, false, &c);
    free(body);
    if (st == RT_OK) {
        json_error_t err;
        root = json_loadb(c.body.data ? c.body.data : "", c.body.len, 0, &err);
        if (!root)
            st = rt_error(RT_ERR_FORMAT, "%s: malformed JSON reply: %s (line %d)", c.url, err.text,
                          err.line);
    }
    const json_t *data = st == RT_OK ? json_object_get(root, "data") : NULL;
    if (st == RT_OK && (!json_is_array(data) || json_array_size(data) != (size_t)n))
        st = rt_error(RT_ERR_FORMAT, "%s: \"data\" is not an array of %d embeddings", c.url, n);
    bool *seen = st == RT_OK ? rt_calloc((size_t)n, 1) : NULL;
    if (st == RT_OK && !seen) st = RT_ERR_NOMEM;
    for (int i = 0; i < n && st == RT_OK; i++) {
        const json_t *item = json_array_get(data, (size_t)i);
        const json_t *idx = json_object_get(item, "index");
        json_int_t k = json_is_integer(idx) ? json_integer_value(idx) : i;
        const json_t *v = json_object_get(item, "embedding");
        if (k < 0 || k >= n || seen[k] || !json_is_array(v)) {
            st = rt_error(RT_ERR_FORMAT, "%s: data[%d] has a bad index or no \"embedding\" array",
                          c.url, i);
            break;
        }
        seen[k] = true;
        size_t d = json_array_size(v);
        if (*dim <= 0) {
            if (d == 0 || d > (1 << 20)) {
                st = rt_error(RT_ERR_FORMAT, "%s: an embedding of %zu values", c.url, d);
                break;
            }
            *dim = (int)d;
        }
        if (d != (size_t)*dim) {
            st = rt_error(RT_ERR_FORMAT, "%s: an embedding of %zu values, expected %d", c.url, d,
                          *dim);
            break;
        }
        if (!out) continue;
        float *row = out + (size_t)k * (size_t)*dim;
        double norm = 0;
        for (size_t j = 0; j < d; j++) {
            const json_t *x = json_array_get(v, j);
            if (!json_is_number(x)) {
                st = rt_error(RT_ERR_FORMAT, "%s: data[%d].embedding[%zu] is not a number", c.url,
                              i, j);
                break;
            }
            row[j] = (float)json_number_value(x);
            norm += (double)row[j] * row[j];
        }
        if (norm > 0)
            for (size_t j = 0; j < d; j++)
                row[j] = (float)(row[j] / sqrt(norm));
    }
    free(seen);
    json_decref(root);
    call_free(&c);
    return st;
}

int rt_remote_embed(rt_remote *r, const char *const *texts, const size_t *lens, int n, int dim,
                    float *out) {
    if (dim <= 0) return rt_error(RT_ERR_INVALID, "remote embedder: dimension %d", dim);
    return embed_request(r, texts, lens, n, &dim, out);
}

int rt_remote_embed_dim(rt_remote *r, int *dim) {
    const char *probe = "dimension";
    size_t len = strlen(probe);
    *dim = 0;
    return embed_request(r, &probe, &len, 1, dim, NULL);
}

typedef struct remote_embedder {
    rt_remote *remote;
    pthread_mutex_t lock;
    char *name;
    int dim;
} remote_embedder;

static int remote_embed_texts(void *user, const char *const *texts, const size_t *lens, int n,
                              float *out) {
    remote_embedder *e = user;
    const char *batch[RT_REMOTE_EMBED_BATCH];
    size_t blen[RT_REMOTE_EMBED_BATCH];
    int where[RT_REMOTE_EMBED_BATCH];
    float *tmp = rt_malloc((size_t)RT_REMOTE_EMBED_BATCH * (size_t)e->dim * sizeof(float));
    if (!tmp) return RT_ERR_NOMEM;
    int st = RT_OK;
    pthread_mutex_lock(&e->lock);
    for (int i = 0; i < n && st == RT_OK;) {
        int k = 0;
        for (; i < n && k < RT_REMOTE_EMBED_BATCH; i++) {
            if (lens[i] == 0) { /* servers refuse empty input; it embeds as the zero vector */
                memset(out + (size_t)i * e->dim, 0, (size_t)e->dim * sizeof(float));
                continue;
            }
            batch[k] = texts[i];
            blen[k] = lens[i];
            where[k++] = i;
        }
        if (k == 0) continue;
        st = rt_remote_embed(e->remote, batch, blen, k, e->dim, tmp);
        for (int j = 0; j < k && st == RT_OK; j++)
            memcpy(out + (size_t)where[j] * e->dim, tmp + (size_t)j * e->dim,
                   (size_t)e->dim * sizeof(float));
    }
    pthread_mutex_unlock(&e->lock);
    free(tmp);
    return st;
}

int rt_embedder_open_remote(const char *api_base, const char *model, int dim, rt_embedder *out) {
    if (!out) return rt_error(RT_ERR_INVALID, "rt_embedder_open_remote: NULL argument");
    memset(out, 0, sizeof *out);
    rt_session_params p = rt_session_default_params();
    p.api_base = api_base;
    p.api_model = model;
    remote_embedder *e = rt_calloc(1, sizeof *e);
    if (!e) return RT_ERR_NOMEM;
    pthread_mutex_init(&e->lock, NULL);
    int st = rt_remote_open(&p, &e->remote);
    if (st == RT_OK) {
        rt_strbuf nb = {0};
        st = rt_strbuf_printf(&nb, "remote:%s", model);
        e->name = rt_strbuf_take(&nb);
        if (st == RT_OK && !e->name) st = RT_ERR_NOMEM;
    }
    if (st == RT_OK && dim > 0)
        e->dim = dim;
    else if (st == RT_OK)
        st = rt_remote_embed_dim(e->remote, &e->dim);
    if (st != RT_OK) {
        rt_remote_close(e->remote);
        pthread_mutex_destroy(&e->lock);
        free(e->name);
        free(e);
        return st;
    }
    out->name = e->name;
    out->dim = e->dim;
    out->embed = remote_embed_texts;
    out->user = e;
    return RT_OK;
}

void rt_embedder_close_remote(rt_embedder *embedder) {
    if (!embedder || !embedder->user) return;
    remote_embedder *e = embedder->user;
    rt_remote_close(e->remote);
    pthread_mutex_destroy(&e->lock);
    free(e->name);
    free(e);
    memset(embedder, 0, sizeof *embedder);
}
