/*
 * cmd_serve.c — `ragtune serve`: parses the options and runs the HTTP server (src/server/).
 */
#include "cli.h"
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out) {
    fputs("usage: ragtune serve --model PATH [options]\n\n"
          "An OpenAI-compatible server: /v1/models, /v1/chat/completions, /v1/completions,\n"
          "/v1/embeddings, /lora-adapters, collections and RAG (/v1/collections,\n"
          "/v1/vector_stores/{id}/search), files and fine-tuning jobs, /health, /metrics and a\n"
          "web page at /.\n\n"
          "  --model PATH          generation model (GGUF or Hugging Face directory)\n"
          "  --tokenizer PATH      tokenizer (default: the model's)\n"
          "  --alias NAME          model id in /v1/models (default: the model's file name)\n"
          "  --embed-model PATH    embedding model (/v1/embeddings, dense search)\n"
          "  --lora PATH[:SCALE]   load an adapter (repeatable; scale 0 = only on request)\n"
          "  --host ADDR (127.0.0.1)  --port N (8080; 0 = any free port)\n"
          "  --port-file FILE      write the bound port here once listening\n"
          "  --api-key KEY | --api-key-file FILE   require 'Authorization: Bearer KEY'\n"
          "                        (also $RAGTUNE_API_KEY); /health stays open\n"
          "  --data-dir DIR        collections, files, jobs (default ragtune-data)\n"
          "  --parallel N (2)      slots generating at once\n"
          "  --queue N (16)        requests waiting for a slot before 429\n"
          "  --no-batch            each slot decodes alone (default: the slots' decode steps\n"
          "                        run together, one batched forward pass per step)\n"
          "  --ctx N               context per slot (default: the model's, at most 4096)\n"
          "  --quantize T          weight storage: f32, q8_0, q4_0 (default: the file's)\n"
          "  --max-body BYTES (8 MiB)  --max-upload BYTES (64 MiB)\n"
          "  --timeout SECONDS (600)   time limit of one generation request\n"
          "  --conn-timeout SECONDS (30)  idle connections are closed (slow clients)\n"
          "  --max-connections N (64)   --threads N\n",
          out);
}

static char *read_key_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return n ? strdup(buf) : NULL;
}

int cmd_serve(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return CLI_OK;
    }
    srv_params p = srv_default_params();
    char *key_from_file = NULL;
    const char *key = getenv("RAGTUNE_API_KEY");
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        double f;
#define NEED_VALUE()                                                                               \
    do {                                                                                           \
        if (!v) return cli_usage_error("serve", "%s needs a value", a);                            \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--model")) {
            NEED_VALUE();
            p.model_path = v;
        } else if (!strcmp(a, "--tokenizer")) {
            NEED_VALUE();
            p.tokenizer_path = v;
        } else if (!strcmp(a, "--alias")) {
            NEED_VALUE();
            p.alias = v;
        } else if (!strcmp(a, "--embed-model")) {
            NEED_VALUE();
            p.embed_model_path = v;
        } else if (!strcmp(a, "--lora")) {
            NEED_VALUE();
            if (p.n_lora >= SRV_MAX_LORA)
                return cli_usage_error("serve", "at most %d --lora adapters", SRV_MAX_LORA);
            p.lora[p.n_lora++] = v;
        } else if (!strcmp(a, "--host")) {
            NEED_VALUE();
            p.host = v;
        } else if (!strcmp(a, "--port")) {
            NEED_VALUE();
            if (!cli_parse_int(v, 0, 65535, &n))
                return cli_usage_error("serve", "--port must be 0..65535");
            p.port = (int)n;
        } else if (!strcmp(a, "--port-file")) {
            NEED_VALUE();
            p.port_file = v;
        } else if (!strcmp(a, "--api-key")) {
            NEED_VALUE();
            key = v;
        } else if (!strcmp(a, "--api-key-file")) {
            NEED_VALUE();
            free(key_from_file);
            key_from_file = read_key_file(v);
            if (!key_from_file) {
                fprintf(stderr, "ragtune serve: %s: cannot read an API key from it\n", v);
                return CLI_RUNTIME;
            }
            key = key_from_file;
        } else if (!strcmp(a, "--data-dir")) {
            NEED_VALUE();
            p.data_dir = v;
        } else if (!strcmp(a, "--parallel") || !strcmp(a, "--queue") || !strcmp(a, "--ctx") ||
                   !strcmp(a, "--conn-timeout") || !strcmp(a, "--max-connections") ||
                   !strcmp(a, "--threads")) {
            NEED_VALUE();
            if (!cli_parse_int(
                    v,
                    !strcmp(a, "--queue") || !strcmp(a, "--ctx") || !strcmp(a, "--threads") ? 0 : 1,
                    1 << 20, &n))
                return cli_usage_error("serve", "%s needs a number", a);
            if (!strcmp(a, "--parallel"))
                p.parallel = (int)n;
            else if (!strcmp(a, "--queue"))
                p.queue = (int)n;
            else if (!strcmp(a, "--ctx"))
                p.n_ctx = (int)n;
            else if (!strcmp(a, "--conn-timeout"))
                p.conn_timeout = (int)n;
            else if (!strcmp(a, "--max-connections"))
                p.max_connections = (int)n;
            else
                threads = (int)n;
        } else if (!strcmp(a, "--max-body") || !strcmp(a, "--max-upload")) {
            NEED_VALUE();
            if (!cli_parse_int(v, 1, 1LL << 40, &n))
                return cli_usage_error("serve", "%s needs a byte count", a);
            if (!strcmp(a, "--max-body"))
                p.max_body = (size_t)n;
            else
                p.max_upload = (size_t)n;
        } else if (!strcmp(a, "--timeout")) {
            NEED_VALUE();
            if (!cli_parse_float(v, &f) || f <= 0)
                return cli_usage_error("serve", "--timeout needs a positive number of seconds");
            p.request_timeout = f;
        } else if (!strcmp(a, "--no-batch")) {
            p.batch = 0;
        } else if (!strcmp(a, "--quantize")) {
            NEED_VALUE();
            rt_dtype dt;
            if (rt_dtype_parse(v, &dt) != RT_OK)
                return cli_usage_error("serve", "--quantize: unknown type '%s'", v);
            p.weight_dtype = (int)dt;
        } else
            return cli_usage_error("serve", "unknown option '%s'", a);
#undef NEED_VALUE
    }
    if (!p.model_path) return cli_usage_error("serve", "--model is required");
    p.api_key = key && *key ? key : NULL;
    if (threads) rt_set_threads(threads);
    int rc = srv_run(&p);
    free(key_from_file);
    if (rc != RT_OK) return cli_runtime_error("serve");
    return CLI_OK;
}
