/*
 * model_embedder.h — what the collection needs to know about embedders backed by a model file
 * (rt_embedder_open_model in ragtune.h): their content fingerprint, which identifies the model
 * whatever path it was opened by.
 */
#ifndef RT_KNOWLEDGE_MODEL_EMBEDDER_H
#define RT_KNOWLEDGE_MODEL_EMBEDDER_H

#include "ragtune.h"

/* The content fingerprint (32 hex digits) of the model behind e, or NULL when e was not made by
 * rt_embedder_open_model (a caller's own embedder is identified by its name). */
const char *rt_model_embedder_content_id(const rt_embedder *e);

#endif
