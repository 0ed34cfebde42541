/*
 * team.h — a light fork/join team for the small parallel loops a decode step runs many times
 * (~30 weight products and the attention of each layer, 10-300 us each). An OpenMP parallel
 * region costs ~4 us to open and close on this class of machine (two vCPUs whose cache-line
 * round trip is ~0.6-0.75 us; libgomp's fork and join touch several lines), a tenth of a small
 * product; a team run is one line written by the caller and one counter written back by each
 * helper: ~0.9 us. Its helpers spin ~50 us for the next run, then sleep (a futex), so a machine
 * shared with other work gets its cores back between bursts, as with ragtune's OpenMP setting
 * (rt_runtime_setup).
 *
 * The caller is thread 0 of the run. Helper threads are started at the first run and sized to
 * rt_get_threads(). Inside an OpenMP parallel region, or while another thread's run holds the
 * team, a run goes to an OpenMP region instead (one thread when nested): fn must do its whole
 * job with any number of threads, which a loop over core/steal.h's ranges does.
 */
#ifndef RT_CORE_TEAM_H
#define RT_CORE_TEAM_H

/* fn(arg, thread, n_threads) on each thread of the run, thread in 0 .. n_threads - 1. */
typedef void (*rt_team_fn)(void *arg, int thread, int n_threads);

/* Runs fn on min(n_threads, rt_get_threads()) threads (at least 1) and returns when every one
 * has returned. Writes made by fn on any thread are visible to the caller afterwards. */
void rt_team_run(int n_threads, rt_team_fn fn, void *arg);

/* fn(arg, thread, lo, hi) over disjoint ranges that together cover [0, n) exactly once, on
 * min(n_threads, rt_get_threads()) threads of a run: each thread first takes its own contiguous
 * part from the front, then steals from the back of the others' (core/steal.h), in claims of at
 * least grain items; thread (0 .. n_threads - 1) is the calling thread's index in the run (for
 * per-thread scratch). n_threads <= 1 or n <= grain: fn(arg, 0, 0, n) on the caller. */
typedef void (*rt_team_range_fn)(void *arg, int thread, int lo, int hi);
void rt_team_for(int n, int grain, int n_threads, rt_team_range_fn fn, void *arg);

#endif
