/*
 * ask.h — internals of rt_ask shared with the tests: the post-generation half (citations,
 * quotes, abstention, groundedness) that runs on a result whose sources are set.
 */
#ifndef RT_RAG_ASK_H
#define RT_RAG_ASK_H

#include "ragtune.h"

#include <stdbool.h>

/* Takes the generated text raw[0, raw_len) into r (raw_answer; with attribute, citations moved
 * to the supporting source (recitations); answer without invalid markers, invalid_markers,
 * abstained when the model abstained, sentences with support, citations with quotes,
 * groundedness) using r->sources. embedder may be NULL. */
int rt_ask_finish(rt_ask_result *r, const char *raw, size_t raw_len, const rt_embedder *embedder,
                  float threshold, bool attribute);

#endif
