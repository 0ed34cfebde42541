/*
 * cmd_generate.c — `ragtune generate`: loads a model and its tokenizer, prefills a prompt (text,
 * optionally in the model's chat template, or token ids) and streams the generated text (or ids)
 * to stdout as it comes, then prints timing to stderr (prefill and decode tokens per second).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: ragtune generate --model PATH (--prompt TEXT | --prompt-ids IDS) [options]\n"
    "\n"
    "Generates a continuation of a prompt and streams the new text to stdout as it is produced\n"
    "(ids instead with --print-ids, with --prompt-ids, or without a tokenizer), then timing\n"
    "on stderr.\n"
    "\n"
    "options:\n"
    "  --model PATH          .gguf file or Hugging Face directory\n"
    "  --prompt TEXT         the prompt as text (needs a tokenizer)\n"
    "  --chat                wrap --prompt as a user message in the model's chat template\n"
    "  --system TEXT         system message for --chat\n"
    "  --prompt-ids IDS      the prompt as comma-separated token ids\n"
    "  --tokenizer PATH      tokenizer (default: the model's own)\n"
    "  --stop STR            stop when STR appears (repeatable; not printed)\n"
    "  --print-ids           print generated token ids instead of text\n"
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
    bool print_ids;
} stream_state;

static int on_token(void *user, int32_t token, const char *text, size_t text_len) {
    stream_state *s = user;
    if (s->print_ids) {
        if (token < 0) return 0; /* flush of held-back text: no id */
        printf("%s%d", s->n_printed++ ? " " : "", token);
    } else if (text && text_len) {
        fwrite(text, 1, text_len, stdout);
        s->n_printed++;
    }
    fflush(stdout);
    return 0;
}

/* Streaming detokenization: each id's text as Hugging Face's decode would produce it in
 * context (a UTF-8 character split over tokens comes out whole, with the last of them). */
static int detokenize_stream(void *user, int32_t token, char *buf, size_t cap) {
    const char *text;
    size_t len;
    if (rt_detokenizer_push(user, token, &text, &len) != RT_OK) return -1;
    if (len > cap) len = cap;
    memcpy(buf, text, len);
    return (int)len;
}

/* The prompt's ids: --prompt-ids as given, or --prompt encoded (in the chat template with
 * --chat). *ids is malloc'd. */
static int prompt_tokens(const rt_tokenizer *tok, const char *text, bool chat, const char *system,
                         int32_t **ids, int *n_ids) {
    char *rendered = NULL;
    if (chat) {
        rt_chat_message msgs[2];
        size_t n = 0;
        if (system) msgs[n++] = (rt_chat_message){"system", system};
        msgs[n++] = (rt_chat_message){"user", text};
        int st = rt_tokenizer_apply_chat_template(tok, msgs, n, true, &rendered);
        if (st != RT_OK) return st;
        text = rendered;
    }
    size_t n = 0;
    /* A chat template writes its own BOS; otherwise the tokenizer adds what its file says. */
    int st = rt_tokenizer_encode(tok, text, strlen(text), !chat, ids, &n);
    free(rendered);
    if (st != RT_OK) return st;
    *n_ids = (int)n;
    return RT_OK;
}

int cmd_generate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *model_path = NULL, *prompt_ids = NULL, *quantize = NULL, *prompt_text = NULL;
    const char *tokenizer_path = NULL, *system = NULL;
    const char *stop_strings[16];
    int n_stop_strings = 0;
    bool chat = false, print_ids = false;
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
        } else if (!strcmp(a, "--prompt") && v) {
            prompt_text = v;
        } else if (!strcmp(a, "--system") && v) {
            system = v;
        } else if (!strcmp(a, "--tokenizer") && v) {
            tokenizer_path = v;
        } else if (!strcmp(a, "--stop") && v) {
            if (n_stop_strings == 16 || !*v) return cli_usage_error("generate", "bad --stop");
            stop_strings[n_stop_strings++] = v;
        } else if (!strcmp(a, "--chat")) {
            chat = true;
            takes_value = false;
        } else if (!strcmp(a, "--print-ids")) {
            print_ids = true;
            takes_value = false;
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
    if (!model_path || (!prompt_ids == !prompt_text))
        return cli_usage_error("generate",
                               "--model and one of --prompt or --prompt-ids are required");
    if (chat && !prompt_text) return cli_usage_error("generate", "--chat needs --prompt");
    rt_model_params mp = rt_model_default_params();
    if (quantize) {
        rt_dtype dt;
        if (rt_dtype_parse(quantize, &dt) != RT_OK || dt == RT_DTYPE_I32)
            return cli_usage_error("generate", "unknown --quantize dtype '%s'", quantize);
        mp.weight_dtype = (int)dt;
    }
    int32_t *prompt = NULL;
    int n_prompt = 0;
    if (prompt_ids && cli_parse_token_ids(prompt_ids, &prompt, &n_prompt) != 0)
        return cli_usage_error("generate", "--prompt-ids must be comma-separated ids");
    rt_set_threads((int)threads);

    /* The tokenizer: required for a text prompt or stop strings; otherwise used when found. */
    rt_tokenizer *tok = NULL;
    rt_detokenizer *detok = NULL;
    bool need_tokenizer = prompt_text || n_stop_strings || tokenizer_path;
    if (rt_tokenizer_load(tokenizer_path ? tokenizer_path : model_path, &tok) != RT_OK) {
        tok = NULL;
        if (need_tokenizer) {
            free(prompt);
            return cli_runtime_error("generate");
        }
    }
    if (tok && prompt_text &&
        prompt_tokens(tok, prompt_text, chat, system, &prompt, &n_prompt) != RT_OK) {
        rt_tokenizer_free(tok);
        return cli_runtime_error("generate");
    }
    if (tok && rt_detokenizer_new(tok, true, &detok) != RT_OK) {
        rt_tokenizer_free(tok);
        free(prompt);
        return cli_runtime_error("generate");
    }
    int32_t eot = tok ? rt_tokenizer_special_id(tok, RT_TOKEN_EOT) : -1;
    if (chat && eot >= 0 && n_stop_ids < 64) stop_ids[n_stop_ids++] = eot;
    gp.stop_tokens = stop_ids;
    gp.n_stop_tokens = n_stop_ids;
    gp.stop_strings = stop_strings;
    gp.n_stop_strings = n_stop_strings;
    gp.detokenize = detok ? detokenize_stream : NULL;
    gp.detokenize_user = detok;
    stream_state ss = {.print_ids = print_ids || prompt_ids || !detok};
    gp.on_token = on_token;
    gp.user = &ss;

    int rc = CLI_OK;
    rt_model *model = NULL;
    rt_context *ctx = NULL;
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = (int)n_ctx;
    rt_generate_result res;
    if (n_prompt < 1) {
        rc = cli_usage_error("generate", "the prompt is empty after tokenization");
    } else if (rt_model_load(model_path, &mp, &model) != RT_OK ||
               rt_context_new(model, &cp, &ctx) != RT_OK ||
               rt_generate(ctx, prompt, n_prompt, &gp, NULL, 0, &res) != RT_OK) {
        if (ss.n_printed) printf("\n");
        rc = cli_runtime_error("generate");
    } else {
        printf("\n");
        fflush(stdout); /* before the timing lines on stderr */
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
    rt_detokenizer_free(detok);
    rt_tokenizer_free(tok);
    free(prompt);
    return rc;
}
