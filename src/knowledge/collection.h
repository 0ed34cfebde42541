/*
 * collection.h — internals of rt_collection shared by collection.c (the SQLite store, index
 * replay, stats, deletes), ingest.c (adding documents) and search.c (retrieval).
 *
 * Source of truth is collection.db (SQLite in WAL mode):
 *   meta(key, value)                  chunker, BM25, metric and embedder settings, schema version
 *   documents(doc_id, path, hash, text, metadata, version, n_chunks, bytes, updated_at)
 *   chunks(chunk_id AUTOINCREMENT, doc_id, ord, start, end, n_tokens, vector BLOB)
 *   changes(seq AUTOINCREMENT, op 1 add | 2 delete, chunk_id)
 * Every document is written in one transaction together with its change-log rows. The index
 * files bm25.idx and hnsw.idx record the last change they contain; on open they are loaded and
 * the newer changes replayed (or rebuilt from the chunks when missing or unreadable), so a
 * process killed at any point leaves a collection whose acknowledged documents are searchable.
 * Durability: synchronous=NORMAL in WAL mode survives a killed process; an OS crash or power
 * loss may lose the last few acknowledged documents (never corrupt the store).
 * One writer at a time (an exclusive lock on <dir>/lock).
 */
#ifndef RT_KNOWLEDGE_COLLECTION_H
#define RT_KNOWLEDGE_COLLECTION_H

#include "ragtune.h"
#include "knowledge/bm25.h"
#include "knowledge/hnsw.h"
#include "core/log.h"

#include <pthread.h>
#include <sqlite3.h>

/* What lets many threads search one handle at once (search.c): searches hold index_lock
 * shared while they read the in-memory indexes; whoever changes them (ingest, delete, catching
 * up with another writer's changes) holds it exclusive. Scratch of rt_collection_search waits
 * in a pool. Behind a pointer, so that a search through a const handle can use it. */
typedef struct rt_coll_sync {
    pthread_rwlock_t index_lock;
    pthread_mutex_t pool_mu;
    rt_search_scratch **pool; /* (n_pool) idle scratch */
    int n_pool, cap_pool;
} rt_coll_sync;

struct rt_collection {
    char *dir, *db_path, *bm25_path, *hnsw_path;
    sqlite3 *db;
    int lock_fd;
    rt_collection_params p; /* effective parameters (stored ones win) */
    char language[32];
    char embedder_name[128];     /* "" when the collection has no vectors */
    char embedder_id[64];        /* content fingerprint of the embedder's model ("" unknown) */
    int dim;                     /* 0 when the collection has no vectors */
    const rt_embedder *embedder; /* may be NULL even when dim > 0 (search by query_vector) */
    rt_bm25 *bm25;
    rt_hnsw *hnsw;        /* NULL when dim == 0 */
    bool dirty;           /* indexes changed since loaded or saved */
    bool broken;          /* an in-memory update failed: never save, replay next open */
    rt_ingest_ack_fn ack;
    void *ack_user;
    rt_coll_sync *sync;
    bool sharded; /* rank 0 of a sharded search (knowledge/shard.c): searches go to every shard */
};

/* Runs one SQL statement without results; RT_ERR_IO naming the database on failure. */
int rt_coll_exec(rt_collection *c, const char *sql);
/* Prepares a statement; RT_ERR_IO on failure. */
int rt_coll_prepare(const rt_collection *c, const char *sql, sqlite3_stmt **st);
/* Records a SQLite failure as an rt_error naming the database; returns RT_ERR_IO. */
int rt_coll_sql_error(const rt_collection *c, const char *what);
/* Steps a statement: 1 a row, 0 done, negative (the error recorded, with advice when the
 * database is damaged) on failure. */
int rt_coll_step(const rt_collection *c, sqlite3_stmt *st, const char *what);
/* Largest change sequence number in the log (0 when empty). */
int rt_coll_max_seq(const rt_collection *c, uint64_t *seq);
/* Brings the in-memory indexes up to the database: replays the changes after each index's
 * applied sequence number, up to max_seq. Callers hold the index lock exclusively (or own the
 * handle alone, at open). */
int rt_coll_replay(rt_collection *c, uint64_t max_seq);
/* Scratch pool and locks of rt_coll_sync (search.c). */
int rt_coll_sync_new(rt_coll_sync **out);
void rt_coll_sync_free(rt_coll_sync *s);

/* The BM25 part of a search scratch (sharded search sets the corpus's statistics on it). */
rt_bm25_scratch *rt_search_scratch_bm25(rt_search_scratch *s);
/* rt_collection_search over every shard of a sharded collection (knowledge/shard.c). */
int rt_shard_search(rt_collection *c, const char *query, const rt_search_params *params,
                    rt_search_results **out);
/* rt_collection_get_document / rt_collection_chunk_title (a global chunk id) from the shard
 * that holds it (knowledge/shard.c). */
int rt_shard_get_document(rt_collection *c, const char *doc_id, rt_stored_document **out);
int rt_shard_chunk_title(rt_collection *c, int64_t chunk_id, char **title);

#endif
