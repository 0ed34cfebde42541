/*
 * jobs.c — files and fine-tuning jobs.
 *
 *   POST   /v1/files                             multipart: purpose=fine-tune, file=@data.jsonl
 *   GET    /v1/files, /v1/files/{id}, /v1/files/{id}/content;  DELETE /v1/files/{id}
 *   POST   /v1/fine_tuning/jobs                  {"model","training_file","suffix"?,
 *                                                 "hyperparameters"?, "ragtune"?: {max_steps,
 *                                                 lora_rank, seq_len, lr, save_every, full}}
 *   GET    /v1/fine_tuning/jobs[/{id}[/events|/checkpoints]];  POST .../{id}/cancel
 *
 * Files live in <data_dir>/files/<id> with <id>.json beside it; jobs in <data_dir>/jobs/<id>.json
 * (the job, its events and checkpoints, rewritten atomically on every change) and the training
 * run in <data_dir>/jobs/<id>/ (checkpoint.bin, train_log.jsonl, adapter/). One worker thread
 * runs one job at a time through rt_trainer_*: validating_files (every line checked, the first
 * bad one named) -> queued -> running -> succeeded | failed | cancelled. A succeeded job's
 * adapter is served as the model ft:BASE:SUFFIX. On shutdown a running job stops between steps
 * and goes back to queued; at the next start it resumes from its last checkpoint (or fails
 * saying why).
 *
 * Compare jobs (ragtune's own routes) run `compare` the same way, through the same worker,
 * records, events, cancellation and restart handling:
 *   POST   /v1/compare/jobs                      {"collection": NAME, "qa_file": FILE_ID,
 *                                                 "strategies"?, "k"?, "max_tokens"?, "steps"?,
 *                                                 "max_questions"?, "seed"?, "search_mode"?,
 *                                                 "seq_len"?, "keep_going"?}
 *   GET    /v1/compare/jobs[/{id}[/events|/report|/report.html]];  POST .../{id}/cancel
 * The run directory <data_dir>/jobs/<id>/ is rt_compare_run's out_dir; its per-strategy cache
 * lets a job interrupted by a shutdown (or a crash: its record still says running) continue
 * where it was at the next start. A strategy that fails fails the job (error code
 * strategy_failed, naming it and why) unless keep_going; its report is served all the same.
 */
#include "server/context.h"
#include "server/request.h"

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { JOB_FINE_TUNE = 0, JOB_COMPARE = 1 };

typedef struct job {
    char id[48];
    int kind;            /* JOB_FINE_TUNE or JOB_COMPARE */
    json_t *obj;         /* the OpenAI job object */
    json_t *events;      /* newest last */
    json_t *checkpoints; /* newest last */
    json_t *options;     /* ragtune's training options */
    bool cancel;
    bool resume; /* continue from the run directory's checkpoint */
    struct job *next;
} job;

struct srv_jobs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *files_dir, *jobs_dir;
    job *list; /* newest first */
    pthread_t worker;
    bool worker_started;
    bool stop;
    job *running;
};

static const char *job_status(job *j) {
    return json_string_value(json_object_get(j->obj, "status"));
}

/* ---- persistence (caller holds mu) ---- */

static void job_save(srv_jobs *js, job *j) {
    json_t *doc = json_pack("{s:i, s:s, s:O, s:O, s:O, s:O, s:b}", "version", 1, "kind",
                            j->kind == JOB_COMPARE ? "compare" : "fine_tune", "job", j->obj,
                            "events", j->events, "checkpoints", j->checkpoints, "options",
                            j->options, "resume", j->resume);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
    json_decref(doc);
    char name[64];
    snprintf(name, sizeof name, "%s.json", j->id);
    char *path = rt_path_join(js->jobs_dir, name);
    if (!text || !path || rt_file_write_atomic(path, text, strlen(text)) != RT_OK)
        rt_log_error("job %s: could not persist: %s", j->id, rt_last_error());
    free(text);
    free(path);
}

static void job_event(srv_jobs *js, job *j, const char *level, json_t *data, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void job_event(srv_jobs *js, job *j, const char *level, json_t *data, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char id[48];
    bool cmp = j->kind == JOB_COMPARE;
    srv_random_id(id, sizeof id, cmp ? "cmpevent-" : "ftevent-");
    /* a long job keeps its last 1000 events (the record is rewritten on each) */
    while (json_array_size(j->events) >= 1000)
        json_array_remove(j->events, 0);
    json_array_append_new(j->events, json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:s}", "object",
                                               cmp ? "compare.job.event" : "fine_tuning.job.event",
                                               "id", id, "created_at",
                                               (json_int_t)time(NULL), "level", level, "message",
                                               msg, "data", data ? data : json_object(), "type",
                                               data ? "metrics" : "message"));
    job_save(js, j);
}

static void job_set_status(srv_jobs *js, job *j, const char *status) {
    json_object_set_new(j->obj, "status", json_string(status));
    if (!strcmp(status, "succeeded") || !strcmp(status, "failed") || !strcmp(status, "cancelled"))
        json_object_set_new(j->obj, "finished_at", json_integer((json_int_t)time(NULL)));
    job_event(js, j, "info", NULL, "Job status: %s", status);
}

static void job_fail(srv_jobs *js, job *j, const char *code, const char *param, const char *msg) {
    json_object_set_new(
        j->obj, "error",
        json_pack("{s:s, s:s, s:s?}", "code", code, "message", msg, "param", param));
    job_event(js, j, "error", NULL, "%s", msg);
    job_set_status(js, j, "failed");
}

/* ---- training data validation ---- */

static bool is_str(json_t *o, const char *k) {
    return json_is_string(json_object_get(o, k));
}

/* Checks every line of a JSONL training file; on the first bad one fills msg naming it. */
static int validate_training_file(const char *path, char *msg, size_t cap, long *n_examples) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return snprintf(msg, cap, "the training file cannot be read"), RT_ERR_IO;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    long lineno = 0, n = 0;
    int rc = RT_OK;
    while ((len = getline(&line, &lcap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0) continue;
        json_error_t e;
        json_t *o = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &e);
        const char *why = NULL;
        if (!o)
            why = e.text;
        else if (!json_is_object(o))
            why = "not a JSON object";
        else if (json_object_get(o, "messages")) {
            json_t *m = json_object_get(o, "messages"), *x;
            size_t i;
            if (!json_is_array(m) || json_array_size(m) == 0)
                why = "'messages' must be a "
                      "non-empty array";
            else
                json_array_foreach(m, i, x) if (!is_str(x, "role") || !is_str(x, "content")) {
                    why = "every message needs string 'role' and 'content'";
                    break;
                }
        } else if (!(is_str(o, "prompt") && is_str(o, "completion")) && !is_str(o, "text") &&
                   !is_str(o, "instruction")) {
            why = "expected {\"messages\": [...]}, {\"prompt\", \"completion\"}, {\"text\"} or "
                  "{\"instruction\", \"output\"}";
        }
        json_decref(o);
        if (why) {
            snprintf(msg, cap, "training file line %ld: %s", lineno, why);
            rc = RT_ERR_FORMAT;
            break;
        }
        n++;
    }
    free(line);
    fclose(fp);
    if (rc == RT_OK && n == 0) {
        snprintf(msg, cap, "the training file has no examples");
        rc = RT_ERR_FORMAT;
    }
    *n_examples = n;
    return rc;
}

/* ---- the worker ---- */

static char *file_path(srv_jobs *js, const char *file_id) {
    return srv_name_valid(file_id) ? rt_path_join(js->files_dir, file_id) : NULL;
}

static json_int_t opt_int(json_t *o, const char *k, json_int_t dflt) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static double opt_num(json_t *o, const char *k, double dflt) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* ---- the per-call callbacks of a running job (rt_run_callbacks) ---- */

typedef struct job_run {
    srv_jobs *js;
    job *j;
    int64_t save_every; /* the run's checkpoint schedule, for the checkpoint records */
    int64_t step;       /* the last step reported */
} job_run;

/* A job stops on its cancel request or at the server's shutdown. */
static bool job_should_stop(void *user) {
    job_run *fr = user;
    pthread_mutex_lock(&fr->js->mu);
    bool stop = fr->j->cancel || fr->js->stop;
    pthread_mutex_unlock(&fr->js->mu);
    return stop;
}

/* Each training step as a job event with its metrics, and on the save schedule a checkpoint
 * record (rt_trainer_run reports every step to a per-call callback). */
static void ft_progress(const rt_progress_info *p, void *user) {
    job_run *fr = user;
    const rt_train_step_info *info = p->train_step;
    if (!info || info->step <= 0 || isnan(info->loss)) return;
    job *j = fr->j;
    pthread_mutex_lock(&fr->js->mu);
    fr->step = info->step;
    json_t *data = json_pack("{s:I, s:I, s:f, s:f}", "step", (json_int_t)info->step,
                             "total_steps", (json_int_t)info->max_steps, "train_loss",
                             (double)info->loss, "learning_rate", (double)info->lr);
    if (!isnan(info->val_loss)) json_object_set_new(data, "valid_loss", json_real(info->val_loss));
    json_object_set_new(j->obj, "trained_tokens", json_integer(info->tokens));
    if (fr->save_every > 0 && info->step % fr->save_every == 0 && !info->done) {
        char cid[48], name[160];
        srv_random_id(cid, sizeof cid, "ftckpt-");
        snprintf(name, sizeof name, "%s:ckpt-step-%lld",
                 json_string_value(json_object_get(j->obj, "fine_tuned_model_name")),
                 (long long)info->step);
        json_array_append_new(j->checkpoints,
                              json_pack("{s:s, s:s, s:I, s:s, s:I, s:{s:I, s:f}, s:s}", "object",
                                        "fine_tuning.job.checkpoint", "id", cid, "created_at",
                                        (json_int_t)time(NULL), "fine_tuned_model_checkpoint",
                                        name, "step_number", (json_int_t)info->step, "metrics",
                                        "step", (json_int_t)info->step, "train_loss",
                                        (double)info->loss, "fine_tuning_job_id", j->id));
    }
    job_event(fr->js, j, "info", data, "Step %lld/%lld: training loss=%.4f",
              (long long)info->step, (long long)info->max_steps, info->loss);
    pthread_mutex_unlock(&fr->js->mu);
}

/* Runs job j (mu is not held; j's JSON is only touched under mu). */
static void run_job(srv *s, job *j) {
    srv_jobs *js = s->jobs;
    char msg[512];
    pthread_mutex_lock(&js->mu);
    char *train = file_path(js, json_string_value(json_object_get(j->obj, "training_file")));
    const char *vf = json_string_value(json_object_get(j->obj, "validation_file"));
    char *val = vf ? file_path(js, vf) : NULL;
    json_t *opt = json_incref(j->options);
    bool resume = j->resume;
    char *run_dir = rt_path_join(js->jobs_dir, j->id);
    if (!resume) job_set_status(js, j, "validating_files");
    pthread_mutex_unlock(&js->mu);

    long n_examples = 0;
    int rc = train ? validate_training_file(train, msg, sizeof msg, &n_examples) : RT_ERR_IO;
    if (!train) snprintf(msg, sizeof msg, "invalid training_file id");
    if (rc == RT_OK && val) {
        long n_val;
        rc = validate_training_file(val, msg + 17, sizeof msg - 17, &n_val);
        if (rc != RT_OK)
            memcpy(msg, "validation file: ", 17);
        else
            msg[0] = 0;
    }
    if (rc != RT_OK) {
        pthread_mutex_lock(&js->mu);
        job_fail(js, j, "invalid_training_file", "training_file", msg);
        pthread_mutex_unlock(&js->mu);
        goto out;
    }

    rt_train_params tp = rt_train_default_params();
    tp.model_path = s->params.model_path;
    tp.tokenizer_path = s->params.tokenizer_path;
    tp.train_path = train;
    tp.val_path = val;
    tp.out_dir = run_dir;
    tp.resume = resume;
    bool full = json_is_true(json_object_get(opt, "full"));
    tp.lora_rank = full ? 0 : (int)opt_int(opt, "lora_rank", 8);
    tp.lora_alpha = (float)opt_num(opt, "lora_alpha", 2.0 * tp.lora_rank);
    int n_ctx = rt_model_n_ctx_train(s->model);
    tp.seq_len = (int)opt_int(opt, "seq_len", n_ctx > 0 && n_ctx < 256 ? n_ctx : 256);
    tp.batch_size = (int)opt_int(opt, "batch_size", 4);
    tp.lr = (float)opt_num(opt, "lr", 1e-3);
    tp.max_steps = opt_int(opt, "max_steps", 0);
    json_int_t epochs = opt_int(opt, "n_epochs", 0);
    if (tp.max_steps == 0 && epochs > 0)
        tp.max_steps = epochs * ((n_examples + tp.batch_size - 1) / tp.batch_size);
    tp.save_every = opt_int(opt, "save_every", 10);
    tp.seed = (uint64_t)opt_int(opt, "seed", 42);
    if (!val) tp.val_fraction = 0;

    /* rt_trainer_run: each step comes back as a job event (ft_progress), a cancel or shutdown
     * stops it between steps with a checkpoint of the last one, and at the end it saves
     * run_dir/adapter (or model) itself */
    job_run fr = {js, j, tp.save_every, 0};
    tp.callbacks = (rt_run_callbacks){.progress = ft_progress,
                                      .progress_user = &fr,
                                      .should_cancel = job_should_stop,
                                      .cancel_user = &fr};
    rt_trainer *tr = NULL;
    pthread_mutex_lock(&js->mu);
    if (j->cancel) {
        job_set_status(js, j, "cancelled");
        pthread_mutex_unlock(&js->mu);
        goto out;
    }
    job_set_status(js, j, "running");
    j->resume = true; /* from here on a restart continues the run directory */
    pthread_mutex_unlock(&js->mu);

    rc = rt_trainer_init(&tp, &tr);
    if (rc != RT_OK) {
        snprintf(msg, sizeof msg, "%s%s", resume ? "cannot resume: " : "", rt_last_error());
        pthread_mutex_lock(&js->mu);
        job_fail(js, j, "training_failed", NULL, msg);
        pthread_mutex_unlock(&js->mu);
        goto out;
    }
    rc = rt_trainer_run(tr);
    pthread_mutex_lock(&js->mu);
    if (rc == RT_ERR_CANCELLED && j->cancel) {
        job_set_status(js, j, "cancelled");
    } else if (rc == RT_ERR_CANCELLED) {
        json_object_set_new(j->obj, "status", json_string("queued"));
        job_event(js, j, "warn", NULL,
                  "Server shutting down at step %lld; the job resumes from there at the next "
                  "start",
                  (long long)fr.step);
    } else if (rc != RT_OK) {
        job_fail(js, j, "training_failed", NULL, rt_last_error());
    } else {
        pthread_mutex_unlock(&js->mu);
        char *adir = rt_path_join(run_dir, full ? "model" : "adapter"); /* saved by the run */
        rc = adir ? RT_OK : RT_ERR_NOMEM;
        const char *name = NULL;
        pthread_mutex_lock(&js->mu);
        name = json_string_value(json_object_get(j->obj, "fine_tuned_model_name"));
        char *model_name = rt_strdup(name);
        pthread_mutex_unlock(&js->mu);
        if (rc == RT_OK && !full)
            rc = srv_adapters_add(&s->adapters, s->model, adir, model_name, 0.0f, NULL);
        pthread_mutex_lock(&js->mu);
        if (rc != RT_OK) {
            job_fail(js, j, "training_failed", NULL, rt_last_error());
        } else {
            json_object_set_new(j->obj, "fine_tuned_model", json_string(model_name));
            json_object_set_new(j->obj, "result_files", json_pack("[s]", adir));
            job_set_status(js, j, "succeeded");
        }
        free(model_name);
        free(adir);
    }
    pthread_mutex_unlock(&js->mu);
    rt_trainer_free(tr);
out:
    json_decref(opt);
    free(train);
    free(val);
    free(run_dir);
}

/* ---- compare jobs ---- */


/* The comparison's progress (each strategy's questions and training steps) as job events. */
static void compare_progress(const rt_progress_info *info, void *user) {
    job_run *cr = user;
    json_t *data = json_pack("{s:s, s:s, s:I, s:I}", "task", info->task, "unit", info->unit, "done",
                             (json_int_t)info->done, "total", (json_int_t)info->total);
    pthread_mutex_lock(&cr->js->mu);
    if (info->total)
        job_event(cr->js, cr->j, "info", data, "%s: %llu/%llu %s%s%s", info->task,
                  (unsigned long long)info->done, (unsigned long long)info->total, info->unit,
                  info->detail ? ", " : "", info->detail ? info->detail : "");
    else
        job_event(cr->js, cr->j, "info", data, "%s: %llu %s%s%s", info->task,
                  (unsigned long long)info->done, info->unit, info->detail ? ", " : "",
                  info->detail ? info->detail : "");
    pthread_mutex_unlock(&cr->js->mu);
}

static void run_compare(srv *s, job *j) {
    srv_jobs *js = s->jobs;
    pthread_mutex_lock(&js->mu);
    json_t *opt = json_incref(j->options);
    char *run_dir = rt_path_join(js->jobs_dir, j->id);
    if (j->cancel) {
        job_set_status(js, j, "cancelled");
        pthread_mutex_unlock(&js->mu);
        goto out;
    }
    job_set_status(js, j, "running");
    pthread_mutex_unlock(&js->mu);

    char *coll_dir = rt_path_join(s->params.data_dir, "collections");
    char *coll = coll_dir ? rt_path_join(coll_dir, json_string_value(json_object_get(opt, "collection")))
                          : NULL;
    char *qa = file_path(js, json_string_value(json_object_get(opt, "qa_file")));
    rt_compare_spec spec = rt_compare_default_spec();
    spec.collection_path = coll;
    spec.qa_path = qa;
    spec.model_path = s->params.model_path;
    spec.out_dir = run_dir;
    const char *strategies = json_string_value(json_object_get(opt, "strategies"));
    if (strategies) spec.strategies = strategies;
    const char *mode = json_string_value(json_object_get(opt, "search_mode"));
    if (mode && strcmp(mode, "bm25") != 0) {
        spec.search_mode = !strcmp(mode, "dense") ? RT_SEARCH_DENSE : RT_SEARCH_HYBRID;
        spec.embedder_path = s->params.embed_model_path;
    }
    spec.k = (int)opt_int(opt, "k", spec.k);
    spec.max_tokens = (int)opt_int(opt, "max_tokens", spec.max_tokens);
    spec.steps = opt_int(opt, "steps", spec.steps);
    spec.max_questions = (size_t)opt_int(opt, "max_questions", 0);
    spec.seed = (uint64_t)opt_int(opt, "seed", (json_int_t)spec.seed);
    int n_ctx = rt_model_n_ctx_train(s->model); /* the model's context bounds the default */
    spec.seq_len =
        (int)opt_int(opt, "seq_len", n_ctx > 0 && n_ctx < spec.seq_len ? n_ctx : spec.seq_len);
    job_run cr = {js, j, 0, 0};
    spec.callbacks = (rt_run_callbacks){.progress = compare_progress,
                                        .progress_user = &cr,
                                        .should_cancel = job_should_stop,
                                        .cancel_user = &cr};
    spec.keep_going = json_is_true(json_object_get(opt, "keep_going"));
    char *report = NULL; /* written, also when a strategy failed */
    int rc = coll && qa ? rt_compare_run(&spec, &report) : RT_ERR_NOMEM;
    pthread_mutex_lock(&js->mu);
    if (report) {
        char url[160];
        snprintf(url, sizeof url, "/v1/compare/jobs/%s/report", j->id);
        json_object_set_new(j->obj, "report", json_string(url));
    }
    free(report);
    if (rc == RT_OK) {
        job_set_status(js, j, "succeeded");
    } else if (j->obj && json_is_string(json_object_get(j->obj, "report"))) {
        job_fail(js, j, "strategy_failed", "strategies", rt_last_error());
    } else if (rc == RT_ERR_CANCELLED && j->cancel) {
        job_set_status(js, j, "cancelled");
    } else if (rc == RT_ERR_CANCELLED) {
        json_object_set_new(j->obj, "status", json_string("queued"));
        job_event(js, j, "warn", NULL,
                  "Server shutting down; the comparison continues from its finished strategies "
                  "at the next start");
    } else {
        job_fail(js, j, "compare_failed", NULL, rt_last_error());
    }
    pthread_mutex_unlock(&js->mu);
    free(coll);
    free(coll_dir);
    free(qa);
out:
    json_decref(opt);
    free(run_dir);
}

static void *worker_main(void *arg) {
    srv *s = arg;
    srv_jobs *js = s->jobs;
    pthread_mutex_lock(&js->mu);
    while (!js->stop) {
        job *next = NULL;
        for (job *j = js->list; j; j = j->next) /* oldest queued first */
            if (!strcmp(job_status(j), "queued") || !strcmp(job_status(j), "validating_files"))
                next = j;
        if (!next) {
            pthread_cond_wait(&js->cv, &js->mu);
            continue;
        }
        js->running = next;
        pthread_mutex_unlock(&js->mu);
        if (next->kind == JOB_COMPARE)
            run_compare(s, next);
        else
            run_job(s, next);
        pthread_mutex_lock(&js->mu);
        js->running = NULL;
    }
    pthread_mutex_unlock(&js->mu);
    return NULL;
}

int srv_jobs_running(srv *s) {
    if (!s->jobs) return 0;
    pthread_mutex_lock(&s->jobs->mu);
    int n = s->jobs->running != NULL;
    pthread_mutex_unlock(&s->jobs->mu);
    return n;
}

/* ---- start-up and shutdown ---- */

static void load_jobs(srv *s) {
    srv_jobs *js = s->jobs;
    DIR *d = opendir(js->jobs_dir);
    if (!d) return;
    struct dirent *e;
    job *loaded = NULL;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
        char *path = rt_path_join(js->jobs_dir, e->d_name);
        json_error_t err;
        json_t *doc = path ? json_load_file(path, 0, &err) : NULL;
        free(path);
        json_t *obj = json_object_get(doc, "job");
        const char *id = json_string_value(json_object_get(obj, "id"));
        if (!id || !json_is_string(json_object_get(obj, "status")) || strlen(id) >= 48) {
            rt_log_warn("jobs: %s is not a job record; skipped", e->d_name);
            json_decref(doc);
            continue;
        }
        job *j = calloc(1, sizeof *j);
        if (!j) break;
        snprintf(j->id, sizeof j->id, "%s", id);
        j->obj = json_incref(obj);
        j->events = json_incref(json_object_get(doc, "events"));
        j->checkpoints = json_incref(json_object_get(doc, "checkpoints"));
        j->options = json_incref(json_object_get(doc, "options"));
        j->resume = json_is_true(json_object_get(doc, "resume"));
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        j->kind = kind && !strcmp(kind, "compare") ? JOB_COMPARE : JOB_FINE_TUNE;
        if (!j->events) j->events = json_array();
        if (!j->checkpoints) j->checkpoints = json_array();
        if (!j->options) j->options = json_object();
        json_decref(doc);
        j->next = loaded;
        loaded = j;
    }
    closedir(d);
    /* newest first by created_at (insertion sort; few jobs) */
    while (loaded) {
        job *j = loaded;
        loaded = j->next;
        json_int_t t = json_integer_value(json_object_get(j->obj, "created_at"));
        job **pp = &js->list;
        while (*pp && json_integer_value(json_object_get((*pp)->obj, "created_at")) > t)
            pp = &(*pp)->next;
        j->next = *pp;
        *pp = j;
    }
    for (job *j = js->list; j; j = j->next) {
        const char *st = job_status(j);
        if (!strcmp(st, "running") || !strcmp(st, "queued") || !strcmp(st, "validating_files")) {
            json_object_set_new(j->obj, "status", json_string("queued"));
            job_event(js, j, "info", NULL, "Server restarted: the job is queued again%s",
                      j->resume ? " and resumes from its last checkpoint" : "");
        } else if (!strcmp(st, "succeeded") && j->kind == JOB_FINE_TUNE) {
            const char *model = json_string_value(json_object_get(j->obj, "fine_tuned_model"));
            char *dir = rt_path_join(js->jobs_dir, j->id);
            char *adir = dir ? rt_path_join(dir, "adapter") : NULL;
            if (model && adir && rt_is_dir(adir) &&
                srv_adapters_add(&s->adapters, s->model, adir, model, 0.0f, NULL) != RT_OK)
                rt_log_warn("job %s: adapter %s cannot be served: %s", j->id, model,
                            rt_last_error());
            free(adir);
            free(dir);
        }
    }
}

int srv_jobs_open(srv *s) {
    srv_jobs *js = rt_calloc(1, sizeof *js);
    if (!js) return RT_ERR_NOMEM;
    pthread_mutex_init(&js->mu, NULL);
    pthread_cond_init(&js->cv, NULL);
    s->jobs = js;
    js->files_dir = rt_path_join(s->params.data_dir, "files");
    js->jobs_dir = rt_path_join(s->params.data_dir, "jobs");
    if (!js->files_dir || !js->jobs_dir) return RT_ERR_NOMEM;
    RT_TRY(rt_mkdir_p(js->files_dir));
    RT_TRY(rt_mkdir_p(js->jobs_dir));
    load_jobs(s);
    if (pthread_create(&js->worker, NULL, worker_main, s) != 0)
        return rt_error(RT_ERR_INTERNAL, "cannot start the fine-tuning worker");
    js->worker_started = true;
    return RT_OK;
}

void srv_jobs_close(srv *s) {
    srv_jobs *js = s->jobs;
    if (!js) return;
    pthread_mutex_lock(&js->mu);
    js->stop = true;
    pthread_cond_broadcast(&js->cv);
    pthread_mutex_unlock(&js->mu);
    if (js->worker_started) pthread_join(js->worker, NULL);
    for (job *j = js->list, *next; j; j = next) {
        next = j->next;
        json_decref(j->obj);
        json_decref(j->events);
        json_decref(j->checkpoints);
        json_decref(j->options);
        free(j);
    }
    free(js->files_dir);
    free(js->jobs_dir);
    pthread_mutex_destroy(&js->mu);
    pthread_cond_destroy(&js->cv);
    free(js);
    s->jobs = NULL;
}

/* ---- files ---- */

typedef struct upload {
    struct MHD_PostProcessor *pp;
    srv *s;
    char purpose[32];
    char filename[129];
    char *tmp_path;
    FILE *fp;
    size_t bytes;
    unsigned long long content_length; /* 0 when not given */
    unsigned long long received;
    bool failed;
} upload;

static void upload_free(void *p) {
    upload *u = p;
    if (u->pp) MHD_destroy_post_processor(u->pp);
    if (u->fp) fclose(u->fp);
    if (u->tmp_path) {
        remove(u->tmp_path);
        free(u->tmp_path);
    }
    free(u);
}

static enum MHD_Result upload_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data, uint64_t off,
                                    size_t size) {
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    upload *u = cls;
    if (!strcmp(key, "purpose")) {
        if (off + size >= sizeof u->purpose) return MHD_NO;
        memcpy(u->purpose + off, data, size);
        u->purpose[off + size] = 0;
        return MHD_YES;
    }
    if (strcmp(key, "file") != 0) return MHD_YES;
    if (!u->fp) {
        char id[48];
        srv_random_id(id, sizeof id, ".upload-");
        u->tmp_path = rt_path_join(u->s->jobs->files_dir, id);
        u->fp = u->tmp_path ? fopen(u->tmp_path, "wb") : NULL;
        if (!u->fp) return MHD_NO;
        /* only the last path component is kept, and only for display */
        const char *base = filename ? strrchr(filename, '/') : NULL;
        snprintf(u->filename, sizeof u->filename, "%s",
                 base       ? base + 1
                 : filename ? filename
                            : "upload");
    }
    if (size && fwrite(data, 1, size, u->fp) != size) return MHD_NO;
    u->bytes += size;
    return MHD_YES;
}

int srv_files_upload_begin(srv *s, srv_request *rq) {
    upload *u = calloc(1, sizeof *u);
    if (!u) return RT_ERR_NOMEM;
    u->s = s;
    u->pp = MHD_create_post_processor(rq->conn, 65536, upload_field, u);
    if (!u->pp) {
        free(u);
        return RT_ERR_INVALID; /* not multipart: the route says so */
    }
    const char *cl = srv_header(rq, "Content-Length");
    if (cl) u->content_length = strtoull(cl, NULL, 10);
    rq->upload = u;
    rq->upload_free = upload_free;
    rq->multipart = true;
    return RT_OK;
}

int srv_files_upload_data(srv *s, srv_request *rq, const char *data, size_t size) {
    (void)s;
    upload *u = rq->upload;
    if (u->failed) return RT_OK;
    u->received += size;
    /* libmicrohttpd 0.9.75 refuses an epilogue after the closing boundary; some clients (the
     * openai npm package) end the body with an extra CRLF there */
    if (u->content_length && u->received == u->content_length)
        while (size >= 4 && !memcmp(data + size - 4, "\r\n\r\n", 4))
            size -= 2;
    if (MHD_post_process(u->pp, data, size) != MHD_YES) u->failed = true;
    return RT_OK;
}

static json_t *file_meta(srv_jobs *js, const char *id) {
    if (!srv_name_valid(id)) return NULL;
    char name[80];
    snprintf(name, sizeof name, "%s.json", id);
    char *path = rt_path_join(js->files_dir, name);
    json_t *o = path ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    return o;
}

static int create_file(srv *s, srv_request *rq) {
    srv_jobs *js = s->jobs;
    upload *u = rq->upload;
    if (!rq->multipart || !u)
        return srv_respond_error(rq, 400, "file", "invalid_request",
                                 "upload the file as multipart/form-data with fields 'purpose' "
                                 "and 'file'");
    if (u->failed)
        return srv_respond_error(rq, 400, "file", "invalid_request",
                                 "the multipart body could not be read");
    if (strcmp(u->purpose, "fine-tune") != 0)
        return srv_respond_error(rq, 400, "purpose", "invalid_request",
                                 "'purpose' must be \"fine-tune\" (got \"%s\")", u->purpose);
    if (!u->fp || u->bytes == 0)
        return srv_respond_error(rq, 400, "file", "invalid_request",
                                 "the 'file' field is "
                                 "missing or empty");
    if (fclose(u->fp) != 0) {
        u->fp = NULL;
        return srv_respond_error(rq, 500, NULL, NULL, "could not store the file");
    }
    u->fp = NULL;
    char id[48];
    srv_random_id(id, sizeof id, "file-");
    char *path = rt_path_join(js->files_dir, id);
    if (!path || rename(u->tmp_path, path) != 0) {
        free(path);
        return srv_respond_error(rq, 500, NULL, NULL, "could not store the file");
    }
    free(u->tmp_path);
    u->tmp_path = NULL;
    json_t *meta =
        json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "id", id, "object", "file", "bytes",
                  (json_int_t)u->bytes, "created_at", (json_int_t)time(NULL), "filename",
                  u->filename, "purpose", "fine-tune", "status", "processed");
    if (!meta) { /* a filename that is not UTF-8 */
        meta = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "id", id, "object", "file", "bytes",
                         (json_int_t)u->bytes, "created_at", (json_int_t)time(NULL), "filename",
                         "upload", "purpose", "fine-tune", "status", "processed");
    }
    char *text = json_dumps(meta, JSON_COMPACT);
    char mname[80];
    snprintf(mname, sizeof mname, "%s.json", id);
    char *mpath = rt_path_join(js->files_dir, mname);
    int rc = text && mpath ? rt_file_write_atomic(mpath, text, strlen(text)) : RT_ERR_NOMEM;
    free(text);
    free(mpath);
    if (rc != RT_OK) {
        remove(path);
        free(path);
        json_decref(meta);
        return srv_respond_error(rq, 500, NULL, NULL, "could not store the file: %s",
                                 rt_last_error());
    }
    free(path);
    return srv_respond_json(rq, 200, meta);
}

int srv_route_files(srv *s, srv_request *rq) {
    srv_jobs *js = s->jobs;
    const char *rest = rq->path + strlen("/v1/files");
    if (*rest == 0) {
        if (!strcmp(rq->method, "POST")) return create_file(s, rq);
        if (strcmp(rq->method, "GET") != 0)
            return srv_respond_error(rq, 405, NULL, "method_not_allowed", "use GET or POST");
        json_t *data = json_array();
        DIR *d = opendir(js->files_dir);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n < 6 || e->d_name[0] == '.' || strcmp(e->d_name + n - 5, ".json") != 0) continue;
            char id[80];
            snprintf(id, sizeof id, "%.*s", (int)(n - 5), e->d_name);
            json_t *m = file_meta(js, id);
            if (m) json_array_append_new(data, m);
        }
        if (d) closedir(d);
        return srv_respond_json(
            rq, 200, json_pack("{s:s, s:o, s:b}", "object", "list", "data", data, "has_more", 0));
    }
    char id[80];
    size_t n = strcspn(rest + 1, "/");
    if (n == 0 || n >= sizeof id)
        return srv_respond_error(rq, 400, "file_id", "invalid_request", "invalid file id");
    memcpy(id, rest + 1, n);
    id[n] = 0;
    const char *sub = rest + 1 + n;
    json_t *meta = file_meta(js, id);
    if (!meta)
        return srv_respond_error(rq, srv_name_valid(id) ? 404 : 400, "file_id", "not_found",
                                 "no file '%s'", srv_name_valid(id) ? id : "(invalid id)");
    if (*sub == 0 && !strcmp(rq->method, "GET")) return srv_respond_json(rq, 200, meta);
    json_decref(meta);
    char *path = file_path(js, id);
    if (!strcmp(sub, "/content") && !strcmp(rq->method, "GET")) {
        char *data = NULL;
        size_t len = 0;
        int rc = path ? rt_file_read_all(path, s->params.max_upload, &data, &len) : RT_ERR_IO;
        free(path);
        if (rc != RT_OK) return srv_respond_error(rq, 500, NULL, NULL, "%s", rt_last_error());
        int ret = srv_respond_bytes(rq, 200, "application/octet-stream", data, len);
        free(data);
        return ret;
    }
    if (*sub == 0 && !strcmp(rq->method, "DELETE")) {
        char mname[96];
        snprintf(mname, sizeof mname, "%s.json", id);
        char *mpath = rt_path_join(js->files_dir, mname);
        if (mpath) remove(mpath);
        if (path) remove(path);
        free(mpath);
        free(path);
        return srv_respond_json(
            rq, 200, json_pack("{s:s, s:s, s:b}", "id", id, "object", "file", "deleted", 1));
    }
    free(path);
    return srv_respond_error(rq, 404, NULL, "not_found", "no route for %s %s", rq->method,
                             rq->path);
}

/* ---- fine-tuning jobs ---- */

static bool suffix_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 40) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* Registers j (options, events, checkpoints and obj set; obj NULL when building it failed) as
 * the newest job and wakes the worker; answers with a copy of its object. Takes j. */
static int add_job(srv_jobs *js, srv_request *rq, job *j, const char *what) {
    if (!j->obj || !j->events || !j->checkpoints) {
        json_decref(j->obj);
        json_decref(j->options);
        json_decref(j->events);
        json_decref(j->checkpoints);
        free(j);
        return srv_respond_error(rq, 500, NULL, NULL, "could not create the job");
    }
    pthread_mutex_lock(&js->mu);
    j->next = js->list;
    js->list = j;
    job_event(js, j, "info", NULL, "Created %s job: %s", what, j->id);
    json_t *copy = json_deep_copy(j->obj);
    pthread_cond_broadcast(&js->cv);
    pthread_mutex_unlock(&js->mu);
    return srv_respond_json(rq, 200, copy);
}

/* POST /v1/fine_tuning/jobs with its body root (borrowed). */
static int create_job(srv *s, srv_request *rq, json_t *root) {
    srv_jobs *js = s->jobs;
    int ret;
    json_t *model = json_object_get(root, "model"), *tf = json_object_get(root, "training_file");
    json_t *vf = json_object_get(root, "validation_file"),
           *suffix = json_object_get(root, "suffix");
    json_t *hp = json_object_get(root, "hyperparameters");
    json_t *method = json_object_get(root, "method");
    json_t *ext = json_object_get(root, "ragtune");
    json_t *mhp = json_object_get(json_object_get(method, "supervised"), "hyperparameters");
    if (mhp && !hp) hp = mhp;
    if (!json_is_string(model)) {
        ret = srv_respond_error(rq, 400, "model", "invalid_request", "'model' must be a string");
        goto done;
    }
    if (strcmp(json_string_value(model), s->model_id) != 0) {
        ret = srv_respond_error(rq, 404, "model", "model_not_found",
                                "model '%s' cannot be fine-tuned here (this server serves '%s')",
                                json_string_value(model), s->model_id);
        goto done;
    }
    if (!json_is_string(tf) || !srv_name_valid(json_string_value(tf))) {
        ret = srv_respond_error(rq, 400, "training_file", "invalid_request",
                                "'training_file' must be a file id");
        goto done;
    }
    json_t *meta = file_meta(js, json_string_value(tf));
    json_decref(meta);
    if (!meta) {
        ret = srv_respond_error(rq, 404, "training_file", "file_not_found", "no file '%s'",
                                json_string_value(tf));
        goto done;
    }
    if (vf && !json_is_null(vf)) {
        meta = json_is_string(vf) ? file_meta(js, json_string_value(vf)) : NULL;
        json_decref(meta);
        if (!meta) {
            ret = srv_respond_error(rq, 400, "validation_file", "file_not_found",
                                    "'validation_file' must be an uploaded file id");
            goto done;
        }
    } else {
        vf = NULL;
    }
    if (suffix && !json_is_null(suffix) &&
        (!json_is_string(suffix) || !suffix_valid(json_string_value(suffix)))) {
        ret = srv_respond_error(rq, 400, "suffix", "invalid_request",
                                "'suffix' must be 1..40 letters, digits, '-' or '_'");
        goto done;
    }
    if ((hp && !json_is_null(hp) && !json_is_object(hp)) ||
        (ext && !json_is_null(ext) && !json_is_object(ext))) {
        ret = srv_respond_error(rq, 400, "hyperparameters", "invalid_request",
                                "'hyperparameters' and 'ragtune' must be objects");
        goto done;
    }
    /* ragtune's options: OpenAI's hyperparameters mapped, then the extension object */
    json_t *opt = json_object();
    static const char *ints[] = {"max_steps",  "lora_rank", "seq_len", "batch_size",
                                 "save_every", "n_epochs",  "seed"};
    if (json_is_integer(json_object_get(hp, "n_epochs")))
        json_object_set(opt, "n_epochs", json_object_get(hp, "n_epochs"));
    if (json_is_integer(json_object_get(hp, "batch_size")))
        json_object_set(opt, "batch_size", json_object_get(hp, "batch_size"));
    if (json_is_number(json_object_get(hp, "learning_rate_multiplier")))
        json_object_set_new(
            opt, "lr",
            json_real(1e-3 * json_number_value(json_object_get(hp, "learning_rate_multiplier"))));
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        json_t *v = json_object_get(ext, ints[i]);
        if (!v) continue;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000) {
            json_decref(opt);
            ret = srv_respond_error(rq, 400, ints[i], "invalid_request",
                                    "ragtune.%s must be a non-negative integer", ints[i]);
            goto done;
        }
        json_object_set(opt, ints[i], v);
    }
    if (json_is_number(json_object_get(ext, "lr")))
        json_object_set(opt, "lr", json_object_get(ext, "lr"));
    if (json_is_true(json_object_get(ext, "full"))) json_object_set_new(opt, "full", json_true());
    if (json_is_integer(json_object_get(root, "seed")))
        json_object_set(opt, "seed", json_object_get(root, "seed"));

    job *j = calloc(1, sizeof *j);
    if (!j) {
        json_decref(opt);
        ret = srv_respond_error(rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    srv_random_id(j->id, sizeof j->id, "ftjob-");
    char ft_name[200];
    snprintf(ft_name, sizeof ft_name, "ft:%s:%s", s->model_id,
             suffix && json_is_string(suffix) ? json_string_value(suffix) : j->id + 6);
    j->options = opt;
    j->events = json_array();
    j->checkpoints = json_array();
    json_t *hyper = json_pack(
        "{s:o, s:o, s:f}", "n_epochs",
        json_object_get(opt, "n_epochs") ? json_incref(json_object_get(opt, "n_epochs"))
                                         : json_string("auto"),
        "batch_size",
        json_object_get(opt, "batch_size") ? json_incref(json_object_get(opt, "batch_size"))
                                           : json_integer(4),
        "learning_rate_multiplier", 1.0);
    j->obj = json_pack(
        "{s:s, s:s, s:s, s:I, s:n, s:n, s:s, s:s, s:O, s:o, s:[], s:I, s:n, "
        "s:s, s:O, s:{s:s}, s:s}",
        "id", j->id, "object", "fine_tuning.job", "model", s->model_id, "created_at",
        (json_int_t)time(NULL), "finished_at", "fine_tuned_model", "status", "validating_files",
        "training_file", json_string_value(tf), "validation_file", vf ? vf : json_null(),
        "hyperparameters", hyper, "result_files", "trained_tokens", (json_int_t)0, "error",
        "organization_id", "ragtune", "suffix",
        suffix && json_is_string(suffix) ? suffix : json_null(), "method", "type",
        json_is_true(json_object_get(opt, "full")) ? "supervised-full" : "supervised-lora",
        "fine_tuned_model_name", ft_name);
    ret = add_job(js, rq, j, "fine-tuning");
done:
    return ret;
}

/* POST /v1/compare/jobs with its body root (borrowed). */
static int create_compare_job(srv *s, srv_request *rq, json_t *root) {
    srv_jobs *js = s->jobs;
    int ret;
    json_t *coll = json_object_get(root, "collection"), *qa = json_object_get(root, "qa_file");
    json_t *strategies = json_object_get(root, "strategies");
    json_t *mode = json_object_get(root, "search_mode");
    char *coll_dir = rt_path_join(s->params.data_dir, "collections");
    char *coll_path = coll_dir && json_is_string(coll) && srv_name_valid(json_string_value(coll))
                          ? rt_path_join(coll_dir, json_string_value(coll))
                          : NULL;
    free(coll_dir);
    json_t *meta = json_is_string(qa) ? file_meta(js, json_string_value(qa)) : NULL;
    json_decref(meta);
    if (!coll_path || !rt_is_dir(coll_path)) {
        bool named = json_is_string(coll) && srv_name_valid(json_string_value(coll));
        ret = srv_respond_error(rq, named ? 404 : 400, "collection",
                                "invalid_request", "'collection' must name an existing collection");
        goto done;
    }
    if (!meta) {
        ret = srv_respond_error(rq, json_is_string(qa) ? 404 : 400, "qa_file", "invalid_request",
                                "'qa_file' must be the id of an uploaded QA JSONL file");
        goto done;
    }
    rt_strategy_kind kind;
    if (strategies && !json_is_null(strategies)) {
        const char *list = json_string_value(strategies);
        char name[32];
        bool ok = list && *list;
        for (const char *p = list; ok && *p;) {
            size_t n = strcspn(p, ",");
            ok = n > 0 && n < sizeof name;
            if (ok) {
                memcpy(name, p, n);
                name[n] = 0;
                ok = rt_strategy_parse(name, &kind) == RT_OK;
            }
            p += n + (p[n] == ',');
        }
        if (!ok) {
            ret = srv_respond_error(rq, 400, "strategies", "invalid_request",
                                    "'strategies' must be a comma-separated list of base, rag, "
                                    "ft, lora, ft+rag, lora+rag, raft");
            goto done;
        }
    }
    const char *m = json_string_value(mode);
    if (mode && !json_is_null(mode) &&
        !(m && (!strcmp(m, "bm25") || ((!strcmp(m, "dense") || !strcmp(m, "hybrid")) &&
                                       s->params.embed_model_path)))) {
        ret = srv_respond_error(rq, 400, "search_mode", "invalid_request",
                                "'search_mode' must be bm25%s",
                                s->params.embed_model_path ? ", dense or hybrid"
                                                           : " (no embedding model)");
        goto done;
    }
    json_t *opt = json_pack("{s:O, s:O}", "collection", coll, "qa_file", qa);
    if (strategies && !json_is_null(strategies)) json_object_set(opt, "strategies", strategies);
    if (m) json_object_set(opt, "search_mode", mode);
    json_t *keep_going = json_object_get(root, "keep_going");
    if (keep_going && !json_is_null(keep_going)) {
        if (!json_is_boolean(keep_going)) {
            json_decref(opt);
            ret = srv_respond_error(rq, 400, "keep_going", "invalid_request",
                                    "'keep_going' must be true or false");
            goto done;
        }
        json_object_set(opt, "keep_going", keep_going);
    }
    static const char *ints[] = {"k", "max_tokens", "steps", "max_questions", "seed", "seq_len"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        json_t *v = json_object_get(root, ints[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000) {
            json_decref(opt);
            ret = srv_respond_error(rq, 400, ints[i], "invalid_request",
                                    "'%s' must be an integer from 1 to 1000000", ints[i]);
            goto done;
        }
        json_object_set(opt, ints[i], v);
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        json_decref(opt);
        ret = srv_respond_error(rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    j->kind = JOB_COMPARE;
    srv_random_id(j->id, sizeof j->id, "cmpjob-");
    j->options = opt;
    j->events = json_array();
    j->checkpoints = json_array();
    j->obj = json_pack("{s:s, s:s, s:s, s:I, s:n, s:s, s:O, s:n, s:n}", "id", j->id, "object",
                       "compare.job", "model", s->model_id, "created_at", (json_int_t)time(NULL),
                       "finished_at", "status", "queued", "options", opt, "error", "report");
    ret = add_job(js, rq, j, "compare");
done:
    free(coll_path);
    return ret;
}

/* GET .../{id}/report and /report.html of a succeeded compare job (caller holds no lock). */
static int compare_report(srv_jobs *js, srv_request *rq, const char *id, bool html) {
    char *dir = rt_path_join(js->jobs_dir, id);
    char *path = dir ? rt_path_join(dir, "report.json") : NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = path ? rt_file_read_all(path, 256u << 20, &text, &len) : RT_ERR_NOMEM;
    free(dir);
    free(path);
    if (rc != RT_OK)
        return srv_respond_error(rq, 500, NULL, NULL, "job %s: cannot read its report: %s", id,
                                 rt_last_error());
    int ret;
    if (html) {
        char *page = NULL;
        rc = rt_report_html(text, &page);
        ret = rc == RT_OK ? srv_respond_bytes(rq, 200, "text/html; charset=utf-8", page,
                                              strlen(page))
                          : srv_respond_error(rq, 500, NULL, NULL, "job %s: %s", id,
                                              rt_last_error());
        free(page);
    } else {
        ret = srv_respond_bytes(rq, 200, "application/json", text, len);
    }
    free(text);
    return ret;
}

static json_t *newest_first(json_t *arr) {
    json_t *out = json_array();
    for (size_t i = json_array_size(arr); i-- > 0;)
        json_array_append_new(out, json_deep_copy(json_array_get(arr, i)));
    return out;
}

/* The routes of one kind of job under prefix. */
static int route_jobs(srv *s, srv_request *rq, int kind, const char *prefix) {
    srv_jobs *js = s->jobs;
    const char *rest = rq->path + strlen(prefix);
    const char *id_param = kind == JOB_COMPARE ? "compare_job_id" : "fine_tuning_job_id";
    bool get = !strcmp(rq->method, "GET"), post = !strcmp(rq->method, "POST");
    if (*rest == 0) {
        if (post) {
            json_t *root;
            char msg[512];
            if (srv_json_object_parse(rq->body, rq->body_len, &root, msg, sizeof msg) != RT_OK)
                return srv_respond_error(rq, 400, NULL, "invalid_request", "%s", msg);
            int ret = kind == JOB_COMPARE ? create_compare_job(s, rq, root)
                                          : create_job(s, rq, root);
            json_decref(root);
            return ret;
        }
        if (!get) return srv_respond_error(rq, 405, NULL, "method_not_allowed", "use GET/POST");
        json_t *data = json_array();
        pthread_mutex_lock(&js->mu);
        for (job *j = js->list; j; j = j->next)
            if (j->kind == kind) json_array_append_new(data, json_deep_copy(j->obj));
        pthread_mutex_unlock(&js->mu);
        return srv_respond_json(
            rq, 200, json_pack("{s:s, s:o, s:b}", "object", "list", "data", data, "has_more", 0));
    }
    char id[64];
    size_t n = strcspn(rest + 1, "/");
    if (n == 0 || n >= sizeof id)
        return srv_respond_error(rq, 400, id_param, "invalid_request", "invalid id");
    memcpy(id, rest + 1, n);
    id[n] = 0;
    const char *sub = rest + 1 + n;
    pthread_mutex_lock(&js->mu);
    job *j = js->list;
    while (j && (strcmp(j->id, id) != 0 || j->kind != kind))
        j = j->next;
    json_t *out = NULL;
    int status = 200;
    if (!j) {
        pthread_mutex_unlock(&js->mu);
        return srv_respond_error(rq, 404, id_param, "not_found", "no job '%s'",
                                 srv_name_valid(id) ? id : "(invalid id)");
    }
    bool report = kind == JOB_COMPARE && get &&
                  (!strcmp(sub, "/report") || !strcmp(sub, "/report.html"));
    if (report) {
        /* a job whose strategy failed has its report too (the failure is in it) */
        bool done = json_is_string(json_object_get(j->obj, "report")) &&
                    (!strcmp(job_status(j), "succeeded") || !strcmp(job_status(j), "failed"));
        pthread_mutex_unlock(&js->mu);
        if (!done)
            return srv_respond_error(rq, 409, NULL, "job_not_finished",
                                     "job %s has no report: it has not finished", id);
        return compare_report(js, rq, id, !strcmp(sub, "/report.html"));
    }
    if (*sub == 0 && get) {
        out = json_deep_copy(j->obj);
    } else if (!strcmp(sub, "/events") && get) {
        out = json_pack("{s:s, s:o, s:b}", "object", "list", "data", newest_first(j->events),
                        "has_more", 0);
    } else if (!strcmp(sub, "/checkpoints") && get && kind == JOB_FINE_TUNE) {
        out = json_pack("{s:s, s:o, s:b}", "object", "list", "data", newest_first(j->checkpoints),
                        "has_more", 0);
    } else if (!strcmp(sub, "/cancel") && post) {
        const char *st = job_status(j);
        if (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "cancelled")) {
            pthread_mutex_unlock(&js->mu);
            return srv_respond_error(rq, 409, NULL, "job_finished",
                                     "job %s has already finished (%s)", id, st);
        }
        j->cancel = true;
        if (js->running != j) job_set_status(js, j, "cancelled");
        out = json_deep_copy(j->obj);
        if (js->running == j) json_object_set_new(out, "status", json_string("cancelled"));
    } else {
        pthread_mutex_unlock(&js->mu);
        return srv_respond_error(rq, 404, NULL, "not_found", "no route for %s %s", rq->method,
                                 rq->path);
    }
    pthread_mutex_unlock(&js->mu);
    return srv_respond_json(rq, status, out);
}

int srv_route_jobs(srv *s, srv_request *rq) {
    return route_jobs(s, rq, JOB_FINE_TUNE, "/v1/fine_tuning/jobs");
}

int srv_route_compare_jobs(srv *s, srv_request *rq) {
    return route_jobs(s, rq, JOB_COMPARE, "/v1/compare/jobs");
}
