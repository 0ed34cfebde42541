/*
 * server.h — `ragtune serve`: an OpenAI-compatible HTTP server (libmicrohttpd) over the public
 * API of include/ragtune.h, with collections and RAG, run-time LoRA adapters, fine-tuning jobs
 * and a web page. This header is what the CLI sees of the server layer: parameters and one
 * blocking call. The layer is its own static library (ragtune_server), linked only into the
 * programs that serve.
 */
#ifndef RT_SERVER_SERVER_H
#define RT_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>

#define SRV_MAX_LORA 16

/* Continuous batching: off (each slot decodes alone), on, or auto (default): starts on when a
 * start-up measurement shows k sequences decode faster batched than alone on k threads, then
 * follows the tokens/s measured in both modes while serving (batch_policy.h). */
enum { SRV_BATCH_OFF = 0, SRV_BATCH_ON = 1, SRV_BATCH_AUTO = 2 };

typedef struct srv_params {
    const char *model_path;         /* generation model (GGUF or HF directory; required) */
    const char *tokenizer_path;     /* NULL: the model's own */
    const char *alias;              /* model id in /v1/models (NULL: the model's file name) */
    const char *embed_model_path;   /* embedding model for /v1/embeddings and dense search */
    const char *lora[SRV_MAX_LORA]; /* "PATH[:SCALE]" adapters loaded at start-up */
    int n_lora;
    const char *host;       /* bind address (default 127.0.0.1) */
    int port;               /* default 8080; 0 = any free port (printed) */
    const char *api_key;    /* Bearer key required on every route but /health (NULL: none) */
    const char *data_dir;   /* collections, files, jobs (default "ragtune-data") */
    int parallel;           /* slots: concurrent generations (default 2) */
    int queue;              /* requests waiting for a slot before 429 (default 16) */
    int n_ctx;              /* context per slot (0 = the model's, at most 4096) */
    int weight_dtype;       /* -1: keep the file's */
    size_t max_body;        /* JSON body limit in bytes (default 8 MiB) */
    size_t max_upload;      /* /v1/files limit in bytes (default 64 MiB) */
    double request_timeout; /* seconds a generation may take, queue wait included (600) */
    int conn_timeout;       /* seconds of inactivity before a connection is dropped (30) */
    int max_connections;    /* default 64 */
    const char *port_file;  /* write the bound port here once listening (tests) */
    int batch;              /* SRV_BATCH_*: continuous batching of the slots' decode steps */
} srv_params;

srv_params srv_default_params(void);

/* Loads the models, listens and serves until SIGINT/SIGTERM, then shuts down gracefully
 * (stops accepting, cancels in-flight generations, persists jobs). Returns RT_OK or an error
 * (message in rt_last_error()). Log lines (access log included) go through rt_log. */
int srv_run(const srv_params *params);

#endif
