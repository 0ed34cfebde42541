/*
 * cmd_rm.c — `ragtune rm COLLECTION ID_OR_PATH...`: deletes documents by id, by path, or every
 * document under a directory path.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_rm(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs("usage: ragtune rm COLLECTION ID_OR_PATH...\n"
              "Deletes documents whose id or path equals the argument, or whose path lies under\n"
              "it. Exit 1 if an argument matched nothing.\n",
              stdout);
        return CLI_OK;
    }
    if (argc < 3) return cli_usage_error("rm", "need COLLECTION and at least one id or path");
    rt_collection_params cp = rt_collection_default_params();
    cp.create = false;
    rt_collection *c;
    if (rt_collection_open(argv[1], &cp, &c) != RT_OK) return cli_runtime_error("rm");
    int rc = CLI_OK;
    for (int i = 2; i < argc; i++) {
        uint64_t n;
        if (rt_collection_delete(c, argv[i], &n) != RT_OK) {
            fprintf(stderr, "ragtune rm: %s\n", rt_last_error());
            rc = CLI_RUNTIME;
        } else {
            printf("removed %llu document(s) for %s\n", (unsigned long long)n, argv[i]);
        }
    }
    if (rt_collection_close(c) != RT_OK) return cli_runtime_error("rm");
    return rc;
}
