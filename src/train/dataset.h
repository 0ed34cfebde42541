/*
 * dataset.h — training data: JSONL examples -> token ids with a loss mask -> fixed-length
 * sequences of seq_len+1 tokens (inputs are the first seq_len, targets the last seq_len).
 *
 * Formats (detected per line from the keys, or forced):
 *   {"text": ...}                                   every token is trained
 *   {"prompt": ..., "completion": ...}              loss on the completion only
 *   {"instruction", "input"?, "output"}             Alpaca: the standard Alpaca prompt, loss on
 *                                                   the output only
 *   {"messages": [{"role", "content"}, ...]}        chat: rendered by the tokenizer's template
 *                                                   hook (ChatML when none), loss on assistant
 *                                                   turns only
 * A plain text file (not .jsonl) is one {"text"} document.
 * Every example ends with the end-of-text token (when the tokenizer has one), trained.
 *
 * Packing concatenates examples into one stream cut into windows of seq_len+1 tokens (stride
 * seq_len, so every token is a target once); without packing each example is its own sequence,
 * truncated or padded (padding is never a target). Validation comes from a separate file or a
 * deterministic fraction of the examples. Token ids and masks of each input file are cached on
 * disk (cache_dir), keyed by the file's size, mtime, format and the tokenizer's name.
 */
#ifndef RT_TRAIN_DATASET_H
#define RT_TRAIN_DATASET_H

#include "ragtune.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ds_format {
    DS_FORMAT_AUTO = 0,
    DS_FORMAT_TEXT,
    DS_FORMAT_PROMPT_COMPLETION,
    DS_FORMAT_ALPACA,
    DS_FORMAT_CHAT,
    DS_FORMAT_SEGMENTS, /* {"segments":[{"text","label"}]}: loss on labelled spans */
} ds_format;

typedef struct ds_params {
    const char *train_path;
    const char *val_path; /* NULL: split val_fraction off the training examples */
    float val_fraction;   /* e.g. 0.05 */
    ds_format format;
    int seq_len;
    bool pack;
    const char *cache_dir; /* NULL: no cache */
    uint64_t seed;         /* validation split */
} ds_params;

/* Fixed-length sequences: ids (n, seq_len+1); mask (n, seq_len+1): mask[j] = 1 when token j is
 * a training target (j >= 1). */
typedef struct ds_split {
    int64_t n;
    int32_t *ids;
    uint8_t *mask;
    int64_t n_targets;
} ds_split;

typedef struct dataset {
    int seq_len;
    ds_split train, val;
} dataset;

/* Loads and tokenizes (or reads from the cache) the data of p. Errors name the file and line. */
int dataset_load(const ds_params *p, const rt_text_tokenizer *tok, dataset *out);
void dataset_free(dataset *d);

/* Fills inputs and targets (B, seq_len) from sequences idx[0..B) of split (-1 = masked). */
void dataset_batch(const ds_split *s, int seq_len, const int64_t *idx, int B, int32_t *inputs,
                   int32_t *targets);

/* The byte-level tokenizer: ids are the UTF-8 bytes (0..255), 256 is end-of-text; vocab 257.
 * A real tokenizer for training from scratch. */
const rt_text_tokenizer *rt_byte_tokenizer(void);

#endif
