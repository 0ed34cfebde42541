#!/usr/bin/env python3
"""runtime_adapter_ref.py — references for tests/reference/ref_runtime_adapter.c: small random
llama, qwen2 and gpt2 bases (Hugging Face directories), two PEFT LoRA adapters for each, and the
logits PEFT's LoRA semantics give, in plain PyTorch (no peft or transformers needed).

PEFT's semantics (as in adapter_ref.py): a targeted module with weight W computes
y = x W^T + b + scale * (x A^T) B^T, scale = alpha / r (alpha / sqrt(r) with use_rslora), r and
alpha per module from rank_pattern / alpha_pattern. Several adapters active at once (PEFT's
add_weighted_adapter / llama.cpp's several --lora-scaled) add their branches, each multiplied by
its user scale.

usage: runtime_adapter_ref.py DIR
writes, for NAME in llama, qwen2, gpt2:
  DIR/NAME/base          the base model
  DIR/NAME/a1, DIR/NAME/a2   PEFT adapters (a1: every linear, one rank and alpha, so it can also
                         be written as a GGUF LoRA; a2: another rank, rsLoRA, an alpha_pattern)
  DIR/NAME/a1_logits.f32     (T, V) logits of base + a1 (scale 1)
  DIR/NAME/two_logits.f32    (T, V) logits of base + 0.5 a1 + 1.5 a2
  DIR/tokens.i32         the input ids
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_ref  # noqa: E402
from adapter_ref import forward as gpt2_lora_forward  # noqa: E402
from adapter_ref import is_target, pattern_key  # noqa: E402
from model_ref import make_gpt2, make_llama, save_model_dir, save_safetensors, write_f32  # noqa: E402

SEQ = 20
VOCAB = 96
LLAMA_MODULES = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
GPT2_MODULES = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]


def module_shapes(kind, cfg, P, l):
    """{module path: (n_in, n_out)} of layer l."""
    out = {}
    if kind == "gpt2":
        for sub in GPT2_MODULES:
            w = P[f"transformer.h.{l}.{sub}.weight"]  # Conv1D (n_in, n_out)
            out[f"transformer.h.{l}.{sub}"] = (w.shape[0], w.shape[1])
    else:
        for sub in LLAMA_MODULES:
            w = P[f"model.layers.{l}.{sub}.weight"]  # Linear (n_out, n_in)
            out[f"model.layers.{l}.{sub}"] = (w.shape[1], w.shape[0])
    return out


def make_adapter(gen, kind, cfg, P, adir, acfg):
    n_layer = cfg["n_layer"] if kind == "gpt2" else cfg["num_hidden_layers"]
    T = {}
    for l in range(n_layer):
        for path, (n_in, n_out) in module_shapes(kind, cfg, P, l).items():
            if not is_target(path, acfg["target_modules"]):
                continue
            rk = pattern_key(list(acfg.get("rank_pattern") or {}), path)
            r = acfg["rank_pattern"][rk] if rk else acfg["r"]
            T[f"base_model.model.{path}.lora_A.weight"] = torch.randn(r, n_in, generator=gen) * n_in ** -0.5
            T[f"base_model.model.{path}.lora_B.weight"] = torch.randn(n_out, r, generator=gen) * 0.05
    full = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "lora_dropout": 0.0,
            "rank_pattern": {}, "alpha_pattern": {}, "fan_in_fan_out": kind == "gpt2",
            "bias": "none", "use_rslora": False, "use_dora": False, "inference_mode": True,
            "base_model_name_or_path": "base"}
    full.update(acfg)
    os.makedirs(adir, exist_ok=True)
    with open(os.path.join(adir, "adapter_config.json"), "w") as f:
        json.dump(full, f, indent=2)
    save_safetensors(os.path.join(adir, "adapter_model.safetensors"), T)
    return full, T


def lora_modules(kind, cfg, P, adapters):
    """{module path: (1.0, A, B)}: the adapters' branches (each with its user scale and PEFT
    scale) as one LoRA of the summed rank."""
    n_layer = cfg["n_layer"] if kind == "gpt2" else cfg["num_hidden_layers"]
    parts = {}
    for user_scale, acfg, T in adapters:
        for l in range(n_layer):
            for path in module_shapes(kind, cfg, P, l):
                if not is_target(path, acfg["target_modules"]):
                    continue
                rk = pattern_key(list(acfg.get("rank_pattern") or {}), path)
                ak = pattern_key(list(acfg.get("alpha_pattern") or {}), path)
                r = acfg["rank_pattern"][rk] if rk else acfg["r"]
                alpha = acfg["alpha_pattern"][ak] if ak else acfg["lora_alpha"]
                scale = alpha / math.sqrt(r) if acfg.get("use_rslora") else alpha / r
                a = T[f"base_model.model.{path}.lora_A.weight"]
                b = T[f"base_model.model.{path}.lora_B.weight"]
                parts.setdefault(path, []).append((user_scale * scale * a, b))
    return {p: (1.0, torch.cat([a for a, _ in v]), torch.cat([b for _, b in v], dim=1))
            for p, v in parts.items()}


class LoraF:
    """torch.nn.functional with F.linear adding the LoRA branch of the weight it is given."""

    def __init__(self, by_weight):
        self.by_weight = by_weight

    def __getattr__(self, name):
        return getattr(torch.nn.functional, name)

    def linear(self, x, w, b=None):
        y = torch.nn.functional.linear(x, w, b)
        if id(w) in self.by_weight:
            scale, a, bb = self.by_weight[id(w)]
            y = y + scale * ((x @ a.T) @ bb.T)
        return y


def logits_of(kind, cfg, P, mods, ids):
    if kind == "gpt2":
        return gpt2_lora_forward(cfg, P, mods, ids)
    by_weight = {id(P[path + ".weight"]): m for path, m in mods.items()}
    real = model_ref.F
    model_ref.F = LoraF(by_weight)
    try:
        _, logits, _ = model_ref.llama_forward(cfg, P, ids)
    finally:
        model_ref.F = real
    return logits


def build(d, name, seed, ids):
    gen = torch.Generator().manual_seed(seed)
    if name == "gpt2":
        kind = "gpt2"
        cfg, P = make_gpt2(gen, vocab=VOCAB, C=32, n_layer=2, nh=4, n_ctx=64)
        a1 = {"r": 4, "lora_alpha": 8, "target_modules": ["c_attn", "c_proj", "c_fc"]}
        a2 = {"r": 2, "lora_alpha": 3, "use_rslora": True, "target_modules": ["c_attn", "mlp.c_proj"],
              "alpha_pattern": {"c_attn": 5}}
    else:
        kind = "llama"
        qwen = name == "qwen2"
        cfg, P = make_llama(gen, vocab=VOCAB, C=32, n_layer=2, nh=4, nkv=4 if qwen else 2, ff=64,
                            tied=qwen, qwen=qwen, n_ctx=64)
        a1 = {"r": 4, "lora_alpha": 8, "target_modules": [m.split(".")[1] for m in LLAMA_MODULES]}
        a2 = {"r": 2, "lora_alpha": 3, "use_rslora": True,
              "target_modules": ["q_proj", "v_proj", "o_proj", "down_proj"],
              "alpha_pattern": {"down_proj": 5}}
    out = os.path.join(d, name)
    save_model_dir(os.path.join(out, "base"), cfg, P)
    a1cfg, T1 = make_adapter(gen, kind, cfg, P, os.path.join(out, "a1"), a1)
    a2cfg, T2 = make_adapter(gen, kind, cfg, P, os.path.join(out, "a2"), a2)
    if kind == "llama":
        P["_inv_freq"] = model_ref.rope_inv_freq(cfg)
    with torch.inference_mode():
        one = logits_of(kind, cfg, P, lora_modules(kind, cfg, P, [(1.0, a1cfg, T1)]), ids)
        two = logits_of(kind, cfg, P, lora_modules(kind, cfg, P, [(0.5, a1cfg, T1), (1.5, a2cfg, T2)]),
                        ids)
    write_f32(os.path.join(out, "a1_logits.f32"), one)
    write_f32(os.path.join(out, "two_logits.f32"), two)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    d = sys.argv[1]
    ids = torch.randint(0, VOCAB, (SEQ,), generator=torch.Generator().manual_seed(99))
    os.makedirs(d, exist_ok=True)
    np.asarray(ids.numpy(), dtype="<i4").tofile(os.path.join(d, "tokens.i32"))
    for i, name in enumerate(("llama", "qwen2", "gpt2")):
        build(d, name, 2024 + i, ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
