/*
 * engine.h — the generation the runner measures: a model, its tokenizer and one context;
 * greedy (or seeded) generation of a raw prompt with stop strings, timed (time to first token,
 * total), and the perplexity of a text.
 *
 * It stands in for rt_session (generation sessions) until that is merged: the same raw-prompt
 * path, with prefix reuse through rt_generate. Fine-tuned LoRA strategies are answered by the
 * base model with the adapter merged (rt_lora_merge), which gives the same logits as applying it
 * at run time.
 */
#ifndef RT_EVAL_ENGINE_H
#define RT_EVAL_ENGINE_H

#include "ragtune.h"

typedef struct rt_eval_engine rt_eval_engine;

/* Loads model_path (GGUF or HF directory with its tokenizer); n_ctx 0 = the model's (at most
 * 4096). */
int rt_eval_engine_open(const char *model_path, int n_ctx, rt_eval_engine **out);
void rt_eval_engine_close(rt_eval_engine *e);
int rt_eval_engine_n_ctx(const rt_eval_engine *e);
/* Tokens of text as this model counts them (no special tokens); negative on error. */
int rt_eval_engine_count(const rt_eval_engine *e, const char *text);

typedef struct rt_eval_generation {
    char *text; /* malloc'd; without the stop string */
    int n_prompt, n_generated;
    double ttft_seconds, total_seconds;
} rt_eval_generation;

/* Generates up to max_tokens after prompt (the tokenizer adds BOS as its file says), stopping at
 * any of stop (NULL-terminated). The prompt is cut from the left when it does not fit. */
int rt_eval_engine_generate(rt_eval_engine *e, const char *prompt, int max_tokens,
                            const rt_sampler_params *sampler, const char *const *stop,
                            rt_eval_generation *out);
/* Perplexity of text (at most max_tokens tokens, in windows of the context); *n_tokens gets the
 * number of predicted tokens. */
int rt_eval_engine_perplexity(rt_eval_engine *e, const char *text, int max_tokens, double *ppl,
                              int *n_tokens);

#endif
