/*
 * bench_hnsw.c — ragtune's HNSW against hnswlib and FAISS HNSW on the same clustered vectors,
 * one thread each, one run: build time, memory (resident growth during build), and queries/s with
 * recall@10 (against exact search) for each efSearch; then queries/s at the fastest ef reaching
 * recall 0.95, as ratios. The reference peer is hnswlib compiled for this CPU (peer_hnswlib.cpp:
 * Debian's libhnswlib-dev headers, -O3 -march=native, built when CMake finds the headers); the
 * Debian python3-hnswlib build (no AVX: handicapped) and python3-faiss are further rows.
 * Each row's build and distance kernel is printed above the table.
 *
 * Times are process CPU time (on an idle machine equal to wall time for one thread; on a shared
 * machine they do not count time spent waiting for a core). Peers are timed the same way.
 * usage: bench_hnsw [N DIM] [--nq Q] [--m M] [--efc EF] [--ef a,b,c] [--clusters C]
 *                   [--python PY] [--engines native,thp,hnswlib,faiss] [--int8]
 * engines: native = peer_hnswlib (C++, beside this program), thp = the same with glibc's malloc
 * advising transparent huge pages (not in the default list), hnswlib = Debian python3-hnswlib,
 * faiss = Debian python3-faiss. --int8 stores ragtune's vectors int8-quantized (peers: float32).
 * defaults: 100000 x 128, 1000 queries, M 16, efConstruction 200, ef 10,16,24,32,48,64,96,128.
 */
#include "bench_util.h"
#include "core/error.h"
#include "core/file.h"
#include "knowledge/hnsw.h"
#include "knowledge/vector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng = 0x853c49e6748fea9bull;
static double unif(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static float gauss(void) {
    return (float)(sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif()));
}

typedef struct row {
    const char *engine;
    double build, mem;
    int ef;
    double qps, recall;
    double hops, dists; /* per query, 0 when the engine does not say */
} row;

#define MAX_ROWS 64

/* Runs a peer command and appends its rows ({"engine": ...} JSON lines); "# " lines (how the
 * peer was built) are printed as they come. */
static void read_peer_rows(const char *cmd, row *rows, int *n_rows) {
    FILE *p = popen(cmd, "r");
    char line[1024];
    while (p && fgets(line, sizeof line, p) && *n_rows < MAX_ROWS) {
        if (line[0] == '#') {
            fputs(line, stdout);
            continue;
        }
        row r = {0};
        char eng[32] = "";
        const char *s;
        if ((s = strstr(line, "\"engine\": \""))) sscanf(s + 11, "%31[^\"]", eng);
        if ((s = strstr(line, "\"build_s\": "))) r.build = atof(s + 11);
        if ((s = strstr(line, "\"mem_mb\": "))) r.mem = atof(s + 10);
        if ((s = strstr(line, "\"ef\": "))) r.ef = atoi(s + 6);
        if ((s = strstr(line, "\"qps\": "))) r.qps = atof(s + 7);
        if ((s = strstr(line, "\"recall\": "))) r.recall = atof(s + 10);
        if ((s = strstr(line, "\"hops\": "))) r.hops = atof(s + 8);
        if ((s = strstr(line, "\"dists\": "))) r.dists = atof(s + 9);
        r.engine = !strcmp(eng, "hnswlib-native")       ? "hnswlib"
                   : !strcmp(eng, "hnswlib-native-thp") ? "hnswlib-thp"
                   : !strcmp(eng, "hnswlib")            ? "hnswlib-deb"
                   : !strcmp(eng, "faiss")              ? "faiss"
                                                        : NULL;
        if (r.engine) rows[(*n_rows)++] = r;
    }
    if (p) pclose(p);
}

int main(int argc, char **argv) {
    size_t n = 100000, dim = 128, nq = 1000, clusters = 100;
    int m = 16, efc = 200;
    bool int8 = false;
    char efs_arg[256] = "10,16,24,32,48,64,96,128";
    const char *py = getenv("RT_PYTHON") ? getenv("RT_PYTHON") : "/usr/bin/python3";
    const char *engines = "native,hnswlib,faiss";
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--nq"))
            nq = (size_t)atol(v), i++;
        else if (!strcmp(a, "--m"))
            m = atoi(v), i++;
        else if (!strcmp(a, "--efc"))
            efc = atoi(v), i++;
        else if (!strcmp(a, "--ef"))
            snprintf(efs_arg, sizeof efs_arg, "%s", v), i++;
        else if (!strcmp(a, "--clusters"))
            clusters = (size_t)atol(v), i++;
        else if (!strcmp(a, "--python"))
            py = v, i++;
        else if (!strcmp(a, "--engines"))
            engines = v, i++;
        else if (!strcmp(a, "--int8"))
            int8 = true;
        else if (pos < 2 && atol(a) > 0)
            *(pos++ == 0 ? &n : &dim) = (size_t)atol(a);
        else {
            fprintf(stderr, "usage: bench_hnsw [N [DIM]] [--nq N] [--m M] [--efc N] [--ef LIST] "
                            "[--clusters N] [--python PY] [--engines native,thp,hnswlib,faiss] "
                            "[--int8]\n");
            return strcmp(a, "--help") ? 2 : 0;
        }
    }
    int efs[32], n_ef = 0;
    for (char *s = strtok(strdup(efs_arg), ","); s && n_ef < 32; s = strtok(NULL, ","))
        efs[n_ef++] = atoi(s);
    printf("bench_hnsw: %zu x %zu clustered (%zu clusters), %zu queries, M %d, efC %d, 1 thread, "
           "kernels %s%s\n",
           n, dim, clusters, nq, m, efc, rt_cpu_level_name(rt_vec_kernels_get()->level), int8 ? ", ragtune int8" : "");
    /* Data: cluster centres N(0, 3^2), points centre + N(0, 1); queries from the same mix. */
    float *centres = malloc(clusters * dim * sizeof *centres);
    float *base = malloc(n * dim * sizeof *base), *query = malloc(nq * dim * sizeof *query);
    for (size_t i = 0; i < clusters * dim; i++)
        centres[i] = 3 * gauss();
    for (size_t i = 0; i < n + nq; i++) {
        float *x = i < n ? base + i * dim : query + (i - n) * dim;
        size_t c = (size_t)(unif() * (double)clusters) % clusters;
        for (size_t j = 0; j < dim; j++)
            x[j] = centres[c * dim + j] + gauss();
    }
    /* Ground truth by exact search. */
    int64_t *gt = malloc(nq * 10 * sizeof *gt);
    rt_hit hits[128];
    double t = bench_cpu_seconds();
    for (size_t q = 0; q < nq; q++) {
        rt_vec_exact_search(base, NULL, n, dim, RT_METRIC_L2, query + q * dim, 10, NULL, hits);
        for (int k = 0; k < 10; k++)
            gt[q * 10 + k] = hits[k].id;
    }
    printf("exact search: %.1f queries/s (ground truth)\n", (double)nq / (bench_cpu_seconds() - t));
    char dir[] = "/tmp/rt-bench-hnsw-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[512];
    snprintf(path, sizeof path, "%s/base.f32", dir);
    rt_file_write_atomic(path, base, n * dim * sizeof *base);
    snprintf(path, sizeof path, "%s/query.f32", dir);
    rt_file_write_atomic(path, query, nq * dim * sizeof *query);
    snprintf(path, sizeof path, "%s/gt.i64", dir);
    rt_file_write_atomic(path, gt, nq * 10 * sizeof *gt);
    row rows[MAX_ROWS];
    int n_rows = 0;
    /* Ours. */
    rt_hnsw_config cfg = rt_hnsw_default_config((int)dim);
    cfg.m = m;
    cfg.ef_construction = efc;
    cfg.int8 = int8;
    double r0 = bench_rss_mb();
    t = bench_cpu_seconds();
    rt_hnsw *h;
    if (rt_hnsw_new(&cfg, &h) || rt_hnsw_reserve(h, n)) {
        fprintf(stderr, "%s\n", rt_last_error());
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (rt_hnsw_add(h, (int64_t)i, base + i * dim)) {
            fprintf(stderr, "%s\n", rt_last_error());
            return 1;
        }
    double build = bench_cpu_seconds() - t, mem = bench_rss_mb() - r0;
    double huge_mb = bench_anon_huge_mb();
    rt_hnsw_scratch *scratch;
    if (rt_hnsw_scratch_new(&scratch)) return 1;
    for (int e = 0; e < n_ef; e++) {
        double times[3];
        size_t hit = 0;
        uint64_t hops0 = 0, dists0 = 0, hops1, dists1;
        for (int rep = 0; rep < 3; rep++) {
            hit = 0;
            rt_hnsw_scratch_counts(scratch, &hops0, &dists0);
            t = bench_cpu_seconds();
            for (size_t q = 0; q < nq; q++) {
                int got = rt_hnsw_search_with(h, scratch, query + q * dim, 10, efs[e], NULL, hits);
                if (got < 0) {
                    fprintf(stderr, "%s\n", rt_last_error());
                    return 1;
                }
                for (int a = 0; a < got; a++)
                    for (int b = 0; b < 10; b++)
                        hit += hits[a].id == gt[q * 10 + b];
            }
            times[rep] = bench_cpu_seconds() - t;
        }
        /* median of 3 */
        double lo = fmin(times[0], fmin(times[1], times[2]));
        double hi = fmax(times[0], fmax(times[1], times[2]));
        double med = times[0] + times[1] + times[2] - lo - hi;
        rt_hnsw_scratch_counts(scratch, &hops1, &dists1);
        rows[n_rows++] = (row){"ragtune",
                               build,
                               mem,
                               efs[e],
                               (double)nq / med,
                               (double)hit / (double)(nq * 10),
                               (double)(hops1 - hops0) / (double)nq,
                               (double)(dists1 - dists0) / (double)nq};
    }
    rt_hnsw_scratch_free(scratch);
    rt_hnsw_free(h);
    /* Peers, same files. */
    printf("# ragtune: gcc -O2 (library build), L2 kernel dispatched at run time: %s; %.0f MB in "
           "transparent huge pages after the build (it advises its node arrays)\n",
           rt_cpu_level_name(rt_vec_kernels_get()->level), huge_mb);
    char cmd[2048];
    if (strstr(engines, "native")) {
        if (bench_peer_path("peer_hnswlib", cmd, sizeof cmd)) {
            snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s %zu %zu %zu %d %d %s", dir,
                     n, dim, nq, m, efc, efs_arg);
            read_peer_rows(cmd, rows, &n_rows);
        } else {
            printf("# hnswlib (native): not built (%s missing: install libhnswlib-dev and "
                   "reconfigure)\n",
                   cmd);
        }
    }
    /* The same peer with glibc's malloc advising transparent huge pages, as ragtune does for its
     * node arrays: shows how much of the lead is huge pages. */
    if (strstr(engines, "thp") && bench_peer_path("peer_hnswlib", cmd, sizeof cmd)) {
        char thp_cmd[2048 + sizeof efs_arg + 512]; /* cmd, efs_arg and the rest fit */
        snprintf(thp_cmd, sizeof thp_cmd,
                 "GLIBC_TUNABLES=glibc.malloc.hugetlb=1 '%s' %s %zu %zu %zu %d %d %s", cmd, dir, n,
                 dim, nq, m, efc, efs_arg);
        read_peer_rows(thp_cmd, rows, &n_rows);
    }
    /* The Python peers; the script is beside this source file (CMake compiles it by absolute
     * path). */
    char py_engines[64] = "";
    if (strstr(engines, "hnswlib")) strcat(py_engines, "hnswlib");
    if (strstr(engines, "faiss")) strcat(py_engines, *py_engines ? ",faiss" : "faiss");
    if (*py_engines) {
        printf("# hnswlib-deb: Debian python3-hnswlib (no AVX: handicapped), one batched knn_query "
               "per pass\n# faiss: Debian python3-faiss IndexHNSWFlat, one batched search per "
               "pass\n");
        fflush(stdout);
        char bench_dir[512];
        snprintf(bench_dir, sizeof bench_dir, "%s", __FILE__);
        char *slash = strrchr(bench_dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(bench_dir, sizeof bench_dir, "bench");
        snprintf(cmd, sizeof cmd, "'%s' '%s/bench_hnsw.py' %s %zu %zu %zu %d %d %s %s", py,
                 bench_dir, dir, n, dim, nq, m, efc, efs_arg, py_engines);
        read_peer_rows(cmd, rows, &n_rows);
    }
    /* hops and distances per query count work independently of the machine's load; hnswlib
     * counts hops on every level and, for "dists", every link it scans (visited or not). */
    printf("\n%-12s %6s %10s %9s %10s %10s %8s %8s\n", "engine", "ef", "recall@10", "q/s",
           "build s", "mem MB", "hops/q", "dists/q");
    for (int i = 0; i < n_rows; i++)
        printf("%-12s %6d %10.4f %9.0f %10.2f %10.1f %8.0f %8.0f\n", rows[i].engine, rows[i].ef,
               rows[i].recall, rows[i].qps, rows[i].build, rows[i].mem, rows[i].hops,
               rows[i].dists);
    /* At recall >= 0.95: the smallest ef per engine. */
    /* hnswlib (native) is the reference; hnswlib-deb is the handicapped Debian Python build. */
    enum { N_ENGINES = 5 };
    const char *names[N_ENGINES] = {"ragtune", "hnswlib", "hnswlib-thp", "hnswlib-deb", "faiss"};
    row best[N_ENGINES] = {{0}};
    for (int e = 0; e < N_ENGINES; e++)
        for (int i = 0; i < n_rows; i++)
            if (!strcmp(rows[i].engine, names[e]) && rows[i].recall >= 0.95 &&
                (!best[e].engine || rows[i].qps > best[e].qps))
                best[e] = rows[i];
    printf("\nat recall@10 >= 0.95 (fastest ef that reaches it):\n");
    for (int e = 0; e < N_ENGINES; e++)
        if (best[e].engine)
            printf("  %-12s ef %4d  recall %.4f  %8.0f q/s  build %7.2f s  mem %7.1f MB\n",
                   names[e], best[e].ef, best[e].recall, best[e].qps, best[e].build, best[e].mem);
    for (int e = 1; e < N_ENGINES; e++)
        if (best[0].engine && best[e].engine)
            printf("  ragtune / %-12s  q/s x%.2f   build time x%.2f   memory x%.2f%s\n", names[e],
                   best[0].qps / best[e].qps, best[0].build / best[e].build,
                   best[e].mem > 0 ? best[0].mem / best[e].mem : 0.0,
                   e == 1 ? "   (reference)" : "");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 1;
    free(centres);
    free(base);
    free(query);
    free(gt);
    return 0;
}
