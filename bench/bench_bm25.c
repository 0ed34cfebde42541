/*
 * bench_bm25.c — ragtune's BM25 against SQLite FTS5 (bm25 ranking, porter + unicode61
 * tokenizer) on the same corpus and the same queries, one thread, one run: index build time
 * and top-10 queries/s (median of 3 passes), plus the mean overlap of the two top-10 lists as a
 * sanity check (the engines' tokenizers and stemmers differ slightly).
 *
 * Times are process CPU time (on an idle machine equal to wall time for one thread; on a shared
 * machine they do not count time spent waiting for a core). Peers are timed the same way.
 * usage: bench_bm25 [CORPUS.jsonl] [--queries N]
 * The default corpus is demo/foldoc/foldoc.jsonl (scripts/build-demo-collection.sh makes it):
 * one document per FOLDOC entry.
 */
#include "bench_util.h"
#include "core/error.h"
#include "core/file.h"
#include "knowledge/bm25.h"
#include "knowledge/ingest.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv) {
    const char *path = "demo/foldoc/foldoc.jsonl";
    size_t n_queries = 2000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--queries") && i + 1 < argc)
            n_queries = (size_t)atol(argv[++i]);
        else
            path = argv[i];
    }
    char *buf;
    size_t len;
    if (rt_file_read_all(path, (size_t)1 << 31, &buf, &len)) {
        fprintf(stderr, "bench_bm25: %s\n(run scripts/build-demo-collection.sh first)\n",
                rt_last_error());
        return 1;
    }
    /* Documents. */
    size_t n = 0, cap = 1024;
    char **docs = malloc(cap * sizeof *docs);
    size_t *lens = malloc(cap * sizeof *lens);
    for (size_t i = 0, line = 1; i < len; line++) {
        char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        rt_jsonl_record r;
        if (rt_jsonl_parse_line(buf + i, end - i, path, line, &r) == 0) {
            if (n == cap) {
                cap *= 2;
                docs = realloc(docs, cap * sizeof *docs);
                lens = realloc(lens, cap * sizeof *lens);
            }
            docs[n] = r.text;
            lens[n] = r.len;
            r.text = NULL;
            rt_jsonl_record_free(&r);
            n++;
        }
        i = end + 1;
    }
    free(buf);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += lens[i];
    /* Queries: 2-3 ASCII words of 4+ letters from a random document, OR'ed. */
    char **queries = malloc(n_queries * sizeof *queries),
         **fts_q = malloc(n_queries * sizeof *fts_q);
    for (size_t q = 0; q < n_queries; q++) {
        char words[3][32];
        int nw = 0, want = 2 + (int)(next() % 2);
        while (nw < want) {
            size_t d = next() % n;
            const char *t = docs[d];
            size_t at = next() % (lens[d] + 1), s = at;
            while (s < lens[d] && !((t[s] >= 'a' && t[s] <= 'z') || (t[s] >= 'A' && t[s] <= 'Z')))
                s++;
            size_t e = s;
            while (e < lens[d] && ((t[e] >= 'a' && t[e] <= 'z') || (t[e] >= 'A' && t[e] <= 'Z')))
                e++;
            if (e - s < 4 || e - s > 30) continue;
            snprintf(words[nw++], 32, "%.*s", (int)(e - s), t + s);
        }
        char qb[128] = "", fb[160] = "";
        for (int w = 0; w < nw; w++) {
            snprintf(qb + strlen(qb), sizeof qb - strlen(qb), "%s%s", w ? " " : "", words[w]);
            snprintf(fb + strlen(fb), sizeof fb - strlen(fb), "%s\"%s\"", w ? " OR " : "",
                     words[w]);
        }
        queries[q] = strdup(qb);
        fts_q[q] = strdup(fb);
    }
    printf("bench_bm25: %zu documents (%.1f MB) from %s, %zu queries of 2-3 words, top 10\n", n,
           (double)bytes / 1e6, path, n_queries);
    /* Ours. */
    double t = now();
    rt_bm25_config cfg = rt_bm25_default_config();
    rt_bm25 *b;
    rt_bm25_new(&cfg, &b);
    for (size_t i = 0; i < n; i++)
        rt_bm25_add(b, (int64_t)i + 1, docs[i], lens[i]);
    double build_ours = now() - t;
    int64_t *ours = calloc(n_queries * 10, sizeof *ours);
    double tq[3];
    rt_hit hits[10];
    for (int rep = 0; rep < 3; rep++) {
        t = now();
        for (size_t q = 0; q < n_queries; q++) {
            int k = rt_bm25_search(b, queries[q], strlen(queries[q]), 10, NULL, hits);
            for (int j = 0; j < k; j++)
                ours[q * 10 + j] = hits[j].id;
        }
        tq[rep] = now() - t;
    }
    double qps_ours = (double)n_queries / bench_median(tq, 3);
    /* FTS5, in memory. */
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    sqlite3_exec(db, "CREATE VIRTUAL TABLE docs USING fts5(text, tokenize='porter unicode61')",
                 NULL, NULL, NULL);
    t = now();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO docs(rowid, text) VALUES(?, ?)", -1, &ins, NULL);
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
        sqlite3_bind_text(ins, 2, docs[i], (int)lens[i], SQLITE_STATIC);
        sqlite3_step(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double build_fts = now() - t;
    sqlite3_stmt *sel;
    if (sqlite3_prepare_v2(db, "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 10",
                           -1, &sel, NULL) != SQLITE_OK) {
        fprintf(stderr, "fts5: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    int64_t *theirs = calloc(n_queries * 10, sizeof *theirs);
    for (int rep = 0; rep < 3; rep++) {
        t = now();
        for (size_t q = 0; q < n_queries; q++) {
            sqlite3_reset(sel);
            sqlite3_bind_text(sel, 1, fts_q[q], -1, SQLITE_STATIC);
            int j = 0;
            while (sqlite3_step(sel) == SQLITE_ROW && j < 10)
                theirs[q * 10 + j++] = sqlite3_column_int64(sel, 0);
        }
        tq[rep] = now() - t;
    }
    double qps_fts = (double)n_queries / bench_median(tq, 3);
    double overlap = 0;
    for (size_t q = 0; q < n_queries; q++) {
        int common = 0, na = 0, nb = 0;
        for (int a = 0; a < 10; a++) {
            na += ours[q * 10 + a] != 0;
            nb += theirs[q * 10 + a] != 0;
            for (int c = 0; c < 10; c++)
                common += ours[q * 10 + a] && ours[q * 10 + a] == theirs[q * 10 + c];
        }
        int denom = na > nb ? na : nb;
        overlap += denom ? (double)common / denom : 1;
    }
    printf("\n%-14s %12s %12s\n", "", "ragtune", "FTS5");
    printf("%-14s %12.2f %12.2f\n", "build s", build_ours, build_fts);
    printf("%-14s %12.0f %12.0f\n", "queries/s", qps_ours, qps_fts);
    printf("\nratio ragtune / FTS5: queries/s x%.2f, build time x%.2f; mean top-10 overlap %.2f\n",
           qps_ours / qps_fts, build_ours / build_fts, overlap / (double)n_queries);
    sqlite3_finalize(sel);
    sqlite3_close(db);
    rt_bm25_free(b);
    for (size_t i = 0; i < n; i++)
        free(docs[i]);
    for (size_t q = 0; q < n_queries; q++) {
        free(queries[q]);
        free(fts_q[q]);
    }
    free(docs);
    free(lens);
    free(queries);
    free(fts_q);
    free(ours);
    free(theirs);
    return 0;
}
