/*
 * batch_policy.c — the online choice between batched and alone decoding (see batch_policy.h).
 */
#include "server/batch_policy.h"

#include <string.h>

void srv_batch_policy_init(srv_batch_policy *p, bool batched) {
    memset(p, 0, sizeof *p);
    p->home = p->batched = batched;
}

/* Two loads (mean sequences decoding) close enough that their tokens/s can be compared. */
static bool same_load(double a, double b) {
    if (a <= 0 || b <= 0) return false;
    return a > b ? a <= SRV_POLICY_LOAD_RATIO * b : b <= SRV_POLICY_LOAD_RATIO * a;
}

bool srv_batch_policy_update(srv_batch_policy *p, const srv_batch_window *w) {
    if (!(w->seconds > 0) || w->tokens < SRV_POLICY_MIN_TOKENS ||
        w->mean_active < SRV_POLICY_MIN_ACTIVE)
        return p->batched = p->home; /* nothing learnt (a sample ends too) */
    int m = w->batched ? 1 : 0, o = 1 - m;
    double rate = w->tokens / w->seconds;
    if (p->rate[m] > 0 && same_load(p->load[m], w->mean_active)) {
        /* smooth over windows of the same load, so one noisy window weighs half */
        p->rate[m] = 0.5 * (p->rate[m] + rate);
        p->load[m] = 0.5 * (p->load[m] + w->mean_active);
    } else {
        p->rate[m] = rate;
        p->load[m] = w->mean_active;
    }
    bool other_known = p->rate[o] > 0 && same_load(p->load[o], w->mean_active);
    if (w->batched != p->home) {
        /* a sample of the other mode ended: move home only for a clear win at this load */
        if (other_known && p->rate[m] > p->rate[o] * (1 + SRV_POLICY_MARGIN)) {
            p->home = w->batched;
            p->n_switches++;
        }
        p->kept = 0;
        p->batched = p->home;
        return p->batched;
    }
    p->kept++;
    /* sample the other mode when it was never measured at this load (after two windows at
     * home, so a passing change of load does not make every other window a sample), when home
     * has slowed below what the other mode did, or now and then in case things changed */
    bool sample = (!other_known && p->kept >= 2) ||
                  (other_known && p->rate[o] > p->rate[m] * (1 + SRV_POLICY_MARGIN)) ||
                  p->kept >= SRV_POLICY_RECHECK;
    p->batched = sample ? !p->home : p->home;
    return p->batched;
}
