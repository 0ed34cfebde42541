/*
 * request.c — OpenAI generation request bodies to srv_gen_request (see request.h). Unknown
 * fields are ignored, as OpenAI-compatible servers do; known fields must have the right type
 * and range.
 */
#include "server/request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *msg, size_t cap, const char **param, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *msg, size_t cap, const char **param, const char *field, const char *fmt,
                ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    if (param) *param = field;
    return RT_ERR_INVALID;
}

int srv_json_object_parse(const char *body, size_t len, json_t **out, char *msg, size_t msg_cap) {
    *out = NULL;
    if (!body || len == 0) {
        snprintf(msg, msg_cap, "the request body is empty; expected a JSON object");
        return RT_ERR_INVALID;
    }
    json_error_t e;
    /* jansson rejects invalid UTF-8 and NUL bytes in strings; depth is bounded by its parser */
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!root) {
        snprintf(msg, msg_cap, "the request body is not valid JSON: %s (line %d, column %d)",
                 e.text, e.line, e.column);
        return RT_ERR_INVALID;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(msg, msg_cap, "the request body must be a JSON object");
        return RT_ERR_INVALID;
    }
    *out = root;
    return RT_OK;
}

static bool number(json_t *v, double *out) {
    if (!json_is_number(v)) return false;
    *out = json_number_value(v);
    return isfinite(*out);
}

/* Content: a string, or an array of parts of which "text" parts are joined. */
static int content_text(srv_gen_request *r, json_t *content, const char **out, char *msg,
                        size_t cap, const char **param) {
    if (json_is_string(content)) {
        *out = json_string_value(content);
        return RT_OK;
    }
    if (json_is_null(content)) {
        *out = "";
        return RT_OK;
    }
    if (!json_is_array(content))
        return fail(msg, cap, param, "messages",
                    "message content must be a string or an array "
                    "of content parts");
    size_t total = 1, i;
    json_t *part;
    json_array_foreach(content, i, part) {
        json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_object(part) || !json_is_string(type))
            return fail(msg, cap, param, "messages",
                        "a content part must be an object with a "
                        "\"type\"");
        if (strcmp(json_string_value(type), "text") != 0)
            return fail(msg, cap, param, "messages",
                        "content part type '%s' is not supported "
                        "(only text)",
                        json_string_value(type));
        if (!json_is_string(text))
            return fail(msg, cap, param, "messages", "a text part needs a string \"text\"");
        total += json_string_length(text);
    }
    char *joined = malloc(total);
    char **owned = realloc(r->owned, (r->n_owned + 1) * sizeof *owned);
    if (!joined || !owned) {
        free(joined);
        if (owned) r->owned = owned;
        return fail(msg, cap, param, NULL, "out of memory");
    }
    r->owned = owned;
    r->owned[r->n_owned++] = joined;
    size_t at = 0;
    json_array_foreach(content, i, part) {
        json_t *text = json_object_get(part, "text");
        size_t n = json_string_length(text);
        memcpy(joined + at, json_string_value(text), n);
        at += n;
    }
    joined[at] = 0;
    *out = joined;
    return RT_OK;
}

static int parse_messages(srv_gen_request *r, json_t *messages, char *msg, size_t cap,
                          const char **param) {
    if (!json_is_array(messages) || json_array_size(messages) == 0)
        return fail(msg, cap, param, "messages", "'messages' must be a non-empty array");
    size_t n = json_array_size(messages);
    if (n > 4096) return fail(msg, cap, param, "messages", "too many messages (%zu)", n);
    r->messages = calloc(n, sizeof *r->messages);
    if (!r->messages) return fail(msg, cap, param, NULL, "out of memory");
    static const char *roles[] = {"system", "developer", "user", "assistant", "tool"};
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        if (!json_is_object(m))
            return fail(msg, cap, param, "messages", "messages[%zu] must be an object", i);
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role))
            return fail(msg, cap, param, "messages", "messages[%zu].role must be a string", i);
        const char *rs = json_string_value(role);
        bool known = false;
        for (size_t k = 0; k < sizeof roles / sizeof *roles; k++)
            known |= !strcmp(rs, roles[k]);
        if (!known)
            return fail(msg, cap, param, "messages",
                        "messages[%zu].role '%s' is not one of "
                        "system, developer, user, assistant, tool",
                        i, rs);
        const char *text = "";
        int rc = content_text(r, json_object_get(m, "content"), &text, msg, cap, param);
        if (rc != RT_OK) return rc;
        r->messages[i].role = strcmp(rs, "developer") == 0 ? "system" : rs;
        r->messages[i].content = text;
        r->n_messages = i + 1;
    }
    return RT_OK;
}

static int parse_stop(srv_gen_request *r, json_t *stop, char *msg, size_t cap, const char **param) {
    if (!stop || json_is_null(stop)) return RT_OK;
    if (json_is_string(stop)) {
        if (json_string_length(stop) == 0)
            return fail(msg, cap, param, "stop", "'stop' must not be empty");
        r->stop[r->n_stop++] = json_string_value(stop);
        return RT_OK;
    }
    if (!json_is_array(stop) || json_array_size(stop) > SRV_MAX_STOP)
        return fail(msg, cap, param, "stop",
                    "'stop' must be a string or an array of up to %d "
                    "strings",
                    SRV_MAX_STOP);
    size_t i;
    json_t *s;
    json_array_foreach(stop, i, s) {
        if (!json_is_string(s) || json_string_length(s) == 0)
            return fail(msg, cap, param, "stop", "stop[%zu] must be a non-empty string", i);
        r->stop[r->n_stop++] = json_string_value(s);
    }
    return RT_OK;
}

static int parse_rag(srv_gen_request *r, json_t *root, char *msg, size_t cap, const char **param) {
    json_t *c = json_object_get(root, "collection");
    if (c && !json_is_null(c)) {
        if (!json_is_string(c))
            return fail(msg, cap, param, "collection", "'collection' must be a string");
        r->collection = json_string_value(c);
    }
    /* OpenAI's file_search tool: {"type":"file_search","vector_store_ids":[...]} (Responses
     * API) or with the ids under "file_search" (Assistants API) */
    json_t *tools = json_object_get(root, "tools");
    if (tools && !json_is_null(tools)) {
        if (!json_is_array(tools))
            return fail(msg, cap, param, "tools", "'tools' must be an array");
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t) {
            json_t *type = json_object_get(t, "type");
            if (!json_is_string(type) || strcmp(json_string_value(type), "file_search") != 0)
                continue;
            json_t *ids = json_object_get(t, "vector_store_ids");
            json_t *fs = json_object_get(t, "file_search");
            if (!ids && json_is_object(fs)) ids = json_object_get(fs, "vector_store_ids");
            if (!json_is_array(ids) || json_array_size(ids) != 1 ||
                !json_is_string(json_array_get(ids, 0)))
                return fail(msg, cap, param, "tools",
                            "a file_search tool needs exactly one "
                            "vector_store_ids entry (a collection name)");
            r->collection = json_string_value(json_array_get(ids, 0));
            json_t *k = json_object_get(t, "max_num_results");
            if (!k && json_is_object(fs)) k = json_object_get(fs, "max_num_results");
            if (k) {
                if (!json_is_integer(k) || json_integer_value(k) < 1 || json_integer_value(k) > 50)
                    return fail(msg, cap, param, "tools", "max_num_results must be 1..50");
                r->rag_k = (int)json_integer_value(k);
            }
        }
    }
    return RT_OK;
}

static int parse_fields(srv_gen_request *r, json_t *root, bool chat, char *msg, size_t cap,
                        const char **param) {
    int rc;
    if (chat) {
        rc = parse_messages(r, json_object_get(root, "messages"), msg, cap, param);
        if (rc != RT_OK) return rc;
    } else {
        json_t *p = json_object_get(root, "prompt");
        if (json_is_array(p) && json_array_size(p) == 1) p = json_array_get(p, 0);
        if (!json_is_string(p))
            return fail(msg, cap, param, "prompt",
                        "'prompt' must be a string (or an array of "
                        "one string)");
        r->prompt = json_string_value(p);
    }
    json_t *v = json_object_get(root, "model");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) return fail(msg, cap, param, "model", "'model' must be a string");
        r->model = json_string_value(v);
    }
    v = json_object_get(root, "max_completion_tokens");
    if (!v || json_is_null(v)) v = json_object_get(root, "max_tokens");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1 << 20)
            return fail(msg, cap, param, "max_tokens", "'max_tokens' must be a positive integer");
        r->max_tokens = (int)json_integer_value(v);
    }
    double d;
    v = json_object_get(root, "temperature");
    if (v && !json_is_null(v)) {
        if (!number(v, &d) || d < 0 || d > 2)
            return fail(msg, cap, param, "temperature",
                        "'temperature' must be a number in "
                        "[0, 2]");
        r->temperature = (float)d;
    }
    v = json_object_get(root, "top_p");
    if (v && !json_is_null(v)) {
        if (!number(v, &d) || d <= 0 || d > 1)
            return fail(msg, cap, param, "top_p", "'top_p' must be a number in (0, 1]");
        r->top_p = (float)d;
    }
    v = json_object_get(root, "top_k");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1 << 20)
            return fail(msg, cap, param, "top_k", "'top_k' must be a non-negative integer");
        r->top_k = (int)json_integer_value(v);
    }
    v = json_object_get(root, "min_p");
    if (v && !json_is_null(v)) {
        if (!number(v, &d) || d < 0 || d > 1)
            return fail(msg, cap, param, "min_p", "'min_p' must be a number in [0, 1]");
        r->min_p = (float)d;
    }
    v = json_object_get(root, "repeat_penalty");
    if (v && !json_is_null(v)) {
        if (!number(v, &d) || d <= 0 || d > 10)
            return fail(msg, cap, param, "repeat_penalty", "'repeat_penalty' must be in (0, 10]");
        r->repeat_penalty = (float)d;
    }
    v = json_object_get(root, "seed");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) return fail(msg, cap, param, "seed", "'seed' must be an integer");
        r->has_seed = true;
        r->seed = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(root, "n");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SRV_MAX_N)
            return fail(msg, cap, param, "n", "'n' must be an integer in [1, %d]", SRV_MAX_N);
        r->n = (int)json_integer_value(v);
    }
    rc = parse_stop(r, json_object_get(root, "stop"), msg, cap, param);
    if (rc != RT_OK) return rc;
    v = json_object_get(root, "stream");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return fail(msg, cap, param, "stream", "'stream' must be a boolean");
        r->stream = json_is_true(v);
    }
    v = json_object_get(root, "ignore_eos");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return fail(msg, cap, param, "ignore_eos", "'ignore_eos' must be a boolean");
        r->ignore_eos = json_is_true(v);
    }
    v = json_object_get(root, "stream_options");
    if (v && !json_is_null(v)) {
        json_t *u = json_object_get(v, "include_usage");
        if (!json_is_object(v) || (u && !json_is_boolean(u)))
            return fail(msg, cap, param, "stream_options",
                        "'stream_options' must be an object "
                        "with a boolean include_usage");
        r->include_usage = json_is_true(u);
    }
    v = json_object_get(root, "lora");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v) || json_array_size(v) > SRV_MAX_REQ_LORA)
            return fail(msg, cap, param, "lora",
                        "'lora' must be an array of up to %d "
                        "{\"id\", \"scale\"} objects",
                        SRV_MAX_REQ_LORA);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            json_t *id = json_object_get(e, "id"), *scale = json_object_get(e, "scale");
            if (!json_is_integer(id) || json_integer_value(id) < 0 ||
                json_integer_value(id) > 1 << 20 || !number(scale, &d) || fabs(d) > 100)
                return fail(msg, cap, param, "lora",
                            "lora[%zu] must be {\"id\": integer, "
                            "\"scale\": number}",
                            i);
            r->lora[r->n_lora].id = (int)json_integer_value(id);
            r->lora[r->n_lora].scale = (float)d;
            r->n_lora++;
        }
        r->has_lora = true;
    }
    return parse_rag(r, root, msg, cap, param);
}

int srv_gen_request_parse(const char *body, size_t len, bool chat, srv_gen_request *out, char *msg,
                          size_t msg_cap, const char **param) {
    memset(out, 0, sizeof *out);
    if (param) *param = NULL;
    out->chat = chat;
    out->max_tokens = -1;
    out->temperature = 1.0f;
    out->top_p = 1.0f;
    out->repeat_penalty = 1.0f;
    out->n = 1;
    int rc = srv_json_object_parse(body, len, &out->root, msg, msg_cap);
    if (rc != RT_OK) return rc;
    rc = parse_fields(out, out->root, chat, msg, msg_cap, param);
    if (rc != RT_OK) srv_gen_request_free(out);
    return rc;
}

void srv_gen_request_free(srv_gen_request *r) {
    for (size_t i = 0; i < r->n_owned; i++)
        free(r->owned[i]);
    free(r->owned);
    free(r->messages);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}
