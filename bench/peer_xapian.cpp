/*
 * peer_xapian.cpp — the Xapian peer of bench_bm25 (Debian's libxapian-dev, C++, one thread) on
 * the passages and queries bench_bm25 writes: an on-disk database built with TermGenerator
 * (English Snowball stemmer, stemmed terms only, ragtune's English stopword list, no positions,
 * since ragtune's BM25 keeps none), searched with QueryParser (same stemmer and stopper, OR of
 * the words, no operators) and BM25Weight with ragtune's k1 1.2 and b 0.75. It does not draw
 * queries or judge results; bench_bm25 does both.
 *
 * usage: peer_xapian DIR
 * DIR holds docs.bin (per passage: u32 length, bytes; Xapian docid i+1 for passage i),
 * stopwords.txt, queries.txt and questions.txt (one query a line). Writes DIR/xapian (the
 * database), DIR/xapian_queries.i64 and DIR/xapian_questions.i64 (10 docids per query, 0 = none)
 * and prints "# ..." (how it was built) and one JSON line: build_s, mem_mb (resident growth while
 * building), disk_mb (the database directory), qps (queries.txt, median of 3 passes; process CPU
 * time, as bench_bm25 measures).
 */
#include "bench_util.h"

#include <xapian.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <vector>

static std::vector<std::string> read_lines(const std::string &path) {
    std::vector<std::string> out;
    std::ifstream f(path);
    for (std::string line; std::getline(f, line);)
        out.push_back(line);
    return out;
}

static double dir_mb(const std::string &dir) {
    double bytes = 0;
    DIR *d = opendir(dir.c_str());
    if (!d) return 0;
    while (dirent *e = readdir(d)) {
        struct stat st;
        std::string p = dir + "/" + e->d_name;
        if (e->d_name[0] != '.' && stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode))
            bytes += (double)st.st_blocks * 512;
    }
    closedir(d);
    return bytes / 1e6;
}

/* Runs every query; top-10 docids into out (10 per query). */
static void run(Xapian::Enquire &enq, Xapian::QueryParser &qp, const std::vector<std::string> &qs,
                std::vector<int64_t> &out) {
    out.assign(qs.size() * 10, 0);
    for (size_t q = 0; q < qs.size(); q++) {
        enq.set_query(qp.parse_query(qs[q], 0));
        Xapian::MSet mset = enq.get_mset(0, 10);
        size_t j = 0;
        for (Xapian::MSetIterator it = mset.begin(); it != mset.end() && j < 10; ++it)
            out[q * 10 + j++] = (int64_t)*it;
    }
}

static bool write_ids(const std::string &path, const std::vector<int64_t> &ids) {
    FILE *f = fopen(path.c_str(), "wb");
    if (!f) return false;
    bool ok = fwrite(ids.data(), sizeof(int64_t), ids.size(), f) == ids.size();
    return fclose(f) == 0 && ok;
}

static int peer_main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: peer_xapian DIR\n");
        return 2;
    }
    std::string dir = argv[1];
    std::vector<std::string> docs;
    {
        FILE *f = fopen((dir + "/docs.bin").c_str(), "rb");
        if (!f) {
            fprintf(stderr, "peer_xapian: cannot open %s/docs.bin\n", dir.c_str());
            return 1;
        }
        uint32_t len;
        while (fread(&len, 4, 1, f) == 1) {
            std::string s(len, '\0');
            if (len && fread(&s[0], 1, len, f) != len) break;
            docs.push_back(std::move(s));
        }
        fclose(f);
    }
    std::vector<std::string> stop = read_lines(dir + "/stopwords.txt");
    std::vector<std::string> queries = read_lines(dir + "/queries.txt");
    std::vector<std::string> questions = read_lines(dir + "/questions.txt");
    Xapian::SimpleStopper stopper(stop.begin(), stop.end());
    Xapian::Stem stemmer("english");
    printf("# xapian: Debian libxapian-dev %s (Debian's library build; this driver g++ -O2), "
           "TermGenerator STEM_ALL english + "
           "%zu stopwords, no positions, default flush threshold; QueryParser OR, no operators; "
           "BM25Weight(k1 1.2, k2 0, k3 1, b 0.75, min_normlen 0)\n",
           Xapian::version_string(), stop.size());
    fflush(stdout);
    std::string db_path = dir + "/xapian";
    double r0 = bench_rss_mb(), t = bench_cpu_seconds();
    {
        Xapian::WritableDatabase db(db_path, Xapian::DB_CREATE_OR_OVERWRITE);
        Xapian::TermGenerator tg;
        tg.set_stemmer(stemmer);
        tg.set_stemming_strategy(Xapian::TermGenerator::STEM_ALL);
        tg.set_stopper(&stopper);
        tg.set_stopper_strategy(Xapian::TermGenerator::STOP_ALL);
        for (const std::string &text : docs) {
            Xapian::Document doc;
            tg.set_document(doc);
            tg.index_text_without_positions(text);
            db.add_document(doc);
        }
        db.commit();
    }
    double build = bench_cpu_seconds() - t, mem = bench_rss_mb() - r0;
    double disk = dir_mb(db_path);
    Xapian::Database db(db_path);
    Xapian::Enquire enq(db);
    enq.set_weighting_scheme(Xapian::BM25Weight(1.2, 0, 1, 0.75, 0));
    Xapian::QueryParser qp;
    qp.set_database(db);
    qp.set_stemmer(stemmer);
    qp.set_stemming_strategy(Xapian::QueryParser::STEM_ALL);
    qp.set_stopper(&stopper);
    qp.set_default_op(Xapian::Query::OP_OR);
    std::vector<int64_t> ids;
    double times[3];
    for (int rep = 0; rep < 3; rep++) {
        t = bench_cpu_seconds();
        run(enq, qp, queries, ids);
        times[rep] = bench_cpu_seconds() - t;
    }
    double qps = (double)queries.size() / bench_median(times, 3);
    if (!write_ids(dir + "/xapian_queries.i64", ids)) return 1;
    run(enq, qp, questions, ids);
    if (!write_ids(dir + "/xapian_questions.i64", ids)) return 1;
    printf("{\"engine\": \"xapian\", \"build_s\": %.4f, \"mem_mb\": %.2f, \"disk_mb\": %.2f, "
           "\"qps\": %.2f}\n",
           build, mem, disk, qps);
    return 0;
}

int main(int argc, char **argv) {
    try {
        return peer_main(argc, argv);
    } catch (const Xapian::Error &e) {
        fprintf(stderr, "peer_xapian: %s\n", e.get_description().c_str());
        return 1;
    }
}
