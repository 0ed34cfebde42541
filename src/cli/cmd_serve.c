/*
 * cmd_serve.c — `ragtune serve`: parses the options and runs the HTTP server (src/server/).
 */
#include "cli.h"
#include "opts.h"
#include "server.h"

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
          "  --no-batch            each slot decodes alone\n"
          "  --batch               the slots' decode steps run together, one batched forward\n"
          "                        pass per step (default: when a start-up measurement shows\n"
          "                        it decodes faster than the slots alone)\n"
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
    const char *api_key_file = NULL, *quantize = NULL;
    bool no_batch = false, batch = false;
    const cli_opt opts[] = {
        CLI_STR("--model", p.model_path),
        CLI_STR("--tokenizer", p.tokenizer_path),
        CLI_STR("--alias", p.alias),
        CLI_STR("--embed-model", p.embed_model_path),
        CLI_STR("--host", p.host),
        CLI_INT("--port", p.port, 0, 65535),
        CLI_STR("--port-file", p.port_file),
        CLI_STR("--api-key", key),
        CLI_STR("--api-key-file", api_key_file),
        CLI_STR("--data-dir", p.data_dir),
        CLI_INT("--parallel", p.parallel, 1, 1 << 20),
        CLI_INT("--queue", p.queue, 0, 1 << 20),
        CLI_INT("--ctx", p.n_ctx, 0, 1 << 20),
        CLI_INT("--conn-timeout", p.conn_timeout, 1, 1 << 20),
        CLI_INT("--max-connections", p.max_connections, 1, 1 << 20),
        CLI_INT("--threads", threads, 0, 1 << 20),
        CLI_INT("--max-body", p.max_body, 1, 1LL << 40),
        CLI_INT("--max-upload", p.max_upload, 1, 1LL << 40),
        CLI_FLOAT_IN("--timeout", p.request_timeout, 1e-3, 1e9),
        CLI_STR("--quantize", quantize),
        CLI_FLAG("--no-batch", no_batch, true),
        CLI_FLAG("--batch", batch, true),
        CLI_OPT_END,
    };
    for (int i = 1; i < argc; i++) {
        int r = cli_opt_match("serve", opts, argc, argv, &i);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (strcmp(argv[i], "--lora")) return cli_usage_error("serve", "unknown option '%s'", argv[i]);
        if (i + 1 >= argc) return cli_usage_error("serve", "--lora needs a value");
        if (p.n_lora >= SRV_MAX_LORA)
            return cli_usage_error("serve", "at most %d --lora adapters", SRV_MAX_LORA);
        p.lora[p.n_lora++] = argv[++i];
    }
    if (api_key_file) {
        key_from_file = read_key_file(api_key_file);
        if (!key_from_file) {
            fprintf(stderr, "ragtune serve: %s: cannot read an API key from it\n", api_key_file);
            return CLI_RUNTIME;
        }
        key = key_from_file;
    }
    if (quantize) {
        rt_dtype dt;
        if (rt_dtype_parse(quantize, &dt) != RT_OK)
            return cli_usage_error("serve", "--quantize: unknown type '%s'", quantize);
        p.weight_dtype = (int)dt;
    }
    if (!p.model_path) return cli_usage_error("serve", "--model is required");
    if (no_batch && batch) return cli_usage_error("serve", "--batch and --no-batch conflict");
    if (batch) p.batch = SRV_BATCH_ON;
    if (no_batch) p.batch = SRV_BATCH_OFF;
    p.api_key = key && *key ? key : NULL;
    if (threads) rt_set_threads(threads);
    int rc = srv_run(&p);
    free(key_from_file);
    if (rc != RT_OK) return cli_runtime_error("serve");
    return CLI_OK;
}
