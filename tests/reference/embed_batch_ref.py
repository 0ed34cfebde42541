#!/usr/bin/env python3
"""embed_batch_ref.py — PyTorch reference for tests/reference/ref_embed_batch.c
(rt_model_embed_batch).

A small random llama (GQA, untied) and a small random bert from model_ref.py, saved as Hugging
Face directories, embed N texts of random lengths in ONE padded batch, as sentence-transformers
does: the ids right-padded to the longest text, an attention mask that hides the padding keys
(llama: also causal), mean pooling over each text's own tokens, then L2 normalization.

usage: embed_batch_ref.py OUT_DIR [--n N] [--max-len T]
Writes OUT_DIR/<llama|bert>/ (config.json, model.safetensors) and, little-endian:
    batch.i32   int32 n, T, then ids (n*T, padding 0), then lengths (n)
    embed.f32   (n, n_embd) pooled, L2-normalized embeddings
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_ref  # noqa: E402


def llama_hidden(cfg, P, ids, mask):
    """ids (B,T), mask (B,T) bool of real tokens -> final normed hidden (B,T,C)."""
    C, nh, nkv, hd = (cfg["hidden_size"], cfg["num_attention_heads"],
                      cfg["num_key_value_heads"], cfg["head_dim"])
    eps = cfg["rms_norm_eps"]
    B, T = ids.shape
    freqs = torch.arange(T, dtype=torch.float32)[:, None] * model_ref.rope_inv_freq(cfg)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    allowed = torch.ones(T, T, dtype=torch.bool).tril()[None, None] & mask[:, None, None, :]
    x = P["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        h = model_ref.rms_norm(x, P[pre + "input_layernorm.weight"], eps)
        q = F.linear(h, P[pre + "self_attn.q_proj.weight"]).view(B, T, nh, hd).transpose(1, 2)
        k = F.linear(h, P[pre + "self_attn.k_proj.weight"]).view(B, T, nkv, hd).transpose(1, 2)
        v = F.linear(h, P[pre + "self_attn.v_proj.weight"]).view(B, T, nkv, hd).transpose(1, 2)
        q = q * cos + model_ref.rotate_half(q) * sin
        k = k * cos + model_ref.rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        s = (q @ k.transpose(-1, -2) / math.sqrt(hd)).masked_fill(~allowed, float("-inf"))
        att = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, nh * hd)
        x = x + F.linear(att, P[pre + "self_attn.o_proj.weight"])
        h = model_ref.rms_norm(x, P[pre + "post_attention_layernorm.weight"], eps)
        g = F.linear(h, P[pre + "mlp.gate_proj.weight"])
        u = F.linear(h, P[pre + "mlp.up_proj.weight"])
        x = x + F.linear(F.silu(g) * u, P[pre + "mlp.down_proj.weight"])
    return model_ref.rms_norm(x, P["model.norm.weight"], eps)


def bert_hidden(cfg, P, ids, mask):
    """BertModel with attention_mask = mask, token_type_ids = 0 -> last hidden (B,T,C)."""
    return model_ref.bert_encode(cfg, P, ids, mask)


def mean_pooled(h, mask):
    m = mask.to(h.dtype)[:, :, None]
    return F.normalize((h * m).sum(1) / m.sum(1), dim=-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=13)
    ap.add_argument("--max-len", type=int, default=48)
    args = ap.parse_args()
    torch.set_num_threads(1)
    models = {"llama": (lambda g: model_ref.make_llama(g, nkv=2, tied=False), llama_hidden),
              "bert": (lambda g: model_ref.make_bert(g), bert_hidden)}
    for i, (name, (make, hidden)) in enumerate(models.items()):
        gen = torch.Generator().manual_seed(777 + i)
        cfg, P = make(gen)
        out = os.path.join(args.out, name)
        model_ref.save_model_dir(out, cfg, P)
        n, T = args.n, args.max_len
        ids = torch.randint(0, cfg["vocab_size"], (n, T), generator=gen)
        lens = torch.randint(1, T + 1, (n,), generator=gen)
        lens[0], lens[1] = T, 1  # the longest fills the width; a one-token text
        mask = torch.arange(T)[None, :] < lens[:, None]
        ids = ids.masked_fill(~mask, 0)
        with torch.inference_mode():
            e = mean_pooled(hidden(cfg, P, ids, mask), mask)
        with open(os.path.join(out, "batch.i32"), "wb") as f:
            f.write(np.array([n, T], dtype="<i4").tobytes())
            f.write(ids.to(torch.int32).numpy().astype("<i4").tobytes())
            f.write(lens.to(torch.int32).numpy().astype("<i4").tobytes())
        model_ref.write_f32(os.path.join(out, "embed.f32"), e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
