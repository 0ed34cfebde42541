/*
 * bm25.h — an in-memory BM25 index over chunks, persisted to a versioned postings file.
 *
 * Analysis: Unicode words (words.h) → lower case → English stopwords dropped (optional) →
 * Snowball stem (libstemmer; language "none" disables stemming). A chunk's length is its number
 * of indexed terms. Scoring, for each distinct query term t present in chunk d:
 *     idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
 *     score += idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * len(d) / avglen))
 * with N, df and avglen over live (not deleted) chunks, so scores after deletes equal those of a
 * freshly built index. Chunk ids must be added in increasing order (the collection's SQLite rowids
 * are). Deleted chunks stay as tombstones until the index is rebuilt.
 * Searches through rt_bm25_search_with read the index only (the score accumulator and the
 * stemmer they need live in a scratch the caller owns), so any number of threads may search one
 * index at once, each with its own scratch, while nothing modifies it; every other call is one
 * at a time.
 */
#ifndef RT_KNOWLEDGE_BM25_H
#define RT_KNOWLEDGE_BM25_H

#include "ragtune.h"
#include "knowledge/hits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_bm25 rt_bm25;

typedef struct rt_bm25_config {
    float k1;             /* term-frequency saturation (default 1.2) */
    float b;              /* length normalization (default 0.75) */
    const char *language; /* Snowball language ("english", ...), or "none" */
    bool stopwords;       /* drop English stopwords */
} rt_bm25_config;

rt_bm25_config rt_bm25_default_config(void);

/* The English stopword list (sorted, lower case) that `stopwords` drops; *n gets its length.
 * For peers that should drop the same words. */
const char *const *rt_bm25_stopwords(size_t *n);

/* Creates an empty index. */
int rt_bm25_new(const rt_bm25_config *cfg, rt_bm25 **out);
void rt_bm25_free(rt_bm25 *b);

/* Called with each analyzed term (folded, stemmed; not NUL-terminated). Non-zero stops. */
typedef int (*rt_term_fn)(void *user, const char *term, size_t len);
/* Runs the analysis chain over text; returns 0 or the callback's non-zero value. */
int rt_bm25_analyze(rt_bm25 *b, const char *text, size_t len, rt_term_fn fn, void *user);

/* Adds a chunk. RT_ERR_INVALID if chunk_id is not larger than every id added before. */
int rt_bm25_add(rt_bm25 *b, int64_t chunk_id, const char *text, size_t len);
/* rt_bm25_add with the chunk's document title (NULL or "" = none). A title of 1 to 6 terms
 * (folded and stemmed as text is, stopwords kept, but not stopwords only) adds one more term to the chunk: its
 * title key, "=" + those terms joined by spaces. A query carries the title key of each longest
 * run of 1 to 6 consecutive query terms that is a title in the index (not of the runs inside a
 * longer one: "programming language" but not "language"), so a chunk whose whole title
 * appears in the query ("What is Lisp?" and the entry titled "Lisp") gets that rare term's
 * weight, while a title merely containing a query term ("LISP 1.5") does not. A matched key
 * scores its idf (df: the chunks with that title) — BM25 of a one-term field matched whole,
 * without the text's length normalization — and is not counted in the chunk's length. */
int rt_bm25_add_titled(rt_bm25 *b, int64_t chunk_id, const char *text, size_t len,
                       const char *title, size_t title_len);
/* Removes a chunk (RT_OK if it is unknown or already removed). */
int rt_bm25_remove(rt_bm25 *b, int64_t chunk_id);

/* The k best chunks for query among those in allowed (NULL = all), best first, into out
 * (capacity k). Chunks with no query term are not returned. Returns the count (>= 0) or error.
 * Uses the index's own scratch: one search at a time (rt_bm25_search_with for concurrent). */
int rt_bm25_search(rt_bm25 *b, const char *query, size_t len, int k, const rt_idset *allowed,
                   rt_hit *out);

/* What one search writes: a score accumulator per chunk and a stemmer; grown on demand to the
 * index searched. One per thread; reusable across searches and indexes. */
typedef struct rt_bm25_scratch rt_bm25_scratch;
int rt_bm25_scratch_new(rt_bm25_scratch **out);
void rt_bm25_scratch_free(rt_bm25_scratch *s);
/* rt_bm25_search on a const index with the caller's scratch (concurrent searches). */
int rt_bm25_search_with(const rt_bm25 *b, rt_bm25_scratch *s, const char *query, size_t len, int k,
                        const rt_idset *allowed, rt_hit *out);

/* How a search walks the postings; every strategy returns the same hits (ids, and scores bit
 * for bit; ties to the smaller id). EXHAUSTIVE scores every posting of every query term (term at
 * a time); MAXSCORE skips chunks that cannot reach the top k (MaxScore with block bounds, exact:
 * see bm25.c); AUTO (what rt_bm25_search and rt_bm25_search_with use) takes MAXSCORE when the
 * query's posting lists are long. */
typedef enum rt_bm25_strategy {
    RT_BM25_AUTO,
    RT_BM25_EXHAUSTIVE,
    RT_BM25_MAXSCORE,
} rt_bm25_strategy;
/* rt_bm25_search_with with a chosen strategy (tests and benches compare them). */
int rt_bm25_search_strategy(const rt_bm25 *b, rt_bm25_scratch *s, rt_bm25_strategy how,
                            const char *query, size_t len, int k, const rt_idset *allowed,
                            rt_hit *out);

/* Corpus statistics of a query, for an index that holds one shard of a larger corpus: searched
 * with the whole corpus's statistics (knowledge/shard.c sums them over the shards), a shard
 * scores its chunks exactly as the unsharded index would. */
typedef struct rt_bm25_stats {
    int64_t n_chunks;  /* live chunks */
    int64_t total_len; /* their total length in terms */
    size_t n_terms;    /* the query's distinct analyzed terms and the title keys of its runs of
                        * 1..6 terms (rt_bm25_add_titled; known to this index or not) */
    char **terms;      /* (n_terms) NUL-terminated, sorted by bytes: the same list on every shard */
    int64_t *df;       /* (n_terms) live chunks holding each term */
} rt_bm25_stats;

/* This index's statistics for query (analysis with s's stemmer). Free with rt_bm25_stats_free. */
int rt_bm25_query_stats(const rt_bm25 *b, rt_bm25_scratch *s, const char *query, size_t len,
                        rt_bm25_stats *out);
void rt_bm25_stats_free(rt_bm25_stats *st);
/* Makes searches with s score with stats (idf from its n_chunks and df, average length from its
 * total_len, and the query's title matches from its title keys' df: a run that is a title only
 * on another shard still hides the shorter titles inside it) instead of the index's own; NULL
 * restores them. stats stays the caller's and must
 * outlive the searches. */
void rt_bm25_scratch_use_stats(rt_bm25_scratch *s, const rt_bm25_stats *stats);

/* BM25 score of one chunk for a query (0 when unknown); for fusion and tests. */
float rt_bm25_score(rt_bm25 *b, const char *query, size_t len, int64_t chunk_id);

/* Drops deleted chunks from the postings (scores are unchanged; chunk ids stay). */
int rt_bm25_compact(rt_bm25 *b);

/* Live chunks, deleted chunks still held, distinct terms, and the replay position. */
size_t rt_bm25_n_chunks(const rt_bm25 *b);
size_t rt_bm25_n_deleted(const rt_bm25 *b);
size_t rt_bm25_n_terms(const rt_bm25 *b);
uint64_t rt_bm25_applied_seq(const rt_bm25 *b);
void rt_bm25_set_applied_seq(rt_bm25 *b, uint64_t seq);

/* Writes the index atomically to path (magic "RTBM25\0\0", version, counts, postings). */
int rt_bm25_save(const rt_bm25 *b, const char *path);
/* Loads an index written by rt_bm25_save; every count and id is checked before use. The
 * configuration (k1, b, language, stopwords) comes from cfg; the file holds only postings. */
int rt_bm25_load(const char *path, const rt_bm25_config *cfg, rt_bm25 **out);
/* Same, from a buffer (name is used in error messages). */
int rt_bm25_load_buffer(const void *data, size_t size, const char *name, const rt_bm25_config *cfg,
                        rt_bm25 **out);

#endif
