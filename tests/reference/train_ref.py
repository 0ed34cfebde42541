#!/usr/bin/env python3
"""train_ref.py — PyTorch reference for ragtune's training layer (tests/reference/ref_grad.c).

Builds small random-initialized decoder models in plain torch with Hugging Face semantics and
module names (llama, qwen2, gpt2 written out by hand: no `transformers` package here), runs one
batch with a loss mask and saves the loss and the gradients of every trained tensor; or runs a
short AdamW training and saves the loss curve.

usage:
  train_ref.py grad  OUT key=value...   full-training gradients
  train_ref.py lora  OUT key=value...   LoRA A/B gradients (PEFT semantics, B random)
  train_ref.py adamw OUT key=value...   loss curve of a short AdamW run

Files written to OUT (little-endian):
  params.txt / params.bin   "name numel" lines and the f32 values, in that order (initial weights)
  grads.txt / grads.bin     the same for the gradients of trained tensors
  batch.bin                 int32 inputs (B*T) then targets (B*T); -1 = masked
  loss.bin                  f32 loss (grad/lora) or the per-step losses (adamw)
  config.json, model.safetensors   the model as a Hugging Face directory (hand-written format)
Gradients are computed in float64 from the f32 weights, so they are the exact reference.
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def parse_args(argv):
    cfg = dict(arch="llama", vocab=67, embd=32, layer=2, head=4, kv_head=2, ff=48, ctx=32,
               B=2, T=12, theta=10000.0, interleaved=0, tied=0, eps=1e-5, scaling=0.0,
               low=1.0, high=4.0, orig=64, seed=1, rank=4, alpha=8.0, steps=30, lr=1e-2,
               wd=0.1, warmup=5, clip=1.0, accum=1, std=0.1, hd=0)
    for a in argv:
        k, v = a.split("=", 1)
        cfg[k] = type(cfg[k])(float(v)) if isinstance(cfg[k], (int, float)) else v
    return cfg


def head_dim(cfg):
    """hd=N sets the head size (heads x hd may differ from embd, as in Qwen3/Gemma)."""
    return cfg["hd"] or cfg["embd"] // cfg["head"]


class Norm(torch.nn.Module):
    def __init__(self, c, eps, layernorm):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(c))
        self.bias = torch.nn.Parameter(torch.zeros(c)) if layernorm else None
        self.eps = eps

    def forward(self, x):
        if self.bias is not None:
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * self.weight


class LoraLinear(torch.nn.Module):
    """nn.Linear plus PEFT's LoRA branch: W x + b + (alpha/r) B A x."""

    def __init__(self, n_in, n_out, bias, rank, alpha):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(n_out, n_in))
        self.bias = torch.nn.Parameter(torch.zeros(n_out)) if bias else None
        self.rank = rank
        if rank:
            self.lora_A = torch.nn.Parameter(torch.zeros(rank, n_in))
            self.lora_B = torch.nn.Parameter(torch.zeros(n_out, rank))
            self.scale = alpha / rank

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.rank:
            y = y + self.scale * F.linear(F.linear(x, self.lora_A), self.lora_B)
        return y


def rope_inv_freq(cfg, d):
    inv = 1.0 / (cfg["theta"] ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    if cfg["scaling"] > 0:
        low_w = cfg["orig"] / cfg["low"]
        high_w = cfg["orig"] / cfg["high"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_w, inv / cfg["scaling"], inv)
        smooth = (cfg["orig"] / wavelen - cfg["low"]) / (cfg["high"] - cfg["low"])
        smoothed = (1 - smooth) * scaled / cfg["scaling"] + smooth * scaled
        mid = (wavelen >= high_w) & (wavelen <= low_w)
        inv = torch.where(mid, smoothed, scaled)
    return inv


def apply_rope(x, cos, sin, interleaved):
    # x (B, H, T, D); cos, sin (T, D/2)
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        ra, rb = a * cos - b * sin, b * cos + a * sin
        return torch.stack([ra, rb], dim=-1).flatten(-2)
    cos2, sin2 = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos2 + rot * sin2


class Layer(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        gpt2 = cfg["arch"] == "gpt2"
        c, d = cfg["embd"], head_dim(cfg)
        qkv_bias = cfg["arch"] in ("qwen2", "gpt2")
        r, al = cfg.get("lora_rank", 0), cfg["alpha"]
        self.input_layernorm = Norm(c, cfg["eps"], gpt2)
        self.post_attention_layernorm = Norm(c, cfg["eps"], gpt2)
        self.self_attn = torch.nn.Module()
        self.self_attn.q_proj = LoraLinear(c, cfg["head"] * d, qkv_bias, r, al)
        self.self_attn.k_proj = LoraLinear(c, cfg["kv_head"] * d, qkv_bias, r, al)
        self.self_attn.v_proj = LoraLinear(c, cfg["kv_head"] * d, qkv_bias, r, al)
        self.self_attn.o_proj = LoraLinear(cfg["head"] * d, c, gpt2, r, al)
        self.mlp = torch.nn.Module()
        if not gpt2:
            self.mlp.gate_proj = LoraLinear(c, cfg["ff"], False, r, al)
        self.mlp.up_proj = LoraLinear(c, cfg["ff"], gpt2, r, al)
        self.mlp.down_proj = LoraLinear(cfg["ff"], c, gpt2, r, al)
        self.cfg = cfg

    def forward(self, x, cos, sin):
        cfg = self.cfg
        B, T, C = x.shape
        H, KV = cfg["head"], cfg["kv_head"]
        D = head_dim(cfg)
        h = self.input_layernorm(x)
        q = self.self_attn.q_proj(h).view(B, T, H, D).transpose(1, 2)
        k = self.self_attn.k_proj(h).view(B, T, KV, D).transpose(1, 2)
        v = self.self_attn.v_proj(h).view(B, T, KV, D).transpose(1, 2)
        if cfg["arch"] != "gpt2":
            q = apply_rope(q, cos, sin, cfg["interleaved"])
            k = apply_rope(k, cos, sin, cfg["interleaved"])
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + self.self_attn.o_proj(o)
        h = self.post_attention_layernorm(x)
        if cfg["arch"] == "gpt2":
            m = self.mlp.down_proj(F.gelu(self.mlp.up_proj(h), approximate="tanh"))
        else:
            m = self.mlp.down_proj(F.silu(self.mlp.gate_proj(h)) * self.mlp.up_proj(h))
        return x + m


class Model(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = torch.nn.Module()
        self.model.embed_tokens = torch.nn.Embedding(cfg["vocab"], cfg["embd"])
        if cfg["arch"] == "gpt2":
            self.model.embed_positions = torch.nn.Embedding(cfg["ctx"], cfg["embd"])
        self.model.layers = torch.nn.ModuleList([Layer(cfg) for _ in range(cfg["layer"])])
        self.model.norm = Norm(cfg["embd"], cfg["eps"], cfg["arch"] == "gpt2")
        if not cfg["tied"]:
            self.lm_head = torch.nn.Linear(cfg["embd"], cfg["vocab"], bias=False)

    def forward(self, ids, targets):
        cfg = self.cfg
        T = ids.shape[1]
        x = self.model.embed_tokens(ids)
        if cfg["arch"] == "gpt2":
            x = x + self.model.embed_positions(torch.arange(T))
        D = head_dim(cfg)
        inv = rope_inv_freq(cfg, D)
        ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
        cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        x = self.model.norm(x)
        w = self.model.embed_tokens.weight if cfg["tied"] else self.lm_head.weight
        logits = x @ w.t()
        return F.cross_entropy(logits.reshape(-1, cfg["vocab"]), targets.reshape(-1),
                               ignore_index=-1)


def write_named(out, stem, named):
    with open(f"{out}/{stem}.txt", "w") as ft, open(f"{out}/{stem}.bin", "wb") as fb:
        for name, t in named:
            a = t.detach().to(torch.float32).contiguous().numpy()
            ft.write(f"{name} {a.size}\n")
            fb.write(a.astype("<f4").tobytes())


def write_safetensors(path, named):
    """The safetensors format: u64 header length, JSON header, raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name, t in named:
        a = t.detach().to(torch.float32).contiguous().numpy().astype("<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_config(path, cfg):
    hf = {"architectures": [{"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM",
                             "gpt2": "GPT2LMHeadModel"}[cfg["arch"]]],
          "model_type": cfg["arch"], "vocab_size": cfg["vocab"], "hidden_size": cfg["embd"],
          "num_hidden_layers": cfg["layer"], "num_attention_heads": cfg["head"],
          "num_key_value_heads": cfg["kv_head"], "intermediate_size": cfg["ff"],
          "max_position_embeddings": cfg["ctx"], "rms_norm_eps": cfg["eps"],
          "rope_theta": cfg["theta"], "tie_word_embeddings": bool(cfg["tied"])}
    if cfg["scaling"] > 0:
        hf["rope_scaling"] = {"rope_type": "llama3", "factor": cfg["scaling"],
                              "low_freq_factor": cfg["low"], "high_freq_factor": cfg["high"],
                              "original_max_position_embeddings": cfg["orig"]}
    with open(path, "w") as f:
        json.dump(hf, f, indent=1)


def make_model(cfg):
    torch.manual_seed(cfg["seed"])
    m = Model(cfg)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "lora_A" in name:
                p.uniform_(-1 / math.sqrt(p.shape[1]), 1 / math.sqrt(p.shape[1]))
            elif "lora_B" in name:
                p.normal_(0, 0.1)  # random, not PEFT's zeros, so the A gradient is non-zero
            elif name.endswith("norm.weight") or "layernorm.weight" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.normal_(0, 0.1)
            else:
                p.normal_(0, cfg["std"])
            p.copy_(p.to(torch.float32))
    return m


def make_batch(cfg):
    g = torch.Generator().manual_seed(cfg["seed"] + 7)
    B, T = cfg["B"], cfg["T"]
    ids = torch.randint(0, cfg["vocab"], (B, T + 1), generator=g)
    inputs, targets = ids[:, :-1].clone(), ids[:, 1:].clone()
    targets[:, :3] = -1  # a "prompt" with no loss
    targets[torch.rand(B, T, generator=g) < 0.2] = -1
    return inputs, targets


def base_names(model):
    return [(n, p) for n, p in model.named_parameters() if "lora_" not in n]


def main():
    mode, out = sys.argv[1], sys.argv[2]
    cfg = parse_args(sys.argv[3:])
    if mode == "lora":
        cfg["lora_rank"] = cfg["rank"]
    torch.set_default_dtype(torch.float32)
    model = make_model(cfg)
    inputs, targets = make_batch(cfg)
    write_named(out, "params", [(n, p) for n, p in model.named_parameters()])
    write_safetensors(f"{out}/model.safetensors", base_names(model))
    write_config(f"{out}/config.json", cfg)
    with open(f"{out}/batch.bin", "wb") as f:
        f.write(inputs.to(torch.int32).numpy().astype("<i4").tobytes())
        f.write(targets.to(torch.int32).numpy().astype("<i4").tobytes())

    if mode in ("grad", "lora"):
        model = model.double()
        for n, p in model.named_parameters():
            p.requires_grad_(mode == "grad" or "lora_" in n)
        loss = model(inputs, targets)
        loss.backward()
        np.array([loss.item()], dtype="<f4").tofile(f"{out}/loss.bin")
        write_named(out, "grads", [(n, p.grad) for n, p in model.named_parameters()
                                   if p.grad is not None])
        return

    # adamw: full training for `steps` steps; cosine schedule with warmup, clipping; weight decay
    # on matrices only (ragtune's grouping); f32 like the C side.
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["wd"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8)
    warm, total = cfg["warmup"], cfg["steps"]

    def lr_lambda(step):  # transformers.get_cosine_schedule_with_warmup (num_cycles 0.5)
        if step < warm:
            return step / max(1, warm)
        prog = (step - warm) / max(1, total - warm)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * prog)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    losses = []
    for step in range(total):
        opt.zero_grad()
        loss = model(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        opt.step()
        sched.step()
        losses.append(loss.item())
    np.array(losses, dtype="<f4").tofile(f"{out}/loss.bin")


if __name__ == "__main__":
    main()
