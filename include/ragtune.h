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
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The exported API. The library is compiled with -fvisibility=hidden; RT_API marks what a
 * shared build exports, and every declaration of this header gets it through the pragma below
 * (so a new rt_ function needs no annotation). Internal symbols stay hidden. */
#define RT_API __attribute__((visibility("default")))
#pragma GCC visibility push(default)

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
    /* rt_trainer_run with a per-call progress callback: the step just done, reported after every
     * step (not rate-limited, so a job can record each one); NULL otherwise */
    const struct rt_train_step_info *train_step;
} rt_progress_info;
typedef void (*rt_progress_callback)(const rt_progress_info *info, void *user);
/* Per-call progress and cancellation (llama.cpp's progress_callback / abort_callback), a member
 * of the params of long work (training, comparison) or an argument of it (ingest); there is no
 * process-wide progress sink. progress NULL: the default, a bar with rate and ETA on a terminal,
 * plain lines every few seconds otherwise, on stderr (a no-op callback silences it).
 * should_cancel (may be NULL) is polled between units of work (a training step, a document, a
 * question); when it returns true the call stops with RT_ERR_CANCELLED, keeping what was
 * finished (documents committed; training writes a checkpoint of the last step, so that
 * `resume` continues from it). */
typedef struct rt_run_callbacks {
    rt_progress_callback progress;
    void *progress_user;
    bool (*should_cancel)(void *user);
    void *cancel_user;
} rt_run_callbacks;

/* Threads used by kernels and BLAS (0 = physical cores). */
void rt_set_threads(int n_threads);
int rt_get_threads(void);
/* Process set-up for a program that runs ragtune's kernels (the CLI and the benchmarks call it
 * first thing in main). Two libraries read their settings from the environment before main, so
 * this sets them and, if anything changed, runs the program again (execv of /proc/self/exe with
 * the same argv; on failure it carries on as it is):
 *  - GOMP_SPINCOUNT=3000 unless the user chose OMP_WAIT_POLICY or GOMP_SPINCOUNT: an idle
 *    OpenMP thread spins about 60 us, then sleeps (libgomp's default spins ~100x longer and takes
 *    the core a working thread needs on a shared machine; sleeping at once made every one of
 *    decode's ~50 parallel regions per token wait ~20 us for a thread to wake up; decode now
 *    runs on ragtune's own light team, core/team.h, whose helpers spin ~50 us);
 *  - OPENBLAS_THREAD_TIMEOUT=4 unless set: OpenBLAS's server threads sleep at once instead of
 *    spinning ~0.1 s after start-up and after each threaded call (inference calls OpenBLAS
 *    single-threaded only; the spinning thread took a core from short commands);
 *  - OPENBLAS_CORETYPE to match ragtune's CPU level (RT_CPU, the one switch for every SIMD
 *    kernel, BLAS included): at the avx512 level an OpenBLAS core with AVX2 kernels becomes
 *    SkylakeX, whether OpenBLAS picked it (0.3.21 does not know Zen 5) or the environment pinned
 *    it, which halves the sgemm rate of an AVX-512 CPU; RT_CPU=avx2 turns an AVX-512 core into
 *    Haswell. */
void rt_runtime_setup(char **argv);

/* ============================================================================================ */
/* Tensors and dtypes                                                                           */
/* ============================================================================================ */

/* Values equal GGML's type ids, so GGUF files map directly. */
typedef enum rt_dtype {
    RT_DTYPE_F32 = 0,
    RT_DTYPE_F16 = 1,
    RT_DTYPE_Q4_0 = 2, /* blocks of 32: f16 scale + 16 bytes of 4-bit values (GGUF layout) */
    RT_DTYPE_Q8_0 = 8, /* blocks of 32: f16 scale + 32 int8 values (GGUF layout) */
    RT_DTYPE_BF16 = 30,
    RT_DTYPE_I32 = 26, /* integer tensors, e.g. in safetensors files; not for matmul */
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

/* Continuous batching: one decode step of n sequences at once. tokens[i] is appended to ctxs[i]
 * (at its own position, against its own KV cache, with its own run-time adapters) and
 * rt_context_logits(ctxs[i]) then holds its logits, as n separate rt_model_eval(ctxs[i],
 * &tokens[i], 1, NULL) calls would leave them (equal up to float summation order), but every
 * weight matrix is read once for all n rows (a (n x n_embd) product instead of n
 * matrix-vector products). The contexts must be distinct, of one model, and each have room for
 * one token; 1 <= n <= RT_DECODE_BATCH_MAX. ctxs[0] keeps the step's working buffers (grown
 * to the largest n it led). Nothing changes on error: RT_ERR_INVALID (NULL, duplicate, other
 * model, token out of range), RT_ERR_RANGE (a full context, n too large), RT_ERR_UNSUPPORTED
 * (an encoder). */
#define RT_DECODE_BATCH_MAX 256
int rt_decode_batch(rt_context *const *ctxs, const int32_t *tokens, int n);

/* Embeds one text: out (n_embd) = pooled last hidden states, L2-normalized. bert: its pooling
 * (mean or CLS) over a bidirectional pass, token types 0; decoders: mean over the final-normed
 * hidden states. Empties ctx's sequence first; n_tokens <= rt_context_n_ctx. */
int rt_model_embed(rt_context *ctx, const int32_t *tokens, int n_tokens, float *out);
/* Embeds n texts at once: out (n, n_embd), row i as rt_model_embed(ctx, tokens[i], n_tokens[i])
 * gives it (equal up to float summation order). The texts are packed one after another into
 * passes of at least 256 tokens (attention stays within each text: no padding, no mask rows),
 * so every weight matrix is read once per pass; passes run one per thread (--threads), each
 * thread on its own texts, balanced by tokens. Empties ctx's sequence; 1 <= n_tokens[i] <=
 * rt_context_n_ctx. Its working buffers grow in ctx to the largest call (threads x max(256,
 * longest text) tokens of activations). RT_ERR_INVALID / RT_ERR_RANGE as rt_model_embed, before
 * any work. */
int rt_model_embed_batch(rt_context *ctx, const int32_t *const *tokens, const int *n_tokens,
                         int n, float *out);

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

/* One decode step of ctx with token (see rt_generate_params.decode). */
typedef int (*rt_decode_fn)(void *user, rt_context *ctx, int32_t token);

typedef struct rt_generate_params {
    int max_tokens; /* default 128 */
    rt_sampler_params sampler;
    const int32_t *stop_tokens; /* extra ids that end generation (eos always does, */
    int n_stop_tokens;          /*  unless ignore_eos) */
    bool ignore_eos;
    const char *const *stop_strings; /* need detokenize */
    int n_stop_strings;
    rt_detokenize_fn detokenize;
    void *detokenize_user;
    rt_token_callback on_token;
    void *user;
    /* Runs one decode step: appends token to ctx and leaves its logits (RT_OK or a negative
     * error). NULL: rt_model_eval(ctx, &token, 1, NULL). A server passes its scheduler here,
     * which steps the sequences of many requests together with rt_decode_batch. */
    rt_decode_fn decode;
    void *decode_user;
} rt_generate_params;
rt_generate_params rt_generate_default_params(void);

typedef struct rt_generate_result {
    int n_prompt;           /* prompt tokens */
    int n_prompt_evaluated; /* of those, not already in the cache (prefix reuse) */
    int n_generated;        /* tokens generated (the stop token is not counted) */
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
/* ---- LoRA adapters applied at run time (no merge to disk) ---- */

/* A LoRA adapter loaded for a base model: a PEFT directory (adapter_config.json +
 * adapter_model.safetensors) or a llama.cpp GGUF LoRA file. Its matrices are checked against
 * the model (architecture, module names, n_layer, shapes); an adapter for another base is
 * refused with RT_ERR_INVALID naming the first mismatching tensor (a missing one, one of another
 * shape, or one the model has no linear for). llama, qwen2 and gpt2 bases (q, k, v, o, gate, up,
 * down; gpt2's fused c_attn / attn_qkv is split into q, k, v); bert is RT_ERR_UNSUPPORTED.
 * Per-module scales follow PEFT (alpha/r, alpha/sqrt(r) with use_rslora, rank_pattern and
 * alpha_pattern) or llama.cpp (adapter.lora.alpha / r, 1 when alpha is 0); q/k rows are put in
 * the model's RoPE order (a GGUF llama base pairs them interleaved). Read-only once loaded: one
 * adapter can be used by many contexts at once, and by any model of the same shapes (e.g. the
 * f32 and the q8_0 load of one base). It must outlive every context that uses it. */
typedef struct rt_adapter rt_adapter;
int rt_adapter_load(const rt_model *model, const char *path, rt_adapter **out);
void rt_adapter_free(rt_adapter *adapter);
/* The path it was loaded from. */
const char *rt_adapter_path(const rt_adapter *adapter);

/* Makes ctx apply these adapters (each with its scale multiplying PEFT's alpha/r; llama.cpp's
 * --lora-scaled) on top of the base weights from now on: y = W x + sum_i scale_i * s_i B_i A_i x.
 * scales NULL means 1 for each; n = 0 removes all. Works on f32 and quantized bases (the branch
 * is f32, added to the base projection). A context without adapters runs exactly as one that
 * never had any. Because the KV cache no longer matches, the sequence is emptied
 * (rt_context_rewind(ctx, 0)) unless the set and scales are unchanged. RT_ERR_INVALID for an
 * adapter loaded for a model of other shapes, or a non-finite scale. The arrays are copied; the
 * adapters are not. */
int rt_context_set_adapters(rt_context *ctx, rt_adapter *const *adapters, const float *scales,
                            int n);

/* Parses "PATH[:SCALE]" (the CLI's --adapter); *path is malloc'd. Scale defaults to 1; the
 * text after the last ':' is a scale only if it is a finite number (else it is part of the
 * path). RT_ERR_INVALID for an empty spec, no path, or an infinite/NaN scale. */
int rt_adapter_spec_parse(const char *spec, char **path, float *scale);

/* ---- cross-encoder reranker ---- */

/* A cross-encoder: a Hugging Face BertForSequenceClassification directory (config.json with
 * num_labels 1 or 2, model.safetensors with the BERT encoder, bert.pooler.dense and classifier,
 * and its tokenizer) that scores how well a passage answers a query. One reranker is used by one
 * thread at a time (it holds one context). */
typedef struct rt_reranker rt_reranker;
/* Opens the directory at path; pairs are truncated to n_ctx tokens (0 = 512, at most the
 * model's positions). RT_ERR_UNSUPPORTED for a model without a classification head or with
 * another number of labels. */
int rt_reranker_open(const char *path, int n_ctx, rt_reranker **out);
void rt_reranker_close(rt_reranker *r);
int rt_reranker_n_ctx(const rt_reranker *r);
/* scores[i] = relevance of passages[i] (NUL-terminated) to query; higher is more relevant. Each
 * pair is encoded [CLS] query [SEP] passage [SEP] with token types 0 / 1
 * (rt_tokenizer_encode_pair, "longest_first" truncation to n_ctx), the [CLS] state goes through
 * the pooler (dense + tanh) and the classifier: the score is the logit for num_labels 1, and
 * logit[1] - logit[0] (the log-odds of the "relevant" label) for num_labels 2. */
int rt_reranker_score(rt_reranker *r, const char *query, const char *const *passages, int n,
                      float *scores);

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

/* A tokenizer that reproduces Hugging Face's token ids: byte-level BPE (GPT-2, Llama-3, Qwen),
 * SentencePiece-style BPE with byte fallback (Llama-2, Mistral, TinyLlama) and WordPiece (BERT).
 * Thread-safe for concurrent encode/decode calls on one object. Example:
 *
 *     rt_tokenizer *tok;
 *     if (rt_tokenizer_load("model_dir", &tok) != RT_OK) { ... rt_last_error() ... }
 *     int32_t *ids; size_t n;
 *     rt_tokenizer_encode(tok, "Hello", 5, true, &ids, &n);
 *     char *text; size_t len;
 *     rt_tokenizer_decode(tok, ids, n, false, &text, &len);
 *     free(ids); free(text); rt_tokenizer_free(tok);
 */
typedef struct rt_tokenizer rt_tokenizer;

typedef enum rt_tokenizer_type {
    RT_TOKENIZER_BPE = 0,       /* byte-level BPE */
    RT_TOKENIZER_SPM_BPE = 1,   /* character BPE with <0xXX> byte fallback (SentencePiece) */
    RT_TOKENIZER_WORDPIECE = 2, /* BERT */
} rt_tokenizer_type;

/* Loads a tokenizer from a tokenizer.json, a WordPiece vocab.txt, a GGUF file
 * (tokenizer.ggml.* metadata) or a model directory (tokenizer.json, else vocab.txt; a
 * tokenizer_config.json beside it supplies bos/eos/pad tokens and the chat template).
 * Unknown model, normalizer, pre-tokenizer or decoder types fail with RT_ERR_UNSUPPORTED
 * naming the type. */
int rt_tokenizer_load(const char *path, rt_tokenizer **out);
/* Loads from tokenizer.json text held in memory; `name` is used in error messages. */
int rt_tokenizer_load_json(const char *json, size_t len, const char *name, rt_tokenizer **out);
void rt_tokenizer_free(rt_tokenizer *tok);

rt_tokenizer_type rt_tokenizer_get_type(const rt_tokenizer *tok);
/* Number of ids (model vocabulary and added tokens): every id is < this. */
size_t rt_tokenizer_n_vocab(const rt_tokenizer *tok);

/* Encodes text[0..len). add_special adds what the file's post-processor adds (BOS for Llama,
 * [CLS] ... [SEP] for BERT). Special tokens written in the text (e.g. "<|im_start|>") are
 * recognised as such, as Hugging Face does. Invalid UTF-8 is not an error: each invalid
 * sequence is replaced by U+FFFD first (as Python's errors="replace"). Empty text gives no ids
 * (or only the special ones). *ids is malloc'd; the caller frees it. */
int rt_tokenizer_encode(const rt_tokenizer *tok, const char *text, size_t len, bool add_special,
                        int32_t **ids, size_t *n_ids);
/* Encodes a pair of texts (a query and a passage for a cross-encoder) as the file's
 * post-processor does for pairs: BertProcessing and vocab.txt tokenizers give
 * [CLS] a [SEP] b [SEP] with token types 0 for [CLS] a [SEP] and 1 for b [SEP]; RoBERTa gives
 * <s> a </s></s> b </s> (types 0); TemplateProcessing its "pair" template with its type ids.
 * max_len > 0 truncates the texts so that the whole fits (Hugging Face's "longest_first": the
 * longer text is cut first, both to about half when both are long). *ids and *type_ids
 * (n_ids each) are malloc'd; the caller frees them. RT_ERR_UNSUPPORTED when the tokenizer has no
 * pair template. */
int rt_tokenizer_encode_pair(const rt_tokenizer *tok, const char *a, size_t a_len, const char *b,
                             size_t b_len, size_t max_len, int32_t **ids, int32_t **type_ids,
                             size_t *n_ids);
/* Decodes ids to text (valid UTF-8, invalid byte sequences become U+FFFD). skip_special drops
 * special tokens. *text is malloc'd and NUL-terminated; the caller frees it. Ids out of range
 * fail with RT_ERR_INVALID. */
int rt_tokenizer_decode(const rt_tokenizer *tok, const int32_t *ids, size_t n_ids,
                        bool skip_special, char **text, size_t *len);

/* The vocabulary string of id ("Ġhello", "▁the", "##s"), or NULL when out of range. */
const char *rt_tokenizer_id_to_token(const rt_tokenizer *tok, int32_t id);
/* The id of a vocabulary string, or -1. */
int32_t rt_tokenizer_token_to_id(const rt_tokenizer *tok, const char *token);
/* The text of one token as it appears in decoded output (raw bytes: a byte-level or
 * <0xXX> token may be part of a UTF-8 sequence; SentencePiece's ▁ becomes a space). Writes at
 * most cap bytes to buf and returns the full length, or a negative error. */
int rt_tokenizer_token_to_piece(const rt_tokenizer *tok, int32_t id, char *buf, size_t cap);
/* True if id is a special (control) token. */
bool rt_tokenizer_is_special(const rt_tokenizer *tok, int32_t id);

typedef enum rt_special_token {
    RT_TOKEN_BOS = 0,
    RT_TOKEN_EOS = 1,
    RT_TOKEN_PAD = 2,
    RT_TOKEN_UNK = 3,
    RT_TOKEN_EOT = 4, /* end of a chat turn (<|eot_id|>, <|im_end|>, <end_of_turn>); else EOS */
} rt_special_token;
/* The id of a special token, or -1 when the tokenizer has none. */
int32_t rt_tokenizer_special_id(const rt_tokenizer *tok, rt_special_token which);

/* Streaming decoder: push ids one at a time and receive text that is always valid, complete
 * UTF-8 (bytes of a character split over tokens are held back until it is complete). The
 * concatenated output equals rt_tokenizer_decode of all ids. */
typedef struct rt_detokenizer rt_detokenizer;
int rt_detokenizer_new(const rt_tokenizer *tok, bool skip_special, rt_detokenizer **out);
/* Pushes one id; *text and *len receive the new text (owned by the detokenizer, valid until the
 * next call; may be empty). */
int rt_detokenizer_push(rt_detokenizer *d, int32_t id, const char **text, size_t *len);
/* Ends the stream: returns what was held back (an incomplete sequence becomes U+FFFD). */
int rt_detokenizer_flush(rt_detokenizer *d, const char **text, size_t *len);
void rt_detokenizer_free(rt_detokenizer *d);

/* Chat templates. Jinja is not interpreted: the common templates are recognised from their
 * source (tokenizer_config.json's chat_template or GGUF's tokenizer.chat_template) and rendered
 * by C code that produces exactly what the Jinja template produces. */
typedef enum rt_chat_template {
    RT_CHAT_PLAIN = 0,  /* "role: content\n" lines; the fallback */
    RT_CHAT_CHATML = 1, /* <|im_start|>role\ncontent<|im_end|>\n (Qwen, many fine-tunes) */
    RT_CHAT_LLAMA3 = 2,
    RT_CHAT_LLAMA2 = 3, /* [INST] <<SYS>> ... [/INST] (Llama-2, Mistral-style) */
    RT_CHAT_ZEPHYR = 4,
    RT_CHAT_GEMMA = 5,
    RT_CHAT_QWEN3 = 6, /* ChatML plus Qwen3's empty <think> block on a final assistant turn */
} rt_chat_template;

typedef struct rt_chat_message {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} rt_chat_message;

/* Recognises a Jinja chat template source; RT_ERR_UNSUPPORTED if it matches none. */
int rt_chat_template_detect(const char *source, rt_chat_template *out);
/* "plain", "chatml", "llama3", "llama2", "zephyr", "gemma", "qwen3". */
const char *rt_chat_template_name(rt_chat_template t);
int rt_chat_template_parse(const char *name, rt_chat_template *out);
/* Renders messages as the template does; bos/eos are the tokenizer's strings ("" if none).
 * add_generation_prompt appends the opening of the assistant's turn. *out is malloc'd. */
int rt_chat_template_render(rt_chat_template t, const rt_chat_message *messages, size_t n,
                            bool add_generation_prompt, const char *bos, const char *eos,
                            char **out);
/* The template the tokenizer's files name (RT_CHAT_PLAIN when none was found). */
rt_chat_template rt_tokenizer_chat_template(const rt_tokenizer *tok);
/* Renders with the tokenizer's own template and bos/eos strings. */
int rt_tokenizer_apply_chat_template(const rt_tokenizer *tok, const rt_chat_message *messages,
                                     size_t n, bool add_generation_prompt, char **out);

/* BPE training: learns a byte-level BPE vocabulary of vocab_size ids (256 byte tokens, merges,
 * then the special tokens) from text files with the GPT-2/Llama-3 pre-tokenizer, and writes a
 * tokenizer.json that Hugging Face tokenizers and rt_tokenizer_load read. */
typedef struct rt_bpe_train_params {
    size_t vocab_size;          /* total ids including special tokens (>= 256 + n_special) */
    size_t min_frequency;       /* a pair must occur at least this often to be merged (2) */
    const char *const *special; /* special tokens appended after the merges (may be NULL) */
    size_t n_special;
    size_t max_bytes; /* read at most this many bytes of input (0 = all) */
} rt_bpe_train_params;
rt_bpe_train_params rt_bpe_train_default_params(void);
int rt_bpe_train(const char *const *files, size_t n_files, const rt_bpe_train_params *params,
                 const char *out_path);

/* ============================================================================================ */
/* Training (src/train)                                                                         */
/* ============================================================================================ */

/* @train-api: declarations of the training layer go here. */

/* How the training layer turns text into token ids: any tokenizer plugs in through these
 * function pointers (the byte-level one, rt_byte_tokenizer() in train/dataset.h, needs none). */
typedef struct rt_text_tokenizer {
    const char *name; /* identifies the vocabulary (part of the token-cache key) */
    int n_vocab;
    int32_t bos_id; /* prepended to each example when >= 0 (never a target) */
    int32_t eos_id; /* appended to each example when >= 0 (trained) */
    void *user;
    /* Appends the ids of text[0..len) to *ids (realloc'd as needed; *n ids, *cap capacity). */
    int (*encode)(void *user, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap);
    /* Renders a chat ({"role","content"} JSON array text) with the model's template into a
     * malloc'd string; NULL means ChatML ("<|im_start|>role\ncontent<|im_end|>\n"). */
    int (*render_chat)(void *user, const char *messages_json, bool add_generation_prompt,
                       char **out);
} rt_text_tokenizer;

/* Makes the trainer's tokenizer from an rt_tokenizer (which must outlive it): encode without
 * special tokens (the dataset adds bos/eos), chats rendered with the tokenizer's template. */
void rt_text_tokenizer_wrap(const rt_tokenizer *tok, const char *name, rt_text_tokenizer *out);

/* Training: full (pre)training from scratch or of a loaded model, or LoRA fine-tuning.
 *
 *     rt_train_params tp = rt_train_default_params();
 *     tp.model_path = "base/";  tp.lora_rank = 8;  tp.train_path = "qa.jsonl";
 *     tp.out_dir = "run/";      tp.max_steps = 200;
 *     rt_trainer *tr;
 *     if (rt_trainer_init(&tp, &tr) == RT_OK) { rt_trainer_run(tr); rt_trainer_free(tr); }
 *
 * out_dir receives checkpoint.bin (periodic and final, atomic; --resume continues it exactly),
 * train_log.jsonl (one line per step, val_loss on evaluation steps) and the result: model/
 * (config.json + model.safetensors) for full training, adapter/ (PEFT: adapter_config.json +
 * adapter_model.safetensors, plus llama.cpp's GGUF LoRA adapter.gguf) for LoRA. */
typedef struct rt_trainer rt_trainer;

typedef struct rt_train_params {
    /* Model: continue from model_path (HF directory, .safetensors, .gguf) or, when NULL, a new
     * model from scratch with the shape below (documented initialization, see train/tmodel.c). */
    const char *model_path;
    const char *arch;                                    /* "llama" (default), "qwen2", "gpt2" */
    int n_layer, n_embd, n_head, n_kv_head, n_ff, n_ctx; /* n_ctx 0 = seq_len */
    /* LoRA; rank 0 = full training. */
    int lora_rank;
    float lora_alpha;
    float lora_dropout;
    bool lora_rslora;         /* rank-stabilized scale alpha / sqrt(rank) (PEFT's use_rslora) */
    const char *lora_targets; /* "q,k,v,o,gate,up,down" subset or "all-linear" */
    const char *base_dtype;   /* frozen base storage: "f32", "bf16", "q8_0" */
    bool recompute;           /* recompute activations per layer (less memory) */
    /* "f32" (default, the reference) or "bf16": the linear layers' and lm head's matmuls take
     * bf16-rounded inputs with f32 sums (AVX512-BF16; emulated exactly, slower, on other CPUs);
     * master weights, optimizer state, gradients, norms, softmax and the loss stay f32. */
    const char *precision;
    /* Data. */
    const char *train_path;
    const char *val_path; /* NULL: val_fraction of the training examples */
    float val_fraction;
    const char *format; /* "auto", "text", "prompt-completion", "alpaca", "chat" */
    bool pack;
    int seq_len;
    int batch_size;                     /* sequences per micro-batch */
    int grad_accum;                     /* micro-batches per optimizer step */
    const rt_text_tokenizer *tokenizer; /* takes precedence over tokenizer_path */
    /* A tokenizer.json / vocab.txt / model directory / GGUF to load when tokenizer is NULL.
     * When both are NULL: the tokenizer of model_path if it has one, else byte-level (ids =
     * bytes, 256 = end of text; from scratch only). Its files are copied next to the result. */
    const char *tokenizer_path;
    /* Optimization. */
    const char *optimizer; /* "adamw", "sgd" */
    float lr, weight_decay, beta1, beta2, eps, momentum, max_grad_norm;
    const char *schedule; /* "constant", "linear", "cosine" */
    int64_t warmup_steps;
    int64_t max_steps;
    uint64_t seed;
    /* Output, evaluation, checkpoints. */
    const char *out_dir;
    int64_t eval_every;      /* steps; 0 = only at the end */
    int eval_batches;        /* 0 = the whole validation set */
    int64_t save_every;      /* steps; 0 = only at the end */
    int early_stop_patience; /* evaluations without improvement; 0 = never stop early */
    bool resume;             /* continue from out_dir/checkpoint.bin if present */
    int64_t stop_after;      /* stop (as if interrupted) after this step; 0 = off */
    rt_run_callbacks callbacks; /* progress (task "train") and cancellation of rt_trainer_run */
} rt_train_params;

rt_train_params rt_train_default_params(void);

typedef struct rt_train_step_info {
    int64_t step; /* optimizer steps done */
    int64_t max_steps;
    float loss;      /* mean over this step's targets */
    float grad_norm; /* before clipping */
    float lr;
    float val_loss; /* NaN when not evaluated at this step */
    int64_t tokens; /* targets trained on so far */
    double tokens_per_s;
    bool done; /* max_steps reached or stopped early */
} rt_train_step_info;

/* Loads the model and data of p and prepares the optimizer (and resumes when asked). */
int rt_trainer_init(const rt_train_params *p, rt_trainer **out);
/* One optimizer step (grad_accum micro-batches); evaluates, logs and checkpoints on schedule. */
int rt_trainer_step(rt_trainer *t, rt_train_step_info *info);
/* Steps until max_steps, early stopping or stop_after, with progress; saves the result.
 * callbacks.should_cancel true before a step: writes a checkpoint of the last step done (so
 * that a run with resume continues from it) and returns RT_ERR_CANCELLED. */
int rt_trainer_run(rt_trainer *t);
/* Mean validation loss (eval_batches batches); NaN without validation data. */
int rt_trainer_evaluate(rt_trainer *t, float *val_loss);
/* Writes the trained model (full: HF directory) or adapter (LoRA: PEFT directory with
 * adapter.gguf) to dir. */
int rt_trainer_save(rt_trainer *t, const char *dir);
void rt_trainer_free(rt_trainer *t);
/* Bytes of parameters, gradients, optimizer state and activations (peak working set). */
size_t rt_trainer_memory_bytes(const rt_trainer *t);

/* Folds a PEFT LoRA adapter (directory) into the base model and writes out_path: a directory
 * (config.json + model.safetensors) or a .gguf file. */
int rt_lora_merge(const char *model_path, const char *adapter_dir, const char *out_path);

/* ---- embedding models (contrastive training of a bi-encoder) ---- */

/* Trains a decoder (llama; from scratch or continued from model_path) as a text embedder on
 * (query, passage) pairs with InfoNCE over in-batch negatives: each query's own passage against
 * the other batch_size - 1 passages, cosine similarity / temperature. Texts are pooled exactly
 * as rt_model_embed pools a decoder (mean over the final-normed hidden states of the text's
 * tokens, tokenized with special tokens like rt_embedder_open_model, then L2-normalized), so the
 * result works with rt_embedder_open_model, `ragtune embed` and `ingest --embed-model`.
 *
 *     rt_embed_train_params ep = rt_embed_train_default_params();
 *     ep.train_path = "pairs.jsonl";  ep.tokenizer_path = "tokenizer.json";
 *     ep.out_dir = "run/";            ep.max_steps = 500;
 *     if (rt_embedder_train(&ep) != RT_OK) { ... rt_last_error() ... }
 *
 * train_path is JSONL, one {"query": "...", "positive": "..."} (or {"anchor", "positive"}) per
 * line; a malformed line is an RT_ERR_FORMAT naming the file and line. val_fraction of the pairs
 * (a seeded choice) are held out for val_loss (evaluated in batches of batch_size). out_dir
 * receives train_log.jsonl (one line per step) and model/ (config.json, model.safetensors and
 * the tokenizer files; written to model.tmp/ and renamed when complete). Progress goes to the
 * progress sink (task "train-embedder", unit "steps"). Deterministic for a seed and thread count. */
typedef struct rt_embed_train_params {
    const char *model_path;     /* continue from this model (llama/qwen2), or NULL: from scratch */
    int n_layer, n_embd, n_head, n_ff; /* shape from scratch (llama; n_kv_head = n_head) */
    const char *tokenizer_path; /* tokenizer.json / model directory; NULL: model_path's */
    const char *train_path;     /* pairs JSONL */
    float val_fraction;         /* 0..0.5 (default 0.02) */
    const char *out_dir;
    int seq_len;                /* tokens per text (longer texts are truncated); also the saved
                                   model's context, so inference truncates alike (default 64) */
    int batch_size;             /* pairs per step (default 32) */
    float temperature;          /* default 0.05 */
    bool symmetric;             /* add the passage->query direction (default true) */
    float lr, weight_decay, max_grad_norm; /* AdamW (default 1e-3, 0.01, 1.0) */
    const char *schedule;       /* "constant", "linear", "cosine" (default) */
    int64_t warmup_steps, max_steps, eval_every; /* eval_every 0: only at the end */
    uint64_t seed;
    rt_run_callbacks callbacks; /* progress (task "train-embedder") and cancellation */
} rt_embed_train_params;
rt_embed_train_params rt_embed_train_default_params(void);
int rt_embedder_train(const rt_embed_train_params *p);

/* ============================================================================================ */
/* Knowledge store (src/knowledge)                                                              */
/* ============================================================================================ */

/* @knowledge-api: declarations of the knowledge layer go here. */

/*
 * A collection is a directory: collection.db (SQLite, WAL: documents, chunks with byte ranges,
 * metadata, versions, vectors, change log) plus index files rebuilt from it when stale
 * (bm25.idx, hnsw.idx). Worked example:
 *
 *     rt_collection *c;
 *     rt_collection_params cp = rt_collection_default_params();
 *     if (rt_collection_open("docs.rtc", &cp, &c) != RT_OK) { error: rt_last_error() }
 *     rt_ingest_stats st;
 *     rt_collection_ingest_path(c, "docs/", &st);          // .txt .md .html .jsonl, recursive
 *     rt_search_params sp = rt_search_default_params();    // k = 10, BM25
 *     rt_search_results *res;
 *     rt_collection_search(c, "how does paging work", &sp, &res);
 *     for (size_t i = 0; i < res->n; i++) use(res->items[i].doc_id, res->items[i].text);
 *     rt_search_results_free(res);
 *     rt_collection_close(c);
 *
 * Searches are thread-safe (see rt_collection_search); other calls on a handle are one thread
 * at a time. Any number of processes may read a collection; one process at a time may write it
 * (a lock file enforces it).
 */
typedef struct rt_collection rt_collection;

typedef enum rt_metric {
    RT_METRIC_L2 = 0,     /* squared Euclidean distance; score = -distance */
    RT_METRIC_IP = 1,     /* inner product; score = dot */
    RT_METRIC_COSINE = 2, /* vectors normalized on insert and query; score = cosine */
} rt_metric;

/* Computes embeddings of n texts (texts[i] has lens[i] bytes, not NUL-terminated) into out
 * (n x dim, row-major). Returns RT_OK or a negative RT_ERR_* code. */
typedef int (*rt_embed_fn)(void *user, const char *const *texts, const size_t *lens, int n,
                           float *out);

/* Anything that turns text into vectors. A collection records the name and dim of the embedder
 * that built its vectors and refuses to use a different one. */
typedef struct rt_embedder {
    const char *name; /* identifies the model, e.g. its file name; stored in the collection */
    int dim;          /* output dimension */
    rt_embed_fn embed;
    void *user;
} rt_embedder;

/* An embedder backed by a model file (GGUF or Hugging Face directory with its tokenizer): BERT
 * encoders with their pooling, decoders with mean pooling; L2-normalized; texts truncated to
 * n_ctx tokens (0 = 512, at most the model's context). name is model_path; a collection also
 * stores a hash of the model's files and matches the model by it (the same model under any
 * path is accepted, a different one under the same path refused). Release with
 * rt_embedder_close_model. model_path "default" is the embedder ragtune ships
 * (models/embedder/embedder.gguf, found via $RAGTUNE_MODELS or beside the executable; name
 * "default"); missing or corrupt, the error names the file and scripts/train-embedder.sh. */
int rt_embedder_open_model(const char *model_path, int n_ctx, rt_embedder *out);
/* The same with LoRA adapters applied at run time: adapter_specs are n_adapters "PATH[:SCALE]"
 * strings (rt_adapter_spec_parse). The name becomes "model_path+spec+spec..." so that a
 * collection embedded with one set of adapters refuses another. */
int rt_embedder_open_model_adapters(const char *model_path, int n_ctx,
                                    const char *const *adapter_specs, int n_adapters,
                                    rt_embedder *out);
void rt_embedder_close_model(rt_embedder *embedder);
/* An embedder backed by an OpenAI-compatible server: POST {api_base}/embeddings with
 * {"model", "input": [texts]} (batches of at most 64 texts), key as rt_session_params.api_key
 * (here from $RAGTUNE_API_KEY, else $OPENAI_API_KEY), timeouts and retries as a remote session.
 * Vectors are L2-normalized. dim 0 asks the server once (one embedding) at open; a reply of
 * another dimension fails with RT_ERR_FORMAT. name is "remote:<model>". Calls are serialized
 * (one connection). Release with rt_embedder_close_remote (RAG layer, src/rag/remote.c). */
int rt_embedder_open_remote(const char *api_base, const char *model, int dim, rt_embedder *out);
void rt_embedder_close_remote(rt_embedder *embedder);

/* Counts tokens of text[0, len) (for the fixed-size chunker). */
typedef size_t (*rt_token_count_fn)(void *user, const char *text, size_t len);

typedef enum rt_chunker_kind {
    RT_CHUNKER_FIXED = 0,     /* chunk_tokens tokens per chunk, overlap_tokens shared */
    RT_CHUNKER_RECURSIVE = 1, /* headings -> paragraphs -> sentences -> words, up to chunk_tokens */
    RT_CHUNKER_SENTENCE = 2,  /* whole sentences packed up to chunk_tokens */
    RT_CHUNKER_SEMANTIC = 3,  /* sentences, split where neighbour similarity drops (embedder) */
    RT_CHUNKER_AGENTIC = 4,   /* sections and titles proposed by a model (propose below) */
} rt_chunker_kind;

/* A section proposed by an agentic chunker: it starts at byte `start` of the text and runs to
 * the next one's start; title is malloc'd (or NULL) and freed by the chunker. */
typedef struct rt_chunk_proposal {
    size_t start;
    char *title;
} rt_chunk_proposal;
/* Proposes the sections of text[0, len): *out (malloc'd, *n entries) is freed by the chunker.
 * A negative return (or an unusable proposal) makes the chunker fall back to RECURSIVE with a
 * warning. rt_rag_agentic_propose (RAG layer) asks a model. */
typedef int (*rt_chunk_propose_fn)(void *user, const char *text, size_t len,
                                   rt_chunk_proposal **out, size_t *n);

typedef struct rt_chunker_params {
    rt_chunker_kind kind;
    int chunk_tokens;          /* target size (default 256) */
    int overlap_tokens;        /* FIXED only (default 32) */
    float semantic_percentile; /* SEMANTIC: split at distances above this percentile (95) */
    /* Token counter; NULL = words plus punctuation marks, each one token (an approximation of a
     * subword tokenizer until a real one is plugged in). */
    rt_token_count_fn count_tokens;
    void *count_tokens_user;
    /* AGENTIC: the section proposer (not stored in the collection: pass it on every open that
     * ingests; without one the chunker falls back to RECURSIVE with a warning). */
    rt_chunk_propose_fn propose;
    void *propose_user;
} rt_chunker_params;

typedef struct rt_collection_params {
    bool create;    /* create the directory if missing (default true) */
    bool read_only; /* open without writing (no ingest/delete; indexes not saved) */
    rt_chunker_params chunker;
    float bm25_k1, bm25_b;       /* default 1.2, 0.75 */
    const char *language;        /* Snowball stemmer language (default "english"; "none") */
    bool stopwords;              /* drop English stopwords in BM25 (default true) */
    const rt_embedder *embedder; /* NULL: BM25 only (dense search needs query vectors) */
    rt_metric metric;            /* default RT_METRIC_COSINE */
    int hnsw_m;                  /* links per node (default 16; 2x on level 0) */
    int hnsw_ef_construction;    /* default 200 */
    bool hnsw_int8;              /* store vectors int8-quantized (per-vector scale) */
    bool dedupe;                 /* skip a document whose content hash is already stored under
                                    another id (default true) */
    bool resident; /* copy a saved vector index's nodes into memory (huge pages where the kernel
                      gives them) at open instead of searching its file mapping: faster dense
                      search for a long-lived process (the server sets it), at the cost of the
                      copy and of memory not shared through the page cache (default false) */
} rt_collection_params;

rt_collection_params rt_collection_default_params(void);

/* Opens (or creates) the collection in directory path. Indexes older than the database are
 * brought up to date from its change log, so a collection killed mid-ingest opens with every
 * acknowledged document. Parameters stored at creation (chunker, BM25, metric, embedder name and
 * dim) win over those passed later; a different embedder is refused (RT_ERR_INVALID). */
int rt_collection_open(const char *path, const rt_collection_params *params, rt_collection **out);
/* Saves stale index files atomically and closes. Returns the save status; always frees. */
int rt_collection_close(rt_collection *c);

typedef struct rt_document {
    const char *id;   /* unique id (NULL: the path, or a content hash) */
    const char *path; /* source path or NULL */
    const char *text; /* UTF-8 text (already extracted from HTML etc.) */
    size_t len;
    const char *metadata_json; /* a JSON object or NULL */
} rt_document;

typedef struct rt_ingest_stats {
    uint64_t docs_added, docs_replaced, docs_unchanged, docs_duplicate, docs_failed;
    uint64_t chunks_added;
    uint64_t bytes;
    double seconds;
    uint64_t files_skipped; /* directory entries of no known format (or not regular files) */
    uint64_t links_skipped; /* directories reached again through a symbolic link (loops) */
} rt_ingest_stats;

/* Called after each document is durably committed (acknowledged). */
typedef void (*rt_ingest_ack_fn)(void *user, const char *doc_id, const char *status);

/* Ingests one document in one transaction: new, replaced (content changed: old chunks go, the
 * version goes up), unchanged (same content hash) or duplicate. stats accumulates. */
int rt_collection_ingest_document(rt_collection *c, const rt_document *doc, rt_ingest_stats *stats);
/* Ingests a file (.txt, .md, .html/.htm, .jsonl with {"id","text","metadata"} per line) or a
 * directory recursively (other extensions are skipped). A file that fails to parse is counted
 * in docs_failed, logged, and the rest goes on; the return is RT_OK unless nothing could run.
 * callbacks (may be NULL): progress (task "ingest", unit "docs": documents done, whatever their
 * status) and should_cancel, polled before each document; a cancelled ingest returns
 * RT_ERR_CANCELLED with every document before it committed and none after it begun. */
int rt_collection_ingest_path(rt_collection *c, const char *path,
                              const rt_run_callbacks *callbacks, rt_ingest_stats *stats);
/* Ingests from a stream: format "txt", "md", "html" or "jsonl"; name is the document id (txt,
 * md, html) or the prefix of line ids (jsonl); callbacks as rt_collection_ingest_path. */
int rt_collection_ingest_stream(rt_collection *c, FILE *fp, const char *format, const char *name,
                                const rt_run_callbacks *callbacks, rt_ingest_stats *stats);
/* Sets the acknowledgement callback for ingests (NULL: none). */
void rt_collection_set_ack(rt_collection *c, rt_ingest_ack_fn fn, void *user);

/* Deletes documents whose id equals key or whose path equals key or lies under directory key.
 * *n_deleted (may be NULL) gets the count; RT_ERR_NOT_FOUND if none matched. */
int rt_collection_delete(rt_collection *c, const char *key, uint64_t *n_deleted);

typedef enum rt_search_mode {
    RT_SEARCH_BM25 = 0,
    RT_SEARCH_DENSE = 1,
    RT_SEARCH_HYBRID = 2,
} rt_search_mode;

typedef enum rt_fusion {
    RT_FUSION_RRF = 0,      /* sum of 1 / (rrf_k + rank) */
    RT_FUSION_WEIGHTED = 1, /* alpha * minmax(dense) + (1 - alpha) * minmax(bm25) */
} rt_fusion;

typedef enum rt_filter_op {
    RT_FILTER_EQ = 0,
    RT_FILTER_NE,
    RT_FILTER_LT,
    RT_FILTER_LE,
    RT_FILTER_GT,
    RT_FILTER_GE,
} rt_filter_op;

/* A condition on a document's metadata: metadata[key] <op> value. Numbers compare as numbers
 * when is_number, strings otherwise; the string "true" or "false" matches the JSON boolean
 * (with = and != only). Types never mix: a number never matches a string, a boolean or an
 * array. Missing keys never match. */
typedef struct rt_filter {
    const char *key;
    rt_filter_op op;
    bool is_number;
    double number;
    const char *string;
} rt_filter;

typedef struct rt_search_params {
    int k;                    /* results (default 10) */
    rt_search_mode mode;      /* default BM25 */
    rt_fusion fusion;         /* hybrid only (default RRF) */
    float rrf_k;              /* default 60 */
    float alpha;              /* weighted fusion: dense weight (default 0.5) */
    int candidates;           /* per retriever before fusion / MMR (default 50) */
    bool mmr;                 /* re-rank for diversity (needs vectors) */
    float mmr_lambda;         /* relevance vs diversity (default 0.7) */
    const rt_filter *filters; /* all must hold; applied during the search */
    int n_filters;
    int ef_search;             /* HNSW beam (default 64; raised to k) */
    bool exact;                /* dense: brute force instead of HNSW */
    const float *query_vector; /* dense: use this instead of embedding the query (dim floats) */
} rt_search_params;

rt_search_params rt_search_default_params(void);

typedef struct rt_search_result {
    char *doc_id;
    int64_t chunk_id;
    uint64_t start, end; /* byte range of the chunk in the document's stored text */
    float score;         /* final (fused) score, higher is better */
    float bm25_score;    /* 0 when not retrieved by BM25 */
    float dense_score;   /* 0 when not retrieved densely */
    char *text;          /* the chunk text */
    char *path;          /* source path or NULL */
} rt_search_result;

typedef struct rt_search_results {
    size_t n;
    rt_search_result *items;
} rt_search_results;

/* Searches; *out is allocated and freed with rt_search_results_free. Thread-safe: any number
 * of threads may search one handle at once (each search takes a scratch from the handle's
 * pool), also while one of them ingests or deletes through it. A search first replays what
 * other handles or processes stored since (so a long-lived handle sees new documents). Dense
 * searches from several threads call the embedder at once: it must be thread-safe. */
int rt_collection_search(rt_collection *c, const char *query, const rt_search_params *params,
                         rt_search_results **out);
/* What one search writes (score accumulator, visited set, stemmer), owned by the caller and
 * grown on demand; one per thread, reusable across searches and collections. */
typedef struct rt_search_scratch rt_search_scratch;
int rt_search_scratch_new(rt_search_scratch **out);
void rt_search_scratch_free(rt_search_scratch *s);
/* rt_collection_search on a const handle with the caller's scratch (hnswlib's searchKnn const
 * with a visited list, FAISS's Index::search const): concurrent searches share nothing else. */
int rt_collection_search_with(const rt_collection *c, rt_search_scratch *scratch,
                              const char *query, const rt_search_params *params,
                              rt_search_results **out);
void rt_search_results_free(rt_search_results *r);

typedef struct rt_collection_stats {
    uint64_t documents, chunks, vectors, terms;
    uint64_t text_bytes; /* stored document text */
    uint64_t disk_bytes; /* database + index files */
    int dim;             /* 0 without vectors */
    char embedder[128];  /* "" without vectors */
    rt_chunker_kind chunker;
    int chunk_tokens;
} rt_collection_stats;

int rt_collection_stats_get(rt_collection *c, rt_collection_stats *out);

/* A stored document as ingested (chunk byte ranges index into text). Free with
 * rt_stored_document_free. */
typedef struct rt_stored_document {
    char *id;
    char *path; /* NULL when none */
    char *text; /* NUL-terminated; len bytes */
    size_t len;
    char *metadata_json; /* a JSON object or NULL */
    int64_t version;
} rt_stored_document;
/* Reads one document by id; RT_ERR_NOT_FOUND when the collection has none with that id. */
int rt_collection_get_document(rt_collection *c, const char *doc_id, rt_stored_document **out);
void rt_stored_document_free(rt_stored_document *d);
/* The title an agentic chunker gave a chunk: *title malloc'd, or NULL when it has none. */
int rt_collection_chunk_title(rt_collection *c, int64_t chunk_id, char **title);

/* ============================================================================================ */
/* RAG (src/rag)                                                                                */
/* ============================================================================================ */

/* @rag-api: declarations of the RAG layer go here. */

/* ---- text-level generation sessions ---- */

/*
 * A session turns messages (or a raw prompt) into streamed text: chat template + encode, prefix
 * reuse, generation, streaming detokenization, stop strings, timings and token counts. The one
 * way `generate`, `ask`, evaluation and the server generate text. A local session wraps a model
 * and its tokenizer (shared, read-only) and owns one rt_context; a remote session sends the same
 * request to an OpenAI-compatible server (libcurl; streaming SSE, timeouts, retries with
 * backoff on 429/5xx). Not thread-safe: one request at a time per session; make one session
 * per thread/slot over the same rt_model.
 *
 *     rt_session *s;
 *     rt_session_params sp = rt_session_default_params();
 *     sp.model_path = "models/reader/reader-q8_0.gguf";
 *     if (rt_session_open(&sp, &s) != RT_OK) { ... rt_last_error() ... }
 *     rt_chat_message m = {"user", "What is a compiler?"};
 *     rt_session_request rq = rt_session_default_request();
 *     rq.messages = &m; rq.n_messages = 1;
 *     rt_session_result res;
 *     rt_session_generate(s, &rq, &res);   // res.text, res.n_prompt, res.ttft_seconds, ...
 *     rt_session_result_clear(&res);
 *     rt_session_close(s);
 */
typedef struct rt_session rt_session;

typedef struct rt_session_params {
    /* Local: a model file or directory (loaded and owned by the session) ... */
    const char *model_path;
    const char *tokenizer_path; /* NULL: the model's own tokenizer */
    int weight_dtype;           /* as rt_model_params (-1 keeps the file's dtypes) */
    /* ... or a model and tokenizer the caller loaded and keeps alive (shared; not freed). */
    rt_model *model;
    const rt_tokenizer *tokenizer;
    int n_ctx; /* context of the session's sequence (0 = the model's, at most 4096) */
    /* Remote (used when api_base is set): an OpenAI-compatible server. */
    const char *api_base;  /* e.g. "http://127.0.0.1:8080/v1" */
    const char *api_model; /* the "model" field sent */
    const char *api_key;   /* NULL: $RAGTUNE_API_KEY, else $OPENAI_API_KEY, else none */
    double timeout_seconds; /* a request fails when the server sends nothing for this long,
                               connecting included (default 120) */
    int max_retries;        /* on 429/5xx/connection errors, with exponential backoff (3) */
    size_t max_reply_bytes; /* remote: a longer reply fails with RT_ERR_RANGE (0 = 8 MiB) */
    const char *name;       /* for rt_session_name (NULL: see there) */
    /* Local: every decode step of the session's generations goes through decode (see
     * rt_generate_params.decode; NULL: the context alone). */
    rt_decode_fn decode;
    void *decode_user;
} rt_session_params;
rt_session_params rt_session_default_params(void);

int rt_session_open(const rt_session_params *params, rt_session **out);
void rt_session_close(rt_session *s);

/* Local sessions: the model, tokenizer and context (NULL for a remote session). */
rt_model *rt_session_model(rt_session *s);
const rt_tokenizer *rt_session_tokenizer(const rt_session *s);
rt_context *rt_session_context(rt_session *s);
/* A name for reports: params.name, else the model path, "remote:<api_model>" or, for a model
 * the caller loaded, its architecture. */
const char *rt_session_name(const rt_session *s);
/* Context length in tokens (remote: 0 = unknown). */
int rt_session_n_ctx(const rt_session *s);
/* Tokens of text[0, len) as this session's model counts them (remote: an estimate). */
int rt_session_count_tokens(const rt_session *s, const char *text, size_t len);
/* Run-time adapters for the following requests (local only; see rt_context_set_adapters). */
int rt_session_set_adapters(rt_session *s, rt_adapter *const *adapters, const float *scales,
                            int n);

/* Called with each piece of final text as it is generated (UTF-8 complete; stop strings never
 * appear). Return non-zero to stop generation. */
typedef int (*rt_text_callback)(void *user, const char *text, size_t len);

typedef struct rt_session_request {
    /* Chat messages rendered with the model's chat template (add_generation_prompt) ... */
    const rt_chat_message *messages;
    size_t n_messages;
    /* ... or, when prompt is not NULL, a raw prompt encoded as is (the tokenizer adds what its
     * post-processor adds, e.g. BOS). Base models and the default reader use this. */
    const char *prompt;
    /* ... or, when n_prompt_ids > 0, token ids as they are (local; remote: /completions with
     * the ids as the prompt). */
    const int32_t *prompt_ids;
    int n_prompt_ids;
    int max_tokens; /* default 256 */
    rt_sampler_params sampler;
    const char *const *stop_strings;
    int n_stop_strings;
    bool ignore_eos;
    /* Extra token ids that end generation (local only; a chat request always stops at the
     * tokenizer's end-of-turn token as well). */
    const int32_t *stop_tokens;
    int n_stop_tokens;
    rt_text_callback on_text;
    /* Local only: each generated id as it is sampled (text as rt_token_callback; may be NULL). */
    rt_token_callback on_token;
    void *user; /* passed to on_text and on_token */
} rt_session_request;
rt_session_request rt_session_default_request(void);

typedef struct rt_session_result {
    char *text;             /* the generated text (malloc'd; rt_session_result_clear frees) */
    size_t text_len;
    int n_prompt;           /* prompt tokens */
    int n_prompt_cached;    /* of those, reused from the cache (not prefilled again) */
    int n_generated;        /* generated tokens */
    rt_stop_reason stop_reason;
    double ttft_seconds;    /* request start to the first generated token (remote: text) */
    double prefill_seconds; /* prompt evaluation */
    double decode_seconds;  /* generation after the first token */
    double total_seconds;
    /* Remote: n_prompt, n_generated and n_prompt_cached come from the server's "usage" when it
     * sends one (usage.prompt_tokens_details.cached_tokens), else n_prompt is an estimate (about
     * 4 bytes a token), n_generated counts text chunks and n_prompt_cached is 0; prefill_seconds
     * is ttft_seconds. */
} rt_session_result;

/* Generates for one request. With a prompt that shares a prefix with the previous request's
 * tokens (system prompt, instructions), that prefix's KV is reused, not prefilled again
 * (n_prompt_cached says how many). RT_ERR_RANGE when the prompt does not fit n_ctx with room
 * for one token; RT_ERR_INVALID for a request with nothing to say or a text request on a session
 * without a tokenizer. Remote failures (src/rag/remote.h): RT_ERR_IO for timeouts, unreachable
 * hosts and 429/5xx after the retries, RT_ERR_INVALID for a refused key (401/403) or another
 * 4xx, RT_ERR_NOT_FOUND for 404, RT_ERR_FORMAT for malformed JSON or events, RT_ERR_RANGE for a
 * reply above max_reply_bytes; the message names the URL and gives the server's words. On error
 * res holds nothing to free. */
int rt_session_generate(rt_session *s, const rt_session_request *req, rt_session_result *res);
void rt_session_result_clear(rt_session_result *res);


/* ---- the reader prompt: one format shared by ask, RAFT training data and the default reader's
 * training recipe, so that training and use cannot drift apart (src/rag/prompt.c) ---- */

/* What a model answers when the sources do not contain the answer. */
#define RT_RAG_ABSTAIN_TEXT "The documents do not contain the answer."

typedef struct rt_rag_source {
    const char *title; /* document title / heading path ("" or NULL: none) */
    const char *text;  /* passage text */
    size_t text_len;
} rt_rag_source;

typedef enum rt_rag_prompt_style {
    RT_RAG_PROMPT_BASE = 0, /* one raw prompt ending in "Answer:" (base models, default reader) */
    RT_RAG_PROMPT_CHAT = 1, /* a system message with the instructions + a user message */
} rt_rag_prompt_style;

/* The prompt for question over sources numbered [1]..[n] in the given order.
 * BASE: *prompt gets the whole text to generate from; CHAT: *system and *user get the two
 * messages (*prompt NULL). template_text (NULL = built-in) overrides the layout: it may use
 * {instructions}, {sources} and {question}; each source is rendered "[n] title\ntext". Outputs
 * are malloc'd; the caller frees them. */
int rt_rag_prompt_render(rt_rag_prompt_style style, const char *template_text,
                         const rt_rag_source *sources, size_t n_sources, const char *question,
                         char **prompt, char **system, char **user);
/* The completion a reader is trained to write: " answer [n]" (n = citation, 0 = none), or the
 * abstain text when answer is NULL. malloc'd. */
int rt_rag_completion_render(const char *answer, int citation, char **out);
/* Stop strings for reader generation (NULL-terminated, static). */
const char *const *rt_rag_stop_strings(void);


/* ---- asking a collection: retrieve, (rerank), assemble, prompt, generate, cite, ground ---- */


typedef struct rt_ask_params {
    rt_search_params search;  /* retrieval (mode, k, filters, ...); default BM25, k = 4 */
    const char *rerank_model; /* cross-encoder (HF BertForSequenceClassification) or NULL;
                                 opened and closed by each call (slow: prefer reranker) */
    rt_reranker *reranker;    /* an open cross-encoder (the caller's; wins over rerank_model) */
    int rerank_candidates;    /* retrieved before reranking down to search.k (default 20) */
    int answer_tokens;        /* answer budget (default 192) */
    int context_tokens;       /* sources budget; 0 = session context - prompt - answer budget */
    rt_rag_prompt_style style; /* default: CHAT when the tokenizer has a chat template */
    bool style_set;            /* false: choose style as above */
    const char *prompt_template; /* template text or NULL (see rt_rag_prompt_render) */
    /* Refusal: abstain without generating when the best retrieval score is below this: the
     * BM25 score in bm25 and hybrid mode (the best bm25_score of the fused list), the cosine in
     * dense mode; NAN = never. Default 11.9 (BM25 with title keys), from
     * scripts/calibrate-refusal.sh on the FOLDOC demo collection (12009 entries, 13068
     * chunks): 200 "What is TERM?" questions for FOLDOC headwords vs 200 for GCIDE headwords
     * absent from FOLDOC, split in halves by md5; the threshold maximizing accuracy on the
     * calibration half (11.91, accuracy 0.980) gives 0.970 on the held-out half (answerable
     * kept 0.990, unanswerable refused 0.951; 0.487 without a threshold). These questions
     * name a title, which title keys reward: questions that do not may fall below it.
     * BM25 scales with the collection's statistics: recalibrate for
     * other collections. Dense mode has no calibrated default (the CLI passes NAN). */
    float min_score;
    float support_threshold; /* a sentence with support below this is flagged (default 0.5) */
    const rt_embedder *embedder; /* for groundedness similarity; NULL = lexical only */
    rt_sampler_params sampler;   /* default greedy */
    rt_text_callback on_text;    /* streamed answer text (raw, markers included) */
    void *user;
    /* Query for retrieval when it differs from the question the model sees (chat follow-ups:
     * rt_rag_condense_question); NULL = the question. */
    const char *retrieval_query;
    /* Post-hoc attribution (src/rag/attribution.h; default true): a citation whose source does
     * not support its sentence is moved to the source that does, when one does. */
    bool attribute;
} rt_ask_params;
rt_ask_params rt_ask_default_params(void);

typedef struct rt_ask_source {
    int number;       /* [n] as shown to the model */
    char *doc_id;
    char *path;       /* may be NULL */
    char *title;      /* may be "" */
    uint64_t start, end; /* byte range in the document's stored text (merged chunks: union) */
    char *text;
    float score;       /* retrieval (or rerank) score */
    float rerank_score; /* NAN when not reranked */
} rt_ask_source;

typedef struct rt_ask_citation {
    int marker;          /* n of [n] in the answer */
    int source;          /* index into sources */
    char *quote;         /* the best-supporting sentence of that source for the citing sentence */
    uint64_t quote_start, quote_end; /* the quote's byte range in the document's stored text */
    int sentence;        /* index into sentences of the citing sentence */
} rt_ask_citation;

/* A citation moved by attribution: the model wrote [from] (a source with support from_support,
 * 0 when it names no source), the answer cites [to] (support to_support). */
typedef struct rt_ask_recitation {
    int from, to;
    float from_support, to_support;
} rt_ask_recitation;

typedef struct rt_ask_sentence {
    char *text;
    float support; /* 0..1 against the cited (or all) sources */
    bool supported;
    bool claim;    /* false: the abstain text or no content words (not counted, supported) */
} rt_ask_sentence;

typedef struct rt_ask_result {
    char *question;
    char *answer;        /* invalid markers removed */
    char *raw_answer;    /* as generated */
    bool abstained;
    char *abstain_reason; /* "no relevant source", "model abstained" or NULL */
    rt_ask_source *sources; size_t n_sources;
    rt_ask_citation *citations; size_t n_citations;
    int *invalid_markers; size_t n_invalid_markers; /* markers that named no source (removed) */
    rt_ask_recitation *recitations; size_t n_recitations; /* citations moved by attribution */
    rt_ask_sentence *sentences; size_t n_sentences;
    float groundedness;  /* share of claims supported (1 for an abstention, 0 with no claim) */
    float top_score;     /* the retrieval score compared with min_score (NAN: no results) */
    rt_rag_prompt_style style; /* the prompt style used */
    rt_session_result gen; /* token counts and generation timings */
    double retrieval_ms, rerank_ms, total_ms;
} rt_ask_result;

/* Answers question from collection c with session s. *out is allocated; free it with
 * rt_ask_result_free. The collection handle is only read. */
int rt_ask(rt_session *s, rt_collection *c, const char *question, const rt_ask_params *params,
           rt_ask_result **out);
/* Answers question from the given sources instead of a collection's (numbered [1]..[n] in
 * order; their doc_id is the number). With answer NULL the session's model generates as rt_ask
 * does (the collection's refusal threshold does not apply; no sources means abstaining); with an
 * answer, nothing is generated (s may be NULL) and the answer is checked like a generated one:
 * invalid markers, attribution, quotes, support per sentence, groundedness. */
int rt_ask_sources(rt_session *s, const char *question, const rt_rag_source *sources, size_t n,
                   const char *answer, const rt_ask_params *params, rt_ask_result **out);
void rt_ask_result_free(rt_ask_result *r);
/* The whole record as a JSON object (malloc'd text; the caller frees it). */
int rt_ask_result_json(const rt_ask_result *r, char **json);
/* The retrieval query of a chat follow-up (`ragtune chat`; rule in src/rag/condense.c): the
 * question itself, or, when it has a pronoun or fewer than three content words, the question
 * followed by the content words of previous (the previous retrieval query; NULL: none).
 * *out is malloc'd. */
int rt_rag_condense_question(const char *previous, const char *question, char **out);

/* The agentic chunker's proposer (an rt_chunk_propose_fn; user is an rt_session *): asks the
 * session's model where the topics of text change and for a title per section (prompt in
 * src/rag/agentic.c). Fails (and the chunker falls back to recursive chunking) when the
 * document has fewer than 2 or more than 400 sentences, does not fit the context, or the reply
 * does not parse. */
int rt_rag_agentic_propose(void *session, const char *text, size_t len, rt_chunk_proposal **out,
                           size_t *n);

/* ---- reader / RAFT training examples (src/rag/raft.c): question-answer items and their
 * documents -> prompts in the shared reader format with distractors, and completions ---- */

typedef struct rt_raft_doc {
    const char *id;    /* unique document id */
    const char *title; /* "" or NULL: none */
    const char *text;  /* the passage */
} rt_raft_doc;

typedef struct rt_raft_item {
    const char *id;       /* item id (copied to the example) */
    const char *question; /* the question */
    const char *answer;   /* the answer text (without citation) */
    const char *doc;      /* id of the oracle document, the one that contains the answer */
    const char *const *context; /* not NULL: exactly these document ids, in this order, are the
                                   passages (nothing drawn; oracle_p unused); the citation is
                                   doc's position among them, or 0 (the abstain completion)
                                   when doc is not one of them. n_context 0 = no sources */
    size_t n_context;
} rt_raft_item;

typedef struct rt_raft_params {
    int n_distractors;  /* distractor passages beside the oracle (default 3); an example without
                           the oracle gets n_distractors + 1, so every prompt has the same count */
    float oracle_p;     /* probability that the oracle is among the passages (default 0.8);
                           without it the completion is RT_RAG_ABSTAIN_TEXT */
    int near;           /* > 0: distractors are drawn from the documents within +-near positions
                           of the oracle in the documents' order (neighbouring headwords, other
                           senses); 0 (default): uniformly from all documents */
    rt_collection *collection; /* not NULL: search hits for the question (other than the
                                  oracle) are the distractors first; hits whose doc_id is one of
                                  the documents use that document, others their chunk text */
    rt_search_mode search_mode; /* of those hits (default BM25; dense/hybrid need the
                                   collection opened with its embedder) */
    uint64_t seed;      /* default 42; the same seed and inputs give the same examples */
    rt_rag_prompt_style style;  /* BASE (default) or CHAT */
    const char *template_text;  /* prompt layout override (see rt_rag_prompt_render) or NULL */
} rt_raft_params;

rt_raft_params rt_raft_default_params(void);

typedef struct rt_raft_example {
    char *id;         /* the item's id */
    char *prompt;     /* BASE: the whole prompt; CHAT: NULL */
    char *system;     /* CHAT: the system message; BASE: NULL */
    char *user;       /* CHAT: the user message; BASE: NULL */
    char *completion; /* " answer [n]" or " " RT_RAG_ABSTAIN_TEXT */
    int citation;     /* the oracle's position 1..n, 0 when it was left out */
    int n_passages;
} rt_raft_example;

/* Builds one example per item, in item order, into *out (n_items of them; free with
 * rt_raft_examples_free). Fails with RT_ERR_NOT_FOUND naming the item whose doc is not among
 * docs, RT_ERR_INVALID when there are too few documents for the distractors. Distractors never
 * share the oracle's title (case-insensitive) or text, so the question stays unambiguous. */
int rt_raft_build(const rt_raft_doc *docs, size_t n_docs, const rt_raft_item *items,
                  size_t n_items, const rt_raft_params *params, rt_raft_example **out);
void rt_raft_examples_free(rt_raft_example *ex, size_t n);

/* Reads items (JSONL {"id","question","answer","doc"}, optionally "context": [doc ids]) and
 * documents (JSONL {"id","title",
 * "text"}), builds the examples and writes them to out_path as JSONL: {"prompt","completion"}
 * (BASE) or {"messages":[system,user,assistant]} (CHAT), the format `ragtune train`/`finetune`
 * read with the loss on the completion. The file is written atomically. *n_written may be NULL. */
int rt_raft_data_write(const char *qa_path, const char *docs_path, const char *out_path,
                       const rt_raft_params *params, size_t *n_written);

/* ============================================================================================ */
/* Evaluation (src/eval)                                                                        */
/* ============================================================================================ */

/* @eval-api: declarations of the evaluation layer go here. */

/* ---- QA sets (src/eval/qa.c) ---- */

/* One question: JSONL {"id","question","answer" (string, list of accepted answers, or null/""
 * for an unanswerable question),"doc" (evidence document id or list),"split" ("train", "test",
 * "update"; "" when absent), "unanswerable" (optional, implied by a null answer), "old_answer"
 * (update split: the answer before the documents changed)}. */
typedef struct rt_qa_item {
    char *id;
    char *question;
    char **answers; /* accepted answers (n_answers 0 for an unanswerable question) */
    size_t n_answers;
    char **docs; /* evidence document ids */
    size_t n_docs;
    char split[16];
    bool unanswerable;
    char *old_answer; /* NULL unless an update question */
    bool doc_missing; /* set by rt_qa_check_docs: an evidence id is not in the collection */
    char kind[12];    /* "kind": how it was made ("template", "cloze", "model"; "" unknown) */
} rt_qa_item;

typedef struct rt_qa_set {
    rt_qa_item *items;
    size_t n;
    size_t n_skipped;    /* malformed lines skipped by rt_qa_load */
    char *skipped;       /* their messages, one per line ("qa.jsonl:7: ..."; NULL when none) */
    size_t n_doc_missing; /* questions whose evidence is missing (rt_qa_check_docs) */
    size_t n_model_asked;   /* rt_qa_generate: passages a model was asked about */
    size_t n_model_dropped; /* ... whose reply did not parse or whose answer is not in them */
} rt_qa_set;

/* Reads a QA JSONL file. A malformed line is skipped, counted and named by line number in
 * set->skipped (and logged); only an unreadable file or a file without one good line fails
 * (RT_ERR_IO / RT_ERR_FORMAT). *out is freed with rt_qa_free. */
int rt_qa_load(const char *path, rt_qa_set **out);
/* Writes the set as JSONL (atomically). */
int rt_qa_save(const rt_qa_set *set, const char *path);
void rt_qa_free(rt_qa_set *set);
/* Marks (doc_missing) and counts the questions whose evidence documents are not in c. */
int rt_qa_check_docs(rt_qa_set *set, rt_collection *c);

typedef struct rt_qa_generate_params {
    double test_fraction;      /* documents whose questions go to the test split (0.2) */
    size_t max_docs;           /* documents used at most, chosen by seed (0 = all; default 0) */
    bool paraphrases;          /* train split: "Define T.", "What does T mean?", "Explain T." */
    size_t n_unanswerable;     /* test questions about absent terms (default: 10% of test) */
    const char *wordlist_path; /* words for those: one per line, or a dictd .index (first
                                  tab field); NULL = none */
    double update_fraction;    /* test documents given a changed second version (0.25) */
    const char *update_docs_path; /* where the changed documents go (JSONL {"id","text"});
                                     NULL = no update split */
    uint64_t seed;             /* split, sampling and edits (default 1) */
    bool templates;            /* template questions from definition documents (default true) */
    size_t cloze_per_doc;      /* cloze questions per document (src/eval/cloze.h; default 0) */
    rt_session *session;       /* not NULL: model-written questions, one per chunk, kept when
                                  the answer occurs in the chunk (src/eval/qa_model.h) */
    size_t model_max_chunks;   /* chunks asked about at most, in storage order (0 = all) */
} rt_qa_generate_params;
rt_qa_generate_params rt_qa_generate_default_params(void);

/* Template questions from definition documents (a title line, then the defining text, as FOLDOC
 * entries): "What is TERM?" -> the defining sentence (and its first clause), split by document
 * into train/test, plus unanswerable and update questions as the parameters say. Documents that
 * do not look like definitions are skipped. Then cloze questions (cloze_per_doc) from every
 * document and model-written questions (session) from every chunk, each in its document's
 * split (the template split when the document has template questions, else a seeded draw
 * with test_fraction). Fails when no question at all could be made. *out is freed with
 * rt_qa_free. */
int rt_qa_generate(rt_collection *c, const rt_qa_generate_params *params, rt_qa_set **out);

/* ---- the head-to-head (src/eval/compare.c, src/eval/report.c) ---- */

/* What a strategy is made of: retrieval or not, and which weights answer. */
typedef enum rt_strategy_kind {
    RT_STRATEGY_BASE = 0,     /* closed-book base model */
    RT_STRATEGY_RAG = 1,      /* base model + retrieval */
    RT_STRATEGY_FT = 2,       /* full fine-tune, closed-book */
    RT_STRATEGY_LORA = 3,     /* LoRA fine-tune, closed-book */
    RT_STRATEGY_FT_RAG = 4,   /* full fine-tune + retrieval */
    RT_STRATEGY_LORA_RAG = 5, /* LoRA fine-tune + retrieval */
    RT_STRATEGY_RAFT = 6,     /* LoRA trained on the reader prompt with oracle + distractors,
                                 used with retrieval */
} rt_strategy_kind;
/* "base", "rag", "ft", "lora", "ft+rag", "lora+rag", "raft"; parse returns RT_ERR_INVALID. */
const char *rt_strategy_name(rt_strategy_kind kind);
int rt_strategy_parse(const char *name, rt_strategy_kind *out);

typedef struct rt_compare_spec {
    const char *collection_path; /* the collection (read only; a copy takes the update) */
    const char *qa_path;         /* QA JSONL (train/test/update splits) */
    const char *model_path;      /* base model (GGUF or HF directory with its tokenizer) */
    const char *out_dir;         /* results, per-strategy cache, training runs, report */
    const char *strategies;      /* comma-separated names (default "base,rag,lora,lora+rag,raft";
                                    see strategy_list) */
    const char *update_docs_path; /* changed documents (JSONL {"id","text"}) or NULL */
    const char *heldout_path;     /* general text for the forgetting perplexity, or NULL */
    /* retrieval */
    rt_search_mode search_mode; /* default BM25 */
    int k;                      /* sources per question (default 3) */
    const char *embedder_path;  /* for dense/hybrid (NULL: BM25 only) */
    const char *rerank_model;   /* cross-encoder reranking the retrieved passages, or NULL */
    float min_score;            /* rt_ask's refusal threshold (default: rt_ask's; NAN = never) */
    /* decoding (the same for every strategy) */
    int max_tokens;             /* default 48 */
    int n_ctx;                  /* default 0: the model's context, at most 4096 */
    /* training */
    int64_t steps;              /* optimizer steps per training run (default 100) */
    float lr;                   /* default 1e-4 for LoRA, a tenth of it for full fine-tuning */
    int lora_rank;              /* default 8 */
    float lora_alpha;           /* default 16 */
    int seq_len;                /* default 256 */
    int batch_size;             /* default 4 */
    bool pretrain_chunks;       /* also train on the collection's documents as text (default
                                   true: closed-book fine-tuning can only know what it read) */
    float raft_oracle_fraction; /* P: share of RAFT examples with the oracle (default 0.8) */
    int raft_distractors;       /* D (default 3) */
    bool adapt_retrain;         /* adaptability of fine-tuned strategies by retraining (costly) */
    const char *adapter_path;   /* lora, lora+rag: use this PEFT adapter instead of training */
    /* metrics, cost, run */
    int bootstrap_resamples;    /* default 1000 */
    float support_threshold;    /* hallucination: support below this (default 0.5) */
    double cpu_hour_price;      /* currency per CPU-hour (default 0.05) */
    size_t max_questions;       /* test questions used at most (0 = all) */
    uint64_t seed;              /* sampling, training, bootstrap (default 1) */
    bool resume;                /* reuse cached per-strategy results (default true) */
    bool keep_going;            /* a failed strategy does not fail the run (default false) */
    const char *priority;       /* "accuracy,freshness,latency,cost" order of importance */
    const char *spec_json;      /* the --spec file's text, echoed (may be NULL) */
    /* progress of each strategy (task "<strategy>: answer", "<strategy>: train", ...) and
     * cancellation, polled between questions and training steps */
    rt_run_callbacks callbacks;
    /* Named strategies with their own settings (a spec file's "strategy" list; NULL/0: none).
     * strategies then selects among them by name (a kind name not among them runs that kind
     * with the spec's settings); strategies NULL runs them all. */
    const struct rt_compare_strategy *strategy_list;
    size_t n_strategy_list;
    /* A remote generator (OpenAI-compatible) instead of model_path for the strategies that do
     * not train (base, rag); a training strategy with a remote model is refused. */
    const char *api_base;
    const char *api_model;
    /* Judge correctness (optional): a local model or a remote one (judge_api_base +
     * judge_api_model) asked whether each answer agrees with the reference answer. */
    const char *judge_model_path;
    const char *judge_api_base;
    const char *judge_api_model;
} rt_compare_spec;
rt_compare_spec rt_compare_default_spec(void);

/* One named strategy of a spec: its kind and the settings in which it differs from the
 * spec's. A field left at its rt_compare_strategy_default value keeps the spec's setting. */
typedef struct rt_compare_strategy {
    const char *name;           /* unique; [A-Za-z0-9+._-], 1..31 bytes; names the report row */
    rt_strategy_kind kind;
    int search_mode;            /* rt_search_mode; -1 */
    int k;                      /* 0 */
    float min_score;            /* used when min_score_set (NAN = never refuse) */
    bool min_score_set;
    int rerank;                 /* -1; 0 = off, 1 = on (needs the spec's rerank_model) */
    int64_t steps;              /* 0 */
    float lr;                   /* 0 */
    int lora_rank;              /* 0 */
    float lora_alpha;           /* 0 */
    int seq_len;                /* 0 */
    int batch_size;             /* 0 */
    int pretrain_chunks;        /* -1; 0 / 1 */
    float raft_oracle_fraction; /* -1 */
    int raft_distractors;       /* -1 */
    const char *adapter_path;   /* NULL */
} rt_compare_strategy;
rt_compare_strategy rt_compare_strategy_default(void);

/* Fills spec fields from a compare.json file: the global settings (keys as the field names, or
 * the short names "model", "collection", "qa", "out", "update_docs", "heldout", "embedder",
 * "search"; "decoding": {"max_tokens", "n_ctx"}; "strategies" a string or list of names) and
 * "strategy": [{"name", "kind", "search", "k", "min_score", "rerank", "steps", "lr", "rank",
 * "alpha", "seq_len", "batch", "pretrain_chunks", "oracle_p", "distractors", "adapter"}, ...]
 * (spec->strategy_list). A bad key or value fails with RT_ERR_FORMAT naming the file, the
 * strategy and the field; a .toml file fails with RT_ERR_UNSUPPORTED (no TOML parser: write
 * the same keys as JSON). Strings and the list point into *json_root, which the caller keeps
 * until the run ends and frees with rt_compare_spec_free_root. */
int rt_compare_spec_load(const char *path, rt_compare_spec *spec, void **json_root);
void rt_compare_spec_free_root(void *json_root);

/* Runs every strategy of spec on the test split and writes out_dir/report.json (the whole
 * result: configuration, per-strategy metrics with intervals, answers, costs, adaptability,
 * forgetting, paired tests, recommendation). A strategy that fails is recorded as failed with
 * its error (and named in the report's "failed_strategies") and the others go on; results are
 * cached per strategy in out_dir/strategies/ so an interrupted run resumes. *report_json (may
 * be NULL) receives the report text (malloc'd), also when a strategy failed.
 * Returns RT_OK when every strategy ran (or, with keep_going, when the run completed with
 * failed strategies); the first failed strategy's error (rt_last_error names it) when one
 * failed, report.json written all the same; an error and no report when nothing could run
 * (unreadable QA or collection, no test questions, bad spec).
 * Under mpirun (after rt_dist_init) every process calls it with the same spec: they share the
 * questions and train data-parallel; rank 0 alone writes out_dir (the others read the trained
 * adapters from it: a shared file system across machines) and gets the report; the others get
 * no report and the same status. */
int rt_compare_run(const rt_compare_spec *spec, char **report_json);

/* Renders a report (the JSON text rt_compare_run wrote) as a terminal table with the
 * recommendation, Markdown, or one self-contained HTML page (inline SVG charts). malloc'd. */
int rt_report_table(const char *report_json, char **out);
int rt_report_markdown(const char *report_json, char **out);
int rt_report_html(const char *report_json, char **out);
/* Writes report.md and report.html next to report.json in out_dir. */
int rt_report_write(const char *out_dir);

/* ============================================================================================ */
/* Scale-out over MPI (src/dist)                                                                */
/* ============================================================================================ */

/* A program launched by `mpirun -np N` calls rt_dist_init() once at start (before any other
 * rt_ call that may be distributed) and rt_dist_finalize() before it exits. Afterwards the
 * trainer (rt_trainer_*) trains data-parallel over the N processes, and sharded search
 * (rt_collection_shard_begin) queries one shard per process. Without mpirun, or in a build
 * without MPI, both are no-ops and the group is this process alone (rank 0 of 1).
 * rt_dist_init returns RT_OK, or an error when MPI cannot start (or mpirun launched more than one
 * process of a build without MPI). */
int rt_dist_init(void);
void rt_dist_finalize(void);
/* This process's rank (0 .. size-1) and the number of processes. */
int rt_dist_rank(void);
int rt_dist_size(void);
/* True when the library was built with MPI; true when a launcher's environment is present. */
bool rt_dist_has_mpi(void);
bool rt_dist_launched(void);
/* Agreement on how a distributed run went: every process calls it at the same point (after its
 * last other collective) with its status: RT_OK, or a negative RT_ERR_* with message (NULL:
 * rt_last_error()). Returns the lowest status of all processes; a process whose own status was
 * RT_OK then fails too, with rt_last_error() "process R of N: <R's message>", so that one
 * process (rank 0) can report an error that only another one met. One process: status. */
int rt_dist_agree(int status, const char *message);

/* Sharded search. A corpus too large for one machine is split into one collection per process
 * (shard r holds part of the documents: ingest them separately, e.g. into shards/part0 ..
 * shards/partN-1, with the same chunking, BM25 and embedder settings). Every process opens its
 * shard and calls rt_collection_shard_begin(shard, status) with the status of that open (shard
 * NULL when it failed): the group agrees, and every process returns that error if any failed.
 * Then on rank 0 it returns RT_OK at once, and from there rt_collection_search on the shard (and
 * rt_ask through it) searches every shard: BM25 with the whole corpus's statistics (chunk count,
 * total length, document frequencies summed over shards, so scores equal the unsharded
 * collection's), dense hits as each shard's top candidates merged (exact search stays exact),
 * hybrid fused from the merged lists; each result's chunk_id is the id within its shard. MMR,
 * filters and query vectors are RT_ERR_UNSUPPORTED over shards. On the other ranks it serves
 * rank 0's searches and returns when rank 0 calls rt_collection_shard_end(shard), which rank 0
 * must call on every path once rt_collection_shard_begin succeeded. One process: begin returns
 * status and does nothing else; end does nothing. Searches go one at a time. */
int rt_collection_shard_begin(rt_collection *shard, int status);
int rt_collection_shard_end(rt_collection *shard);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* RAGTUNE_H */
