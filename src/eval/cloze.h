/*
 * cloze.h — cloze questions without a model (Lewis et al. 2019, "Unsupervised Question
 * Answering by Cloze Translation"): a salient span of a sentence — a named entity, a number or
 * a noun phrase — is the answer, and the sentence with that span blanked out ("___") is the
 * question. Lewis et al. find the spans with a tagger (spaCy); here they come from rules on the
 * words themselves (capitalization, digits, a determiner or preposition before a run of
 * content words), which is good enough for definitions and reference prose and wrong on some
 * sentences (a verb right after a determiner or preposition taken for a noun: "lets a
 * programmer run").
 */
#ifndef RT_EVAL_CLOZE_H
#define RT_EVAL_CLOZE_H

#include <stdbool.h>
#include <stddef.h>

/* The cloze question of sentence[0, len) (5 to 40 words): the most salient span — an entity
 * (capitalized words not opening the sentence, or two or more opening it), then a number,
 * then the longest noun phrase (1-4 content words after a determiner or preposition, ending
 * the sentence or followed by punctuation or a function word) — becomes "___". A span that
 * occurs twice in the sentence is not used. false when the sentence has none. *question and
 * *answer are malloc'd. */
bool rt_cloze_sentence(const char *sentence, size_t len, char **question, char **answer);

/* Called with each cloze question of a document, in document order. Non-zero stops. */
typedef int (*rt_cloze_fn)(void *user, const char *question, const char *answer);

/* Up to max cloze questions from text, one per sentence: the title line (a short first line
 * without final punctuation, or a Markdown heading) is not a sentence but prefixes each
 * question ("TITLE: ...") when the sentence does not name it, so that the blank has one
 * answer; FOLDOC's <category> tags and {link} braces are dropped. Returns RT_OK, RT_ERR_NOMEM
 * or the callback's non-zero value. */
int rt_cloze_document(const char *text, size_t max, rt_cloze_fn fn, void *user);

#endif
