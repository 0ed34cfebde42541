/*
 * session.h — text-level generation sessions (declared in ragtune.h: rt_session_*). A local
 * session renders messages with the chat template, encodes, generates with prefix reuse
 * (rt_generate) and streams detokenized text; a remote one hands the request to remote.c.
 * This header holds what both paths share: the sink that accumulates a request's text into the
 * result, passes it to on_text and records the time of the first output.
 */
#ifndef RT_RAG_SESSION_H
#define RT_RAG_SESSION_H

#include "ragtune.h"
#include "core/strbuf.h"

typedef struct rt_session_sink {
    const rt_session_request *req;
    rt_strbuf text; /* everything passed on so far */
    double t_start; /* rt_time_now() when the request began */
    double t_first; /* first generated token or text (0 = none yet) */
    bool stopped;   /* on_text or on_token asked to stop */
} rt_session_sink;

void rt_session_sink_init(rt_session_sink *k, const rt_session_request *req);
/* Marks the first output (idempotent). */
void rt_session_sink_first(rt_session_sink *k);
/* Appends final text and passes it to on_text. Returns non-zero when the callback asks to stop
 * (k->stopped is set), RT_ERR_NOMEM on allocation failure (negative). */
int rt_session_sink_text(rt_session_sink *k, const char *text, size_t len);
/* Moves the text into res (text, text_len) and fills total/ttft/decode timings from the sink's
 * clock; frees the sink. */
int rt_session_sink_finish(rt_session_sink *k, rt_session_result *res);
void rt_session_sink_free(rt_session_sink *k);

/* A rough token count for text without a tokenizer: about 4 bytes per token, as OpenAI's own
 * rule of thumb (remote sessions). */
int rt_session_estimate_tokens(const char *text, size_t len);

#endif
