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
 * A handle is used by one thread at a time (searches reuse scratch buffers). Any number of
 * processes may read a collection; one process at a time may write it (a lock file enforces it).
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

/* Counts tokens of text[0, len) (for the fixed-size chunker). */
typedef size_t (*rt_token_count_fn)(void *user, const char *text, size_t len);

typedef enum rt_chunker_kind {
    RT_CHUNKER_FIXED = 0,     /* chunk_tokens tokens per chunk, overlap_tokens shared */
    RT_CHUNKER_RECURSIVE = 1, /* headings -> paragraphs -> sentences -> words, up to chunk_tokens */
    RT_CHUNKER_SENTENCE = 2,  /* whole sentences packed up to chunk_tokens */
    RT_CHUNKER_SEMANTIC = 3,  /* sentences, split where neighbour similarity drops (embedder) */
} rt_chunker_kind;

typedef struct rt_chunker_params {
    rt_chunker_kind kind;
    int chunk_tokens;   /* target size (default 256) */
    int overlap_tokens; /* FIXED only (default 32) */
    float semantic_percentile; /* SEMANTIC: split at distances above this percentile (95) */
    /* Token counter; NULL = words plus punctuation marks, each one token (an approximation of a
     * subword tokenizer until a real one is plugged in). */
    rt_token_count_fn count_tokens;
    void *count_tokens_user;
} rt_chunker_params;

typedef struct rt_collection_params {
    bool create;            /* create the directory if missing (default true) */
    bool read_only;         /* open without writing (no ingest/delete; indexes not saved) */
    rt_chunker_params chunker;
    float bm25_k1, bm25_b;  /* default 1.2, 0.75 */
    const char *language;   /* Snowball stemmer language (default "english"; "none") */
    bool stopwords;         /* drop English stopwords in BM25 (default true) */
    const rt_embedder *embedder; /* NULL: BM25 only (dense search needs query vectors) */
    rt_metric metric;       /* default RT_METRIC_COSINE */
    int hnsw_m;             /* links per node (default 16; 2x on level 0) */
    int hnsw_ef_construction; /* default 200 */
    bool hnsw_int8;         /* store vectors int8-quantized (per-vector scale) */
    bool dedupe;            /* skip a document whose content hash is already stored under
                               another id (default true) */
} rt_collection_params;

rt_collection_params rt_collection_default_params(void);

/* Opens (or creates) the collection in directory path. Indexes older than the database are
 * brought up to date from its change log, so a collection killed mid-ingest opens with every
 * acknowledged document. Parameters stored at creation (chunker, BM25, metric, embedder name and
 * dim) win over those passed later; a different embedder is refused (RT_ERR_INVALID). */
int rt_collection_open(const char *path, const rt_collection_params *params,
                       rt_collection **out);
/* Saves stale index files atomically and closes. Returns the save status; always frees. */
int rt_collection_close(rt_collection *c);

typedef struct rt_document {
    const char *id;       /* unique id (NULL: the path, or a content hash) */
    const char *path;     /* source path or NULL */
    const char *text;     /* UTF-8 text (already extracted from HTML etc.) */
    size_t len;
    const char *metadata_json; /* a JSON object or NULL */
} rt_document;

typedef struct rt_ingest_stats {
    uint64_t docs_added, docs_replaced, docs_unchanged, docs_duplicate, docs_failed;
    uint64_t chunks_added;
    uint64_t bytes;
    double seconds;
} rt_ingest_stats;

/* Called after each document is durably committed (acknowledged). */
typedef void (*rt_ingest_ack_fn)(void *user, const char *doc_id, const char *status);

/* Ingests one document in one transaction: new, replaced (content changed: old chunks go, the
 * version goes up), unchanged (same content hash) or duplicate. stats accumulates. */
int rt_collection_ingest_document(rt_collection *c, const rt_document *doc,
                                  rt_ingest_stats *stats);
/* Ingests a file (.txt, .md, .html/.htm, .jsonl with {"id","text","metadata"} per line) or a
 * directory recursively (other extensions are skipped). A file that fails to parse is counted
 * in docs_failed, logged, and the rest goes on; the return is RT_OK unless nothing could run. */
int rt_collection_ingest_path(rt_collection *c, const char *path, rt_ingest_stats *stats);
/* Ingests from a stream: format "txt", "md", "html" or "jsonl"; name is the document id (txt,
 * md, html) or the prefix of line ids (jsonl). */
int rt_collection_ingest_stream(rt_collection *c, FILE *fp, const char *format,
                                const char *name, rt_ingest_stats *stats);
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
    RT_FILTER_EQ = 0, RT_FILTER_NE, RT_FILTER_LT, RT_FILTER_LE, RT_FILTER_GT, RT_FILTER_GE,
} rt_filter_op;

/* A condition on a document's metadata: metadata[key] <op> value. Numbers compare as numbers
 * when is_number, strings otherwise. Missing keys never match. */
typedef struct rt_filter {
    const char *key;
    rt_filter_op op;
    bool is_number;
    double number;
    const char *string;
} rt_filter;

typedef struct rt_search_params {
    int k;                 /* results (default 10) */
    rt_search_mode mode;   /* default BM25 */
    rt_fusion fusion;      /* hybrid only (default RRF) */
    float rrf_k;           /* default 60 */
    float alpha;           /* weighted fusion: dense weight (default 0.5) */
    int candidates;        /* per retriever before fusion / MMR (default 50) */
    bool mmr;              /* re-rank for diversity (needs vectors) */
    float mmr_lambda;      /* relevance vs diversity (default 0.7) */
    const rt_filter *filters; /* all must hold; applied during the search */
    int n_filters;
    int ef_search;         /* HNSW beam (default 64; raised to k) */
    bool exact;            /* dense: brute force instead of HNSW */
    const float *query_vector; /* dense: use this instead of embedding the query (dim floats) */
} rt_search_params;

rt_search_params rt_search_default_params(void);

typedef struct rt_search_result {
    char *doc_id;
    int64_t chunk_id;
    uint64_t start, end;   /* byte range of the chunk in the document's stored text */
    float score;           /* final (fused) score, higher is better */
    float bm25_score;      /* 0 when not retrieved by BM25 */
    float dense_score;     /* 0 when not retrieved densely */
    char *text;            /* the chunk text */
    char *path;            /* source path or NULL */
} rt_search_result;

typedef struct rt_search_results {
    size_t n;
    rt_search_result *items;
} rt_search_results;

/* Searches; *out is allocated and freed with rt_search_results_free. */
int rt_collection_search(rt_collection *c, const char *query, const rt_search_params *params,
                         rt_search_results **out);
void rt_search_results_free(rt_search_results *r);

typedef struct rt_collection_stats {
    uint64_t documents, chunks, vectors, terms;
    uint64_t text_bytes;    /* stored document text */
    uint64_t disk_bytes;    /* database + index files */
    int dim;                /* 0 without vectors */
    char embedder[128];     /* "" without vectors */
    rt_chunker_kind chunker;
    int chunk_tokens;
} rt_collection_stats;

int rt_collection_stats_get(rt_collection *c, rt_collection_stats *out);

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
