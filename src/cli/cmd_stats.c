/*
 * cmd_stats.c — `ragtune stats COLLECTION`: documents, chunks, vectors, terms, sizes.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_stats(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: ragtune stats COLLECTION [--json]\n", stdout);
        return CLI_OK;
    }
    const char *coll = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-')
            return cli_usage_error("stats", "unknown option %s", argv[i]);
        else if (!coll)
            coll = argv[i];
        else
            return cli_usage_error("stats", "unexpected argument '%s'", argv[i]);
    }
    if (!coll) return cli_usage_error("stats", "missing COLLECTION");
    rt_collection_params cp = rt_collection_default_params();
    cp.read_only = true;
    cp.create = false;
    rt_collection *c;
    if (rt_collection_open(coll, &cp, &c) != RT_OK) return cli_runtime_error("stats");
    rt_collection_stats s;
    if (rt_collection_stats_get(c, &s) != RT_OK) {
        rt_collection_close(c);
        return cli_runtime_error("stats");
    }
    static const char *kinds[] = {"fixed", "recursive", "sentence", "semantic", "agentic"};
    const char *kind = (unsigned)s.chunker < 5 ? kinds[s.chunker] : "?";
    if (json)
        printf("{\"documents\":%llu,\"chunks\":%llu,\"vectors\":%llu,\"terms\":%llu,"
               "\"text_bytes\":%llu,\"disk_bytes\":%llu,\"dim\":%d,\"chunker\":\"%s\","
               "\"chunk_tokens\":%d}\n",
               (unsigned long long)s.documents, (unsigned long long)s.chunks,
               (unsigned long long)s.vectors, (unsigned long long)s.terms,
               (unsigned long long)s.text_bytes, (unsigned long long)s.disk_bytes, s.dim, kind,
               s.chunk_tokens);
    else
        printf("documents   %llu\nchunks      %llu\nvectors     %llu\nterms       %llu\n"
               "text        %.2f MB\ndisk        %.2f MB\nembedder    %s (dim %d)\n"
               "chunker     %s, %d tokens\n",
               (unsigned long long)s.documents, (unsigned long long)s.chunks,
               (unsigned long long)s.vectors, (unsigned long long)s.terms,
               (double)s.text_bytes / 1e6, (double)s.disk_bytes / 1e6,
               s.embedder[0] ? s.embedder : "none", s.dim, kind, s.chunk_tokens);
    rt_collection_close(c);
    return CLI_OK;
}
