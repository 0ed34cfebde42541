/*
 * cli.h — shared pieces of the ragtune command-line program: the command table and helpers
 * for parsing numbers. Each command lives in src/cli/cmd_<name>.c as
 * `int cmd_<name>(int argc, char **argv)` returning the process exit code:
 * 0 ok, 1 runtime error (message from rt_last_error()), 2 usage error.
 * The CLI is a client of include/ragtune.h only.
 */
#ifndef RT_CLI_H
#define RT_CLI_H

#include "ragtune.h"

#include <stdbool.h>

#define CLI_OK 0
#define CLI_RUNTIME 1
#define CLI_USAGE 2

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

/* Prints "ragtune <cmd>: message" to stderr and returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "ragtune <cmd>: rt_last_error()" to stderr and returns CLI_RUNTIME. */
int cli_runtime_error(const char *cmd);
/* Strict number parsing: the whole string must be a number in range; false otherwise. */
bool cli_parse_int(const char *s, long long min, long long max, long long *out);
bool cli_parse_float(const char *s, double *out);
/* True if argv contains -h or --help. */
bool cli_wants_help(int argc, char **argv);
/* Parses "1,2,3" (commas or spaces) into a malloc'd array of ids; 0 ok, -1 malformed/empty. */
int cli_parse_token_ids(const char *s, int32_t **out, int *n_out);
/* Parses a metadata filter "key=value", "key>=N", ... (cmd_search.c; expr is modified: the
 * key is cut at the operator). */
bool cli_parse_filter(char *expr, rt_filter *f);
/* Under mpirun (dist.c): starts the process group for a command that runs distributed (train,
 * finetune, search, ask), refuses the others over several processes (CLI_USAGE), and quiets
 * ranks other than 0. CLI_OK to go on. cli_dist_end(cmd, rc) finishes the group before exit:
 * the processes agree on how the command went (rc, each process's exit code), rank 0 prints
 * the error of a process that failed alone, and the exit code is returned (1 on a process that
 * succeeded while another failed). */
int cli_dist_begin(const char *cmd);
int cli_dist_end(const char *cmd, int rc);
/* Under mpirun, ranks other than 0 keep a runtime error's message for cli_dist_end instead of
 * printing it (cli_runtime_error); rank 0 prints its own. */
void cli_dist_keep_error(const char *message);
/* The path of this process's shard: path with {rank} replaced by the rank (*out malloc'd), or
 * *out NULL when path has no {rank} and the process is alone. Over several processes a path
 * without {rank} is a usage error (CLI_USAGE; every process would search the same documents). */
int cli_dist_shard_path(const char *cmd, const char *path, char **out);

/* Commands (one file each). */
int cmd_version(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_chat(int argc, char **argv);
/* evaluation (cmd_qa.c, cmd_compare.c, cmd_eval.c) */
int cmd_qa(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_train_embedder(int argc, char **argv);
int cmd_raft_data(int argc, char **argv);

#endif
