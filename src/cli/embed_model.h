/*
 * embed_model.h — the hook behind `--embed-model PATH` of `ragtune ingest` and `ragtune search`:
 * it turns a model file (GGUF or Hugging Face directory of an encoder such as BERT, or a decoder
 * used with mean pooling) into an rt_embedder. The knowledge layer only sees rt_embedder.
 *
 * Until the model layer's embedding forward pass is wired in here (by the integrator: load the
 * model, tokenize each text, run the encoder, pool, return dim floats per text),
 * cli_embedder_open fails with RT_ERR_UNSUPPORTED, and collections are BM25-only.
 */
#ifndef RT_CLI_EMBED_MODEL_H
#define RT_CLI_EMBED_MODEL_H

#include "ragtune.h"

/* Fills *out (name = the model path, dim, embed callback, user state). */
int cli_embedder_open(const char *model_path, rt_embedder *out);
/* Releases what cli_embedder_open allocated. */
void cli_embedder_close(rt_embedder *e);

#endif
