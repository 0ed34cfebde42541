/*
 * ragtune.h — the public C API of ragtune.
 *
 * ragtune makes a language model know a user's domain by retrieval-augmented generation, by
 * fine-tuning (full or LoRA) or by both, and measures which fits. Every command of the `ragtune`
 * CLI and every route of its HTTP server is a client of this header.
 *
 * Conventions
 *   - Functions that can fail return int: 0 (RT_OK) or a negative RT_ERR_* code. The message of
 *     the last failure on this thread is rt_last_error(); it names the file, the offset and what
 *     was expected.
 *   - Objects are opaque handles: rt_<object>_default_params(), rt_<object>_init*() or _open(),
 *     rt_<object>_free() or _close(). New objects come back through out-parameters.
 *   - Memory a function returns for the caller to free says so in the comment above it.
 *   - Logging goes through rt_log_set(); nothing in the library writes to stdout.
 *
 * Worked example (load a model, generate from token ids):
 *
 *     rt_model *model;
 *     rt_model_params mp = rt_model_default_params();
 *     if (rt_model_load("model.gguf", &mp, &model) != RT_OK) {
 *         fprintf(stderr, "%s\n", rt_last_error());
 *         return 1;
 *     }
 *     ...
 *     rt_model_free(model);
 */
#ifndef RAGTUNE_H
#define RAGTUNE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RT_VERSION_MAJOR 0
#define RT_VERSION_MINOR 1
#define RT_VERSION_PATCH 0
const char *rt_version(void);

/* ============================================================================================ */
/* Errors and logging                                                                           */
/* ============================================================================================ */

enum {
    RT_OK = 0,
    RT_ERR_IO = -1,          /* a file or socket could not be read or written */
    RT_ERR_FORMAT = -2,      /* a file or message is malformed, truncated or inconsistent */
    RT_ERR_NOMEM = -3,       /* an allocation failed */
    RT_ERR_INVALID = -4,     /* a bad argument from the caller */
    RT_ERR_UNSUPPORTED = -5, /* well-formed, but a feature ragtune does not implement */
    RT_ERR_RANGE = -6,       /* a size or count too large, or an overflow */
    RT_ERR_NOT_FOUND = -7,   /* a named thing (tensor, key, document) does not exist */
    RT_ERR_INTERNAL = -8,    /* a bug in ragtune */
    RT_ERR_CANCELLED = -9,   /* stopped by a callback or signal */
};

/* The message of the last error on this thread ("" when none). Valid until the next call
 * that fails on the same thread. */
const char *rt_last_error(void);
/* The last error code on this thread (RT_OK when none). */
int rt_last_error_code(void);
/* A short name for an error code ("format error", ...). */
const char *rt_strerror(int code);

typedef enum rt_log_level {
    RT_LOG_DEBUG = 0,
    RT_LOG_INFO = 1,
    RT_LOG_WARN = 2,
    RT_LOG_ERROR = 3,
} rt_log_level;

/* Receives every log line (without trailing newline). */
typedef void (*rt_log_callback)(rt_log_level level, const char *message, void *user);
/* Sets the log sink (NULL restores the default: stderr, INFO and above). */
void rt_log_set(rt_log_callback callback, void *user);
/* Lines below this level are dropped before the callback (default RT_LOG_INFO). */
void rt_log_set_level(rt_log_level level);

/* Progress of long work (ingest, training, evaluation). `done` of `total` units (total 0 when
 * unknown); rate is units per second; eta in seconds (negative when unknown); final is true for
 * the last call of a task. */
typedef struct rt_progress_info {
    const char *task; /* "ingest", "train", ... */
    const char *unit; /* "docs", "steps", "tokens", ... */
    uint64_t done;
    uint64_t total;
    double rate;
    double eta;
    double elapsed;
    const char *detail; /* e.g. "loss 2.314"; may be NULL */
    bool final;
} rt_progress_info;
typedef void (*rt_progress_callback)(const rt_progress_info *info, void *user);
/* Sets the progress sink (NULL restores the default: a bar with rate and ETA on a terminal,
 * plain lines every few seconds otherwise, on stderr). */
void rt_progress_set(rt_progress_callback callback, void *user);

/* Threads used by kernels and BLAS (0 = physical cores). */
void rt_set_threads(int n_threads);
int rt_get_threads(void);

/* ============================================================================================ */
/* Tensors and dtypes                                                                           */
/* ============================================================================================ */

/* Values equal GGML's type ids, so GGUF files map directly. */
typedef enum rt_dtype {
    RT_DTYPE_F32 = 0,
    RT_DTYPE_F16 = 1,
    RT_DTYPE_Q4_0 = 2,  /* blocks of 32: f16 scale + 16 bytes of 4-bit values (GGUF layout) */
    RT_DTYPE_Q8_0 = 8,  /* blocks of 32: f16 scale + 32 int8 values (GGUF layout) */
    RT_DTYPE_BF16 = 30,
    RT_DTYPE_I32 = 26,  /* integer tensors, e.g. in safetensors files; not for matmul */
    RT_DTYPE_COUNT = 31,
} rt_dtype;

/* "f32", "f16", "bf16", "q8_0", "q4_0", "i32"; NULL for an unknown value. */
const char *rt_dtype_name(rt_dtype dtype);
/* Parses a dtype name; returns RT_OK or RT_ERR_INVALID. */
int rt_dtype_parse(const char *name, rt_dtype *out);

/* ============================================================================================ */
/* Model files and inference (src/model)                                                        */
/* ============================================================================================ */

/* @model-api: declarations of the model layer go here. */

/* A loaded model: configuration and weights (memory-mapped, read-only). One rt_model can serve
 * many rt_context objects (sequences) at once, from different threads. */
typedef struct rt_model rt_model;
/* One sequence being evaluated: its KV cache, the tokens in it and the working buffers of the
 * forward pass (all allocated once, in rt_context_new). Not thread-safe: one thread at a time. */
typedef struct rt_context rt_context;

typedef struct rt_model_params {
    /* Storage dtype for the 2-D projection weights (RT_DTYPE_F32, _Q8_0, _Q4_0, ...), converted
     * at load; -1 keeps the file's dtypes. */
    int weight_dtype;
} rt_model_params;
rt_model_params rt_model_default_params(void);

/* Loads a .gguf file or a Hugging Face model directory (config.json + *.safetensors).
 * On success *out owns the model; release it with rt_model_free. */
int rt_model_load(const char *path, const rt_model_params *params, rt_model **out);
void rt_model_free(rt_model *model);

const char *rt_model_arch(const rt_model *model); /* "llama", "qwen2", "gpt2", "bert" */
int rt_model_n_vocab(const rt_model *model);
int rt_model_n_embd(const rt_model *model);
int rt_model_n_layer(const rt_model *model);
int rt_model_n_ctx_train(const rt_model *model);
/* True for encoders (bert): they embed, they do not generate. */
bool rt_model_is_encoder(const rt_model *model);
int32_t rt_model_bos(const rt_model *model); /* -1 when unknown */
int32_t rt_model_eos(const rt_model *model); /* -1 when unknown */
/* Parameter count and bytes of weights read per generated token (all layers + output head). */
uint64_t rt_model_n_params(const rt_model *model);
uint64_t rt_model_weight_bytes(const rt_model *model);

typedef struct rt_context_params {
    int n_ctx;   /* longest sequence (0 = the model's n_ctx_train, at most 4096) */
    int n_batch; /* tokens per forward chunk during prefill (0 = 256) */
} rt_context_params;
rt_context_params rt_context_default_params(void);

/* Creates an empty sequence for model (which must outlive it). */
int rt_context_new(rt_model *model, const rt_context_params *params, rt_context **out);
void rt_context_free(rt_context *ctx);
int rt_context_n_ctx(const rt_context *ctx);
/* Tokens currently in the sequence (and its KV cache). */
int rt_context_n_past(const rt_context *ctx);
const int32_t *rt_context_tokens(const rt_context *ctx);
/* Keeps the first n_past tokens and drops the rest (0 empties the sequence); a prompt that
 * shares a prefix with the previous one need not be evaluated again. */
int rt_context_rewind(rt_context *ctx, int n_past);
/* Logits (n_vocab) of the last token evaluated by rt_model_eval; NULL before the first. */
const float *rt_context_logits(const rt_context *ctx);

/* Appends n_tokens to the sequence and runs them through the model (prefill in chunks of
 * n_batch; one token = one decode step). Afterwards rt_context_logits holds the last token's
 * logits; when logits_all is not NULL it also receives every token's logits (n_tokens, n_vocab).
 * Decoders only. RT_ERR_RANGE when the sequence would exceed n_ctx, RT_ERR_INVALID for a token
 * id out of range. */
int rt_model_eval(rt_context *ctx, const int32_t *tokens, int n_tokens, float *logits_all);

/* Embeds one text: out (n_embd) = pooled last hidden states, L2-normalized. bert: its pooling
 * (mean or CLS) over a bidirectional pass, token types 0; decoders: mean over the final-normed
 * hidden states. Empties ctx's sequence first; n_tokens <= rt_context_n_ctx. */
int rt_model_embed(rt_context *ctx, const int32_t *tokens, int n_tokens, float *out);

/* ---- sampling ---- */

typedef struct rt_sampler_params {
    float temperature;    /* <= 0: greedy (argmax) */
    int top_k;            /* keep the k most likely (0 = off) */
    float top_p;          /* keep the smallest set with probability >= top_p (1 = off) */
    float min_p;          /* drop tokens with p < min_p * p_max (0 = off) */
    float repeat_penalty; /* HF semantics: logit/penalty if > 0 else logit*penalty (1 = off) */
    int repeat_last_n;    /* tokens of history the penalty looks at (-1 = all, 0 = none) */
    uint64_t seed;        /* same seed, same logits -> same tokens */
} rt_sampler_params;
rt_sampler_params rt_sampler_default_params(void);

typedef struct rt_sampler rt_sampler;
int rt_sampler_new(const rt_sampler_params *params, int n_vocab, rt_sampler **out);
void rt_sampler_free(rt_sampler *sampler);
/* Picks the next token from logits (n_vocab; not modified), given the tokens so far
 * (history, n_history; may be NULL/0) for the repetition penalty. */
int32_t rt_sampler_sample(rt_sampler *sampler, const float *logits, const int32_t *history,
                          int n_history);

/* ---- generation ---- */

/* Text of one token, for stop strings and streaming text: writes up to cap bytes into buf and
 * returns the number of bytes of the piece (negative on error). Given by the tokenizer layer. */
typedef int (*rt_detokenize_fn)(void *user, int32_t token, char *buf, size_t cap);
/* Called once per generated token with the text that became final with it (may be empty while
 * a possible stop string is held back; NULL without a detokenizer). Return non-zero to stop.
 * When generation ends with text still held back, one last call passes token -1 and that
 * text. */
typedef int (*rt_token_callback)(void *user, int32_t token, const char *text, size_t text_len);

typedef enum rt_stop_reason {
    RT_STOP_LENGTH = 0,   /* max_tokens generated */
    RT_STOP_EOS = 1,      /* the model's end-of-sequence token, or one of stop_tokens */
    RT_STOP_STRING = 2,   /* a stop string appeared (it is not part of the output text) */
    RT_STOP_CALLBACK = 3, /* the callback asked to stop */
    RT_STOP_CONTEXT = 4,  /* the context is full */
} rt_stop_reason;

typedef struct rt_generate_params {
    int max_tokens;                  /* default 128 */
    rt_sampler_params sampler;
    const int32_t *stop_tokens;      /* extra ids that end generation (eos always does, */
    int n_stop_tokens;               /*  unless ignore_eos) */
    bool ignore_eos;
    const char *const *stop_strings; /* need detokenize */
    int n_stop_strings;
    rt_detokenize_fn detokenize;
    void *detokenize_user;
    rt_token_callback on_token;
    void *user;
} rt_generate_params;
rt_generate_params rt_generate_default_params(void);

typedef struct rt_generate_result {
    int n_prompt;          /* prompt tokens */
    int n_prompt_evaluated; /* of those, not already in the cache (prefix reuse) */
    int n_generated;       /* tokens generated (the stop token is not counted) */
    rt_stop_reason stop_reason;
    double prefill_seconds;
    double decode_seconds;
} rt_generate_result;

/* Generates a continuation of prompt (n_prompt >= 1 token ids) in ctx: the longest prefix the
 * sequence already holds is reused, the rest is prefilled, then tokens are sampled one by one
 * until max_tokens, a stop token/string, the callback or a full context. Generated ids go to
 * out_tokens (up to out_cap; may be NULL) and to the callback; result may be NULL. */
int rt_generate(rt_context *ctx, const int32_t *prompt, int n_prompt,
                const rt_generate_params *params, int32_t *out_tokens, int out_cap,
                rt_generate_result *result);
/* Describes the model at path (a GGUF file, a .safetensors file with config.json beside it, or
 * a Hugging Face directory) as a JSON object: "format", "architecture", the hyper-parameters,
 * "n_params", "dtypes" (per storage type: tensors, params, bytes), "file_bytes", "metadata" (GGUF
 * keys with short values, or config.json) and "loadable" (false with "error" when the weights
 * cannot be used, e.g. an unsupported quantization). The caller frees *json with free(). */
int rt_model_file_describe(const char *path, char **json);

typedef struct rt_model_file_convert_params {
    rt_dtype dtype; /* storage type of weight matrices: f32, f16 (default), bf16, q8_0, q4_0 */
} rt_model_file_convert_params;
rt_model_file_convert_params rt_model_file_convert_default_params(void);
/* Converts a model: `out` ending in ".gguf" becomes a GGUF v3 file llama.cpp can read (norms and
 * biases f32; tokenizer.ggml.* metadata is carried over from a GGUF input or made from an HF
 * input's tokenizer.json as llama.cpp's converter does), anything else a
 * Hugging Face directory (config.json + model.safetensors; q8_0/q4_0 are not allowed there;
 * tokenizer files of an HF input are copied). Output is written atomically. */
int rt_model_file_convert(const char *in, const char *out,
                          const rt_model_file_convert_params *params);

/* ============================================================================================ */
/* Tokenizers (src/tokenizer)                                                                   */
/* ============================================================================================ */

/* @tokenizer-api: declarations of the tokenizer layer go here. */

/* ============================================================================================ */
/* Training (src/train)                                                                         */
/* ============================================================================================ */

/* @train-api: declarations of the training layer go here. */

/* ============================================================================================ */
/* Knowledge store (src/knowledge)                                                              */
/* ============================================================================================ */

/* @knowledge-api: declarations of the knowledge layer go here. */

/* ============================================================================================ */
/* RAG (src/rag)                                                                                */
/* ============================================================================================ */

/* @rag-api: declarations of the RAG layer go here. */

/* ============================================================================================ */
/* Evaluation (src/eval)                                                                        */
/* ============================================================================================ */

/* @eval-api: declarations of the evaluation layer go here. */

#ifdef __cplusplus
}
#endif

#endif /* RAGTUNE_H */
