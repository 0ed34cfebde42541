/*
 * dist.c — the CLI under mpirun: starts the process group (rt_dist_init) for the commands that
 * run distributed, refuses the others when there is more than one process (each would repeat
 * the whole command, writing the same files at once), and keeps ranks other than 0 quiet
 * (their stdout goes to /dev/null, only their errors are logged, and usage errors, which every
 * process finds alike, are printed by rank 0 alone: main.c), so the output of
 * `mpirun -np N ragtune train ...` reads as one run's; and names each process's shard of a
 * sharded collection ({rank} in the path).
 *
 * Errors under mpirun are printed once, by rank 0: the library's agreements (dist_agree) bring
 * the message of a process that failed alone to every process ("process R of N: ..."), so rank
 * 0 prints it as its own error; the other ranks keep theirs (cli_dist_keep_error), and at the
 * end all processes agree on the outcome (cli_dist_end), so that a failure no agreement saw
 * still reaches rank 0 and every process exits non-zero.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The commands that know how to share their work over processes. */
static const char *const distributed[] = {"train", "finetune", "search",
                                          "ask",   "compare",  "eval"};

int cli_dist_begin(const char *cmd) {
    if (!rt_dist_launched()) return CLI_OK;
    if (rt_dist_init() != RT_OK) return cli_runtime_error(cmd);
    if (rt_dist_size() == 1) return CLI_OK;
    bool ok = false;
    for (size_t i = 0; i < sizeof distributed / sizeof *distributed; i++)
        ok |= !strcmp(cmd, distributed[i]);
    if (!ok) {
        if (rt_dist_rank() != 0) return CLI_USAGE;
        return cli_usage_error(cmd,
                               "does not run over several processes (mpirun -np %d); the "
                               "commands that do: train, finetune, search, ask, compare, eval",
                               rt_dist_size());
    }
    if (rt_dist_rank() != 0) {
        rt_log_set_level(RT_LOG_ERROR);
        if (!freopen("/dev/null", "w", stdout)) return CLI_RUNTIME;
    }
    return CLI_OK;
}

int cli_dist_shard_path(const char *cmd, const char *path, char **out) {
    *out = NULL;
    const char *mark = strstr(path, "{rank}");
    if (!mark) {
        if (rt_dist_size() == 1) return CLI_OK;
        if (rt_dist_rank() != 0) return CLI_USAGE;
        return cli_usage_error(cmd,
                               "over %d processes the collection is sharded: name the shards "
                               "with {rank} in the path (e.g. shards/part{rank}), one per process",
                               rt_dist_size());
    }
    size_t n = strlen(path) + 16;
    if (!(*out = malloc(n))) return cli_runtime_error(cmd);
    snprintf(*out, n, "%.*s%d%s", (int)(mark - path), path, rt_dist_rank(), mark + 6);
    return CLI_OK;
}

/* A runtime error of this rank (not rank 0), kept for cli_dist_end. */
static char kept_error[1024];

void cli_dist_keep_error(const char *message) {
    if (!kept_error[0]) snprintf(kept_error, sizeof kept_error, "%s", message);
}

int cli_dist_end(const char *cmd, int rc) {
    if (rt_dist_size() > 1) {
        /* every process gets here after the command's last collective, whatever happened */
        if (!kept_error[0]) snprintf(kept_error, sizeof kept_error, "exited with code %d", rc);
        int st = rt_dist_agree(rc == CLI_OK ? RT_OK : RT_ERR_INVALID, kept_error);
        if (st < 0 && rc == CLI_OK) {
            rc = CLI_RUNTIME;
            if (rt_dist_rank() == 0) fprintf(stderr, "ragtune %s: %s\n", cmd, rt_last_error());
        }
    }
    rt_dist_finalize();
    return rc;
}
