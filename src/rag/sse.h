/*
 * sse.h — a Server-Sent Events parser (the WHATWG event-stream format that OpenAI-compatible
 * servers stream completions in), fed with bytes as they arrive in pieces of any size. Lines end
 * in \n or \r\n (a lone \r, which the format also allows, is not supported); "data:" lines (one
 * optional space after the colon) accumulate into the event, joined by \n; a blank line
 * dispatches it; lines starting with ':' are comments (keep-alives); event:, id:, retry: and
 * unknown fields are ignored. An event whose data is "[DONE]" (OpenAI's end marker) sets `done`
 * and is not passed on; nothing after it is. Interpreting the data (JSON) is the caller's.
 */
#ifndef RT_RAG_SSE_H
#define RT_RAG_SSE_H

#include "core/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

/* Receives the data of one event (not NUL-terminated); returns 0 to go on, 1 to stop reading,
 * negative on error (the value rt_sse_feed returns). */
typedef int (*rt_sse_event_fn)(void *user, const char *data, size_t len);

typedef struct rt_sse {
    rt_sse_event_fn on_event;
    void *user;
    rt_strbuf line; /* a line not yet ended */
    rt_strbuf data; /* the event being accumulated */
    bool has_data;
    bool done;    /* "[DONE]" seen */
    int n_events; /* events passed on */
} rt_sse;

void rt_sse_init(rt_sse *p, rt_sse_event_fn on_event, void *user);
/* Forgets any partial line or event (a new response); keeps the buffers. */
void rt_sse_reset(rt_sse *p);
/* Parses len more bytes. Returns 0, 1 (the handler asked to stop) or a negative error. */
int rt_sse_feed(rt_sse *p, const char *buf, size_t len);
/* The stream ended: a last line without its end of line and an event without its blank line
 * are dispatched. Same returns as rt_sse_feed. */
int rt_sse_end(rt_sse *p);
void rt_sse_free(rt_sse *p);

#endif
