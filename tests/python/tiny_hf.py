"""tiny_hf.py — writes a tiny Hugging Face model directory (config.json + safetensors) for tests.

The weights come from torch.nn modules laid out with Hugging Face's module names, so the
state_dict keys are the names real checkpoints use. The safetensors file is written by hand
(the `safetensors` package is not available; the format is an 8-byte header length, a JSON header
and the raw bytes).

usage: tiny_hf.py ARCH OUTDIR [--dtype f32|f16|bf16] [--shards N] [--no-pad] [--prefix P]
                               [--expected] [--seed S] [--tied] [--small] [--vocab N]
                               [--hidden N] [--layers N]
       tiny_hf.py many BASEDIR "NAME ARCH [options]" ...   (several models in BASEDIR/NAME)
  ARCH      llama | qwen2 | gpt2 | bert
  --shards  split into N files with model.safetensors.index.json
  --no-pad  do not pad the header to 8 bytes (tensor data becomes misaligned)
  --prefix  bert: "bert." (default "") ; gpt2: "transformer." (default) or ""
  --expected  also write OUTDIR/expected/<gguf name>.bin: each tensor in ragtune's layout
              (config.h: linear weights (n_out, n_in), gpt2 c_attn split and transposed), raw
              bytes in the file's dtype, for bit-exact comparison by the C test.
"""
import argparse
import json
import os
import struct

import torch
import torch.nn as nn

DTYPES = {"f32": (torch.float32, "F32"), "f16": (torch.float16, "F16"),
          "bf16": (torch.bfloat16, "BF16")}


class Llama(nn.Module):
    def __init__(self, c, bias):
        super().__init__()
        E, H, KV, D, F, V = c["hidden_size"], c["num_attention_heads"], \
            c["num_key_value_heads"], c["hidden_size"] // c["num_attention_heads"], \
            c["intermediate_size"], c["vocab_size"]

        class Attn(nn.Module):
            def __init__(s):
                super().__init__()
                s.q_proj = nn.Linear(E, H * D, bias=bias)
                s.k_proj = nn.Linear(E, KV * D, bias=bias)
                s.v_proj = nn.Linear(E, KV * D, bias=bias)
                s.o_proj = nn.Linear(H * D, E, bias=False)

        class Mlp(nn.Module):
            def __init__(s):
                super().__init__()
                s.gate_proj = nn.Linear(E, F, bias=False)
                s.up_proj = nn.Linear(E, F, bias=False)
                s.down_proj = nn.Linear(F, E, bias=False)

        class Rms(nn.Module):
            def __init__(s):
                super().__init__()
                s.weight = nn.Parameter(torch.randn(E))

        class Layer(nn.Module):
            def __init__(s):
                super().__init__()
                s.self_attn = Attn()
                s.mlp = Mlp()
                s.input_layernorm = Rms()
                s.post_attention_layernorm = Rms()

        class Inner(nn.Module):
            def __init__(s):
                super().__init__()
                s.embed_tokens = nn.Embedding(V, E)
                s.layers = nn.ModuleList([Layer() for _ in range(c["num_hidden_layers"])])
                s.norm = Rms()

        self.model = Inner()
        if not c.get("tie_word_embeddings", False):
            self.lm_head = nn.Linear(E, V, bias=False)


class Gpt2(nn.Module):
    def __init__(self, c):
        super().__init__()
        E, F, V, P = c["n_embd"], c["n_inner"] or 4 * c["n_embd"], c["vocab_size"], \
            c["n_positions"]

        class Conv1D(nn.Module):  # HF's Conv1D: weight (n_in, n_out)
            def __init__(s, n_out, n_in):
                super().__init__()
                s.weight = nn.Parameter(torch.randn(n_in, n_out))
                s.bias = nn.Parameter(torch.randn(n_out))

        class Attn(nn.Module):
            def __init__(s):
                super().__init__()
                s.c_attn = Conv1D(3 * E, E)
                s.c_proj = Conv1D(E, E)

        class Mlp(nn.Module):
            def __init__(s):
                super().__init__()
                s.c_fc = Conv1D(F, E)
                s.c_proj = Conv1D(E, F)

        class Block(nn.Module):
            def __init__(s):
                super().__init__()
                s.ln_1 = nn.LayerNorm(E)
                s.attn = Attn()
                s.ln_2 = nn.LayerNorm(E)
                s.mlp = Mlp()

        class Inner(nn.Module):
            def __init__(s):
                super().__init__()
                s.wte = nn.Embedding(V, E)
                s.wpe = nn.Embedding(P, E)
                s.h = nn.ModuleList([Block() for _ in range(c["n_layer"])])
                s.ln_f = nn.LayerNorm(E)

        self.transformer = Inner()


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        E, F, V, P, T = c["hidden_size"], c["intermediate_size"], c["vocab_size"], \
            c["max_position_embeddings"], c["type_vocab_size"]

        class Emb(nn.Module):
            def __init__(s):
                super().__init__()
                s.word_embeddings = nn.Embedding(V, E)
                s.position_embeddings = nn.Embedding(P, E)
                s.token_type_embeddings = nn.Embedding(T, E)
                s.LayerNorm = nn.LayerNorm(E)

        class SelfAttn(nn.Module):
            def __init__(s):
                super().__init__()
                s.query, s.key, s.value = nn.Linear(E, E), nn.Linear(E, E), nn.Linear(E, E)

        class Out(nn.Module):
            def __init__(s, n_in):
                super().__init__()
                s.dense = nn.Linear(n_in, E)
                s.LayerNorm = nn.LayerNorm(E)

        class Attention(nn.Module):
            def __init__(s):
                super().__init__()
                s.self = SelfAttn()
                s.output = Out(E)

        class Inter(nn.Module):
            def __init__(s):
                super().__init__()
                s.dense = nn.Linear(E, F)

        class Layer(nn.Module):
            def __init__(s):
                super().__init__()
                s.attention = Attention()
                s.intermediate = Inter()
                s.output = Out(F)

        class Enc(nn.Module):
            def __init__(s):
                super().__init__()
                s.layer = nn.ModuleList([Layer() for _ in range(c["num_hidden_layers"])])

        self.embeddings = Emb()
        self.encoder = Enc()


def config_for(arch, tied):
    if arch in ("llama", "qwen2"):
        c = {"architectures": ["LlamaForCausalLM" if arch == "llama" else "Qwen2ForCausalLM"],
             "model_type": arch, "hidden_size": 64, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96,
             "vocab_size": 128, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
             "rope_theta": 10000.0, "tie_word_embeddings": tied, "bos_token_id": 1,
             "eos_token_id": 2, "hidden_act": "silu", "torch_dtype": "float32"}
        if arch == "llama":
            c["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 128}
        return c
    if arch == "gpt2":
        return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 64,
                "n_layer": 2, "n_head": 4, "n_inner": None, "vocab_size": 128,
                "n_positions": 64, "layer_norm_epsilon": 1e-5, "bos_token_id": 127,
                "eos_token_id": 127}
    if arch == "bert":
        return {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 64,
                "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
                "vocab_size": 128, "max_position_embeddings": 64, "type_vocab_size": 2,
                "layer_norm_eps": 1e-12, "pad_token_id": 0, "hidden_act": "gelu",
                "position_embedding_type": "absolute"}
    raise SystemExit("unknown arch " + arch)


def raw(t):
    t = t.contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_safetensors(path, tensors, st_dtype, pad=True, metadata=None):
    header, off, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        b = raw(t)
        header[name] = {"dtype": st_dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    elif len(h) % 2 == 0:
        h += b" "  # make the data start odd so every tensor is misaligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def expected(arch, c, sd, prefix):
    """GGUF-style name -> tensor in config.h's layout."""
    out = {}
    if arch in ("llama", "qwen2"):
        out["token_embd.weight"] = sd["model.embed_tokens.weight"]
        out["output_norm.weight"] = sd["model.norm.weight"]
        if "lm_head.weight" in sd:
            out["output.weight"] = sd["lm_head.weight"]
        m = {"input_layernorm.weight": "attn_norm.weight", "self_attn.q_proj.weight": "attn_q.weight",
             "self_attn.k_proj.weight": "attn_k.weight", "self_attn.v_proj.weight": "attn_v.weight",
             "self_attn.o_proj.weight": "attn_output.weight", "self_attn.q_proj.bias": "attn_q.bias",
             "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
             "post_attention_layernorm.weight": "ffn_norm.weight",
             "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
             "mlp.down_proj.weight": "ffn_down.weight"}
        for i in range(c["num_hidden_layers"]):
            for k, v in m.items():
                key = "model.layers.%d.%s" % (i, k)
                if key in sd:
                    out["blk.%d.%s" % (i, v)] = sd[key]
    elif arch == "gpt2":
        p = prefix
        E = c["n_embd"]
        out["token_embd.weight"] = sd[p + "wte.weight"]
        out["position_embd.weight"] = sd[p + "wpe.weight"]
        out["output_norm.weight"] = sd[p + "ln_f.weight"]
        out["output_norm.bias"] = sd[p + "ln_f.bias"]
        for i in range(c["n_layer"]):
            h = "%sh.%d." % (p, i)
            b = "blk.%d." % i
            out[b + "attn_norm.weight"] = sd[h + "ln_1.weight"]
            out[b + "attn_norm.bias"] = sd[h + "ln_1.bias"]
            w = sd[h + "attn.c_attn.weight"].t()  # (3E, E)
            bb = sd[h + "attn.c_attn.bias"]
            for j, n in enumerate(("attn_q", "attn_k", "attn_v")):
                out[b + n + ".weight"] = w[j * E:(j + 1) * E]
                out[b + n + ".bias"] = bb[j * E:(j + 1) * E]
            out[b + "attn_output.weight"] = sd[h + "attn.c_proj.weight"].t()
            out[b + "attn_output.bias"] = sd[h + "attn.c_proj.bias"]
            out[b + "ffn_norm.weight"] = sd[h + "ln_2.weight"]
            out[b + "ffn_norm.bias"] = sd[h + "ln_2.bias"]
            out[b + "ffn_up.weight"] = sd[h + "mlp.c_fc.weight"].t()
            out[b + "ffn_up.bias"] = sd[h + "mlp.c_fc.bias"]
            out[b + "ffn_down.weight"] = sd[h + "mlp.c_proj.weight"].t()
            out[b + "ffn_down.bias"] = sd[h + "mlp.c_proj.bias"]
    else:
        p = prefix
        out["token_embd.weight"] = sd[p + "embeddings.word_embeddings.weight"]
        out["position_embd.weight"] = sd[p + "embeddings.position_embeddings.weight"]
        out["token_types.weight"] = sd[p + "embeddings.token_type_embeddings.weight"]
        out["token_embd_norm.weight"] = sd[p + "embeddings.LayerNorm.weight"]
        out["token_embd_norm.bias"] = sd[p + "embeddings.LayerNorm.bias"]
        m = {"attention.self.query": "attn_q", "attention.self.key": "attn_k",
             "attention.self.value": "attn_v", "attention.output.dense": "attn_output",
             "attention.output.LayerNorm": "attn_output_norm", "intermediate.dense": "ffn_up",
             "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm"}
        for i in range(c["num_hidden_layers"]):
            for k, v in m.items():
                for kind in ("weight", "bias"):
                    out["blk.%d.%s.%s" % (i, v, kind)] = \
                        sd["%sencoder.layer.%d.%s.%s" % (p, i, k, kind)]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("arch")
    ap.add_argument("outdir")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--no-pad", action="store_true")
    ap.add_argument("--prefix", default=None)
    ap.add_argument("--expected", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--small", action="store_true", help="1 layer, width 32 (fuzz seeds)")
    ap.add_argument("--vocab", type=int, default=0, help="vocabulary size (default 128)")
    ap.add_argument("--hidden", type=int, default=0, help="width (ffn 3x) for bigger models")
    ap.add_argument("--layers", type=int, default=0)
    a = ap.parse_args(argv)
    torch.manual_seed(a.seed)
    c = config_for(a.arch, a.tied)
    if a.small:
        for k, v in (("hidden_size", 32), ("n_embd", 32), ("num_hidden_layers", 1),
                     ("n_layer", 1), ("intermediate_size", 32), ("vocab_size", 32),
                     ("max_position_embeddings", 16), ("n_positions", 16),
                     ("num_attention_heads", 2), ("n_head", 2), ("num_key_value_heads", 1)):
            if k in c:
                c[k] = v
    if a.vocab:
        c["vocab_size"] = a.vocab
    if a.hidden:
        for k in ("hidden_size", "n_embd"):
            if k in c:
                c[k] = a.hidden
        if "intermediate_size" in c:
            c["intermediate_size"] = 3 * a.hidden
    if a.layers:
        for k in ("num_hidden_layers", "n_layer"):
            if k in c:
                c[k] = a.layers
    if a.arch in ("llama", "qwen2"):
        model = Llama(c, bias=(a.arch == "qwen2"))
        prefix = ""
    elif a.arch == "gpt2":
        model = Gpt2(c)
        prefix = "transformer." if a.prefix is None else a.prefix
    else:
        model = Bert(c)
        prefix = "" if a.prefix is None else a.prefix
    dt, st = DTYPES[a.dtype]
    sd = {}
    for k, v in model.state_dict().items():
        v = (v + 0.01 * torch.randn_like(v)).to(dt)  # LayerNorm ones/zeros made distinct
        if a.arch == "gpt2":
            k = prefix + k[len("transformer."):]
        elif a.arch == "bert":
            k = prefix + k
        sd[k] = v
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    items = sorted(sd.items())
    if a.shards <= 1:
        write_safetensors(os.path.join(a.outdir, "model.safetensors"), items, st,
                          pad=not a.no_pad, metadata={"format": "pt"})
    else:
        n = a.shards
        wm = {}
        for s in range(n):
            part = items[s::n]
            fn = "model-%05d-of-%05d.safetensors" % (s + 1, n)
            write_safetensors(os.path.join(a.outdir, fn), part, st, pad=not a.no_pad)
            for k, _ in part:
                wm[k] = fn
        with open(os.path.join(a.outdir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f, indent=2)
    if a.expected:
        ed = os.path.join(a.outdir, "expected")
        os.makedirs(ed, exist_ok=True)
        for name, t in expected(a.arch, c, sd, prefix).items():
            with open(os.path.join(ed, name + ".bin"), "wb") as f:
                f.write(raw(t))


if __name__ == "__main__":
    import shlex
    import sys
    if len(sys.argv) > 2 and sys.argv[1] == "many":
        # tiny_hf.py many BASEDIR "NAME ARCH [options]" ...: several models, one torch import
        for spec in sys.argv[3:]:
            words = shlex.split(spec)
            main([words[1], os.path.join(sys.argv[2], words[0])] + words[2:])
    else:
        main()
