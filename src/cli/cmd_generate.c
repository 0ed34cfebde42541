/*
 * cmd_generate.c — `ragtune generate`: loads a model, prefills a prompt of token ids and streams
 * the generated ids to stdout as they come (text too, once a tokenizer is attached: see
 * detokenize_hook), then prints timing to stderr (prefill and decode tokens per second).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: ragtune generate --model PATH --prompt-ids IDS [options]\n"
    "\n"
    "Generates a continuation of a prompt given as token ids (\"1,2,3\") and prints the new ids\n"
    "as they are produced, then timing on stderr.\n"
    "\n"
    "options:\n"
    "  --model PATH          .gguf file or Hugging Face directory\n"
    "  --prompt-ids IDS      comma-separated token ids\n"
    "  -n, --max-tokens N    tokens to generate (default 64)\n"
    "  --temp T              temperature; 0 = greedy (default 0)\n"
    "  --top-k K             keep the K most likely tokens (default 0 = off)\n"
    "  --top-p P             nucleus sampling (default 1 = off)\n"
    "  --min-p P             drop tokens below P x the best (default 0 = off)\n"
    "  --repeat-penalty R    HF repetition penalty (default 1 = off)\n"
    "  --repeat-last-n N     window of the penalty (default 64, -1 = all)\n"
    "  --seed S              sampling seed (default 24301)\n"
    "  --stop-id ID          stop at this token id (repeatable; eos always stops)\n"
    "  --ignore-eos          do not stop at the model's eos token\n"
    "  --ctx N               context length (default: the model's, at most 4096)\n"
    "  --quantize DTYPE      convert weights at load: q8_0, q4_0, f16, bf16, f32\n"
    "  --threads N           threads (default: all cores)\n";

typedef struct stream_state {
    int n_printed;
} stream_state;

static int on_token(void *user, int32_t token, const char *text, size_t text_len) {
    stream_state *s = user;
    (void)text;
    (void)text_len;
    if (token < 0) return 0; /* flush of held-back text: no id */
    printf("%s%d", s->n_printed++ ? " " : "", token);
    fflush(stdout);
    return 0;
}

/* Where the tokenizer layer plugs in: a detokenizer turns each id into its text piece, which
 * enables --stop strings and streaming text. Until then generation works on ids only. */
static rt_detokenize_fn detokenize_hook = NULL;

int cmd_generate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *model_path = NULL, *prompt_ids = NULL, *quantize = NULL;
    rt_generate_params gp = rt_generate_default_params();
    gp.max_tokens = 64;
    long long n_ctx = 0, threads = 0;
    int32_t stop_ids[64];
    int n_stop_ids = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long iv;
        double dv;
        bool takes_value = true;
        if (!strcmp(a, "--model") && v) {
            model_path = v;
        } else if (!strcmp(a, "--prompt-ids") && v) {
            prompt_ids = v;
        } else if ((!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) && v) {
            if (!cli_parse_int(v, 0, 1 << 24, &iv)) return cli_usage_error("generate", "bad -n");
            gp.max_tokens = (int)iv;
        } else if (!strcmp(a, "--temp") && v) {
            if (!cli_parse_float(v, &dv) || dv < 0)
                return cli_usage_error("generate", "bad --temp");
            gp.sampler.temperature = (float)dv;
        } else if (!strcmp(a, "--top-k") && v) {
            if (!cli_parse_int(v, 0, 1 << 24, &iv))
                return cli_usage_error("generate", "bad --top-k");
            gp.sampler.top_k = (int)iv;
        } else if (!strcmp(a, "--top-p") && v) {
            if (!cli_parse_float(v, &dv) || dv <= 0 || dv > 1)
                return cli_usage_error("generate", "--top-p must be in (0, 1]");
            gp.sampler.top_p = (float)dv;
        } else if (!strcmp(a, "--min-p") && v) {
            if (!cli_parse_float(v, &dv) || dv < 0 || dv > 1)
                return cli_usage_error("generate", "--min-p must be in [0, 1]");
            gp.sampler.min_p = (float)dv;
        } else if (!strcmp(a, "--repeat-penalty") && v) {
            if (!cli_parse_float(v, &dv) || dv <= 0)
                return cli_usage_error("generate", "--repeat-penalty must be > 0");
            gp.sampler.repeat_penalty = (float)dv;
        } else if (!strcmp(a, "--repeat-last-n") && v) {
            if (!cli_parse_int(v, -1, 1 << 24, &iv))
                return cli_usage_error("generate", "bad --repeat-last-n");
            gp.sampler.repeat_last_n = (int)iv;
        } else if (!strcmp(a, "--seed") && v) {
            if (!cli_parse_int(v, 0, INT64_MAX, &iv))
                return cli_usage_error("generate", "bad --seed");
            gp.sampler.seed = (uint64_t)iv;
        } else if (!strcmp(a, "--stop-id") && v) {
            if (!cli_parse_int(v, 0, INT32_MAX, &iv) || n_stop_ids == 64)
                return cli_usage_error("generate", "bad --stop-id");
            stop_ids[n_stop_ids++] = (int32_t)iv;
        } else if (!strcmp(a, "--ctx") && v) {
            if (!cli_parse_int(v, 1, 1 << 20, &n_ctx))
                return cli_usage_error("generate", "bad --ctx");
        } else if (!strcmp(a, "--quantize") && v) {
            quantize = v;
        } else if (!strcmp(a, "--threads") && v) {
            if (!cli_parse_int(v, 1, 4096, &threads))
                return cli_usage_error("generate", "bad --threads");
        } else if (!strcmp(a, "--ignore-eos")) {
            gp.ignore_eos = true;
            takes_value = false;
        } else {
            return cli_usage_error("generate", "unknown or incomplete option '%s'", a);
        }
        if (takes_value) i++;
    }
    if (!model_path || !prompt_ids)
        return cli_usage_error("generate", "--model and --prompt-ids are required");
    rt_model_params mp = rt_model_default_params();
    if (quantize) {
        rt_dtype dt;
        if (rt_dtype_parse(quantize, &dt) != RT_OK || dt == RT_DTYPE_I32)
            return cli_usage_error("generate", "unknown --quantize dtype '%s'", quantize);
        mp.weight_dtype = (int)dt;
    }
    int32_t *prompt = NULL;
    int n_prompt = 0;
    if (cli_parse_token_ids(prompt_ids, &prompt, &n_prompt) != 0)
        return cli_usage_error("generate", "--prompt-ids must be comma-separated ids");
    rt_set_threads((int)threads);
    gp.stop_tokens = stop_ids;
    gp.n_stop_tokens = n_stop_ids;
    gp.detokenize = detokenize_hook;
    stream_state ss = {0};
    gp.on_token = on_token;
    gp.user = &ss;

    int rc = CLI_OK;
    rt_model *model = NULL;
    rt_context *ctx = NULL;
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = (int)n_ctx;
    rt_generate_result res;
    if (rt_model_load(model_path, &mp, &model) != RT_OK ||
        rt_context_new(model, &cp, &ctx) != RT_OK ||
        rt_generate(ctx, prompt, n_prompt, &gp, NULL, 0, &res) != RT_OK) {
        if (ss.n_printed) printf("\n");
        rc = cli_runtime_error("generate");
    } else {
        printf("\n");
        static const char *reasons[] = {"length", "eos", "stop string", "callback", "context"};
        int n_decoded = res.n_generated > 1 ? res.n_generated - 1 : 0; /* evals after the first */
        fprintf(stderr,
                "prompt: %d tokens (%d evaluated) in %.3f s, %.1f tok/s\n"
                "generated: %d tokens in %.3f s, %.1f tok/s (stop: %s)\n",
                res.n_prompt, res.n_prompt_evaluated, res.prefill_seconds,
                res.prefill_seconds > 0 ? res.n_prompt_evaluated / res.prefill_seconds : 0.0,
                res.n_generated, res.decode_seconds,
                res.decode_seconds > 0 ? n_decoded / res.decode_seconds : 0.0,
                reasons[res.stop_reason]);
    }
    rt_context_free(ctx);
    rt_model_free(model);
    free(prompt);
    return rc;
}
