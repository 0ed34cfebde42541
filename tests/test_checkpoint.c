/*
 * test_checkpoint.c — checkpoint files (round trip, truncated / corrupt / foreign files are
 * rejected with an error) and exact resume: a run interrupted after a checkpoint and resumed
 * reproduces the uninterrupted loss curve bit for bit (full training, and LoRA with dropout).
 */
#include "testutil.h"

#include "train/checkpoint.h"
#include "core/error.h"
#include "core/file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_roundtrip_and_corruption(void **state) {
    (void)state;
    char *dir = tu_tmpdir("ckpt");
    char path[1024];
    snprintf(path, sizeof path, "%s/c.bin", dir);
    float p[5] = {1, 2, 3, 4, 5}, m[5] = {.1f, .2f, .3f, .4f, .5f}, v[5] = {9, 8, 7, 6, 5};
    ckpt_state s = {.config_hash = 77,
                    .step = 12,
                    .epoch = 1,
                    .cursor = 3,
                    .tokens = 999,
                    .rng = 0x1234,
                    .optim_t = 12,
                    .best_val = 2.5f,
                    .bad_evals = 1,
                    .n = 5,
                    .params = p,
                    .m = m,
                    .v = v};
    assert_int_equal(ckpt_save(path, &s), 0);
    float p2[5], m2[5], v2[5];
    ckpt_state r = {.config_hash = 77, .n = 5, .params = p2, .m = m2, .v = v2};
    assert_int_equal(ckpt_load(path, &r), 0);
    assert_int_equal(r.step, 12);
    assert_int_equal(r.cursor, 3);
    assert_int_equal(r.rng, 0x1234);
    assert_float_equal(r.best_val, 2.5f, 0);
    assert_memory_equal(p, p2, sizeof p);
    assert_memory_equal(v, v2, sizeof v);
    /* another model */
    r.config_hash = 78;
    assert_int_equal(ckpt_load(path, &r), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "different model"));
    r.config_hash = 77;
    r.n = 4;
    assert_int_equal(ckpt_load(path, &r), RT_ERR_FORMAT);
    r.n = 5;
    /* a flipped byte */
    char *data;
    size_t len;
    assert_int_equal(rt_file_read_all(path, 1 << 20, &data, &len), 0);
    data[100] ^= 1;
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/bad.bin", dir);
    assert_int_equal(rt_file_write_atomic(bad, data, len), 0);
    assert_int_equal(ckpt_load(bad, &r), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "checksum"));
    /* truncated at every length up to the header and a few beyond */
    data[100] ^= 1;
    for (size_t n = 0; n < len; n += (n < 100 ? 1 : 7)) {
        assert_int_equal(rt_file_write_atomic(bad, data, n), 0);
        assert_true(ckpt_load(bad, &r) < 0);
    }
    memcpy(data, "XXXXXXXX", 8);
    assert_int_equal(rt_file_write_atomic(bad, data, len), 0);
    assert_int_equal(ckpt_load(bad, &r), RT_ERR_FORMAT);
    free(data);
    tu_rmtree(dir);
    free(dir);
}

static void write_corpus(const char *path) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    unsigned x = 7;
    for (int i = 0; i < 4000; i++) {
        x = x * 1103515245u + 12345u;
        static const char *words[] = {"the ",   "cat ", "sat ", "on ",  "a ",
                                      "mat.\n", "dog ", "ran ", "far ", "away "};
        fputs(words[(x >> 16) % 10], fp);
    }
    fclose(fp);
}

static rt_train_params small_params(const char *data, const char *out, bool lora) {
    rt_train_params p = rt_train_default_params();
    p.train_path = data;
    p.out_dir = out;
    p.n_layer = 2;
    p.n_embd = 32;
    p.n_head = 4;
    p.n_kv_head = 2;
    p.n_ff = 64;
    p.seq_len = 16;
    p.batch_size = 4;
    p.grad_accum = 2;
    p.max_steps = 12;
    p.lr = 3e-3f;
    p.warmup_steps = 2;
    p.weight_decay = 0.01f;
    p.save_every = 4;
    p.eval_every = 6;
    p.eval_batches = 2;
    p.seed = 5;
    if (lora) {
        p.lora_rank = 4;
        p.lora_alpha = 8;
        p.lora_dropout = 0.1f;
        p.lora_targets = "q,v,down";
    }
    return p;
}

static void run_resume(bool lora) {
    char *dir = tu_tmpdir("resume");
    char data[1024], out_a[1024], out_b[1024];
    snprintf(data, sizeof data, "%s/corpus.txt", dir);
    snprintf(out_a, sizeof out_a, "%s/a", dir);
    snprintf(out_b, sizeof out_b, "%s/b", dir);
    write_corpus(data);
    float curve[12];
    rt_train_params p = small_params(data, out_a, lora);
    rt_trainer *t;
    assert_int_equal(rt_trainer_init(&p, &t), 0);
    rt_train_step_info info;
    for (int s = 0; s < 12; s++) {
        assert_int_equal(rt_trainer_step(t, &info), 0);
        curve[s] = info.loss;
    }
    assert_true(info.done);
    assert_true(curve[11] < curve[0]);
    rt_trainer_free(t);

    /* Interrupted after step 6 (last checkpoint at step 4), then resumed. */
    p = small_params(data, out_b, lora);
    assert_int_equal(rt_trainer_init(&p, &t), 0);
    for (int s = 0; s < 6; s++)
        assert_int_equal(rt_trainer_step(t, &info), 0);
    rt_trainer_free(t);
    p.resume = true;
    assert_int_equal(rt_trainer_init(&p, &t), 0);
    int s = 4;
    do {
        assert_int_equal(rt_trainer_step(t, &info), 0);
        assert_int_equal(info.step, s + 1);
        if (memcmp(&info.loss, &curve[s], sizeof(float)))
            fprintf(stderr, "step %d: resumed %.9g vs %.9g\n", s + 1, info.loss, curve[s]);
        assert_memory_equal(&info.loss, &curve[s], sizeof(float));
        s++;
    } while (!info.done);
    assert_int_equal(s, 12);
    rt_trainer_free(t);
    tu_rmtree(dir);
    free(dir);
}

/* A new temporary directory (returned, malloc'd) with corpus.txt (path in data) and the path of
 * an output directory o/ in out (both 1024 bytes). */
static char *corpus_dir(const char *tag, char *data, char *out) {
    char *dir = tu_tmpdir(tag);
    snprintf(data, 1024, "%s/corpus.txt", dir);
    snprintf(out, 1024, "%s/o", dir);
    write_corpus(data);
    return dir;
}

/* With lr 0 the validation loss never improves: patience 2 stops the run after the third
 * evaluation, and the end of the run still writes the checkpoint and the model. */
static void test_early_stop(void **state) {
    (void)state;
    char data[1024], out[1024], model[1100];
    char *dir = corpus_dir("early", data, out);
    rt_train_params p = small_params(data, out, false);
    p.lr = 0.0f;
    p.eval_every = 1;
    p.early_stop_patience = 2;
    p.save_every = 0;
    rt_trainer *t;
    assert_int_equal(rt_trainer_init(&p, &t), 0);
    rt_train_step_info info;
    int steps = 0;
    do {
        assert_int_equal(rt_trainer_step(t, &info), 0);
        steps++;
    } while (!info.done);
    assert_int_equal(steps, 3);
    rt_trainer_free(t);
    assert_int_equal(rt_trainer_init(&p, &t), 0);
    assert_int_equal(rt_trainer_run(t), 0);
    rt_trainer_free(t);
    snprintf(model, sizeof model, "%s/model/model.safetensors", out);
    assert_true(rt_is_file(model));
    tu_rmtree(dir);
    free(dir);
}

/* Per-call callbacks: progress reaches the call's sink every step (with the step's numbers),
 * and should_cancel stops rt_trainer_run before the step it first returns true, with
 * RT_ERR_CANCELLED, a checkpoint of the last step and no final model; resume continues. */
typedef struct run_watch {
    int progress_calls, step_calls, polls, cancel_at_poll;
    uint64_t last_done;
    bool saw_final;
} run_watch;

static void watch_progress(const rt_progress_info *info, void *user) {
    run_watch *w = user;
    assert_string_equal(info->task, "train");
    w->progress_calls++;
    w->last_done = info->done;
    w->saw_final |= info->final;
    if (info->train_step) {
        assert_false(info->final);
        assert_int_equal(info->train_step->step, (int64_t)info->done);
        assert_true(isfinite(info->train_step->loss));
        assert_int_equal(++w->step_calls, (int)info->done); /* every step, none skipped */
    }
}
static bool watch_cancel(void *user) {
    run_watch *w = user;
    return ++w->polls > w->cancel_at_poll;
}

static void test_run_callbacks(void **state) {
    (void)state;
    char data[1024], out[1024], model[1100];
    char *dir = corpus_dir("callbacks", data, out);
    rt_train_params p = small_params(data, out, false);
    p.max_steps = 6;
    p.save_every = 0;
    run_watch w = {.cancel_at_poll = 3};
    p.callbacks = (rt_run_callbacks){.progress = watch_progress,
                                     .progress_user = &w,
                                     .should_cancel = watch_cancel,
                                     .cancel_user = &w};
    rt_trainer *t;
    assert_int_equal(rt_trainer_init(&p, &t), 0);
    assert_int_equal(rt_trainer_run(t), RT_ERR_CANCELLED);
    assert_non_null(strstr(rt_last_error(), "cancelled at 3 steps"));
    rt_trainer_free(t);
    assert_int_equal(w.polls, 4);
    assert_true(w.saw_final); /* the last report says "cancelled" */
    assert_int_equal(w.last_done, 3);
    assert_int_equal(w.step_calls, 3);
    snprintf(model, sizeof model, "%s/model/model.safetensors", out);
    assert_false(rt_is_file(model));
    char ckpt[1100];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", out);
    assert_true(rt_is_file(ckpt)); /* save_every 0, so written by the cancel */
    /* without should_cancel, resume continues from step 3 to the end and saves the model */
    p.callbacks.should_cancel = NULL;
    p.resume = true;
    w = (run_watch){0};
    assert_int_equal(rt_trainer_init(&p, &t), 0);
    w.step_calls = 3; /* steps 1-3 were the cancelled run's */
    assert_int_equal(rt_trainer_run(t), RT_OK);
    rt_trainer_free(t);
    assert_int_equal(w.last_done, 6);
    assert_int_equal(w.step_calls, 6);
    assert_true(rt_is_file(model));
    tu_rmtree(dir);
    free(dir);
}

static void test_resume_full(void **state) {
    (void)state;
    run_resume(false);
}
static void test_resume_lora(void **state) {
    (void)state;
    run_resume(true);
}

int main(void) {
    rt_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_corruption),
        cmocka_unit_test(test_resume_full),
        cmocka_unit_test(test_resume_lora),
        cmocka_unit_test(test_early_stop),
        cmocka_unit_test(test_run_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
