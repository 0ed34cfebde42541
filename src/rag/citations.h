/*
 * citations.h — citation markers in an answer: "[n]", "[n, m]" (also ";"), "[n][m]". A number
 * that names no source (outside 1..n_sources) is removed from its marker, and a marker left
 * empty is removed with the space before it; RAG models invent sources and the answer must
 * not show them. Mapping markers to sources and quotes happens in ask.c (it needs grounding).
 */
#ifndef RT_RAG_CITATIONS_H
#define RT_RAG_CITATIONS_H

#include <stddef.h>

typedef struct rt_cite_mark {
    int number; /* a valid source number (1-based) */
    size_t pos; /* byte offset of its marker in the cleaned text */
} rt_cite_mark;

/* Cleans answer[0, len): *clean (malloc'd, NUL-terminated) is the answer without invalid
 * numbers; *marks lists each valid number with its marker's position in *clean (in order);
 * *invalid lists the distinct invalid numbers in order of appearance. Arrays are malloc'd
 * (NULL when empty). Returns RT_OK or RT_ERR_NOMEM. */
int rt_citations_clean(const char *answer, size_t len, int n_sources, char **clean,
                       rt_cite_mark **marks, size_t *n_marks, int **invalid, size_t *n_invalid);

/* text without any citation marker (for word analysis); malloc'd. */
char *rt_citations_strip(const char *text, size_t len);

#endif
