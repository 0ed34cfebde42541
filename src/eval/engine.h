/*
 * engine.h — what the runner answers with: a generation session (rt_session: a local model or
 * an OpenAI-compatible server) with, optionally, a LoRA adapter applied at run time; timed
 * generation of a raw prompt, and the perplexity of a text (local models).
 */
#ifndef RT_EVAL_ENGINE_H
#define RT_EVAL_ENGINE_H

#include "ragtune.h"

typedef struct rt_eval_engine rt_eval_engine;

/* Opens model_path (GGUF or HF directory with its tokenizer; n_ctx 0 = the model's, at most
 * 4096) and applies adapter_path (PEFT directory or GGUF LoRA; NULL = none) at run time. */
int rt_eval_engine_open(const char *model_path, const char *adapter_path, int n_ctx,
                        rt_eval_engine **out);
/* A remote (OpenAI-compatible) generator: no adapter, no perplexity. */
int rt_eval_engine_open_remote(const char *api_base, const char *api_model, rt_eval_engine **out);
bool rt_eval_engine_is_remote(rt_eval_engine *e);
void rt_eval_engine_close(rt_eval_engine *e);
rt_session *rt_eval_engine_session(rt_eval_engine *e);

typedef struct rt_eval_generation {
    char *text; /* malloc'd; without the stop string */
    int n_prompt, n_generated;
    double ttft_seconds, total_seconds;
} rt_eval_generation;

/* Generates up to max_tokens after prompt (a raw prompt: the tokenizer adds BOS as its file
 * says; a remote engine sends it as the one user message), stopping at any of stop
 * (NULL-terminated). */
int rt_eval_engine_generate(rt_eval_engine *e, const char *prompt, int max_tokens,
                            const rt_sampler_params *sampler, const char *const *stop,
                            rt_eval_generation *out);
/* Perplexity of text (at most max_tokens tokens, in windows of at most 512); *n_tokens gets
 * the number of predicted tokens. */
int rt_eval_engine_perplexity(rt_eval_engine *e, const char *text, int max_tokens, double *ppl,
                              int *n_tokens);

#endif
