/*
 * remote.h — the OpenAI-compatible HTTP backend of remote sessions and of the remote embedder
 * (rt_embedder_open_remote in ragtune.h), over libcurl.
 *
 * Requests: POST {api_base}/chat/completions (messages), /completions (a raw prompt or token
 * ids), /embeddings; JSON by jansson. Generation streams (stream: true): Server-Sent Events
 * are parsed line by line ("data: {...}", events end at a blank line, "data: [DONE]" ends the
 * stream); a server that answers with one JSON body instead is accepted too. Stop strings are
 * enforced on the client as well, so they never reach on_text whatever the server does.
 *
 * Failures, each with a message naming the URL: no reply for timeout_seconds (RT_ERR_IO, not
 * retried), a refused key (401/403: RT_ERR_INVALID, not retried), 429/5xx and connection
 * failures (retried up to max_retries times with exponential backoff from 0.5 s, or after the
 * server's Retry-After; RT_ERR_IO at the end), other 4xx (RT_ERR_INVALID or RT_ERR_NOT_FOUND,
 * with the server's message), malformed JSON or event stream (RT_ERR_FORMAT), a reply above
 * max_reply_bytes (RT_ERR_RANGE). A request is never retried once text has reached on_text.
 * The API key is sent as "Authorization: Bearer" and never appears in messages or logs.
 */
#ifndef RT_RAG_REMOTE_H
#define RT_RAG_REMOTE_H

#include "ragtune.h"

typedef struct rt_remote rt_remote;

/* Uses api_base, api_model, api_key (NULL: $RAGTUNE_API_KEY, else $OPENAI_API_KEY),
 * timeout_seconds, max_retries and max_reply_bytes of params. */
int rt_remote_open(const rt_session_params *params, rt_remote **out);
void rt_remote_close(rt_remote *r);
/* The model name sent in requests. */
const char *rt_remote_model(const rt_remote *r);

/* One generation request (see rt_session_generate); res is filled (text malloc'd). */
int rt_remote_generate(rt_remote *r, const rt_session_request *req, rt_session_result *res);

/* Maps a whole reply as rt_remote_generate maps what the server sends: an event stream (sse;
 * fed to the parser in uneven pieces) or one JSON body, for req (a chat request unless it has a
 * prompt or prompt ids). For tests and fuzzing; res as rt_remote_generate. */
int rt_remote_parse_reply(const char *reply, size_t len, bool sse, const rt_session_request *req,
                          rt_session_result *res);

/* Embeds n texts into out (n x dim, L2-normalized); a vector of another length fails with
 * RT_ERR_FORMAT. */
int rt_remote_embed(rt_remote *r, const char *const *texts, const size_t *lens, int n, int dim,
                    float *out);
/* The dimension of the server's embeddings for this model (embeds one short text). */
int rt_remote_embed_dim(rt_remote *r, int *dim);

#endif
