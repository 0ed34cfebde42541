/*
 * cmd_ingest.c — `ragtune ingest COLLECTION [PATH...]`: adds files, directories or standard
 * input to a collection (created on first use with the given settings).
 */
#include "cli.h"
#include "interrupt.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *usage =
    "usage: ragtune ingest COLLECTION [PATH...] [options]\n"
    "Adds .txt, .md, .html and .jsonl ({\"id\",\"text\",\"metadata\"} per line) files and\n"
    "directories (recursively) to COLLECTION (a directory, created if missing). A document\n"
    "whose content is unchanged is skipped; a changed one replaces its old chunks.\n\n"
    "  --stdin FORMAT        read standard input as txt, md, html or jsonl\n"
    "  --name ID             document id for --stdin (default: stdin)\n"
    "  --ack                 print 'ok ID STATUS' on stdout as each document is committed\n"
    "settings fixed when the collection is created:\n"
    "  --chunker KIND        recursive (default), fixed, sentence, semantic, agentic\n"
    "  --model PATH          agentic: the model that proposes sections and titles (a local\n"
    "                        model; --tokenizer PATH for another tokenizer)\n"
    "  --chunk-tokens N      target chunk size in tokens (default 256)\n"
    "  --overlap N           overlap for the fixed chunker (default 32)\n"
    "  --percentile P        semantic chunker split percentile (default 95)\n"
    "  --language L          Snowball stemmer language, or none (default english)\n"
    "  --no-stopwords        keep English stopwords in BM25\n"
    "  --k1 X --b X          BM25 parameters (default 1.2, 0.75)\n"
    "  --embed-model PATH    embed chunks with this model (dense and hybrid search)\n"
    "                        (default: the shipped models/embedder/embedder.gguf)\n"
    "  --metric M            cosine (default), l2, ip\n"
    "  --hnsw-m N            HNSW links per node (default 16)\n"
    "  --ef-construction N   HNSW build beam (default 200)\n"
    "  --int8                store vectors int8-quantized\n"
    "  --no-dedupe           keep documents whose content equals another's\n";

static const cli_choice chunkers[] = {
    {"recursive", RT_CHUNKER_RECURSIVE}, {"fixed", RT_CHUNKER_FIXED},
    {"sentence", RT_CHUNKER_SENTENCE},   {"semantic", RT_CHUNKER_SEMANTIC},
    {"agentic", RT_CHUNKER_AGENTIC},     {NULL, 0}};
static const cli_choice metrics[] = {
    {"cosine", RT_METRIC_COSINE}, {"l2", RT_METRIC_L2}, {"ip", RT_METRIC_IP}, {NULL, 0}};

static void on_ack(void *user, const char *id, const char *status) {
    (void)user;
    printf("ok %s %s\n", id, status);
    fflush(stdout);
}

int cmd_ingest(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    rt_collection_params cp = rt_collection_default_params();
    const char *coll = NULL, *stdin_fmt = NULL, *name = NULL, *model = NULL;
    const char *agentic_model = NULL, *agentic_tokenizer = NULL;
    const char *paths[256];
    int n_paths = 0;
    bool want_ack = false;
    const char *setting = NULL; /* a creation-time setting given (for the warning below) */
    const cli_opt opts[] = {
        CLI_STR("--stdin", stdin_fmt),
        CLI_STR("--name", name),
        CLI_FLAG("--ack", want_ack, true),
        CLI_STR("--model", agentic_model),
        CLI_STR("--tokenizer", agentic_tokenizer),
        CLI_STR("--embed-model", model),
        CLI_FLAG("--no-dedupe", cp.dedupe, false),
        CLI_OPT_END,
    };
    /* the settings fixed when a collection is created */
    const cli_opt settings[] = {
        CLI_CHOICE("--chunker", cp.chunker.kind, chunkers),
        CLI_INT("--chunk-tokens", cp.chunker.chunk_tokens, 1, 1 << 20),
        CLI_INT("--overlap", cp.chunker.overlap_tokens, 0, 1 << 20),
        CLI_FLOAT_IN("--percentile", cp.chunker.semantic_percentile, 0, 100),
        CLI_STR("--language", cp.language),
        CLI_FLAG("--no-stopwords", cp.stopwords, false),
        CLI_FLOAT_IN("--k1", cp.bm25_k1, 0, 1e6),
        CLI_FLOAT_IN("--b", cp.bm25_b, 0, 1e6),
        CLI_CHOICE("--metric", cp.metric, metrics),
        CLI_INT("--hnsw-m", cp.hnsw_m, 2, 256),
        CLI_INT("--ef-construction", cp.hnsw_ef_construction, 1, 65536),
        CLI_FLAG("--int8", cp.hnsw_int8, true),
        CLI_OPT_END,
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = cli_opt_match("ingest", opts, argc, argv, &i);
        if (r == 0 && (r = cli_opt_match("ingest", settings, argc, argv, &i)) > 0) setting = a;
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (cli_opt_unknown("ingest", a)) return CLI_USAGE;
        if (!coll) {
            coll = a;
        } else {
            if (n_paths == 256) return cli_usage_error("ingest", "too many paths");
            paths[n_paths++] = a;
        }
    }
    if (!coll) return cli_usage_error("ingest", "missing COLLECTION");
    if (!n_paths && !stdin_fmt) return cli_usage_error("ingest", "nothing to ingest");
    rt_embedder emb;
    if (model) {
        if (rt_embedder_open_model(model, 0, &emb) != RT_OK) return cli_runtime_error("ingest");
        cp.embedder = &emb;
    }
    char *db = malloc(strlen(coll) + 16);
    if (!db) return cli_runtime_error("ingest");
    sprintf(db, "%s/collection.db", coll);
    FILE *probe = fopen(db, "rb");
    free(db);
    if (probe) {
        fclose(probe);
        if (setting)
            fprintf(stderr,
                    "ragtune ingest: warning: %s and the other collection settings are fixed when "
                    "a collection is created; %s keeps its own (see ragtune stats)\n",
                    setting, coll);
    }
    if (cp.chunker.kind == RT_CHUNKER_AGENTIC && !agentic_model) {
        if (model) rt_embedder_close_model(&emb);
        return cli_usage_error("ingest", "--chunker agentic needs --model");
    }
    rt_session *session = NULL;
    if (agentic_model) {
        rt_session_params sp = rt_session_default_params();
        sp.model_path = agentic_model;
        sp.tokenizer_path = agentic_tokenizer;
        if (rt_session_open(&sp, &session) != RT_OK) {
            if (model) rt_embedder_close_model(&emb);
            return cli_runtime_error("ingest");
        }
        cp.chunker.propose = rt_rag_agentic_propose;
        cp.chunker.propose_user = session;
    }
    rt_collection *c;
    if (rt_collection_open(coll, &cp, &c) != RT_OK) {
        if (model) rt_embedder_close_model(&emb);
        if (session) rt_session_close(session);
        return cli_runtime_error("ingest");
    }
    if (want_ack) rt_collection_set_ack(c, on_ack, NULL);
    rt_ingest_stats st;
    memset(&st, 0, sizeof st);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = RT_OK;
    /* the process's progress bar; Ctrl-C stops after the document in flight is committed */
    rt_run_callbacks cb = cli_interrupt_callbacks();
    for (int i = 0; rc == RT_OK && i < n_paths; i++)
        rc = rt_collection_ingest_path(c, paths[i], &cb, &st);
    if (rc == RT_OK && stdin_fmt)
        rc = rt_collection_ingest_stream(c, stdin, stdin_fmt, name, &cb, &st);
    if (rc != RT_OK) fprintf(stderr, "ragtune ingest: %s\n", rt_last_error());
    int crc = rt_collection_close(c);
    if (crc != RT_OK) fprintf(stderr, "ragtune ingest: %s\n", rt_last_error());
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    fprintf(stderr,
            "ingest: %llu added, %llu replaced, %llu unchanged, %llu duplicate, %llu failed; "
            "%llu chunks; %.2f MB in %.2f s (%.2f MB/s)\n",
            (unsigned long long)st.docs_added, (unsigned long long)st.docs_replaced,
            (unsigned long long)st.docs_unchanged, (unsigned long long)st.docs_duplicate,
            (unsigned long long)st.docs_failed, (unsigned long long)st.chunks_added,
            (double)st.bytes / 1e6, secs, secs > 0 ? (double)st.bytes / 1e6 / secs : 0.0);
    if (st.files_skipped || st.links_skipped)
        fprintf(stderr, "ingest: skipped %llu files of unknown format, %llu looping links\n",
                (unsigned long long)st.files_skipped, (unsigned long long)st.links_skipped);
    if (model) rt_embedder_close_model(&emb);
    if (session) rt_session_close(session);
    if (rc != RT_OK || crc != RT_OK) return CLI_RUNTIME;
    return st.docs_failed ? CLI_RUNTIME : CLI_OK;
}
