/*
 * test_arch.c — model/arch: the architecture table. Names round-trip (GGUF name, HF model_type
 * and class names, including the ones that must not match), and every entry is consistent with
 * what the loaders assume of it (a gate exactly for SiLU-GLU, a fused qkv with one name for
 * q, k and v, learned positions with a position table name, LoRA only for decoders).
 */
#include "testutil.h"
#include "model/arch.h"

#include <string.h>

static const rt_arch all[] = {RT_ARCH_LLAMA, RT_ARCH_QWEN2, RT_ARCH_GPT2, RT_ARCH_BERT};

static void test_names(void **s) {
    (void)s;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const rt_arch_info *a = rt_arch_get(all[i]);
        assert_non_null(a);
        assert_int_equal(a->arch, all[i]);
        assert_string_equal(rt_arch_name(all[i]), a->name);
        assert_int_equal(rt_arch_from_name(a->name), all[i]);
    }
    assert_null(rt_arch_get(RT_ARCH_UNKNOWN));
    assert_string_equal(rt_arch_name(RT_ARCH_UNKNOWN), "unknown");
    assert_int_equal(rt_arch_from_name("mistral"), RT_ARCH_LLAMA);
    assert_int_equal(rt_arch_from_name("falcon"), RT_ARCH_UNKNOWN);
    assert_int_equal(rt_arch_from_name(NULL), RT_ARCH_UNKNOWN);
    assert_int_equal(rt_arch_from_hf_class("LlamaForCausalLM"), RT_ARCH_LLAMA);
    assert_int_equal(rt_arch_from_hf_class("MistralForCausalLM"), RT_ARCH_LLAMA);
    assert_int_equal(rt_arch_from_hf_class("Qwen2ForCausalLM"), RT_ARCH_QWEN2);
    assert_int_equal(rt_arch_from_hf_class("Qwen2MoeForCausalLM"), RT_ARCH_UNKNOWN);
    assert_int_equal(rt_arch_from_hf_class("Qwen2VLForConditionalGeneration"), RT_ARCH_UNKNOWN);
    assert_int_equal(rt_arch_from_hf_class("GPT2LMHeadModel"), RT_ARCH_GPT2);
    assert_int_equal(rt_arch_from_hf_class("BertModel"), RT_ARCH_BERT);
    assert_int_equal(rt_arch_from_hf_class("T5Model"), RT_ARCH_UNKNOWN);
    assert_int_equal(rt_arch_from_hf_class(NULL), RT_ARCH_UNKNOWN);
}

static void test_consistent(void **s) {
    (void)s;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const rt_arch_info *a = rt_arch_get(all[i]);
        bool glu = a->act == RT_ARCH_ACT_SILU_GLU;
        assert_int_equal(a->gguf_linear[RT_LIN_GATE] != NULL, glu);
        assert_int_equal(a->hf_linear[RT_LIN_GATE] != NULL, glu);
        for (int j = 0; j < RT_N_LIN; j++) {
            if (j == RT_LIN_GATE) continue;
            assert_non_null(a->gguf_linear[j]);
            assert_non_null(a->hf_linear[j]);
        }
        if (a->gguf_fused_qkv) {
            assert_string_equal(a->gguf_linear[RT_LIN_Q], a->gguf_linear[RT_LIN_K]);
            assert_string_equal(a->gguf_linear[RT_LIN_Q], a->gguf_linear[RT_LIN_V]);
        } else {
            assert_string_not_equal(a->gguf_linear[RT_LIN_Q], a->gguf_linear[RT_LIN_K]);
        }
        assert_int_equal(a->pos == RT_ARCH_POS_LEARNED, a->hf_pos_embd != NULL);
        assert_int_equal(a->lora_targets != NULL, !a->encoder);
        assert_non_null(a->gguf_norm_eps_key);
        assert_true(a->norm_eps_default > 0);
        assert_non_null(a->hf_prefix);
        assert_non_null(a->hf_write_prefix);
        assert_non_null(strstr(a->hf_layer, "%d"));
        assert_non_null(a->gguf_attn_norm);
        assert_non_null(a->gguf_ffn_norm);
    }
    /* only llama's GGUF files store wq/wk permuted (llama.cpp's converter) */
    assert_true(rt_arch_get(RT_ARCH_LLAMA)->gguf_rope_interleaved);
    assert_false(rt_arch_get(RT_ARCH_QWEN2)->gguf_rope_interleaved);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
