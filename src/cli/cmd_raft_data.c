/*
 * cmd_raft_data.c — `ragtune raft-data --qa QA.jsonl --docs DOCS.jsonl -o OUT.jsonl`: builds
 * reader (RAFT) training data in the shared reader prompt format (rt_raft_data_write).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage_text[] =
    "usage: ragtune raft-data --qa QA.jsonl --docs DOCS.jsonl -o OUT.jsonl [options]\n\n"
    "Builds reader / RAFT training data: each question {\"id\",\"question\",\"answer\",\"doc\"}\n"
    "gets a prompt in the reader format that `ask` uses, with its oracle document\n"
    "{\"id\",\"title\",\"text\"} among distractor passages, and the completion \" answer [n]\"\n"
    "(n = the oracle's position) or, when the oracle is left out, the abstain text.\n"
    "Writes {\"prompt\",\"completion\"} JSONL (or chat {\"messages\"} with --chat), the format\n"
    "`ragtune train` and `ragtune finetune` read with the loss on the completion.\n\n"
    "  --distractors N     distractor passages beside the oracle (default 3)\n"
    "  --oracle-p F        probability the oracle is among the passages (default 0.8)\n"
    "  --near N            distractors from the documents within +-N positions of the oracle\n"
    "                      in DOCS order (neighbouring entries), else uniform (default 0)\n"
    "  --collection DIR    BM25 hits for the question are the distractors first (hard negatives)\n"
    "  --chat              write chat messages (system + user + assistant)\n"
    "  --template TEXT     prompt layout with {instructions}, {sources}, {question}\n"
    "  --seed N            random seed (default 42)\n";

int cmd_raft_data(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    const char *qa = NULL, *docs = NULL, *out = NULL, *coll = NULL;
    rt_raft_params p = rt_raft_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        double f;
        if (!strcmp(a, "--chat")) {
            p.style = RT_RAG_PROMPT_CHAT;
            continue;
        }
        if (!v) return cli_usage_error("raft-data", "unknown option or missing value: %s", a);
        i++;
        if (!strcmp(a, "--qa")) qa = v;
        else if (!strcmp(a, "--docs")) docs = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--collection")) coll = v;
        else if (!strcmp(a, "--template")) p.template_text = v;
        else if (!strcmp(a, "--distractors")) {
            if (!cli_parse_int(v, 0, 64, &n))
                return cli_usage_error("raft-data", "--distractors must be 0..64");
            p.n_distractors = (int)n;
        } else if (!strcmp(a, "--near")) {
            if (!cli_parse_int(v, 0, 1 << 20, &n))
                return cli_usage_error("raft-data", "--near must be >= 0");
            p.near = (int)n;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_int(v, 0, (long long)1 << 62, &n))
                return cli_usage_error("raft-data", "bad value for --seed");
            p.seed = (uint64_t)n;
        } else if (!strcmp(a, "--oracle-p")) {
            if (!cli_parse_float(v, &f) || !(f >= 0 && f <= 1))
                return cli_usage_error("raft-data", "--oracle-p must be in [0, 1]");
            p.oracle_p = (float)f;
        } else {
            return cli_usage_error("raft-data", "unknown option %s", a);
        }
    }
    if (!qa || !docs || !out) return cli_usage_error("raft-data", "--qa, --docs and -o are required");
    rt_collection *c = NULL;
    if (coll) {
        rt_collection_params cp = rt_collection_default_params();
        cp.create = false;
        if (rt_collection_open(coll, &cp, &c) != RT_OK) return cli_runtime_error("raft-data");
        p.collection = c;
    }
    size_t n_written = 0;
    int st = rt_raft_data_write(qa, docs, out, &p, &n_written);
    if (st != RT_OK) {
        cli_runtime_error("raft-data");
        if (c) rt_collection_close(c);
        return CLI_RUNTIME;
    }
    if (c && rt_collection_close(c) != RT_OK) return cli_runtime_error("raft-data");
    fprintf(stderr, "raft-data: %zu examples -> %s\n", n_written, out);
    return CLI_OK;
}
