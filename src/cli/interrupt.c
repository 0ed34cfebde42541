/*
 * interrupt.c — see interrupt.h.
 */
#include "interrupt.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static bool should_cancel(void *user) {
    (void)user;
    return interrupted != 0;
}

rt_run_callbacks cli_interrupt_callbacks(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* the next signal ends the process */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rt_run_callbacks cb = {.should_cancel = should_cancel};
    return cb;
}
