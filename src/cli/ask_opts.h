/*
 * ask_opts.h — what `ragtune ask` and `ragtune chat` share: their options, opening the session
 * (local model, the shipped reader by default, or a remote server), the collection with its
 * embedder, run-time adapters, and printing an answer with its sources.
 */
#ifndef RT_CLI_ASK_OPTS_H
#define RT_CLI_ASK_OPTS_H

#include "ragtune.h"

#include <stdbool.h>

#define ASK_MAX_FILTERS 32
#define ASK_MAX_ADAPTERS 8

typedef struct ask_setup {
    const char *cmd;
    /* options */
    const char *model, *tokenizer, *embed_model, *api_base, *api_model, *template_path;
    const char *rerank_path;
    const char *adapter_specs[ASK_MAX_ADAPTERS];
    int n_adapters;
    rt_filter filters[ASK_MAX_FILTERS];
    int n_filters;
    bool json, min_score_set;
    int n_ctx;
    rt_ask_params ap;
    /* opened */
    rt_session *session;
    rt_collection *coll;
    rt_reranker *reranker;
    rt_embedder emb;
    bool has_emb;
    bool served; /* under mpirun, a rank > 0 that served its shard to rank 0: no asking */
    rt_adapter *adapters[ASK_MAX_ADAPTERS];
    float scales[ASK_MAX_ADAPTERS];
    char *template_text;
    char *model_path; /* resolved */
} ask_setup;

/* Starts a setup for command cmd ("ask", "chat") with rt_ask_default_params(). */
void ask_setup_init(ask_setup *a, const char *cmd);
/* Parses one option at argv[*i] (advancing *i past its value). Returns 1 when it was one of the
 * shared options, 0 when not, or CLI_USAGE (after printing) when its value is bad. */
int ask_parse_option(ask_setup *a, int argc, char **argv, int *i);
/* Opens everything for collection path; returns CLI_OK or CLI_RUNTIME/CLI_USAGE (printed). */
int ask_open(ask_setup *a, const char *collection);
/* The model half of ask_open (template, reranker, session, adapters); rank 0 only. */
int ask_open_model(ask_setup *a);
/* For given sources instead of a collection: the embedder (grounding) and, when need_model, the
 * model. */
int ask_open_sources(ask_setup *a, bool need_model);
void ask_close(ask_setup *a);
/* Prints the sources, removed markers and unsupported sentences of r after a streamed answer. */
void ask_print_result(const rt_ask_result *r);
/* rt_text_callback that writes the streamed answer to stdout as it comes. */
int ask_stream_text(void *user, const char *text, size_t len);
/* The shared options' help text. */
extern const char ask_options_help[];

#endif
