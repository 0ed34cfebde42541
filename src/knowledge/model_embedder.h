/*
 * model_embedder.h — an rt_embedder backed by a model file: the tokenizer beside (or inside)
 * the model turns each text into ids, the model embeds them (BERT: its pooling over a
 * bidirectional pass; decoders: mean pooling of the final hidden states), L2-normalized.
 * Declared publicly in ragtune.h (rt_embedder_open_model / rt_embedder_close_model).
 */
#ifndef RT_KNOWLEDGE_MODEL_EMBEDDER_H
#define RT_KNOWLEDGE_MODEL_EMBEDDER_H

#include "ragtune.h"

#endif
