/*
 * chunker.h — splits a document's text into chunks, each a byte range [start, end) of the
 * text (trimmed of surrounding whitespace, never empty). Four strategies (rt_chunker_kind):
 *   FIXED      windows of chunk_tokens tokens over whitespace-separated words, consecutive
 *              windows sharing overlap_tokens tokens;
 *   RECURSIVE  the whole text if it fits, else split at headings ('#' lines), then blank lines,
 *              then sentences, then words, merging neighbours back up to chunk_tokens;
 *   SENTENCE   whole sentences packed up to chunk_tokens (a longer sentence is split by words);
 *   SEMANTIC   sentences embedded with the embedder; a chunk ends where the cosine distance of
 *              neighbouring sentences exceeds the semantic_percentile-th percentile of all such
 *              distances in the document (and at chunk_tokens).
 *   AGENTIC    sections proposed by a model through rt_chunker_params.propose (a start and a
 *              title each; src/rag/agentic.c asks a reader model), each split further like
 *              RECURSIVE when longer than chunk_tokens; every piece carries its section's title.
 *              An unusable proposal (an error, none, a start out of range or repeated) is logged
 *              as a warning and the document is chunked RECURSIVE instead (no titles).
 * RECURSIVE and SENTENCE never make a chunk of at most chunk_tokens/16 tokens (a heading): such a
 * piece joins the next chunk (the previous one when it is last), which may then exceed
 * chunk_tokens by that much.
 * Sentences end at '.', '!' or '?' followed by whitespace, at blank lines and at headings.
 */
#ifndef RT_KNOWLEDGE_CHUNKER_H
#define RT_KNOWLEDGE_CHUNKER_H

#include "ragtune.h"

#include <stddef.h>

typedef struct rt_span {
    size_t start, end;
} rt_span;

rt_chunker_params rt_chunker_default_params(void);

/* Chunks text[0, len). *out (malloc'd, caller frees) gets *n_out spans in text order. The
 * embedder is needed by SEMANTIC only (RT_ERR_INVALID without it). */
int rt_chunk_text(const rt_chunker_params *p, const rt_embedder *embedder, const char *text,
                  size_t len, rt_span **out, size_t *n_out);

/* Like rt_chunk_text, and *titles (malloc'd array of n_out malloc'd strings or NULL entries;
 * NULL itself when the chunker gives no titles) gets each chunk's title (AGENTIC only). */
int rt_chunk_text_titled(const rt_chunker_params *p, const rt_embedder *embedder,
                         const char *text, size_t len, rt_span **out, char ***titles,
                         size_t *n_out);

/* Sentence spans of text (trimmed, non-empty), for the sentence and semantic chunkers. */
int rt_split_sentences(const char *text, size_t len, rt_span **out, size_t *n_out);

#endif
