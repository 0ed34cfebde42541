/*
 * collection.c — opening and closing a collection, its SQLite schema and stored settings,
 * bringing the BM25 and HNSW indexes up to date from the change log, deletes and statistics.
 * See collection.h for the storage layout and crash-safety argument.
 */
#include "knowledge/collection.h"
#include "knowledge/chunker.h"
#include "knowledge/model_embedder.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA_VERSION "1"

static const char *schema_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS documents(doc_id TEXT PRIMARY KEY, path TEXT, hash TEXT NOT NULL,"
    " text TEXT NOT NULL, metadata TEXT, version INTEGER NOT NULL DEFAULT 1,"
    " n_chunks INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS documents_hash ON documents(hash);"
    "CREATE INDEX IF NOT EXISTS documents_path ON documents(path);"
    "CREATE TABLE IF NOT EXISTS chunks(chunk_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " doc_id TEXT NOT NULL, ord INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,"
    " n_tokens INTEGER NOT NULL DEFAULT 0, vector BLOB, title TEXT);"
    "CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);"
    "CREATE TABLE IF NOT EXISTS changes(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " op INTEGER NOT NULL, chunk_id INTEGER NOT NULL);";

/* Adds chunks.title to a collection made before chunk titles (agentic chunker). */
static int add_chunk_titles(rt_collection *c) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, "SELECT title FROM chunks LIMIT 0", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_finalize(st);
        return RT_OK;
    }
    return rt_coll_exec(c, "ALTER TABLE chunks ADD COLUMN title TEXT");
}

rt_collection_params rt_collection_default_params(void) {
    rt_collection_params p;
    memset(&p, 0, sizeof p);
    p.create = true;
    p.chunker = rt_chunker_default_params();
    p.bm25_k1 = 1.2f;
    p.bm25_b = 0.75f;
    p.language = "english";
    p.stopwords = true;
    p.metric = RT_METRIC_COSINE;
    p.hnsw_m = 16;
    p.hnsw_ef_construction = 200;
    p.dedupe = true;
    return p;
}

/* What to do about a damaged database, or "" for other errors. */
static const char *damage_advice(const rt_collection *c) {
    int code = sqlite3_errcode(c->db) & 0xff;
    if (code != SQLITE_CORRUPT && code != SQLITE_NOTADB) return "";
    return "; the database is damaged: copy what it still holds with `sqlite3 collection.db "
           ".recover | sqlite3 recovered.db` and open a new collection with it, or ingest the "
           "documents again into a new collection";
}

int rt_coll_sql_error(const rt_collection *c, const char *what) {
    return rt_error(RT_ERR_IO, "%s: %s: %s%s", c->db_path, what, sqlite3_errmsg(c->db),
                    damage_advice(c));
}

int rt_coll_exec(rt_collection *c, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = rt_error(RT_ERR_IO, "%s: %s%s", c->db_path, msg ? msg : "sqlite error",
                          damage_advice(c));
        sqlite3_free(msg);
        return rc;
    }
    return RT_OK;
}

int rt_coll_step(const rt_collection *c, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return rt_coll_sql_error(c, what);
}

int rt_coll_prepare(const rt_collection *c, const char *sql, sqlite3_stmt **st) {
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK)
        return rt_coll_sql_error(c, "prepare");
    return RT_OK;
}

int rt_coll_max_seq(const rt_collection *c, uint64_t *seq) {
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(c, "SELECT COALESCE(MAX(seq), 0) FROM changes", &st));
    int rc = sqlite3_step(st);
    *seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? RT_OK : rt_coll_sql_error(c, "reading the change log");
}

/* ---- stored settings --------------------------------------------------------------------- */

/* Copies meta[key] into buf; 1 found, 0 missing, negative on error. */
static int meta_get(rt_collection *c, const char *key, char *buf, size_t cap) {
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(c, "SELECT value FROM meta WHERE key = ?", &st));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = rt_coll_sql_error(c, "reading settings");
    }
    sqlite3_finalize(st);
    return found;
}

static int meta_set(rt_collection *c, const char *key, const char *value) {
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(c, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &st));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? RT_OK : rt_coll_sql_error(c, "writing settings");
}

static int meta_set_num(rt_collection *c, const char *key, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", v);
    return meta_set(c, key, buf);
}

static int meta_get_num(rt_collection *c, const char *key, double *v) {
    char buf[64];
    int f = meta_get(c, key, buf, sizeof buf);
    if (f <= 0) return f;
    char *end;
    *v = strtod(buf, &end);
    if (*end) return rt_error(RT_ERR_FORMAT, "%s: setting %s is not a number", c->db_path, key);
    return 1;
}

static int write_settings(rt_collection *c) {
    const rt_collection_params *p = &c->p;
    int st = meta_set(c, "schema", SCHEMA_VERSION);
    if (!st) st = meta_set_num(c, "chunker", p->chunker.kind);
    if (!st) st = meta_set_num(c, "chunk_tokens", p->chunker.chunk_tokens);
    if (!st) st = meta_set_num(c, "overlap_tokens", p->chunker.overlap_tokens);
    if (!st) st = meta_set_num(c, "semantic_percentile", p->chunker.semantic_percentile);
    if (!st) st = meta_set_num(c, "bm25_k1", p->bm25_k1);
    if (!st) st = meta_set_num(c, "bm25_b", p->bm25_b);
    if (!st) st = meta_set(c, "language", c->language);
    if (!st) st = meta_set_num(c, "stopwords", p->stopwords);
    if (!st) st = meta_set_num(c, "metric", p->metric);
    if (!st) st = meta_set_num(c, "hnsw_m", p->hnsw_m);
    if (!st) st = meta_set_num(c, "hnsw_ef_construction", p->hnsw_ef_construction);
    if (!st) st = meta_set_num(c, "hnsw_int8", p->hnsw_int8);
    if (!st) st = meta_set(c, "embedder", c->embedder_name);
    if (!st) st = meta_set(c, "embedder_id", c->embedder_id);
    if (!st) st = meta_set_num(c, "dim", c->dim);
    return st;
}

static int read_settings(rt_collection *c) {
    rt_collection_params *p = &c->p;
    double v;
    int f;
#define GETNUM(key, field, type)                                                                   \
    do {                                                                                           \
        if ((f = meta_get_num(c, key, &v)) < 0) return f;                                          \
        if (f) field = (type)v;                                                                    \
    } while (0)
    GETNUM("chunker", p->chunker.kind, rt_chunker_kind);
    GETNUM("chunk_tokens", p->chunker.chunk_tokens, int);
    GETNUM("overlap_tokens", p->chunker.overlap_tokens, int);
    GETNUM("semantic_percentile", p->chunker.semantic_percentile, float);
    GETNUM("bm25_k1", p->bm25_k1, float);
    GETNUM("bm25_b", p->bm25_b, float);
    GETNUM("stopwords", p->stopwords, bool);
    GETNUM("metric", p->metric, rt_metric);
    GETNUM("hnsw_m", p->hnsw_m, int);
    GETNUM("hnsw_ef_construction", p->hnsw_ef_construction, int);
    GETNUM("hnsw_int8", p->hnsw_int8, bool);
    GETNUM("dim", c->dim, int);
#undef GETNUM
    if ((f = meta_get(c, "language", c->language, sizeof c->language)) < 0) return f;
    if ((f = meta_get(c, "embedder", c->embedder_name, sizeof c->embedder_name)) < 0) return f;
    if ((f = meta_get(c, "embedder_id", c->embedder_id, sizeof c->embedder_id)) < 0) return f;
    if ((unsigned)p->chunker.kind > RT_CHUNKER_AGENTIC || p->chunker.chunk_tokens <= 0 ||
        (unsigned)p->metric > RT_METRIC_COSINE || p->hnsw_m < 2 || p->hnsw_m > 256 || c->dim < 0 ||
        c->dim > 65536)
        return rt_error(RT_ERR_FORMAT, "%s: stored settings are out of range", c->db_path);
    return RT_OK;
}

/* ---- indexes ----------------------------------------------------------------------------- */

static rt_bm25_config bm25_config(const rt_collection *c) {
    rt_bm25_config b = {c->p.bm25_k1, c->p.bm25_b, c->language, c->p.stopwords};
    return b;
}

static int hnsw_create(rt_collection *c, rt_hnsw **out) {
    rt_hnsw_config h = rt_hnsw_default_config(c->dim);
    h.metric = c->p.metric;
    h.m = c->p.hnsw_m;
    h.ef_construction = c->p.hnsw_ef_construction;
    h.int8 = c->p.hnsw_int8;
    return rt_hnsw_new(&h, out);
}

/* Adds one chunk (text, vector and its document's metadata title from the database) to the
 * indexes that have not seen it. */
static int index_chunk(rt_collection *c, sqlite3_stmt *row, bool to_bm25, bool to_hnsw) {
    int64_t id = sqlite3_column_int64(row, 0);
    if (to_bm25) {
        const char *t = (const char *)sqlite3_column_blob(row, 1);
        int n = sqlite3_column_bytes(row, 1);
        const char *title = (const char *)sqlite3_column_text(row, 3);
        RT_TRY(rt_bm25_add_titled(c->bm25, id, t ? t : "", (size_t)n, title,
                                  title ? strlen(title) : 0));
    }
    if (to_hnsw && c->hnsw) {
        const void *v = sqlite3_column_blob(row, 2);
        int n = sqlite3_column_bytes(row, 2);
        if (v && n == c->dim * (int)sizeof(float)) {
            float *tmp = rt_malloc((size_t)n);
            if (!tmp) return RT_ERR_NOMEM;
            memcpy(tmp, v, (size_t)n);
            int st = rt_hnsw_add(c->hnsw, id, tmp);
            free(tmp);
            RT_TRY(st);
        } else if (v || n) {
            return rt_error(RT_ERR_FORMAT, "%s: chunk %lld has a vector of %d bytes, expected %d",
                            c->db_path, (long long)id, n, c->dim * 4);
        }
    }
    return RT_OK;
}

#define CHUNK_ROW_SQL                                                                              \
    "SELECT c.chunk_id, substr(CAST(d.text AS BLOB), c.start + 1, c.end - c.start), c.vector, "    \
    "CASE WHEN json_valid(d.metadata) AND json_type(d.metadata, '$.title') = 'text' "              \
    "THEN json_extract(d.metadata, '$.title') END "                                                \
    "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "

/* Brings the in-memory indexes up to the database: replays changes after each index's applied
 * sequence number. */
int rt_coll_replay(rt_collection *c, uint64_t max_seq) {
    uint64_t from_b = rt_bm25_applied_seq(c->bm25);
    uint64_t from_h = c->hnsw ? rt_hnsw_applied_seq(c->hnsw) : max_seq;
    uint64_t from = from_b < from_h ? from_b : from_h;
    if (from >= max_seq) return RT_OK;
    rt_log_info("%s: bringing indexes up to date (%llu changes)", c->dir,
                (unsigned long long)(max_seq - from));
    sqlite3_stmt *log, *row;
    RT_TRY(rt_coll_prepare(c, "SELECT seq, op, chunk_id FROM changes WHERE seq > ? ORDER BY seq",
                           &log));
    if (rt_coll_prepare(c, CHUNK_ROW_SQL "WHERE c.chunk_id = ?", &row)) {
        sqlite3_finalize(log);
        return RT_ERR_IO;
    }
    sqlite3_bind_int64(log, 1, (sqlite3_int64)from);
    int st = RT_OK, rc;
    while (!st && (rc = sqlite3_step(log)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(log, 0);
        int op = sqlite3_column_int(log, 1);
        int64_t id = sqlite3_column_int64(log, 2);
        bool to_b = seq > from_b, to_h = seq > from_h;
        if (op == 2) {
            if (to_b) st = rt_bm25_remove(c->bm25, id);
            if (!st && to_h && c->hnsw) st = rt_hnsw_remove(c->hnsw, id);
        } else if (op == 1) {
            sqlite3_reset(row);
            sqlite3_bind_int64(row, 1, id);
            rc = sqlite3_step(row);
            if (rc == SQLITE_ROW)
                st = index_chunk(c, row, to_b, to_h);
            else if (rc != SQLITE_DONE)
                st = rt_coll_sql_error(c, "replaying the change log");
            /* SQLITE_DONE: the chunk was deleted later; its delete is in the log too. */
        }
    }
    if (!st && rc != SQLITE_DONE) st = rt_coll_sql_error(c, "replaying the change log");
    sqlite3_finalize(log);
    sqlite3_finalize(row);
    if (st) return st;
    rt_bm25_set_applied_seq(c->bm25, max_seq);
    if (c->hnsw) rt_hnsw_set_applied_seq(c->hnsw, max_seq);
    c->dirty = true;
    return RT_OK;
}

static int load_indexes(rt_collection *c) {
    uint64_t max_seq;
    RT_TRY(rt_coll_max_seq(c, &max_seq));
    rt_bm25_config bc = bm25_config(c);
    if (rt_is_file(c->bm25_path)) {
        if (rt_bm25_load(c->bm25_path, &bc, &c->bm25) != RT_OK) {
            rt_log_warn("%s; rebuilding the BM25 index from the database", rt_last_error());
        } else if (rt_bm25_applied_seq(c->bm25) > max_seq) {
            rt_log_warn("%s: newer than the database; rebuilding", c->bm25_path);
            rt_bm25_free(c->bm25);
            c->bm25 = NULL;
        }
    }
    if (!c->bm25) RT_TRY(rt_bm25_new(&bc, &c->bm25));
    if (c->dim > 0) {
        if (rt_is_file(c->hnsw_path)) {
            if (rt_hnsw_load(c->hnsw_path, &c->hnsw) != RT_OK) {
                rt_log_warn("%s; rebuilding the vector index from the database", rt_last_error());
            } else if (rt_hnsw_applied_seq(c->hnsw) > max_seq || rt_hnsw_dim(c->hnsw) != c->dim) {
                rt_log_warn("%s: does not match the database; rebuilding", c->hnsw_path);
                rt_hnsw_free(c->hnsw);
                c->hnsw = NULL;
            } else if (c->p.resident && rt_hnsw_size(c->hnsw) > 0) {
                /* out of the mapping: reserving room moves the nodes into own memory */
                RT_TRY(rt_hnsw_reserve(c->hnsw, rt_hnsw_size(c->hnsw)));
            }
        }
        if (!c->hnsw) RT_TRY(hnsw_create(c, &c->hnsw));
    }
    return rt_coll_replay(c, max_seq);
}

static int save_indexes(rt_collection *c) {
    if (!c->dirty || c->p.read_only || c->broken) return RT_OK;
    /* Tombstones from deletes and replacements: compact when they pass a quarter. */
    if (rt_bm25_n_deleted(c->bm25) * 3 > rt_bm25_n_chunks(c->bm25))
        RT_TRY(rt_bm25_compact(c->bm25));
    if (c->hnsw && rt_hnsw_n_deleted(c->hnsw) * 3 > rt_hnsw_size(c->hnsw))
        RT_TRY(rt_hnsw_compact(&c->hnsw));
    RT_TRY(rt_bm25_save(c->bm25, c->bm25_path));
    if (c->hnsw) RT_TRY(rt_hnsw_save(c->hnsw, c->hnsw_path));
    c->dirty = false;
    return RT_OK;
}

/* Removes temporary index files a killed writer left behind ("<name>.tmp.<pid>"). */
static void remove_stale_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "bm25.idx.tmp.", 13) != 0 && strncmp(e->d_name, "hnsw.idx.tmp.", 13))
            continue;
        char *p = rt_path_join(dir, e->d_name);
        if (p) unlink(p);
        free(p);
    }
    closedir(d);
}

/* ---- creation ---------------------------------------------------------------------------- */

static int validate_new_settings(const char *path, const rt_collection_params *p) {
    if (p->chunker.chunk_tokens <= 0 || (unsigned)p->chunker.kind > RT_CHUNKER_AGENTIC)
        return rt_error(RT_ERR_INVALID, "%s: bad chunker settings (kind %d, %d tokens)", path,
                        (int)p->chunker.kind, p->chunker.chunk_tokens);
    if ((unsigned)p->metric > RT_METRIC_COSINE)
        return rt_error(RT_ERR_INVALID, "%s: unknown metric %d", path, (int)p->metric);
    if (p->hnsw_m < 2 || p->hnsw_m > 256 || p->hnsw_ef_construction < 1)
        return rt_error(RT_ERR_INVALID, "%s: HNSW M must be in [2, 256] and ef_construction >= 1",
                        path);
    if (p->language && strlen(p->language) >= sizeof(((rt_collection *)0)->language))
        return rt_error(RT_ERR_INVALID, "%s: language name '%s' is too long", path, p->language);
    /* The BM25 index checks k1, b and the stemmer language. */
    rt_bm25_config bc = {p->bm25_k1, p->bm25_b, p->language ? p->language : "english",
                         p->stopwords};
    rt_bm25 *b;
    if (rt_bm25_new(&bc, &b) != RT_OK) return rt_error_wrap("%s", path);
    rt_bm25_free(b);
    return RT_OK;
}

static bool dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return false;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "lock"))
            empty = false;
    closedir(d);
    return empty;
}

/* Removes the files a failed creation made (and the directory when it made it). */
static void remove_created(const char *path, bool made_dir) {
    static const char *names[] = {"collection.db",
                                  "collection.db-wal",
                                  "collection.db-shm",
                                  "collection.db-journal",
                                  "bm25.idx",
                                  "hnsw.idx",
                                  "lock"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *f = rt_path_join(path, names[i]);
        if (f) unlink(f);
        free(f);
    }
    if (made_dir) rmdir(path);
}

/* ---- open / close ------------------------------------------------------------------------ */

/* The collection's vectors came from one embedder. When both the collection and e carry a
 * content fingerprint, that decides (the path a model was given by does not); otherwise the
 * names must match. */
static int check_embedder(rt_collection *c, const rt_embedder *e, bool empty) {
    if (!e) return RT_OK;
    if (!e->embed || e->dim <= 0 || !e->name || !*e->name)
        return rt_error(RT_ERR_INVALID, "embedder needs a name, a dimension and a function");
    const char *id = rt_model_embedder_content_id(e);
    if (c->dim == 0) {
        if (!empty)
            return rt_error(RT_ERR_INVALID,
                            "%s: the collection was built without vectors; "
                            "create a new one to use embedder '%s'",
                            c->dir, e->name);
        if (c->p.read_only)
            return rt_error(RT_ERR_INVALID, "%s: read-only collection has no vectors", c->dir);
        snprintf(c->embedder_name, sizeof c->embedder_name, "%s", e->name);
        snprintf(c->embedder_id, sizeof c->embedder_id, "%s", id ? id : "");
        c->dim = e->dim;
        RT_TRY(meta_set(c, "embedder", c->embedder_name));
        RT_TRY(meta_set(c, "embedder_id", c->embedder_id));
        RT_TRY(meta_set_num(c, "dim", c->dim));
    } else if (*c->embedder_id && id) {
        if (strcmp(c->embedder_id, id) != 0 || c->dim != e->dim)
            return rt_error(RT_ERR_INVALID,
                            "%s: vectors were built by embedder '%s' (dim %d, content %.12s), "
                            "and '%s' is a different model (dim %d, content %.12s)",
                            c->dir, c->embedder_name, c->dim, c->embedder_id, e->name, e->dim, id);
    } else if (strcmp(c->embedder_name, e->name) != 0 || c->dim != e->dim) {
        return rt_error(RT_ERR_INVALID,
                        "%s: vectors were built by embedder '%s' (dim %d), not "
                        "'%s' (dim %d)",
                        c->dir, c->embedder_name, c->dim, e->name, e->dim);
    }
    c->embedder = e;
    return RT_OK;
}

int rt_collection_open(const char *path, const rt_collection_params *params, rt_collection **out) {
    *out = NULL;
    rt_collection_params p = params ? *params : rt_collection_default_params();
    if (!path || !*path) return rt_error(RT_ERR_INVALID, "collection: empty path");
    struct stat ps;
    bool exists = stat(path, &ps) == 0;
    if (exists && !S_ISDIR(ps.st_mode))
        return rt_error(RT_ERR_INVALID, "%s: not a directory (a collection is a directory)", path);
    bool made_dir = false, new_db = false;
    char *db_probe = rt_path_join(path, "collection.db");
    if (!db_probe) return RT_ERR_NOMEM;
    new_db = !rt_is_file(db_probe);
    free(db_probe);
    if (new_db && (!p.create || p.read_only)) {
        if (!exists) return rt_error(RT_ERR_NOT_FOUND, "%s: no such collection", path);
    } else if (new_db) {
        /* Everything is checked before anything is created: a refused setting leaves no
         * half-made collection behind. */
        RT_TRY(validate_new_settings(path, &p));
        if (exists && !dir_is_empty(path))
            return rt_error(RT_ERR_INVALID,
                            "%s: a non-empty directory that is not a ragtune collection; give a "
                            "new or empty directory (are COLLECTION and PATH swapped?)",
                            path);
        if (!exists) {
            RT_TRY(rt_mkdir_p(path));
            made_dir = true;
        }
    }
    rt_collection *c = rt_calloc(1, sizeof *c);
    if (!c) return RT_ERR_NOMEM;
    c->lock_fd = -1;
    c->p = p;
    if (rt_coll_sync_new(&c->sync) != RT_OK) {
        free(c);
        return RT_ERR_NOMEM;
    }
    snprintf(c->language, sizeof c->language, "%s", p.language ? p.language : "english");
    c->p.language = c->language;
    c->dir = rt_strdup(path);
    c->db_path = rt_path_join(path, "collection.db");
    c->bm25_path = rt_path_join(path, "bm25.idx");
    c->hnsw_path = rt_path_join(path, "hnsw.idx");
    int st = RT_OK;
    bool locked = false;
    if (!c->dir || !c->db_path || !c->bm25_path || !c->hnsw_path) {
        st = RT_ERR_NOMEM;
        goto fail;
    }
    if (!p.read_only) {
        if ((st = rt_dir_lock(path, "collection", &c->lock_fd))) goto fail;
        locked = true;
        remove_stale_temporaries(path); /* we hold the writer lock: nobody else is saving */
    }
    /* Readers open read-write when they may (so SQLite can recover the WAL of a killed writer)
     * but never write (query_only). */
    if (p.read_only && !rt_is_file(c->db_path)) {
        st = rt_error(RT_ERR_NOT_FOUND,
                      "%s: not a ragtune collection, or its creation was "
                      "interrupted before any document was stored",
                      path);
        goto fail;
    }
    /* FULLMUTEX: concurrent searches share the connection (serialized by SQLite) */
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (p.read_only ? 0 : SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(c->db_path, &c->db, flags, NULL) != SQLITE_OK && p.read_only) {
        sqlite3_close(c->db);
        c->db = NULL;
        sqlite3_open_v2(c->db_path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, NULL);
    }
    if (!c->db || sqlite3_errcode(c->db) != SQLITE_OK) {
        st = rt_error(RT_ERR_IO, "%s: cannot open: %s", c->db_path,
                      c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, 10000);
    char schema[16];
    int f;
    if (!p.read_only) {
        /* Schema and settings go in one transaction: a collection killed while being created
         * has all of them or nothing. */
        if ((st = rt_coll_exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")) ||
            (st = rt_coll_exec(c, "BEGIN IMMEDIATE")))
            goto fail;
        if (!(st = rt_coll_exec(c, schema_sql)) && !(st = add_chunk_titles(c))) {
            f = meta_get(c, "schema", schema, sizeof schema);
            if (f < 0) st = f;
            if (f == 0) {
                if (p.chunker.chunk_tokens <= 0 || (unsigned)p.chunker.kind > RT_CHUNKER_AGENTIC)
                    st = rt_error(RT_ERR_INVALID, "collection: bad chunker settings");
                else
                    st = write_settings(c);
                snprintf(schema, sizeof schema, "%s", SCHEMA_VERSION);
            }
        }
        if (st) {
            rt_coll_exec(c, "ROLLBACK");
            goto fail;
        }
        if ((st = rt_coll_exec(c, "COMMIT"))) goto fail;
        if (f == 0) f = 2; /* just created: settings are the given ones */
    } else {
        rt_coll_exec(c, "PRAGMA query_only=1");
        sqlite3_stmt *s;
        if ((st = rt_coll_prepare(c, "SELECT 1 FROM sqlite_master WHERE name = 'meta'", &s)))
            goto fail;
        int has = rt_coll_step(c, s, "reading the schema");
        sqlite3_finalize(s);
        f = has < 0 ? has : has ? meta_get(c, "schema", schema, sizeof schema) : 0;
        if (f < 0) {
            st = f;
            goto fail;
        }
        if (f == 0) {
            st = rt_error(RT_ERR_NOT_FOUND,
                          "%s: not a ragtune collection, or its creation was "
                          "interrupted before any document was stored",
                          path);
            goto fail;
        }
    }
    if (f == 1) {
        if (strcmp(schema, SCHEMA_VERSION) != 0) {
            st = rt_error(RT_ERR_UNSUPPORTED, "%s: schema version %s, expected %s", c->db_path,
                          schema, SCHEMA_VERSION);
            goto fail;
        }
        rt_chunker_params keep = c->p.chunker;
        if ((st = read_settings(c))) goto fail;
        c->p.chunker.count_tokens = keep.count_tokens;
        c->p.chunker.count_tokens_user = keep.count_tokens_user;
        c->p.chunker.propose = keep.propose;
        c->p.chunker.propose_user = keep.propose_user;
    }
    uint64_t n_chunks = 0;
    {
        sqlite3_stmt *s;
        if ((st = rt_coll_prepare(c, "SELECT COUNT(*) FROM chunks", &s))) goto fail;
        int r = rt_coll_step(c, s, "counting chunks");
        if (r == 1) n_chunks = (uint64_t)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        if (r < 0) {
            st = r;
            goto fail;
        }
    }
    if ((st = check_embedder(c, p.embedder, n_chunks == 0))) goto fail;
    if ((st = load_indexes(c))) goto fail;
    *out = c;
    return RT_OK;
fail:
    c->dirty = false;
    if (new_db && !p.read_only && locked) {
        /* Creation failed: remove what this call made, so a later call starts afresh. */
        sqlite3_close(c->db);
        c->db = NULL;
        rt_bm25_free(c->bm25);
        rt_hnsw_free(c->hnsw);
        c->bm25 = NULL;
        c->hnsw = NULL;
        remove_created(path, made_dir);
    }
    rt_collection_close(c);
    return st;
}

int rt_collection_close(rt_collection *c) {
    if (!c) return RT_OK;
    int st = c->bm25 ? save_indexes(c) : RT_OK;
    rt_bm25_free(c->bm25);
    rt_hnsw_free(c->hnsw);
    if (c->db) sqlite3_close(c->db);
    rt_dir_unlock(c->lock_fd);
    free(c->dir);
    free(c->db_path);
    free(c->bm25_path);
    free(c->hnsw_path);
    rt_coll_sync_free(c->sync);
    free(c);
    return st;
}

void rt_collection_set_ack(rt_collection *c, rt_ingest_ack_fn fn, void *user) {
    c->ack = fn;
    c->ack_user = user;
}

/* ---- delete ------------------------------------------------------------------------------ */

/* "dir" -> "dir/" (malloc'd), the prefix that matches the documents below a directory. */
static char *dir_prefix(const char *key) {
    size_t kl = strlen(key);
    char *prefix = rt_malloc(kl + 2);
    if (!prefix) return NULL;
    memcpy(prefix, key, kl);
    if (kl && prefix[kl - 1] != '/') prefix[kl++] = '/';
    prefix[kl] = '\0';
    return prefix;
}

#define DOC_MATCH                                                                                  \
    "(doc_id = ?1 OR path = ?1 OR substr(path, 1, length(?2)) = ?2 OR doc_id = ?3 OR "             \
    "path = ?3 OR substr(path, 1, length(?4)) = ?4)"

static void bind_keys(sqlite3_stmt *q, const char *key, const char *prefix, const char *ckey,
                      const char *cprefix) {
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, ckey, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, cprefix, -1, SQLITE_STATIC);
}

int rt_collection_delete(rt_collection *c, const char *key, uint64_t *n_deleted) {
    if (n_deleted) *n_deleted = 0;
    if (c->p.read_only) return rt_error(RT_ERR_INVALID, "%s: opened read-only", c->dir);
    if (!key || !*key) return rt_error(RT_ERR_INVALID, "delete: empty id or path");
    /* Documents from files are named by their canonical path (ingest resolves it): a key that
     * names an existing file or directory matches by its canonical path as well as verbatim. */
    char *canon = realpath(key, NULL);
    const char *ckey = canon ? canon : key;
    /* Directory prefix: "dir/" matches "dir/a.txt" and below. */
    char *prefix = dir_prefix(key), *cprefix = dir_prefix(ckey);
    if (!prefix || !cprefix) {
        free(prefix);
        free(cprefix);
        free(canon);
        return RT_ERR_NOMEM;
    }
    sqlite3_stmt *docs = NULL, *chunks = NULL;
    /* exclusive from the transaction's start until the indexes match its commit: searches share
     * this connection, so they must not read the change log of a transaction in flight */
    pthread_rwlock_wrlock(&c->sync->index_lock);
    int st = rt_coll_exec(c, "BEGIN IMMEDIATE");
    if (st) {
        pthread_rwlock_unlock(&c->sync->index_lock);
        free(prefix);
        free(cprefix);
        free(canon);
        return st;
    }
    int64_t *ids = NULL;
    size_t n_ids = 0, cap_ids = 0;
    uint64_t n_docs = 0;
    st = rt_coll_prepare(c, "SELECT doc_id FROM documents WHERE " DOC_MATCH, &docs);
    if (!st) st = rt_coll_prepare(c, "SELECT chunk_id FROM chunks WHERE doc_id = ?", &chunks);
    if (!st) {
        bind_keys(docs, key, prefix, ckey, cprefix);
        int r;
        while (!st && (r = rt_coll_step(c, docs, "delete")) != 0) {
            if (r < 0) {
                st = r;
                break;
            }
            n_docs++;
            sqlite3_reset(chunks);
            sqlite3_bind_value(chunks, 1, sqlite3_column_value(docs, 0));
            while (!st && (r = rt_coll_step(c, chunks, "delete")) != 0) {
                if (r < 0) {
                    st = r;
                    break;
                }
                if (n_ids == cap_ids) {
                    cap_ids = cap_ids ? 2 * cap_ids : 64;
                    int64_t *t = rt_realloc(ids, cap_ids * sizeof *ids);
                    if (!t) {
                        st = RT_ERR_NOMEM;
                        break;
                    }
                    ids = t;
                }
                ids[n_ids++] = sqlite3_column_int64(chunks, 0);
            }
        }
    }
    sqlite3_finalize(docs);
    sqlite3_finalize(chunks);
    const char *sql =
        "INSERT INTO changes(op, chunk_id) SELECT 2, chunk_id FROM chunks WHERE doc_id IN "
        "(SELECT doc_id FROM documents WHERE " DOC_MATCH ");"
        "DELETE FROM chunks WHERE doc_id IN (SELECT doc_id FROM documents WHERE " DOC_MATCH ");"
        "DELETE FROM documents WHERE " DOC_MATCH ";";
    for (const char *s = sql; !st && *s;) {
        sqlite3_stmt *q;
        const char *tail;
        if (sqlite3_prepare_v2(c->db, s, -1, &q, &tail) != SQLITE_OK) {
            st = rt_coll_sql_error(c, "delete");
            break;
        }
        bind_keys(q, key, prefix, ckey, cprefix);
        if (sqlite3_step(q) != SQLITE_DONE) st = rt_coll_sql_error(c, "delete");
        sqlite3_finalize(q);
        s = tail;
    }
    uint64_t seq = 0;
    if (!st) st = rt_coll_max_seq(c, &seq);
    if (st || n_docs == 0) {
        rt_coll_exec(c, "ROLLBACK");
        pthread_rwlock_unlock(&c->sync->index_lock);
        free(ids);
        free(prefix);
        free(cprefix);
        free(canon);
        return st ? st
                  : rt_error(RT_ERR_NOT_FOUND, "%s: no document with id or path '%s'", c->dir, key);
    }
    st = rt_coll_exec(c, "COMMIT");
    for (size_t i = 0; !st && i < n_ids; i++) {
        st = rt_bm25_remove(c->bm25, ids[i]);
        if (!st && c->hnsw) st = rt_hnsw_remove(c->hnsw, ids[i]);
    }
    if (!st) {
        rt_bm25_set_applied_seq(c->bm25, seq);
        if (c->hnsw) rt_hnsw_set_applied_seq(c->hnsw, seq);
        c->dirty = true;
    }
    pthread_rwlock_unlock(&c->sync->index_lock);
    free(ids);
    free(prefix);
    free(cprefix);
    free(canon);
    if (n_deleted) *n_deleted = n_docs;
    return st;
}

/* ---- stats ------------------------------------------------------------------------------- */

static uint64_t file_size(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 ? (uint64_t)s.st_size : 0;
}

int rt_collection_stats_get(rt_collection *c, rt_collection_stats *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(c,
                           "SELECT (SELECT COUNT(*) FROM documents), "
                           "(SELECT COUNT(*) FROM chunks), (SELECT COALESCE(SUM(bytes), 0) FROM "
                           "documents)",
                           &st));
    int r = rt_coll_step(c, st, "counting documents");
    if (r == 1) {
        out->documents = (uint64_t)sqlite3_column_int64(st, 0);
        out->chunks = (uint64_t)sqlite3_column_int64(st, 1);
        out->text_bytes = (uint64_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (r < 0) return r;
    out->vectors = c->hnsw ? rt_hnsw_size(c->hnsw) : 0;
    out->terms = rt_bm25_n_terms(c->bm25);
    char *wal = rt_path_join(c->dir, "collection.db-wal");
    out->disk_bytes = file_size(c->db_path) + (wal ? file_size(wal) : 0) + file_size(c->bm25_path) +
                      file_size(c->hnsw_path);
    free(wal);
    out->dim = c->dim;
    snprintf(out->embedder, sizeof out->embedder, "%s", c->embedder_name);
    out->chunker = c->p.chunker.kind;
    out->chunk_tokens = c->p.chunker.chunk_tokens;
    return RT_OK;
}

int rt_collection_chunk_title(rt_collection *c, int64_t chunk_id, char **title) {
    *title = NULL;
    if (c->sharded) return rt_shard_chunk_title(c, chunk_id, title);
    sqlite3_stmt *st;
    /* a collection made before chunk titles, opened read-only, has no title column */
    if (sqlite3_prepare_v2(c->db, "SELECT title FROM chunks WHERE chunk_id = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return RT_OK;
    sqlite3_bind_int64(st, 1, chunk_id);
    int rc = RT_OK;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
        *title = rt_strdup((const char *)sqlite3_column_text(st, 0));
        if (!*title) rc = RT_ERR_NOMEM;
    }
    sqlite3_finalize(st);
    return rc;
}

void rt_stored_document_free(rt_stored_document *d) {
    if (!d) return;
    free(d->id);
    free(d->path);
    free(d->text);
    free(d->metadata_json);
    free(d);
}

int rt_collection_get_document(rt_collection *c, const char *doc_id, rt_stored_document **out) {
    *out = NULL;
    if (!doc_id) return rt_error(RT_ERR_INVALID, "get document: no id");
    if (c->sharded) return rt_shard_get_document(c, doc_id, out);
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(
        c, "SELECT path, CAST(text AS BLOB), metadata, version FROM documents WHERE doc_id = ?",
        &st));
    sqlite3_bind_text(st, 1, doc_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (step == SQLITE_DONE)
            return rt_error(RT_ERR_NOT_FOUND, "%s: no document '%s'", c->dir, doc_id);
        return rt_coll_sql_error(c, "reading a document");
    }
    rt_stored_document *d = rt_calloc(1, sizeof *d);
    int rc = d ? RT_OK : RT_ERR_NOMEM;
    if (d) {
        const char *path = (const char *)sqlite3_column_text(st, 0);
        const char *meta = (const char *)sqlite3_column_text(st, 2);
        int tl = sqlite3_column_bytes(st, 1);
        d->id = rt_strdup(doc_id);
        d->path = path ? rt_strdup(path) : NULL;
        d->metadata_json = meta ? rt_strdup(meta) : NULL;
        d->text = rt_malloc((size_t)tl + 1);
        if (d->text) {
            if (tl) memcpy(d->text, sqlite3_column_blob(st, 1), (size_t)tl);
            d->text[tl] = '\0';
        }
        d->len = (size_t)tl;
        d->version = sqlite3_column_int64(st, 3);
        if (!d->id || !d->text || (path && !d->path) || (meta && !d->metadata_json))
            rc = RT_ERR_NOMEM;
    }
    sqlite3_finalize(st);
    if (rc != RT_OK) {
        rt_stored_document_free(d);
        return rc;
    }
    *out = d;
    return RT_OK;
}
