/*
 * collections.c — collection routes: create, list, get, delete; add and delete documents (all
 * of an upload or none); ragtune's search and OpenAI's vector-store search. Names are checked
 * by srv_name_valid before they touch the file system.
 *
 *   GET    /v1/collections                      list
 *   POST   /v1/collections                      {"name", "chunk_tokens"?} create
 *   GET    /v1/collections/{id}                 stats
 *   DELETE /v1/collections/{id}                 delete (directory removed)
 *   POST   /v1/collections/{id}/documents       {"id","text","metadata"?} or {"documents":[...]}
 *   DELETE /v1/collections/{id}/documents/{doc}
 *   POST   /v1/collections/{id}/search          {"query","k"?,"mode"?}
 *   POST   /v1/vector_stores/{id}/search        {"query","max_num_results"?} (OpenAI's shape)
 */
#define _XOPEN_SOURCE 700
#include "server/collections.h"
#include "server/context.h"
#include "server/request.h"

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct srv_coll {
    char name[72];
    rt_collection *c;    /* NULL once deleted */
    pthread_rwlock_t rw; /* shared: searches, stats; exclusive: writes, delete, close */
    int refs;            /* under srv_collections.mu */
    srv_collections *owner;
    srv_coll *next;
};

struct srv_collections {
    pthread_mutex_t mu;
    char *dir;
    srv_coll *open; /* collections currently open */
    const rt_embedder *embedder;
};

int srv_collections_open(srv *s) {
    srv_collections *cs = rt_calloc(1, sizeof *cs);
    if (!cs) return RT_ERR_NOMEM;
    pthread_mutex_init(&cs->mu, NULL);
    cs->dir = rt_path_join(s->params.data_dir, "collections");
    cs->embedder = s->has_embedder ? &s->embedder_safe : NULL;
    s->collections = cs;
    if (!cs->dir) return RT_ERR_NOMEM;
    return rt_mkdir_p(cs->dir);
}

void srv_collections_close(srv *s) {
    srv_collections *cs = s->collections;
    if (!cs) return;
    for (srv_coll *c = cs->open, *next; c; c = next) {
        next = c->next;
        if (c->c) rt_collection_close(c->c);
        pthread_rwlock_destroy(&c->rw);
        free(c);
    }
    free(cs->dir);
    pthread_mutex_destroy(&cs->mu);
    free(cs);
    s->collections = NULL;
}

static int open_handle(srv_collections *cs, const char *name, bool create, rt_collection **out) {
    char *path = rt_path_join(cs->dir, name);
    if (!path) return RT_ERR_NOMEM;
    if (!create && !rt_is_dir(path)) {
        free(path);
        return rt_error(RT_ERR_NOT_FOUND, "collection '%s' does not exist", name);
    }
    rt_collection_params cp = rt_collection_default_params();
    cp.create = create;
    cp.embedder = cs->embedder;
    cp.resident = true; /* a long-lived process: search the index in memory, not its mapping */
    int rc = rt_collection_open(path, &cp, out);
    free(path);
    return rc;
}

int srv_coll_get(srv *s, const char *name, bool create, srv_coll **out) {
    if (!srv_name_valid(name))
        return rt_error(RT_ERR_INVALID,
                        "invalid collection name '%.64s' (letters, digits, '_', "
                        "'-', '.'; at most 64; no '..')",
                        name ? name : "");
    srv_collections *cs = s->collections;
    pthread_mutex_lock(&cs->mu);
    srv_coll *c = cs->open;
    while (c && strcmp(c->name, name) != 0)
        c = c->next;
    if (!c) {
        rt_collection *h;
        int rc = open_handle(cs, name, create, &h);
        if (rc != RT_OK) {
            pthread_mutex_unlock(&cs->mu);
            return rc;
        }
        c = rt_calloc(1, sizeof *c);
        if (!c) {
            rt_collection_close(h);
            pthread_mutex_unlock(&cs->mu);
            return RT_ERR_NOMEM;
        }
        snprintf(c->name, sizeof c->name, "%s", name);
        c->c = h;
        c->owner = cs;
        pthread_rwlock_init(&c->rw, NULL);
        c->next = cs->open;
        cs->open = c;
    }
    c->refs++;
    pthread_mutex_unlock(&cs->mu);
    *out = c;
    return RT_OK;
}

void srv_coll_put(srv_coll *c) {
    srv_collections *cs = c->owner;
    pthread_mutex_lock(&cs->mu);
    c->refs--;
    bool gone = c->refs == 0 && c->c == NULL;
    if (gone) {
        srv_coll **pp = &cs->open;
        while (*pp && *pp != c)
            pp = &(*pp)->next;
        if (*pp) *pp = c->next;
    }
    pthread_mutex_unlock(&cs->mu);
    if (gone) {
        pthread_rwlock_destroy(&c->rw);
        free(c);
    }
}

rt_collection *srv_coll_lock(srv_coll *c) {
    pthread_rwlock_wrlock(&c->rw);
    if (!c->c) {
        pthread_rwlock_unlock(&c->rw);
        return NULL;
    }
    return c->c;
}

rt_collection *srv_coll_read(srv_coll *c) {
    pthread_rwlock_rdlock(&c->rw);
    if (!c->c) {
        pthread_rwlock_unlock(&c->rw);
        return NULL;
    }
    return c->c;
}

void srv_coll_unlock(srv_coll *c) {
    pthread_rwlock_unlock(&c->rw);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- route helpers ---- */

static int coll_error(srv_request *rq, int rc) {
    if (rc == RT_ERR_NOT_FOUND)
        return srv_respond_error(rq, 404, NULL, "not_found", "%s", rt_last_error());
    if (rc == RT_ERR_INVALID)
        return srv_respond_error(rq, 400, NULL, "invalid_request", "%s", rt_last_error());
    return srv_respond_error(rq, 500, NULL, NULL, "%s", rt_last_error());
}

static json_t *stats_object(const char *name, rt_collection *h) {
    rt_collection_stats st;
    if (rt_collection_stats_get(h, &st) != RT_OK) memset(&st, 0, sizeof st);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:s, s:{s:I, s:I}}", "id", name,
                     "object", "collection", "name", name, "documents", (json_int_t)st.documents,
                     "chunks", (json_int_t)st.chunks, "vectors", (json_int_t)st.vectors,
                     "usage_bytes", (json_int_t)st.disk_bytes, "dim", st.dim, "embedder",
                     st.embedder, "file_counts", "completed", (json_int_t)st.documents, "total",
                     (json_int_t)st.documents);
}

static int list_collections(srv *s, srv_request *rq) {
    json_t *data = json_array();
    DIR *d = opendir(s->collections->dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!srv_name_valid(e->d_name)) continue;
        srv_coll *c;
        if (srv_coll_get(s, e->d_name, false, &c) != RT_OK) continue;
        rt_collection *h = srv_coll_read(c);
        if (h) {
            json_array_append_new(data, stats_object(c->name, h));
            srv_coll_unlock(c);
        }
        srv_coll_put(c);
    }
    if (d) closedir(d);
    return srv_respond_json(rq, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static int create_collection(srv *s, srv_request *rq) {
    json_t *root;
    char msg[512];
    if (srv_json_object_parse(rq->body, rq->body_len, &root, msg, sizeof msg) != RT_OK)
        return srv_respond_error(rq, 400, NULL, "invalid_request", "%s", msg);
    json_t *name = json_object_get(root, "name");
    int ret;
    if (!json_is_string(name) || !srv_name_valid(json_string_value(name))) {
        ret = srv_respond_error(rq, 400, "name", "invalid_name",
                                "'name' must be a collection name (letters, digits, '_', '-', "
                                "'.'; at most 64 characters; no '..')");
        goto done;
    }
    char *path = rt_path_join(s->collections->dir, json_string_value(name));
    bool exists = path && rt_is_dir(path);
    free(path);
    if (exists) {
        ret = srv_respond_error(rq, 409, "name", "already_exists", "collection '%s' exists",
                                json_string_value(name));
        goto done;
    }
    srv_coll *c;
    int rc = srv_coll_get(s, json_string_value(name), true, &c);
    if (rc != RT_OK) {
        ret = coll_error(rq, rc);
        goto done;
    }
    rt_collection *h = srv_coll_lock(c);
    json_t *obj = h ? stats_object(c->name, h) : json_object();
    if (h) srv_coll_unlock(c);
    srv_coll_put(c);
    ret = srv_respond_json(rq, 200, obj);
done:
    json_decref(root);
    return ret;
}

static int delete_collection(srv *s, srv_request *rq, const char *name) {
    srv_coll *c;
    int rc = srv_coll_get(s, name, false, &c);
    if (rc != RT_OK) return coll_error(rq, rc);
    pthread_rwlock_wrlock(&c->rw); /* waits for requests using it */
    rt_collection *h = c->c;
    c->c = NULL;
    pthread_rwlock_unlock(&c->rw);
    if (h) rt_collection_close(h);
    char *path = rt_path_join(s->collections->dir, name);
    int err = path ? nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) : -1;
    free(path);
    srv_coll_put(c);
    if (err != 0)
        return srv_respond_error(rq, 500, NULL, NULL, "could not remove collection '%s'", name);
    return srv_respond_json(
        rq, 200,
        json_pack("{s:s, s:s, s:b}", "id", name, "object", "collection.deleted", "deleted", 1));
}

/* One document of an upload, checked before anything is written. */
static int check_document(json_t *d, size_t i, char *msg, size_t cap) {
    json_t *id = json_object_get(d, "id"), *text = json_object_get(d, "text");
    json_t *meta = json_object_get(d, "metadata");
    if (!json_is_object(d)) return snprintf(msg, cap, "documents[%zu] must be an object", i), -1;
    if (id && !(json_is_string(id) && json_string_length(id) > 0 && json_string_length(id) <= 512))
        return snprintf(msg, cap, "documents[%zu].id must be a string of 1..512 bytes", i), -1;
    if (!json_is_string(text) || json_string_length(text) == 0)
        return snprintf(msg, cap, "documents[%zu].text must be a non-empty string", i), -1;
    if (meta && !json_is_null(meta) && !json_is_object(meta))
        return snprintf(msg, cap, "documents[%zu].metadata must be an object", i), -1;
    return 0;
}

static int add_documents(srv *s, srv_request *rq, const char *name) {
    json_t *root;
    char msg[512];
    if (srv_json_object_parse(rq->body, rq->body_len, &root, msg, sizeof msg) != RT_OK)
        return srv_respond_error(rq, 400, NULL, "invalid_request", "%s", msg);
    json_t *docs = json_object_get(root, "documents");
    json_t *single = NULL;
    if (!docs) {
        single = json_pack("[O]", root);
        docs = single;
    }
    int ret;
    size_t n = json_is_array(docs) ? json_array_size(docs) : 0;
    if (n == 0 || n > 10000) {
        ret = srv_respond_error(rq, 400, "documents", "invalid_request",
                                "'documents' must be an array of 1..10000 documents");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (check_document(json_array_get(docs, i), i, msg, sizeof msg) != 0) {
            ret = srv_respond_error(rq, 400, "documents", "invalid_request", "%s", msg);
            goto done;
        }
    srv_coll *c;
    int rc = srv_coll_get(s, name, false, &c);
    if (rc != RT_OK) {
        ret = coll_error(rq, rc);
        goto done;
    }
    rt_collection *h = srv_coll_lock(c);
    if (!h) {
        srv_coll_put(c);
        ret = srv_respond_error(rq, 404, NULL, "not_found", "collection '%s' was deleted", name);
        goto done;
    }
    rt_ingest_stats st;
    memset(&st, 0, sizeof st);
    size_t i;
    rc = RT_OK;
    /* ids of documents this upload added, removed again if a later one fails */
    const char **added = calloc(n, sizeof *added);
    size_t n_added = 0;
    for (i = 0; i < n && rc == RT_OK && added; i++) {
        json_t *d = json_array_get(docs, i);
        json_t *meta = json_object_get(d, "metadata");
        char *meta_text = json_is_object(meta) ? json_dumps(meta, JSON_COMPACT) : NULL;
        json_t *id = json_object_get(d, "id");
        rt_document doc = {.id = json_is_string(id) ? json_string_value(id) : NULL,
                           .path = NULL,
                           .text = json_string_value(json_object_get(d, "text")),
                           .len = json_string_length(json_object_get(d, "text")),
                           .metadata_json = meta_text};
        uint64_t before = st.docs_added;
        rc = rt_collection_ingest_document(h, &doc, &st);
        if (rc == RT_OK && st.docs_added > before && doc.id) added[n_added++] = doc.id;
        free(meta_text);
    }
    if (rc != RT_OK || !added) {
        char why[512];
        snprintf(why, sizeof why, "%s", added ? rt_last_error() : "out of memory");
        for (size_t k = 0; k < n_added; k++)
            rt_collection_delete(h, added[k], NULL);
        srv_coll_unlock(c);
        srv_coll_put(c);
        free(added);
        ret = srv_respond_error(rq, 400, "documents", "ingest_failed",
                                "documents[%zu]: %s (nothing from this upload was kept)",
                                i ? i - 1 : 0, why);
        goto done;
    }
    free(added);
    json_t *obj = stats_object(c->name, h);
    srv_coll_unlock(c);
    srv_coll_put(c);
    json_object_set_new(obj, "ingest",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "added", (json_int_t)st.docs_added,
                                  "replaced", (json_int_t)st.docs_replaced, "unchanged",
                                  (json_int_t)st.docs_unchanged, "duplicate",
                                  (json_int_t)st.docs_duplicate, "chunks_added",
                                  (json_int_t)st.chunks_added));
    ret = srv_respond_json(rq, 200, obj);
done:
    json_decref(single);
    json_decref(root);
    return ret;
}

static int delete_document(srv *s, srv_request *rq, const char *name, const char *doc) {
    srv_coll *c;
    int rc = srv_coll_get(s, name, false, &c);
    if (rc != RT_OK) return coll_error(rq, rc);
    rt_collection *h = srv_coll_lock(c);
    uint64_t n = 0;
    rc = h ? rt_collection_delete(h, doc, &n) : RT_ERR_NOT_FOUND;
    if (h) srv_coll_unlock(c);
    srv_coll_put(c);
    if (rc == RT_ERR_NOT_FOUND)
        return srv_respond_error(rq, 404, NULL, "not_found", "no document '%s' in '%s'", doc, name);
    if (rc != RT_OK) return coll_error(rq, rc);
    return srv_respond_json(rq, 200,
                            json_pack("{s:s, s:s, s:b, s:I}", "id", doc, "object",
                                      "document.deleted", "deleted", 1, "count", (json_int_t)n));
}

static int search(srv *s, srv_request *rq, const char *name, bool openai) {
    json_t *root;
    char msg[512];
    if (srv_json_object_parse(rq->body, rq->body_len, &root, msg, sizeof msg) != RT_OK)
        return srv_respond_error(rq, 400, NULL, "invalid_request", "%s", msg);
    json_t *q = json_object_get(root, "query");
    if (json_is_array(q) && json_array_size(q) == 1) q = json_array_get(q, 0);
    int ret;
    rt_search_params sp = rt_search_default_params();
    sp.mode = s->has_embedder ? RT_SEARCH_HYBRID : RT_SEARCH_BM25;
    json_t *k = json_object_get(root, openai ? "max_num_results" : "k");
    json_t *mode = json_object_get(root, "mode");
    if (!json_is_string(q) || json_string_length(q) == 0) {
        ret = srv_respond_error(rq, 400, "query", "invalid_request",
                                "'query' must be a non-empty string");
        goto done;
    }
    if (k && (!json_is_integer(k) || json_integer_value(k) < 1 || json_integer_value(k) > 50)) {
        ret = srv_respond_error(rq, 400, openai ? "max_num_results" : "k", "invalid_request",
                                "the result count must be an integer in [1, 50]");
        goto done;
    }
    sp.k = k ? (int)json_integer_value(k) : 10;
    if (mode) {
        const char *m = json_is_string(mode) ? json_string_value(mode) : "";
        if (!strcmp(m, "bm25"))
            sp.mode = RT_SEARCH_BM25;
        else if (!strcmp(m, "dense") && s->has_embedder)
            sp.mode = RT_SEARCH_DENSE;
        else if (!strcmp(m, "hybrid") && s->has_embedder)
            sp.mode = RT_SEARCH_HYBRID;
        else {
            ret =
                srv_respond_error(rq, 400, "mode", "invalid_request", "'mode' must be bm25%s",
                                  s->has_embedder ? ", dense or hybrid" : " (no embedding model)");
            goto done;
        }
    }
    srv_coll *c;
    int rc = srv_coll_get(s, name, false, &c);
    if (rc != RT_OK) {
        ret = coll_error(rq, rc);
        goto done;
    }
    rt_collection *h = srv_coll_read(c); /* searches of one collection run at once */
    rt_search_results *res = NULL;
    rc = h ? rt_collection_search(h, json_string_value(q), &sp, &res) : RT_ERR_NOT_FOUND;
    if (h) srv_coll_unlock(c);
    srv_coll_put(c);
    if (rc != RT_OK) {
        ret = coll_error(rq, rc);
        goto done;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < res->n; i++) {
        rt_search_result *r = &res->items[i];
        json_t *text = json_string(r->text ? r->text : "");
        if (!text) text = json_string("");
        if (openai)
            json_array_append_new(data,
                                  json_pack("{s:s, s:s, s:f, s:{}, s:[{s:s, s:o}]}", "file_id",
                                            r->doc_id, "filename", r->path ? r->path : r->doc_id,
                                            "score", (double)r->score, "attributes", "content",
                                            "type", "text", "text", text));
        else
            json_array_append_new(
                data, json_pack("{s:s, s:I, s:f, s:f, s:f, s:o, s:s?, s:I, s:I}", "doc_id",
                                r->doc_id, "chunk_id", (json_int_t)r->chunk_id, "score",
                                (double)r->score, "bm25_score", (double)r->bm25_score,
                                "dense_score", (double)r->dense_score, "text", text, "path",
                                r->path, "start", (json_int_t)r->start, "end", (json_int_t)r->end));
    }
    rt_search_results_free(res);
    if (openai)
        ret = srv_respond_json(rq, 200,
                               json_pack("{s:s, s:O, s:o, s:b, s:n}", "object",
                                         "vector_store.search_results.page", "search_query", q,
                                         "data", data, "has_more", 0, "next_page"));
    else
        ret = srv_respond_json(rq, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
done:
    json_decref(root);
    return ret;
}

int srv_route_collections(srv *s, srv_request *rq) {
    bool vs = strncmp(rq->path, "/v1/vector_stores/", 18) == 0;
    const char *rest = rq->path + (vs ? 18 : strlen("/v1/collections"));
    bool post = !strcmp(rq->method, "POST"), get = !strcmp(rq->method, "GET"),
         del = !strcmp(rq->method, "DELETE");
    if (!vs && *rest == 0) {
        if (get) return list_collections(s, rq);
        if (post) return create_collection(s, rq);
        return srv_respond_error(rq, 405, NULL, "method_not_allowed", "use GET or POST");
    }
    if (!vs) rest++; /* the '/' */
    char name[80];
    size_t n = strcspn(rest, "/");
    if (n == 0 || n >= sizeof name || (memcpy(name, rest, n), name[n] = 0, !srv_name_valid(name)))
        return srv_respond_error(rq, 400, "collection", "invalid_name",
                                 "invalid collection name in the path");
    const char *sub = rest + n;
    if (vs) {
        if (post && !strcmp(sub, "/search")) return search(s, rq, name, true);
        return srv_respond_error(rq, 404, NULL, "not_found", "no route for %s %s", rq->method,
                                 rq->path);
    }
    if (*sub == 0) {
        if (del) return delete_collection(s, rq, name);
        if (get) {
            srv_coll *c;
            int rc = srv_coll_get(s, name, false, &c);
            if (rc != RT_OK) return coll_error(rq, rc);
            rt_collection *h = srv_coll_read(c);
            json_t *obj = h ? stats_object(name, h) : NULL;
            if (h) srv_coll_unlock(c);
            srv_coll_put(c);
            if (!obj) return srv_respond_error(rq, 404, NULL, "not_found", "deleted");
            return srv_respond_json(rq, 200, obj);
        }
    } else if (!strcmp(sub, "/documents") && post) {
        return add_documents(s, rq, name);
    } else if (!strncmp(sub, "/documents/", 11) && sub[11] && del) {
        return delete_document(s, rq, name, sub + 11);
    } else if (!strcmp(sub, "/search") && post) {
        return search(s, rq, name, false);
    }
    return srv_respond_error(rq, 404, NULL, "not_found", "no route for %s %s", rq->method,
                             rq->path);
}
