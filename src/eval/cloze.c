/*
 * cloze.c — cloze questions from a document's sentences (see cloze.h).
 */
#define _GNU_SOURCE /* strcasestr, strndup */
#include "eval/cloze.h"

#include "core/error.h"
#include "core/strbuf.h"
#include "eval/qa.h"
#include "rag/sentences.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Function words: never part of a noun phrase. */
static const char *const function_words[] = {
    "a",       "an",      "the",   "this",   "that",     "these", "those",  "of",      "in",
    "into",    "on",      "onto",  "at",     "by",       "for",   "from",   "to",      "with",
    "without", "as",      "and",   "or",     "but",      "nor",   "is",     "are",     "was",
    "were",    "be",      "been",  "being",  "has",      "have",  "had",    "do",      "does",
    "did",     "can",     "could", "will",   "would",    "may",   "might",  "must",    "shall",
    "should",  "it",      "its",   "they",   "them",     "their", "which",  "who",     "whom",
    "whose",   "what",    "when",  "where",  "how",      "not",   "no",     "than",    "then",
    "so",      "such",    "also",  "only",   "each",     "every", "all",    "any",     "some",
    "one",     "more",    "most",  "other",  "about",    "over",  "under",  "between", "through",
    "during",  "before",  "after", "up",     "down",     "out",   "if",     "there",   "here",
    "he",      "she",     "his",   "her",    "we",       "our",   "you",    "your",    "i",
    "many",    "much",    "very",  "often",  "usually",  "used",  "rather", "whether", "because",
    "while",   "until",   "since", "though", "although", "just",  "even",   "still",   "both",
    "either",  "neither", NULL};

/* Words after which a noun phrase starts: determiners and prepositions ("to" is not one: a
 * content word right after it is mostly an infinitive, "to detect"). */
static const char *const np_openers[] = {
    "a",       "an",     "the",  "of",    "in",   "into",  "on",   "onto",  "at",
    "by",      "for",    "from", "with",  "as",   "about", "over", "under", "between",
    "through", "during", "its",  "their", "his",  "her",   "our",  "your",  "this",
    "these",   "those",  "each", "every", "some", "any",   "many", NULL};

static bool in_list(const char *const *list, const char *w, size_t n) {
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == n && !strncasecmp(list[i], w, n)) return true;
    return false;
}

typedef struct word {
    size_t start, end; /* the word without surrounding punctuation */
    bool punct_after;  /* punctuation right after it (a phrase boundary) */
} word;

#define MAX_WORDS 48

/* Words of s[0, n): whitespace-separated, quotes/brackets/punctuation trimmed. */
static size_t split_words(const char *s, size_t n, word *w) {
    size_t k = 0, i = 0;
    while (i < n && k < MAX_WORDS + 1) {
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i >= n) break;
        size_t a = i;
        while (i < n && !isspace((unsigned char)s[i]))
            i++;
        size_t b = i;
        while (a < b && strchr("\"'([{<", s[a]))
            a++;
        size_t e = b;
        while (e > a && strchr("\"')]}>.,;:!?", s[e - 1]))
            e--;
        if (a == e) continue;
        w[k].start = a;
        w[k].end = e;
        w[k].punct_after = e < b;
        k++;
    }
    return k;
}

static bool is_alpha_word(const char *s, const word *w) {
    for (size_t i = w->start; i < w->end; i++)
        if (!isalpha((unsigned char)s[i]) && s[i] != '-' && !((unsigned char)s[i] & 0x80))
            return false;
    return isalpha((unsigned char)s[w->start]) || ((unsigned char)s[w->start] & 0x80);
}

static bool has_digit(const char *s, const word *w) {
    for (size_t i = w->start; i < w->end; i++)
        if (isdigit((unsigned char)s[i])) return true;
    return false;
}

static bool capitalized(const char *s, const word *w) {
    return isupper((unsigned char)s[w->start]) && w->end - w->start >= 2;
}

static bool function_word(const char *s, const word *w) {
    return in_list(function_words, s + w->start, w->end - w->start);
}

/* Occurrences of s[a, b) in s[0, n). */
static int count_in(const char *s, size_t n, size_t a, size_t b) {
    int c = 0;
    size_t l = b - a;
    for (size_t i = 0; i + l <= n; i++)
        if (!memcmp(s + i, s + a, l)) c++;
    return c;
}

bool rt_cloze_sentence(const char *s, size_t n, char **question, char **answer) {
    *question = *answer = NULL;
    word w[MAX_WORDS + 1];
    size_t nw = split_words(s, n, w);
    if (nw < 5 || nw > 40) return false;
    /* best span per class: 0 entity, 1 number, 2 noun phrase (lower class wins, then length) */
    int best_class = 3;
    size_t best_a = 0, best_b = 0;
#define CONSIDER(cls, wa, wb)                                                                      \
    do {                                                                                           \
        size_t a_ = w[wa].start, b_ = w[wb].end;                                                   \
        if (count_in(s, n, a_, b_) == 1 &&                                                         \
            ((cls) < best_class || ((cls) == best_class && b_ - a_ > best_b - best_a))) {          \
            best_class = (cls);                                                                    \
            best_a = a_;                                                                           \
            best_b = b_;                                                                           \
        }                                                                                          \
    } while (0)
    for (size_t i = 0; i < nw;) {
        /* entities: runs of capitalized words */
        if (capitalized(s, &w[i]) && !has_digit(s, &w[i])) {
            size_t j = i;
            while (j + 1 < nw && !w[j].punct_after && capitalized(s, &w[j + 1]))
                j++;
            size_t a = i;
            if (a == 0 && function_word(s, &w[0])) a = 1; /* "The Unix ..." */
            bool ok = a <= j && !(a == 0 && j == 0);      /* one opening word: just a capital */
            if (ok && a == j && function_word(s, &w[a])) ok = false;
            if (ok) CONSIDER(0, a, j);
            i = j + 1;
            continue;
        }
        if (has_digit(s, &w[i])) CONSIDER(1, i, i);
        i++;
    }
    /* noun phrases: content words after an opener */
    for (size_t i = 1; i < nw; i++) {
        if (w[i - 1].punct_after ||
            !in_list(np_openers, s + w[i - 1].start, w[i - 1].end - w[i - 1].start))
            continue;
        size_t j = i;
        if (!is_alpha_word(s, &w[j]) || function_word(s, &w[j])) continue;
        while (j + 1 < nw && !w[j].punct_after && is_alpha_word(s, &w[j + 1]) &&
               !function_word(s, &w[j + 1]))
            j++;
        /* a trailing past participle is the verb of a reduced clause ("a value computed from
         * data"), not part of the phrase */
        while (j > i && w[j].end - w[j].start >= 4 && !strncmp(s + w[j].end - 2, "ed", 2))
            j--;
        if (j - i < 4 && w[j].end - w[i].start >= 3) CONSIDER(2, i, j);
    }
#undef CONSIDER
    if (best_class == 3) return false;
    rt_strbuf b = {0};
    if (rt_strbuf_append(&b, s, best_a) || rt_strbuf_puts(&b, "___") ||
        rt_strbuf_append(&b, s + best_b, n - best_b)) {
        rt_strbuf_free(&b);
        return false;
    }
    *question = rt_strbuf_take(&b);
    *answer = strndup(s + best_a, best_b - best_a);
    if (!*question || !*answer) {
        free(*question);
        free(*answer);
        *question = *answer = NULL;
        return false;
    }
    return true;
}

/* The title of a document: a Markdown heading or a short first line without final punctuation
 * followed by a blank line (or the end); *body_at gets where the rest starts. malloc'd or NULL. */
static char *doc_title(const char *text, size_t *body_at) {
    *body_at = 0;
    const char *nl = strchr(text, '\n');
    size_t l = nl ? (size_t)(nl - text) : strlen(text);
    while (l && isspace((unsigned char)text[l - 1]))
        l--;
    const char *t = text;
    size_t tl = l;
    if (*t == '#') {
        while (tl && *t == '#')
            t++, tl--;
    } else {
        if (l == 0 || l > 60 || strchr(".!?:", text[l - 1])) return NULL;
        const char *next = nl ? nl + 1 : text + l;
        while (*next == ' ' || *next == '\t' || *next == '\r')
            next++;
        if (*next && *next != '\n') return NULL;
    }
    while (tl && isspace((unsigned char)*t))
        t++, tl--;
    *body_at = nl ? (size_t)(nl - text) + 1 : strlen(text);
    return tl ? strndup(t, tl) : NULL;
}

int rt_cloze_document(const char *text, size_t max, rt_cloze_fn fn, void *user) {
    size_t body_at;
    char *title = doc_title(text, &body_at);
    size_t made = 0;
    int st = RT_OK;
    const char *p = text + body_at;
    while (*p && made < max && st == RT_OK) {
        /* one paragraph: up to a blank line */
        const char *e = p;
        while (*e) {
            const char *nl = strchr(e, '\n');
            if (!nl) {
                e += strlen(e);
                break;
            }
            const char *q = nl + 1;
            while (*q == ' ' || *q == '\t' || *q == '\r')
                q++;
            e = nl + 1;
            if (*q == '\n' || !*q) break;
        }
        bool heading = *p == '#';
        char *para = heading ? NULL : rt_qa_clean_paragraph(p, (size_t)(e - p));
        if (!heading && !para) st = RT_ERR_NOMEM;
        rt_span *spans = NULL;
        size_t ns = 0;
        if (para && st == RT_OK) st = rt_sentences_split(para, strlen(para), &spans, &ns);
        for (size_t i = 0; i < ns && made < max && st == RT_OK; i++) {
            char *q, *a;
            if (!rt_cloze_sentence(para + spans[i].start, spans[i].end - spans[i].start, &q, &a))
                continue;
            rt_strbuf b = {0};
            char *sent = strndup(para + spans[i].start, spans[i].end - spans[i].start);
            bool named = !title || (sent && strcasestr(sent, title) != NULL);
            free(sent);
            if (rt_strbuf_printf(&b, "%s%s%s", named ? "" : title, named ? "" : ": ", q))
                st = RT_ERR_NOMEM;
            if (st == RT_OK) st = fn(user, b.data, a);
            rt_strbuf_free(&b);
            free(q);
            free(a);
            made++;
        }
        free(spans);
        free(para);
        p = e;
    }
    free(title);
    return st;
}
