/*
 * cmd_qa.c — `ragtune qa generate COLLECTION -o qa.jsonl`: a QA set with ground truth written
 * from the collection's definition documents (template questions, paraphrases for training,
 * unanswerable questions from a word list, an update split), cloze questions from any
 * document, and questions written by a local or remote model (kept when the answer is in the
 * chunk), and `ragtune qa check QA
 * --collection C`: reads a QA set and reports malformed lines and missing evidence.
 */
#include "cli.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *usage =
    "usage: ragtune qa generate COLLECTION -o QA.jsonl [options]\n"
    "       ragtune qa check QA.jsonl [--collection COLLECTION]\n"
    "generate (template questions from definition documents: a title line, then the text;\n"
    "cloze and model-written questions from any document):\n"
    "  -o, --out PATH          the QA set to write (JSONL)\n"
    "  --test-fraction F       documents whose questions are test questions (default 0.2)\n"
    "  --max-docs N            use at most N documents, chosen by seed (default all)\n"
    "  --no-paraphrases        only \"What is T?\" in the train split\n"
    "  --unanswerable N        questions about absent words (default 10% of test)\n"
    "  --wordlist PATH         words for those (one per line or a dictd .index; default\n"
    "                          /usr/share/dict/words, else /usr/share/dictd/gcide.index)\n"
    "  --update-docs PATH      write changed versions of some test documents here and add\n"
    "                          an \"update\" split with the changed answers\n"
    "  --update-fraction F     test documents that change (default 0.25)\n"
    "  --seed N                split, sampling and edits (default 1)\n"
    "  --kinds LIST            template,cloze,model (default: template, plus cloze with\n"
    "                          --cloze and model with --model or --api-base)\n"
    "  --cloze N               cloze questions per document (default 0; 1 with --kinds\n"
    "                          cloze): a salient entity, number or noun phrase blanked\n"
    "  --model PATH            model-written questions, one per chunk, kept when the answer\n"
    "                          occurs in the chunk (a local GGUF or HF model) ...\n"
    "  --api-base URL          ... or an OpenAI-compatible server, with --api-model NAME\n"
    "  --max-chunks N          chunks the model is asked about at most (default all)\n"
    "  --ctx N                 the local model's context (default: the model's, at most\n"
    "                          4096); a chunk whose prompt does not fit is skipped\n"
    "  --json                  print the counts as JSON\n";

static int cmd_qa_check(int argc, char **argv) {
    const char *qa = NULL, *coll = NULL;
    const cli_opt opts[] = {CLI_STR("--collection", coll), CLI_OPT_END};
    int n_pos;
    if (cli_opt_parse_positional("qa", opts, argc, argv, 1, &qa, 1, &n_pos) != CLI_OK)
        return CLI_USAGE;
    if (!qa) return cli_usage_error("qa", "check needs a QA file");
    rt_qa_set *set;
    if (rt_qa_load(qa, &set) != RT_OK) return cli_runtime_error("qa");
    rt_collection *c = NULL;
    if (coll) {
        rt_collection_params cp = rt_collection_default_params();
        cp.create = false;
        cp.read_only = true;
        if (rt_collection_open(coll, &cp, &c) != RT_OK || rt_qa_check_docs(set, c) != RT_OK) {
            if (c) rt_collection_close(c);
            rt_qa_free(set);
            return cli_runtime_error("qa");
        }
        rt_collection_close(c);
    }
    size_t split[4] = {0}, unans = 0;
    for (size_t i = 0; i < set->n; i++) {
        const char *s = set->items[i].split;
        split[!strcmp(s, "train") ? 0 : !strcmp(s, "test") ? 1 : !strcmp(s, "update") ? 2 : 3]++;
        unans += set->items[i].unanswerable;
    }
    printf("%zu questions: %zu train, %zu test, %zu update, %zu unsplit; %zu unanswerable; "
           "%zu malformed line(s) skipped",
           set->n, split[0], split[1], split[2], split[3], unans, set->n_skipped);
    if (coll) printf("; %zu with evidence missing from the collection", set->n_doc_missing);
    printf("\n");
    if (set->skipped) fputs(set->skipped, stdout);
    rt_qa_free(set);
    return CLI_OK;
}

int cmd_qa(int argc, char **argv) {
    if (cli_wants_help(argc, argv) || argc < 2) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "check")) return cmd_qa_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "generate"))
        return cli_usage_error("qa", "unknown subcommand '%s' (generate, check)", argv[1]);
    rt_qa_generate_params gp = rt_qa_generate_default_params();
    const char *coll = NULL, *out = NULL;
    bool json = false, have_wordlist = false, kinds_set = false;
    bool k_template = true, k_cloze = false, k_model = false;
    const char *model = NULL, *api_base = NULL, *api_model = NULL;
    int n_ctx = 0;
    const char *kinds = NULL;
    long long ctx = 0;
    const cli_opt opts[] = {
        CLI_STR("-o", out),
        CLI_STR("--out", out),
        CLI_FLOAT_IN("--test-fraction", gp.test_fraction, 0, 1),
        CLI_FLOAT_IN("--update-fraction", gp.update_fraction, 0, 1),
        CLI_INT("--max-docs", gp.max_docs, 0, 100000000),
        CLI_INT("--unanswerable", gp.n_unanswerable, 0, 100000000),
        CLI_FLAG("--no-paraphrases", gp.paraphrases, false),
        CLI_STR("--wordlist", gp.wordlist_path),
        CLI_STR("--update-docs", gp.update_docs_path),
        CLI_INT("--seed", gp.seed, 0, INT64_MAX),
        CLI_FLAG("--json", json, true),
        CLI_STR("--model", model),
        CLI_STR("--api-base", api_base),
        CLI_STR("--api-model", api_model),
        CLI_INT("--ctx", ctx, 16, 1 << 20),
        CLI_INT("--cloze", gp.cloze_per_doc, 0, 1000000),
        CLI_INT("--max-chunks", gp.model_max_chunks, 0, 1000000),
        CLI_STR("--kinds", kinds),
        CLI_OPT_END,
    };
    int n_pos;
    if (cli_opt_parse_positional("qa", opts, argc, argv, 2, &coll, 1, &n_pos) != CLI_OK)
        return CLI_USAGE;
    n_ctx = (int)ctx;
    have_wordlist = gp.wordlist_path != NULL;
    /* fractions of documents: neither none nor all */
    if (gp.test_fraction <= 0 || gp.test_fraction >= 1 || gp.update_fraction <= 0 ||
        gp.update_fraction >= 1)
        return cli_usage_error("qa", "--test-fraction and --update-fraction must be in (0, 1)");
    if (kinds) {
        kinds_set = true;
        k_template = k_cloze = k_model = false;
        char buf[128];
        snprintf(buf, sizeof buf, "%s", kinds);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            if (!strcmp(t, "template"))
                k_template = true;
            else if (!strcmp(t, "cloze"))
                k_cloze = true;
            else if (!strcmp(t, "model"))
                k_model = true;
            else
                return cli_usage_error("qa", "unknown kind '%s' (template, cloze, model)", t);
        }
    }
    if (!coll || !out) return cli_usage_error("qa", "generate needs COLLECTION and -o PATH");
    if (model && api_base)
        return cli_usage_error("qa", "--model and --api-base exclude each other");
    if (api_base && !api_model) return cli_usage_error("qa", "--api-base needs --api-model");
    if (!kinds_set) {
        k_cloze = gp.cloze_per_doc > 0;
        k_model = model || api_base;
    }
    if (k_model && !model && !api_base)
        return cli_usage_error("qa", "--kinds model needs --model or --api-base");
    if (!k_model && (model || api_base))
        return cli_usage_error("qa", "--model/--api-base given but --kinds has no model");
    gp.templates = k_template;
    if (!k_cloze)
        gp.cloze_per_doc = 0;
    else if (!gp.cloze_per_doc)
        gp.cloze_per_doc = 1;
    if (!have_wordlist) {
        static const char *const lists[] = {"/usr/share/dict/words",
                                            "/usr/share/dictd/gcide.index"};
        for (size_t i = 0; i < 2 && !gp.wordlist_path; i++)
            if (access(lists[i], R_OK) == 0) gp.wordlist_path = lists[i];
    }
    rt_collection_params cp = rt_collection_default_params();
    cp.create = false;
    cp.read_only = true;
    rt_collection *c;
    if (rt_collection_open(coll, &cp, &c) != RT_OK) return cli_runtime_error("qa");
    rt_session *session = NULL;
    if (k_model) {
        rt_session_params sp = rt_session_default_params();
        sp.model_path = model;
        sp.api_base = api_base;
        sp.api_model = api_model;
        sp.n_ctx = n_ctx;
        if (rt_session_open(&sp, &session) != RT_OK) {
            rt_collection_close(c);
            return cli_runtime_error("qa");
        }
        gp.session = session;
    }
    rt_qa_set *set = NULL;
    int st = rt_qa_generate(c, &gp, &set);
    rt_session_close(session);
    rt_collection_close(c);
    if (st != RT_OK || rt_qa_save(set, out) != RT_OK) {
        rt_qa_free(set);
        return cli_runtime_error("qa");
    }
    size_t split[3] = {0}, unans = 0, n_cloze = 0, n_model = 0;
    for (size_t i = 0; i < set->n; i++) {
        const char *s = set->items[i].split;
        split[!strcmp(s, "train") ? 0 : !strcmp(s, "test") ? 1 : 2]++;
        unans += set->items[i].unanswerable;
        n_cloze += !strcmp(set->items[i].kind, "cloze");
        n_model += !strcmp(set->items[i].kind, "model");
    }
    if (json)
        printf("{\"questions\":%zu,\"train\":%zu,\"test\":%zu,\"update\":%zu,"
               "\"unanswerable\":%zu,\"cloze\":%zu,\"model\":%zu,\"model_asked\":%zu,"
               "\"model_dropped\":%zu}\n",
               set->n, split[0], split[1], split[2], unans, n_cloze, n_model, set->n_model_asked,
               set->n_model_dropped);
    else
        printf(
            "%s: %zu questions (%zu train, %zu test of which %zu unanswerable, %zu update)%s%s\n",
            out, set->n, split[0], split[1], unans, split[2],
            gp.update_docs_path ? "; changed documents in " : "",
            gp.update_docs_path ? gp.update_docs_path : "");
    if (!json && (n_cloze || k_model))
        printf("%zu cloze, %zu model-written (%zu chunks asked, %zu dropped: answer not in the "
               "chunk or no question)\n",
               n_cloze, n_model, set->n_model_asked, set->n_model_dropped);
    if (!gp.wordlist_path) fprintf(stderr, "ragtune qa: no word list: no unanswerable questions\n");
    rt_qa_free(set);
    return CLI_OK;
}
