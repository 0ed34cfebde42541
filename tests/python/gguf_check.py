"""gguf_check.py — an independent check that a GGUF file ragtune wrote is what llama.cpp's
convert_hf_to_gguf.py would write for the same Hugging Face model (f32 output).

usage: gguf_check.py HF_DIR GGUF_FILE          check a file ragtune wrote
       gguf_check.py --write HF_DIR GGUF_FILE  write the file llama.cpp's converter would
                                               (f32, general.alignment 64), for ragtune to read

Parses the GGUF file from the specification (not with ragtune's code), parses the HF
safetensors file by hand, applies llama.cpp's conventions (llama: q/k rows permuted with
convert_hf_to_gguf's permute(); gpt2: Conv1D weights transposed, c_attn kept fused as attn_qkv,
output = wte; bert: names only) and compares every tensor bit for bit. Also checks the header:
magic, version 3, alignment of every offset, the data section start and the metadata keys
llama.cpp requires. Exit status 0 when all match.
"""
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        assert v["dtype"] == "F32", "check works on f32 models"
        out[k] = np.frombuffer(data[b:e], dtype=np.float32).reshape(v["shape"])
    return out


class Reader:
    def __init__(self, path):
        self.b = open(path, "rb").read()
        self.p = 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.b, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.take("Q")
        s = self.b[self.p:self.p + n].decode()
        self.p += n
        return s

    SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
              12: "d"}

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            at, n = self.take("I"), self.take("Q")
            return [self.value(at) for _ in range(n)]
        return self.take(self.SCALAR[t])


def read_gguf(path):
    r = Reader(path)
    assert r.b[:4] == b"GGUF", "magic"
    r.p = 4
    version = r.take("I")
    assert version == 3, "version %d" % version
    n_t, n_kv = r.take("Q"), r.take("Q")
    kv = {}
    for _ in range(n_kv):
        k = r.string()
        kv[k] = r.value(r.take("I"))
    align = kv.get("general.alignment", 32)
    infos = []
    for _ in range(n_t):
        name = r.string()
        nd = r.take("I")
        ne = [r.take("Q") for _ in range(nd)]
        typ, off = r.take("I"), r.take("Q")
        assert off % align == 0, "offset of %s not aligned" % name
        infos.append((name, ne, typ, off))
    start = (r.p + align - 1) // align * align
    tensors = {}
    for name, ne, typ, off in infos:
        assert typ == 0, "check works on f32 files (%s has type %d)" % (name, typ)
        n = int(np.prod(ne))
        a = np.frombuffer(r.b, dtype=np.float32, count=n, offset=start + off)
        tensors[name] = a.reshape(list(reversed(ne)))
    return kv, tensors


def permute(w, n_head, n_head_kv):
    # convert_hf_to_gguf.py's LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def expected(arch, cfg, sd):
    out = {}
    if arch in ("llama", "qwen2"):
        H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        m = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight":
             "output_norm.weight", "lm_head.weight": "output.weight"}
        lm = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
              "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
              "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
        for k, v in sd.items():
            if k in m:
                out[m[k]] = v
                continue
            parts = k.split(".")
            il, rest, kind = parts[2], ".".join(parts[3:-1]), parts[-1]
            name = "blk.%s.%s.%s" % (il, lm[rest], kind)
            if arch == "llama" and rest == "self_attn.q_proj":
                v = permute(v, H, H)
            if arch == "llama" and rest == "self_attn.k_proj":
                v = permute(v, H, KV)
            out[name] = v
    elif arch == "gpt2":
        lm = {"ln_1": "attn_norm", "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output",
              "ln_2": "ffn_norm", "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down"}
        for k, v in sd.items():
            k = k[len("transformer."):] if k.startswith("transformer.") else k
            if k.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
                v = v.T
            if k == "wte.weight":
                out["token_embd.weight"] = v
                out["output.weight"] = v
            elif k == "wpe.weight":
                out["position_embd.weight"] = v
            elif k.startswith("ln_f."):
                out["output_norm." + k.split(".")[-1]] = v
            else:
                parts = k.split(".")
                out["blk.%s.%s.%s" % (parts[1], lm[".".join(parts[2:-1])], parts[-1])] = v
    else:
        lm = {"attention.self.query": "attn_q", "attention.self.key": "attn_k",
              "attention.self.value": "attn_v", "attention.output.dense": "attn_output",
              "attention.output.LayerNorm": "attn_output_norm", "intermediate.dense": "ffn_up",
              "output.dense": "ffn_down", "output.LayerNorm": "layer_output_norm"}
        top = {"embeddings.word_embeddings.weight": "token_embd.weight",
               "embeddings.position_embeddings.weight": "position_embd.weight",
               "embeddings.token_type_embeddings.weight": "token_types.weight",
               "embeddings.LayerNorm.weight": "token_embd_norm.weight",
               "embeddings.LayerNorm.bias": "token_embd_norm.bias"}
        for k, v in sd.items():
            k = k[len("bert."):] if k.startswith("bert.") else k
            if k in top:
                out[top[k]] = v
                continue
            parts = k.split(".")
            out["blk.%s.%s.%s" % (parts[2], lm[".".join(parts[3:-1])], parts[-1])] = v
    return out


REQUIRED = {
    "llama": ["context_length", "embedding_length", "block_count", "feed_forward_length",
              "attention.head_count", "attention.head_count_kv", "rope.dimension_count",
              "attention.layer_norm_rms_epsilon"],
    "gpt2": ["context_length", "embedding_length", "block_count", "feed_forward_length",
             "attention.head_count", "attention.layer_norm_epsilon"],
    "bert": ["context_length", "embedding_length", "block_count", "feed_forward_length",
             "attention.head_count", "attention.layer_norm_epsilon", "attention.causal",
             "pooling_type"],
}
REQUIRED["qwen2"] = REQUIRED["llama"]


def write_gguf(hf_dir, path):
    """Writes the f32 GGUF llama.cpp's converter makes of a tiny HF model, from the spec."""
    cfg = json.load(open(hf_dir + "/config.json"))
    sd = read_safetensors(hf_dir + "/model.safetensors")
    arch = cfg["model_type"]
    tensors = expected(arch, cfg, sd)
    if arch == "gpt2":
        E, L, H, F = cfg["n_embd"], cfg["n_layer"], cfg["n_head"], cfg["n_inner"] or 4 * cfg["n_embd"]
        ctx, eps = cfg["n_positions"], cfg["layer_norm_epsilon"]
    else:
        E, L, H, F = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], \
            cfg["intermediate_size"]
        ctx = cfg["max_position_embeddings"]
        eps = cfg.get("rms_norm_eps", cfg.get("layer_norm_eps"))
    kv = [("general.architecture", 8, arch), ("general.name", 8, "tiny"),
          ("general.alignment", 4, 64), ("general.file_type", 4, 0),
          (arch + ".context_length", 4, ctx), (arch + ".embedding_length", 4, E),
          (arch + ".block_count", 4, L), (arch + ".feed_forward_length", 4, F),
          (arch + ".attention.head_count", 4, H)]
    if arch in ("llama", "qwen2"):
        kv += [(arch + ".attention.head_count_kv", 4, cfg["num_key_value_heads"]),
               (arch + ".rope.dimension_count", 4, E // H),
               (arch + ".rope.freq_base", 6, cfg.get("rope_theta", 10000.0)),
               (arch + ".attention.layer_norm_rms_epsilon", 6, eps)]
    else:
        kv += [(arch + ".attention.layer_norm_epsilon", 6, eps)]
    if arch == "bert":
        kv += [("bert.attention.causal", 7, False), ("bert.pooling_type", 4, 2)]
    kv += [("tokenizer.ggml.model", 8, "gpt2"),
           ("tokenizer.ggml.tokens", 9, ["t%d" % i for i in range(4)])]

    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b

    def val(t, v):
        if t == 8:
            return s(v)
        if t == 9:
            return struct.pack("<IQ", 8, len(v)) + b"".join(s(x) for x in v)
        return struct.pack("<" + {4: "I", 6: "f", 7: "?"}[t], v)

    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for k, t, v in kv:
        out += s(k) + struct.pack("<I", t) + val(t, v)
    align, off, blobs = 64, 0, []
    for name, t in tensors.items():
        a = np.ascontiguousarray(t, dtype=np.float32)
        out += s(name) + struct.pack("<I", a.ndim)
        out += b"".join(struct.pack("<Q", d) for d in reversed(a.shape))
        out += struct.pack("<IQ", 0, off)
        b = a.tobytes()
        blobs.append(b + b"\0" * ((align - len(b) % align) % align))
        off += len(blobs[-1])
    out += b"\0" * ((align - len(out) % align) % align)
    open(path, "wb").write(out + b"".join(blobs))
    print("wrote %s: %d tensors" % (path, len(tensors)))


def main():
    if sys.argv[1] == "--write":
        write_gguf(sys.argv[2], sys.argv[3])
        return
    hf_dir, path = sys.argv[1], sys.argv[2]
    cfg = json.load(open(hf_dir + "/config.json"))
    sd = read_safetensors(hf_dir + "/model.safetensors")
    kv, tensors = read_gguf(path)
    arch = kv["general.architecture"]
    for k in REQUIRED[arch]:
        assert arch + "." + k in kv, "missing key %s.%s" % (arch, k)
    assert kv["general.file_type"] == 0
    want = expected(arch, cfg, sd)
    extra = set(tensors) - set(want) - {"rope_freqs.weight"}
    missing = set(want) - set(tensors)
    assert not extra and not missing, "extra %s missing %s" % (sorted(extra), sorted(missing))
    for name, w in want.items():
        g = tensors[name]
        assert g.shape == w.shape, "%s: shape %s vs %s" % (name, g.shape, w.shape)
        assert np.array_equal(g.view(np.uint32), np.ascontiguousarray(w).view(np.uint32)), name
    if "rope_freqs.weight" in tensors:
        rs = cfg["rope_scaling"]
        base, dim = cfg.get("rope_theta", 10000.0), cfg["hidden_size"] // cfg["num_attention_heads"]
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
        f = []
        for fr in freqs:
            wl = 2 * np.pi / fr
            if wl < hi_wl:
                f.append(1)
            elif wl > lo_wl:
                f.append(factor)
            else:
                s = (old / wl - lo) / (hi - lo)
                f.append(1 / ((1 - s) / factor + s))
        assert np.allclose(tensors["rope_freqs.weight"], np.array(f, dtype=np.float32),
                           rtol=1e-6), "rope_freqs"
    print("ok: %d tensors match llama.cpp's conventions" % len(want))


if __name__ == "__main__":
    main()
