"""Peer for bench_matmul: PyTorch's matmul out = x @ W^T on the same shapes and thread count.

Usage: bench_matmul_torch.py THREADS REPS [--cpu-time] SHAPE... where SHAPE is n_out:n_in:T.
--cpu-time times by this thread's CPU time (with THREADS 1), as bench_matmul --cpu-time does.
Prints one line per shape and dtype: "torch DTYPE n_out n_in T median_seconds".
bf16 is measured when torch supports a bf16 matmul on this CPU.
"""
import statistics
import sys
import time

import torch


def median_time(fn, reps, clock):
    fn()
    times = []
    for _ in range(reps):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def main():
    threads, reps = int(sys.argv[1]), int(sys.argv[2])
    specs = sys.argv[3:]
    clock = time.perf_counter
    if specs and specs[0] == "--cpu-time":
        clock, specs = time.thread_time, specs[1:]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for spec in specs:
        n_out, n_in, T = (int(v) for v in spec.split(":"))
        for dtype, name in ((torch.float32, "f32"), (torch.bfloat16, "bf16")):
            # decode reads W from memory each call: cycle through copies larger than caches
            copies = max(1, (256 << 20) // (n_out * n_in * (4 if name == "f32" else 2)))
            if T > 1:
                copies = 1
            try:
                ws = [torch.randn(n_out, n_in).to(dtype) for _ in range(copies)]
                x = torch.randn(T, n_in).to(dtype)
                state = {"i": 0}

                def run():
                    w = ws[state["i"] % copies]
                    state["i"] += 1
                    torch.matmul(x, w.t())

                sec = median_time(run, reps, clock)
            except RuntimeError:
                continue
            print(f"torch {name} {n_out} {n_in} {T} {sec:.9f}", flush=True)


if __name__ == "__main__":
    main()
