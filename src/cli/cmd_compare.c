/*
 * cmd_compare.c — `ragtune compare`: every strategy on the same test questions, measured side
 * by side; writes OUT/report.{json,md,html} and prints the table and the recommendation.
 * Also the option parser of `ragtune eval` (one strategy). Under mpirun the processes share the
 * work (rt_compare_run) and rank 0 alone writes the reports and prints.
 */
#include "cli.h"
#include "compare_opts.h"
#include "interrupt.h"
#include "opts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *usage_compare =
    "usage: ragtune compare --collection C --qa QA.jsonl --model M --out DIR [options]\n";
static const char *usage_eval =
    "usage: ragtune eval --collection C --qa QA.jsonl --model M [--adapter A] [--rag] "
    "[--out DIR] [options]\n";
static const char *usage_options =
    "  --strategies LIST       base,rag,ft,lora,ft+rag,lora+rag,raft (compare; default\n"
    "                          base,rag,lora,lora+rag,raft; base,rag with --api-base); with\n"
    "                          --spec, also names of the spec's strategies (default: all)\n"
    "  --adapter PATH          eval: a PEFT LoRA adapter to evaluate (no training)\n"
    "  --rag                   eval: answer with retrieval\n"
    "  --spec FILE             compare.json: the settings below by field name and a\n"
    "                          \"strategy\" list of named strategies with their own\n"
    "                          parameters, e.g. {\"name\":\"rag-k8\",\"kind\":\"rag\",\"k\":8};\n"
    "                          flags override its global settings (not TOML: no C parser)\n"
    "  --api-base URL          answer with an OpenAI-compatible server (base and rag only;\n"
    "  --api-model NAME        key from $RAGTUNE_API_KEY or $OPENAI_API_KEY)\n"
    "  --judge PATH            a local model judging each answer against the reference\n"
    "  --judge-api-base URL    ... or a remote judge (with --judge-api-model NAME)\n"
    "  --update-docs FILE      changed documents (JSONL) for the adaptability measurement\n"
    "  --adapt-retrain         also retrain fine-tuned strategies on the changed documents\n"
    "  --heldout FILE          general text for the forgetting perplexity (default: WordNet\n"
    "                          noun glosses when installed)\n"
    "  --priority LIST         order of accuracy,freshness,latency,cost (the recommendation)\n"
    "  --mode M, -k N          retrieval: bm25 (default), dense, hybrid; sources (3)\n"
    "  --embed-model PATH      embedder for dense/hybrid (the collection's)\n"
    "  --rerank PATH           cross-encoder reranking the retrieved passages\n"
    "  --min-score X|none      refuse without generating below this retrieval score\n"
    "                          (default: ask's, calibrated on the FOLDOC demo; BM25 only)\n"
    "  --max-tokens N          answer length (48)\n"
    "  --ctx N                 context (default: the model's, at most 4096)\n"
    "  --steps N, --lr X       training steps per run (100); learning rate (1e-4 LoRA,\n"
    "                          1e-5 full)\n"
    "  --rank N, --alpha X     LoRA rank (8) and alpha (16)\n"
    "  --seq-len N, --batch N  training sequence length (256) and batch (4)\n"
    "  --no-pretrain           fine-tune on QA pairs only (not also on the documents' text)\n"
    "  --raft-p F              RAFT: share of examples with the oracle passage (0.8)\n"
    "  --raft-distractors N    RAFT: distractor passages (3)\n"
    "  --max-questions N       test questions used at most (all)\n"
    "  --bootstrap N           bootstrap resamples (1000)\n"
    "  --cpu-hour-price X      cost of one CPU-hour (0.05)\n"
    "  --seed N                decoding, training and bootstrap seed (1)\n"
    "  --no-resume             rerun strategies even when cached results match\n"
    "  --keep-going            exit 0 when a strategy fails (default: the report is still\n"
    "                          written, with the error, and the exit status is 1)\n"
    "  --threads N             threads (default: physical cores)\n"
    "  --json                  print report.json instead of the table\n";

/* The noun glosses of WordNet ("| gloss" at the end of each data line), ~40 KB. */
static char *wordnet_heldout(const char *out_dir) {
    const char *src = "/usr/share/wordnet/data.noun";
    FILE *in = fopen(src, "r");
    if (!in) return NULL;
    size_t n = strlen(out_dir) + 16;
    char *path = malloc(n);
    if (!path) {
        fclose(in);
        return NULL;
    }
    snprintf(path, n, "%s/heldout.txt", out_dir);
    mkdir(out_dir, 0755);
    FILE *out = fopen(path, "w");
    char line[8192];
    size_t bytes = 0;
    while (out && bytes < 40000 && fgets(line, sizeof line, in)) {
        if (line[0] == ' ') continue; /* the licence header */
        char *g = strstr(line, "| ");
        if (!g) continue;
        bytes += (size_t)fprintf(out, "%s", g + 2);
    }
    fclose(in);
    if (!out || fclose(out) != 0 || bytes == 0) {
        free(path);
        return NULL;
    }
    return path;
}

static int print_file(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) return -1;
    snprintf(p, n, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    free(p);
    if (!f) return -1;
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, k, stdout);
    fclose(f);
    return 0;
}

int cli_compare_main(const char *cmd, int argc, char **argv, bool eval) {
    if (cli_wants_help(argc, argv)) {
        fputs(eval ? usage_eval : usage_compare, stdout);
        fputs(usage_options, stdout);
        return CLI_OK;
    }
    rt_compare_spec s = rt_compare_default_spec();
    void *root = NULL;
    bool json = false, rag = false, heldout_set = false, strategies_set = false;
    long long threads = 0;
    /* the spec file first, so that flags override it */
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--spec")) {
            if (rt_compare_spec_load(argv[i + 1], &s, &root) != RT_OK) {
                if (rt_dist_rank() == 0) /* under mpirun: said once */
                    fprintf(stderr, "ragtune %s: %s\n", cmd, rt_last_error());
                return CLI_USAGE;
            }
            FILE *f = fopen(argv[i + 1], "r");
            static char text[65536];
            size_t k = f ? fread(text, 1, sizeof text - 1, f) : 0;
            text[k] = 0;
            if (f) fclose(f);
            s.spec_json = text;
            heldout_set = s.heldout_path != NULL;
            strategies_set =
                !s.strategies || strcmp(s.strategies, rt_compare_default_spec().strategies);
        }
    }
    int rc = CLI_OK;
#define BAD(...)                                                                                   \
    do {                                                                                           \
        rc = cli_usage_error(cmd, __VA_ARGS__);                                                    \
        goto done;                                                                                 \
    } while (0)
    const char *spec_path = NULL; /* loaded above */
    const char *strategies_before = s.strategies;
    const cli_opt opts[] = {
        CLI_STR("--spec", spec_path),
        CLI_STR("--collection", s.collection_path),
        CLI_STR("--qa", s.qa_path),
        CLI_STR("--model", s.model_path),
        CLI_STR("--out", s.out_dir),
        CLI_STR("--update-docs", s.update_docs_path),
        CLI_STR("--priority", s.priority),
        CLI_STR("--embed-model", s.embedder_path),
        CLI_STR("--adapter", s.adapter_path),
        CLI_STR("--rerank", s.rerank_model),
        CLI_STR("--api-base", s.api_base),
        CLI_STR("--api-model", s.api_model),
        CLI_STR("--judge", s.judge_model_path),
        CLI_STR("--judge-api-base", s.judge_api_base),
        CLI_STR("--judge-api-model", s.judge_api_model),
        CLI_STR("--heldout", s.heldout_path),
        CLI_INT("-k", s.k, 1, 100),
        CLI_INT("--max-tokens", s.max_tokens, 1, 4096),
        CLI_INT("--ctx", s.n_ctx, 64, 32768),
        CLI_INT("--steps", s.steps, 1, 10000000),
        CLI_INT("--rank", s.lora_rank, 1, 1024),
        CLI_INT("--seq-len", s.seq_len, 8, 32768),
        CLI_INT("--batch", s.batch_size, 1, 4096),
        CLI_INT("--raft-distractors", s.raft_distractors, 0, 16),
        CLI_INT("--max-questions", s.max_questions, 0, 100000000),
        CLI_INT("--bootstrap", s.bootstrap_resamples, 1, 1000000),
        CLI_INT("--seed", s.seed, 0, INT64_MAX),
        CLI_INT("--threads", threads, 0, 1024),
        CLI_FLOAT_IN("--lr", s.lr, 1e-9, 10),
        CLI_FLOAT_IN("--alpha", s.lora_alpha, 1e-6, 1e6),
        CLI_FLOAT_IN("--raft-p", s.raft_oracle_fraction, 0, 1),
        CLI_FLOAT_IN("--cpu-hour-price", s.cpu_hour_price, 0, 1e300),
        CLI_CHOICE("--mode", s.search_mode, cli_search_modes),
        CLI_FLAG("--no-pretrain", s.pretrain_chunks, false),
        CLI_FLAG("--adapt-retrain", s.adapt_retrain, true),
        CLI_FLAG("--no-resume", s.resume, false),
        CLI_FLAG("--keep-going", s.keep_going, true),
        CLI_FLAG("--json", json, true),
        CLI_OPT_END,
    };
    /* the options of one command only */
    const cli_opt compare_only[] = {CLI_STR("--strategies", s.strategies), CLI_OPT_END};
    const cli_opt eval_only[] = {CLI_FLAG("--rag", rag, true), CLI_OPT_END};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = cli_opt_match(cmd, opts, argc, argv, &i);
        if (r == 0) r = cli_opt_match(cmd, eval ? eval_only : compare_only, argc, argv, &i);
        if (r < 0) {
            rc = CLI_USAGE;
            goto done;
        }
        if (r > 0) continue;
        if (!strcmp(a, "--min-score")) { /* a number, or none */
            if (i + 1 >= argc) BAD("%s needs a value", a);
            const char *v = argv[++i];
            double x;
            if (!strcmp(v, "none"))
                s.min_score = NAN;
            else if (cli_parse_float(v, &x))
                s.min_score = (float)x;
            else
                BAD("bad value '%s' for --min-score (a number or none)", v);
        } else if (!cli_opt_unknown(cmd, a)) {
            BAD("unexpected argument '%s'", a);
        } else {
            rc = CLI_USAGE;
            goto done;
        }
    }
    strategies_set |= s.strategies != strategies_before;
    heldout_set = s.heldout_path != NULL;
    if (eval) {
        s.strategies = s.adapter_path ? (rag ? "lora+rag" : "lora") : (rag ? "rag" : "base");
        if (!s.out_dir) s.out_dir = "ragtune-eval";
    }
    if (s.api_base && !s.api_model) BAD("--api-base needs --api-model");
    if (s.judge_api_base && !s.judge_api_model) BAD("--judge-api-base needs --judge-api-model");
    if (s.api_base && !strategies_set && !eval) s.strategies = "base,rag";
    if (!s.collection_path || !s.qa_path || !(s.model_path || s.api_base) || !s.out_dir)
        BAD("--collection, --qa, --model (or --api-base)%s are required", eval ? "" : " and --out");
    if (threads) rt_set_threads((int)threads);
    char *heldout = NULL;
    if (!heldout_set && !eval && rt_dist_rank() == 0) { /* under mpirun rank 0 writes files */
        heldout = wordnet_heldout(s.out_dir);
        s.heldout_path = heldout;
    }
    char *report = NULL;
    /* the process's progress bar; Ctrl-C stops after the question or step in flight (finished
     * strategies stay cached for the next run) */
    s.callbacks = cli_interrupt_callbacks();
    int run_rc = rt_compare_run(&s, &report);
    char *run_error = run_rc != RT_OK ? strdup(rt_last_error()) : NULL;
    if (rt_dist_rank() != 0) { /* under mpirun: rank 0 reports, every process's errors too */
        rc = run_rc == RT_OK ? CLI_OK : run_rc == RT_ERR_INVALID ? CLI_USAGE : CLI_RUNTIME;
    } else if (run_rc != RT_OK && !report) { /* nothing ran */
        rc = rt_last_error_code() == RT_ERR_INVALID ? cli_usage_error(cmd, "%s", rt_last_error())
                                                    : cli_runtime_error(cmd);
    } else if (rt_report_write(s.out_dir) != RT_OK) {
        rc = cli_runtime_error(cmd);
    } else if (json) {
        print_file(s.out_dir, "report.json");
    } else {
        char *table = NULL;
        if (rt_report_table(report, &table) != RT_OK) {
            rc = cli_runtime_error(cmd);
        } else {
            fputs(table, stdout);
            printf("\nreports: %s/report.json, report.md, report.html\n", s.out_dir);
        }
        free(table);
    }
    if (run_rc != RT_OK && report && rc == CLI_OK) { /* a strategy failed: the report is out */
        fprintf(stderr, "ragtune %s: %s\n", cmd, run_error ? run_error : "a strategy failed");
        rc = CLI_RUNTIME;
    }
    free(run_error);
    free(report);
    free(heldout);
done:
    rt_compare_spec_free_root(root);
    return rc;
#undef BAD
}

int cmd_compare(int argc, char **argv) {
    return cli_compare_main("compare", argc, argv, false);
}
