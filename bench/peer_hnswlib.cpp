/*
 * peer_hnswlib.cpp — the reference peer of bench_hnsw: hnswlib (Debian's libhnswlib-dev headers)
 * compiled for this CPU (-O3 -march=native, as `pip install hnswlib` users get a CPU-specific
 * build), on the files bench_hnsw writes, one thread. It does not generate data or compute ground
 * truth; bench_hnsw does both and reads this program's output.
 *
 * usage: peer_hnswlib DIR N DIM NQ M EF_CONSTRUCTION EF[,EF...]
 * DIR holds base.f32 (N x DIM), query.f32 (NQ x DIM), gt.i64 (NQ x 10).
 * Prints "# ..." lines (how it was built, which distance kernel ran) and one JSON object per ef
 * in the format of bench_hnsw.py. Times are process CPU time, as in bench_hnsw; memory is the
 * resident-set growth during the build; queries/s is the median of 3 passes of one searchKnn
 * call per query. With GLIBC_TUNABLES=glibc.malloc.hugetlb=1 in its environment it reports as
 * hnswlib-native-thp.
 */
#include "bench_util.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifndef PEER_FLAGS
#define PEER_FLAGS "(unknown flags)"
#endif
#ifndef PEER_HNSWLIB_VERSION
#define PEER_HNSWLIB_VERSION "(unknown version)"
#endif

template <typename T> static bool read_file(const std::string &path, std::vector<T> &out) {
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) return false;
    size_t got = fread(out.data(), sizeof(T), out.size(), f);
    fclose(f);
    return got == out.size();
}

/* The L2 kernel hnswlib's L2Space chooses at run time for a dimension that is a multiple of 16
 * (the same test hnswlib applies: compiled-in ISA, then its CPUID check). */
static const char *l2_kernel(size_t dim) {
#if defined(USE_AVX512)
    const char *simd = AVX512Capable() ? "AVX512" : AVXCapable() ? "AVX" : "SSE";
#elif defined(USE_AVX)
    const char *simd = AVXCapable() ? "AVX" : "SSE";
#elif defined(USE_SSE)
    const char *simd = "SSE";
#else
    const char *simd = "scalar";
#endif
    if (dim % 16 != 0 && std::strcmp(simd, "scalar") != 0)
        return dim % 4 == 0 ? "SSE (dim % 16 != 0)" : "SIMD + scalar tail (dim % 4 != 0)";
    return simd;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: peer_hnswlib DIR N DIM NQ M EF_CONSTRUCTION EF[,EF...]\n");
        return 2;
    }
    std::string dir = argv[1];
    size_t n = strtoull(argv[2], nullptr, 10), dim = strtoull(argv[3], nullptr, 10);
    size_t nq = strtoull(argv[4], nullptr, 10);
    size_t m = strtoull(argv[5], nullptr, 10), efc = strtoull(argv[6], nullptr, 10);
    std::vector<int> efs;
    for (const char *s = argv[7]; *s;) {
        efs.push_back(atoi(s));
        const char *c = strchr(s, ',');
        if (!c) break;
        s = c + 1;
    }
    std::vector<float> base(n * dim), query(nq * dim);
    std::vector<int64_t> gt(nq * 10);
    if (!read_file(dir + "/base.f32", base) || !read_file(dir + "/query.f32", query) ||
        !read_file(dir + "/gt.i64", gt)) {
        fprintf(stderr, "peer_hnswlib: cannot read the vectors in %s\n", dir.c_str());
        return 1;
    }
    printf("# hnswlib: Debian libhnswlib-dev %s headers, %s %s, L2 kernel %s\n",
           PEER_HNSWLIB_VERSION, "g++ " __VERSION__, PEER_FLAGS, l2_kernel(dim));
    fflush(stdout);
    double r0 = bench_rss_mb(), t = bench_cpu_seconds();
    hnswlib::L2Space space(dim);
    hnswlib::HierarchicalNSW<float> index(&space, n, m, efc, 100);
    for (size_t i = 0; i < n; i++)
        index.addPoint(base.data() + i * dim, (hnswlib::labeltype)i);
    double build = bench_cpu_seconds() - t, mem = bench_rss_mb() - r0;
    /* Run with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (bench_hnsw --engines thp), glibc's malloc
     * advises its mappings for transparent huge pages: hnswlib with the huge pages ragtune asks
     * for itself, a row of its own. */
    const char *tun = getenv("GLIBC_TUNABLES");
    bool thp = tun && strstr(tun, "glibc.malloc.hugetlb=1");
    printf("# hnswlib%s: %.0f MB in transparent huge pages after the build\n", thp ? "-thp" : "",
           bench_anon_huge_mb());
    fflush(stdout);
    for (int ef : efs) {
        index.setEf((size_t)ef);
        double times[3];
        size_t hit = 0;
        long hops0 = 0, links0 = 0;
        for (int rep = 0; rep < 3; rep++) {
            hit = 0;
            hops0 = index.metric_hops;
            links0 = index.metric_distance_computations;
            t = bench_cpu_seconds();
            for (size_t q = 0; q < nq; q++) {
                auto res = index.searchKnn(query.data() + q * dim, 10);
                while (!res.empty()) {
                    int64_t label = (int64_t)res.top().second;
                    res.pop();
                    for (int b = 0; b < 10; b++)
                        hit += label == gt[q * 10 + b];
                }
            }
            times[rep] = bench_cpu_seconds() - t;
        }
        std::sort(times, times + 3);
        /* hnswlib's own counters (of the last pass): hops on every level, links scanned */
        double hops = (double)(index.metric_hops - hops0) / (double)nq;
        double links = (double)(index.metric_distance_computations - links0) / (double)nq;
        printf(
            "{\"engine\": \"hnswlib-native%s\", \"build_s\": %.4f, \"mem_mb\": %.2f, \"ef\": %d, "
            "\"qps\": %.2f, \"recall\": %.6f, \"hops\": %.1f, \"dists\": %.1f}\n",
            thp ? "-thp" : "", build, mem, ef, (double)nq / times[1],
            (double)hit / (double)(nq * 10), hops, links);
        fflush(stdout);
    }
    return 0;
}
