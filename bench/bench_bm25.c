/*
 * bench_bm25.c — ragtune's BM25 against Xapian (the reference peer: Debian's libxapian-dev, C++,
 * bench/peer_xapian.cpp, built when CMake finds it) and SQLite FTS5 (bm25 ranking, porter +
 * unicode61 tokenizer) on the same passages and the same queries, one thread, one run: index build
 * time (ragtune's includes writing its index file; Xapian's includes its commit), memory growth
 * while building (resident set; for FTS5, SQLite's allocation count), index size on disk, top-10
 * queries/s (median of 3 passes) for OR queries of 2-3 words drawn from the passages, and top-10
 * quality: the mean overlap of each peer's top 10 with ragtune's, and MRR@10 on generated
 * questions (4 words drawn from one passage, which is the gold answer). ragtune's queries/s is
 * given for its default search (MaxScore on long posting lists) and for exhaustive scoring (same
 * results), so the pruning's share shows.
 *
 * Tokenization: ragtune splits Unicode words (letters, marks, digits), lower-cases, drops its
 * English stopword list and stems with Snowball english; Xapian gets the same stopword list and
 * Snowball english stemmer through TermGenerator/QueryParser (stemmed terms only). Differences:
 * Xapian's word splitter keeps some infix punctuation inside terms (e.g. "o'clock", "C++", "AT&T"
 * are one term) where ragtune splits; terms over 64 bytes are dropped by Xapian; Xapian's BM25 idf
 * is log((N - df + 0.5) / (df + 0.5)) (raised to stay positive for common terms) where ragtune's
 * is ln(1 + (N - df + 0.5) / (df + 0.5)); so top-10 lists agree mostly, not exactly. FTS5 uses the
 * Porter stemmer and no stopwords.
 *
 * Times are process CPU time (on an idle machine equal to wall time for one thread; on a shared
 * machine they do not count time spent waiting for a core). Peers are timed the same way.
 * usage: bench_bm25 [CORPUS.jsonl] [--queries N] [--questions N] [--limit N]
 *                   [--engines xapian,fts5]
 * The default corpus is demo/foldoc/foldoc.jsonl (scripts/build-demo-collection.sh makes it): one
 * document per FOLDOC entry. bench/make_bm25_corpus.sh builds the 1M-passage corpus (GCIDE,
 * WordNet, /usr/share/doc); --limit keeps its first N passages.
 */
#include "bench_util.h"
#include "core/error.h"
#include "core/file.h"
#include "knowledge/bm25.h"
#include "knowledge/ingest.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define TOPK 10

/* An ASCII word of 4-30 letters starting at or after text[at], into w; returns its end or 0. */
static size_t word_at(const char *t, size_t len, size_t at, char w[32]) {
    size_t s = at;
    while (s < len && !isalpha((unsigned char)t[s]))
        s++;
    size_t e = s;
    while (e < len && isalpha((unsigned char)t[e]))
        e++;
    if (e - s < 4 || e - s > 30) return 0;
    snprintf(w, 32, "%.*s", (int)(e - s), t + s);
    return e;
}

static bool is_stop(const char *w) {
    size_t n;
    const char *const *list = rt_bm25_stopwords(&n);
    char lower[32];
    size_t i = 0;
    for (; w[i] && i < sizeof lower - 1; i++)
        lower[i] = (char)tolower((unsigned char)w[i]);
    lower[i] = '\0';
    for (size_t j = 0; j < n; j++)
        if (!strcmp(list[j], lower)) return true;
    return false;
}

/* Mean overlap of two sets of top-10 lists (0 = no hit). */
static double mean_overlap(const int64_t *a, const int64_t *b, size_t nq) {
    double sum = 0;
    for (size_t q = 0; q < nq; q++) {
        int common = 0, na = 0, nb = 0;
        for (int i = 0; i < TOPK; i++) {
            na += a[q * TOPK + i] != 0;
            nb += b[q * TOPK + i] != 0;
            for (int j = 0; j < TOPK; j++)
                common += a[q * TOPK + i] && a[q * TOPK + i] == b[q * TOPK + j];
        }
        int denom = na > nb ? na : nb;
        sum += denom ? (double)common / denom : 1;
    }
    return sum / (double)nq;
}

/* MRR@10 of top-10 lists against one gold id per query. */
static double mrr(const int64_t *got, const int64_t *gold, size_t nq) {
    double sum = 0;
    for (size_t q = 0; q < nq; q++)
        for (int i = 0; i < TOPK; i++)
            if (got[q * TOPK + i] == gold[q]) {
                sum += 1.0 / (i + 1);
                break;
            }
    return sum / (double)nq;
}

typedef struct engine_row {
    const char *name;
    bool ran;
    double build, mem, disk, qps, overlap, mrr;
} engine_row;

static bool read_ids(const char *path, int64_t *ids, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    bool ok = fread(ids, sizeof *ids, n, f) == n;
    fclose(f);
    return ok;
}

/* Writes the passages and queries for peer_xapian into dir, runs it and reads its results. */
static void run_xapian(const char *dir, char **docs, const size_t *lens, size_t n, char **queries,
                       size_t n_queries, char **questions, size_t n_questions, engine_row *row,
                       int64_t *ids_q, int64_t *ids_qs) {
    char path[1024], cmd[2048];
    if (!bench_peer_path("peer_xapian", cmd, sizeof cmd)) {
        printf("# xapian: not built (%s missing: install libxapian-dev and reconfigure)\n", cmd);
        return;
    }
    snprintf(path, sizeof path, "%s/docs.bin", dir);
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; f && i < n; i++) {
        uint32_t len = (uint32_t)lens[i];
        fwrite(&len, 4, 1, f);
        fwrite(docs[i], 1, lens[i], f);
    }
    if (f) fclose(f);
    size_t n_stop;
    const char *const *stop = rt_bm25_stopwords(&n_stop);
    snprintf(path, sizeof path, "%s/stopwords.txt", dir);
    if ((f = fopen(path, "w"))) {
        for (size_t i = 0; i < n_stop; i++)
            fprintf(f, "%s\n", stop[i]);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/queries.txt", dir);
    if ((f = fopen(path, "w"))) {
        for (size_t i = 0; i < n_queries; i++)
            fprintf(f, "%s\n", queries[i]);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/questions.txt", dir);
    if ((f = fopen(path, "w"))) {
        for (size_t i = 0; i < n_questions; i++)
            fprintf(f, "%s\n", questions[i]);
        fclose(f);
    }
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " '%s'", dir);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    char line[1024];
    while (p && fgets(line, sizeof line, p)) {
        const char *s;
        if (line[0] == '#') {
            fputs(line, stdout);
        } else if ((s = strstr(line, "\"build_s\": "))) {
            row->build = atof(s + 11);
            if ((s = strstr(line, "\"mem_mb\": "))) row->mem = atof(s + 10);
            if ((s = strstr(line, "\"disk_mb\": "))) row->disk = atof(s + 11);
            if ((s = strstr(line, "\"qps\": "))) row->qps = atof(s + 7);
            row->ran = true;
        }
    }
    if (p && pclose(p) != 0) row->ran = false;
    snprintf(path, sizeof path, "%s/xapian_queries.i64", dir);
    row->ran = row->ran && read_ids(path, ids_q, n_queries * TOPK);
    snprintf(path, sizeof path, "%s/xapian_questions.i64", dir);
    row->ran = row->ran && read_ids(path, ids_qs, n_questions * TOPK);
    if (!row->ran) printf("# xapian: the peer failed\n");
}

/* FTS5 in memory: build, then the queries (timed) and the questions; OR of quoted words. */
static void run_fts5(char **docs, const size_t *lens, size_t n, char **queries, size_t n_queries,
                     char **questions, size_t n_questions, engine_row *row, int64_t *ids_q,
                     int64_t *ids_qs) {
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    sqlite3_exec(db, "CREATE VIRTUAL TABLE docs USING fts5(text, tokenize='porter unicode61')",
                 NULL, NULL, NULL);
    /* SQLite's own allocation count: RSS growth would miss memory ragtune freed and SQLite
     * reused. */
    sqlite3_int64 m0 = sqlite3_memory_used();
    double t = bench_cpu_seconds();
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
    row->build = bench_cpu_seconds() - t;
    row->mem = (double)(sqlite3_memory_used() - m0) / 1e6;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "SELECT page_count * page_size FROM pragma_page_count(), "
                       "pragma_page_size()",
                       -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW) row->disk = (double)sqlite3_column_int64(st, 0) / 1e6;
    sqlite3_finalize(st);
    sqlite3_stmt *sel;
    if (sqlite3_prepare_v2(db, "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 10",
                           -1, &sel, NULL) != SQLITE_OK) {
        fprintf(stderr, "fts5: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return;
    }
    double tq[3];
    for (int rep = 0; rep < 4; rep++) {
        char **qs = rep < 3 ? queries : questions;
        size_t nq = rep < 3 ? n_queries : n_questions;
        int64_t *out = rep < 3 ? ids_q : ids_qs;
        t = bench_cpu_seconds();
        for (size_t q = 0; q < nq; q++) {
            char fb[256] = "", *save = NULL, words[160];
            snprintf(words, sizeof words, "%s", qs[q]);
            for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
                snprintf(fb + strlen(fb), sizeof fb - strlen(fb), "%s\"%s\"", *fb ? " OR " : "", w);
            sqlite3_reset(sel);
            sqlite3_bind_text(sel, 1, fb, -1, SQLITE_TRANSIENT);
            int j = 0;
            memset(out + q * TOPK, 0, TOPK * sizeof *out);
            while (sqlite3_step(sel) == SQLITE_ROW && j < TOPK)
                out[q * TOPK + j++] = sqlite3_column_int64(sel, 0);
        }
        if (rep < 3) tq[rep] = bench_cpu_seconds() - t;
    }
    row->qps = (double)n_queries / bench_median(tq, 3);
    row->ran = true;
    sqlite3_finalize(sel);
    sqlite3_close(db);
    printf("# fts5: SQLite %s FTS5 in memory, tokenize 'porter unicode61' (no stopwords), rank "
           "bm25(), quoted words OR'ed\n",
           sqlite3_libversion());
}

int main(int argc, char **argv) {
    const char *path = "demo/foldoc/foldoc.jsonl";
    const char *engines = "xapian,fts5";
    size_t n_queries = 2000, n_questions = 1000, limit = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--queries") && i + 1 < argc)
            n_queries = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--questions") && i + 1 < argc)
            n_questions = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            limit = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--engines") && i + 1 < argc)
            engines = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_bm25 [CORPUS.jsonl] [--queries N] [--questions N] "
                            "[--limit N] [--engines xapian,fts5]\n");
            return 2;
        } else
            path = argv[i];
    }
    char *buf;
    size_t len;
    if (rt_file_read_all(path, (size_t)1 << 34, &buf, &len)) {
        fprintf(stderr,
                "bench_bm25: %s\n(run scripts/build-demo-collection.sh or "
                "bench/make_bm25_corpus.sh first)\n",
                rt_last_error());
        return 1;
    }
    /* Documents. */
    size_t n = 0, cap = 1024;
    char **docs = malloc(cap * sizeof *docs);
    size_t *lens = malloc(cap * sizeof *lens);
    for (size_t i = 0, line = 1; i < len && (!limit || n < limit); line++) {
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
    /* Queries: 2-3 ASCII words of 4+ letters from random documents, OR'ed. */
    char **queries = malloc(n_queries * sizeof *queries);
    for (size_t q = 0; q < n_queries; q++) {
        char words[3][32];
        int nw = 0, want = 2 + (int)(next() % 2);
        while (nw < want) {
            size_t d = next() % n;
            if (word_at(docs[d], lens[d], next() % (lens[d] + 1), words[nw])) nw++;
        }
        char qb[128] = "";
        for (int w = 0; w < nw; w++)
            snprintf(qb + strlen(qb), sizeof qb - strlen(qb), "%s%s", w ? " " : "", words[w]);
        queries[q] = strdup(qb);
    }
    /* Questions: 4 distinct non-stopwords drawn from one passage (the gold answer). */
    char **questions = malloc(n_questions * sizeof *questions);
    int64_t *gold = malloc(n_questions * sizeof *gold);
    for (size_t q = 0; q < n_questions;) {
        size_t d = next() % n;
        char words[4][32];
        int nw = 0;
        for (int tries = 0; tries < 64 && nw < 4; tries++) {
            char w[32];
            if (!word_at(docs[d], lens[d], next() % (lens[d] + 1), w) || is_stop(w)) continue;
            bool dup = false;
            for (int j = 0; j < nw; j++)
                dup |= !strcasecmp(words[j], w);
            if (!dup) memcpy(words[nw++], w, 32);
        }
        if (nw < 4) continue;
        char qb[160] = "";
        for (int w = 0; w < nw; w++)
            snprintf(qb + strlen(qb), sizeof qb - strlen(qb), "%s%s", w ? " " : "", words[w]);
        questions[q] = strdup(qb);
        gold[q++] = (int64_t)d + 1;
    }
    printf("bench_bm25: %zu passages (%.1f MB) from %s, %zu queries of 2-3 words and %zu "
           "questions of 4 words, top 10, 1 thread\n",
           n, (double)bytes / 1e6, path, n_queries, n_questions);
    printf("# ragtune: gcc -O2 (library build), rt_bm25 (Snowball english, %s stopwords), "
           "MaxScore on long posting lists\n",
           "ragtune's");
    char dir[] = "/tmp/rt-bench-bm25-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    enum { OURS, XAPIAN, FTS5, N_ENGINES };
    engine_row rows[N_ENGINES] = {{.name = "ragtune"}, {.name = "Xapian"}, {.name = "FTS5"}};
    int64_t *ids_q[N_ENGINES], *ids_qs[N_ENGINES];
    for (int e = 0; e < N_ENGINES; e++) {
        ids_q[e] = calloc(n_queries * TOPK, sizeof **ids_q);
        ids_qs[e] = calloc(n_questions * TOPK, sizeof **ids_qs);
    }
    /* Ours: build in memory and write the index file (what a collection keeps on disk). */
    double r0 = bench_rss_mb(), t = bench_cpu_seconds();
    rt_bm25_config cfg = rt_bm25_default_config();
    rt_bm25 *b;
    if (rt_bm25_new(&cfg, &b)) return 1;
    for (size_t i = 0; i < n; i++)
        if (rt_bm25_add(b, (int64_t)i + 1, docs[i], lens[i])) {
            fprintf(stderr, "bench_bm25: %s\n", rt_last_error());
            return 1;
        }
    rows[OURS].mem = bench_rss_mb() - r0;
    char idx_path[1024];
    snprintf(idx_path, sizeof idx_path, "%s/ragtune.bm25", dir);
    double t_save = bench_cpu_seconds();
    if (rt_bm25_save(b, idx_path)) {
        fprintf(stderr, "bench_bm25: %s\n", rt_last_error());
        return 1;
    }
    double now_s = bench_cpu_seconds(), save_s = now_s - t_save;
    rows[OURS].build = now_s - t;
    struct stat st;
    rows[OURS].disk = stat(idx_path, &st) == 0 ? (double)st.st_blocks * 512 / 1e6 : 0;
    rt_bm25_scratch *scratch;
    if (rt_bm25_scratch_new(&scratch)) return 1;
    rt_hit hits[TOPK];
    double tq[3], qps_exhaustive = 0;
    for (int pass = 0; pass < 2; pass++) {
        rt_bm25_strategy how = pass == 0 ? RT_BM25_AUTO : RT_BM25_EXHAUSTIVE;
        for (int rep = 0; rep < 3; rep++) {
            t = bench_cpu_seconds();
            for (size_t q = 0; q < n_queries; q++) {
                int k = rt_bm25_search_strategy(b, scratch, how, queries[q], strlen(queries[q]),
                                                TOPK, NULL, hits);
                for (int j = 0; j < k; j++)
                    ids_q[OURS][q * TOPK + j] = hits[j].id;
            }
            tq[rep] = bench_cpu_seconds() - t;
        }
        double qps = (double)n_queries / bench_median(tq, 3);
        if (pass == 0)
            rows[OURS].qps = qps;
        else
            qps_exhaustive = qps;
    }
    for (size_t q = 0; q < n_questions; q++) {
        int k =
            rt_bm25_search_with(b, scratch, questions[q], strlen(questions[q]), TOPK, NULL, hits);
        for (int j = 0; j < k; j++)
            ids_qs[OURS][q * TOPK + j] = hits[j].id;
    }
    rows[OURS].ran = true;
    rt_bm25_scratch_free(scratch);
    rt_bm25_free(b);
    if (strstr(engines, "xapian"))
        run_xapian(dir, docs, lens, n, queries, n_queries, questions, n_questions, &rows[XAPIAN],
                   ids_q[XAPIAN], ids_qs[XAPIAN]);
    if (strstr(engines, "fts5"))
        run_fts5(docs, lens, n, queries, n_queries, questions, n_questions, &rows[FTS5],
                 ids_q[FTS5], ids_qs[FTS5]);
    for (int e = 0; e < N_ENGINES; e++) {
        rows[e].mrr = mrr(ids_qs[e], gold, n_questions);
        rows[e].overlap = mean_overlap(ids_q[OURS], ids_q[e], n_queries);
    }
    printf("\n%-22s", "");
    for (int e = 0; e < N_ENGINES; e++)
        if (rows[e].ran) printf(" %12s", rows[e].name);
    printf("\n");
    const char *labels[] = {"build s",   "memory MB",          "index on disk MB",
                            "queries/s", "MRR@10 (questions)", "top-10 overlap w/ ours"};
    for (int r = 0; r < 6; r++) {
        printf("%-22s", labels[r]);
        for (int e = 0; e < N_ENGINES; e++) {
            if (!rows[e].ran) continue;
            double v[] = {rows[e].build, rows[e].mem, rows[e].disk,
                          rows[e].qps,   rows[e].mrr, rows[e].overlap};
            printf(r < 4 ? " %12.2f" : " %12.3f", v[r]);
        }
        printf("\n");
    }
    printf("\nragtune: build %.2f s of which writing the index %.2f s; exhaustive scoring "
           "(same results) %.0f queries/s, MaxScore x%.2f\n",
           rows[OURS].build, save_s, qps_exhaustive,
           qps_exhaustive > 0 ? rows[OURS].qps / qps_exhaustive : 0.0);
    for (int e = 1; e < N_ENGINES; e++)
        if (rows[e].ran)
            printf("ratio ragtune / %s: queries/s x%.2f, build time x%.2f, memory x%.2f, disk "
                   "x%.2f; MRR@10 %.3f vs %.3f; mean top-10 overlap %.2f%s\n",
                   rows[e].name, rows[OURS].qps / rows[e].qps, rows[OURS].build / rows[e].build,
                   rows[e].mem > 0 ? rows[OURS].mem / rows[e].mem : 0.0,
                   rows[e].disk > 0 ? rows[OURS].disk / rows[e].disk : 0.0, rows[OURS].mrr,
                   rows[e].mrr, rows[e].overlap, e == XAPIAN ? "   (reference)" : "");
    if (rows[XAPIAN].ran)
        printf("(Xapian's index is a disk database: its postings sit in the page cache, not in its "
               "RSS; ragtune's index is in memory.)\n");
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 1;
    for (int e = 0; e < N_ENGINES; e++) {
        free(ids_q[e]);
        free(ids_qs[e]);
    }
    for (size_t i = 0; i < n; i++)
        free(docs[i]);
    for (size_t q = 0; q < n_queries; q++)
        free(queries[q]);
    for (size_t q = 0; q < n_questions; q++)
        free(questions[q]);
    free(docs);
    free(lens);
    free(queries);
    free(questions);
    free(gold);
    return 0;
}
