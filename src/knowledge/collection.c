/*
 * collection.c — opening and closing a collection, its SQLite schema and stored settings,
 * bringing the BM25 and HNSW indexes up to date from the change log, deletes and statistics.
 * See collection.h for the storage layout and crash-safety argument.
 */
#include "knowledge/collection.h"
#include "knowledge/chunker.h"
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

int rt_coll_sql_error(rt_collection *c, const char *what) {
    return rt_error(RT_ERR_IO, "%s: %s: %s", c->db_path, what, sqlite3_errmsg(c->db));
}

int rt_coll_exec(rt_collection *c, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = rt_error(RT_ERR_IO, "%s: %s", c->db_path, msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return rc;
    }
    return RT_OK;
}

int rt_coll_prepare(rt_collection *c, const char *sql, sqlite3_stmt **st) {
    if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK)
        return rt_coll_sql_error(c, "prepare");
    return RT_OK;
}

int rt_coll_max_seq(rt_collection *c, uint64_t *seq) {
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

/* Adds one chunk (text and vector from the database) to the indexes that have not seen it. */
static int index_chunk(rt_collection *c, sqlite3_stmt *row, bool to_bm25, bool to_hnsw) {
    int64_t id = sqlite3_column_int64(row, 0);
    if (to_bm25) {
        const char *t = (const char *)sqlite3_column_blob(row, 1);
        int n = sqlite3_column_bytes(row, 1);
        RT_TRY(rt_bm25_add(c->bm25, id, t ? t : "", (size_t)n));
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
    "SELECT c.chunk_id, substr(CAST(d.text AS BLOB), c.start + 1, c.end - c.start), c.vector "     \
    "FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "

/* Brings the in-memory indexes up to the database: replays changes after each index's applied
 * sequence number. */
static int replay(rt_collection *c, uint64_t max_seq) {
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
            }
        }
        if (!c->hnsw) RT_TRY(hnsw_create(c, &c->hnsw));
    }
    return replay(c, max_seq);
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

/* ---- open / close ------------------------------------------------------------------------ */

static int check_embedder(rt_collection *c, const rt_embedder *e, bool empty) {
    if (!e) return RT_OK;
    if (!e->embed || e->dim <= 0 || !e->name || !*e->name)
        return rt_error(RT_ERR_INVALID, "embedder needs a name, a dimension and a function");
    if (c->dim == 0) {
        if (!empty)
            return rt_error(RT_ERR_INVALID,
                            "%s: the collection was built without vectors; "
                            "create a new one to use embedder '%s'",
                            c->dir, e->name);
        if (c->p.read_only)
            return rt_error(RT_ERR_INVALID, "%s: read-only collection has no vectors", c->dir);
        snprintf(c->embedder_name, sizeof c->embedder_name, "%s", e->name);
        c->dim = e->dim;
        RT_TRY(meta_set(c, "embedder", c->embedder_name));
        RT_TRY(meta_set_num(c, "dim", c->dim));
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
    if (!rt_is_dir(path)) {
        if (!p.create || p.read_only)
            return rt_error(RT_ERR_NOT_FOUND, "%s: no such collection", path);
        RT_TRY(rt_mkdir_p(path));
    }
    rt_collection *c = rt_calloc(1, sizeof *c);
    if (!c) return RT_ERR_NOMEM;
    c->lock_fd = -1;
    c->p = p;
    snprintf(c->language, sizeof c->language, "%s", p.language ? p.language : "english");
    c->p.language = c->language;
    c->dir = rt_strdup(path);
    c->db_path = rt_path_join(path, "collection.db");
    c->bm25_path = rt_path_join(path, "bm25.idx");
    c->hnsw_path = rt_path_join(path, "hnsw.idx");
    char *lock_path = rt_path_join(path, "lock");
    int st = RT_OK;
    if (!c->dir || !c->db_path || !c->bm25_path || !c->hnsw_path || !lock_path) {
        st = RT_ERR_NOMEM;
        goto fail;
    }
    if (!p.read_only) {
        c->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (c->lock_fd < 0 || flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            st = rt_error(RT_ERR_IO, "%s: collection is in use by another writer (%s)", path,
                          strerror(errno));
            goto fail;
        }
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
    int flags = SQLITE_OPEN_READWRITE | (p.read_only ? 0 : SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(c->db_path, &c->db, flags, NULL) != SQLITE_OK && p.read_only) {
        sqlite3_close(c->db);
        c->db = NULL;
        sqlite3_open_v2(c->db_path, &c->db, SQLITE_OPEN_READONLY, NULL);
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
        bool has = sqlite3_step(s) == SQLITE_ROW;
        sqlite3_finalize(s);
        f = has ? meta_get(c, "schema", schema, sizeof schema) : 0;
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
        if (sqlite3_step(s) == SQLITE_ROW) n_chunks = (uint64_t)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    if ((st = check_embedder(c, p.embedder, n_chunks == 0))) goto fail;
    if ((st = load_indexes(c))) goto fail;
    free(lock_path);
    *out = c;
    return RT_OK;
fail:
    free(lock_path);
    c->dirty = false;
    rt_collection_close(c);
    return st;
}

int rt_collection_close(rt_collection *c) {
    if (!c) return RT_OK;
    int st = c->bm25 ? save_indexes(c) : RT_OK;
    rt_bm25_free(c->bm25);
    rt_hnsw_free(c->hnsw);
    if (c->db) sqlite3_close(c->db);
    if (c->lock_fd >= 0) close(c->lock_fd);
    free(c->dir);
    free(c->db_path);
    free(c->bm25_path);
    free(c->hnsw_path);
    free(c);
    return st;
}

void rt_collection_set_ack(rt_collection *c, rt_ingest_ack_fn fn, void *user) {
    c->ack = fn;
    c->ack_user = user;
}

/* ---- delete ------------------------------------------------------------------------------ */

int rt_collection_delete(rt_collection *c, const char *key, uint64_t *n_deleted) {
    if (n_deleted) *n_deleted = 0;
    if (c->p.read_only) return rt_error(RT_ERR_INVALID, "%s: opened read-only", c->dir);
    if (!key || !*key) return rt_error(RT_ERR_INVALID, "delete: empty id or path");
    /* Directory prefix: "dir/" matches "dir/a.txt" and below. */
    size_t kl = strlen(key);
    char *prefix = rt_malloc(kl + 3);
    if (!prefix) return RT_ERR_NOMEM;
    memcpy(prefix, key, kl);
    size_t pl = kl;
    if (pl && prefix[pl - 1] != '/') prefix[pl++] = '/';
    prefix[pl] = '\0';
    sqlite3_stmt *docs = NULL, *chunks = NULL;
    int st = rt_coll_exec(c, "BEGIN IMMEDIATE");
    if (st) {
        free(prefix);
        return st;
    }
    int64_t *ids = NULL;
    size_t n_ids = 0, cap_ids = 0;
    uint64_t n_docs = 0;
    st = rt_coll_prepare(c,
                         "SELECT doc_id FROM documents WHERE doc_id = ?1 OR path = ?1 OR "
                         "substr(path, 1, length(?2)) = ?2",
                         &docs);
    if (!st) st = rt_coll_prepare(c, "SELECT chunk_id FROM chunks WHERE doc_id = ?", &chunks);
    if (!st) {
        sqlite3_bind_text(docs, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(docs, 2, prefix, -1, SQLITE_STATIC);
        while (!st && sqlite3_step(docs) == SQLITE_ROW) {
            n_docs++;
            sqlite3_reset(chunks);
            sqlite3_bind_value(chunks, 1, sqlite3_column_value(docs, 0));
            while (!st && sqlite3_step(chunks) == SQLITE_ROW) {
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
        "(SELECT doc_id FROM documents WHERE doc_id = ?1 OR path = ?1 OR "
        "substr(path, 1, length(?2)) = ?2);"
        "DELETE FROM chunks WHERE doc_id IN (SELECT doc_id FROM documents WHERE doc_id = ?1 OR "
        "path = ?1 OR substr(path, 1, length(?2)) = ?2);"
        "DELETE FROM documents WHERE doc_id = ?1 OR path = ?1 OR substr(path, 1, length(?2)) = ?2;";
    for (const char *s = sql; !st && *s;) {
        sqlite3_stmt *q;
        const char *tail;
        if (sqlite3_prepare_v2(c->db, s, -1, &q, &tail) != SQLITE_OK) {
            st = rt_coll_sql_error(c, "delete");
            break;
        }
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, prefix, -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_DONE) st = rt_coll_sql_error(c, "delete");
        sqlite3_finalize(q);
        s = tail;
    }
    uint64_t seq = 0;
    if (!st) st = rt_coll_max_seq(c, &seq);
    if (st || n_docs == 0) {
        rt_coll_exec(c, "ROLLBACK");
        free(ids);
        free(prefix);
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
    free(ids);
    free(prefix);
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
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->documents = (uint64_t)sqlite3_column_int64(st, 0);
        out->chunks = (uint64_t)sqlite3_column_int64(st, 1);
        out->text_bytes = (uint64_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
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
