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
