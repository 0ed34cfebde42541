/*
 * share.h — a list of independent items (questions to answer, say) shared round-robin over the
 * process group: which items this process takes, and the gathering of every item's result, in
 * the list's order, on every process, with the error of a process that failed.
 *
 * With one process (no mpirun, or -np 1) every item is this process's and the gathering only
 * checks the status, so callers need no special case. Every rank must call dist_gather_items
 * the same number of times with the same n (comm.h's rule); a rank that failed calls it too,
 * with its status, and every rank then returns that error.
 *
 * Not here: what an item's result holds (the caller packs it into bytes).
 */
#ifndef RT_DIST_SHARE_H
#define RT_DIST_SHARE_H

#include <stdbool.h>
#include <stddef.h>

/* True when this process takes item i (i mod size == rank: neighbouring items, which tend to
 * cost alike, go to different processes). */
bool dist_mine(size_t i);

/* Gathers the results of n items. On entry results[i] / lens[i] hold this rank's results
 * (malloc'd bytes, which this call takes over) for the items it took, NULL / 0 elsewhere;
 * status is RT_OK, or the error this rank stopped with (rt_last_error() its message). On
 * RT_OK every rank holds every item's result in results[i] / lens[i] (malloc'd, caller frees;
 * a taken item may have an empty result). When a rank failed, every rank frees what it holds
 * and returns the first failed rank's status with the message "process R of N: <its message>"
 * (that rank itself, and one process: status and message as they are). RT_ERR_INTERNAL when
 * MPI itself failed. */
int dist_gather_items(size_t n, char **results, size_t *lens, int status);

#endif
