#!/usr/bin/env python3
"""model_ref.py — reference transformers for tests/reference/ref_forward.c.

For each architecture ragtune runs (llama, qwen2, gpt2, bert) this builds a small
random-initialized model in plain PyTorch, written to follow Hugging Face transformers'
modeling code (parameter names, rotate_half RoPE, Llama-3 rope scaling, repeat_kv for GQA,
GPT-2's Conv1D layout and fused c_attn, BERT's post-LN encoder with token_type_ids = 0), saves it
as a Hugging Face directory (config.json + model.safetensors, written by hand) and records:
    tokens.i32   the input ids (int32)
    logits.f32   (T, n_vocab) logits of a full forward pass           decoders
    embed.f32    (n_embd) pooled, L2-normalized last hidden state     all (decoders: mean)
    embed_cls.f32 (n_embd) CLS pooling                                bert

usage: model_ref.py OUT_DIR [--seq N] [--only NAME]
Also importable (bench_inference_torch.py uses the Llama module and the writer).
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


# ---- safetensors ---------------------------------------------------------------------------

def save_safetensors(path, tensors):
    """Writes {name: tensor} as safetensors: u64 LE header length, JSON header, raw data."""
    header, blobs, offset = {}, [], 0
    dtypes = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().tobytes()
        else:
            raw = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    hdr = json.dumps(header, separators=(",", ":")).encode()
    hdr += b" " * ((8 - len(hdr) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def save_model_dir(out_dir, config, tensors):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    save_safetensors(os.path.join(out_dir, "model.safetensors"), tensors)


# ---- Llama / Qwen2 (transformers' modeling_llama / modeling_qwen2) --------------------------

def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rope_inv_freq(cfg):
    hd = cfg["head_dim"]
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wavelen = 2 * math.pi / inv_freq
        inv_llama = torch.where(wavelen > low_wl, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_llama / factor + smooth * inv_llama
        medium = ~(wavelen < high_wl) * ~(wavelen > low_wl)
        inv_freq = torch.where(medium, smoothed, inv_llama)
    return inv_freq


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama_forward(cfg, P, ids, past=None, last_only=False):
    """ids (T,) -> (final normed hidden (T,C), logits (T,V), new past). past: list of (k, v)
    per layer with shapes (n_kv_head, P, hd) — the KV cache of the torch benchmark.
    last_only: logits of the last token only (what generation needs)."""
    C, nh, nkv, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    T = ids.shape[0]
    p0 = 0 if past is None else past[0][0].shape[1]
    pos = torch.arange(p0, p0 + T, dtype=torch.float32)
    freqs = pos[:, None] * P["_inv_freq"][None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    x = P["model.embed_tokens.weight"][ids]
    new_past = []
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        h = rms_norm(x, P[pre + "input_layernorm.weight"], eps)
        q = F.linear(h, P[pre + "self_attn.q_proj.weight"], P.get(pre + "self_attn.q_proj.bias"))
        k = F.linear(h, P[pre + "self_attn.k_proj.weight"], P.get(pre + "self_attn.k_proj.bias"))
        v = F.linear(h, P[pre + "self_attn.v_proj.weight"], P.get(pre + "self_attn.v_proj.bias"))
        q = q.view(T, nh, hd).transpose(0, 1)
        k = k.view(T, nkv, hd).transpose(0, 1)
        v = v.view(T, nkv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat((past[l][0], k), dim=1)
            v = torch.cat((past[l][1], v), dim=1)
        new_past.append((k, v))
        rep = nh // nkv  # repeat_kv
        kr = k[:, None].expand(nkv, rep, k.shape[1], hd).reshape(nh, k.shape[1], hd)
        vr = v[:, None].expand(nkv, rep, v.shape[1], hd).reshape(nh, v.shape[1], hd)
        S = kr.shape[1]
        scores = q @ kr.transpose(1, 2) / math.sqrt(hd)
        mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
        scores = scores.masked_fill(~mask, float("-inf"))
        att = torch.softmax(scores, dim=-1, dtype=torch.float32) @ vr
        att = att.transpose(0, 1).reshape(T, nh * hd)
        x = x + F.linear(att, P[pre + "self_attn.o_proj.weight"])
        h = rms_norm(x, P[pre + "post_attention_layernorm.weight"], eps)
        g = F.linear(h, P[pre + "mlp.gate_proj.weight"])
        u = F.linear(h, P[pre + "mlp.up_proj.weight"])
        x = x + F.linear(F.silu(g) * u, P[pre + "mlp.down_proj.weight"])
    h = rms_norm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    return h, F.linear(h[-1:] if last_only else h, head), new_past


def make_llama(gen, *, vocab=256, C=64, n_layer=2, nh=4, nkv=2, ff=160, tied=False, qwen=False,
               rope_scaling=None, theta=10000.0, n_ctx=256):
    hd = C // nh
    cfg = {"architectures": ["Qwen2ForCausalLM" if qwen else "LlamaForCausalLM"],
           "model_type": "qwen2" if qwen else "llama",
           "vocab_size": vocab, "hidden_size": C, "intermediate_size": ff,
           "num_hidden_layers": n_layer, "num_attention_heads": nh, "num_key_value_heads": nkv,
           "head_dim": hd, "max_position_embeddings": n_ctx, "rms_norm_eps": 1e-5,
           "rope_theta": theta, "tie_word_embeddings": tied, "hidden_act": "silu",
           "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
    if rope_scaling:
        cfg["rope_scaling"] = rope_scaling

    def rnd(*shape, std):
        return torch.randn(*shape, generator=gen) * std

    P = {"model.embed_tokens.weight": rnd(vocab, C, std=1.0)}
    for l in range(n_layer):
        pre = f"model.layers.{l}."
        P[pre + "input_layernorm.weight"] = 1 + rnd(C, std=0.1)
        P[pre + "self_attn.q_proj.weight"] = rnd(nh * hd, C, std=C ** -0.5)
        P[pre + "self_attn.k_proj.weight"] = rnd(nkv * hd, C, std=C ** -0.5)
        P[pre + "self_attn.v_proj.weight"] = rnd(nkv * hd, C, std=C ** -0.5)
        P[pre + "self_attn.o_proj.weight"] = rnd(C, nh * hd, std=(nh * hd) ** -0.5)
        if qwen:
            P[pre + "self_attn.q_proj.bias"] = rnd(nh * hd, std=0.1)
            P[pre + "self_attn.k_proj.bias"] = rnd(nkv * hd, std=0.1)
            P[pre + "self_attn.v_proj.bias"] = rnd(nkv * hd, std=0.1)
        P[pre + "post_attention_layernorm.weight"] = 1 + rnd(C, std=0.1)
        P[pre + "mlp.gate_proj.weight"] = rnd(ff, C, std=C ** -0.5)
        P[pre + "mlp.up_proj.weight"] = rnd(ff, C, std=C ** -0.5)
        P[pre + "mlp.down_proj.weight"] = rnd(C, ff, std=ff ** -0.5)
    P["model.norm.weight"] = 1 + rnd(C, std=0.1)
    if not tied:
        P["lm_head.weight"] = rnd(vocab, C, std=C ** -0.5)
    return cfg, P


# ---- GPT-2 (modeling_gpt2: Conv1D weights are (n_in, n_out)) -------------------------------

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_forward(cfg, P, ids):
    C, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd, T = C // nh, ids.shape[0]
    x = P["transformer.wte.weight"][ids] + P["transformer.wpe.weight"][torch.arange(T)]
    for l in range(cfg["n_layer"]):
        pre = f"transformer.h.{l}."
        h = F.layer_norm(x, (C,), P[pre + "ln_1.weight"], P[pre + "ln_1.bias"], eps)
        qkv = h @ P[pre + "attn.c_attn.weight"] + P[pre + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (t.view(T, nh, hd).transpose(0, 1) for t in (q, k, v))
        scores = q @ k.transpose(1, 2) / math.sqrt(hd)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, torch.finfo(torch.float32).min)
        att = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, C)
        x = x + att @ P[pre + "attn.c_proj.weight"] + P[pre + "attn.c_proj.bias"]
        h = F.layer_norm(x, (C,), P[pre + "ln_2.weight"], P[pre + "ln_2.bias"], eps)
        m = gelu_new(h @ P[pre + "mlp.c_fc.weight"] + P[pre + "mlp.c_fc.bias"])
        x = x + m @ P[pre + "mlp.c_proj.weight"] + P[pre + "mlp.c_proj.bias"]
    h = F.layer_norm(x, (C,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], eps)
    return h, h @ P["transformer.wte.weight"].T


def make_gpt2(gen, *, vocab=256, C=64, n_layer=2, nh=4, n_ctx=128):
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": vocab,
           "n_embd": C, "n_layer": n_layer, "n_head": nh, "n_positions": n_ctx, "n_ctx": n_ctx,
           "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
           "bos_token_id": 0, "eos_token_id": 0, "tie_word_embeddings": True}

    def rnd(*shape, std):
        return torch.randn(*shape, generator=gen) * std

    P = {"transformer.wte.weight": rnd(vocab, C, std=1.0),
         "transformer.wpe.weight": rnd(n_ctx, C, std=0.3)}
    for l in range(n_layer):
        pre = f"transformer.h.{l}."
        for ln in ("ln_1", "ln_2"):
            P[pre + ln + ".weight"] = 1 + rnd(C, std=0.1)
            P[pre + ln + ".bias"] = rnd(C, std=0.1)
        P[pre + "attn.c_attn.weight"] = rnd(C, 3 * C, std=C ** -0.5)
        P[pre + "attn.c_attn.bias"] = rnd(3 * C, std=0.1)
        P[pre + "attn.c_proj.weight"] = rnd(C, C, std=C ** -0.5)
        P[pre + "attn.c_proj.bias"] = rnd(C, std=0.1)
        P[pre + "mlp.c_fc.weight"] = rnd(C, 4 * C, std=C ** -0.5)
        P[pre + "mlp.c_fc.bias"] = rnd(4 * C, std=0.1)
        P[pre + "mlp.c_proj.weight"] = rnd(4 * C, C, std=(4 * C) ** -0.5)
        P[pre + "mlp.c_proj.bias"] = rnd(C, std=0.1)
    P["transformer.ln_f.weight"] = 1 + rnd(C, std=0.1)
    P["transformer.ln_f.bias"] = rnd(C, std=0.1)
    return cfg, P


# ---- BERT (modeling_bert, BertModel; token_type_ids = 0, attention mask all ones) ----------

def bert_encode(cfg, P, ids, mask=None, types=None, prefix=""):
    """BertModel's encoder, the one copy the reference scripts share: ids (B,T) -> last hidden
    (B,T,C). mask (B,T) bool of real tokens (HF attention_mask; None: all), types (B,T) token
    type ids (None: 0), prefix "bert." for the weights of a model with a head."""
    C, nh, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    hd = C // nh
    B, T = ids.shape
    if types is None:
        types = torch.zeros(B, T, dtype=torch.long)
    e = prefix + "embeddings."
    x = (P[e + "word_embeddings.weight"][ids]
         + P[e + "position_embeddings.weight"][torch.arange(T)][None]
         + P[e + "token_type_embeddings.weight"][types])
    x = F.layer_norm(x, (C,), P[e + "LayerNorm.weight"], P[e + "LayerNorm.bias"], eps)
    for l in range(cfg["num_hidden_layers"]):
        pre = f"{prefix}encoder.layer.{l}."

        def lin(h, n):
            return F.linear(h, P[pre + n + ".weight"], P[pre + n + ".bias"])

        q, k, v = (lin(x, "attention.self." + n).view(B, T, nh, hd).transpose(1, 2)
                   for n in ("query", "key", "value"))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        if mask is not None:
            s = s.masked_fill(~mask[:, None, None, :], float("-inf"))
        att = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = F.layer_norm(lin(att, "attention.output.dense") + x, (C,),
                         P[pre + "attention.output.LayerNorm.weight"],
                         P[pre + "attention.output.LayerNorm.bias"], eps)
        m = lin(F.gelu(lin(x, "intermediate.dense")), "output.dense")
        x = F.layer_norm(m + x, (C,), P[pre + "output.LayerNorm.weight"],
                         P[pre + "output.LayerNorm.bias"], eps)
    return x


def bert_forward(cfg, P, ids):
    return bert_encode(cfg, P, ids[None])[0]


def make_bert(gen, *, vocab=256, C=64, n_layer=2, nh=4, ff=128, n_ctx=128):
    cfg = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab,
           "hidden_size": C, "num_hidden_layers": n_layer, "num_attention_heads": nh,
           "intermediate_size": ff, "hidden_act": "gelu", "max_position_embeddings": n_ctx,
           "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0}

    def rnd(*shape, std):
        return torch.randn(*shape, generator=gen) * std

    P = {"embeddings.word_embeddings.weight": rnd(vocab, C, std=1.0),
         "embeddings.position_embeddings.weight": rnd(n_ctx, C, std=0.3),
         "embeddings.token_type_embeddings.weight": rnd(2, C, std=0.3),
         "embeddings.LayerNorm.weight": 1 + rnd(C, std=0.1),
         "embeddings.LayerNorm.bias": rnd(C, std=0.1)}
    for l in range(n_layer):
        pre = f"encoder.layer.{l}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense"):
            P[pre + n + ".weight"] = rnd(C, C, std=C ** -0.5)
            P[pre + n + ".bias"] = rnd(C, std=0.1)
        P[pre + "intermediate.dense.weight"] = rnd(ff, C, std=C ** -0.5)
        P[pre + "intermediate.dense.bias"] = rnd(ff, std=0.1)
        P[pre + "output.dense.weight"] = rnd(C, ff, std=ff ** -0.5)
        P[pre + "output.dense.bias"] = rnd(C, std=0.1)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            P[pre + ln + ".weight"] = 1 + rnd(C, std=0.1)
            P[pre + ln + ".bias"] = rnd(C, std=0.1)
    return cfg, P


# ---- driver ---------------------------------------------------------------------------------

LLAMA3_SCALING = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 64}

MODELS = {
    # GQA (4 heads over 2 kv heads), untied output, Llama-3 rope scaling
    "llama_gqa": lambda g: ("llama", make_llama(g, nkv=2, tied=False, rope_scaling=LLAMA3_SCALING)),
    # plain multi-head attention, tied output, Llama-3's theta
    "llama_tied": lambda g: ("llama", make_llama(g, nkv=4, tied=True, theta=500000.0)),
    "qwen2": lambda g: ("llama", make_llama(g, nkv=2, tied=True, qwen=True, theta=1000000.0)),
    # the GQA model stored in bfloat16, as most Hugging Face checkpoints are; the reference runs
    # in f32 on the bf16-rounded weights
    "llama_bf16": lambda g: ("llama", make_llama(g, nkv=2, tied=False, rope_scaling=LLAMA3_SCALING)),
    "gpt2": lambda g: ("gpt2", make_gpt2(g)),
    "bert": lambda g: ("bert", make_bert(g)),
}


def write_f32(path, t):
    t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for i, (name, build) in enumerate(MODELS.items()):
        if args.only and name != args.only:
            continue
        gen = torch.Generator().manual_seed(1234 + i)
        kind, (cfg, P) = build(gen)
        out = os.path.join(args.out, name)
        if name.endswith("_bf16"):
            cfg["torch_dtype"] = "bfloat16"
            P = {k: v.to(torch.bfloat16) for k, v in P.items()}
            save_model_dir(out, cfg, P)
            P = {k: v.to(torch.float32) for k, v in P.items()}
        else:
            save_model_dir(out, cfg, P)
        ids = torch.randint(0, cfg["vocab_size"], (args.seq,), generator=gen)
        np.asarray(ids.numpy(), dtype="<i4").tofile(os.path.join(out, "tokens.i32"))
        with torch.inference_mode():
            if kind == "llama":
                P["_inv_freq"] = rope_inv_freq(cfg)
                h, logits, _ = llama_forward(cfg, P, ids)
            elif kind == "gpt2":
                h, logits = gpt2_forward(cfg, P, ids)
            else:
                h = bert_forward(cfg, P, ids)
                logits = None
                write_f32(os.path.join(out, "embed_cls.f32"), F.normalize(h[0], dim=-1))
            write_f32(os.path.join(out, "embed.f32"), F.normalize(h.mean(0), dim=-1))
            if logits is not None:
                write_f32(os.path.join(out, "logits.f32"), logits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
