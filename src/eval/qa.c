/*
 * qa.c — QA sets: JSONL reading (malformed lines named and skipped) and writing, evidence
 * checks against a collection, and question generation without a model from definition
 * documents (FOLDOC-style: a title line, then the defining text):
 *
 *   - "What is TERM?" -> the defining sentence (and its first clause), one document's questions
 *     all in one split (train or test, seeded); the train split also gets the paraphrases
 *     "Define TERM.", "What does TERM mean?", "Explain TERM." (fine-tuning needs several
 *     phrasings of a fact);
 *   - unanswerable test questions about words from a word list that occur nowhere in the
 *     collection (answer null);
 *   - an update split: for some test documents a second version whose definition is replaced
 *     by a synthetic one (a made-up maker and year), written as documents JSONL, with the
 *     question's new answer and its old one.
 *
 *   - cloze questions (src/eval/cloze.c) from every document and model-written questions
 *     (src/eval/qa_model.c) from every chunk, in their document's split.
 */
#define _GNU_SOURCE /* memmem, strcasecmp */
#include "eval/qa.h"

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "eval/cloze.h"
#include "eval/qa_model.h"
#include "knowledge/collection.h"
#include "train/rng.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QA_BYTES ((size_t)1 << 30)

/* ---- items ---- */

void rt_qa_item_clear(rt_qa_item *it) {
    free(it->id);
    free(it->question);
    for (size_t i = 0; i < it->n_answers; i++)
        free(it->answers[i]);
    free(it->answers);
    for (size_t i = 0; i < it->n_docs; i++)
        free(it->docs[i]);
    free(it->docs);
    free(it->old_answer);
    memset(it, 0, sizeof *it);
}

void rt_qa_free(rt_qa_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++)
        rt_qa_item_clear(&set->items[i]);
    free(set->items);
    free(set->skipped);
    free(set);
}

/* A string or a list of strings into a malloc'd array; false when it is neither. */
static bool string_list(json_t *v, char ***out, size_t *n, bool allow_empty) {
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v)) return true;
    if (json_is_string(v)) {
        if (!allow_empty && !json_string_length(v)) return true;
        *out = malloc(sizeof **out);
        if (!*out) return false;
        (*out)[0] = strdup(json_string_value(v));
        *n = (*out)[0] ? 1 : 0;
        return *n == 1;
    }
    if (!json_is_array(v)) return false;
    size_t m = json_array_size(v);
    for (size_t i = 0; i < m; i++)
        if (!json_is_string(json_array_get(v, i))) return false;
    *out = m ? calloc(m, sizeof **out) : NULL;
    if (m && !*out) return false;
    for (size_t i = 0; i < m; i++) {
        json_t *s = json_array_get(v, i);
        if (!allow_empty && !json_string_length(s)) continue;
        if (!((*out)[*n] = strdup(json_string_value(s)))) return false;
        (*n)++;
    }
    return true;
}

bool rt_qa_parse_line(const char *line, size_t len, rt_qa_item *it, char *err, size_t cap) {
    memset(it, 0, sizeof *it);
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    if (!o) {
        snprintf(err, cap, "not JSON (%s)", je.text);
        return false;
    }
    bool ok = false;
    if (!json_is_object(o)) {
        snprintf(err, cap, "not a JSON object");
        goto done;
    }
    json_t *q = json_object_get(o, "question"), *a = json_object_get(o, "answer");
    json_t *id = json_object_get(o, "id"), *split = json_object_get(o, "split");
    json_t *un = json_object_get(o, "unanswerable"), *old = json_object_get(o, "old_answer");
    if (!json_is_string(q) || !json_string_length(q)) {
        snprintf(err, cap, "no \"question\" string");
        goto done;
    }
    if (!a && !json_is_true(un)) {
        snprintf(err, cap, "no \"answer\" (a string, a list of strings, or null)");
        goto done;
    }
    if (!string_list(a, &it->answers, &it->n_answers, false)) {
        snprintf(err, cap, "\"answer\" must be a string, a list of strings or null");
        goto done;
    }
    if (!string_list(json_object_get(o, "doc"), &it->docs, &it->n_docs, false)) {
        snprintf(err, cap, "\"doc\" must be a string or a list of strings");
        goto done;
    }
    if (split && !json_is_string(split)) {
        snprintf(err, cap, "\"split\" must be a string");
        goto done;
    }
    if (split) {
        const char *sv = json_string_value(split);
        if (strcmp(sv, "train") && strcmp(sv, "test") && strcmp(sv, "update") && *sv) {
            snprintf(err, cap, "\"split\" must be train, test or update (not \"%.20s\")", sv);
            goto done;
        }
        snprintf(it->split, sizeof it->split, "%s", sv);
    }
    it->unanswerable = json_is_true(un) || it->n_answers == 0;
    it->question = strdup(json_string_value(q));
    if (json_is_string(id)) {
        it->id = strdup(json_string_value(id));
    } else if (json_is_integer(id)) {
        char b[32];
        snprintf(b, sizeof b, "%lld", (long long)json_integer_value(id));
        it->id = strdup(b);
    }
    if (json_is_string(old)) it->old_answer = strdup(json_string_value(old));
    json_t *kind = json_object_get(o, "kind");
    if (json_is_string(kind)) snprintf(it->kind, sizeof it->kind, "%s", json_string_value(kind));
    ok = it->question != NULL;
    if (!ok) snprintf(err, cap, "out of memory");
done:
    json_decref(o);
    if (!ok) rt_qa_item_clear(it);
    return ok;
}

int rt_qa_load(const char *path, rt_qa_set **out) {
    *out = NULL;
    char *data;
    size_t len;
    RT_TRY(rt_file_read_all(path, MAX_QA_BYTES, &data, &len));
    rt_qa_set *set = calloc(1, sizeof *set);
    if (!set) {
        free(data);
        return rt_error(RT_ERR_NOMEM, "%s: out of memory", path);
    }
    rt_strbuf skipped = {0};
    size_t cap = 0, line_no = 0;
    int st = RT_OK;
    for (char *p = data; p < data + len && st == RT_OK;) {
        char *e = memchr(p, '\n', (size_t)(data + len - p));
        size_t n = e ? (size_t)(e - p) : (size_t)(data + len - p);
        line_no++;
        char *line = p;
        p += n + 1;
        while (n && isspace((unsigned char)line[n - 1]))
            n--;
        size_t lead = 0;
        while (lead < n && isspace((unsigned char)line[lead]))
            lead++;
        if (lead == n) continue;
        rt_qa_item it;
        char err[200];
        if (!rt_qa_parse_line(line + lead, n - lead, &it, err, sizeof err)) {
            set->n_skipped++;
            rt_log_warn("%s:%zu: skipped: %s", path, line_no, err);
            if (rt_strbuf_printf(&skipped, "%s:%zu: %s\n", path, line_no, err)) st = RT_ERR_NOMEM;
            continue;
        }
        if (!it.id) {
            char b[32];
            snprintf(b, sizeof b, "line%zu", line_no);
            it.id = strdup(b);
        }
        if (set->n == cap) {
            cap = cap ? 2 * cap : 64;
            rt_qa_item *ni = realloc(set->items, cap * sizeof *ni);
            if (!ni) {
                rt_qa_item_clear(&it);
                st = rt_error(RT_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            set->items = ni;
        }
        set->items[set->n++] = it;
    }
    free(data);
    set->skipped = skipped.len ? rt_strbuf_take(&skipped) : NULL;
    rt_strbuf_free(&skipped);
    if (st == RT_OK && set->n == 0)
        st = rt_error(RT_ERR_FORMAT, "%s: no valid question (%zu malformed line(s) skipped)", path,
                      set->n_skipped);
    if (st != RT_OK) {
        rt_qa_free(set);
        return st;
    }
    *out = set;
    return RT_OK;
}

static json_t *list_json(char *const *v, size_t n, bool null_when_empty) {
    if (n == 0) return null_when_empty ? json_null() : json_array();
    if (n == 1) return json_string(v[0]);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

char *rt_qa_item_json(const rt_qa_item *it) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(it->id ? it->id : ""));
    json_object_set_new(o, "question", json_string(it->question));
    json_object_set_new(o, "answer", list_json(it->answers, it->n_answers, true));
    if (it->n_docs) json_object_set_new(o, "doc", list_json(it->docs, it->n_docs, false));
    if (it->split[0]) json_object_set_new(o, "split", json_string(it->split));
    if (it->unanswerable) json_object_set_new(o, "unanswerable", json_true());
    if (it->old_answer) json_object_set_new(o, "old_answer", json_string(it->old_answer));
    if (it->kind[0]) json_object_set_new(o, "kind", json_string(it->kind));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    return s;
}

int rt_qa_save(const rt_qa_set *set, const char *path) {
    rt_strbuf b = {0};
    for (size_t i = 0; i < set->n; i++) {
        char *s = rt_qa_item_json(&set->items[i]);
        int st = s ? rt_strbuf_printf(&b, "%s\n", s) : RT_ERR_NOMEM;
        free(s);
        if (st != RT_OK) {
            rt_strbuf_free(&b);
            return rt_error(RT_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    int st = rt_file_write_atomic(path, b.data ? b.data : "", b.len);
    rt_strbuf_free(&b);
    return st;
}

/* ---- the collection's documents ---- */

void rt_qa_docs_free(rt_qa_doc *docs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(docs[i].id);
        free(docs[i].text);
    }
    free(docs);
}

int rt_qa_collection_docs(rt_collection *c, rt_qa_doc **docs, size_t *n) {
    *docs = NULL;
    *n = 0;
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(c, "SELECT doc_id, text FROM documents ORDER BY rowid", &st));
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            rt_qa_doc *nd = realloc(*docs, cap * sizeof *nd);
            if (!nd) break;
            *docs = nd;
        }
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *text = (const char *)sqlite3_column_text(st, 1);
        (*docs)[*n].id = strdup(id ? id : "");
        (*docs)[*n].text = strdup(text ? text : "");
        (*n)++;
        if (!(*docs)[*n - 1].id || !(*docs)[*n - 1].text) break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        rt_qa_docs_free(*docs, *n);
        *docs = NULL;
        *n = 0;
        return rc == SQLITE_ROW ? rt_error(RT_ERR_NOMEM, "reading documents: out of memory")
                                : rt_coll_sql_error(c, "reading documents");
    }
    return RT_OK;
}

int rt_qa_check_docs(rt_qa_set *set, rt_collection *c) {
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(c, "SELECT 1 FROM documents WHERE doc_id = ?", &st));
    set->n_doc_missing = 0;
    for (size_t i = 0; i < set->n; i++) {
        rt_qa_item *it = &set->items[i];
        it->doc_missing = false;
        for (size_t j = 0; j < it->n_docs; j++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, it->docs[j], -1, SQLITE_TRANSIENT);
            if (sqlite3_step(st) != SQLITE_ROW) it->doc_missing = true;
        }
        if (it->doc_missing) {
            set->n_doc_missing++;
            rt_log_warn("question %s: evidence document not in the collection", it->id);
        }
    }
    sqlite3_finalize(st);
    return RT_OK;
}

/* ---- definitions ---- */

/* Cleans a paragraph: FOLDOC's leading <category> tag and parentheticals go, {link} braces go
 * (their text stays), "(http...)" asides go, whitespace collapses. malloc'd. */
char *rt_qa_clean_paragraph(const char *p, size_t n) {
    rt_strbuf b = {0};
    size_t i = 0;
    bool lead = true;
    while (i < n) {
        char ch = p[i];
        if (lead && isspace((unsigned char)ch)) {
            i++;
            continue;
        }
        if (lead && (ch == '<' || ch == '(')) { /* a leading tag or parenthetical */
            char close = ch == '<' ? '>' : ')';
            int depth = 0;
            size_t j = i;
            for (; j < n; j++) {
                if (p[j] == ch) depth++;
                if (p[j] == close && --depth == 0) break;
            }
            if (j < n) {
                i = j + 1;
                continue;
            }
        }
        lead = false;
        if (ch == '(' && (!strncmp(p + i, "(http", 5) || !strncmp(p + i, "(ftp", 4))) {
            const char *e = memchr(p + i, ')', n - i);
            if (e) {
                i = (size_t)(e - p) + 1;
                continue;
            }
        }
        if (ch == '{' || ch == '}') {
            i++;
            continue;
        }
        if (isspace((unsigned char)ch)) {
            if (b.len && b.data[b.len - 1] != ' ' && rt_strbuf_append(&b, " ", 1)) goto fail;
            i++;
            continue;
        }
        if (rt_strbuf_append(&b, &ch, 1)) goto fail;
        i++;
    }
    while (b.len && b.data[b.len - 1] == ' ')
        b.data[--b.len] = 0;
    return rt_strbuf_take(&b);
fail:
    rt_strbuf_free(&b);
    return NULL;
}

static size_t count_words(const char *s, size_t n) {
    size_t w = 0;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        bool sp = isspace((unsigned char)s[i]);
        if (!sp && !in) w++;
        in = !sp;
    }
    return w;
}

/* Length of the first sentence of s: up to a . ! ? followed by a space or the end, not after
 * a single capital letter (initials) or "e.g"/"i.e"/"etc"/"vs". */
static size_t first_sentence(const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '.' && s[i] != '!' && s[i] != '?') continue;
        if (i + 1 < n && s[i + 1] != ' ') continue;
        if (s[i] == '.') {
            size_t w = i;
            while (w > 0 && s[w - 1] != ' ')
                w--;
            while (w < i && (s[w] == '(' || s[w] == '"' || s[w] == '['))
                w++;
            size_t wl = i - w;
            if (wl == 1 && isupper((unsigned char)s[w])) continue;
            if ((wl == 3 && (!strncmp(s + w, "e.g", 3) || !strncmp(s + w, "i.e", 3) ||
                             !strncmp(s + w, "etc", 3))) ||
                (wl == 2 && !strncmp(s + w, "vs", 2)))
                continue;
        }
        return i + 1;
    }
    return n;
}

bool rt_qa_definition(const char *text, char **term, char **sentence, char **clause) {
    *term = *sentence = *clause = NULL;
    const char *nl = strchr(text, '\n');
    if (!nl) return false;
    size_t tl = (size_t)(nl - text);
    while (tl && isspace((unsigned char)text[tl - 1]))
        tl--;
    if (tl == 0 || tl > 60) return false;
    const char *body = nl;
    while (*body && isspace((unsigned char)*body))
        body++;
    const char *pe = strchr(body, '\n');
    size_t pl = pe ? (size_t)(pe - body) : strlen(body);
    char *para = rt_qa_clean_paragraph(body, pl);
    if (!para) return false;
    size_t sl = first_sentence(para);
    size_t words = count_words(para, sl);
    if (words < 4 || words > 60 || !isalpha((unsigned char)para[0])) {
        free(para);
        return false;
    }
    para[sl] = 0;
    *sentence = para;
    *term = strndup(text, tl);
    /* the first clause: up to a comma, semicolon or a relative/participle connective */
    static const char *const cuts[] = {", ",    "; ",         " that ",      " which ",   " used ",
                                       " for ", " in which ", " developed ", " written ", NULL};
    size_t best = sl;
    for (int i = 0; cuts[i]; i++) {
        const char *f = strstr(para, cuts[i]);
        if (f && (size_t)(f - para) < best && count_words(para, (size_t)(f - para)) >= 3)
            best = (size_t)(f - para);
    }
    if (best < sl - 1) *clause = strndup(para, best);
    if (!*term) {
        free(*sentence);
        *sentence = NULL;
        return false;
    }
    return true;
}

char *rt_qa_phrase(int which, const char *term) {
    static const char *const fmt[RT_QA_N_PHRASINGS] = {"What is %s?", "Define %s.",
                                                       "What does %s mean?", "Explain %s."};
    rt_strbuf b = {0};
    if (rt_strbuf_printf(&b, fmt[which % RT_QA_N_PHRASINGS], term)) return NULL;
    return rt_strbuf_take(&b);
}

/* ---- generation ---- */

rt_qa_generate_params rt_qa_generate_default_params(void) {
    rt_qa_generate_params p = {0};
    p.test_fraction = 0.2;
    p.paraphrases = true;
    p.n_unanswerable = (size_t)-1; /* 10% of test */
    p.update_fraction = 0.25;
    p.seed = 1;
    p.templates = true;
    return p;
}

typedef struct def_doc {
    size_t doc; /* index into docs */
    char *term, *sentence, *clause;
} def_doc;

static int push_item(rt_qa_set *set, size_t *cap, rt_qa_item *it) {
    if (set->n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        rt_qa_item *ni = realloc(set->items, *cap * sizeof *ni);
        if (!ni) {
            rt_qa_item_clear(it);
            return rt_error(RT_ERR_NOMEM, "qa generate: out of memory");
        }
        set->items = ni;
    }
    set->items[set->n++] = *it;
    return RT_OK;
}

static char **strs(const char *a, const char *b, size_t *n) {
    char **v = calloc(2, sizeof *v);
    if (!v) return NULL;
    *n = 0;
    if (a) v[(*n)++] = strdup(a);
    if (b) v[(*n)++] = strdup(b);
    return v;
}

static int add_question(rt_qa_set *set, size_t *cap, const char *id_prefix, size_t num,
                        int phrasing, const char *term, const char *ans, const char *ans2,
                        const char *doc, const char *split, const char *old) {
    rt_qa_item it = {0};
    char id[64];
    snprintf(id, sizeof id, "%s%zu", id_prefix, num);
    it.id = strdup(id);
    it.question = rt_qa_phrase(phrasing, term);
    if (ans) it.answers = strs(ans, ans2, &it.n_answers);
    if (doc) it.docs = strs(doc, NULL, &it.n_docs);
    snprintf(it.split, sizeof it.split, "%s", split);
    snprintf(it.kind, sizeof it.kind, "template");
    it.unanswerable = ans == NULL;
    if (old) it.old_answer = strdup(old);
    if (!it.id || !it.question || (ans && !it.answers) || (doc && !it.docs)) {
        rt_qa_item_clear(&it);
        return rt_error(RT_ERR_NOMEM, "qa generate: out of memory");
    }
    return push_item(set, cap, &it);
}

/* Lower-cased concatenation of every document, for "occurs nowhere" checks. */
static char *corpus_lower(const rt_qa_doc *docs, size_t n, size_t *len) {
    rt_strbuf b = {0};
    for (size_t i = 0; i < n; i++) {
        if (rt_strbuf_puts(&b, docs[i].text) || rt_strbuf_append(&b, "\n", 1)) {
            rt_strbuf_free(&b);
            return NULL;
        }
    }
    for (size_t i = 0; i < b.len; i++)
        b.data[i] = (char)tolower((unsigned char)b.data[i]);
    *len = b.len;
    return rt_strbuf_take(&b);
}

static bool occurs_word(const char *hay, size_t hl, const char *w) {
    size_t wl = strlen(w);
    for (const char *p = hay; (p = memmem(p, hl - (size_t)(p - hay), w, wl)) != NULL; p++) {
        bool l = p == hay || !isalpha((unsigned char)p[-1]);
        bool r = (size_t)(p - hay) + wl >= hl || !isalpha((unsigned char)p[wl]);
        if (l && r) return true;
        if ((size_t)(p - hay) + 1 >= hl) break;
    }
    return false;
}

/* Words of a word list (one per line, or a dictd .index: the first tab field) that are plain
 * lower-case words of 7 to 14 letters. */
static int load_words(const char *path, char ***out, size_t *n) {
    char *data;
    size_t len;
    RT_TRY(rt_file_read_all(path, (size_t)1 << 28, &data, &len));
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (char *p = data; p < data + len;) {
        char *e = memchr(p, '\n', (size_t)(data + len - p));
        size_t l = e ? (size_t)(e - p) : (size_t)(data + len - p);
        char *tab = memchr(p, '\t', l);
        size_t wl = tab ? (size_t)(tab - p) : l;
        bool ok = wl >= 7 && wl <= 14;
        for (size_t i = 0; ok && i < wl; i++)
            ok = p[i] >= 'a' && p[i] <= 'z';
        if (ok) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 1024;
                char **nw = realloc(*out, cap * sizeof *nw);
                if (!nw) break;
                *out = nw;
            }
            (*out)[(*n)++] = strndup(p, wl);
        }
        p += l + 1;
    }
    free(data);
    if (*n == 0)
        return rt_error(RT_ERR_FORMAT, "%s: no usable words (lower-case, 7-14 letters)", path);
    return RT_OK;
}

static const char *const makers[] = {"Quillmark Systems",  "Vexatron Labs",      "Orbinet",
                                     "Halcyon Dynamics",   "Teravolt",           "Nimbrix",
                                     "Castellan Software", "Zephyra Corporation"};
static const char *const products[] = {"database engine", "compiler",         "network protocol",
                                       "file format",     "operating system", "text editor"};

/* What the cloze and model passes add questions with. */
typedef struct adder {
    rt_qa_set *set;
    size_t *cap;
    const char *doc;   /* evidence document id */
    const char *split; /* its split */
    const char *kind;
    size_t *num;
    char prefix[4];
} adder;

static int add_pair(void *user, const char *question, const char *answer) {
    adder *ad = user;
    rt_qa_item it = {0};
    char id[64];
    snprintf(id, sizeof id, "%s%zu", ad->prefix, ++*ad->num);
    it.id = strdup(id);
    it.question = strdup(question);
    it.answers = strs(answer, NULL, &it.n_answers);
    it.docs = strs(ad->doc, NULL, &it.n_docs);
    snprintf(it.split, sizeof it.split, "%s", ad->split);
    snprintf(it.kind, sizeof it.kind, "%s", ad->kind);
    if (!it.id || !it.question || !it.answers || !it.docs || !it.answers[0] || !it.docs[0]) {
        rt_qa_item_clear(&it);
        return rt_error(RT_ERR_NOMEM, "qa generate: out of memory");
    }
    return push_item(ad->set, ad->cap, &it);
}

/* The split of a document without template questions: a seeded draw from its id. */
static const char *drawn_split(const char *id, uint64_t seed, double test_fraction) {
    uint64_t h = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    for (const char *q = id; *q; q++)
        h = (h ^ (unsigned char)*q) * 0x100000001b3ull;
    uint64_t x = rt_rng_next(&h);
    return (double)(x >> 11) / 9007199254740992.0 < test_fraction ? "test" : "train";
}

/* Model-written questions: one per chunk (storage order, at most max), kept when verified. */
static int model_questions(rt_collection *c, const rt_qa_generate_params *p, const rt_qa_doc *docs,
                           size_t n_docs, const char *doc_split, rt_qa_set *set, size_t *cap) {
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(c,
                           "SELECT c.doc_id, substr(CAST(d.text AS BLOB), c.start + 1, "
                           "c.end - c.start) FROM chunks c JOIN documents d USING (doc_id) "
                           "ORDER BY c.chunk_id",
                           &st));
    size_t num = 0;
    int rc = RT_OK;
    while (rc == RT_OK && (!p->model_max_chunks || set->n_model_asked < p->model_max_chunks) &&
           sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *blob = (const char *)sqlite3_column_blob(st, 1); /* NULL when empty */
        char *passage = blob ? strndup(blob, (size_t)sqlite3_column_bytes(st, 1)) : strdup("");
        if (!id || !passage) {
            free(passage);
            rc = rt_error(RT_ERR_NOMEM, "qa generate: out of memory");
            break;
        }
        char *q = NULL, *a = NULL, *reply = NULL;
        set->n_model_asked++;
        rc = rt_qa_model_ask(p->session, passage, p->seed, &q, &a, &reply);
        if (rc == RT_ERR_RANGE) { /* the chunk does not fit the model's context: skipped */
            rt_log_warn("qa generate: %s: %s", id, rt_last_error());
            set->n_model_dropped++;
            rc = RT_OK;
        } else if (rc != RT_OK) {
            rt_error_wrap("qa generate: asking the model about a chunk of %s", id);
        } else if (!q || !rt_qa_answer_in_evidence(a, passage)) {
            set->n_model_dropped++;
            rt_log_debug("qa generate: %s: dropped (%s): %.200s", id,
                         q ? "answer not in the passage" : "no Question:/Answer: lines",
                         reply ? reply : "");
        } else {
            const char *split = NULL;
            for (size_t i = 0; i < n_docs && !split; i++)
                if (!strcmp(docs[i].id, id))
                    split = doc_split[i] == 't'   ? "test"
                            : doc_split[i] == 'r' ? "train"
                                                  : drawn_split(id, p->seed, p->test_fraction);
            adder ad = {set, cap, id, split ? split : "test", "model", &num, "m"};
            rc = add_pair(&ad, q, a);
        }
        free(q);
        free(a);
        free(reply);
        free(passage);
    }
    sqlite3_finalize(st);
    return rc;
}

int rt_qa_generate(rt_collection *c, const rt_qa_generate_params *p, rt_qa_set **out) {
    *out = NULL;
    rt_qa_doc *docs;
    size_t n_docs;
    RT_TRY(rt_qa_collection_docs(c, &docs, &n_docs));
    def_doc *defs = calloc(n_docs ? n_docs : 1, sizeof *defs);
    rt_qa_set *set = calloc(1, sizeof *set);
    char *corpus = NULL, **words = NULL;
    size_t n_defs = 0, n_words = 0, cap = 0, corpus_len = 0;
    rt_strbuf upd = {0};
    int st = RT_OK;
    char *doc_split = calloc(n_docs + 1, 1); /* 't' test, 'r' train, 0 no template question */
    size_t n_test = 0, n_update = 0;
    if (!defs || !set || !doc_split) {
        st = rt_error(RT_ERR_NOMEM, "qa generate: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_docs; i++) {
        def_doc d = {.doc = i};
        if (!rt_qa_definition(docs[i].text, &d.term, &d.sentence, &d.clause)) continue;
        bool dup = false;
        for (size_t j = 0; j < n_defs && !dup; j++)
            dup = !strcasecmp(defs[j].term, d.term);
        if (dup) {
            free(d.term);
            free(d.sentence);
            free(d.clause);
            continue;
        }
        defs[n_defs++] = d;
    }
    bool others = p->cloze_per_doc || p->session;
    if (!p->templates && !others) {
        st = rt_error(RT_ERR_INVALID, "qa generate: no kind of question asked for");
        goto done;
    }
    if (p->templates && n_defs < 2 && others) {
        rt_log_info("qa generate: %zu definition document(s): no template questions", n_defs);
    } else if (p->templates && n_defs < 2) {
        st = rt_error(RT_ERR_FORMAT,
                      "qa generate: %zu definition document(s) of %zu (need at least 2: a title "
                      "line, then a defining sentence of 4-60 words)",
                      n_defs, n_docs);
        goto done;
    }
    /* seeded shuffle (Fisher-Yates), then the first max_docs */
    uint64_t rng = p->seed * 0x9E3779B97F4A7C15ull + 1;
    size_t n_usable = p->templates && n_defs >= 2 ? n_defs : 0;
    for (size_t i = n_usable ? n_usable - 1 : 0; i > 0; i--) {
        size_t j = rt_rng_next(&rng) % (i + 1);
        def_doc t = defs[i];
        defs[i] = defs[j];
        defs[j] = t;
    }
    size_t used = p->max_docs && p->max_docs < n_usable ? p->max_docs : n_usable;
    if (used) {
        n_test = (size_t)llround(p->test_fraction * (double)used);
        if (n_test < 1) n_test = 1;
        if (n_test >= used) n_test = used - 1;
        n_update = p->update_docs_path ? (size_t)llround(p->update_fraction * (double)n_test) : 0;
        if (p->update_docs_path && n_update == 0) n_update = 1;
    }
    size_t num = 0;
    for (size_t i = 0; i < used && st == RT_OK; i++) {
        def_doc *d = &defs[i];
        const char *doc = docs[d->doc].id;
        doc_split[d->doc] = i < n_test ? 't' : 'r';
        if (i < n_test) {
            st = add_question(set, &cap, "q", ++num, 0, d->term, d->sentence, d->clause, doc,
                              "test", NULL);
            continue;
        }
        for (int ph = 0; ph < (p->paraphrases ? RT_QA_N_PHRASINGS : 1) && st == RT_OK; ph++)
            st = add_question(set, &cap, "q", ++num, ph, d->term, d->sentence, d->clause, doc,
                              "train", NULL);
    }
    /* the update split: the first n_update test documents get a synthetic definition */
    for (size_t i = 0; i < n_update && st == RT_OK; i++) {
        def_doc *d = &defs[i];
        const char *maker = makers[rt_rng_next(&rng) % (sizeof makers / sizeof *makers)];
        const char *prod = products[rt_rng_next(&rng) % (sizeof products / sizeof *products)];
        int year = 2031 + (int)(rt_rng_next(&rng) % 9);
        char sent[256];
        snprintf(sent, sizeof sent, "A proprietary %s released by %s in %d.", prod, maker, year);
        st = add_question(set, &cap, "u", i + 1, 0, d->term, sent, maker, docs[d->doc].id, "update",
                          d->sentence);
        if (st != RT_OK) break;
        /* the new version: the title, the new definition, the old text after its first
         * paragraph (details that no longer define it) */
        const char *text = docs[d->doc].text, *nl = strchr(text, '\n');
        const char *body = nl;
        while (*body && isspace((unsigned char)*body))
            body++;
        const char *rest = strchr(body, '\n');
        rt_strbuf nt = {0};
        int s2 = rt_strbuf_append(&nt, text, (size_t)(nl - text));
        if (!s2) s2 = rt_strbuf_printf(&nt, "\n\n%s%s", sent, rest ? rest : "");
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(docs[d->doc].id));
        json_object_set_new(o, "text", json_string(nt.data ? nt.data : ""));
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        rt_strbuf_free(&nt);
        if (s2 || !line || rt_strbuf_printf(&upd, "%s\n", line)) st = RT_ERR_NOMEM;
        free(line);
    }
    /* cloze questions from every document, in its split */
    size_t n_cloze = 0;
    for (size_t i = 0; i < n_docs && st == RT_OK && p->cloze_per_doc; i++) {
        const char *split = doc_split[i] == 't' ? "test"
                            : doc_split[i] == 'r'
                                ? "train"
                                : drawn_split(docs[i].id, p->seed, p->test_fraction);
        adder ad = {set, &cap, docs[i].id, split, "cloze", &n_cloze, "c"};
        st = rt_cloze_document(docs[i].text, p->cloze_per_doc, add_pair, &ad);
    }
    if (st == RT_OK && p->session) st = model_questions(c, p, docs, n_docs, doc_split, set, &cap);
    if (st == RT_OK && set->n == 0) {
        st =
            rt_error(RT_ERR_FORMAT, "qa generate: no question could be made from %zu document(s)%s",
                     n_docs, set->n_model_asked ? " (every model-written answer was dropped)" : "");
        goto done;
    }
    /* unanswerable questions: words that occur nowhere in the collection */
    size_t n_test_q = 0;
    for (size_t i = 0; i < set->n; i++)
        n_test_q += !strcmp(set->items[i].split, "test");
    size_t n_unans = p->n_unanswerable == (size_t)-1 ? (n_test_q + 9) / 10 : p->n_unanswerable;
    if (st == RT_OK && p->wordlist_path && n_unans) {
        st = load_words(p->wordlist_path, &words, &n_words);
        if (st == RT_OK && !(corpus = corpus_lower(docs, n_docs, &corpus_len)))
            st = rt_error(RT_ERR_NOMEM, "qa generate: out of memory");
        size_t made = 0;
        for (size_t tries = 0; st == RT_OK && made < n_unans && tries < 50 * n_unans; tries++) {
            const char *w = words[rt_rng_next(&rng) % n_words];
            if (occurs_word(corpus, corpus_len, w)) continue;
            bool dup = false;
            for (size_t j = set->n; j-- > 0 && !dup;)
                dup = set->items[j].unanswerable && strstr(set->items[j].question, w);
            if (dup) continue;
            st = add_question(set, &cap, "n", ++made, 0, w, NULL, NULL, NULL, "test", NULL);
        }
        if (st == RT_OK && made < n_unans)
            rt_log_warn("qa generate: only %zu of %zu unanswerable questions (few absent words)",
                        made, n_unans);
    }
    if (st == RT_OK && p->update_docs_path)
        st = rt_file_write_atomic(p->update_docs_path, upd.data ? upd.data : "", upd.len);
done:
    rt_strbuf_free(&upd);
    for (size_t i = 0; i < n_words; i++)
        free(words[i]);
    free(words);
    free(corpus);
    for (size_t i = 0; defs && i < n_defs; i++) {
        free(defs[i].term);
        free(defs[i].sentence);
        free(defs[i].clause);
    }
    free(defs);
    free(doc_split);
    rt_qa_docs_free(docs, n_docs);
    if (st != RT_OK) {
        rt_qa_free(set);
        return st;
    }
    *out = set;
    return RT_OK;
}
