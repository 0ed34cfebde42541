#!/usr/bin/env python3
"""bench_embed_torch.py — the PyTorch peer of bench/bench_embed.sh: the same mean-pooled
embeddings of the same token ids, in batches.

usage: bench_embed_torch.py HF_DIR IDS.bin BATCH [--threads N] [--ref NAME=VECS.f32]...
  HF_DIR   the embedder as a Hugging Face directory (config.json + f32 model.safetensors, from
           `ragtune convert MODEL DIR --dtype f32`: q8_0 weights dequantized)
  IDS.bin  int32 n, then per text int32 length + ids (bench_embed writes it)
Texts are sorted by length (longest first) and batched, as sentence-transformers' encode()
does, then right-padded to the longest of each batch with an attention mask; the model code is
tests/reference/embed_batch_ref.py's (llama: RMSNorm, RoPE, causal; bert: post-LN, bidirectional),
mean pooling over each text's tokens, L2-normalized; torch.no_grad, --threads intra-op threads
(default: torch's own default). One warm-up batch first.
Prints "torch_embed <chunks/s> <peak RSS MB> <n>" and, per --ref, "maxdiff NAME <max |a-b|>".
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "reference"))
sys.path.insert(0, here)
import bench_inference_torch  # noqa: E402
import embed_batch_ref  # noqa: E402


def read_ids(path):
    raw = np.fromfile(path, dtype="<i4")
    n, texts, i = int(raw[0]), [], 1
    for _ in range(n):
        L = int(raw[i])
        texts.append(raw[i + 1:i + 1 + L].astype(np.int64))
        i += 1 + L
    return texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("ids")
    ap.add_argument("batch", type=int)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--ref", action="append", default=[])
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    P = bench_inference_torch.load_safetensors(os.path.join(args.model, "model.safetensors"))
    bert = cfg.get("model_type") == "bert"
    if not bert:
        cfg.setdefault("num_key_value_heads", cfg["num_attention_heads"])
        cfg.setdefault("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    hidden = embed_batch_ref.bert_hidden if bert else embed_batch_ref.llama_hidden
    texts = read_ids(args.ids)
    n = len(texts)
    order = sorted(range(n), key=lambda i: -len(texts[i]))
    batches = [order[i:i + args.batch] for i in range(0, n, args.batch)]

    def run(batch):
        T = max(len(texts[i]) for i in batch)
        ids = torch.zeros(len(batch), T, dtype=torch.long)
        lens = torch.tensor([len(texts[i]) for i in batch])
        for r, i in enumerate(batch):
            ids[r, :len(texts[i])] = torch.from_numpy(texts[i])
        mask = torch.arange(T)[None, :] < lens[:, None]
        return embed_batch_ref.mean_pooled(hidden(cfg, P, ids, mask), mask)

    out = torch.zeros(n, cfg["hidden_size"])
    with torch.no_grad():
        run(batches[0])
        t0 = time.perf_counter()
        for b in batches:
            out[b] = run(b)
        dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch_embed {n / dt:.1f} {rss:.1f} {n}")
    for r in args.ref:
        name, path = r.split("=", 1)
        v = torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(n, -1))
        print(f"maxdiff {name} {(v - out).abs().max().item():.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
