/*
 * comm.h — the process group of a scale-out run: rank and size, and the collectives the
 * data-parallel trainer and sharded search need (sum all-reduce in buckets, broadcast,
 * all-gather, agreement on an error status).
 *
 * Built with MPI (CMake found it: RT_HAVE_MPI), the group is MPI_COMM_WORLD once rt_dist_init()
 * ran under a launcher (mpirun); otherwise, and always without MPI, it is one process (rank 0,
 * size 1) and every collective is a copy or nothing, so callers need no #ifdefs.
 *
 * Every collective must be called by every rank in the same order (MPI's rule). A rank that
 * fails between two collectives still calls the next ones; dist_agree() is where ranks learn of
 * each other's failures and stop together instead of one waiting forever.
 *
 * Not here: what is reduced (train/trainer.c, knowledge/shard.c).
 */
#ifndef RT_DIST_COMM_H
#define RT_DIST_COMM_H

#include "ragtune.h"

#include <stddef.h>
#include <stdint.h>

/* Floats per all-reduce call of dist_allreduce_f32 (4 MiB): large enough to reach the link's
 * bandwidth, small enough that MPI's temporary buffers stay small. */
#define DIST_BUCKET_FLOATS ((size_t)1 << 20)

/* True when the group has more than one process. */
bool dist_active(void);

/* In-place sums over all ranks: buf (n) on every rank becomes the element-wise sum. The f32
 * version goes in buckets of DIST_BUCKET_FLOATS. RT_OK or RT_ERR_INTERNAL (MPI failed). */
int dist_allreduce_f32(float *buf, size_t n);
int dist_allreduce_f64(double *buf, size_t n);
int dist_allreduce_i64(int64_t *buf, size_t n);
/* In-place element-wise maximum over all ranks. */
int dist_allreduce_max_i64(int64_t *buf, size_t n);

/* Copies n bytes of root's buf into buf on every other rank. */
int dist_bcast(void *buf, size_t n, int root);

/* Every rank contributes n bytes (n may differ by rank); every rank receives the
 * concatenation in rank order in *out (malloc'd, caller frees) of *out_len bytes, and
 * offsets[r] (size + 1 entries, caller-provided) where rank r's part starts. */
int dist_allgather_bytes(const void *data, size_t n, char **out, size_t *out_len,
                         size_t *offsets);

/* Agreement on a status: returns the most severe (lowest) status of all ranks. A rank whose own
 * status was RT_OK but another's was not gets that rank's error and message, as "process R of
 * N: <message>" (the lowest status wins; between equal ones the lowest rank). The message
 * travels only when a rank failed: the agreement of ranks that all succeeded is one small
 * all-reduce. */
int dist_agree(int status);

#endif
