#!/usr/bin/env python3
"""bench_train.py — the PyTorch peer of bench_train.c: the same ~25M llama (HF semantics, the
modules of tests/reference/train_ref.py), AdamW, seq 256, same batch and threads; full training
or LoRA (rank 16, all linear, frozen f32 base). --precision bf16 runs the forward (and so the
backward) under torch.autocast("cpu", bfloat16): bf16 matmuls (oneDNN), f32 master weights.
Prints "tokens_per_s peak_rss_kb"."""
import argparse
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
import train_ref  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["full", "lora"])
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--steps", type=int, default=4)
ap.add_argument("--batch", type=int, default=4)
ap.add_argument("--precision", choices=["f32", "bf16"], default="f32")
a = ap.parse_args()
torch.set_num_threads(a.threads)
cfg = train_ref.parse_args(["arch=llama", "vocab=8192", "embd=512", "layer=7", "head=8",
                            "kv_head=8", "ff=1376", "ctx=256", "tied=1", "std=0.02"])
if a.mode == "lora":
    cfg["lora_rank"] = 16
    cfg["alpha"] = 32.0
model = train_ref.Model(cfg)
params = []
for n, p in model.named_parameters():
    train = a.mode == "full" or "lora_" in n
    p.requires_grad_(train)
    if train:
        params.append(p)
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
T = 256
g = torch.Generator().manual_seed(1)
ids = torch.randint(0, cfg["vocab"], (a.batch, T), generator=g)
tgt = torch.randint(0, cfg["vocab"], (a.batch, T), generator=g)
warm = 2
for s in range(warm + a.steps):
    if s == warm:
        t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
        loss = model(ids, tgt)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
dt = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{a.batch * T * a.steps / dt:.1f} {rss}")
