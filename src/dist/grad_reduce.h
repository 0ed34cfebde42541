/*
 * grad_reduce.h — the gradient all-reduce of a data-parallel training step, in buckets that start
 * while the backward pass is still running.
 *
 * Backward finishes gradients from the last layer to the first; the gradient buffer is laid out
 * layer after layer (train/tmodel.h: grad_bounds). The buckets are fixed once, from those layer
 * bounds and a size: walking down from the top of the buffer, whole layers are added to a bucket
 * until it holds at least the bucket size (a layer is never split, except above MPI's int count).
 * As backward reports that everything above an offset is final (dist_grad_reduce_ready), every
 * bucket inside that part starts a non-blocking sum (MPI_Iallreduce); dist_grad_reduce_finish
 * starts the buckets not yet started and waits for all. Every rank holds the same buckets and
 * starts them in the same order (top down), whether or not its backward ran (a rank whose
 * micro-batch had no targets, or that failed, starts them all at finish), which is MPI's rule for
 * collectives.
 *
 * Bucket size 0 keeps one blocking all-reduce of the whole buffer after backward
 * (dist_allreduce_f32). The element-wise sums are the same either way with 2 processes (a sum of
 * two floats does not depend on their order); with more, MPI chooses the summation order per
 * message size and algorithm, so sums may differ in the last bit (docs/scaling.md).
 *
 * Progress: Open MPI advances non-blocking collectives only inside MPI calls, so each
 * dist_grad_reduce_ready also tests the outstanding buckets; between two layers the transfer
 * stands still unless the MPI library has a progress thread.
 *
 * Not here: what the gradient is (train/tmodel.h), when a step runs (train/trainer.c).
 */
#ifndef RT_DIST_GRAD_REDUCE_H
#define RT_DIST_GRAD_REDUCE_H

#include <stddef.h>

/* The environment variable that sets the bucket size in MiB (a decimal number, 0 = one
 * all-reduce after backward). */
#define DIST_BUCKET_ENV "RT_ALLREDUCE_BUCKET_MB"
/* The bucket size without it: 4 MiB. */
#define DIST_BUCKET_DEFAULT_MB 4.0

/* The bucket size in floats from DIST_BUCKET_ENV (the default when unset). RT_OK, or
 * RT_ERR_INVALID naming the variable when its value is not a number from 0 to 1024. */
int dist_bucket_floats_from_env(size_t *floats);

typedef struct dist_grad_reduce dist_grad_reduce;

/* Buckets over grad (n floats, not owned; it must outlive the object) with the piece bounds
 * bounds (n_bounds ascending offsets, each <= n, where backward finishes a piece) and
 * bucket_floats (0: one all-reduce at finish). *out: free with dist_grad_reduce_free. RT_OK,
 * RT_ERR_NOMEM, RT_ERR_INVALID (bounds not ascending or beyond n). */
int dist_grad_reduce_new(float *grad, size_t n, const size_t *bounds, int n_bounds,
                         size_t bucket_floats, dist_grad_reduce **out);
void dist_grad_reduce_free(dist_grad_reduce *r);

/* The number of buckets (1 with bucket size 0). */
int dist_grad_reduce_buckets(const dist_grad_reduce *r);

/* Backward: grad[from, n) holds its final values. Starts the buckets that lie inside it and
 * advances those in flight. An MPI failure is kept and returned by finish. */
void dist_grad_reduce_ready(dist_grad_reduce *r, size_t from);

/* Starts the buckets not yet started and waits for all: grad holds the sum over processes.
 * Ready for the next step afterwards. RT_OK or RT_ERR_INTERNAL (MPI failed). One process: RT_OK,
 * grad unchanged. */
int dist_grad_reduce_finish(dist_grad_reduce *r);

#endif
