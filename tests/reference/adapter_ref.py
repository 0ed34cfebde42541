#!/usr/bin/env python3
"""adapter_ref.py — PEFT's LoRA semantics on a Hugging Face GPT-2, in plain PyTorch, for
tests/reference/ref_adapter.c (no peft or transformers needed).

What PEFT does with a LoraConfig on GPT2LMHeadModel, as re-implemented here:
  - target_modules (a list) selects every module whose path equals an entry or ends with
    "." + entry (so "c_proj" means attn.c_proj and mlp.c_proj);
  - per module, rank r and alpha come from rank_pattern / alpha_pattern: the first key k with
    re.match(rf"(.*\\.)?({k})$", module_path), else the config's r / lora_alpha; the scale is
    alpha / r, or alpha / sqrt(r) with use_rslora;
  - GPT-2's Conv1D modules store W as (n_in, n_out) and compute x @ W + b. lora_A.weight is
    (r, n_in) and lora_B.weight (n_out, r) whatever fan_in_fan_out says; the forward adds
    scale * (x @ A^T) @ B^T; merging adds scale * (B @ A)^T to W (fan_in_fan_out transposes).

usage:
  adapter_ref.py base DIR     writes DIR/base (random GPT-2, HF directory), DIR/tokens.i32,
                              DIR/peft (a hand-made adapter shaped as PEFT writes it for GPT-2:
                              fused c_attn with dense B of rank r, c_proj, c_fc, an alpha_pattern
                              entry) and its reference DIR/peft_logits.f32 + DIR/peft_loss.f32
  adapter_ref.py ref DIR ADAPTER OUT_PREFIX [MERGED_DIR]
                              reference logits (OUT_PREFIX_logits.f32, (T, n_vocab)) and mean
                              next-token loss (OUT_PREFIX_loss.f32) of DIR/base + ADAPTER with
                              PEFT's forward (unmerged); with MERGED_DIR also checks that every
                              weight there equals PEFT's merge (max-abs <= 1e-5), exit 1 if not.
"""
import json
import math
import os
import re
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_ref import gelu_new, make_gpt2, save_model_dir, save_safetensors, write_f32  # noqa: E402

SEQ = 24


def load_safetensors(path):
    """{name: f32 tensor} of a safetensors file (F32/F16/BF16)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        raw = data[a:b]
        if e["dtype"] == "F32":
            t = torch.frombuffer(bytearray(raw), dtype=torch.float32)
        elif e["dtype"] == "F16":
            t = torch.frombuffer(bytearray(raw), dtype=torch.float16).float()
        elif e["dtype"] == "BF16":
            t = torch.frombuffer(bytearray(raw), dtype=torch.bfloat16).float()
        else:
            raise ValueError(f"{path}: {name}: dtype {e['dtype']}")
        out[name] = t.reshape(e["shape"]).clone()
    return out


def load_dir(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    P = load_safetensors(os.path.join(d, "model.safetensors"))
    return cfg, P


def is_target(path, targets):
    if isinstance(targets, str):
        return re.fullmatch(targets, path) is not None
    return any(path == t or path.endswith("." + t) for t in targets)


def pattern_key(keys, path):
    for k in keys:
        if re.match(rf"(.*\.)?({k})$", path):
            return k
    return None


def lora_modules(acfg, A, n_layer):
    """{module path: (scale, A (r, n_in), B (n_out, r))} of the GPT-2 modules PEFT targets."""
    mods = {}
    for l in range(n_layer):
        for sub in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
            path = f"transformer.h.{l}.{sub}"
            if not is_target(path, acfg["target_modules"]):
                continue
            rk = pattern_key(list(acfg.get("rank_pattern") or {}), path)
            ak = pattern_key(list(acfg.get("alpha_pattern") or {}), path)
            r = acfg["rank_pattern"][rk] if rk else acfg["r"]
            alpha = acfg["alpha_pattern"][ak] if ak else acfg["lora_alpha"]
            a = A[f"base_model.model.{path}.lora_A.weight"]
            b = A[f"base_model.model.{path}.lora_B.weight"]
            assert a.shape[0] == r and b.shape[1] == r, (path, a.shape, b.shape, r)
            scale = alpha / math.sqrt(r) if acfg.get("use_rslora") else alpha / r
            mods[path] = (scale, a, b)
    return mods


def forward(cfg, P, mods, ids):
    """GPT-2 logits (T, V) with PEFT's LoRA forward on the targeted Conv1D modules."""
    C, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd, T = C // nh, ids.shape[0]

    def conv1d(path, x):
        y = x @ P[path + ".weight"] + P[path + ".bias"]
        if path in mods:
            scale, a, b = mods[path]
            y = y + scale * ((x @ a.T) @ b.T)
        return y

    x = P["transformer.wte.weight"][ids] + P["transformer.wpe.weight"][torch.arange(T)]
    for l in range(cfg["n_layer"]):
        pre = f"transformer.h.{l}."
        h = F.layer_norm(x, (C,), P[pre + "ln_1.weight"], P[pre + "ln_1.bias"], eps)
        q, k, v = conv1d(pre + "attn.c_attn", h).split(C, dim=-1)
        q, k, v = (t.view(T, nh, hd).transpose(0, 1) for t in (q, k, v))
        scores = q @ k.transpose(1, 2) / math.sqrt(hd)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, torch.finfo(torch.float32).min)
        att = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, C)
        x = x + conv1d(pre + "attn.c_proj", att)
        h = F.layer_norm(x, (C,), P[pre + "ln_2.weight"], P[pre + "ln_2.bias"], eps)
        x = x + conv1d(pre + "mlp.c_proj", gelu_new(conv1d(pre + "mlp.c_fc", h)))
    h = F.layer_norm(x, (C,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], eps)
    return h @ P["transformer.wte.weight"].T


def reference(d, adapter_dir, out_prefix):
    cfg, P = load_dir(os.path.join(d, "base"))
    ids = torch.from_numpy(np.fromfile(os.path.join(d, "tokens.i32"), dtype="<i4").astype(np.int64))
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        acfg = json.load(f)
    A = load_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    mods = lora_modules(acfg, A, cfg["n_layer"])
    with torch.inference_mode():
        logits = forward(cfg, P, mods, ids)
        loss = F.cross_entropy(logits[:-1], ids[1:])
    write_f32(out_prefix + "_logits.f32", logits)
    write_f32(out_prefix + "_loss.f32", loss.reshape(1))
    return cfg, P, mods


def check_merged(P, mods, merged_dir):
    """PEFT's merge of a Conv1D module: W (n_in, n_out) += scale * (B @ A)^T."""
    _, M = load_dir(merged_dir)
    worst = 0.0
    for name, w in P.items():
        path = name.rsplit(".", 1)[0]
        want = w
        if name.endswith(".weight") and path in mods:
            scale, a, b = mods[path]
            want = w + scale * (b @ a).T
        if M[name].shape != want.shape:
            print(f"merged {name}: shape {tuple(M[name].shape)}, want {tuple(want.shape)}")
            return 1
        worst = max(worst, (M[name] - want).abs().max().item())
    print(f"merged weights vs PEFT's merge: max-abs {worst:.3g}")
    return 0 if worst <= 1e-5 else 1


def make_base(d):
    gen = torch.Generator().manual_seed(4321)
    cfg, P = make_gpt2(gen, vocab=96, C=32, n_layer=2, nh=4, n_ctx=64)
    save_model_dir(os.path.join(d, "base"), cfg, P)
    ids = torch.randint(0, cfg["vocab_size"], (SEQ,), generator=gen)
    np.asarray(ids.numpy(), dtype="<i4").tofile(os.path.join(d, "tokens.i32"))

    # What PEFT writes for GPT-2 with target_modules ["c_attn", "c_proj", "c_fc"]: one rank-r
    # LoRA per Conv1D module, c_attn's B dense over q, k and v; a per-module alpha for c_fc.
    r, C, Fd = 4, cfg["n_embd"], 4 * cfg["n_embd"]
    acfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": 16,
            "lora_dropout": 0.1, "target_modules": ["c_attn", "c_proj", "c_fc"],
            "rank_pattern": {}, "alpha_pattern": {"c_fc": 32}, "fan_in_fan_out": True,
            "bias": "none", "use_rslora": False, "use_dora": False, "inference_mode": True,
            "base_model_name_or_path": "base", "init_lora_weights": True,
            "layers_to_transform": None, "layers_pattern": None, "modules_to_save": None}
    shapes = {"attn.c_attn": (C, 3 * C), "attn.c_proj": (C, C), "mlp.c_fc": (C, Fd),
              "mlp.c_proj": (Fd, C)}
    T = {}
    for l in range(cfg["n_layer"]):
        for sub, (n_in, n_out) in shapes.items():
            pre = f"base_model.model.transformer.h.{l}.{sub}"
            T[pre + ".lora_A.weight"] = torch.randn(r, n_in, generator=gen) * n_in ** -0.5
            T[pre + ".lora_B.weight"] = torch.randn(n_out, r, generator=gen) * 0.05
    pdir = os.path.join(d, "peft")
    os.makedirs(pdir, exist_ok=True)
    with open(os.path.join(pdir, "adapter_config.json"), "w") as f:
        json.dump(acfg, f, indent=2)
    save_safetensors(os.path.join(pdir, "adapter_model.safetensors"), T)
    reference(d, pdir, os.path.join(d, "peft"))


def main():
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "base":
        make_base(sys.argv[2])
        return 0
    if len(sys.argv) in (5, 6) and sys.argv[1] == "ref":
        d, adapter, prefix = sys.argv[2], sys.argv[3], sys.argv[4]
        _, P, mods = reference(d, adapter, prefix)
        if len(sys.argv) == 6:
            return check_merged(P, mods, sys.argv[5])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
