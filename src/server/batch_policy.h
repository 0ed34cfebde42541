/*
 * batch_policy.h — whether the server's slots decode batched or each alone, decided from the
 * tokens/s measured while serving. The batcher (batcher.h) counts the decode steps of every
 * sequence in windows of at least SRV_POLICY_WINDOW seconds and SRV_POLICY_MIN_TOKENS steps, one
 * mode per window (a window starts over whenever no sequence is decoding, so idle time is not
 * counted), and hands each finished window to srv_batch_policy_update, which says the mode of
 * the next one.
 *
 * The policy keeps a "home" mode and samples the other one for a single window when it has no
 * measurement of it at the current load (the mean number of sequences decoding differs by more
 * than SRV_POLICY_LOAD_RATIO from when it was measured) or when the home mode has been kept for
 * SRV_POLICY_RECHECK windows. It moves home only when the other mode was faster by more than
 * SRV_POLICY_MARGIN (hysteresis), comparing rates smoothed over the windows of similar load, so
 * the noise of one window does not flip it and a wrong start-up guess corrects itself within a
 * few windows. A window with fewer than SRV_POLICY_MIN_ACTIVE sequences decoding on average (or
 * fewer than SRV_POLICY_MIN_TOKENS steps) says nothing, as batching one sequence changes nothing:
 * the next window runs at home.
 *
 * A pure function of its inputs: no clock, no threads (tests feed it made-up windows). It does
 * not time anything itself and does not decide the start-up mode (srv_batcher_calibrate does).
 */
#ifndef RT_SERVER_BATCH_POLICY_H
#define RT_SERVER_BATCH_POLICY_H

#include <stdbool.h>

#define SRV_POLICY_WINDOW 0.25     /* seconds: a window lasts at least this long, */
#define SRV_POLICY_MIN_TOKENS 32   /* and has at least this many decode steps */
#define SRV_POLICY_MIN_ACTIVE 1.5  /* mean sequences decoding below this: says nothing */
#define SRV_POLICY_MARGIN 0.10     /* the other mode must be this much faster to move home */
#define SRV_POLICY_LOAD_RATIO 1.25 /* loads within this factor are comparable */
#define SRV_POLICY_RECHECK 20      /* windows kept at home before the other mode is sampled */

/* One measured window. */
typedef struct srv_batch_window {
    bool batched;       /* the mode it ran in */
    double seconds;     /* wall time (> 0) */
    double tokens;      /* decode steps of all sequences together */
    double mean_active; /* sequences decoding, averaged over its decode steps */
} srv_batch_window;

typedef struct srv_batch_policy {
    bool home;          /* the mode that measured faster (or the start-up guess) */
    bool batched;       /* the mode of the next window: home, or the other while sampling it */
    double rate[2];     /* tokens/s per mode ([0] alone, [1] batched), smoothed; 0: not measured */
    double load[2];     /* the mean_active at which rate[] was measured */
    int kept;           /* windows at home since the other mode was last sampled */
    unsigned n_switches; /* times home moved */
} srv_batch_policy;

/* Starts with home = batched (the start-up guess) and nothing measured. */
void srv_batch_policy_init(srv_batch_policy *p, bool batched);
/* Takes one finished window and returns the mode of the next one (also p->batched). */
bool srv_batch_policy_update(srv_batch_policy *p, const srv_batch_window *w);

#endif
