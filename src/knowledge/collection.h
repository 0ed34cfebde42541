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

#include <sqlite3.h>

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
    rt_progress progress; /* documents of the current ingest_path / ingest_stream */
    bool progress_active;
    rt_ingest_ack_fn ack;
    void *ack_user;
};

/* Runs one SQL statement without results; RT_ERR_IO naming the database on failure. */
int rt_coll_exec(rt_collection *c, const char *sql);
/* Prepares a statement; RT_ERR_IO on failure. */
int rt_coll_prepare(rt_collection *c, const char *sql, sqlite3_stmt **st);
/* Records a SQLite failure as an rt_error naming the database; returns RT_ERR_IO. */
int rt_coll_sql_error(rt_collection *c, const char *what);
/* Steps a statement: 1 a row, 0 done, negative (the error recorded, with advice when the
 * database is damaged) on failure. */
int rt_coll_step(rt_collection *c, sqlite3_stmt *st, const char *what);
/* Largest change sequence number in the log (0 when empty). */
int rt_coll_max_seq(rt_collection *c, uint64_t *seq);

#endif
