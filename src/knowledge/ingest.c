/*
 * ingest.c — see ingest.h. A document is chunked and embedded outside the transaction, then
 * written with its chunks and change-log rows in one SQLite transaction; only after COMMIT is
 * it applied to the in-memory indexes and acknowledged.
 */
#include "knowledge/ingest.h"
#include "knowledge/chunker.h"
#include "knowledge/collection.h"
#include "knowledge/html.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <utf8proc.h>

#define MAX_FILE_BYTES ((size_t)1 << 30)
#define EMBED_BATCH 32

rt_doc_format rt_format_from_name(const char *name) {
    if (!name) return RT_FORMAT_UNKNOWN;
    if (!strcasecmp(name, "txt") || !strcasecmp(name, "text")) return RT_FORMAT_TXT;
    if (!strcasecmp(name, "md") || !strcasecmp(name, "markdown")) return RT_FORMAT_MD;
    if (!strcasecmp(name, "html") || !strcasecmp(name, "htm")) return RT_FORMAT_HTML;
    if (!strcasecmp(name, "jsonl")) return RT_FORMAT_JSONL;
    return RT_FORMAT_UNKNOWN;
}

rt_doc_format rt_format_from_path(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    return dot ? rt_format_from_name(dot + 1) : RT_FORMAT_UNKNOWN;
}

int rt_utf8_sanitize(const char *text, size_t len, char **out, size_t *out_len) {
    size_t cap;
    if (!rt_mul_size(len, 3, &cap) || !rt_add_size(cap, 1, &cap))
        return rt_error(RT_ERR_RANGE, "text too large");
    char *o = rt_malloc(cap);
    if (!o) return RT_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char ch = (unsigned char)text[i];
        if (ch < 0x80) {
            if (ch) o[n++] = (char)ch;
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t m =
            utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cp);
        if (m <= 0) {
            memcpy(o + n, "\xEF\xBF\xBD", 3);
            n += 3;
            i++;
            continue;
        }
        memcpy(o + n, text + i, (size_t)m);
        n += (size_t)m;
        i += (size_t)m;
    }
    o[n] = '\0';
    *out = o;
    *out_len = n;
    return RT_OK;
}

void rt_jsonl_record_free(rt_jsonl_record *r) {
    free(r->id);
    free(r->text);
    free(r->metadata);
    memset(r, 0, sizeof *r);
}

int rt_jsonl_parse_line(const char *line, size_t len, const char *name, size_t line_no,
                        rt_jsonl_record *out) {
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len) return RT_ERR_NOT_FOUND;
    json_error_t err;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!root)
        return rt_error(RT_ERR_FORMAT, "%s:%zu: column %d: %s", name, line_no, err.column,
                        err.text);
    int st = RT_OK;
    json_t *text = json_object_get(root, "text"), *id = json_object_get(root, "id");
    json_t *meta = json_object_get(root, "metadata");
    if (!json_is_object(root))
        st = rt_error(RT_ERR_FORMAT, "%s:%zu: a record must be a JSON object", name, line_no);
    else if (!json_is_string(text))
        st = rt_error(RT_ERR_FORMAT, "%s:%zu: \"text\" must be a string", name, line_no);
    else if (id && !json_is_string(id) && !json_is_integer(id))
        st =
            rt_error(RT_ERR_FORMAT, "%s:%zu: \"id\" must be a string or an integer", name, line_no);
    else if (meta && !json_is_object(meta) && !json_is_null(meta))
        st = rt_error(RT_ERR_FORMAT, "%s:%zu: \"metadata\" must be an object", name, line_no);
    if (!st) {
        st = rt_utf8_sanitize(json_string_value(text), json_string_length(text), &out->text,
                              &out->len);
    }
    if (!st && id) {
        char buf[32];
        if (json_is_integer(id)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(id));
            out->id = rt_strdup(buf);
        } else {
            size_t n;
            st = rt_utf8_sanitize(json_string_value(id), json_string_length(id), &out->id, &n);
            if (!st && n == 0)
                st = rt_error(RT_ERR_FORMAT, "%s:%zu: \"id\" is empty", name, line_no);
        }
        if (!st && !out->id) st = RT_ERR_NOMEM;
    }
    if (!st && json_is_object(meta)) {
        out->metadata = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        if (!out->metadata) st = rt_error(RT_ERR_NOMEM, "%s:%zu: metadata", name, line_no);
    }
    json_decref(root);
    if (st) rt_jsonl_record_free(out);
    return st;
}

/* ---- one document ------------------------------------------------------------------------ */

/* Content hash of text and metadata: two 64-bit FNV-1a variants (identity, not security). */
static void content_hash(const char *text, size_t len, const char *meta, char out[33]) {
    uint64_t a = 1469598103934665603ull, b = 0x84222325cbf29ce4ull;
    for (size_t i = 0; i < len; i++) {
        a = (a ^ (unsigned char)text[i]) * 1099511628211ull;
        b = (b ^ (unsigned char)text[i]) * 0x100000001b3ull;
        b ^= b >> 31;
    }
    a ^= 0xff;
    for (const char *m = meta ? meta : ""; *m; m++) {
        a = (a ^ (unsigned char)*m) * 1099511628211ull;
        b = (b ^ (unsigned char)*m) * 0x100000001b3ull;
        b ^= b >> 31;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)(b ^ len));
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s) {
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Runs a one-row lookup "SELECT x FROM ... WHERE ? ..." and copies column 0 text. */
static int lookup_text(rt_collection *c, const char *sql, const char *a, const char *b, char *out,
                       size_t cap, bool *found) {
    sqlite3_stmt *st;
    RT_TRY(rt_coll_prepare(c, sql, &st));
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? RT_OK : rt_coll_sql_error(c, "lookup");
}

static void ack(rt_collection *c, const char *id, const char *status) {
    if (c->ack) c->ack(c->ack_user, id, status);
}

/* Vectors computed ahead for the chunks of the next documents of a JSONL source, by one
 * embedder call for the whole window: most records of a dictionary-like corpus are one short
 * chunk, and one call per document would run the model on one text at a time. Each document is
 * then ingested as before (its own checks and transaction); its chunks take their vectors from
 * here by text, and any chunk not found (nothing computed ahead, or a failed window) is embedded
 * on its own. */
typedef struct embed_ahead {
    char **texts;   /* (n) sanitized document texts the chunks point into */
    size_t n_texts, cap_texts;
    const char **chunk; /* (n_chunks) chunk text */
    size_t *chunk_len;  /* (n_chunks) bytes */
    float *vecs;        /* (n_chunks, dim) */
    size_t n_chunks, cap_chunk, cap_len, cap_vecs;
    size_t end; /* offset in the source up to which records were looked at */
} embed_ahead;

static void embed_ahead_clear(embed_ahead *a) {
    for (size_t i = 0; i < a->n_texts; i++)
        free(a->texts[i]);
    a->n_texts = 0;
    a->n_chunks = 0;
}

static void embed_ahead_free(embed_ahead *a) {
    embed_ahead_clear(a);
    free(a->texts);
    free(a->chunk);
    free(a->chunk_len);
    free(a->vecs);
    memset(a, 0, sizeof *a);
}

/* The vector computed ahead for a chunk with these bytes, or NULL. */
static const float *embed_ahead_find(const embed_ahead *a, int dim, const char *text, size_t len) {
    for (size_t i = 0; a && i < a->n_chunks; i++)
        if (a->chunk_len[i] == len && !memcmp(a->chunk[i], text, len))
            return a->vecs + i * (size_t)dim;
    return NULL;
}

/* out (n, dim): the chunks' vectors, from `ahead` where it has them, the others embedded in
 * calls of at most EMBED_BATCH texts. */
static int embed_chunks(rt_collection *c, const embed_ahead *ahead, const char *text,
                        const rt_span *sp, size_t n, float *out) {
    const rt_embedder *e = c->embedder;
    const char *texts[EMBED_BATCH];
    size_t lens[EMBED_BATCH], rows[EMBED_BATCH], dim = (size_t)c->dim;
    float *vecs = rt_malloc(EMBED_BATCH * dim * sizeof *vecs);
    if (!vecs) return RT_ERR_NOMEM;
    int st = RT_OK;
    for (size_t i = 0; i < n && !st;) {
        int m = 0;
        for (; i < n && m < EMBED_BATCH; i++) {
            const char *t = text + sp[i].start;
            size_t len = sp[i].end - sp[i].start;
            const float *v = embed_ahead_find(ahead, c->dim, t, len);
            if (v) {
                memcpy(out + i * dim, v, dim * sizeof *v);
                continue;
            }
            texts[m] = t;
            lens[m] = len;
            rows[m++] = i;
        }
        if (m == 0) break;
        st = e->embed(e->user, texts, lens, m, vecs);
        if (st) st = rt_error_wrap("embedder '%s'", e->name);
        for (size_t k = 0; !st && k < (size_t)m * dim; k++)
            if (!(vecs[k] == vecs[k]))
                st = rt_error(RT_ERR_FORMAT, "embedder '%s' returned NaN", e->name);
        for (int j = 0; !st && j < m; j++)
            memcpy(out + rows[j] * dim, vecs + (size_t)j * dim, dim * sizeof *vecs);
    }
    free(vecs);
    return st;
}

/* The document's title for the BM25 index: metadata "title" when it is a string, else "" (the
 * same rule as the collection's rebuild query; a collection stores metadata only when it is
 * valid JSON). */
static int metadata_title(const char *metadata_json, char **out) {
    const char *v = "";
    json_t *root = metadata_json ? json_loads(metadata_json, 0, NULL) : NULL;
    json_t *t = json_is_object(root) ? json_object_get(root, "title") : NULL;
    if (json_is_string(t)) v = json_string_value(t);
    *out = rt_strdup(v);
    json_decref(root);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

static int write_document(rt_collection *c, const char *id, const rt_document *doc,
                          const char *text, size_t len, const char *hash, bool existed,
                          const rt_span *sp, char *const *titles, size_t n, const float *vecs,
                          int64_t **old_ids, size_t *n_old, int64_t *new_ids, uint64_t *seq) {
    sqlite3_stmt *st = NULL;
    int rc = RT_OK;
    *n_old = 0;
    if (existed) {
        RT_TRY(rt_coll_prepare(c, "SELECT chunk_id FROM chunks WHERE doc_id = ?", &st));
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        size_t cap = 0;
        int r;
        while ((r = rt_coll_step(c, st, "replacing")) != 0) {
            if (r < 0) {
                sqlite3_finalize(st);
                return r;
            }
            int g = RT_GROW(*old_ids, cap, *n_old + 1);
            if (g < 0) {
                sqlite3_finalize(st);
                return g;
            }
            (*old_ids)[(*n_old)++] = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        const char *sql[] = {
            "INSERT INTO changes(op, chunk_id) SELECT 2, chunk_id FROM chunks WHERE doc_id = ?",
            "DELETE FROM chunks WHERE doc_id = ?"};
        for (int k = 0; k < 2; k++) {
            RT_TRY(rt_coll_prepare(c, sql[k], &st));
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            rc = sqlite3_step(st) == SQLITE_DONE ? RT_OK : rt_coll_sql_error(c, "replacing");
            sqlite3_finalize(st);
            RT_TRY(rc);
        }
        RT_TRY(rt_coll_prepare(c,
                               "UPDATE documents SET path = ?2, hash = ?3, text = ?4, "
                               "metadata = ?5, version = version + 1, n_chunks = ?6, bytes = ?7, "
                               "updated_at = ?8 WHERE doc_id = ?1",
                               &st));
    } else {
        RT_TRY(rt_coll_prepare(c,
                               "INSERT INTO documents(doc_id, path, hash, text, metadata, "
                               "version, n_chunks, bytes, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, "
                               "1, ?6, ?7, ?8)",
                               &st));
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    bind_opt_text(st, 2, doc->path);
    sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, (int)len, SQLITE_STATIC);
    bind_opt_text(st, 5, doc->metadata_json);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)n);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)len);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st) == SQLITE_DONE ? RT_OK : rt_coll_sql_error(c, "writing the document");
    sqlite3_finalize(st);
    RT_TRY(rc);
    sqlite3_stmt *ins, *log;
    RT_TRY(rt_coll_prepare(c,
                           "INSERT INTO chunks(doc_id, ord, start, end, n_tokens, vector, "
                           "title) VALUES(?, ?, ?, ?, ?, ?, ?)",
                           &ins));
    if (rt_coll_prepare(c, "INSERT INTO changes(op, chunk_id) VALUES(1, ?)", &log)) {
        sqlite3_finalize(ins);
        return RT_ERR_IO;
    }
    rt_token_count_fn count = c->p.chunker.count_tokens;
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, (sqlite3_int64)i);
        sqlite3_bind_int64(ins, 3, (sqlite3_int64)sp[i].start);
        sqlite3_bind_int64(ins, 4, (sqlite3_int64)sp[i].end);
        size_t nt = count ? count(c->p.chunker.count_tokens_user, text + sp[i].start,
                                  sp[i].end - sp[i].start)
                          : 0;
        sqlite3_bind_int64(ins, 5, (sqlite3_int64)nt);
        if (vecs)
            sqlite3_bind_blob(ins, 6, vecs + i * (size_t)c->dim, c->dim * (int)sizeof(float),
                              SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 6);
        if (titles && titles[i])
            sqlite3_bind_text(ins, 7, titles[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 7);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = rt_coll_sql_error(c, "writing a chunk");
            break;
        }
        new_ids[i] = sqlite3_last_insert_rowid(c->db);
        sqlite3_reset(log);
        sqlite3_bind_int64(log, 1, new_ids[i]);
        if (sqlite3_step(log) != SQLITE_DONE) rc = rt_coll_sql_error(c, "writing the log");
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(log);
    RT_TRY(rc);
    return rt_coll_max_seq(c, seq);
}

static int ingest_document(rt_collection *c, const rt_document *doc, const embed_ahead *ahead,
                           rt_ingest_stats *stats);

int rt_collection_ingest_document(rt_collection *c, const rt_document *doc,
                                  rt_ingest_stats *stats) {
    return ingest_document(c, doc, NULL, stats);
}

/* The document's id: its own, else its path, else "sha:" + its content hash (into idbuf). */
static const char *document_id(const rt_document *doc, const char *hash, char idbuf[64]) {
    const char *id = doc->id ? doc->id : doc->path;
    if (!id) {
        snprintf(idbuf, 64, "sha:%s", hash);
        id = idbuf;
    }
    return id;
}

static int ingest_document(rt_collection *c, const rt_document *doc, const embed_ahead *ahead,
                           rt_ingest_stats *stats) {
    if (c->p.read_only) return rt_error(RT_ERR_INVALID, "%s: opened read-only", c->dir);
    if (!doc || (!doc->text && doc->len)) return rt_error(RT_ERR_INVALID, "ingest: no text");
    if (c->dim > 0 && !c->embedder)
        return rt_error(RT_ERR_INVALID,
                        "%s: the collection has vectors from '%s'; ingesting "
                        "needs that embedder",
                        c->dir, c->embedder_name);
    if (doc->metadata_json) {
        json_error_t err;
        /* duplicate keys are refused: jansson keeps the last value and SQLite's JSON functions
         * (filters, the title on rebuild) the first, so they would disagree */
        json_t *m = json_loads(doc->metadata_json, JSON_REJECT_DUPLICATES, &err);
        bool ok = json_is_object(m);
        json_decref(m);
        if (!m)
            return rt_error(RT_ERR_INVALID, "ingest: document '%s': metadata: %s (column %d)",
                            doc->id ? doc->id : "(no id)", err.text, err.column);
        if (!ok) return rt_error(RT_ERR_INVALID, "ingest: metadata must be a JSON object");
    }
    double t0 = rt_time_now();
    char *text;
    size_t len;
    RT_TRY(rt_utf8_sanitize(doc->text ? doc->text : "", doc->len, &text, &len));
    char hash[33];
    content_hash(text, len, doc->metadata_json, hash);
    char idbuf[64];
    const char *id = document_id(doc, hash, idbuf);
    char old_hash[64], other[512];
    bool existed, dup = false;
    int st = lookup_text(c, "SELECT hash FROM documents WHERE doc_id = ?", id, NULL, old_hash,
                         sizeof old_hash, &existed);
    if (!st && existed && !strcmp(old_hash, hash)) {
        free(text);
        if (stats) stats->docs_unchanged++;
        ack(c, id, "unchanged");
        return RT_OK;
    }
    if (!st && c->p.dedupe)
        st = lookup_text(c, "SELECT doc_id FROM documents WHERE hash = ? AND doc_id != ? LIMIT 1",
                         hash, id, other, sizeof other, &dup);
    if (!st && dup) {
        free(text);
        rt_log_debug("%s: same content as '%s'; skipped", id, other);
        if (stats) stats->docs_duplicate++;
        ack(c, id, "duplicate");
        return RT_OK;
    }
    rt_span *sp = NULL;
    size_t n = 0;
    float *vecs = NULL;
    int64_t *new_ids = NULL, *old_ids = NULL;
    size_t n_old = 0;
    uint64_t seq = 0;
    char **titles = NULL;
    char *doc_title = NULL;
    if (!st) st = metadata_title(doc->metadata_json, &doc_title);
    if (!st) st = rt_chunk_text_titled(&c->p.chunker, c->embedder, text, len, &sp, &titles, &n);
    if (!st && c->embedder && n) {
        size_t bytes;
        if (!rt_mul_size(n, (size_t)c->dim * sizeof(float), &bytes))
            st = rt_error(RT_ERR_RANGE, "ingest: too many chunks");
        else if (!(vecs = rt_malloc(bytes)))
            st = RT_ERR_NOMEM;
        else
            st = embed_chunks(c, ahead, text, sp, n, vecs);
    }
    if (!st && !(new_ids = rt_malloc((n + 1) * sizeof *new_ids))) st = RT_ERR_NOMEM;
    /* exclusive from the transaction's start until the indexes match its commit: searches share
     * this connection, so they must not read the change log of a transaction in flight */
    bool locked = false;
    if (!st) {
        pthread_rwlock_wrlock(&c->sync->index_lock);
        locked = true;
        st = rt_coll_exec(c, "BEGIN IMMEDIATE");
    }
    if (!st) {
        st = write_document(c, id, doc, text, len, hash, existed, sp, titles, n, vecs, &old_ids,
                            &n_old,
                            new_ids, &seq);
        if (st) {
            rt_coll_exec(c, "ROLLBACK");
        } else {
            st = rt_coll_exec(c, "COMMIT");
        }
    }
    if (!st) {
        /* Durable from here; now the in-memory indexes. */
        int ist = RT_OK;
        for (size_t i = 0; !ist && i < n_old; i++) {
            ist = rt_bm25_remove(c->bm25, old_ids[i]);
            if (!ist && c->hnsw) ist = rt_hnsw_remove(c->hnsw, old_ids[i]);
        }
        for (size_t i = 0; !ist && i < n; i++) {
            ist = rt_bm25_add_titled(c->bm25, new_ids[i], text + sp[i].start,
                                     sp[i].end - sp[i].start, doc_title, strlen(doc_title));
            if (!ist && c->hnsw && vecs)
                ist = rt_hnsw_add(c->hnsw, new_ids[i], vecs + i * (size_t)c->dim);
        }
        if (ist) {
            c->broken = true;
            st = rt_error_wrap("%s: stored, but updating the in-memory index failed (it is "
                               "rebuilt on the next open)",
                               id);
        } else {
            rt_bm25_set_applied_seq(c->bm25, seq);
            if (c->hnsw) rt_hnsw_set_applied_seq(c->hnsw, seq);
            c->dirty = true;
        }
        pthread_rwlock_unlock(&c->sync->index_lock);
        locked = false;
        if (stats) {
            if (existed)
                stats->docs_replaced++;
            else
                stats->docs_added++;
            stats->chunks_added += n;
            stats->bytes += len;
            stats->seconds += rt_time_now() - t0;
        }
        ack(c, id, existed ? "replaced" : "added");
    } else if (stats) {
        stats->docs_failed++;
    }
    if (locked) pthread_rwlock_unlock(&c->sync->index_lock); /* the transaction failed */
    free(text);
    free(sp);
    for (size_t i = 0; titles && i < n; i++)
        free(titles[i]);
    free(titles);
    free(doc_title);
    free(vecs);
    free(new_ids);
    free(old_ids);
    return st;
}

/* ---- sources ----------------------------------------------------------------------------- */

/* The next line of a JSONL buffer from *i (past a UTF-8 byte order mark at the start):
 * *line, *line_len; advances *i past it and counts *line_no. False at the end. */
static bool next_line(const char *buf, size_t len, size_t *i, size_t *line_no, const char **line,
                      size_t *line_len) {
    if (*i == 0 && len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) *i = 3;
    if (*i >= len) return false;
    const char *nl = memchr(buf + *i, '\n', len - *i);
    size_t end = nl ? (size_t)(nl - buf) : len;
    *line = buf + *i;
    *line_len = end - *i;
    *i = end + 1;
    (*line_no)++;
    return true;
}

/* A JSONL record as a document; ids default to "name:line". */
static rt_document record_document(const rt_jsonl_record *r, const char *name, size_t line_no,
                                   const char *path, char *idbuf, size_t idcap) {
    if (!r->id) snprintf(idbuf, idcap, "%s:%zu", name, line_no);
    rt_document d = {r->id ? r->id : idbuf, path, r->text, r->len, r->metadata};
    return d;
}

enum { EMBED_AHEAD_CHUNKS = 128 }; /* chunks embedded ahead in one call */

/* Refills `a` with the chunks of the records from offset i on (line line_no so far) until it
 * holds EMBED_AHEAD_CHUNKS or the buffer ends, skipping documents stored unchanged, then embeds
 * them in one call. A failure leaves `a` empty: each document then embeds its own chunks and
 * reports its own error. */
static void embed_ahead_fill(rt_collection *c, embed_ahead *a, const char *buf, size_t len,
                             size_t i, size_t line_no, const char *name) {
    embed_ahead_clear(a);
    const char *line;
    size_t line_len;
    int st = RT_OK;
    while (!st && a->n_chunks < EMBED_AHEAD_CHUNKS &&
           next_line(buf, len, &i, &line_no, &line, &line_len)) {
        rt_jsonl_record r;
        if (rt_jsonl_parse_line(line, line_len, name, line_no, &r) != RT_OK) continue;
        char idbuf[1024], hash[33], shabuf[64], old_hash[64];
        rt_document d = record_document(&r, name, line_no, NULL, idbuf, sizeof idbuf);
        content_hash(r.text, r.len, r.metadata, hash);
        bool existed = false;
        st = lookup_text(c, "SELECT hash FROM documents WHERE doc_id = ?",
                         document_id(&d, hash, shabuf), NULL, old_hash, sizeof old_hash, &existed);
        rt_span *sp = NULL;
        char **titles = NULL;
        size_t n = 0;
        if (!st && !(existed && !strcmp(old_hash, hash)))
            st = rt_chunk_text_titled(&c->p.chunker, c->embedder, r.text, r.len, &sp, &titles, &n);
        if (!st) st = RT_GROW(a->texts, a->cap_texts, a->n_texts + 1);
        size_t need = a->n_chunks + n;
        if (!st) st = RT_GROW(a->chunk, a->cap_chunk, need);
        if (!st) st = RT_GROW(a->chunk_len, a->cap_len, need);
        if (!st) st = rt_grow((void **)&a->vecs, &a->cap_vecs, need, (size_t)c->dim * sizeof(float));
        for (size_t k = 0; !st && k < n; k++) {
            a->chunk[a->n_chunks] = r.text + sp[k].start;
            a->chunk_len[a->n_chunks++] = sp[k].end - sp[k].start;
        }
        if (!st) {
            a->texts[a->n_texts++] = r.text; /* the chunks point into it */
            r.text = NULL;
        }
        for (size_t k = 0; titles && k < n; k++)
            free(titles[k]);
        free(titles);
        free(sp);
        rt_jsonl_record_free(&r);
    }
    a->end = i;
    for (size_t k = 0; !st && k < a->n_chunks; k += EMBED_AHEAD_CHUNKS) {
        size_t m = a->n_chunks - k < EMBED_AHEAD_CHUNKS ? a->n_chunks - k : EMBED_AHEAD_CHUNKS;
        st = c->embedder->embed(c->embedder->user, a->chunk + k, a->chunk_len + k, (int)m,
                                a->vecs + k * (size_t)c->dim);
    }
    if (st) {
        rt_log_debug("embedding ahead: %s (each document embeds its own chunks)", rt_last_error());
        embed_ahead_clear(a);
    }
}

/* One ingest_path / ingest_stream call: its collection, statistics, progress (documents done)
 * and cancellation. */
typedef struct ingest_call {
    rt_collection *c;
    rt_ingest_stats *stats;
    rt_progress progress;
} ingest_call;

/* One document through ingest_document, after asking the call's should_cancel (so a cancelled
 * call stops between documents, never inside one's transaction). */
static int ingest_one(ingest_call *k, const rt_document *d) {
    RT_TRY(rt_progress_check_cancel(&k->progress));
    int st = ingest_document(k->c, d, NULL, k->stats);
    rt_progress_update(&k->progress, k->progress.done + 1, NULL);
    return st;
}

/* Ingests a buffer in a format; id/path name the document (or prefix JSONL line ids). */
static int ingest_buffer(ingest_call *k, const char *buf, size_t len, rt_doc_format fmt,
                         const char *name, const char *path) {
    rt_collection *c = k->c;
    rt_ingest_stats *stats = k->stats;
    if (fmt == RT_FORMAT_JSONL) {
        size_t line_no = 0, i = 0, line_len;
        const char *line;
        /* the semantic chunker embeds while chunking: chunking ahead would do that twice */
        bool ahead_on = c->embedder && c->p.chunker.kind != RT_CHUNKER_SEMANTIC;
        embed_ahead ahead = {0};
        int st = RT_OK;
        for (;;) {
            /* polled before each line and before embedding ahead: a cancelled call computes
             * nothing more and commits nothing more */
            if ((st = rt_progress_check_cancel(&k->progress)) != RT_OK) break;
            if (ahead_on && i >= ahead.end) embed_ahead_fill(c, &ahead, buf, len, i, line_no, name);
            if (!next_line(buf, len, &i, &line_no, &line, &line_len)) break;
            rt_jsonl_record r;
            st = rt_jsonl_parse_line(line, line_len, name, line_no, &r);
            if (st == RT_ERR_NOT_FOUND) continue; /* blank line */
            if (st == RT_OK) {
                char idbuf[1024];
                rt_document d = record_document(&r, name, line_no, path, idbuf, sizeof idbuf);
                st = ingest_document(c, &d, ahead_on ? &ahead : NULL, stats); /* counts failures */
                rt_progress_update(&k->progress, k->progress.done + 1, NULL);
                rt_jsonl_record_free(&r);
            } else {
                stats->docs_failed++;
            }
            if (st == RT_ERR_CANCELLED) break;
            if (st) {
                rt_log_warn("%s", rt_last_error());
                if (st == RT_ERR_IO || st == RT_ERR_NOMEM) break; /* the store failed */
            }
        }
        embed_ahead_free(&ahead);
        return st == RT_ERR_IO || st == RT_ERR_NOMEM || st == RT_ERR_CANCELLED ? st : RT_OK;
    }
    char *text = NULL;
    size_t n = len;
    if (fmt == RT_FORMAT_HTML) RT_TRY(rt_html_to_text(buf, len, &text, &n));
    rt_document d = {name, path, text ? text : buf, n, NULL};
    int st = ingest_one(k, &d);
    free(text);
    return st;
}

static int ingest_file(ingest_call *k, const char *path) {
    rt_ingest_stats *stats = k->stats;
    rt_doc_format fmt = rt_format_from_path(path);
    if (fmt == RT_FORMAT_UNKNOWN) {
        rt_log_debug("%s: unknown extension; skipped", path);
        stats->files_skipped++;
        return RT_OK;
    }
    char *buf;
    size_t len;
    int st = rt_file_read_all(path, MAX_FILE_BYTES, &buf, &len);
    if (st) {
        stats->docs_failed++; /* (ingest_document counts its own failures) */
    } else {
        st = ingest_buffer(k, buf, len, fmt, path, path);
        free(buf);
    }
    if (st && st != RT_ERR_CANCELLED) rt_log_warn("%s", rt_last_error());
    return st;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directories on the current walk path, by device and inode: a symbolic link that leads back
 * to one of them would loop. A directory reached twice by different links (not a loop) is
 * walked once too: the set holds every directory seen in this walk. */
typedef struct dir_walk {
    struct {
        dev_t dev;
        ino_t ino;
    } *seen;
    size_t n, cap;
} dir_walk;

/* 1 when (dev, ino) was seen already, 0 after recording it, negative on error. */
static int walk_visit(dir_walk *w, const struct stat *s) {
    for (size_t i = 0; i < w->n; i++)
        if (w->seen[i].dev == s->st_dev && w->seen[i].ino == s->st_ino) return 1;
    RT_TRY(RT_GROW(w->seen, w->cap, w->n + 1));
    w->seen[w->n].dev = s->st_dev;
    w->seen[w->n].ino = s->st_ino;
    w->n++;
    return 0;
}

static int ingest_dir(ingest_call *k, const char *dir, int depth, dir_walk *w) {
    rt_ingest_stats *stats = k->stats;
    if (depth > 64) return rt_error(RT_ERR_RANGE, "%s: directories nested too deeply", dir);
    struct stat ds;
    if (stat(dir, &ds) != 0) return rt_error(RT_ERR_IO, "%s: cannot open directory", dir);
    int seen = walk_visit(w, &ds);
    if (seen < 0) return seen;
    if (seen) {
        rt_log_warn("%s: a directory already walked (symbolic link loop or second link); skipped",
                    dir);
        stats->links_skipped++;
        return RT_OK;
    }
    DIR *d = opendir(dir);
    if (!d) return rt_error(RT_ERR_IO, "%s: cannot open directory", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int st = RT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        st = RT_GROW(names, cap, n + 1);
        if (st < 0) break;
        if (!(names[n] = rt_strdup(e->d_name))) {
            st = RT_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_name); /* reproducible order */
    for (size_t i = 0; !st && i < n; i++) {
        char *p = rt_path_join(dir, names[i]);
        if (!p) {
            st = RT_ERR_NOMEM;
            break;
        }
        int fst = RT_OK;
        if (rt_is_dir(p))
            fst = ingest_dir(k, p, depth + 1, w);
        else if (rt_is_file(p))
            fst = ingest_file(k, p);
        else {
            rt_log_warn("%s: not a regular file or directory (or a broken link); skipped", p);
            stats->files_skipped++;
        }
        if (fst == RT_ERR_NOMEM || fst == RT_ERR_CANCELLED) st = fst; /* others: logged, counted */
        free(p);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

/* Progress in documents done (total unknown), for directory, file and stream ingests. */
static void call_begin(ingest_call *k, rt_collection *c, const rt_run_callbacks *callbacks,
                       rt_ingest_stats *stats) {
    k->c = c;
    k->stats = stats;
    rt_progress_begin_with(&k->progress, callbacks, "ingest", "docs", 0);
}

static void call_end(ingest_call *k) {
    if (k->progress.done) rt_progress_end(&k->progress, NULL);
}

int rt_collection_ingest_path(rt_collection *c, const char *path,
                              const rt_run_callbacks *callbacks, rt_ingest_stats *stats) {
    rt_ingest_stats local;
    if (!stats) {
        memset(&local, 0, sizeof local);
        stats = &local;
    }
    if (!path || !*path) return rt_error(RT_ERR_INVALID, "ingest: empty path");
    /* A document is named by its canonical path: the same file spelled relative, absolute or
     * through a symbolic link is one document. */
    struct stat ps;
    if (stat(path, &ps) != 0)
        return rt_error(RT_ERR_NOT_FOUND, "%s: no such file or directory", path);
    if (!S_ISDIR(ps.st_mode) && !S_ISREG(ps.st_mode))
        return rt_error(RT_ERR_INVALID,
                        "%s: not a regular file or directory (to read a pipe, use --stdin FORMAT)",
                        path);
    char *canon = realpath(path, NULL);
    if (!canon) return rt_error(RT_ERR_IO, "%s: cannot resolve the path", path);
    int st;
    ingest_call k;
    if (rt_is_dir(canon)) {
        dir_walk w = {0};
        call_begin(&k, c, callbacks, stats);
        st = ingest_dir(&k, canon, 0, &w);
        call_end(&k);
        free(w.seen);
    } else if (rt_format_from_path(canon) == RT_FORMAT_UNKNOWN) {
        st = rt_error(RT_ERR_INVALID, "%s: unknown format (use .txt, .md, .html or .jsonl)",
                      path);
    } else {
        call_begin(&k, c, callbacks, stats);
        st = ingest_file(&k, canon);
        call_end(&k);
    }
    free(canon);
    return st;
}

int rt_collection_ingest_stream(rt_collection *c, FILE *fp, const char *format, const char *name,
                                const rt_run_callbacks *callbacks, rt_ingest_stats *stats) {
    rt_ingest_stats local;
    if (!stats) {
        memset(&local, 0, sizeof local);
        stats = &local;
    }
    rt_doc_format fmt = rt_format_from_name(format);
    if (fmt == RT_FORMAT_UNKNOWN)
        return rt_error(RT_ERR_INVALID, "ingest: unknown format '%s'", format ? format : "");
    if (!name || !*name) name = "stdin";
    size_t cap = 0, n = 0;
    char *buf = NULL;
    for (;;) {
        if (n == cap) {
            int g = cap >= MAX_FILE_BYTES
                        ? rt_error(RT_ERR_RANGE, "%s: input larger than %zu bytes", name,
                                   MAX_FILE_BYTES)
                        : RT_GROW(buf, cap, n + (1 << 16));
            if (g < 0) {
                free(buf);
                return g;
            }
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    ingest_call k;
    call_begin(&k, c, callbacks, stats);
    int st = ferror(fp) ? rt_error(RT_ERR_IO, "%s: read error", name)
                        : ingest_buffer(&k, buf, n, fmt, name, NULL);
    call_end(&k);
    free(buf);
    return st;
}
