/*
 * trainer.c — the training loop behind rt_trainer: model (from scratch or a file, full or
 * LoRA), data, AdamW/SGD with clipping, accumulation and a schedule, evaluation with early
 * stopping, checkpoints with exact resume, a JSONL log and progress.
 *
 * Determinism: the data order of epoch e is a Fisher-Yates permutation drawn from
 * mix(seed, e); the model's RNG (LoRA dropout) is a splitmix64 stream saved in checkpoints.
 * So a run resumed from a checkpoint takes the same batches and the same dropout masks as the
 * uninterrupted run, and its loss curve is bit-for-bit the same (same thread count).
 *
 * Data-parallel (under mpirun, after rt_dist_init; src/dist/comm.h): every process walks the same
 * permutation and takes rows [rank * B/N, (rank + 1) * B/N) of each global batch of B rows. The
 * loss is the token mean over the global batch: the target counts are summed over processes
 * before the backward pass, and each process scales its gradient by its count over the global
 * count, so the sum of the gradients is the single-process mean gradient; the sum runs in
 * buckets started as the last micro-batch's backward finishes them (dist/grad_reduce.h). Every
 * process then clips and steps identically, so weights stay equal without being sent. Rank 0
 * alone holds the output directory's lock and writes the log, checkpoints and the result; on
 * resume it reads the checkpoint and broadcasts the state. The curve equals the single-process
 * one up to float summation order (tests/cli/mpi_train.sh states the tolerance).
 */
#include "ragtune.h"

#include "train/adapter.h"
#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/optim.h"
#include "train/rng.h"
#include "train/schedule.h"
#include "train/tmodel.h"
#include "core/error.h"
#include "core/file.h"
#include "dist/comm.h"
#include "dist/grad_reduce.h"
#include "core/log.h"
#include "core/matmul.h"
#include "model/hf.h"
#include "train/text_tokenizer.h"
#include "model/model_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rt_trainer {
    rt_train_params p;
    char *out_dir, *model_path, *ckpt_path;
    const rt_text_tokenizer *tok;
    rt_tokenizer *own_tok;          /* loaded from tokenizer_path or the model (else NULL) */
    rt_text_tokenizer own_text_tok; /* own_tok as the trainer sees it */
    char *tok_src;                  /* where own_tok came from; its files go next to results */
    char *tok_name;                 /* tok_src#content-hash: the tokenizer's identity */
    tmodel *m;
    optim o;
    schedule_kind sched;
    dataset d;
    int64_t step, epoch, cursor, tokens;
    int64_t *perm;
    int32_t *inputs, *targets;
    int64_t *idx;
    float best_val;
    int bad_evals;
    bool stopped;
    double t_start;
    int64_t tokens_at_start;
    FILE *log;
    uint64_t cfg_hash;
    int lock_fd; /* exclusive lock on <out_dir>/lock: one run per output directory */
    char *prev_ckpt_path; /* the checkpoint before the last one (a hard link), for divergence */
    int64_t ckpt_step;    /* step of checkpoint.bin as this run knows it (-1: none) */
    int rank, n_ranks;    /* data-parallel process group (0 of 1 alone) */
    int local_batch;      /* rows of each global batch this process computes: batch_size/n_ranks */
    double *micro_loss;   /* (grad_accum) this process's loss x targets per micro-batch */
    int64_t *micro_count; /* (grad_accum) global target count per micro-batch */
    dist_grad_reduce *grad_sum; /* data-parallel: the gradient all-reduce, overlapping backward */
};

rt_train_params rt_train_default_params(void) {
    rt_train_params p;
    memset(&p, 0, sizeof p);
    p.arch = "llama";
    p.n_layer = 4;
    p.n_embd = 128;
    p.n_head = 4;
    p.n_kv_head = 4;
    p.n_ff = 344;
    p.lora_alpha = 16.0f;
    p.lora_targets = "all-linear";
    p.base_dtype = "f32";
    p.precision = "f32";
    p.val_fraction = 0.05f;
    p.format = "auto";
    p.pack = true;
    p.seq_len = 256;
    p.batch_size = 8;
    p.grad_accum = 1;
    p.optimizer = "adamw";
    p.lr = 3e-4f;
    p.weight_decay = 0.0f;
    p.beta1 = 0.9f;
    p.beta2 = 0.999f;
    p.eps = 1e-8f;
    p.max_grad_norm = 1.0f;
    p.schedule = "cosine";
    p.warmup_steps = 0;
    p.seed = 42;
    p.eval_batches = 0;
    return p;
}

static int parse_targets(const char *s, unsigned *out) {
    if (!s || !strcmp(s, "all-linear") || !strcmp(s, "all")) {
        *out = RT_LORA_ALL;
        return RT_OK;
    }
    static const char *names[] = {"q", "k", "v", "o", "gate", "up", "down"};
    static const char *long_names[] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                       "gate_proj", "up_proj", "down_proj"};
    unsigned bits = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < 7; i++)
            if ((strlen(names[i]) == n && !strncmp(p, names[i], n)) ||
                (strlen(long_names[i]) == n && !strncmp(p, long_names[i], n)))
                found = i;
        if (found < 0)
            return rt_error(RT_ERR_INVALID,
                            "unknown LoRA target module '%.*s' (q, k, v, o, gate, "
                            "up, down or all-linear)",
                            (int)n, p);
        bits |= 1u << found;
        p += n + (e ? 1 : 0);
    }
    if (!bits) return rt_error(RT_ERR_INVALID, "no LoRA target modules");
    *out = bits;
    return RT_OK;
}

static int parse_format(const char *s, ds_format *f) {
    if (!s || !strcmp(s, "auto"))
        *f = DS_FORMAT_AUTO;
    else if (!strcmp(s, "text"))
        *f = DS_FORMAT_TEXT;
    else if (!strcmp(s, "prompt-completion"))
        *f = DS_FORMAT_PROMPT_COMPLETION;
    else if (!strcmp(s, "alpaca"))
        *f = DS_FORMAT_ALPACA;
    else if (!strcmp(s, "chat"))
        *f = DS_FORMAT_CHAT;
    else if (!strcmp(s, "segments"))
        *f = DS_FORMAT_SEGMENTS;
    else
        return rt_error(RT_ERR_INVALID, "unknown data format '%s'", s);
    return RT_OK;
}

static uint64_t hash_config(const tmodel *m) {
    const rt_model_config *c = &m->cfg;
    int64_t v[] = {c->arch,          c->n_vocab,          c->n_embd,           c->n_layer,
                   c->n_head,        c->n_kv_head,        c->head_dim,         c->n_ff,
                   m->opt.lora_rank, m->opt.lora_targets, (int64_t)m->n_train, m->n_params};
    uint64_t h = 0x43484b50ULL;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        h = rt_rng_mix(h ^ (uint64_t)v[i]);
    return h;
}

static void shuffle_epoch(rt_trainer *t) {
    int64_t n = t->d.train.n;
    for (int64_t i = 0; i < n; i++)
        t->perm[i] = i;
    uint64_t r = rt_rng_mix(t->p.seed ^ (0x45504f4348ULL + (uint64_t)t->epoch * 0x9e37ULL));
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rt_rng_next(&r) % (uint64_t)(i + 1));
        int64_t tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
    }
}

/* Chooses the tokenizer: the caller's, else tokenizer_path, else the model's own (if it has
 * one), else byte-level. */
static int load_tokenizer(rt_trainer *t, const rt_train_params *p) {
    t->tok = rt_byte_tokenizer();
    if (p->tokenizer) {
        t->tok = p->tokenizer;
        return RT_OK;
    }
    const char *src = p->tokenizer_path ? p->tokenizer_path : p->model_path;
    if (!src) return RT_OK;
    int st = rt_tokenizer_load(src, &t->own_tok);
    if (st < 0) {
        t->own_tok = NULL;
        if (p->tokenizer_path) return st;
        rt_error_clear(); /* a model without tokenizer files: byte-level, checked in build_model */
        return RT_OK;
    }
    if (!(t->tok_src = rt_strdup(src))) return RT_ERR_NOMEM;
    /* The tokenizer is named by its content, not its path: the token cache is keyed by this
     * name, and a tokenizer retrained into the same file must not reuse the old tokens. */
    static const char *const files[] = {"tokenizer.json", "vocab.txt", "tokenizer_config.json",
                                        "special_tokens_map.json", NULL};
    char hash[33];
    RT_TRY(rt_content_hash(src, files, hash));
    size_t n = strlen(src) + sizeof hash + 8;
    if (!(t->tok_name = rt_malloc(n))) return RT_ERR_NOMEM;
    snprintf(t->tok_name, n, "%s#%s", src, hash);
    rt_text_tokenizer_wrap(t->own_tok, t->tok_name, &t->own_text_tok);
    t->tok = &t->own_text_tok;
    rt_log_info("tokenizer: %s (%d ids)", src, t->tok->n_vocab);
    return RT_OK;
}

static int build_model(rt_trainer *t, const tm_options *opt) {
    const rt_train_params *p = &t->p;
    if (p->model_path) {
        rt_model_file *mf;
        RT_TRY(rt_model_file_open(p->model_path, &mf));
        const rt_model_config *cfg = rt_model_file_config(mf);
        int st = RT_OK;
        if (!t->own_tok && !p->tokenizer && cfg->n_vocab != t->tok->n_vocab)
            st = rt_error(RT_ERR_INVALID,
                          "%s: no tokenizer found with the model (and its "
                          "vocabulary of %d is not byte-level); give one with --tokenizer",
                          p->model_path, cfg->n_vocab);
        else if (cfg->n_vocab < t->tok->n_vocab)
            st = rt_error(RT_ERR_INVALID, "%s: vocabulary of %d is smaller than the tokenizer's %d",
                          p->model_path, cfg->n_vocab, t->tok->n_vocab);
        else if (cfg->n_ctx_train > 0 && p->seq_len > cfg->n_ctx_train)
            st = rt_error(RT_ERR_INVALID,
                          "sequence length %d is longer than the context of %s (%d tokens); "
                          "give --seq-len %d or less",
                          p->seq_len, p->model_path, cfg->n_ctx_train, cfg->n_ctx_train);
        if (st == RT_OK) st = tmodel_new(cfg, rt_model_file_weights(mf), opt, &t->m);
        rt_model_file_close(mf);
        return st;
    }
    if (p->n_ctx > 0 && p->seq_len > p->n_ctx)
        return rt_error(RT_ERR_INVALID,
                        "sequence length %d is longer than the context of %d tokens; give "
                        "--seq-len %d or less, or a larger --ctx",
                        p->seq_len, p->n_ctx, p->n_ctx);
    rt_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = rt_arch_from_name(p->arch ? p->arch : "llama");
    c.n_vocab = t->tok->n_vocab;
    c.n_embd = p->n_embd;
    c.n_layer = p->n_layer;
    c.n_head = p->n_head;
    c.n_kv_head = c.arch == RT_ARCH_GPT2 || p->n_kv_head <= 0 ? p->n_head : p->n_kv_head;
    c.head_dim = p->n_head > 0 ? p->n_embd / p->n_head : 0;
    c.n_ff = p->n_ff;
    c.n_ctx_train = p->n_ctx > p->seq_len ? p->n_ctx : p->seq_len;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tied_embeddings = true;
    c.attn_bias = c.arch == RT_ARCH_QWEN2 || c.arch == RT_ARCH_GPT2;
    c.bos_token_id = t->tok->bos_id;
    c.eos_token_id = t->tok->eos_id;
    c.pad_token_id = -1;
    if (p->n_head <= 0 || p->n_embd % p->n_head)
        return rt_error(RT_ERR_INVALID, "n_embd %d is not a multiple of n_head %d", p->n_embd,
                        p->n_head);
    return tmodel_new(&c, NULL, opt, &t->m);
}

/* True when every trainable value is finite (a checkpoint is never written from a diverged
 * state, so the last one on disk stays the last good one). */
static bool params_finite(const rt_trainer *t) {
    const float *x = t->m->train_data;
    float acc = 0.0f;
    for (size_t i = 0; i < t->m->n_train; i++)
        acc += x[i] * 0.0f; /* NaN or inf anywhere makes the sum NaN */
    return acc == 0.0f;
}

static int save_checkpoint(rt_trainer *t) {
    if (!params_finite(t))
        return rt_error(RT_ERR_INVALID,
                        "%s: not saved: the weights are not finite at step %lld (training "
                        "diverged); the previous checkpoint is kept",
                        t->ckpt_path, (long long)t->step);
    ckpt_state s = {.config_hash = t->cfg_hash,
                    .step = t->step,
                    .epoch = t->epoch,
                    .cursor = t->cursor,
                    .tokens = t->tokens,
                    .rng = t->m->rng,
                    .optim_t = t->o.t,
                    .best_val = t->best_val,
                    .bad_evals = t->bad_evals,
                    .n = t->m->n_train,
                    .params = t->m->train_data,
                    .m = t->o.m,
                    .v = t->o.v};
    /* The previous checkpoint stays reachable as checkpoint.prev.bin: if the weights just saved
     * turn out to diverge at the next step, that one is the last good state. */
    if (rt_is_file(t->ckpt_path)) {
        unlink(t->prev_ckpt_path);
        if (link(t->ckpt_path, t->prev_ckpt_path) != 0) unlink(t->prev_ckpt_path);
    }
    RT_TRY(ckpt_save(t->ckpt_path, &s));
    t->ckpt_step = t->step;
    return RT_OK;
}

/* After a divergence at step t->step + 1: the checkpoint of step t->step holds the weights that
 * diverged, so it gives way to the one before it (or goes). Returns a phrase for the error. */
static const char *drop_diverged_checkpoint(rt_trainer *t) {
    if (t->rank != 0 || !rt_is_file(t->ckpt_path)) return "";
    if (t->ckpt_step != t->step) return " (the last checkpoint is kept)";
    if (rt_is_file(t->prev_ckpt_path) && rename(t->prev_ckpt_path, t->ckpt_path) == 0)
        return " (the checkpoint of those weights was replaced by the one before it)";
    unlink(t->ckpt_path);
    return " (the checkpoint of those weights was removed; no earlier one exists)";
}

static int load_checkpoint(rt_trainer *t) {
    ckpt_state s = {.config_hash = t->cfg_hash,
                    .n = t->m->n_train,
                    .params = t->m->train_data,
                    .m = t->o.m,
                    .v = t->o.v};
    RT_TRY(ckpt_load(t->ckpt_path, &s));
    t->step = s.step;
    t->epoch = s.epoch;
    t->cursor = s.cursor;
    t->tokens = s.tokens;
    t->m->rng = s.rng;
    t->o.t = s.optim_t;
    t->best_val = s.best_val;
    t->bad_evals = s.bad_evals;
    if (t->cursor > t->d.train.n)
        return rt_error(RT_ERR_FORMAT, "%s: data position %lld beyond the %lld sequences",
                        t->ckpt_path, (long long)t->cursor, (long long)t->d.train.n);
    shuffle_epoch(t);
    t->ckpt_step = t->step;
    rt_log_info("resumed from %s at step %lld", t->ckpt_path, (long long)t->step);
    return RT_OK;
}

/* Drops the log lines of steps after `step` (written after the checkpoint a run resumes from,
 * and about to be redone), so a resumed log has each step once. */
static int truncate_log(const char *path, int64_t step) {
    if (!rt_is_file(path)) return RT_OK;
    char *data;
    size_t len;
    RT_TRY(rt_file_read_all(path, (size_t)1 << 30, &data, &len));
    size_t keep = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - data) + 1 : len;
        long long s = -1;
        if (sscanf(data + i, "{\"step\":%lld", &s) != 1 || s > step || !nl) break;
        keep = end;
        i = end;
    }
    int st = keep == len ? RT_OK : rt_file_write_atomic(path, data, keep);
    free(data);
    return st;
}

/* A JSON number, or null for NaN and infinities (which JSON cannot hold). */
static void log_number(FILE *fp, const char *key, const char *fmt, double v) {
    fprintf(fp, ",\"%s\":", key);
    if (isfinite(v))
        fprintf(fp, fmt, v);
    else
        fputs("null", fp);
}

/* Opens train_log.jsonl (rank 0): appended to after a resume, without the steps redone. */
static int open_log(rt_trainer *t, bool resumed) {
    char *log_path = rt_path_join(t->out_dir, "train_log.jsonl");
    if (!log_path) return RT_ERR_NOMEM;
    int st = resumed ? truncate_log(log_path, t->step) : RT_OK;
    if (st == RT_OK && !(t->log = fopen(log_path, resumed ? "a" : "w")))
        st = rt_error(RT_ERR_IO, "%s: cannot open for writing", log_path);
    free(log_path);
    return st;
}

/* Data-parallel: every process starts from rank 0's state (a checkpoint it resumed from, else
 * its initialization): weights, optimizer moments, data position, RNG and early-stop state. */
static int share_state(rt_trainer *t) {
    if (t->n_ranks == 1) return RT_OK;
    /* the broadcasts below and every step's sums have the sizes of each process's own model:
     * all must hold the same one, or the collectives would not match */
    int64_t h[2] = {(int64_t)(t->cfg_hash >> 1), -(int64_t)(t->cfg_hash >> 1)};
    RT_TRY(dist_allreduce_max_i64(h, 2));
    if (h[0] != -h[1])
        return rt_error(RT_ERR_INVALID,
                        "the processes do not hold the same model (architecture, sizes or LoRA "
                        "settings differ between them): every process must load the same one");
    int64_t c[8] = {t->step,           t->epoch,          t->cursor,     t->tokens,
                    (int64_t)t->m->rng, (int64_t)t->o.t, t->bad_evals, t->ckpt_step};
    RT_TRY(dist_bcast(c, sizeof c, 0));
    RT_TRY(dist_bcast(&t->best_val, sizeof t->best_val, 0));
    RT_TRY(dist_bcast(t->m->train_data, t->m->n_train * sizeof(float), 0));
    if (t->o.m) RT_TRY(dist_bcast(t->o.m, t->m->n_train * sizeof(float), 0));
    if (t->o.v) RT_TRY(dist_bcast(t->o.v, t->m->n_train * sizeof(float), 0));
    if (t->rank == 0) return RT_OK;
    t->step = c[0];
    t->epoch = c[1];
    t->cursor = c[2];
    t->tokens = c[3];
    t->m->rng = (uint64_t)c[4];
    t->o.t = c[5];
    t->bad_evals = (int)c[6];
    t->ckpt_step = c[7];
    shuffle_epoch(t);
    return RT_OK;
}

int rt_trainer_init(const rt_train_params *p, rt_trainer **out) {
    *out = NULL;
    if (!p->train_path) return rt_error(RT_ERR_INVALID, "no training data (train_path)");
    if (!p->out_dir) return rt_error(RT_ERR_INVALID, "no output directory (out_dir)");
    if (p->batch_size <= 0 || p->grad_accum <= 0 || p->seq_len <= 0 || p->max_steps < 0 ||
        !(p->lr >= 0) || p->batch_size > 65536 || p->grad_accum > 65536)
        return rt_error(RT_ERR_INVALID, "batch size, accumulation, sequence length or lr out of "
                                        "range");
    if (p->batch_size % rt_dist_size())
        return rt_error(RT_ERR_INVALID,
                        "the batch of %d sequences does not split over %d processes: give a "
                        "batch that is a multiple of %d (the global batch, as in one process)",
                        p->batch_size, rt_dist_size(), rt_dist_size());
    rt_trainer *t = rt_calloc(1, sizeof *t);
    if (!t) return RT_ERR_NOMEM;
    t->lock_fd = -1;
    t->ckpt_step = -1;
    t->p = *p;
    t->rank = rt_dist_rank();
    t->n_ranks = rt_dist_size();
    t->local_batch = p->batch_size / t->n_ranks;
    bool agreed = false; /* the processes have compared their status (dist_agree) */
    t->best_val = INFINITY;
    int st;
    if ((st = load_tokenizer(t, p)) < 0) goto fail;
    tm_options opt = {0};
    opt.lora_rank = p->lora_rank;
    opt.lora_alpha = p->lora_alpha;
    opt.lora_dropout = p->lora_dropout;
    opt.lora_rslora = p->lora_rslora;
    opt.recompute = p->recompute;
    opt.seed = p->seed;
    if (p->precision && !strcmp(p->precision, "bf16")) {
        opt.bf16 = true;
        if (!rt_gemm_bf16_native() && t->rank == 0)
            rt_log_warn("precision bf16: this CPU has no AVX512-BF16 (or RT_CPU lowered the "
                        "level); the bf16 products are emulated exactly, slower than f32");
    } else if (p->precision && strcmp(p->precision, "f32")) {
        st = rt_error(RT_ERR_INVALID, "training precision '%s' is not one of f32, bf16",
                      p->precision);
        goto fail;
    }
    opt.base_dtype = RT_DTYPE_F32;
    ds_format fmt = DS_FORMAT_AUTO;
    optim_kind ok = OPTIM_ADAMW;
    if ((st = parse_format(p->format, &fmt)) < 0) goto fail;
    if (p->lora_rank > 0) {
        if ((st = parse_targets(p->lora_targets, &opt.lora_targets)) < 0) goto fail;
        if (p->base_dtype && (st = rt_dtype_parse(p->base_dtype, &opt.base_dtype)) < 0) goto fail;
    }
    if (schedule_parse(p->schedule ? p->schedule : "constant", &t->sched) < 0) {
        st = rt_error(RT_ERR_INVALID, "unknown schedule '%s'", p->schedule);
        goto fail;
    }
    if (p->optimizer && !strcmp(p->optimizer, "sgd"))
        ok = OPTIM_SGD;
    else if (p->optimizer && strcmp(p->optimizer, "adamw")) {
        st = rt_error(RT_ERR_INVALID, "unknown optimizer '%s'", p->optimizer);
        goto fail;
    }
    st = RT_ERR_NOMEM;
    t->out_dir = rt_strdup(p->out_dir);
    t->model_path = p->model_path ? rt_strdup(p->model_path) : NULL;
    if (!t->out_dir || (p->model_path && !t->model_path)) goto fail;
    t->p.out_dir = t->out_dir;
    t->p.model_path = t->model_path;
    t->p.train_path = t->p.val_path = NULL; /* not kept */
    if ((st = rt_mkdir_p(t->out_dir)) < 0) goto fail;
    if (t->rank == 0 &&
        (st = rt_dir_lock(t->out_dir, "training output directory", &t->lock_fd)) < 0)
        goto fail;
    if (!(t->ckpt_path = rt_path_join(t->out_dir, "checkpoint.bin"))) goto fail;
    if (!(t->prev_ckpt_path = rt_path_join(t->out_dir, "checkpoint.prev.bin"))) goto fail;

    if ((st = build_model(t, &opt)) < 0) goto fail;
    if (t->n_ranks > 1) {
        size_t bucket_floats;
        if ((st = dist_bucket_floats_from_env(&bucket_floats)) < 0 ||
            (st = dist_grad_reduce_new(t->m->train_grad, t->m->n_train, t->m->grad_bounds,
                                       t->m->cfg.n_layer + 1, bucket_floats, &t->grad_sum)) < 0)
            goto fail;
        if (bucket_floats)
            rt_log_info("data-parallel over %d processes: gradients summed in %d buckets as the "
                        "backward pass finishes them", t->n_ranks,
                        dist_grad_reduce_buckets(t->grad_sum));
        else
            rt_log_info("data-parallel over %d processes: gradients summed after the backward "
                        "pass", t->n_ranks);
    }
    if (p->lora_rank > t->m->cfg.n_embd) {
        st = rt_error(RT_ERR_INVALID,
                      "LoRA rank %d is above the model's hidden size %d (a rank of at most a "
                      "fraction of it is the useful range)",
                      p->lora_rank, t->m->cfg.n_embd);
        goto fail;
    }
    if (t->m->cfg.n_vocab < t->tok->n_vocab) {
        st = rt_error(RT_ERR_INVALID, "the model's vocabulary is smaller than the tokenizer's");
        goto fail;
    }
    ds_params dp = {.train_path = p->train_path,
                    .val_path = p->val_path,
                    .val_fraction = p->val_fraction,
                    .format = fmt,
                    .seq_len = p->seq_len,
                    .pack = p->pack,
                    .seed = p->seed};
    char *cache = rt_path_join(t->out_dir, "token_cache");
    if (!cache) goto fail;
    dp.cache_dir = cache;
    st = dataset_load(&dp, t->tok, &t->d);
    free(cache);
    if (st < 0) goto fail;
    if ((st = optim_init(&t->o, ok, t->m->n_train, p->weight_decay)) < 0) goto fail;
    t->o.beta1 = p->beta1;
    t->o.beta2 = p->beta2;
    t->o.eps = p->eps;
    t->o.momentum = p->momentum;
    if (t->p.max_steps == 0) {
        int64_t per = (int64_t)p->batch_size * p->grad_accum;
        t->p.max_steps = (t->d.train.n + per - 1) / per;
    }
    size_t BT = (size_t)p->batch_size * p->seq_len;
    st = RT_ERR_NOMEM;
    t->perm = rt_malloc((size_t)t->d.train.n * sizeof *t->perm);
    t->inputs = rt_malloc(BT * sizeof *t->inputs);
    t->targets = rt_malloc(BT * sizeof *t->targets);
    t->idx = rt_malloc((size_t)p->batch_size * sizeof *t->idx);
    t->micro_loss = rt_malloc((size_t)p->grad_accum * sizeof *t->micro_loss);
    t->micro_count = rt_malloc((size_t)p->grad_accum * sizeof *t->micro_count);
    if (!t->perm || !t->inputs || !t->targets || !t->idx || !t->micro_loss || !t->micro_count)
        goto fail;
    t->cfg_hash = hash_config(t->m);
    shuffle_epoch(t);
    bool resumed = false;
    if (p->resume && t->rank == 0) {
        if (!rt_is_file(t->ckpt_path)) {
            rt_log_warn("%s: no checkpoint to resume from; starting at step 0", t->ckpt_path);
        } else {
            if ((st = load_checkpoint(t)) < 0) goto fail;
            resumed = true;
            if (t->step >= t->p.max_steps)
                rt_log_warn("%s: the checkpoint is at step %lld, already at or past the %lld "
                            "steps asked for: no training, the result is saved again (give a "
                            "larger --steps to go on)",
                            t->ckpt_path, (long long)t->step, (long long)t->p.max_steps);
        }
    }
    if (t->rank == 0 && (st = open_log(t, resumed)) < 0) goto fail;
    agreed = true;
    if ((st = dist_agree(RT_OK)) < 0 || (st = share_state(t)) < 0) goto fail;
    t->t_start = rt_time_now();
    t->tokens_at_start = t->tokens;
    rt_log_info("training %s: %zu trainable parameters, %lld train / %lld val sequences of %d",
                p->lora_rank ? "LoRA" : "full", t->m->n_train, (long long)t->d.train.n,
                (long long)t->d.val.n, p->seq_len);
    *out = t;
    return RT_OK;
fail:
    if (!agreed) dist_agree(st); /* the others learn of it instead of waiting */
    rt_trainer_free(t);
    return st;
}

void rt_trainer_free(rt_trainer *t) {
    if (!t) return;
    if (t->log) fclose(t->log);
    rt_dir_unlock(t->lock_fd);
    tmodel_free(t->m);
    optim_free(&t->o);
    dataset_free(&t->d);
    free(t->perm);
    free(t->inputs);
    free(t->targets);
    free(t->idx);
    free(t->micro_loss);
    free(t->micro_count);
    dist_grad_reduce_free(t->grad_sum);
    free(t->out_dir);
    free(t->model_path);
    free(t->ckpt_path);
    free(t->prev_ckpt_path);
    if (t->own_tok) rt_tokenizer_free(t->own_tok);
    free(t->tok_src);
    free(t->tok_name);
    free(t);
}

size_t rt_trainer_memory_bytes(const rt_trainer *t) {
    const tmodel *m = t->m;
    size_t b = m->n_store * sizeof(float);
    if (m->grad_store) b += m->n_store * sizeof(float);
    b += 2 * m->n_lora * sizeof(float);
    b += m->n_train * sizeof(float) * (t->o.v ? 2 : 1);
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].t && m->tensors[i].t->owned) b += m->tensors[i].t->nbytes;
    return b + tmodel_activation_bytes(m);
}

int rt_trainer_evaluate(rt_trainer *t, float *val_loss) {
    *val_loss = NAN;
    const ds_split *v = &t->d.val;
    if (!v->n) return RT_OK;
    int B = t->p.batch_size, T = t->p.seq_len;
    int64_t n_batches = (v->n + B - 1) / B;
    if (t->p.eval_batches > 0 && n_batches > t->p.eval_batches) n_batches = t->p.eval_batches;
    double sum = 0.0;
    int64_t count = 0;
    int st = RT_OK;
    /* data-parallel: each process takes its rows of every batch; the sums are all-reduced */
    int first = t->rank * t->local_batch;
    for (int64_t bi = 0; bi < n_batches && st == RT_OK; bi++) {
        int rows = 0;
        for (int b = first; b < first + t->local_batch && bi * B + b < v->n; b++)
            t->idx[rows++] = bi * B + b;
        if (!rows) continue;
        dataset_batch(v, T, t->idx, rows, t->inputs, t->targets);
        float loss;
        int64_t n;
        st = tmodel_step(t->m, t->inputs, t->targets, rows, T, false, 1.0f, &loss, &n);
        sum += (double)loss * (double)n;
        count += n;
    }
    RT_TRY(dist_agree(st));
    int64_t count_all = count;
    RT_TRY(dist_allreduce_f64(&sum, 1));
    RT_TRY(dist_allreduce_i64(&count_all, 1));
    *val_loss = count_all ? (float)(sum / (double)count_all) : NAN;
    return RT_OK;
}

/* The next global batch; this process keeps its rows of it (all of them alone). Returns the
 * number of targets in its rows. */
static int64_t next_batch(rt_trainer *t) {
    int first = t->rank * t->local_batch;
    for (int b = 0; b < t->p.batch_size; b++) {
        if (t->cursor >= t->d.train.n) {
            t->epoch++;
            t->cursor = 0;
            shuffle_epoch(t);
        }
        int64_t row = t->perm[t->cursor++];
        if (b >= first && b < first + t->local_batch) t->idx[b - first] = row;
    }
    dataset_batch(&t->d.train, t->p.seq_len, t->idx, t->local_batch, t->inputs, t->targets);
    int64_t n = 0;
    for (size_t i = 0; i < (size_t)t->local_batch * t->p.seq_len; i++)
        n += t->targets[i] >= 0;
    return n;
}

static void grad_final(void *grad_sum, size_t from) {
    dist_grad_reduce_ready(grad_sum, from);
}

/* The gradients of one accumulation cycle over the process group: each process runs its rows of
 * every micro-batch with grad_scale = n_local / (A n_global), so that the all-reduced sum is the
 * single-process gradient (1/A) sum_a mean over the global micro-batch a. A process that fails
 * keeps calling the collectives and the group stops together at dist_agree. *loss_sum: the sum
 * over micro-batches of the global token-mean loss, as the single-process loop has it. */
static int step_data_parallel(rt_trainer *t, double *loss_sum) {
    tmodel *m = t->m;
    int A = t->p.grad_accum, T = t->p.seq_len;
    int st = RT_OK;
    m->dropout_row0 = (int64_t)t->rank * t->local_batch * T;
    for (int a = 0; a < A; a++) {
        int64_t n_local = next_batch(t), n_global = n_local;
        RT_TRY(dist_allreduce_i64(&n_global, 1));
        t->micro_loss[a] = 0.0;
        t->micro_count[a] = n_global;
        t->tokens += n_global;
        if (st < 0 || !n_local) continue;
        float scale = (float)((double)n_local / ((double)A * (double)n_global)), loss;
        int64_t n;
        if (a == A - 1) { /* the gradients are final as this backward goes: sum them meanwhile */
            m->grad_final = grad_final;
            m->grad_final_user = t->grad_sum;
        }
        st = tmodel_step(m, t->inputs, t->targets, t->local_batch, T, true, scale, &loss, &n);
        m->grad_final = NULL;
        t->micro_loss[a] = (double)loss * (double)n;
    }
    m->dropout_row0 = 0;
    /* every process, whatever its backward did: the buckets not started start here, in the same
     * order on all */
    int summed = dist_grad_reduce_finish(t->grad_sum);
    RT_TRY(dist_agree(st < 0 ? st : summed));
    RT_TRY(dist_allreduce_f64(t->micro_loss, (size_t)A));
    for (int a = 0; a < A; a++)
        *loss_sum += t->micro_count[a] ? (double)(float)(t->micro_loss[a] / (double)t->micro_count[a])
                                       : 0.0;
    return RT_OK;
}

static void write_log_line(rt_trainer *t, const rt_train_step_info *info, double el);

int rt_trainer_step(rt_trainer *t, rt_train_step_info *info) {
    memset(info, 0, sizeof *info);
    info->val_loss = NAN;
    if (t->stopped || t->step >= t->p.max_steps) {
        info->done = true;
        info->step = t->step;
        return RT_OK;
    }
    tmodel *m = t->m;
    int A = t->p.grad_accum;
    memset(m->train_grad, 0, m->n_train * sizeof(float));
    double loss_sum = 0.0;
    if (t->n_ranks == 1) {
        for (int a = 0; a < A; a++) {
            next_batch(t);
            float loss;
            int64_t n;
            RT_TRY(tmodel_step(m, t->inputs, t->targets, t->p.batch_size, t->p.seq_len, true,
                               1.0f / (float)A, &loss, &n));
            loss_sum += loss;
            t->tokens += n;
        }
    } else {
        RT_TRY(step_data_parallel(t, &loss_sum));
    }
    float norm = optim_clip_grad_norm(m->train_grad, m->n_train, t->p.max_grad_norm);
    float lr = (float)((double)t->p.lr *
                       schedule_factor(t->sched, t->step, t->p.warmup_steps, t->p.max_steps));
    if (!isfinite(loss_sum) || !isfinite(norm))
        return rt_error(RT_ERR_INVALID,
                        "training diverged at step %lld: the %s is %s (learning rate %g); the "
                        "update was not applied and nothing more is saved; lower --lr or add "
                        "--warmup%s",
                        (long long)t->step + 1, isfinite(loss_sum) ? "gradient norm" : "loss",
                        isnan(isfinite(loss_sum) ? norm : loss_sum) ? "NaN" : "infinite",
                        (double)lr, drop_diverged_checkpoint(t));
    optim_step(&t->o, m->train_data, m->train_grad, m->params, m->n_params, lr);
    t->step++;
    info->step = t->step;
    info->max_steps = t->p.max_steps;
    info->loss = (float)(loss_sum / A);
    info->grad_norm = norm;
    info->lr = lr;
    info->tokens = t->tokens;
    double el = rt_time_now() - t->t_start;
    info->tokens_per_s = el > 0 ? (double)(t->tokens - t->tokens_at_start) / el : 0.0;

    bool last = t->step >= t->p.max_steps;
    if ((t->p.eval_every > 0 && t->step % t->p.eval_every == 0) || last) {
        float vl;
        RT_TRY(rt_trainer_evaluate(t, &vl));
        if (isinf(vl) || (isnan(vl) && t->d.val.n > 0))
            return rt_error(RT_ERR_INVALID,
                            "training diverged at step %lld: the validation loss is not finite; "
                            "nothing more is saved; lower --lr or add --warmup",
                            (long long)t->step);
        info->val_loss = vl;
        if (!isnan(vl)) {
            if (vl < t->best_val) {
                t->best_val = vl;
                t->bad_evals = 0;
            } else if (++t->bad_evals >= t->p.early_stop_patience && t->p.early_stop_patience > 0) {
                rt_log_info("early stop at step %lld: validation loss %.4f has not improved on "
                            "%.4f for %d evaluations",
                            (long long)t->step, vl, t->best_val, t->bad_evals);
                t->stopped = true;
            }
        }
    }
    if (t->log) write_log_line(t, info, el);
    if (t->p.save_every > 0 && t->step % t->p.save_every == 0 && !last) {
        int st = t->rank == 0 ? save_checkpoint(t) : RT_OK;
        RT_TRY(t->n_ranks > 1 ? dist_agree(st) : st); /* all stop if rank 0 could not save */
    }
    info->done = last || t->stopped;
    return RT_OK;
}

static void write_log_line(rt_trainer *t, const rt_train_step_info *info, double el) {
    float lr = info->lr, norm = info->grad_norm;
    fprintf(t->log, "{\"step\":%lld", (long long)t->step);
    log_number(t->log, "loss", "%.6f", info->loss);
    log_number(t->log, "lr", "%.6g", lr);
    log_number(t->log, "grad_norm", "%.5g", norm);
    fprintf(t->log, ",\"tokens\":%lld", (long long)t->tokens);
    log_number(t->log, "tokens_per_s", "%.1f", info->tokens_per_s);
    log_number(t->log, "elapsed", "%.3f", el);
    if (!isnan(info->val_loss)) log_number(t->log, "val_loss", "%.6f", info->val_loss);
    fputs("}\n", t->log);
    fflush(t->log);
}

static int save_result(rt_trainer *t, const char *dir) {
    if (t->m->opt.lora_rank > 0) {
        RT_TRY(adapter_save_peft(t->m, dir, t->model_path));
        char *gguf = rt_path_join(dir, "adapter.gguf");
        if (!gguf) return RT_ERR_NOMEM;
        int st = adapter_save_gguf(t->m, gguf);
        free(gguf);
        return st;
    }
    rt_model_weights w;
    RT_TRY(tmodel_weights(t->m, &w));
    int st = rt_hf_write(dir, &t->m->cfg, &w);
    rt_model_weights_free(&w, t->m->cfg.n_layer);
    return st;
}

int rt_trainer_save(rt_trainer *t, const char *dir) {
    RT_TRY(save_result(t, dir));
    return t->tok_src ? rt_tokenizer_copy_files(t->tok_src, dir) : RT_OK;
}

/* The last checkpoint and the result (model/ or adapter/). */
static int save_final(rt_trainer *t) {
    RT_TRY(save_checkpoint(t));
    char *dir = rt_path_join(t->out_dir, t->m->opt.lora_rank > 0 ? "adapter" : "model");
    if (!dir) return RT_ERR_NOMEM;
    int st = rt_trainer_save(t, dir);
    if (st == RT_OK) rt_log_info("saved %s", dir);
    free(dir);
    return st;
}

static void progress_quiet(const rt_progress_info *info, void *user) {
    (void)info, (void)user;
}

int rt_trainer_run(rt_trainer *t) {
    rt_progress prog;
    rt_run_callbacks quiet = t->p.callbacks; /* data-parallel: progress from rank 0 only */
    quiet.progress = progress_quiet;
    rt_progress_begin_with(&prog, t->rank == 0 ? &t->p.callbacks : &quiet, "train", "steps",
                           (uint64_t)(t->step > t->p.max_steps ? t->step : t->p.max_steps));
    prog.first = (uint64_t)t->step; /* a resumed run: rates from here */
    rt_train_step_info info = {0};
    char detail[160];
    float last_val = NAN;
    while (1) {
        int cancelled = rt_progress_check_cancel(&prog);
        if (t->n_ranks > 1) cancelled = dist_agree(cancelled); /* all stop at the same step */
        if (cancelled < 0) {
            /* a checkpoint of the last step done, so that resume continues from it (rank 0
             * writes; the message of the cancellation stays the call's error) */
            int st = RT_OK;
            if (t->rank == 0 && t->step > t->ckpt_step) st = save_checkpoint(t);
            if (t->n_ranks > 1) st = dist_agree(st);
            rt_progress_end(&prog, "cancelled");
            return st < 0 ? st : cancelled;
        }
        RT_TRY(rt_trainer_step(t, &info));
        if (!isnan(info.val_loss)) last_val = info.val_loss;
        int n =
            snprintf(detail, sizeof detail, "loss %.4f, %.0f tok/s", info.loss, info.tokens_per_s);
        if (!isnan(last_val))
            snprintf(detail + n, sizeof detail - (size_t)n, ", val %.4f", last_val);
        rt_progress_train_step(&prog, (uint64_t)info.step, detail, &info);
        if (info.done) break;
        if (t->p.stop_after > 0 && t->step >= t->p.stop_after) {
            rt_progress_end(&prog, "stopped");
            return RT_OK; /* as if interrupted: no final checkpoint or model */
        }
    }
    rt_progress_end(&prog, detail);
    int st = t->rank == 0 ? save_final(t) : RT_OK; /* rank 0 writes */
    return t->n_ranks > 1 ? dist_agree(st) : st;     /* and the others learn how it went */
}
