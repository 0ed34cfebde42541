#!/usr/bin/env python3
"""bench_inference_torch.py — the PyTorch peer of bench_inference.c.

  make OUT_DIR       writes the benchmark models (random-initialized Llama configurations of
                     about 25M and 125M parameters, f32 safetensors + config.json) once
  run MODEL_DIR      prefill / decode tokens/s and peak RSS, same protocol as bench_inference:
                     a prompt of --prompt tokens in one forward pass (logits of the last token
                     only), then --gen greedy steps with a KV cache (torch.cat per step, as
                     transformers' DynamicCache does), under torch.inference_mode with
                     --threads intra-op threads; medians of --runs runs after a warm-up run.

The model code is tests/reference/model_ref.py's llama_forward, the module the forward pass is
verified against.
"""
import argparse
import json
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
import model_ref  # noqa: E402

CONFIGS = {
    # ~23M parameters: tied 32000 x 384 embedding + 6 layers
    "llama_25m": dict(vocab=32000, C=384, n_layer=6, nh=6, nkv=6, ff=1024, tied=True),
    # ~114M parameters: tied 32000 x 768 embedding + 12 GQA layers
    "llama_125m": dict(vocab=32000, C=768, n_layer=12, nh=12, nkv=4, ff=2560, tied=True),
}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32"
        b, e = info["data_offsets"]
        arr = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=b)
        out[name] = torch.from_numpy(arr.copy()).view(*info["shape"])
    return out


def cmd_make(args):
    for i, (name, kw) in enumerate(CONFIGS.items()):
        out = os.path.join(args.out, name)
        if os.path.exists(os.path.join(out, "model.safetensors")):
            continue
        gen = torch.Generator().manual_seed(99 + i)
        cfg, P = model_ref.make_llama(gen, n_ctx=2048, **kw)
        model_ref.save_model_dir(out, cfg, P)
        n = sum(t.numel() for t in P.values())
        print(f"wrote {out}: {n / 1e6:.1f}M parameters", file=sys.stderr)
    return 0


def cmd_run(args):
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    P = load_safetensors(os.path.join(args.model, "model.safetensors"))
    P["_inv_freq"] = model_ref.rope_inv_freq(cfg)
    V = cfg["vocab_size"]
    prompt = torch.tensor([(i * 7919 + 13) % V for i in range(args.prompt)], dtype=torch.long)
    prefill, decode = [], []
    with torch.inference_mode():
        for r in range(args.runs + 1):
            t0 = time.perf_counter()
            _, logits, past = model_ref.llama_forward(cfg, P, prompt, last_only=True)
            t1 = time.perf_counter()
            for _ in range(args.gen):
                tok = logits[-1].argmax().view(1)
                _, logits, past = model_ref.llama_forward(cfg, P, tok, past=past)
            t2 = time.perf_counter()
            if r == 0:
                continue
            prefill.append(args.prompt / (t1 - t0))
            decode.append(args.gen / (t2 - t1))
    p, d = statistics.median(prefill), statistics.median(decode)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch {torch.__version__} llama, {args.threads} threads\n"
          f"  prefill {args.prompt} tokens: {p:.1f} tok/s\n"
          f"  decode {args.gen} tokens: {d:.1f} tok/s\n  peak RSS {rss:.0f} MB")
    print(f"RESULT prefill_tps={p:.3f} decode_tps={d:.3f} rss_mb={rss:.1f}")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    r = sub.add_parser("run")
    r.add_argument("model")
    r.add_argument("--prompt", type=int, default=128)
    r.add_argument("--gen", type=int, default=64)
    r.add_argument("--runs", type=int, default=3)
    r.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    return cmd_make(args) if args.cmd == "make" else cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
