/*
 * spec.c — the compare spec file (compare.json): global settings and named strategies with
 * their own parameters, e.g.
 *
 *   {"model": "m.gguf", "collection": "docs.rtc", "qa": "qa.jsonl", "seed": 1,
 *    "decoding": {"max_tokens": 48, "n_ctx": 1024}, "cpu_hour_price": 0.05,
 *    "strategy": [{"name": "rag-bm25", "kind": "rag", "search": "bm25", "k": 4},
 *                 {"name": "rag-dense", "kind": "rag", "search": "dense", "k": 8},
 *                 {"name": "lora-r8", "kind": "lora", "rank": 8, "steps": 200},
 *                 {"name": "raft", "kind": "raft", "oracle_p": 0.8, "distractors": 3}]}
 *
 * and how a strategy's parameters override the spec's settings. TOML is not read: Debian ships
 * no C TOML parser (only a C++ header library), so a .toml spec is refused with a message
 * saying to write the same keys as JSON. Every error names the file, the strategy (number and
 * name) and the field.
 */
#include "eval/compare.h"

#include "core/error.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rt_compare_strategy rt_compare_strategy_default(void) {
    rt_compare_strategy o;
    memset(&o, 0, sizeof o);
    o.search_mode = -1;
    o.min_score = NAN;
    o.rerank = -1;
    o.pretrain_chunks = -1;
    o.raft_oracle_fraction = -1;
    o.raft_distractors = -1;
    return o;
}

/* What rt_compare_spec_load allocates: the parsed file and the strategy list. */
typedef struct spec_root {
    json_t *json;
    rt_compare_strategy *strategies;
} spec_root;

void rt_compare_spec_free_root(void *root) {
    spec_root *r = root;
    if (!r) return;
    json_decref(r->json);
    free(r->strategies);
    free(r);
}

/* ---- global keys ---- */

/* The keys of compare.json: the spec's field names (and a short alias). Types: s string, i int,
 * I int64, z size, u uint64, f float (null = NAN), d double, b bool. */
typedef struct spec_key {
    const char *name, *alias;
    char type;
    size_t offset;
} spec_key;
#define K(name, alias, type)                                                                       \
    { #name, alias, type, offsetof(rt_compare_spec, name) }
static const spec_key spec_keys[] = {
    K(collection_path, "collection", 's'),
    K(qa_path, "qa", 's'),
    K(model_path, "model", 's'),
    K(out_dir, "out", 's'),
    K(strategies, NULL, 's'),
    K(update_docs_path, "update_docs", 's'),
    K(heldout_path, "heldout", 's'),
    K(embedder_path, "embedder", 's'),
    K(rerank_model, "rerank", 's'),
    K(priority, NULL, 's'),
    K(adapter_path, "adapter", 's'),
    K(api_base, NULL, 's'),
    K(api_model, NULL, 's'),
    K(judge_model_path, "judge", 's'),
    K(judge_api_base, NULL, 's'),
    K(judge_api_model, NULL, 's'),
    K(k, NULL, 'i'),
    K(max_tokens, NULL, 'i'),
    K(n_ctx, NULL, 'i'),
    K(steps, NULL, 'I'),
    K(lr, NULL, 'f'),
    K(lora_rank, "rank", 'i'),
    K(lora_alpha, "alpha", 'f'),
    K(seq_len, NULL, 'i'),
    K(batch_size, "batch", 'i'),
    K(raft_oracle_fraction, "oracle_p", 'f'),
    K(raft_distractors, "distractors", 'i'),
    K(bootstrap_resamples, NULL, 'i'),
    K(support_threshold, NULL, 'f'),
    K(min_score, NULL, 'f'),
    K(cpu_hour_price, NULL, 'd'),
    K(max_questions, NULL, 'z'),
    K(seed, NULL, 'u'),
    K(pretrain_chunks, NULL, 'b'),
    K(adapt_retrain, NULL, 'b'),
    K(resume, NULL, 'b'),
    K(keep_going, NULL, 'b'),
};
#undef K

static bool set_field(char type, void *field, json_t *v) {
    switch (type) {
    case 's':
        if (!json_is_string(v)) return false;
        *(const char **)field = json_string_value(v);
        return true;
    case 'i':
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1 << 30)
            return false;
        *(int *)field = (int)json_integer_value(v);
        return true;
    case 'I':
        if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
        *(int64_t *)field = (int64_t)json_integer_value(v);
        return true;
    case 'z':
        if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
        *(size_t *)field = (size_t)json_integer_value(v);
        return true;
    case 'u':
        if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
        *(uint64_t *)field = (uint64_t)json_integer_value(v);
        return true;
    case 'f':
        if (!json_is_number(v) && !json_is_null(v)) return false;
        *(float *)field = json_is_null(v) ? NAN : (float)json_number_value(v);
        return true;
    case 'd':
        if (!json_is_number(v)) return false;
        *(double *)field = json_number_value(v);
        return true;
    case 'b':
        if (!json_is_boolean(v)) return false;
        *(bool *)field = json_is_true(v);
        return true;
    }
    return false;
}

static const char *type_words(char type) {
    switch (type) {
    case 's':
        return "a string";
    case 'f':
        return "a number (or null)";
    case 'd':
        return "a number";
    case 'b':
        return "true or false";
    default:
        return "a non-negative integer";
    }
}

static bool parse_mode(json_t *v, int *mode) {
    const char *m = json_is_string(v) ? json_string_value(v) : "";
    if (!strcmp(m, "bm25"))
        *mode = RT_SEARCH_BM25;
    else if (!strcmp(m, "dense"))
        *mode = RT_SEARCH_DENSE;
    else if (!strcmp(m, "hybrid"))
        *mode = RT_SEARCH_HYBRID;
    else
        return false;
    return true;
}

/* ---- strategies ---- */

/* Which kinds a strategy field applies to. */
enum { FOR_ALL, FOR_RAG, FOR_TRAINED, FOR_RAFT, FOR_LORA };

static bool applies(int scope, rt_strategy_kind k) {
    bool rag = k == RT_STRATEGY_RAG || k == RT_STRATEGY_FT_RAG || k == RT_STRATEGY_LORA_RAG ||
               k == RT_STRATEGY_RAFT;
    switch (scope) {
    case FOR_RAG:
        return rag;
    case FOR_TRAINED:
        return k != RT_STRATEGY_BASE && k != RT_STRATEGY_RAG;
    case FOR_RAFT:
        return k == RT_STRATEGY_RAFT;
    case FOR_LORA:
        return k == RT_STRATEGY_LORA || k == RT_STRATEGY_LORA_RAG;
    default:
        return true;
    }
}

static const char *scope_words(int scope) {
    switch (scope) {
    case FOR_RAG:
        return "strategies with retrieval (rag, ft+rag, lora+rag, raft)";
    case FOR_TRAINED:
        return "trained strategies (ft, lora, ft+rag, lora+rag, raft)";
    case FOR_RAFT:
        return "raft";
    default:
        return "lora and lora+rag";
    }
}

typedef struct strat_key {
    const char *name;
    char type; /* as spec_key; 'm' search mode, 'r' tri-state bool, 'n' min_score */
    int scope;
    size_t offset;
} strat_key;
#define S(name, type, scope, field)                                                                \
    { name, type, scope, offsetof(rt_compare_strategy, field) }
static const strat_key strat_keys[] = {
    S("search", 'm', FOR_RAG, search_mode),
    S("k", 'i', FOR_RAG, k),
    S("min_score", 'n', FOR_RAG, min_score),
    S("rerank", 'r', FOR_RAG, rerank),
    S("steps", 'I', FOR_TRAINED, steps),
    S("lr", 'f', FOR_TRAINED, lr),
    S("rank", 'i', FOR_TRAINED, lora_rank),
    S("alpha", 'f', FOR_TRAINED, lora_alpha),
    S("seq_len", 'i', FOR_TRAINED, seq_len),
    S("batch", 'i', FOR_TRAINED, batch_size),
    S("pretrain_chunks", 'r', FOR_TRAINED, pretrain_chunks),
    S("oracle_p", 'f', FOR_RAFT, raft_oracle_fraction),
    S("distractors", 'i', FOR_RAFT, raft_distractors),
    S("adapter", 's', FOR_LORA, adapter_path),
};
#undef S

/* Checks a value's range; NULL when good, else what it must be. */
static const char *range_problem(const char *name, json_t *v) {
    double x = json_number_value(v);
    if (!strcmp(name, "k") || !strcmp(name, "steps") || !strcmp(name, "rank") ||
        !strcmp(name, "batch") || !strcmp(name, "seq_len"))
        return x >= 1 ? NULL : "at least 1";
    if (!strcmp(name, "lr") || !strcmp(name, "alpha")) return x > 0 ? NULL : "positive";
    if (!strcmp(name, "oracle_p")) return x >= 0 && x <= 1 ? NULL : "in [0, 1]";
    if (!strcmp(name, "distractors")) return x <= 16 ? NULL : "in 0..16";
    return NULL;
}

static bool valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 31) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int load_strategy(const char *path, size_t no, json_t *o, rt_compare_strategy *out) {
    *out = rt_compare_strategy_default();
    if (!json_is_object(o))
        return rt_error(RT_ERR_FORMAT, "%s: strategy %zu: expected an object", path, no);
    json_t *name = json_object_get(o, "name"), *kind = json_object_get(o, "kind");
    if (!json_is_string(name) || !valid_name(json_string_value(name)))
        return rt_error(RT_ERR_FORMAT,
                        "%s: strategy %zu: \"name\" must be a string of 1-31 letters, digits "
                        "or + . _ -",
                        path, no);
    out->name = json_string_value(name);
    const char *kn = json_is_string(kind) ? json_string_value(kind) : kind ? "" : out->name;
    if (rt_strategy_parse(kn, &out->kind) != RT_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", rt_last_error()); /* rt_error reuses its buffer */
        return rt_error(RT_ERR_FORMAT, "%s: strategy %zu (\"%s\"): field \"kind\": %s%s", path, no,
                        out->name, kind ? "" : "missing, and the name is not a kind: ", why);
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (!strcmp(key, "name") || !strcmp(key, "kind")) continue;
        const strat_key *f = NULL;
        for (size_t i = 0; i < sizeof strat_keys / sizeof *strat_keys && !f; i++)
            if (!strcmp(key, strat_keys[i].name)) f = &strat_keys[i];
        if (!f)
            return rt_error(RT_ERR_FORMAT,
                            "%s: strategy %zu (\"%s\"): unknown field \"%s\" (name, kind, "
                            "search, k, min_score, rerank, steps, lr, rank, alpha, seq_len, "
                            "batch, pretrain_chunks, oracle_p, distractors, adapter)",
                            path, no, out->name, key);
        if (!applies(f->scope, out->kind))
            return rt_error(RT_ERR_FORMAT,
                            "%s: strategy %zu (\"%s\"): field \"%s\" does not apply to kind %s "
                            "(only to %s)",
                            path, no, out->name, key, rt_strategy_name(out->kind),
                            scope_words(f->scope));
        char *field = (char *)out + f->offset;
        bool good;
        const char *want;
        switch (f->type) {
        case 'm':
            good = parse_mode(v, (int *)field);
            want = "\"bm25\", \"dense\" or \"hybrid\"";
            break;
        case 'r':
            good = json_is_boolean(v);
            if (good) *(int *)field = json_is_true(v);
            want = "true or false";
            break;
        case 'n':
            good = json_is_number(v) || json_is_null(v);
            if (good) {
                out->min_score = json_is_null(v) ? NAN : (float)json_number_value(v);
                out->min_score_set = true;
            }
            want = "a number, or null for never";
            break;
        default:
            good = set_field(f->type, field, v);
            want = type_words(f->type);
            if (good && (f->type == 'i' || f->type == 'I' || f->type == 'f')) {
                const char *p = range_problem(key, v);
                if (p) {
                    good = false;
                    want = p;
                }
            }
        }
        if (!good)
            return rt_error(RT_ERR_FORMAT, "%s: strategy %zu (\"%s\"): field \"%s\" must be %s",
                            path, no, out->name, key, want);
    }
    return RT_OK;
}

/* ---- the file ---- */

static int load_json(const char *path, rt_compare_spec *s, spec_root *root) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) return rt_error(RT_ERR_FORMAT, "%s:%d: %s", path, je.line, je.text);
    root->json = j;
    if (!json_is_object(j)) return rt_error(RT_ERR_FORMAT, "%s: expected a JSON object", path);
    json_t *strat = json_object_get(j, "strategies");
    if (json_is_array(strat)) { /* a list becomes the comma-separated string */
        char *list = NULL;
        size_t len = 0, i;
        json_t *e;
        json_array_foreach(strat, i, e) {
            if (!json_is_string(e)) {
                free(list);
                return rt_error(RT_ERR_FORMAT, "%s: \"strategies\" must hold strings", path);
            }
            size_t n = json_string_length(e);
            char *nl = realloc(list, len + n + 2);
            if (!nl) {
                free(list);
                return rt_error(RT_ERR_NOMEM, "out of memory");
            }
            list = nl;
            if (i) list[len++] = ',';
            memcpy(list + len, json_string_value(e), n + 1);
            len += n;
        }
        json_object_set_new(j, "strategies", json_string(list ? list : ""));
        free(list);
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        const spec_key *f = NULL;
        for (size_t i = 0; i < sizeof spec_keys / sizeof *spec_keys && !f; i++)
            if (!strcmp(key, spec_keys[i].name) ||
                (spec_keys[i].alias && !strcmp(key, spec_keys[i].alias)))
                f = &spec_keys[i];
        if (f) {
            if (!set_field(f->type, (char *)s + f->offset, v))
                return rt_error(RT_ERR_FORMAT, "%s: \"%s\" must be %s", path, key,
                                type_words(f->type));
            continue;
        }
        if (!strcmp(key, "search_mode") || !strcmp(key, "search")) {
            int m;
            if (!parse_mode(v, &m))
                return rt_error(RT_ERR_FORMAT,
                                "%s: \"%s\" must be \"bm25\", \"dense\" or "
                                "\"hybrid\"",
                                path, key);
            s->search_mode = (rt_search_mode)m;
            continue;
        }
        if (!strcmp(key, "decoding")) {
            json_t *mt = json_object_get(v, "max_tokens"), *nc = json_object_get(v, "n_ctx");
            if (!json_is_object(v) || json_object_size(v) != (size_t)(!!mt + !!nc) ||
                (mt && !set_field('i', &s->max_tokens, mt)) ||
                (nc && !set_field('i', &s->n_ctx, nc)))
                return rt_error(RT_ERR_FORMAT,
                                "%s: \"decoding\" must be an object with \"max_tokens\" and/or "
                                "\"n_ctx\" (non-negative integers; decoding is greedy)",
                                path);
            continue;
        }
        if (!strcmp(key, "strategy")) {
            size_t n = json_array_size(v);
            if (!json_is_array(v) || !n)
                return rt_error(RT_ERR_FORMAT,
                                "%s: \"strategy\" must be a non-empty list of "
                                "objects",
                                path);
            root->strategies = calloc(n, sizeof *root->strategies);
            if (!root->strategies) return rt_error(RT_ERR_NOMEM, "out of memory");
            for (size_t i = 0; i < n; i++) {
                RT_TRY(load_strategy(path, i + 1, json_array_get(v, i), &root->strategies[i]));
                for (size_t j2 = 0; j2 < i; j2++)
                    if (!strcmp(root->strategies[j2].name, root->strategies[i].name))
                        return rt_error(RT_ERR_FORMAT,
                                        "%s: strategy %zu: field \"name\": \"%s\" is already the "
                                        "name of strategy %zu",
                                        path, i + 1, root->strategies[i].name, j2 + 1);
            }
            s->strategy_list = root->strategies;
            s->n_strategy_list = n;
            if (!json_object_get(j, "strategies")) s->strategies = NULL; /* all of them */
            continue;
        }
        return rt_error(RT_ERR_FORMAT, "%s: unknown key \"%s\"", path, key);
    }
    return RT_OK;
}

int rt_compare_spec_load(const char *path, rt_compare_spec *s, void **root_out) {
    *root_out = NULL;
    size_t n = strlen(path);
    if (n >= 5 && !strcmp(path + n - 5, ".toml"))
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: TOML specs are not supported (Debian ships no C TOML parser); write "
                        "the same keys as JSON (compare.json, [[strategy]] tables as a "
                        "\"strategy\" list)",
                        path);
    spec_root *root = calloc(1, sizeof *root);
    if (!root) return rt_error(RT_ERR_NOMEM, "out of memory");
    rt_compare_spec saved = *s;
    int st = load_json(path, s, root);
    if (st != RT_OK) {
        *s = saved;
        rt_compare_spec_free_root(root);
        return st;
    }
    *root_out = root;
    return RT_OK;
}

/* ---- a strategy's effective settings ---- */

void rt_compare_strategy_apply(const rt_compare_spec *g, const rt_compare_strategy *o,
                               rt_compare_spec *eff) {
    *eff = *g;
    if (!o) return;
    if (o->search_mode >= 0) eff->search_mode = (rt_search_mode)o->search_mode;
    if (o->k > 0) eff->k = o->k;
    if (o->min_score_set) eff->min_score = o->min_score;
    if (o->rerank == 0) eff->rerank_model = NULL;
    if (o->steps > 0) eff->steps = o->steps;
    if (o->lr > 0) eff->lr = o->lr;
    if (o->lora_rank > 0) eff->lora_rank = o->lora_rank;
    if (o->lora_alpha > 0) eff->lora_alpha = o->lora_alpha;
    if (o->seq_len > 0) eff->seq_len = o->seq_len;
    if (o->batch_size > 0) eff->batch_size = o->batch_size;
    if (o->pretrain_chunks >= 0) eff->pretrain_chunks = o->pretrain_chunks != 0;
    if (o->raft_oracle_fraction >= 0) eff->raft_oracle_fraction = o->raft_oracle_fraction;
    if (o->raft_distractors >= 0) eff->raft_distractors = o->raft_distractors;
    if (o->adapter_path) eff->adapter_path = o->adapter_path;
}

json_t *rt_compare_strategy_json(const rt_compare_strategy *o) {
    static const char *modes[] = {"bm25", "dense", "hybrid"};
    json_t *j = json_object();
    if (!o) return j;
    if (o->search_mode >= 0 && o->search_mode <= 2)
        json_object_set_new(j, "search", json_string(modes[o->search_mode]));
    if (o->k > 0) json_object_set_new(j, "k", json_integer(o->k));
    if (o->min_score_set)
        json_object_set_new(j, "min_score",
                            isfinite(o->min_score) ? json_real(o->min_score) : json_null());
    if (o->rerank >= 0) json_object_set_new(j, "rerank", json_boolean(o->rerank));
    if (o->steps > 0) json_object_set_new(j, "steps", json_integer(o->steps));
    if (o->lr > 0) json_object_set_new(j, "lr", json_real(o->lr));
    if (o->lora_rank > 0) json_object_set_new(j, "rank", json_integer(o->lora_rank));
    if (o->lora_alpha > 0) json_object_set_new(j, "alpha", json_real(o->lora_alpha));
    if (o->seq_len > 0) json_object_set_new(j, "seq_len", json_integer(o->seq_len));
    if (o->batch_size > 0) json_object_set_new(j, "batch", json_integer(o->batch_size));
    if (o->pretrain_chunks >= 0)
        json_object_set_new(j, "pretrain_chunks", json_boolean(o->pretrain_chunks));
    if (o->raft_oracle_fraction >= 0)
        json_object_set_new(j, "oracle_p", json_real(o->raft_oracle_fraction));
    if (o->raft_distractors >= 0)
        json_object_set_new(j, "distractors", json_integer(o->raft_distractors));
    if (o->adapter_path) json_object_set_new(j, "adapter", json_string(o->adapter_path));
    return j;
}
