/*
 * cmd_ask.c — `ragtune ask COLLECTION QUESTION` (or --file QUESTIONS.jsonl): answers from the
 * collection's documents with numbered sources and citations (rt_ask). The terminal gets the
 * streamed answer, then the sources and any unsupported sentences; --json (and --file, one line
 * per question) the whole record. --sources FILE answers from the given passages instead of a
 * collection, and --answer checks a given answer against them (attribution, support,
 * groundedness) without a model.
 */
#include "ask_opts.h"
#include "cli.h"
#include "opts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: ragtune ask COLLECTION QUESTION [options]\n"
    "       ragtune ask COLLECTION --file QUESTIONS.jsonl [options]\n"
    "       ragtune ask --sources SOURCES.jsonl QUESTION [--answer TEXT] [options]\n"
    "\n"
    "Retrieves sources from the collection, asks the reader model to answer from them with\n"
    "citations [n], and checks each sentence against the sources. Abstains (\"" RT_RAG_ABSTAIN_TEXT
    "\")\n"
    "when nothing relevant is found or the model says so.\n"
    "\n"
    "options:\n"
    "  --file PATH           questions, one JSON object {\"id\",\"question\"} per line; prints "
    "one\n"
    "                        JSON record (with \"id\") per line\n"
    "  --sources PATH        answer from these passages instead of a collection: one JSON\n"
    "                        object {\"text\", \"title\" (optional)} per line, numbered [1]..[n]\n"
    "  --answer TEXT         with --sources: do not generate; check this answer (citations,\n"
    "                        attribution, support per sentence, groundedness)\n";

/* Prints r as one JSON line; id (may be NULL) is added first. */
static int print_json(const rt_ask_result *r, const char *id) {
    char *js;
    if (rt_ask_result_json(r, &js) != RT_OK) return -1;
    if (id) {
        json_t *o = json_loads(js, 0, NULL);
        free(js);
        js = NULL;
        if (o) {
            json_t *w = json_object();
            json_object_set_new(w, "id", json_string(id));
            json_object_update(w, o);
            js = json_dumps(w, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
            json_decref(w);
            json_decref(o);
        }
        if (!js) return -1;
    }
    puts(js);
    fflush(stdout);
    free(js);
    return 0;
}

#define MAX_SOURCES 1000

/* Reads a --sources file into titles/texts (malloc'd strings) and the rt_rag_source array. */
/* Calls fn(o, lineno, arg) for the JSON object of each non-blank line of the JSONL file path,
 * until fn returns other than CLI_OK. A line that does not parse: "path:N: expected SHAPE: why";
 * fn reports its own shape errors with the same wording (expect_error). `what`: "sources". */
typedef int (*jsonl_fn)(json_t *o, const char *path, size_t lineno, void *arg);

static int expect_error(const char *path, size_t lineno, const char *shape, const char *why) {
    fprintf(stderr, "ragtune ask: %s:%zu: expected %s%s%s\n", path, lineno, shape, why ? ": " : "",
            why ? why : "");
    return CLI_RUNTIME;
}

static int each_jsonl(const char *path, const char *what, const char *shape, jsonl_fn fn,
                      void *arg) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ragtune ask: %s: cannot open the %s file\n", path, what);
        return CLI_RUNTIME;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int rc = CLI_OK;
    while (rc == CLI_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        if (!line[strspn(line, " \t\r\n")]) continue;
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        rc = o ? fn(o, path, lineno, arg) : expect_error(path, lineno, shape, err.text);
        json_decref(o);
    }
    if (rc == CLI_OK && ferror(f)) {
        fprintf(stderr, "ragtune ask: %s: read error\n", path);
        rc = CLI_RUNTIME;
    }
    free(line);
    fclose(f);
    return rc;
}

#define SOURCE_SHAPE "{\"text\": string, \"title\": string}"

typedef struct source_list {
    rt_rag_source *a;
    size_t n;
} source_list;

static int add_source(json_t *o, const char *path, size_t lineno, void *arg) {
    source_list *l = arg;
    json_t *tv = json_object_get(o, "text"), *hv = json_object_get(o, "title");
    if (!json_is_string(tv) || (hv && !json_is_string(hv) && !json_is_null(hv)))
        return expect_error(path, lineno, SOURCE_SHAPE, NULL);
    if (l->n == MAX_SOURCES) {
        fprintf(stderr, "ragtune ask: %s:%zu: more than %d sources\n", path, lineno, MAX_SOURCES);
        return CLI_RUNTIME;
    }
    rt_rag_source *s = &l->a[l->n++];
    s->text_len = json_string_length(tv);
    char *text = malloc(s->text_len + 1);
    if (text) memcpy(text, json_string_value(tv), s->text_len + 1);
    s->text = text;
    s->title = strdup(json_is_string(hv) ? json_string_value(hv) : "");
    return s->text && s->title ? CLI_OK : cli_runtime_error("ask");
}

static int read_sources(const char *path, rt_rag_source **out, size_t *n) {
    source_list l = {calloc(MAX_SOURCES, sizeof *l.a), 0};
    int rc =
        l.a ? each_jsonl(path, "sources", SOURCE_SHAPE, add_source, &l) : cli_runtime_error("ask");
    *out = l.a;
    *n = l.n;
    return rc;
}

static void free_sources(rt_rag_source *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free((char *)src[i].text);
        free((char *)src[i].title);
    }
    free(src);
}

/* Prints r for the terminal: the answer (unless it was streamed), sources, notes, timings. */
static void print_human(const rt_ask_result *r, bool streamed) {
    if (!streamed) printf("%s", r->answer);
    printf("\n");
    /* the stream showed the model's markers: show the answer as checked when they changed */
    if (streamed && (r->n_recitations || r->n_invalid_markers))
        printf("\nWith checked citations: %s\n", r->answer);
    ask_print_result(r);
    fflush(stdout); /* the answer and sources before the timing line on stderr */
    const rt_session_result *g = &r->gen;
    if (!streamed) return; /* nothing was generated */
    fprintf(stderr,
            "retrieval %.1f ms, prompt %d tokens (%d cached), %d generated, ttft %.0f ms, "
            "total %.0f ms\n",
            r->retrieval_ms, g->n_prompt, g->n_prompt_cached, g->n_generated, g->ttft_seconds * 1e3,
            r->total_ms);
}

/* `ask --sources FILE QUESTION [--answer TEXT]`. */
static int ask_given_sources(ask_setup *a, const char *path, const char *question,
                             const char *answer) {
    rt_rag_source *src;
    size_t n;
    int rc = read_sources(path, &src, &n);
    if (rc == CLI_OK) rc = ask_open_sources(a, answer == NULL);
    if (rc == CLI_OK) {
        if (!a->json && !answer) a->ap.on_text = ask_stream_text;
        rt_ask_result *r;
        if (rt_ask_sources(a->session, question, src, n, answer, &a->ap, &r) != RT_OK) {
            rc = cli_runtime_error("ask");
        } else {
            if (a->json) {
                if (print_json(r, NULL)) rc = cli_runtime_error("ask");
            } else {
                print_human(r, answer == NULL);
            }
            rt_ask_result_free(r);
        }
    }
    free_sources(src, n);
    ask_close(a);
    return rc;
}

typedef struct question {
    char *id, *text;
} question;

#define QUESTION_SHAPE "{\"id\", \"question\"}"

typedef struct question_list {
    question *a;
    size_t n, cap;
} question_list;

static int add_question(json_t *o, const char *path, size_t lineno, void *arg) {
    question_list *l = arg;
    const char *qt = json_string_value(json_object_get(o, "question"));
    json_t *idv = json_object_get(o, "id");
    if (!qt || !*qt) return expect_error(path, lineno, QUESTION_SHAPE, NULL);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        question *grown = realloc(l->a, cap * sizeof *grown);
        if (!grown) return cli_runtime_error("ask");
        l->a = grown;
        l->cap = cap;
    }
    char idbuf[32];
    const char *id = json_string_value(idv);
    if (!id && json_is_integer(idv)) {
        snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(idv));
        id = idbuf;
    }
    if (!id) {
        snprintf(idbuf, sizeof idbuf, "%zu", lineno);
        id = idbuf;
    }
    question *q = &l->a[l->n++];
    q->id = strdup(id);
    q->text = strdup(qt);
    return q->id && q->text ? CLI_OK : cli_runtime_error("ask");
}

/* Reads and checks every line of a questions file before anything runs. */
static int read_questions(const char *path, question **out, size_t *n) {
    question_list l = {0};
    int rc = each_jsonl(path, "questions", QUESTION_SHAPE, add_question, &l);
    *out = l.a;
    *n = l.n;
    return rc;
}

int cmd_ask(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        fputs(ask_options_help, stdout);
        return CLI_OK;
    }
    ask_setup a;
    ask_setup_init(&a, "ask");
    const char *coll = NULL, *qtext = NULL, *file = NULL, *sources = NULL, *answer = NULL;
    for (int i = 1; i < argc; i++) {
        int r = ask_parse_option(&a, argc, argv, &i);
        if (r == CLI_USAGE) return CLI_USAGE;
        if (r == 1) continue;
        const char *o = argv[i];
        if (!strcmp(o, "--file")) {
            if (i + 1 >= argc) return cli_usage_error("ask", "--file needs a value");
            file = argv[++i];
        } else if (!strcmp(o, "--sources") || !strcmp(o, "--answer")) {
            if (i + 1 >= argc) return cli_usage_error("ask", "%s needs a value", o);
            *(o[2] == 's' ? &sources : &answer) = argv[++i];
        } else if (cli_opt_unknown("ask", o)) {
            return CLI_USAGE;
        } else if (!coll) {
            coll = o;
        } else if (!qtext) {
            qtext = o;
        } else {
            return cli_usage_error("ask", "unexpected argument '%s'", o);
        }
    }
    if (sources) {
        /* the one positional argument is the question */
        if (!coll || qtext || file)
            return cli_usage_error("ask",
                                   "--sources takes one QUESTION (no COLLECTION, no --file)");
        return ask_given_sources(&a, sources, coll, answer);
    }
    if (answer) return cli_usage_error("ask", "--answer needs --sources");
    if (!coll || (!qtext && !file) || (qtext && file))
        return cli_usage_error("ask", "need COLLECTION and a QUESTION or --file");
    question *qs = NULL;
    size_t nq = 0;
    if (file) {
        int rc = read_questions(file, &qs, &nq);
        if (rc != CLI_OK) {
            for (size_t i = 0; i < nq; i++)
                free(qs[i].id), free(qs[i].text);
            free(qs);
            return rc;
        }
    }
    int rc = ask_open(&a, coll);
    /* a.served: a shard under mpirun, whose searches rank 0 asked for */
    if (rc == CLI_OK && qtext && !a.served) {
        if (!a.json) {
            a.ap.on_text = ask_stream_text;
        }
        rt_ask_result *r;
        if (rt_ask(a.session, a.coll, qtext, &a.ap, &r) != RT_OK) {
            rc = cli_runtime_error("ask");
        } else {
            if (a.json) {
                if (print_json(r, NULL)) rc = cli_runtime_error("ask");
            } else {
                print_human(r, true);
            }
            rt_ask_result_free(r);
        }
    }
    for (size_t i = 0; rc == CLI_OK && !a.served && i < nq; i++) {
        rt_ask_result *r;
        if (rt_ask(a.session, a.coll, qs[i].text, &a.ap, &r) != RT_OK) {
            fprintf(stderr, "ragtune ask: question %s: %s\n", qs[i].id, rt_last_error());
            rc = CLI_RUNTIME;
            break;
        }
        if (print_json(r, qs[i].id)) rc = cli_runtime_error("ask");
        rt_ask_result_free(r);
    }
    for (size_t i = 0; i < nq; i++)
        free(qs[i].id), free(qs[i].text);
    free(qs);
    ask_close(&a);
    return rc;
}
