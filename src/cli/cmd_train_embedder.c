/*
 * cmd_train_embedder.c — `ragtune train-embedder`: contrastive training of a text embedder on
 * (query, positive) pairs via rt_embedder_train; the result loads with `embed --model` and
 * `ingest --embed-model`.
 */
#include "cli.h"
#include "interrupt.h"
#include "opts.h"

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
    long long threads = 0;
    bool one_way = false;
    const cli_opt opts[] = {
        CLI_STR("--data", p.train_path),
        CLI_STR("--out", p.out_dir),
        CLI_STR("--model", p.model_path),
        CLI_STR("--tokenizer", p.tokenizer_path),
        CLI_STR("--schedule", p.schedule),
        CLI_INT("--layers", p.n_layer, 1, 1024),
        CLI_INT("--embd", p.n_embd, 2, 65536),
        CLI_INT("--heads", p.n_head, 1, 1024),
        CLI_INT("--ff", p.n_ff, 1, 262144),
        CLI_INT("--seq-len", p.seq_len, 1, 8192),
        CLI_INT("--batch", p.batch_size, 2, 4096),
        CLI_INT("--steps", p.max_steps, 1, (long long)1 << 40),
        CLI_INT("--warmup", p.warmup_steps, 0, (long long)1 << 40),
        CLI_INT("--eval-every", p.eval_every, 0, (long long)1 << 40),
        CLI_INT("--seed", p.seed, 0, (long long)1 << 62),
        CLI_INT("--threads", threads, 1, 4096),
        CLI_FLOAT("--lr", p.lr),
        CLI_FLOAT("--wd", p.weight_decay),
        CLI_FLOAT("--clip", p.max_grad_norm),
        CLI_FLOAT("--temp", p.temperature),
        CLI_FLOAT("--val-fraction", p.val_fraction),
        CLI_FLAG("--one-way", one_way, true),
        CLI_OPT_END,
    };
    if (cli_opt_parse_all("train-embedder", opts, argc, argv) != CLI_OK) return CLI_USAGE;
    if (one_way) p.symmetric = false;
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
    p.callbacks = cli_interrupt_callbacks();
    if (rt_embedder_train(&p) != RT_OK) return cli_runtime_error("train-embedder");
    return CLI_OK;
}
