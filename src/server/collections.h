/*
 * collections.h — the server's collections: directories under <data_dir>/collections/<name>,
 * each opened once and shared by requests. Searches (and RAG answers, stats) of one collection
 * run at once (rt_collection_search is thread-safe); writes take the handle alone.
 */
#ifndef RT_SERVER_COLLECTIONS_H
#define RT_SERVER_COLLECTIONS_H

#include "ragtune.h"

#include <stdbool.h>

struct srv;
typedef struct srv_coll srv_coll;

/* A reference to the collection called name (opened on first use). RT_ERR_NOT_FOUND when it
 * does not exist and create is false; RT_ERR_INVALID for a bad name. Release with
 * srv_coll_put. */
int srv_coll_get(struct srv *s, const char *name, bool create, srv_coll **out);
void srv_coll_put(srv_coll *c);
/* Locks the handle for this thread's exclusive use (ingest, delete); NULL when the collection
 * was deleted meanwhile. */
rt_collection *srv_coll_lock(srv_coll *c);
/* The same, shared with other readers (search, stats, RAG). */
rt_collection *srv_coll_read(srv_coll *c);
void srv_coll_unlock(srv_coll *c);

#endif
