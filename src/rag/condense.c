/*
 * condense.c — the retrieval query of a chat follow-up (rt_rag_condense_question).
 *
 * Rule: a question is a follow-up when it contains a pronoun or demonstrative (it, its, they,
 * them, their, this, that, these, those, he, she, him, his, her, one, ones, there) or has fewer
 * than three content words (words that survive BM25's stopword list). A follow-up is retrieved
 * with the question followed by the content words of the previous retrieval query (at most 8,
 * each once, in their order), so "What does it stand for?" after "What is FORTRAN?" searches
 * "What does it stand for? FORTRAN". Any other question is retrieved as it is. No model is asked
 * (a small reader condenses worse than this rule and costs a generation).
 */
#include "rag/grounding.h"

#include "core/error.h"
#include "core/strbuf.h"
#include "knowledge/words.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CARRIED 8
#define MAX_WORDS 256

typedef struct words {
    size_t start[MAX_WORDS], end[MAX_WORDS];
    size_t n;
} words;

static int on_word(void *user, size_t start, size_t end) {
    words *w = user;
    if (w->n == MAX_WORDS) return 1;
    w->start[w->n] = start;
    w->end[w->n] = end;
    w->n++;
    return 0;
}

static bool is_pronoun(const char *folded) {
    static const char *const pronouns[] = {"it",   "its",   "they",  "them", "their", "this",
                                           "that", "these", "those", "he",   "she",   "him",
                                           "his",  "her",   "one",   "ones", "there"};
    for (size_t i = 0; i < sizeof pronouns / sizeof *pronouns; i++)
        if (!strcmp(folded, pronouns[i])) return true;
    return false;
}

int rt_rag_condense_question(const char *previous, const char *question, char **out) {
    *out = NULL;
    if (!question) return rt_error(RT_ERR_INVALID, "condense: no question");
    rt_grounder *g;
    RT_TRY(rt_grounder_new(NULL, &g));
    words q = {0};
    rt_words_split(question, strlen(question), on_word, &q);
    size_t content = 0;
    bool pronoun = false;
    for (size_t i = 0; i < q.n; i++) {
        char buf[64];
        size_t n = rt_word_fold(question + q.start[i], q.end[i] - q.start[i], buf, sizeof buf);
        if (n && is_pronoun(buf)) pronoun = true;
        content += rt_grounder_n_terms(g, question + q.start[i], q.end[i] - q.start[i]) > 0;
    }
    rt_strbuf b = {0};
    int st = rt_strbuf_puts(&b, question);
    if (previous && *previous && (pronoun || content < 3)) {
        words p = {0};
        rt_words_split(previous, strlen(previous), on_word, &p);
        size_t carried = 0;
        for (size_t i = 0; st == RT_OK && i < p.n && carried < MAX_CARRIED; i++) {
            const char *w = previous + p.start[i];
            size_t wl = p.end[i] - p.start[i];
            if (!rt_grounder_n_terms(g, w, wl)) continue;
            bool seen = false; /* already in the question or carried */
            char fw[64], fx[64];
            size_t n = rt_word_fold(w, wl, fw, sizeof fw);
            for (size_t j = 0; j < q.n && !seen; j++)
                seen = n &&
                       rt_word_fold(question + q.start[j], q.end[j] - q.start[j], fx, sizeof fx) ==
                           n &&
                       !memcmp(fw, fx, n);
            for (size_t j = 0; j < i && !seen; j++)
                seen = n &&
                       rt_word_fold(previous + p.start[j], p.end[j] - p.start[j], fx, sizeof fx) ==
                           n &&
                       !memcmp(fw, fx, n) &&
                       rt_grounder_n_terms(g, previous + p.start[j], p.end[j] - p.start[j]);
            if (seen) continue;
            st = rt_strbuf_puts(&b, " ");
            if (st == RT_OK) st = rt_strbuf_append(&b, w, wl);
            carried++;
        }
    }
    rt_grounder_free(g);
    if (st != RT_OK) {
        rt_strbuf_free(&b);
        return st;
    }
    *out = rt_strbuf_take(&b);
    return *out ? RT_OK : RT_ERR_NOMEM;
}
