/*
 * cmd_raft_data.c — `ragtune raft-data --qa QA.jsonl --docs DOCS.jsonl -o OUT.jsonl`: builds
 * reader (RAFT) training data in the shared reader prompt format (rt_raft_data_write).
 */
#include "cli.h"
#include "opts.h"

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
    bool chat = false;
    const cli_opt opts[] = {
        CLI_STR("--qa", qa),
        CLI_STR("--docs", docs),
        CLI_STR("-o", out),
        CLI_STR("--output", out),
        CLI_STR("--collection", coll),
        CLI_STR("--template", p.template_text),
        CLI_INT("--distractors", p.n_distractors, 0, 64),
        CLI_INT("--near", p.near, 0, 1 << 20),
        CLI_INT("--seed", p.seed, 0, (long long)1 << 62),
        CLI_FLOAT_IN("--oracle-p", p.oracle_p, 0, 1),
        CLI_FLAG("--chat", chat, true),
        CLI_OPT_END,
    };
    if (cli_opt_parse_all("raft-data", opts, argc, argv) != CLI_OK) return CLI_USAGE;
    if (chat) p.style = RT_RAG_PROMPT_CHAT;
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
