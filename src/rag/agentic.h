/*
 * agentic.h — the agentic chunker's model side (rt_rag_agentic_propose in ragtune.h): the
 * document's sentences are numbered, the model is asked where topics change and for a title per
 * section, and its reply is parsed into proposals for knowledge/chunker.c.
 */
#ifndef RT_RAG_AGENTIC_H
#define RT_RAG_AGENTIC_H

#include "ragtune.h"
#include "knowledge/chunker.h"

/* Parses a reply of lines "N: title" (also "N. title", "N) title", "N - title"; other lines are
 * ignored) against the n_sent sentences of the document: each N (1-based) becomes a proposal
 * starting at sentences[N-1].start. Numbers must rise strictly and lie in 1..n_sent; the first
 * section always starts at 0. RT_ERR_FORMAT (naming the line) when the reply has no usable line
 * or breaks those rules. *out is malloc'd (titles too). */
int rt_rag_agentic_parse(const char *reply, const rt_span *sentences, size_t n_sent,
                         rt_chunk_proposal **out, size_t *n);

#endif
