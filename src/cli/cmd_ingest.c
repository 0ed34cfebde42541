/*
 * cmd_ingest.c — `ragtune ingest COLLECTION [PATH...]`: adds files, directories or standard
 * input to a collection (created on first use with the given settings).
 */
#include "cli.h"

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
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        double x;
#define NEED_VALUE                                                                                 \
    if (!v) return cli_usage_error("ingest", "%s needs a value", a);                               \
    i++
        if (!strcmp(a, "--stdin")) {
            NEED_VALUE;
            stdin_fmt = v;
        } else if (!strcmp(a, "--name")) {
            NEED_VALUE;
            name = v;
        } else if (!strcmp(a, "--ack")) {
            want_ack = true;
        } else if (!strcmp(a, "--chunker")) {
            NEED_VALUE;
            setting = a;
            if (!strcmp(v, "fixed"))
                cp.chunker.kind = RT_CHUNKER_FIXED;
            else if (!strcmp(v, "recursive"))
                cp.chunker.kind = RT_CHUNKER_RECURSIVE;
            else if (!strcmp(v, "sentence"))
                cp.chunker.kind = RT_CHUNKER_SENTENCE;
            else if (!strcmp(v, "semantic"))
                cp.chunker.kind = RT_CHUNKER_SEMANTIC;
            else if (!strcmp(v, "agentic"))
                cp.chunker.kind = RT_CHUNKER_AGENTIC;
            else
                return cli_usage_error("ingest", "unknown chunker '%s'", v);
        } else if (!strcmp(a, "--model")) {
            NEED_VALUE;
            agentic_model = v;
        } else if (!strcmp(a, "--tokenizer")) {
            NEED_VALUE;
            agentic_tokenizer = v;
        } else if (!strcmp(a, "--chunk-tokens")) {
            NEED_VALUE;
            setting = a;
            if (!cli_parse_int(v, 1, 1 << 20, &n))
                return cli_usage_error("ingest", "bad %s '%s' (an integer, 1 to 1048576)", a, v);
            cp.chunker.chunk_tokens = (int)n;
        } else if (!strcmp(a, "--overlap")) {
            NEED_VALUE;
            setting = a;
            if (!cli_parse_int(v, 0, 1 << 20, &n))
                return cli_usage_error("ingest", "bad %s '%s' (an integer, 0 to 1048576)", a, v);
            cp.chunker.overlap_tokens = (int)n;
        } else if (!strcmp(a, "--percentile")) {
            NEED_VALUE;
            setting = a;
            if (!cli_parse_float(v, &x) || x < 0 || x > 100)
                return cli_usage_error("ingest", "bad %s '%s' (a number, 0 to 100)", a, v);
            cp.chunker.semantic_percentile = (float)x;
        } else if (!strcmp(a, "--language")) {
            NEED_VALUE;
            setting = a;
            cp.language = v;
        } else if (!strcmp(a, "--no-stopwords")) {
            setting = a;
            cp.stopwords = false;
        } else if (!strcmp(a, "--k1") || !strcmp(a, "--b")) {
            NEED_VALUE;
            setting = a;
            if (!cli_parse_float(v, &x) || !(x >= 0 && x < 1e6))
                return cli_usage_error("ingest", "bad %s '%s' (a number >= 0)", a, v);
            if (a[2] == 'k')
                cp.bm25_k1 = (float)x;
            else
                cp.bm25_b = (float)x;
        } else if (!strcmp(a, "--embed-model")) {
            NEED_VALUE;
            model = v;
        } else if (!strcmp(a, "--metric")) {
            NEED_VALUE;
            setting = a;
            if (!strcmp(v, "cosine"))
                cp.metric = RT_METRIC_COSINE;
            else if (!strcmp(v, "l2"))
                cp.metric = RT_METRIC_L2;
            else if (!strcmp(v, "ip"))
                cp.metric = RT_METRIC_IP;
            else
                return cli_usage_error("ingest", "unknown metric '%s'", v);
        } else if (!strcmp(a, "--hnsw-m")) {
            NEED_VALUE;
            setting = a;
            if (!cli_parse_int(v, 2, 256, &n))
                return cli_usage_error("ingest", "bad %s '%s' (an integer, 2 to 256)", a, v);
            cp.hnsw_m = (int)n;
        } else if (!strcmp(a, "--ef-construction")) {
            NEED_VALUE;
            setting = a;
            if (!cli_parse_int(v, 1, 65536, &n))
                return cli_usage_error("ingest", "bad %s '%s' (an integer, 1 to 65536)", a, v);
            cp.hnsw_ef_construction = (int)n;
        } else if (!strcmp(a, "--int8")) {
            setting = a;
            cp.hnsw_int8 = true;
        } else if (!strcmp(a, "--no-dedupe")) {
            cp.dedupe = false;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("ingest", "unknown option %s", a);
        } else if (!coll) {
            coll = a;
        } else {
            if (n_paths == 256) return cli_usage_error("ingest", "too many paths");
            paths[n_paths++] = a;
        }
#undef NEED_VALUE
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
    for (int i = 0; rc == RT_OK && i < n_paths; i++)
        rc = rt_collection_ingest_path(c, paths[i], &st);
    if (rc == RT_OK && stdin_fmt) rc = rt_collection_ingest_stream(c, stdin, stdin_fmt, name, &st);
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
