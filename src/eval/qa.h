/*
 * qa.h — QA sets (declared in ragtune.h: rt_qa_load, rt_qa_save, rt_qa_check_docs,
 * rt_qa_generate) and the helpers the runner shares with the generator: reading a collection's
 * documents, the definition a definition document gives, and the question phrasings.
 */
#ifndef RT_EVAL_QA_H
#define RT_EVAL_QA_H

#include "ragtune.h"

/* One stored document. */
typedef struct rt_qa_doc {
    char *id;
    char *text;
} rt_qa_doc;

/* Every document of c in storage order (*docs malloc'd; free with rt_qa_docs_free). */
int rt_qa_collection_docs(rt_collection *c, rt_qa_doc **docs, size_t *n);
void rt_qa_docs_free(rt_qa_doc *docs, size_t n);

/* A definition document: its term (the first line) and defining sentence (the first sentence of
 * the text after it, with FOLDOC's <category> tag, leading parentheticals and {link} braces
 * removed), and that sentence's first clause (NULL when it is the whole sentence). false when
 * the document does not look like a definition. Outputs malloc'd. */
bool rt_qa_definition(const char *text, char **term, char **sentence, char **clause);

/* A paragraph cleaned for questions: FOLDOC's leading <category> tag and parentheticals,
 * {link} braces and "(http...)" asides removed, whitespace collapsed. malloc'd. */
char *rt_qa_clean_paragraph(const char *p, size_t n);

/* The question phrasings: 0 = "What is T?" (the test phrasing), 1.. the paraphrases. */
#define RT_QA_N_PHRASINGS 4
char *rt_qa_phrase(int which, const char *term);

/* Parses one QA JSON line into *item (zeroed first); false with a message in err. */
bool rt_qa_parse_line(const char *line, size_t len, rt_qa_item *item, char *err, size_t err_cap);
void rt_qa_item_clear(rt_qa_item *item);
/* Appends item as one JSON line (with newline) to the strbuf-like writer in qa.c. */
char *rt_qa_item_json(const rt_qa_item *item);

#endif
