/*
 * sse.c — Server-Sent Events parsing (see sse.h).
 */
#include "rag/sse.h"

#include "core/error.h"

#include <string.h>

void rt_sse_init(rt_sse *p, rt_sse_event_fn on_event, void *user) {
    memset(p, 0, sizeof *p);
    p->on_event = on_event;
    p->user = user;
}

void rt_sse_reset(rt_sse *p) {
    p->line.len = 0;
    p->data.len = 0;
    p->has_data = p->done = false;
    p->n_events = 0;
}

void rt_sse_free(rt_sse *p) {
    rt_strbuf_free(&p->line);
    rt_strbuf_free(&p->data);
}

static int dispatch(rt_sse *p) {
    if (!p->has_data) return 0;
    p->has_data = false;
    const char *d = p->data.data ? p->data.data : "";
    size_t len = p->data.len;
    p->data.len = 0;
    if (p->done) return 0; /* nothing counts after [DONE] */
    if (len == 6 && !memcmp(d, "[DONE]", 6)) {
        p->done = true;
        return 0;
    }
    p->n_events++;
    return p->on_event(p->user, d, len);
}

/* One line without its end of line. */
static int take_line(rt_sse *p, const char *line, size_t len) {
    if (len && line[len - 1] == '\r') len--;
    if (len == 0) return dispatch(p);
    if (line[0] == ':') return 0;
    if (len >= 5 && !memcmp(line, "data:", 5)) {
        const char *v = line + 5;
        size_t n = len - 5;
        if (n && *v == ' ') v++, n--;
        if (p->has_data) RT_TRY(rt_strbuf_append(&p->data, "\n", 1));
        RT_TRY(rt_strbuf_append(&p->data, v, n));
        p->has_data = true;
    }
    return 0;
}

int rt_sse_feed(rt_sse *p, const char *buf, size_t len) {
    while (len) {
        const char *nl = memchr(buf, '\n', len);
        size_t k = nl ? (size_t)(nl - buf) : len;
        int st;
        if (!nl) {
            st = rt_strbuf_append(&p->line, buf, k);
        } else if (p->line.len) {
            st = rt_strbuf_append(&p->line, buf, k);
            if (st == RT_OK) st = take_line(p, p->line.data, p->line.len);
            p->line.len = 0;
        } else {
            st = take_line(p, buf, k);
        }
        if (st != 0) return st;
        size_t used = nl ? k + 1 : k;
        buf += used;
        len -= used;
    }
    return 0;
}

int rt_sse_end(rt_sse *p) {
    if (p->line.len) {
        int st = take_line(p, p->line.data, p->line.len);
        p->line.len = 0;
        if (st != 0) return st;
    }
    return dispatch(p);
}
