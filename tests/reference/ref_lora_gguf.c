/*
 * ref_lora_gguf.c — ragtune's llama.cpp GGUF LoRA adapters (adapter_gguf.c) read by an
 * independent parser, npm @huggingface/gguf (tests/reference/lora_gguf_check.js), and held to the
 * rules llama.cpp applies when it loads one (listed in the script, with their sources in
 * llama.cpp): KVs and their types, tensor names and pairs, shapes against the base GGUF that
 * `ragtune convert` writes, dtypes, alignment and offsets.
 *
 * The script also recomputes every adapted weight as llama.cpp applies the adapter,
 * W + (alpha / b->ne[0]) B A, in float64 from the base GGUF and the adapter GGUF, and compares
 * it with the GGUF files `ragtune merge` writes (max-abs <= 1e-6; the weights are O(0.1), the
 * LoRA deltas O(0.01-0.1), so this is float32 rounding); tensors without a LoRA pair must be
 * bit-identical to the base's.
 *
 * A small llama with GQA (llama.cpp permutes wq/wk rows to its interleaved RoPE pairing, so the
 * q/k lora_b rows must follow) and a small gpt2 (llama.cpp fuses q, k, v into attn_qkv, so the
 * adapter has one rank-3r attn_qkv pair and its other pairs padded to rank 3r), LoRA on every
 * projection, every A and B entry nonzero, in two runs each: trained on the Hugging Face
 * directory and trained on the GGUF (for llama: rotate_half and interleaved rows); each adapter
 * is merged into both the HF directory and the GGUF base.
 * Skips (with a message) only when node or the npm package is not installed.
 */
#include "testutil.h"

#include "core/error.h"
#include "core/file.h"
#include "model/hf.h"
#include "model/model_file.h"
#include "train/adapter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_model_config model_cfg(rt_arch arch) {
    bool gpt2 = arch == RT_ARCH_GPT2;
    rt_model_config c = tu_tiny_config(arch, 64, gpt2 ? 128 : 48, 32);
    c.n_kv_head = gpt2 ? 4 : 2;
    c.tied_embeddings = gpt2;
    return c;
}

static bool have_reader(void) {
    if (tu_system("command -v node >/dev/null 2>&1") != 0) {
        fprintf(stderr, "node is not installed: skipping the independent GGUF check\n");
        return false;
    }
    char *pkg = tu_source_path("tests/npm/node_modules/@huggingface/gguf/package.json");
    bool ok = tu_system("test -f '%s'", pkg) == 0;
    free(pkg);
    if (!ok) fprintf(stderr, "npm @huggingface/gguf is not installed (scripts/install-deps.sh)\n");
    return ok;
}

/* A LoRA model on the base at model_path with every A and B entry set; writes its adapter
 * (PEFT + adapter.gguf) to dir. With rslora the scale is alpha / sqrt(r), which the GGUF must
 * carry as the alpha that gives the same scale under llama.cpp's alpha / rank. */
static void write_adapter(const char *model_path, const char *dir, float phase, bool rslora) {
    rt_model_file *mf;
    assert_int_equal(rt_model_file_open(model_path, &mf), RT_OK);
    rt_model_config cfg = *rt_model_file_config(mf);
    tm_options o = {.lora_rank = 4,
                    .lora_alpha = 12,
                    .lora_rslora = rslora,
                    .lora_targets = RT_LORA_ALL, /* gpt2: all but gate, which it lacks */
                    .base_dtype = RT_DTYPE_F32,
                    .seed = 5};
    tmodel *m;
    assert_int_equal(tmodel_new(&cfg, rt_model_file_weights(mf), &o, &m), RT_OK);
    for (size_t i = 0; i < m->n_train; i++)
        m->train_data[i] = 0.2f * sinf((float)i * 0.73f + phase);
    assert_int_equal(adapter_save_peft(m, dir, model_path), RT_OK);
    char *gguf = rt_path_join(dir, "adapter.gguf");
    int st = adapter_save_gguf(m, gguf);
    if (st != RT_OK) fail_msg("adapter_save_gguf: %s", rt_last_error());
    free(gguf);
    tmodel_free(m);
    rt_model_file_close(mf);
}

static void check_arch(rt_arch arch) {
    if (!have_reader()) skip();
    const char *ragtune = getenv("RAGTUNE");
    assert_non_null(ragtune);
    char *d = tu_tmpdir("ref_lora_gguf");

    /* the base: a random model as an HF directory, and `ragtune convert` to GGUF */
    rt_model_config c = model_cfg(arch);
    tm_options full = {.seed = 3};
    tmodel *base;
    assert_int_equal(tmodel_new(&c, NULL, &full, &base), RT_OK);
    rt_model_weights w;
    assert_int_equal(tmodel_weights(base, &w), RT_OK);
    char hf[1024], gguf[1024];
    snprintf(hf, sizeof hf, "%s/base", d);
    snprintf(gguf, sizeof gguf, "%s/base.gguf", d);
    assert_int_equal(rt_hf_write(hf, &c, &w), RT_OK);
    rt_model_weights_free(&w, c.n_layer);
    tmodel_free(base);
    assert_int_equal(tu_system("'%s' convert '%s' '%s' --dtype f32 >/dev/null", ragtune, hf, gguf),
                     0);

    char *script = tu_source_path("tests/reference/lora_gguf_check.js");
    const char *bases[2] = {hf, gguf};
    const char *tags[2] = {"hf", "gguf"};
    for (int run = 0; run < 2; run++) {
        char adapter[1100];
        snprintf(adapter, sizeof adapter, "%s/adapter_%s", d, tags[run]);
        write_adapter(bases[run], adapter, 0.4f * (float)run, run == 1);
        /* merged into the HF directory and into the GGUF, both written as GGUF */
        for (int into = 0; into < 2; into++)
            assert_int_equal(tu_system("'%s' merge --model '%s' --adapter '%s' --out "
                                       "'%s/merged_%s_%s.gguf' >/dev/null",
                                       ragtune, bases[into], adapter, d, tags[run], tags[into]),
                             0);
        printf("adapter trained on the %s base%s:\n", tags[run], run == 1 ? " (rsLoRA)" : "");
        fflush(stdout);
        assert_int_equal(tu_system("node '%s' '%s' '%s/adapter.gguf' '%s/merged_%s_hf.gguf' "
                                   "'%s/merged_%s_gguf.gguf'",
                                   script, gguf, adapter, d, tags[run], d, tags[run]),
                         0);
    }
    free(script);
    tu_rmtree(d);
    free(d);
}

static void test_llama(void **state) {
    (void)state;
    check_arch(RT_ARCH_LLAMA);
}

static void test_gpt2(void **state) {
    (void)state;
    check_arch(RT_ARCH_GPT2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama),
        cmocka_unit_test(test_gpt2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
