/*
 * comm.c — the process group over MPI_COMM_WORLD, or one process when ragtune was built without
 * MPI or not launched by mpirun (see comm.h).
 *
 * MPI is initialized only when a launcher's environment is present (OMPI_COMM_WORLD_SIZE from
 * Open MPI's mpirun, PMI_SIZE / PMIX_RANK from other launchers): a plain `ragtune` run never
 * pays MPI's start-up or opens its sockets. Threads: MPI is called from the main thread only
 * (OpenMP works inside ranks), so MPI_THREAD_FUNNELED is enough.
 */
#include "dist/comm.h"

#include "core/error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RT_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1;
#ifdef RT_HAVE_MPI
static bool g_mpi_started = false; /* this library called MPI_Init (so it finalizes) */
#endif

bool rt_dist_has_mpi(void) {
#ifdef RT_HAVE_MPI
    return true;
#else
    return false;
#endif
}

bool rt_dist_launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int rt_dist_init(void) {
#ifdef RT_HAVE_MPI
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (!rt_dist_launched()) return RT_OK;
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return rt_error(RT_ERR_INTERNAL, "MPI_Init_thread failed (launched by mpirun?)");
        g_mpi_started = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    return RT_OK;
#else
    if (rt_dist_launched() && getenv("OMPI_COMM_WORLD_SIZE") &&
        strcmp(getenv("OMPI_COMM_WORLD_SIZE"), "1") != 0)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "launched by mpirun with %s processes, but this ragtune was built "
                        "without MPI (install libopenmpi-dev and rebuild)",
                        getenv("OMPI_COMM_WORLD_SIZE"));
    return RT_OK;
#endif
}

void rt_dist_finalize(void) {
#ifdef RT_HAVE_MPI
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (g_mpi_started && !finalized) MPI_Finalize();
    g_mpi_started = false;
#endif
    g_rank = 0;
    g_size = 1;
}

int rt_dist_rank(void) {
    return g_rank;
}

int rt_dist_size(void) {
    return g_size;
}

bool dist_active(void) {
    return g_size > 1;
}

#ifdef RT_HAVE_MPI
static int mpi_failed(const char *what) {
    return rt_error(RT_ERR_INTERNAL, "MPI %s failed on rank %d of %d", what, g_rank, g_size);
}
#endif

typedef enum reduce_kind { SUM_F32, SUM_F64, SUM_I64, MAX_I64 } reduce_kind;

/* In-place all-reduce of n elements; MPI counts are int, so it goes in pieces (the f32 sums in
 * buckets of DIST_BUCKET_FLOATS). */
static int reduce(void *buf, size_t n, reduce_kind kind) {
#ifdef RT_HAVE_MPI
    if (g_size == 1) return RT_OK;
    MPI_Datatype type = kind == SUM_F32 ? MPI_FLOAT : kind == SUM_F64 ? MPI_DOUBLE : MPI_INT64_T;
    MPI_Op op = kind == MAX_I64 ? MPI_MAX : MPI_SUM;
    size_t elem = kind == SUM_F32 ? sizeof(float) : 8;
    size_t chunk = kind == SUM_F32 ? DIST_BUCKET_FLOATS : INT_MAX;
    char *p = buf;
    for (size_t off = 0; off < n; off += chunk) {
        size_t c = n - off < chunk ? n - off : chunk;
        if (MPI_Allreduce(MPI_IN_PLACE, p + off * elem, (int)c, type, op, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return mpi_failed("all-reduce");
    }
#endif
    (void)buf, (void)n, (void)kind;
    return RT_OK;
}

int dist_allreduce_f32(float *buf, size_t n) {
    return reduce(buf, n, SUM_F32);
}

int dist_allreduce_f64(double *buf, size_t n) {
    return reduce(buf, n, SUM_F64);
}

int dist_allreduce_i64(int64_t *buf, size_t n) {
    return reduce(buf, n, SUM_I64);
}

int dist_allreduce_max_i64(int64_t *buf, size_t n) {
    return reduce(buf, n, MAX_I64);
}

int dist_bcast(void *buf, size_t n, int root) {
#ifdef RT_HAVE_MPI
    if (g_size > 1) {
        char *p = buf;
        for (size_t off = 0; off < n; off += INT_MAX) {
            size_t c = n - off < INT_MAX ? n - off : INT_MAX;
            if (MPI_Bcast(p + off, (int)c, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
                return mpi_failed("broadcast");
        }
    }
#endif
    (void)buf, (void)n, (void)root;
    return RT_OK;
}

int dist_allgather_bytes(const void *data, size_t n, char **out, size_t *out_len,
                         size_t *offsets) {
    *out = NULL;
    *out_len = 0;
    if (g_size == 1) {
        offsets[0] = 0;
        offsets[1] = n;
        *out = rt_malloc(n ? n : 1);
        if (!*out) return RT_ERR_NOMEM;
        if (n) memcpy(*out, data, n);
        *out_len = n;
        return RT_OK;
    }
#ifdef RT_HAVE_MPI
    if (n > INT_MAX) return rt_error(RT_ERR_RANGE, "all-gather of %zu bytes: over 2 GiB", n);
    int mine = (int)n;
    int *counts = rt_malloc((size_t)g_size * 2 * sizeof *counts);
    if (!counts) return RT_ERR_NOMEM;
    int *displs = counts + g_size;
    if (MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD) != MPI_SUCCESS) {
        free(counts);
        return mpi_failed("all-gather");
    }
    size_t total = 0;
    for (int r = 0; r < g_size; r++) {
        offsets[r] = total;
        displs[r] = (int)total;
        total += (size_t)counts[r];
        if (total > INT_MAX) {
            free(counts);
            return rt_error(RT_ERR_RANGE, "all-gather of %zu bytes: over 2 GiB", total);
        }
    }
    offsets[g_size] = total;
    char *buf = rt_malloc(total ? total : 1);
    if (!buf) {
        free(counts);
        return RT_ERR_NOMEM;
    }
    int st = MPI_Allgatherv(data, mine, MPI_BYTE, buf, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    free(counts);
    if (st != MPI_SUCCESS) {
        free(buf);
        return mpi_failed("all-gather");
    }
    *out = buf;
    *out_len = total;
    return RT_OK;
#else
    return rt_error(RT_ERR_INTERNAL, "all-gather over %d processes without MPI", g_size);
#endif
}

/* The error of worst_rank (status worst, message its own, or `message` there when not NULL) on
 * every rank: the failed rank's text, in a fixed-size broadcast (longer messages are cut). */
#ifdef RT_HAVE_MPI
static int spread_error(int status, int worst, int worst_rank, const char *message) {
    char text[1024]; /* as long as rt_last_error() keeps */
    text[0] = '\0';
    if (g_rank == worst_rank) snprintf(text, sizeof text, "%s", message ? message : rt_last_error());
    if (MPI_Bcast(text, (int)sizeof text, MPI_CHAR, worst_rank, MPI_COMM_WORLD) != MPI_SUCCESS)
        return mpi_failed("error broadcast");
    text[sizeof text - 1] = '\0';
    if (status < 0) return status; /* its own error stays this rank's message */
    return rt_error(worst, "process %d of %d: %s", worst_rank, g_size, text);
}
#endif

static int agree(int status, const char *message) {
#ifdef RT_HAVE_MPI
    if (g_size > 1) {
        struct {
            int status, rank;
        } in = {status < 0 ? status : 0, g_rank}, worst;
        if (MPI_Allreduce(&in, &worst, 1, MPI_2INT, MPI_MINLOC, MPI_COMM_WORLD) != MPI_SUCCESS)
            return mpi_failed("status agreement");
        if (worst.status < 0) return spread_error(status, worst.status, worst.rank, message);
        return status;
    }
#endif
    (void)message;
    return status;
}

int dist_agree(int status) {
    return agree(status, NULL);
}

int rt_dist_agree(int status, const char *message) {
    return agree(status, message);
}
