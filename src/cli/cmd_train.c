/*
 * cmd_train.c — `ragtune train`: full training of a model from scratch (documented
 * initialization) or of an existing model, on JSONL or text data; and the option parser it
 * shares with `ragtune finetune`.
 */
#include "cli.h"
#include "interrupt.h"
#include "opts.h"
#include "train_opts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(const char *cmd, bool finetune, FILE *out) {
    fprintf(out,
            "usage: ragtune %s %s--data FILE --out DIR [options]\n\n"
            "%s"
            "model:\n"
            "  --model PATH        %s\n"
            "  --arch NAME         llama (default), qwen2, gpt2            (from scratch)\n"
            "  --layers N --embd N --heads N --kv-heads N --ff N --ctx N  (from scratch)\n"
            "LoRA:\n"
            "  --lora              train LoRA adapters instead of all weights\n"
            "  --rank N (8)  --alpha F (16)  --dropout F (0)\n"
            "  --rslora            scale alpha/sqrt(rank) instead of alpha/rank (rank-stabilized)\n"
            "  --targets LIST      q,k,v,o,gate,up,down or all-linear (default)\n"
            "  --base-dtype T      frozen base storage: f32 (default), bf16, q8_0\n"
            "data:\n"
            "  --data FILE         JSONL ({\"text\"}, {\"prompt\",\"completion\"}, Alpaca, chat\n"
            "                      {\"messages\"}, {\"segments\":[{\"text\",\"label\"}]}: loss on\n"
            "                      labelled spans) or a plain text file\n"
            "  --val FILE | --val-fraction F (0.05)   --format NAME (auto)   --no-pack\n"
            "  --seq-len N (256)   --batch N (8)   --accum N (1)\n"
            "  --tokenizer PATH    tokenizer.json, vocab.txt, model directory or GGUF (default:\n"
            "                      the model's own, else byte-level ids for a new model)\n"
            "optimization:\n"
            "  --steps N (one epoch)  --lr F (3e-4)  --wd F (0)  --clip F (1.0)\n"
            "  --optimizer adamw|sgd  --momentum F  --schedule constant|linear|cosine (cosine)\n"
            "  --warmup N (0)  --seed N (42)  --recompute  --threads N\n"
            "  --precision P       f32 (default) or bf16: matmuls of the linear layers and lm\n"
            "                      head on bf16 inputs with f32 sums (AVX512-BF16); weights,\n"
            "                      optimizer state, norms, softmax and loss stay f32\n"
            "output:\n"
            "  --out DIR           checkpoint.bin, train_log.jsonl, model/ or adapter/\n"
            "  --eval-every N  --eval-batches N  --save-every N  --patience N  --resume\n",
            cmd, finetune ? "--model PATH " : "",
            finetune ? "Fine-tunes a model (LoRA with --lora, else all weights).\n\n"
                     : "Trains a model: from scratch, or continues --model.\n\n",
            finetune ? "the base model (HF directory, .safetensors or .gguf)"
                     : "continue this model instead of starting from scratch");
}

int cli_train_main(const char *cmd, int argc, char **argv, bool finetune) {
    if (cli_wants_help(argc, argv)) {
        usage(cmd, finetune, stdout);
        return CLI_OK;
    }
    rt_train_params p = rt_train_default_params();
    bool lora = false;
    int rank = 8;
    long long threads = 0;
    const cli_opt opts[] = {
        CLI_STR("--model", p.model_path),
        CLI_STR("--arch", p.arch),
        CLI_INT("--layers", p.n_layer, 1, 1024),
        CLI_INT("--embd", p.n_embd, 1, 65536),
        CLI_INT("--heads", p.n_head, 1, 1024),
        CLI_INT("--kv-heads", p.n_kv_head, 1, 1024),
        CLI_INT("--ff", p.n_ff, 1, 1 << 18),
        CLI_INT("--ctx", p.n_ctx, 1, 1 << 20),
        CLI_INT("--rank", rank, 1, 4096),
        CLI_FLOAT("--alpha", p.lora_alpha),
        CLI_FLOAT("--dropout", p.lora_dropout),
        CLI_STR("--targets", p.lora_targets),
        CLI_STR("--base-dtype", p.base_dtype),
        CLI_STR("--precision", p.precision),
        CLI_STR("--data", p.train_path),
        CLI_STR("--tokenizer", p.tokenizer_path),
        CLI_STR("--val", p.val_path),
        CLI_FLOAT("--val-fraction", p.val_fraction),
        CLI_STR("--format", p.format),
        CLI_INT("--seq-len", p.seq_len, 1, 1 << 20),
        CLI_INT("--batch", p.batch_size, 1, 65536),
        CLI_INT("--accum", p.grad_accum, 1, 65536),
        CLI_INT("--steps", p.max_steps, 1, (long long)1 << 40),
        CLI_FLOAT("--lr", p.lr),
        CLI_FLOAT("--wd", p.weight_decay),
        CLI_FLOAT("--clip", p.max_grad_norm),
        CLI_FLOAT("--momentum", p.momentum),
        CLI_STR("--optimizer", p.optimizer),
        CLI_STR("--schedule", p.schedule),
        CLI_INT("--warmup", p.warmup_steps, 0, (long long)1 << 40),
        CLI_INT("--seed", p.seed, 0, (long long)1 << 62),
        CLI_INT("--threads", threads, 0, 4096),
        CLI_STR("--out", p.out_dir),
        CLI_INT("--eval-every", p.eval_every, 0, (long long)1 << 40),
        CLI_INT("--eval-batches", p.eval_batches, 0, 1 << 30),
        CLI_INT("--save-every", p.save_every, 0, (long long)1 << 40),
        CLI_INT("--patience", p.early_stop_patience, 0, 1 << 30),
        CLI_INT("--stop-after", p.stop_after, 0, (long long)1 << 40),
        CLI_FLAG("--lora", lora, true),
        CLI_FLAG("--no-pack", p.pack, false),
        CLI_FLAG("--resume", p.resume, true),
        CLI_FLAG("--rslora", p.lora_rslora, true),
        CLI_FLAG("--recompute", p.recompute, true),
        CLI_OPT_END,
    };
    if (cli_opt_parse_all(cmd, opts, argc, argv) != CLI_OK) return CLI_USAGE;
    if (!p.train_path) return cli_usage_error(cmd, "--data is required");
    if (!p.out_dir) return cli_usage_error(cmd, "--out is required");
    if (finetune && !p.model_path) return cli_usage_error(cmd, "--model is required");
    if (lora) p.lora_rank = rank;
    if (p.lora_dropout < 0 || p.lora_dropout >= 1)
        return cli_usage_error(cmd, "--dropout must be in [0, 1)");
    if (p.val_fraction < 0 || p.val_fraction >= 1)
        return cli_usage_error(cmd, "--val-fraction must be in [0, 1)");
    if (p.weight_decay < 0) return cli_usage_error(cmd, "--wd must be >= 0");
    if (p.lr <= 0) return cli_usage_error(cmd, "--lr must be > 0");
    if (strcmp(p.precision, "f32") && strcmp(p.precision, "bf16"))
        return cli_usage_error(cmd, "--precision must be f32 or bf16");
    if (p.max_grad_norm < 0) return cli_usage_error(cmd, "--clip must be >= 0 (0: no clipping)");
    if (p.momentum < 0 || p.momentum >= 1) return cli_usage_error(cmd, "--momentum must be in [0, 1)");
    if (lora && !(p.lora_alpha > 0 && p.lora_alpha <= 1e6f))
        return cli_usage_error(cmd, "--alpha must be in (0, 1e6]");
    rt_set_threads((int)threads);
    p.callbacks = cli_interrupt_callbacks();
    rt_trainer *t;
    if (rt_trainer_init(&p, &t) != RT_OK) return cli_runtime_error(cmd);
    int st = rt_trainer_run(t);
    if (st == RT_OK) {
        float vl;
        if (rt_trainer_evaluate(t, &vl) == RT_OK && !isnan(vl))
            printf("final validation loss %.4f\n", vl);
        printf("output in %s\n", p.out_dir);
    }
    rt_trainer_free(t);
    return st == RT_OK ? CLI_OK : cli_runtime_error(cmd);
}

int cmd_train(int argc, char **argv) {
    return cli_train_main("train", argc, argv, false);
}
