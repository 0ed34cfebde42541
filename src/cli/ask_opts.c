/*
 * ask_opts.c — the options and set-up shared by `ragtune ask` and `ragtune chat`.
 */
#include "ask_opts.h"
#include "cli.h"
#include "opts.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char ask_options_help[] =
    "  --model PATH          reader model (.gguf or HF directory; default: the shipped reader\n"
    "                        models/reader/, or $RAGTUNE_MODELS/reader/)\n"
    "  --tokenizer PATH      tokenizer (default: the model's own)\n"
    "  --api-base URL        generate on an OpenAI-compatible server instead (key from\n"
    "  --api-model NAME      $RAGTUNE_API_KEY or $OPENAI_API_KEY)\n"
    "  --adapter PATH[:S]    LoRA adapter applied at run time with scale S (repeatable)\n"
    "  --mode M              retrieval: bm25 (default), dense, hybrid\n"
    "  -k N                  sources retrieved (default 4)\n"
    "  --filter EXPR         metadata condition, as in `ragtune search` (repeatable)\n"
    "  --rerank MODEL        rerank with a cross-encoder (HF BertForSequenceClassification dir)\n"
    "  --rerank-candidates N chunks retrieved for the reranker (default 20)\n"
    "  --embed-model PATH    embedder: query vectors (dense/hybrid) and groundedness similarity\n"
    "  --prompt-template F   prompt layout file ({instructions}, {sources}, {question})\n"
    "  --style S             prompt style base or chat (default: chat if the model has a chat\n"
    "                        template)\n"
    "  --min-score X         abstain when the best retrieval score is below X (default: the\n"
    "                        calibrated BM25 threshold; none in dense mode)\n"
    "  --support X           a sentence is supported at support >= X (default 0.5)\n"
    "  --no-attribution      keep the model's citations even where the cited source does not\n"
    "                        support the sentence and another does (default: move them)\n"
    "  --max-tokens N        answer budget in tokens (default 192)\n"
    "  --ctx N               context length (default: the model's, at most 4096)\n"
    "  --temp T              temperature (default 0 = greedy)\n"
    "  --seed S              sampling seed\n"
    "  --threads N           threads (default: all cores)\n"
    "  --json                print the whole record as JSON\n";

void ask_setup_init(ask_setup *a, const char *cmd) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->ap = rt_ask_default_params();
}

static const cli_choice styles[] = {
    {"base", RT_RAG_PROMPT_BASE}, {"chat", RT_RAG_PROMPT_CHAT}, {NULL, 0}};

int ask_parse_option(ask_setup *a, int argc, char **argv, int *i) {
    const char *o = argv[*i];
    long long threads = -1;
    const cli_opt opts[] = {
        CLI_STR("--model", a->model),
        CLI_STR("--tokenizer", a->tokenizer),
        CLI_STR("--api-base", a->api_base),
        CLI_STR("--api-model", a->api_model),
        CLI_CHOICE("--mode", a->ap.search.mode, cli_search_modes),
        CLI_INT("-k", a->ap.search.k, 1, 100),
        CLI_STR("--rerank", a->rerank_path),
        CLI_INT("--rerank-candidates", a->ap.rerank_candidates, 1, 1000),
        CLI_STR("--embed-model", a->embed_model),
        CLI_STR("--prompt-template", a->template_path),
        CLI_CHOICE("--style", a->ap.style, styles),
        CLI_FLOAT("--min-score", a->ap.min_score),
        CLI_FLOAT_IN("--support", a->ap.support_threshold, 0, 1),
        CLI_INT("--max-tokens", a->ap.answer_tokens, 1, 100000),
        CLI_INT("--ctx", a->n_ctx, 16, 1 << 20),
        CLI_FLOAT_IN("--temp", a->ap.sampler.temperature, 0, 1e300),
        CLI_INT("--seed", a->ap.sampler.seed, 0, LLONG_MAX),
        CLI_INT("--threads", threads, 0, 1024),
        CLI_FLAG("--json", a->json, true),
        CLI_FLAG("--no-attribution", a->ap.attribute, false),
        CLI_OPT_END,
    };
    if (!strcmp(o, "--filter"))
        return cli_filter_option(a->cmd, argc, argv, i, a->filters, &a->n_filters,
                                 ASK_MAX_FILTERS) == CLI_OK
                   ? 1
                   : CLI_USAGE;
    if (!strcmp(o, "--adapter")) {
        if (*i + 1 >= argc) return cli_usage_error(a->cmd, "%s needs a value", o);
        if (a->n_adapters == ASK_MAX_ADAPTERS) return cli_usage_error(a->cmd, "too many adapters");
        a->adapter_specs[a->n_adapters++] = argv[++*i];
        return 1;
    }
    int r = cli_opt_match(a->cmd, opts, argc, argv, i);
    if (r < 0) return CLI_USAGE;
    if (r == 0) return 0;
    /* the options whose presence matters, not only their value */
    if (!strcmp(o, "--style")) a->ap.style_set = true;
    if (!strcmp(o, "--min-score")) a->min_score_set = true;
    if (threads >= 0) rt_set_threads((int)threads);
    return 1;
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The model inside a reader directory: reader-q8_0.gguf, else any .gguf, else the directory
 * itself when it holds config.json. malloc'd, or NULL. */
static char *model_in_dir(const char *dir) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/reader-q8_0.gguf", dir);
    if (is_file(p)) return strdup(p);
    DIR *d = opendir(dir);
    char *found = NULL;
    struct dirent *e;
    while (d && !found && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".gguf")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            found = strdup(p);
        }
    }
    if (d) closedir(d);
    if (found) return found;
    snprintf(p, sizeof p, "%s/config.json", dir);
    return is_file(p) ? strdup(dir) : NULL;
}

/* Resolves the shipped reader: $RAGTUNE_MODELS/reader, <exe>/../models/reader,
 * <exe>/../../models/reader (a build directory one level deeper in the source tree). */
static char *default_reader(char *tried, size_t cap) {
    char dirs[3][PATH_MAX];
    int n = 0;
    const char *env = getenv("RAGTUNE_MODELS");
    if (env && *env) snprintf(dirs[n++], PATH_MAX, "%s/reader", env);
    char exe[PATH_MAX - 64];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(dirs[n++], PATH_MAX, "%s/../models/reader", exe);
        snprintf(dirs[n++], PATH_MAX, "%s/../../models/reader", exe);
    }
    tried[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t tl = strlen(tried);
        snprintf(tried + tl, cap - tl, "%s%s/reader-q8_0.gguf", i ? ", " : "", dirs[i]);
        if (!is_dir(dirs[i])) continue;
        char *m = model_in_dir(dirs[i]);
        if (m) {
            char *r = realpath(m, NULL);
            if (r) {
                free(m);
                return r;
            }
            return m;
        }
    }
    return NULL;
}

static char *read_text_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    bool err = ferror(f);
    fclose(f);
    if (!buf || err) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

int ask_open(ask_setup *a, const char *collection) {
    a->ap.search.filters = a->filters;
    a->ap.search.n_filters = a->n_filters;
    if (!a->min_score_set && a->ap.search.mode == RT_SEARCH_DENSE) a->ap.min_score = NAN;
    if (a->api_base && !a->api_model)
        return cli_usage_error(a->cmd, "--api-base needs --api-model");
    if (a->api_base && a->n_adapters)
        return cli_usage_error(a->cmd, "--adapter applies to a local model, not --api-base");
    if (a->ap.search.mode != RT_SEARCH_BM25 && !a->embed_model)
        return cli_usage_error(a->cmd, "--mode %s needs --embed-model (the collection's embedder)",
                               a->ap.search.mode == RT_SEARCH_DENSE ? "dense" : "hybrid");
    /* the collection first: a missing one is the cheapest error. Under mpirun it is this
     * process's shard; the processes agree that all opened theirs, and ranks > 0 then serve
     * rank 0's searches (rt_collection_shard_begin) and ask nothing. */
    char *shard_path = NULL;
    int rc = cli_dist_shard_path(a->cmd, collection, &shard_path);
    if (rc != CLI_OK) return rc;
    rt_collection_params cp = rt_collection_default_params();
    cp.read_only = true;
    cp.create = false;
    int st = RT_OK;
    if (a->embed_model) {
        st = rt_embedder_open_model(a->embed_model, 0, &a->emb);
        a->has_emb = st == RT_OK;
        cp.embedder = &a->emb;
        a->ap.embedder = &a->emb;
    }
    if (st == RT_OK) st = rt_collection_open(shard_path ? shard_path : collection, &cp, &a->coll);
    free(shard_path);
    if (rt_collection_shard_begin(a->coll, st) != RT_OK) return cli_runtime_error(a->cmd);
    if (rt_dist_rank() != 0) {
        a->served = true;
        return CLI_OK;
    }
    return ask_open_model(a);
}

int ask_open_sources(ask_setup *a, bool need_model) {
    if (a->api_base && !a->api_model)
        return cli_usage_error(a->cmd, "--api-base needs --api-model");
    if (a->embed_model) {
        if (rt_embedder_open_model(a->embed_model, 0, &a->emb) != RT_OK)
            return cli_runtime_error(a->cmd);
        a->has_emb = true;
        a->ap.embedder = &a->emb;
    }
    return need_model ? ask_open_model(a) : CLI_OK;
}

int ask_open_model(ask_setup *a) {
    if (a->template_path) {
        a->template_text = read_text_file(a->template_path);
        if (!a->template_text) {
            fprintf(stderr, "ragtune %s: %s: cannot read the prompt template\n", a->cmd,
                    a->template_path);
            return CLI_RUNTIME;
        }
        a->ap.prompt_template = a->template_text;
    }
    if (a->rerank_path) {
        if (rt_reranker_open(a->rerank_path, 0, &a->reranker) != RT_OK)
            return cli_runtime_error(a->cmd);
        a->ap.reranker = a->reranker;
    }
    rt_session_params sp = rt_session_default_params();
    sp.n_ctx = a->n_ctx;
    if (a->api_base) {
        sp.api_base = a->api_base;
        sp.api_model = a->api_model;
    } else {
        if (!a->model || !strcmp(a->model, "default")) {
            char tried[3 * PATH_MAX + 64];
            a->model_path = default_reader(tried, sizeof tried);
            if (!a->model_path) {
                fprintf(stderr,
                        "ragtune %s: the default reader model was not found (looked for %s); "
                        "build it with scripts/train-reader.sh or pass --model PATH\n",
                        a->cmd, tried);
                return CLI_RUNTIME;
            }
        } else {
            /* a reader directory (models/reader) holds its GGUF; an HF directory config.json */
            char *in_dir = is_dir(a->model) ? model_in_dir(a->model) : NULL;
            a->model_path = in_dir ? in_dir : strdup(a->model);
        }
        sp.model_path = a->model_path;
        sp.tokenizer_path = a->tokenizer;
    }
    if (rt_session_open(&sp, &a->session) != RT_OK) return cli_runtime_error(a->cmd);
    for (int i = 0; i < a->n_adapters; i++) {
        char *path = NULL;
        if (rt_adapter_spec_parse(a->adapter_specs[i], &path, &a->scales[i]) != RT_OK)
            return cli_usage_error(a->cmd, "bad --adapter '%s' (PATH[:SCALE])",
                                   a->adapter_specs[i]);
        int rc = rt_adapter_load(rt_session_model(a->session), path, &a->adapters[i]);
        free(path);
        if (rc != RT_OK) {
            a->n_adapters = i;
            return cli_runtime_error(a->cmd);
        }
    }
    if (a->n_adapters &&
        rt_session_set_adapters(a->session, a->adapters, a->scales, a->n_adapters) != RT_OK)
        return cli_runtime_error(a->cmd);
    return CLI_OK;
}

void ask_close(ask_setup *a) {
    if (a->session) rt_session_close(a->session);
    for (int i = 0; i < a->n_adapters; i++)
        rt_adapter_free(a->adapters[i]);
    if (a->coll) rt_collection_shard_end(a->coll); /* releases the shards (under mpirun) */
    if (a->coll) rt_collection_close(a->coll);
    if (a->reranker) rt_reranker_close(a->reranker);
    if (a->has_emb) rt_embedder_close_model(&a->emb);
    free(a->template_text);
    free(a->model_path);
}

void ask_print_result(const rt_ask_result *r) {
    if (r->abstained && r->abstain_reason && !strcmp(r->abstain_reason, "no relevant source")) {
        if (isnan(r->top_score))
            printf("\n(nothing in the collection matched the question)\n");
        else
            printf("\n(no source scored above the threshold: best %.3f)\n", (double)r->top_score);
    }
    if (r->n_sources) printf("\nSources:\n");
    for (size_t i = 0; i < r->n_sources; i++) {
        const rt_ask_source *s = &r->sources[i];
        bool show_path = s->path && strcmp(s->path, s->doc_id);
        printf("  [%d] %s%s%s [%llu, %llu)", s->number, s->doc_id, show_path ? " " : "",
               show_path ? s->path : "", (unsigned long long)s->start, (unsigned long long)s->end);
        if (!isnan(s->score)) printf(" score %.3f", (double)s->score);
        printf("%s%s\n", s->title && *s->title ? "  " : "", s->title ? s->title : "");
    }
    if (r->n_recitations) {
        printf("Citations moved to the source that supports the sentence:");
        for (size_t i = 0; i < r->n_recitations; i++)
            printf(" [%d] -> [%d]", r->recitations[i].from, r->recitations[i].to);
        printf("\n");
    }
    if (r->n_invalid_markers) {
        printf("Removed citations of sources that do not exist:");
        for (size_t i = 0; i < r->n_invalid_markers; i++)
            printf(" [%d]", r->invalid_markers[i]);
        printf("\n");
    }
    bool header = false;
    for (size_t i = 0; i < r->n_sentences; i++) {
        const rt_ask_sentence *s = &r->sentences[i];
        if (!s->claim || s->supported) continue;
        if (!header) printf("Unsupported by the sources:\n");
        header = true;
        printf("  (support %.2f) %s\n", (double)s->support, s->text);
    }
    if (!r->abstained) printf("Groundedness: %.2f\n", (double)r->groundedness);
}

int ask_stream_text(void *user, const char *text, size_t len) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}
