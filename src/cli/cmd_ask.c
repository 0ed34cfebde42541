/*
 * cmd_ask.c — `ragtune ask COLLECTION QUESTION` (or --file QUESTIONS.jsonl): answers from the
 * collection's documents with numbered sources and citations (rt_ask). The terminal gets the
 * streamed answer, then the sources and any unsupported sentences; --json (and --file, one line
 * per question) the whole record.
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
    "\n"
    "Retrieves sources from the collection, asks the reader model to answer from them with\n"
    "citations [n], and checks each sentence against the sources. Abstains (\"" RT_RAG_ABSTAIN_TEXT
    "\")\n"
    "when nothing relevant is found or the model says so.\n"
    "\n"
    "options:\n"
    "  --file PATH           questions, one JSON object {\"id\",\"question\"} per line; prints "
    "one\n"
    "                        JSON record (with \"id\") per line\n";

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

typedef struct question {
    char *id, *text;
} question;

/* Reads and checks every line of a questions file before anything runs. */
static int read_questions(const char *path, question **out, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ragtune ask: %s: cannot open the questions file\n", path);
        return CLI_RUNTIME;
    }
    char *line = NULL;
    size_t cap = 0, count = 0, qcap = 0, lineno = 0;
    ssize_t got;
    question *q = NULL;
    int rc = CLI_OK;
    while (rc == CLI_OK && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t s = 0;
        while (line[s] == ' ' || line[s] == '\t' || line[s] == '\r' || line[s] == '\n')
            s++;
        if (!line[s]) continue;
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        const char *qt = json_string_value(json_object_get(o, "question"));
        json_t *idv = json_object_get(o, "id");
        if (!o || !qt || !*qt) {
            fprintf(stderr, "ragtune ask: %s:%zu: expected {\"id\", \"question\"}%s%s\n", path,
                    lineno, o ? "" : ": ", o ? "" : err.text);
            rc = CLI_RUNTIME;
        } else {
            if (count == qcap) {
                qcap = qcap ? qcap * 2 : 16;
                q = realloc(q, qcap * sizeof *q);
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
            q[count].id = strdup(id);
            q[count].text = strdup(qt);
            count++;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    *out = q;
    *n = count;
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
    const char *coll = NULL, *qtext = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        int r = ask_parse_option(&a, argc, argv, &i);
        if (r == CLI_USAGE) return CLI_USAGE;
        if (r == 1) continue;
        const char *o = argv[i];
        if (!strcmp(o, "--file")) {
            if (i + 1 >= argc) return cli_usage_error("ask", "--file needs a value");
            file = argv[++i];
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
                printf("\n");
                ask_print_result(r);
                fflush(stdout); /* the answer and sources before the timing line on stderr */
                const rt_session_result *g = &r->gen;
                fprintf(stderr,
                        "retrieval %.1f ms, prompt %d tokens (%d cached), %d generated, "
                        "ttft %.0f ms, total %.0f ms\n",
                        r->retrieval_ms, g->n_prompt, g->n_prompt_cached, g->n_generated,
                        g->ttft_seconds * 1e3, r->total_ms);
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
