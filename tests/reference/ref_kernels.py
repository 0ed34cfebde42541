"""Reference for ref_kernels.c: GGUF quantization formulas in numpy, and matmuls in PyTorch.

Usage: ref_kernels.py DIR N_OUT N_IN T
Reads from DIR (raw little-endian float32): conv.bin (values for the conversion checks,
a multiple of 32), w.bin (N_OUT, N_IN), x.bin (T, N_IN), dy.bin (T, N_OUT), dx0.bin (T, N_IN).
Writes to DIR, for each dtype D in f32 f16 bf16 q8_0 q4_0 (conv_D: not for f32):
  conv_D.bin   conv.bin converted to D (raw GGUF bytes)
  w_D.bin      w.bin converted to D
  out_D.bin    (T, N_OUT) x @ dequant(w_D)^T in float64 (f32 too), from torch
  tol_D.bin    (T, N_OUT) allowed |error| (see below)
  dx_D.bin     (T, N_IN) dx0 + dy @ dequant(w_D), torch float64
  dxtol_D.bin  (T, N_IN) allowed |error|
Tolerances: 1e-4 * sum_i |w_i x_i| for float weights (float32 summation in any order is far
inside that); for q8_0/q4_0 weights, whose activations are quantized to q8_0 per block of 32
(as llama.cpp does), add the activation-quantization bound sum_blocks (d_x / 2) * sum |w_i|,
where d_x is that block's q8_0 scale. tol_bf16act.bin is for bf16 weights with
rt_matmul_set_bf16_activations(true) (activations rounded to bf16): plus 2^-9 * sum_i |w_i x_i|.
"""
import os
import sys

import numpy as np
import torch

QK = 32


def round_half_away(v32):
    """C roundf() of float32 values, exactly (float64 holds v + 0.5 exactly)."""
    v = v32.astype(np.float64)
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


def quantize_q8_0(x):
    """x (n,) float32 -> (bytes, d float32 per block, q int per element)."""
    b = x.reshape(-1, QK).astype(np.float32)
    amax = np.abs(b).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    q = round_half_away((b * inv[:, None]).astype(np.float32))
    d16 = d.astype(np.float16)
    out = bytearray()
    for i in range(b.shape[0]):
        out += d16[i:i + 1].tobytes() + q[i].astype(np.int8).tobytes()
    return bytes(out), d16.astype(np.float32), q


def dequant_q8_0(d, q):
    return (q.astype(np.float32) * d[:, None]).reshape(-1)


def quantize_q4_0(x):
    b = x.reshape(-1, QK).astype(np.float32)
    idx = np.abs(b).argmax(axis=1)  # first index of the largest magnitude, as the C loop
    mx = b[np.arange(b.shape[0]), idx]
    d = (mx / np.float32(-8)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = ((b * inv[:, None]).astype(np.float32) + np.float32(8.5)).astype(np.float32)
    q = np.clip(np.trunc(v), 0, 15).astype(np.uint8)  # (int) truncates toward zero
    d16 = d.astype(np.float16)
    out = bytearray()
    for i in range(b.shape[0]):
        packed = q[i, :QK // 2] | (q[i, QK // 2:] << 4)
        out += d16[i:i + 1].tobytes() + packed.astype(np.uint8).tobytes()
    deq = ((q.astype(np.float32) - 8) * d16.astype(np.float32)[:, None]).reshape(-1)
    return bytes(out), deq


def to_bf16_bits(x):
    """Round to nearest even via torch (an independent implementation of the C formula)."""
    t = torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16)
    return t.view(torch.int16).numpy().view(np.uint16)


def convert(x, dtype):
    """x (rows, n) float32 -> (raw bytes, dequantized float32 (rows, n))."""
    raw, deq = bytearray(), []
    for row in x:
        if dtype == "f32":
            raw += row.astype("<f4").tobytes()
            deq.append(row.astype(np.float32))
        elif dtype == "f16":
            with np.errstate(over="ignore"):  # overflow to inf is what is tested
                h = row.astype(np.float16)
            raw += h.tobytes()
            deq.append(h.astype(np.float32))
        elif dtype == "bf16":
            h = to_bf16_bits(row)
            raw += h.tobytes()
            deq.append((h.astype(np.uint32) << 16).view(np.float32))
        elif dtype == "q8_0":
            r, d, q = quantize_q8_0(row)
            raw += r
            deq.append(dequant_q8_0(d, q))
        else:
            r, dq = quantize_q4_0(row)
            raw += r
            deq.append(dq)
    return bytes(raw), np.stack(deq)


def main():
    out_dir, n_out, n_in, T = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

    def load(name, shape):
        return np.fromfile(os.path.join(out_dir, name), dtype="<f4").reshape(shape)

    def save(name, data):
        path = os.path.join(out_dir, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes())

    conv = np.fromfile(os.path.join(out_dir, "conv.bin"), dtype="<f4")
    w, x = load("w.bin", (n_out, n_in)), load("x.bin", (T, n_in))
    dy, dx0 = load("dy.bin", (T, n_out)), load("dx0.bin", (T, n_in))
    for dtype in ("f32", "f16", "bf16", "q8_0", "q4_0"):
        if dtype == "f32":
            pass
        elif dtype in ("f16", "bf16"):
            raw, _ = convert(conv[None, :], dtype)
        else:  # conv has inf/huge values only in its float part; quantize its finite head
            raw, _ = convert(conv[None, : (len(conv) // 2) // QK * QK], dtype)
        if dtype != "f32":
            save(f"conv_{dtype}.bin", raw)
        raw, wd = convert(w, dtype)
        save(f"w_{dtype}.bin", raw)
        wt = torch.from_numpy(wd.astype(np.float64))
        xt = torch.from_numpy(x.astype(np.float64))
        out = torch.matmul(xt, wt.t())
        tol = 1e-4 * torch.matmul(xt.abs(), wt.abs().t())
        if dtype == "bf16":
            # opt-in AMX path: activations rounded to bf16, |x - bf16(x)| <= 2^-9 |x|
            loose = tol + 2.0**-9 * torch.matmul(xt.abs(), wt.abs().t())
            save("tol_bf16act.bin", loose.numpy().astype(np.float32))
        if dtype in ("q8_0", "q4_0"):
            # activation quantization: |x - dequant(q8_0(x))| <= d_x / 2 per element
            half_step = np.stack([np.repeat(quantize_q8_0(row)[1] / 2, QK) for row in x])
            tol += torch.matmul(torch.from_numpy(half_step.astype(np.float64)), wt.abs().t())
        save(f"out_{dtype}.bin", out.numpy().astype(np.float32))
        save(f"tol_{dtype}.bin", tol.numpy().astype(np.float32))
        dyt = torch.from_numpy(dy.astype(np.float64))
        dx = torch.from_numpy(dx0.astype(np.float64)) + torch.matmul(dyt, wt)
        dxtol = 1e-4 * (torch.matmul(dyt.abs(), wt.abs()) + 1e-6)
        save(f"dx_{dtype}.bin", dx.numpy().astype(np.float32))
        save(f"dxtol_{dtype}.bin", dxtol.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
