#!/usr/bin/env python3
"""embed_ref.py — PyTorch reference for ragtune's contrastive embedder training
(tests/reference/ref_embed_grad.c, src/train/contrastive.c).

A small random llama from train_ref.py embeds n queries and n passages of different lengths
(right-padded with random ids): mean over the final-normed hidden states of each text's own
tokens, L2-normalized (torch.nn.functional.normalize); InfoNCE over in-batch negatives with
temperature tau, query->passage or symmetric. Loss and the gradient of every parameter by
autograd in float64.

usage: embed_ref.py OUT key=value...   (train_ref.py's keys plus n, tq, tp, temp, sym)

Files written to OUT (little-endian): params.txt/.bin and grads.txt/.bin as train_ref.py writes
them; batch.bin = int32 n, Tq, Tp, then query ids (n*Tq), query lengths (n), passage ids
(n*Tp), passage lengths (n); loss.bin = f32 loss.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_ref  # noqa: E402


def hidden_states(model, ids):
    cfg = model.cfg
    T = ids.shape[1]
    x = model.model.embed_tokens(ids)
    D = train_ref.head_dim(cfg)
    inv = train_ref.rope_inv_freq(cfg, D)
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    for layer in model.model.layers:
        x = layer(x, cos, sin)
    return model.model.norm(x)


def pooled(model, ids, lens):
    h = hidden_states(model, ids)
    mask = (torch.arange(ids.shape[1])[None, :] < lens[:, None]).to(h.dtype)
    mean = (h * mask[:, :, None]).sum(1) / lens[:, None].to(h.dtype)
    return F.normalize(mean, dim=-1)


def main():
    out = sys.argv[1]
    extra = dict(n=4, tq=5, tp=9, temp=0.05, sym=1)
    args = []
    for a in sys.argv[2:]:
        k, v = a.split("=", 1)
        if k in extra:
            extra[k] = type(extra[k])(float(v))
        else:
            args.append(a)
    cfg = train_ref.parse_args(args)
    model = train_ref.make_model(cfg)
    n, tq, tp = extra["n"], extra["tq"], extra["tp"]
    g = torch.Generator().manual_seed(cfg["seed"] + 11)
    q_ids = torch.randint(0, cfg["vocab"], (n, tq), generator=g)
    p_ids = torch.randint(0, cfg["vocab"], (n, tp), generator=g)
    q_lens = torch.randint(1, tq + 1, (n,), generator=g)
    p_lens = torch.randint(1, tp + 1, (n,), generator=g)
    q_lens[0], p_lens[0] = tq, tp  # the longest of each side fills its width
    train_ref.write_named(out, "params", [(nm, p) for nm, p in model.named_parameters()])
    with open(f"{out}/batch.bin", "wb") as f:
        f.write(np.array([n, tq, tp], dtype="<i4").tobytes())
        for t in (q_ids, q_lens, p_ids, p_lens):
            f.write(t.to(torch.int32).numpy().astype("<i4").tobytes())
    model = model.double()
    q = pooled(model, q_ids, q_lens)
    p = pooled(model, p_ids, p_lens)
    S = q @ p.t() / extra["temp"]
    labels = torch.arange(n)
    loss = F.cross_entropy(S, labels)
    if extra["sym"]:
        loss = 0.5 * (loss + F.cross_entropy(S.t(), labels))
    loss.backward()
    np.array([loss.item()], dtype="<f4").tofile(f"{out}/loss.bin")
    train_ref.write_named(out, "grads", [(nm, p.grad) for nm, p in model.named_parameters()
                                         if p.grad is not None])


if __name__ == "__main__":
    main()
