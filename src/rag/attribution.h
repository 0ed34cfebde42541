/*
 * attribution.h — post-hoc citation attribution: a citation that names a source which does not
 * support its sentence is moved to the source that does.
 *
 * Small readers copy the right passage and then write the wrong number (most often a neighbour
 * of the right one), or a number past the last source. For each sentence of the answer that has
 * a citation marker, the support of the sentence (markers stripped) by each source alone is
 * computed as grounding.h defines it (word and word-pair overlap, plus embedding similarity
 * when the grounder has an embedder). Let b be the source with the highest support s_b (the
 * lowest number on ties). A number x in the sentence's markers is replaced by b when
 *
 *     s_b >= threshold   and   (x names no source, or s_x < threshold)
 *
 * i.e. only when the cited source does not support the sentence and another one does; a
 * citation that is supported is never changed, and nothing is changed when no source supports
 * the sentence (the groundedness check then reports it). Numbers made equal by a change are
 * merged ("[2, 3]" -> "[3]"). Sentences without a marker get none. The threshold is the ask's
 * support threshold, the same that flags unsupported sentences.
 */
#ifndef RT_RAG_ATTRIBUTION_H
#define RT_RAG_ATTRIBUTION_H

#include "rag/grounding.h"
#include "ragtune.h"

#include <stddef.h>

/* Rewrites the markers of answer[0, len) by the rule above. sources[i] is the analysis of
 * source i + 1 (rt_evidence_build with embed = true when g has an embedder). *out is the
 * rewritten answer (malloc'd, NUL-terminated; equal to the input when nothing changed);
 * *moved lists the changes in order (malloc'd, NULL when none). Returns RT_OK or an error. */
int rt_citations_attribute(rt_grounder *g, const char *answer, size_t len,
                           const rt_evidence *sources, size_t n_sources, float threshold,
                           char **out, rt_ask_recitation **moved, size_t *n_moved);

#endif
