/*
 * context.h — context assembly for `ask`: retrieved chunks become numbered sources that fit a
 * token budget.
 *
 *  1. Each hit's document is read once from the collection (rt_collection_get_document).
 *  2. A heading-only chunk (every line it touches is a Markdown ATX heading or the document's
 *     title line) is extended over the body that follows it, up to the next heading or
 *     RT_CONTEXT_EXTEND_BYTES (cut at a sentence or word end); with no body it is dropped.
 *  3. Chunks of one document that overlap or touch (only whitespace between them) are merged
 *     into one source: byte ranges unioned, score = the best of them.
 *  4. Heading lines (and the title line) a source opens with leave its text for its title,
 *     so the prompt shows "[n] Guide > Install" then the body, without repeating them.
 *     Each source gets a heading path: the document title (metadata "title", else a first line
 *     of at most 120 bytes followed by a blank line and not ending in '.') then the Markdown
 *     headings above the source's start (less those the source itself opens with), joined by
 *     " > ", then the agentic chunker's title of the source's best chunk when it has one. So a
 *     body chunk keeps its heading.
 *  5. Sources are ordered by score (best first) and taken while they fit the budget, counting
 *     each as its title and text plus RT_CONTEXT_SOURCE_OVERHEAD tokens of numbering; when the
 *     best one alone does not fit it is cut (at a word end) to what fits. Numbered [1]..[n].
 * Not done here: reranking (before), the prompt itself (rag/prompt.c).
 */
#ifndef RT_RAG_CONTEXT_H
#define RT_RAG_CONTEXT_H

#include "ragtune.h"

#define RT_CONTEXT_EXTEND_BYTES 1500
#define RT_CONTEXT_SOURCE_OVERHEAD 4

/* Tokens of text[0, len). */
typedef int (*rt_rag_count_fn)(void *user, const char *text, size_t len);

/* Assembles sources from hits (rerank: NULL or a score per hit, which then orders the sources)
 * within budget_tokens. *out (n_out entries) is malloc'd; free each with rt_ask_source_clear
 * and the array with free(). */
int rt_rag_context_assemble(rt_collection *c, const rt_search_result *hits, const float *rerank,
                            size_t n_hits, int budget_tokens, rt_rag_count_fn count, void *user,
                            rt_ask_source **out, size_t *n_out);
void rt_ask_source_clear(rt_ask_source *s);

/* The heading path of byte position pos in doc (step 4 above); *out is malloc'd ("" when the
 * document has neither title nor headings above pos). */
int rt_rag_heading_path(const rt_stored_document *doc, uint64_t pos, char **out);

#endif
