/*
 * cmd_chat.c — `ragtune chat COLLECTION`: questions read line by line from stdin, each answered
 * from the collection (rt_ask) with its sources. A follow-up ("what does it do?") is retrieved
 * with the previous retrieval query's key words (rt_rag_condense_question; the rule is in
 * src/rag/condense.c); the reader itself sees the question as typed. Lines: "/reset" forgets
 * the conversation, "/quit" (or end of input) ends it.
 */
#include "ask_opts.h"
#include "cli.h"
#include "opts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: ragtune chat COLLECTION [options]\n"
    "\n"
    "Answers questions typed on stdin, one per line, from the collection, with sources.\n"
    "Follow-up questions are retrieved together with the previous question's key words.\n"
    "/reset forgets the conversation; /quit or end of input ends it. With --json each answer is\n"
    "one JSON record per line (with \"retrieval_query\").\n"
    "\n"
    "options:\n";

int cmd_chat(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        fputs(ask_options_help, stdout);
        return CLI_OK;
    }
    ask_setup a;
    ask_setup_init(&a, "chat");
    const char *coll = NULL;
    for (int i = 1; i < argc; i++) {
        int r = ask_parse_option(&a, argc, argv, &i);
        if (r == CLI_USAGE) return CLI_USAGE;
        if (r == 1) continue;
        if (cli_opt_unknown("chat", argv[i])) return CLI_USAGE;
        if (coll) return cli_usage_error("chat", "unexpected argument '%s'", argv[i]);
        coll = argv[i];
    }
    if (!coll) return cli_usage_error("chat", "need COLLECTION");
    int rc = ask_open(&a, coll);
    bool tty = isatty(0) && isatty(1);
    char *line = NULL, *previous = NULL;
    size_t cap = 0;
    if (!a.json) a.ap.on_text = ask_stream_text;
    while (rc == CLI_OK) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        ssize_t got = getline(&line, &cap, stdin);
        if (got < 0) break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        char *q = line;
        while (*q == ' ' || *q == '\t')
            q++;
        if (!*q) continue;
        if (!strcmp(q, "/quit") || !strcmp(q, "/exit")) break;
        if (!strcmp(q, "/reset")) {
            free(previous);
            previous = NULL;
            continue;
        }
        char *query;
        if (rt_rag_condense_question(previous, q, &query) != RT_OK) {
            rc = cli_runtime_error("chat");
            break;
        }
        a.ap.retrieval_query = query;
        rt_ask_result *r;
        if (rt_ask(a.session, a.coll, q, &a.ap, &r) != RT_OK) {
            /* one bad question (e.g. too long) does not end the conversation */
            fprintf(stderr, "ragtune chat: %s\n", rt_last_error());
            free(query);
            if (!tty) rc = CLI_RUNTIME;
            continue;
        }
        if (a.json) {
            char *js;
            json_t *o = NULL;
            if (rt_ask_result_json(r, &js) == RT_OK) {
                o = json_loads(js, 0, NULL);
                free(js);
            }
            js = NULL;
            if (o) {
                json_object_set_new(o, "retrieval_query", json_string(query));
                js = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
                json_decref(o);
            }
            if (js) {
                puts(js);
                fflush(stdout);
                free(js);
            } else {
                rc = cli_runtime_error("chat");
            }
        } else {
            printf("\n");
            ask_print_result(r);
            if (strcmp(query, q)) printf("(retrieved with: %s)\n", query);
            printf("\n");
        }
        rt_ask_result_free(r);
        free(previous);
        previous = query;
    }
    free(line);
    free(previous);
    ask_close(&a);
    return rc;
}
