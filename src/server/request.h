/*
 * request.h — parsing and validating the body of an OpenAI generation request
 * (/v1/chat/completions, /v1/completions) into plain C fields. Pure: no server state, so the
 * fuzz target (tests/fuzz/fuzz_server_request.c) drives it directly. Every rejection names the
 * offending field (OpenAI's `param`).
 */
#ifndef RT_SERVER_REQUEST_H
#define RT_SERVER_REQUEST_H

#include "ragtune.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SRV_MAX_STOP 4
#define SRV_MAX_N 8
#define SRV_MAX_REQ_LORA 8

typedef struct srv_gen_request {
    json_t *root; /* owns every string below */
    bool chat;
    rt_chat_message *messages; /* chat: role and content (content joined from text parts) */
    char **owned;              /* content strings built from parts */
    size_t n_messages, n_owned;
    const char *prompt;   /* completions */
    const char *model;    /* NULL: the base model */
    int max_tokens;       /* -1: not given */
    float temperature;    /* default 1 (OpenAI's) */
    float top_p;          /* default 1 */
    int top_k;            /* extension, 0 = off */
    float min_p;          /* extension */
    float repeat_penalty; /* extension (1 = off) */
    bool has_seed;
    uint64_t seed;
    int n; /* choices (1..SRV_MAX_N) */
    const char *stop[SRV_MAX_STOP];
    int n_stop;
    bool ignore_eos; /* extension (llama.cpp's name) */
    bool stream;
    bool include_usage; /* stream_options.include_usage */
    struct {
        int id;
        float scale;
    } lora[SRV_MAX_REQ_LORA]; /* llama.cpp's per-request adapters */
    int n_lora;
    bool has_lora;
    const char *collection; /* RAG: "collection" or a file_search tool's vector store */
    int rag_k;              /* sources (0: default) */
} srv_gen_request;

/* Parses body[0, len) (chat: messages; else: prompt). On failure returns RT_ERR_INVALID with
 * msg (a sentence) and *param (the field; may be NULL) filled, and out is left empty. */
int srv_gen_request_parse(const char *body, size_t len, bool chat, srv_gen_request *out, char *msg,
                          size_t msg_cap, const char **param);
void srv_gen_request_free(srv_gen_request *r);

/* Parses a JSON object body with the same care (size, UTF-8, type): *out gets a new reference
 * on success; on failure msg says why. */
int srv_json_object_parse(const char *body, size_t len, json_t **out, char *msg, size_t msg_cap);

#endif
