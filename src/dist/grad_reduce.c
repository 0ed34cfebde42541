/*
 * grad_reduce.c — the bucketed gradient all-reduce that overlaps the backward pass (see
 * grad_reduce.h): buckets fixed at creation, started top down with MPI_Iallreduce as backward
 * reports them final, waited for at finish.
 */
#include "dist/grad_reduce.h"

#include "core/error.h"
#include "dist/comm.h"

#include <limits.h>
#include <stdlib.h>

#ifdef RT_HAVE_MPI
#include <mpi.h>
#endif

typedef struct bucket {
    size_t lo, hi; /* grad[lo, hi) */
} bucket;

struct dist_grad_reduce {
    float *grad;
    size_t n;
    size_t bucket_floats; /* 0: one blocking all-reduce at finish */
    bucket *buckets;      /* in start order: lo descending */
    int n_buckets;
    int next;   /* buckets [0, next) are started */
    int status; /* the first MPI failure since the last finish */
#ifdef RT_HAVE_MPI
    MPI_Request *reqs; /* (n_buckets) */
#endif
};

int dist_bucket_floats_from_env(size_t *floats) {
    double mb = DIST_BUCKET_DEFAULT_MB;
    const char *v = getenv(DIST_BUCKET_ENV);
    if (v && *v) {
        char *end;
        mb = strtod(v, &end);
        if (*end || !(mb >= 0.0 && mb <= 1024.0))
            return rt_error(RT_ERR_INVALID,
                            "%s=%s: expected the all-reduce bucket size in MiB, a number from 0 "
                            "(one all-reduce after the backward pass) to 1024",
                            DIST_BUCKET_ENV, v);
    }
    double f = mb * (double)(1 << 20) / (double)sizeof(float);
    *floats = mb > 0.0 && f < 1.0 ? 1 : (size_t)f;
    return RT_OK;
}

/* Adds [lo, hi) to the start order, in pieces MPI's int count can carry, top piece first. */
static int add_buckets(dist_grad_reduce *r, size_t *cap, size_t lo, size_t hi) {
    while (hi > lo) {
        size_t piece_lo = hi - lo > (size_t)INT_MAX ? hi - (size_t)INT_MAX : lo;
        RT_TRY(RT_GROW(r->buckets, *cap, (size_t)r->n_buckets + 1));
        r->buckets[r->n_buckets++] = (bucket){piece_lo, hi};
        hi = piece_lo;
    }
    return RT_OK;
}

/* Walks the pieces top down and cuts a bucket at the first piece bound where it holds at least
 * bucket_floats (or at the bottom). */
static int make_buckets(dist_grad_reduce *r, const size_t *bounds, int n_bounds) {
    size_t cap = 0, hi = r->n;
    for (int i = n_bounds; i >= 0; i--) {
        size_t lo = i > 0 ? bounds[i - 1] : 0;
        if (i > 0 && hi - lo < r->bucket_floats) continue;
        RT_TRY(add_buckets(r, &cap, lo, hi));
        hi = lo;
    }
    return RT_OK;
}

int dist_grad_reduce_new(float *grad, size_t n, const size_t *bounds, int n_bounds,
                         size_t bucket_floats, dist_grad_reduce **out) {
    *out = NULL;
    for (int i = 0; i < n_bounds; i++)
        if (bounds[i] > n || (i > 0 && bounds[i] < bounds[i - 1]))
            return rt_error(RT_ERR_INVALID, "gradient bound %d (%zu) not ascending within %zu",
                            i, bounds[i], n);
    dist_grad_reduce *r = rt_calloc(1, sizeof *r);
    if (!r) return RT_ERR_NOMEM;
    r->grad = grad;
    r->n = n;
    r->bucket_floats = bucket_floats;
    int st = bucket_floats ? make_buckets(r, bounds, n_bounds) : RT_OK;
    if (st == RT_OK && !bucket_floats) r->n_buckets = 1; /* the whole buffer, at finish */
#ifdef RT_HAVE_MPI
    if (st == RT_OK && bucket_floats && r->n_buckets) {
        r->reqs = rt_malloc((size_t)r->n_buckets * sizeof *r->reqs);
        if (!r->reqs) st = RT_ERR_NOMEM;
        for (int i = 0; r->reqs && i < r->n_buckets; i++)
            r->reqs[i] = MPI_REQUEST_NULL;
    }
#endif
    if (st < 0) {
        dist_grad_reduce_free(r);
        return st;
    }
    *out = r;
    return RT_OK;
}

void dist_grad_reduce_free(dist_grad_reduce *r) {
    if (!r) return;
#ifdef RT_HAVE_MPI
    free(r->reqs);
#endif
    free(r->buckets);
    free(r);
}

int dist_grad_reduce_buckets(const dist_grad_reduce *r) {
    return r->n_buckets;
}

#ifdef RT_HAVE_MPI
static void mpi_failed(dist_grad_reduce *r) {
    if (r->status == RT_OK)
        r->status = rt_error(RT_ERR_INTERNAL, "MPI gradient all-reduce failed on rank %d of %d",
                             rt_dist_rank(), rt_dist_size());
}
#endif

void dist_grad_reduce_ready(dist_grad_reduce *r, size_t from) {
#ifdef RT_HAVE_MPI
    if (!dist_active() || !r->bucket_floats) return;
    while (r->next < r->n_buckets && r->buckets[r->next].lo >= from) {
        const bucket *b = &r->buckets[r->next];
        if (MPI_Iallreduce(MPI_IN_PLACE, r->grad + b->lo, (int)(b->hi - b->lo), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD, &r->reqs[r->next]) != MPI_SUCCESS)
            mpi_failed(r);
        r->next++;
    }
    /* let the library move the buckets in flight along (it does only inside MPI calls) */
    int done = 0;
    if (r->next > 0) MPI_Testall(r->next, r->reqs, &done, MPI_STATUSES_IGNORE);
#else
    (void)r, (void)from;
#endif
}

int dist_grad_reduce_finish(dist_grad_reduce *r) {
    if (!dist_active()) return RT_OK;
    if (!r->bucket_floats) return dist_allreduce_f32(r->grad, r->n);
#ifdef RT_HAVE_MPI
    dist_grad_reduce_ready(r, 0);
    if (MPI_Waitall(r->next, r->reqs, MPI_STATUSES_IGNORE) != MPI_SUCCESS) mpi_failed(r);
#endif
    int st = r->status;
    r->next = 0;
    r->status = RT_OK;
    return st;
}
