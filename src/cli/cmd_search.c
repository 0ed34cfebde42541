/*
 * cmd_search.c — `ragtune search COLLECTION QUERY`: BM25, dense or hybrid retrieval with
 * metadata filters; prints a ranked table or JSON lines.
 */
#include "cli.h"
#include "opts.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: ragtune search COLLECTION QUERY [options]\n"
    "  -k N                  results (default 10)\n"
    "  --mode M              bm25 (default), dense, hybrid\n"
    "  --fusion F            rrf (default) or weighted (hybrid)\n"
    "  --alpha X             dense weight for weighted fusion (default 0.5)\n"
    "  --candidates N        per retriever before fusion / MMR (default 50)\n"
    "  --mmr                 diversify with maximal marginal relevance (needs vectors)\n"
    "  --lambda X            MMR relevance weight (default 0.7)\n"
    "  --filter EXPR         metadata condition key=value, key!=value, key<N, key<=N, key>N,\n"
    "                        key>=N (repeatable; all must hold; numbers compare as\n"
    "                        numbers, true/false as JSON booleans, anything else as text)\n"
    "  --ef N                HNSW search beam (default 64)\n"
    "  --exact               brute-force dense search\n"
    "  --embed-model PATH    embedder for the query (the one the collection was built with)\n"
    "                        (default: the shipped models/embedder/embedder.gguf)\n"
    "  --json                one JSON object per result\n"
    "under mpirun -np N: COLLECTION names one shard per process with {rank} (e.g.\n"
    "shards/part{rank}); the query goes to every shard and the top k are merged, BM25\n"
    "scored with the whole corpus's statistics (docs/scaling.md)\n";

bool cli_parse_filter(char *expr, rt_filter *f) {
    static const struct {
        const char *s;
        rt_filter_op op;
    } ops[] = {{">=", RT_FILTER_GE}, {"<=", RT_FILTER_LE}, {"!=", RT_FILTER_NE},
               {"=", RT_FILTER_EQ},  {"<", RT_FILTER_LT},  {">", RT_FILTER_GT}};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        char *p = strstr(expr, ops[i].s);
        if (!p || p == expr) continue;
        /* take the first operator position in the string */
        bool earlier = false;
        for (size_t j = 0; j < sizeof ops / sizeof *ops; j++) {
            char *q = strstr(expr, ops[j].s);
            if (q && q < p) earlier = true;
        }
        if (earlier) continue;
        *p = '\0';
        f->key = expr;
        f->op = ops[i].op;
        const char *val = p + strlen(ops[i].s);
        /* "n<" and "n<>5" are malformed, not comparisons with "" or ">5" */
        if (!*val || strchr("<>=!", *val)) return false;
        double x;
        f->is_number = cli_parse_float(val, &x) && isfinite(x);
        f->number = f->is_number ? x : 0;
        f->string = val; /* "true"/"false" match JSON booleans (see rt_filter) */
        bool ordering = ops[i].op != RT_FILTER_EQ && ops[i].op != RT_FILTER_NE;
        if (ordering && !f->is_number) return false; /* key<N compares numbers only */
        return true;
    }
    return false;
}

const cli_choice cli_search_modes[] = {
    {"bm25", RT_SEARCH_BM25}, {"dense", RT_SEARCH_DENSE}, {"hybrid", RT_SEARCH_HYBRID}, {NULL, 0}};

static const cli_choice fusions[] = {{"rrf", RT_FUSION_RRF}, {"weighted", RT_FUSION_WEIGHTED}, {NULL, 0}};

int cli_filter_option(const char *cmd, int argc, char **argv, int *i, rt_filter *filters,
                      int *n_filters, int max_filters) {
    if (*i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value", argv[*i]);
    char *v = argv[++*i];
    if (*n_filters == max_filters) return cli_usage_error(cmd, "too many filters");
    if (!cli_parse_filter(v, &filters[*n_filters]))
        return cli_usage_error(cmd,
                               "bad filter '%s' (key=value, key!=value, or key<N, key<=N, key>N, "
                               "key>=N with a number N)",
                               v);
    (*n_filters)++;
    return CLI_OK;
}

int cmd_search(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    rt_search_params sp = rt_search_default_params();
    const char *coll = NULL, *query = NULL, *model = NULL;
    rt_filter filters[32];
    int n_filters = 0;
    bool json = false;
    const cli_opt opts[] = {
        CLI_INT("-k", sp.k, 1, 10000),
        CLI_CHOICE("--mode", sp.mode, cli_search_modes),
        CLI_CHOICE("--fusion", sp.fusion, fusions),
        CLI_FLOAT_IN("--alpha", sp.alpha, 0, 1),
        CLI_FLOAT_IN("--lambda", sp.mmr_lambda, 0, 1),
        CLI_INT("--candidates", sp.candidates, 1, 100000),
        CLI_INT("--ef", sp.ef_search, 1, 100000),
        CLI_FLAG("--mmr", sp.mmr, true),
        CLI_FLAG("--exact", sp.exact, true),
        CLI_FLAG("--json", json, true),
        CLI_STR("--embed-model", model),
        CLI_OPT_END,
    };
    for (int i = 1; i < argc; i++) {
        int r = cli_opt_match("search", opts, argc, argv, &i);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--filter")) {
            r = cli_filter_option("search", argc, argv, &i, filters, &n_filters, 32);
            if (r != CLI_OK) return r;
        } else if (cli_opt_unknown("search", a)) {
            return CLI_USAGE;
        } else if (!coll) {
            coll = a;
        } else if (!query) {
            query = a;
        } else {
            return cli_usage_error("search", "unexpected argument '%s'", a);
        }
    }
    if (!coll || !query) return cli_usage_error("search", "need COLLECTION and QUERY");
    if (!query[strspn(query, " \t\r\n")]) return cli_usage_error("search", "the query is empty");
    sp.filters = filters;
    sp.n_filters = n_filters;
    rt_collection_params cp = rt_collection_default_params();
    cp.read_only = true;
    cp.create = false;
    char *shard_path = NULL; /* under mpirun: this process's shard (dist.c) */
    int rc = cli_dist_shard_path("search", coll, &shard_path);
    if (rc != CLI_OK) return rc;
    rt_embedder emb;
    rt_collection *c = NULL;
    int st = RT_OK;
    bool emb_open = false;
    if (model) {
        st = rt_embedder_open_model(model, 0, &emb);
        emb_open = st == RT_OK;
        cp.embedder = &emb;
    }
    if (st == RT_OK) st = rt_collection_open(shard_path ? shard_path : coll, &cp, &c);
    free(shard_path);
    if (rt_collection_shard_begin(c, st) != RT_OK || rt_dist_rank() != 0) {
        /* failed, or a shard that served rank 0's search until it ended */
        int code = st == RT_OK && rt_dist_rank() != 0 ? CLI_OK : cli_runtime_error("search");
        if (c) rt_collection_close(c);
        if (emb_open) rt_embedder_close_model(&emb);
        return code;
    }
    rt_search_results *r;
    rc = rt_collection_search(c, query, &sp, &r);
    rt_collection_shard_end(c);
    if (rc != RT_OK) {
        fprintf(stderr, "ragtune search: %s\n", rt_last_error());
        rt_collection_close(c);
        if (model) rt_embedder_close_model(&emb);
        return CLI_RUNTIME;
    }
    for (size_t i = 0; i < r->n; i++) {
        const rt_search_result *x = &r->items[i];
        if (json) {
            json_t *o = json_pack(
                "{s:i, s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:s, s:s?}", "rank", (int)i + 1, "doc_id",
                x->doc_id, "chunk_id", (json_int_t)x->chunk_id, "start", (json_int_t)x->start,
                "end", (json_int_t)x->end, "score", (double)x->score, "bm25", (double)x->bm25_score,
                "dense", (double)x->dense_score, "text", x->text, "path", x->path);
            char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
            if (s) puts(s);
            free(s);
            json_decref(o);
        } else {
            printf("%2zu  %.4f  %s [%llu, %llu)\n    ", i + 1, (double)x->score, x->doc_id,
                   (unsigned long long)x->start, (unsigned long long)x->end);
            size_t len = strlen(x->text);
            for (size_t j = 0; j < len && j < 200; j++)
                putchar(x->text[j] == '\n' ? ' ' : x->text[j]);
            puts(len > 200 ? "..." : "");
        }
    }
    if (r->n == 0)
        fprintf(stderr, "ragtune search: no results%s\n",
                sp.mode == RT_SEARCH_BM25 ? " (no query word, after stemming and stopwords, is in "
                                            "the collection)"
                                          : "");
    rt_search_results_free(r);
    rt_collection_close(c);
    if (model) rt_embedder_close_model(&emb);
    return CLI_OK;
}
