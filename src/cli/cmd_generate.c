/*
 * cmd_generate.c — `ragtune generate`: one request on a generation session (rt_session: a local
 * model with its tokenizer and optional run-time adapters, or an OpenAI-compatible server): a
 * prompt as text (optionally in the model's chat template) or token ids; the generated text (or
 * ids) streams to stdout as it comes, then timing goes to stderr (prefill and decode tokens per
 * second).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: ragtune generate (--model PATH | --api-base URL --api-model NAME)\n"
    "                        (--prompt TEXT | --prompt-ids IDS) [options]\n"
    "\n"
    "Generates a continuation of a prompt and streams the new text to stdout as it is produced\n"
    "(ids instead with --print-ids, with --prompt-ids, or without a tokenizer), then timing\n"
    "on stderr.\n"
    "\n"
    "options:\n"
    "  --model PATH          .gguf file or Hugging Face directory\n"
    "  --api-base URL        generate on an OpenAI-compatible server instead, e.g.\n"
    "                        http://127.0.0.1:8080/v1 (key from RAGTUNE_API_KEY or\n"
    "                        OPENAI_API_KEY)\n"
    "  --api-model NAME      the model name sent to that server\n"
    "  --adapter PATH[:SCALE]  apply a LoRA adapter (PEFT directory or GGUF) at run time,\n"
    "                        scaled (default 1); repeatable\n"
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
} stream_state;

static int on_id(void *user, int32_t token, const char *text, size_t text_len) {
    stream_state *s = user;
    if (token < 0) return 0; /* flush of held-back text: no id */
    printf("%s%d", s->n_printed++ ? " " : "", token);
    fflush(stdout);
    return 0;
}

static int on_text(void *user, const char *text, size_t len) {
    stream_state *s = user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    s->n_printed++;
    return 0;
}

/* Loads each --adapter PATH[:SCALE] for the session's model and applies them all. */
static int apply_adapters(rt_session *s, char **specs, int n, rt_adapter **adapters,
                          float *scales) {
    for (int i = 0; i < n; i++) {
        char *path = NULL;
        if (rt_adapter_spec_parse(specs[i], &path, &scales[i]) != RT_OK)
            return cli_usage_error("generate", "bad --adapter '%s': %s", specs[i], rt_last_error());
        int st = rt_adapter_load(rt_session_model(s), path, &adapters[i]);
        free(path);
        if (st != RT_OK) return cli_runtime_error("generate");
    }
    if (rt_session_set_adapters(s, adapters, scales, n) != RT_OK)
        return cli_runtime_error("generate");
    return CLI_OK;
}

int cmd_generate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *model_path = NULL, *prompt_ids = NULL, *quantize = NULL, *prompt_text = NULL;
    const char *tokenizer_path = NULL, *system = NULL, *api_base = NULL, *api_model = NULL;
    const char *stop_strings[16];
    int n_stop_strings = 0;
    char *adapter_specs[16];
    int n_adapters = 0;
    bool chat = false, print_ids = false;
    rt_session_request rq = rt_session_default_request();
    rq.max_tokens = 64;
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
        } else if (!strcmp(a, "--api-base") && v) {
            api_base = v;
        } else if (!strcmp(a, "--api-model") && v) {
            api_model = v;
        } else if (!strcmp(a, "--adapter") && v) {
            if (n_adapters == 16 || !*v) return cli_usage_error("generate", "bad --adapter");
            adapter_specs[n_adapters++] = (char *)v;
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
            rq.max_tokens = (int)iv;
        } else if (!strcmp(a, "--temp") && v) {
            if (!cli_parse_float(v, &dv) || dv < 0)
                return cli_usage_error("generate", "bad --temp");
            rq.sampler.temperature = (float)dv;
        } else if (!strcmp(a, "--top-k") && v) {
            if (!cli_parse_int(v, 0, 1 << 24, &iv))
                return cli_usage_error("generate", "bad --top-k");
            rq.sampler.top_k = (int)iv;
        } else if (!strcmp(a, "--top-p") && v) {
            if (!cli_parse_float(v, &dv) || dv <= 0 || dv > 1)
                return cli_usage_error("generate", "--top-p must be in (0, 1]");
            rq.sampler.top_p = (float)dv;
        } else if (!strcmp(a, "--min-p") && v) {
            if (!cli_parse_float(v, &dv) || dv < 0 || dv > 1)
                return cli_usage_error("generate", "--min-p must be in [0, 1]");
            rq.sampler.min_p = (float)dv;
        } else if (!strcmp(a, "--repeat-penalty") && v) {
            if (!cli_parse_float(v, &dv) || dv <= 0)
                return cli_usage_error("generate", "--repeat-penalty must be > 0");
            rq.sampler.repeat_penalty = (float)dv;
        } else if (!strcmp(a, "--repeat-last-n") && v) {
            if (!cli_parse_int(v, -1, 1 << 24, &iv))
                return cli_usage_error("generate", "bad --repeat-last-n");
            rq.sampler.repeat_last_n = (int)iv;
        } else if (!strcmp(a, "--seed") && v) {
            if (!cli_parse_int(v, 0, INT64_MAX, &iv))
                return cli_usage_error("generate", "bad --seed");
            rq.sampler.seed = (uint64_t)iv;
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
            rq.ignore_eos = true;
            takes_value = false;
        } else {
            return cli_usage_error("generate", "unknown or incomplete option '%s'", a);
        }
        if (takes_value) i++;
    }
    if ((!model_path == !api_base) || (!prompt_ids == !prompt_text))
        return cli_usage_error("generate", "one of --model or --api-base and one of --prompt or "
                                           "--prompt-ids are required");
    if (chat && !prompt_text) return cli_usage_error("generate", "--chat needs --prompt");
    if (prompt_text && !*prompt_text) return cli_usage_error("generate", "--prompt is empty");
    if (api_base && !api_model) return cli_usage_error("generate", "--api-base needs --api-model");
    if (api_base && (print_ids || n_stop_ids || n_adapters || quantize || tokenizer_path))
        return cli_usage_error("generate", "--print-ids, --stop-id, --adapter, --quantize and "
                                           "--tokenizer need a local --model");
    rt_session_params sp = rt_session_default_params();
    sp.model_path = model_path;
    sp.tokenizer_path = tokenizer_path;
    sp.n_ctx = (int)n_ctx;
    sp.api_base = api_base;
    sp.api_model = api_model;
    if (quantize) {
        rt_dtype dt;
        if (rt_dtype_parse(quantize, &dt) != RT_OK || dt == RT_DTYPE_I32)
            return cli_usage_error("generate", "unknown --quantize dtype '%s'", quantize);
        sp.weight_dtype = (int)dt;
    }
    int32_t *prompt = NULL;
    int n_prompt = 0;
    if (prompt_ids && cli_parse_token_ids(prompt_ids, &prompt, &n_prompt) != 0)
        return cli_usage_error("generate", "--prompt-ids must be comma-separated ids");
    rt_set_threads((int)threads);

    rt_chat_message msgs[2];
    size_t n_msgs = 0;
    if (chat) {
        if (system) msgs[n_msgs++] = (rt_chat_message){"system", system};
        msgs[n_msgs++] = (rt_chat_message){"user", prompt_text};
        rq.messages = msgs;
        rq.n_messages = n_msgs;
    } else if (prompt_text) {
        rq.prompt = prompt_text;
    } else {
        rq.prompt_ids = prompt;
        rq.n_prompt_ids = n_prompt;
    }
    rq.stop_strings = stop_strings;
    rq.n_stop_strings = n_stop_strings;
    rq.stop_tokens = stop_ids;
    rq.n_stop_tokens = n_stop_ids;
    stream_state ss = {0};
    rq.user = &ss;

    rt_session *s = NULL;
    rt_adapter *adapters[16] = {0};
    float scales[16];
    rt_session_result res;
    memset(&res, 0, sizeof res);
    int rc = CLI_OK;
    if (rt_session_open(&sp, &s) != RT_OK) {
        rc = cli_runtime_error("generate");
    } else if (n_adapters &&
               (rc = apply_adapters(s, adapter_specs, n_adapters, adapters, scales)) != CLI_OK) {
        /* reported */
    } else {
        /* ids when asked, for an ids prompt, or when there is no tokenizer to turn them into
         * text; text otherwise */
        if (!api_base && (print_ids || prompt_ids || !rt_session_tokenizer(s)))
            rq.on_token = on_id;
        else
            rq.on_text = on_text;
        if (rt_session_generate(s, &rq, &res) != RT_OK) {
            if (ss.n_printed) printf("\n");
            rc = cli_runtime_error("generate");
        } else {
            printf("\n");
            fflush(stdout); /* before the timing lines on stderr */
            static const char *reasons[] = {"length", "eos", "stop string", "callback", "context"};
            int n_evaluated = res.n_prompt - res.n_prompt_cached;
            int n_decoded = res.n_generated > 1 ? res.n_generated - 1 : 0; /* after the first */
            fprintf(stderr,
                    "prompt: %d tokens (%d evaluated) in %.3f s, %.1f tok/s\n"
                    "generated: %d tokens in %.3f s, %.1f tok/s (stop: %s)\n",
                    res.n_prompt, n_evaluated, res.prefill_seconds,
                    res.prefill_seconds > 0 ? n_evaluated / res.prefill_seconds : 0.0,
                    res.n_generated, res.decode_seconds,
                    res.decode_seconds > 0 ? n_decoded / res.decode_seconds : 0.0,
                    reasons[res.stop_reason]);
        }
    }
    rt_session_result_clear(&res);
    rt_session_close(s);
    for (int i = 0; i < n_adapters; i++)
        if (adapters[i]) rt_adapter_free(adapters[i]);
    free(prompt);
    return rc;
}
