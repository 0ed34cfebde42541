/*
 * cmd_train_embedder.c — `ragtune train-embedder`: contrastive training of a text embedder on
 * (query, positive) pairs via rt_embedder_train; the result loads with `embed --model` and
 * `ingest --embed-model`.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *usage =
    "usage: ragtune train-embedder --data PAIRS.jsonl --out DIR [options]\n\n"
    "Trains a decoder as a text embedder (mean pooling of the final hidden states, L2-normalized,\n"
    "as `ragtune embed` pools) with InfoNCE over in-batch negatives.\n\n"
    "data:\n"
    "  --data FILE         JSONL, one {\"query\": \"...\", \"positive\": \"...\"} per line\n"
    "                      ({\"anchor\", \"positive\"} also accepted)\n"
    "  --val-fraction F    pairs held out for val_loss (0.02)\n"
    "  --seq-len N         tokens per text, longer ones truncated; also the model's context (64)\n"
    "model:\n"
    "  --model PATH        continue this llama/qwen2 model (HF directory or .gguf)\n"
    "  --tokenizer PATH    tokenizer.json or model directory (default: the model's)\n"
    "  --layers N (4) --embd N (256) --heads N (4) --ff N (688)   shape from scratch\n"
    "optimization:\n"
    "  --steps N (1000)  --batch N (32 pairs)  --lr F (1e-3)  --wd F (0.01)  --clip F (1.0)\n"
    "  --temp F (0.05)   --one-way (query->passage only; default symmetric)\n"
    "  --schedule constant|linear|cosine (cosine)  --warmup N (0)  --seed N (42)  --threads N\n"
    "output:\n"
    "  --out DIR           train_log.jsonl and model/ (config.json, model.safetensors, tokenizer)\n"
    "  --eval-every N      steps between validation losses (0: at the end)\n";

int cmd_train_embedder(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    rt_embed_train_params p = rt_embed_train_default_params();
    long long threads = 0, v_int;
    double v_f;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--one-way")) {
            p.symmetric = false;
            continue;
        }
        if (!v) return cli_usage_error("train-embedder", "unknown or incomplete option '%s'", a);
        i++;
#define INT_OPT(name, lo, hi, field)                                                               \
    if (!strcmp(a, name)) {                                                                        \
        if (!cli_parse_int(v, lo, hi, &v_int))                                                     \
            return cli_usage_error("train-embedder", "%s: bad value '%s'", name, v);               \
        field = v_int;                                                                             \
        continue;                                                                                  \
    }
#define FLOAT_OPT(name, field)                                                                     \
    if (!strcmp(a, name)) {                                                                        \
        if (!cli_parse_float(v, &v_f))                                                             \
            return cli_usage_error("train-embedder", "%s: bad value '%s'", name, v);               \
        field = (float)v_f;                                                                        \
        continue;                                                                                  \
    }
        INT_OPT("--layers", 1, 1024, p.n_layer)
        INT_OPT("--embd", 2, 65536, p.n_embd)
        INT_OPT("--heads", 1, 1024, p.n_head)
        INT_OPT("--ff", 1, 262144, p.n_ff)
        INT_OPT("--seq-len", 1, 8192, p.seq_len)
        INT_OPT("--batch", 2, 4096, p.batch_size)
        INT_OPT("--steps", 1, (long long)1 << 40, p.max_steps)
        INT_OPT("--warmup", 0, (long long)1 << 40, p.warmup_steps)
        INT_OPT("--eval-every", 0, (long long)1 << 40, p.eval_every)
        INT_OPT("--threads", 1, 4096, threads)
        FLOAT_OPT("--lr", p.lr)
        FLOAT_OPT("--wd", p.weight_decay)
        FLOAT_OPT("--clip", p.max_grad_norm)
        FLOAT_OPT("--temp", p.temperature)
        FLOAT_OPT("--val-fraction", p.val_fraction)
#undef INT_OPT
#undef FLOAT_OPT
        if (!strcmp(a, "--seed")) {
            if (!cli_parse_int(v, 0, ((long long)1 << 62), &v_int))
                return cli_usage_error("train-embedder", "--seed: bad value '%s'", v);
            p.seed = (uint64_t)v_int;
        } else if (!strcmp(a, "--data"))
            p.train_path = v;
        else if (!strcmp(a, "--out"))
            p.out_dir = v;
        else if (!strcmp(a, "--model"))
            p.model_path = v;
        else if (!strcmp(a, "--tokenizer"))
            p.tokenizer_path = v;
        else if (!strcmp(a, "--schedule"))
            p.schedule = v;
        else
            return cli_usage_error("train-embedder", "unknown option '%s'", a);
    }
    if (!p.train_path || !p.out_dir)
        return cli_usage_error("train-embedder", "--data and --out are required");
    if (!p.model_path && !p.tokenizer_path)
        return cli_usage_error("train-embedder",
                               "a new model needs --tokenizer (or give --model to continue one)");
    if (!(p.temperature > 0.0f))
        return cli_usage_error("train-embedder", "--temp must be > 0");
    if (!(p.val_fraction >= 0.0f && p.val_fraction <= 0.5f))
        return cli_usage_error("train-embedder", "--val-fraction must be in 0..0.5");
    rt_set_threads((int)threads);
    if (rt_embedder_train(&p) != RT_OK) return cli_runtime_error("train-embedder");
    return CLI_OK;
}
