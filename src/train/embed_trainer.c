/*
 * embed_trainer.c — rt_embedder_train (ragtune.h): contrastive training of a decoder as a text
 * embedder (train/contrastive.h) on (query, passage) pairs from JSONL, with AdamW, clipping, a
 * schedule, a held-out validation loss, a JSONL log, progress and an atomically replaced HF
 * directory as the result.
 *
 * Determinism: the validation pairs are those whose index hashes (splitmix64 of seed and line
 * index) below val_fraction; the order of epoch e is a Fisher-Yates permutation drawn from
 * mix(seed, e). Same data, seed and thread count: the same model, bit for bit.
 *
 * Not here: resuming from checkpoints (runs are short; rerun instead), LoRA.
 */
#include "ragtune.h"

#include "train/contrastive.h"
#include "train/optim.h"
#include "train/rng.h"
#include "train/schedule.h"
#include "train/text_tokenizer.h"
#include "train/tmodel.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "model/hf.h"
#include "model/model_file.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

rt_embed_train_params rt_embed_train_default_params(void) {
    rt_embed_train_params p;
    memset(&p, 0, sizeof p);
    p.n_layer = 4;
    p.n_embd = 256;
    p.n_head = 4;
    p.n_ff = 688;
    p.val_fraction = 0.02f;
    p.seq_len = 64;
    p.batch_size = 32;
    p.temperature = 0.05f;
    p.symmetric = true;
    p.lr = 1e-3f;
    p.weight_decay = 0.01f;
    p.max_grad_norm = 1.0f;
    p.schedule = "cosine";
    p.max_steps = 1000;
    p.seed = 42;
    return p;
}

/* Token ids of every text: text i is ids[off[i] .. off[i] + len[i]). */
typedef struct pair_set {
    int32_t *ids;
    size_t n_ids, cap_ids;
    size_t *q_off, *p_off;
    int *q_len, *p_len;
    int64_t n, cap;
} pair_set;

static void pairs_free(pair_set *s) {
    free(s->ids);
    free(s->q_off);
    free(s->p_off);
    free(s->q_len);
    free(s->p_len);
    memset(s, 0, sizeof *s);
}

/* Appends the ids of text (at most max_len, with the tokenizer's special tokens). */
static int add_text(pair_set *s, const rt_tokenizer *tok, const char *text, int max_len,
                    size_t *off, int *len) {
    int32_t *ids;
    size_t n;
    RT_TRY(rt_tokenizer_encode(tok, text, strlen(text), true, &ids, &n));
    if (n > (size_t)max_len) n = (size_t)max_len;
    int st = RT_GROW(s->ids, s->cap_ids, s->n_ids + n);
    if (st < 0) {
        free(ids);
        return st;
    }
    memcpy(s->ids + s->n_ids, ids, n * sizeof *ids);
    free(ids);
    *off = s->n_ids;
    *len = (int)n;
    s->n_ids += n;
    return RT_OK;
}

static int grow_pairs(pair_set *s) {
    /* four parallel arrays of one capacity: each grows from s->cap to the same new one */
    size_t need = (size_t)s->n + 1, cap = (size_t)s->cap;
    RT_TRY(RT_GROW(s->q_off, cap, need));
    cap = (size_t)s->cap;
    RT_TRY(RT_GROW(s->p_off, cap, need));
    cap = (size_t)s->cap;
    RT_TRY(RT_GROW(s->q_len, cap, need));
    cap = (size_t)s->cap;
    RT_TRY(RT_GROW(s->p_len, cap, need));
    s->cap = (int64_t)cap;
    return RT_OK;
}

/* Reads the pairs of path into train and val (by the seeded hash rule). */
static int load_pairs(const char *path, const rt_tokenizer *tok, int max_len, float val_fraction,
                      uint64_t seed, pair_set *train, pair_set *val) {
    char *data;
    size_t len;
    RT_TRY(rt_file_read_all(path, (size_t)1 << 34, &data, &len));
    int st = RT_OK;
    int64_t line_no = 0, index = 0;
    uint64_t threshold = (uint64_t)((double)val_fraction * 18446744073709551615.0);
    for (size_t pos = 0; pos < len && st == RT_OK;) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        data[end] = '\0';
        char *line = data + pos;
        pos = end + 1;
        line_no++;
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        if (!*line) continue;
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        const char *q = NULL, *p = NULL;
        if (o && json_is_object(o)) {
            json_t *jq = json_object_get(o, "query");
            if (!jq) jq = json_object_get(o, "anchor");
            q = json_string_value(jq);
            p = json_string_value(json_object_get(o, "positive"));
        }
        if (!o)
            st = rt_error(RT_ERR_FORMAT, "%s:%lld: not JSON (%s)", path, (long long)line_no,
                          jerr.text);
        else if (!q || !p)
            st = rt_error(RT_ERR_FORMAT,
                          "%s:%lld: expected {\"query\": string, \"positive\": string} (or "
                          "\"anchor\" for \"query\")",
                          path, (long long)line_no);
        else if (!*q || !*p)
            st = rt_error(RT_ERR_FORMAT, "%s:%lld: empty query or positive", path,
                          (long long)line_no);
        if (st == RT_OK) {
            uint64_t h = rt_rng_mix(seed ^ rt_rng_mix(0x50414952ULL + (uint64_t)index));
            pair_set *s = val_fraction > 0 && h < threshold ? val : train;
            index++;
            if ((st = grow_pairs(s)) == RT_OK &&
                (st = add_text(s, tok, q, max_len, &s->q_off[s->n], &s->q_len[s->n])) == RT_OK &&
                (st = add_text(s, tok, p, max_len, &s->p_off[s->n], &s->p_len[s->n])) == RT_OK) {
                if (s->q_len[s->n] < 1 || s->p_len[s->n] < 1)
                    st = rt_error(RT_ERR_FORMAT, "%s:%lld: a text encodes to no tokens", path,
                                  (long long)line_no);
                else
                    s->n++;
            }
        }
        json_decref(o);
    }
    free(data);
    return st;
}

typedef struct embed_run {
    const rt_embed_train_params *p;
    rt_tokenizer *tok;
    tmodel *m;
    ct_work w;
    pair_set train, val;
    int32_t *q_ids, *p_ids;
    int *q_lens, *p_lens;
    int64_t *perm, epoch, cursor;
} embed_run;

/* Gathers pairs idx[0..n) into the padded batch; returns Tq and Tp. */
static void gather(embed_run *r, const pair_set *s, const int64_t *idx, int n, int *Tq, int *Tp) {
    int tq = 1, tp = 1;
    for (int b = 0; b < n; b++) {
        if (s->q_len[idx[b]] > tq) tq = s->q_len[idx[b]];
        if (s->p_len[idx[b]] > tp) tp = s->p_len[idx[b]];
    }
    for (int b = 0; b < n; b++) {
        int64_t i = idx[b];
        r->q_lens[b] = s->q_len[i];
        r->p_lens[b] = s->p_len[i];
        for (int t = 0; t < tq; t++)
            r->q_ids[(size_t)b * tq + t] = t < s->q_len[i] ? s->ids[s->q_off[i] + t] : 0;
        for (int t = 0; t < tp; t++)
            r->p_ids[(size_t)b * tp + t] = t < s->p_len[i] ? s->ids[s->p_off[i] + t] : 0;
    }
    *Tq = tq;
    *Tp = tp;
}

static void shuffle(embed_run *r) {
    int64_t n = r->train.n;
    for (int64_t i = 0; i < n; i++)
        r->perm[i] = i;
    uint64_t g = rt_rng_mix(r->p->seed ^ (0x454d4244ULL + (uint64_t)r->epoch * 0x9e37ULL));
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rt_rng_next(&g) % (uint64_t)(i + 1));
        int64_t t = r->perm[i];
        r->perm[i] = r->perm[j];
        r->perm[j] = t;
    }
}

static int evaluate(embed_run *r, float *val_loss) {
    *val_loss = NAN;
    int B = r->p->batch_size;
    double sum = 0.0;
    int count = 0;
    int64_t idx[4096];
    for (int64_t i0 = 0; i0 + 1 < r->val.n; i0 += B) {
        int n = (int)(r->val.n - i0 < B ? r->val.n - i0 : B);
        if (n < 2) break;
        for (int b = 0; b < n; b++)
            idx[b] = i0 + b;
        int Tq, Tp;
        gather(r, &r->val, idx, n, &Tq, &Tp);
        float loss;
        RT_TRY(ct_step(r->m, &r->w, r->q_ids, r->q_lens, Tq, r->p_ids, r->p_lens, Tp, n,
                       r->p->temperature, r->p->symmetric, false, 1.0f, &loss));
        sum += loss;
        count++;
    }
    if (count) *val_loss = (float)(sum / count);
    return RT_OK;
}

static int build_model(embed_run *r) {
    const rt_embed_train_params *p = r->p;
    int n_vocab = (int)rt_tokenizer_n_vocab(r->tok);
    tm_options opt = {0};
    opt.seed = p->seed;
    opt.base_dtype = RT_DTYPE_F32;
    if (p->model_path) {
        rt_model_file *mf;
        RT_TRY(rt_model_file_open(p->model_path, &mf));
        rt_model_config cfg = *rt_model_file_config(mf);
        int st = RT_OK;
        if (cfg.arch != RT_ARCH_LLAMA && cfg.arch != RT_ARCH_QWEN2)
            st = rt_error(RT_ERR_UNSUPPORTED, "%s: embedder training needs a llama or qwen2 model",
                          p->model_path);
        else if (cfg.n_vocab < n_vocab)
            st = rt_error(RT_ERR_INVALID, "%s: vocabulary of %d is smaller than the tokenizer's %d",
                          p->model_path, cfg.n_vocab, n_vocab);
        cfg.n_ctx_train = p->seq_len;
        if (st == RT_OK) st = tmodel_new(&cfg, rt_model_file_weights(mf), &opt, &r->m);
        rt_model_file_close(mf);
        return st;
    }
    if (p->n_head <= 0 || p->n_embd <= 0 || p->n_embd % p->n_head || (p->n_embd / p->n_head) % 2)
        return rt_error(RT_ERR_INVALID, "n_embd %d must be a multiple of 2 n_head (n_head %d)",
                        p->n_embd, p->n_head);
    rt_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = RT_ARCH_LLAMA;
    c.n_vocab = n_vocab;
    c.n_embd = p->n_embd;
    c.n_layer = p->n_layer;
    c.n_head = c.n_kv_head = p->n_head;
    c.head_dim = p->n_embd / p->n_head;
    c.n_ff = p->n_ff;
    c.n_ctx_train = p->seq_len;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tied_embeddings = true;
    c.bos_token_id = rt_tokenizer_special_id(r->tok, RT_TOKEN_BOS);
    c.eos_token_id = rt_tokenizer_special_id(r->tok, RT_TOKEN_EOS);
    c.pad_token_id = -1;
    return tmodel_new(&c, NULL, &opt, &r->m);
}

/* Removes the regular files of dir and dir itself (a previous result). */
static void remove_flat_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *f = rt_path_join(dir, e->d_name);
        if (f) unlink(f);
        free(f);
    }
    closedir(d);
    rmdir(dir);
}

/* Writes the model and tokenizer into out_dir/model.tmp, then renames it to out_dir/model. */
static int save_model(embed_run *r, const char *tok_src) {
    char *dir = rt_path_join(r->p->out_dir, "model");
    char *tmp = rt_path_join(r->p->out_dir, "model.tmp");
    char *old = rt_path_join(r->p->out_dir, "model.old");
    int st = RT_ERR_NOMEM;
    if (!dir || !tmp || !old) goto done;
    remove_flat_dir(tmp);
    remove_flat_dir(old);
    rt_model_weights w;
    if ((st = tmodel_weights(r->m, &w)) < 0) goto done;
    st = rt_hf_write(tmp, &r->m->cfg, &w);
    rt_model_weights_free(&w, r->m->cfg.n_layer);
    if (st == RT_OK) st = rt_tokenizer_copy_files(tok_src, tmp);
    if (st < 0) goto done;
    if (rt_is_dir(dir) && rename(dir, old) != 0) {
        st = rt_error(RT_ERR_IO, "%s: cannot move the previous model aside", dir);
        goto done;
    }
    if (rename(tmp, dir) != 0) {
        st = rt_error(RT_ERR_IO, "%s: cannot rename to %s", tmp, dir);
        goto done;
    }
    remove_flat_dir(old);
    rt_log_info("saved %s", dir);
done:
    free(dir);
    free(tmp);
    free(old);
    return st;
}

static int run(embed_run *r) {
    const rt_embed_train_params *p = r->p;
    schedule_kind sched;
    if (schedule_parse(p->schedule ? p->schedule : "cosine", &sched) < 0)
        return rt_error(RT_ERR_INVALID, "unknown schedule '%s'", p->schedule);
    const char *tok_src = p->tokenizer_path ? p->tokenizer_path : p->model_path;
    if (!tok_src) return rt_error(RT_ERR_INVALID, "no tokenizer (tokenizer_path or model_path)");
    RT_TRY(rt_tokenizer_load(tok_src, &r->tok));
    RT_TRY(load_pairs(p->train_path, r->tok, p->seq_len, p->val_fraction, p->seed, &r->train,
                      &r->val));
    if (r->train.n < 2)
        return rt_error(RT_ERR_INVALID, "%s: %lld training pairs; in-batch negatives need >= 2",
                        p->train_path, (long long)r->train.n);
    RT_TRY(build_model(r));
    int B = p->batch_size;
    RT_TRY(ct_work_init(&r->w, B, p->seq_len, r->m->cfg.n_embd));
    size_t BT = (size_t)B * p->seq_len;
    r->q_ids = rt_malloc(BT * sizeof *r->q_ids);
    r->p_ids = rt_malloc(BT * sizeof *r->p_ids);
    r->q_lens = rt_malloc((size_t)B * sizeof *r->q_lens);
    r->p_lens = rt_malloc((size_t)B * sizeof *r->p_lens);
    r->perm = rt_malloc((size_t)r->train.n * sizeof *r->perm);
    if (!r->q_ids || !r->p_ids || !r->q_lens || !r->p_lens || !r->perm) return RT_ERR_NOMEM;
    RT_TRY(rt_mkdir_p(p->out_dir));
    optim o;
    RT_TRY(optim_init(&o, OPTIM_ADAMW, r->m->n_train, p->weight_decay));
    char *log_path = rt_path_join(p->out_dir, "train_log.jsonl");
    FILE *log = log_path ? fopen(log_path, "w") : NULL;
    if (!log) {
        int st = log_path ? rt_error(RT_ERR_IO, "%s: cannot open for writing", log_path)
                          : RT_ERR_NOMEM;
        free(log_path);
        optim_free(&o);
        return st;
    }
    free(log_path);
    rt_log_info("train-embedder: %zu parameters, %lld train / %lld val pairs, batch %d, "
                "temperature %g",
                r->m->n_train, (long long)r->train.n, (long long)r->val.n, B, p->temperature);
    shuffle(r);
    rt_progress prog;
    rt_progress_begin_with(&prog, &p->callbacks, "train-embedder", "steps", (uint64_t)p->max_steps);
    double t0 = rt_time_now();
    int64_t idx[4096];
    char detail[128] = "";
    float last_val = NAN;
    int st = RT_OK;
    for (int64_t step = 0; step < p->max_steps && st == RT_OK; step++) {
        if ((st = rt_progress_check_cancel(&prog)) < 0) break;
        for (int b = 0; b < B; b++) {
            if (r->cursor >= r->train.n) {
                r->epoch++;
                r->cursor = 0;
                shuffle(r);
            }
            idx[b] = r->perm[r->cursor++];
        }
        int Tq, Tp;
        gather(r, &r->train, idx, B, &Tq, &Tp);
        memset(r->m->train_grad, 0, r->m->n_train * sizeof(float));
        float loss;
        st = ct_step(r->m, &r->w, r->q_ids, r->q_lens, Tq, r->p_ids, r->p_lens, Tp, B,
                     p->temperature, p->symmetric, true, 1.0f, &loss);
        if (st < 0) break;
        if (!isfinite(loss)) {
            st = rt_error(RT_ERR_INVALID, "loss is not finite at step %lld (lower the lr)",
                          (long long)step + 1);
            break;
        }
        float norm = optim_clip_grad_norm(r->m->train_grad, r->m->n_train, p->max_grad_norm);
        float lr = (float)((double)p->lr *
                           schedule_factor(sched, step, p->warmup_steps, p->max_steps));
        optim_step(&o, r->m->train_data, r->m->train_grad, r->m->params, r->m->n_params, lr);
        bool last = step + 1 == p->max_steps;
        float vl = NAN;
        if (r->val.n >= 2 && ((p->eval_every > 0 && (step + 1) % p->eval_every == 0) || last)) {
            if ((st = evaluate(r, &vl)) < 0) break;
            last_val = vl;
        }
        double el = rt_time_now() - t0;
        fprintf(log,
                "{\"step\":%lld,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.5g,\"pairs\":%lld,"
                "\"elapsed\":%.3f",
                (long long)step + 1, loss, lr, norm, (long long)(step + 1) * B, el);
        if (!isnan(vl)) fprintf(log, ",\"val_loss\":%.6f", vl);
        fputs("}\n", log);
        fflush(log);
        int k = snprintf(detail, sizeof detail, "loss %.4f", loss);
        if (!isnan(last_val)) snprintf(detail + k, sizeof detail - (size_t)k, ", val %.4f", last_val);
        rt_progress_update(&prog, (uint64_t)step + 1, detail);
    }
    rt_progress_end(&prog, detail);
    fclose(log);
    optim_free(&o);
    if (st == RT_OK) st = save_model(r, tok_src);
    return st;
}

int rt_embedder_train(const rt_embed_train_params *p) {
    if (!p->train_path) return rt_error(RT_ERR_INVALID, "no training pairs (train_path)");
    if (!p->out_dir) return rt_error(RT_ERR_INVALID, "no output directory (out_dir)");
    if (p->batch_size < 2 || p->batch_size > 4096)
        return rt_error(RT_ERR_INVALID, "batch size %d outside 2..4096 (in-batch negatives)",
                        p->batch_size);
    if (p->seq_len < 1 || p->seq_len > 8192)
        return rt_error(RT_ERR_INVALID, "sequence length %d outside 1..8192", p->seq_len);
    if (!(p->temperature > 0.0f) || !(p->lr >= 0.0f) || p->max_steps < 1 ||
        !(p->val_fraction >= 0.0f && p->val_fraction <= 0.5f))
        return rt_error(RT_ERR_INVALID,
                        "temperature must be > 0, lr >= 0, steps >= 1, val fraction in 0..0.5");
    embed_run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    int st = run(&r);
    ct_work_free(&r.w);
    tmodel_free(r.m);
    if (r.tok) rt_tokenizer_free(r.tok);
    pairs_free(&r.train);
    pairs_free(&r.val);
    free(r.q_ids);
    free(r.p_ids);
    free(r.q_lens);
    free(r.p_lens);
    free(r.perm);
    return st;
}
