/*
 * bpe_train.h — training a byte-level BPE tokenizer (rt_bpe_train in ragtune.h): count the
 * pre-tokenized words of the input, then repeatedly merge the most frequent adjacent pair.
 */
#ifndef RT_TOKENIZER_BPE_TRAIN_H
#define RT_TOKENIZER_BPE_TRAIN_H

#include "ragtune.h"

/* The pre-tokenizer pattern trained tokenizers use (Llama-3's). */
extern const char tk_train_pattern[];

#endif
