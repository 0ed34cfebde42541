#!/usr/bin/env python3
"""Peer side of bench_hnsw: hnswlib and FAISS HNSW on the same files, one thread.

usage: bench_hnsw.py DIR N DIM NQ M EF_CONSTRUCTION EF[,EF...]
DIR holds base.f32 (N x DIM), query.f32 (NQ x DIM), gt.i64 (NQ x 10) written by bench_hnsw.
Prints one JSON object per (engine, ef) line.
"""
import json, os, sys, time

import numpy as np


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def recall(labels, gt):
    hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(labels, gt))
    return hits / gt.size


def main():
    d, n, dim, nq, m, efc = sys.argv[1], *map(int, sys.argv[2:7])
    efs = [int(x) for x in sys.argv[7].split(",")]
    base = np.fromfile(os.path.join(d, "base.f32"), dtype=np.float32).reshape(n, dim)
    query = np.fromfile(os.path.join(d, "query.f32"), dtype=np.float32).reshape(nq, dim)
    gt = np.fromfile(os.path.join(d, "gt.i64"), dtype=np.int64).reshape(nq, 10)
    engines = sys.argv[8].split(",") if len(sys.argv) > 8 else ["hnswlib", "faiss"]
    if "hnswlib" in engines:
        import hnswlib
        r0 = rss_mb()
        t = time.process_time()
        p = hnswlib.Index(space="l2", dim=dim)
        p.init_index(max_elements=n, M=m, ef_construction=efc, random_seed=100)
        p.set_num_threads(1)
        p.add_items(base, np.arange(n), num_threads=1)
        build = time.process_time() - t
        mem = rss_mb() - r0
        for ef in efs:
            p.set_ef(ef)
            times = []
            for _ in range(3):
                t = time.process_time()
                # One batched call on one thread: no Python overhead per query.
                labels = p.knn_query(query, k=10, num_threads=1)[0].astype(np.int64)
                times.append(time.process_time() - t)
            times.sort()
            print(json.dumps({"engine": "hnswlib", "build_s": build, "mem_mb": mem, "ef": ef,
                              "qps": nq / times[1], "recall": recall(labels, gt)}), flush=True)
        del p
    if "faiss" in engines:
        import faiss
        faiss.omp_set_num_threads(1)
        r0 = rss_mb()
        t = time.process_time()
        idx = faiss.IndexHNSWFlat(dim, m)
        idx.hnsw.efConstruction = efc
        idx.add(base)
        build = time.process_time() - t
        mem = rss_mb() - r0
        for ef in efs:
            idx.hnsw.efSearch = ef
            times = []
            for _ in range(3):
                t = time.process_time()
                labels = idx.search(query, 10)[1]
                times.append(time.process_time() - t)
            times.sort()
            print(json.dumps({"engine": "faiss", "build_s": build, "mem_mb": mem, "ef": ef,
                              "qps": nq / times[1], "recall": recall(labels, gt)}), flush=True)


if __name__ == "__main__":
    main()
