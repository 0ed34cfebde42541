/*
 * interrupt.h — Ctrl-C for long CLI commands: the first SIGINT/SIGTERM asks the running call to
 * stop (through rt_run_callbacks.should_cancel, so training ends after its current step with the
 * checkpoints it has written); a second one ends the process as usual.
 */
#ifndef RT_CLI_INTERRUPT_H
#define RT_CLI_INTERRUPT_H

#include "ragtune.h"

#include <stdbool.h>

/* Installs the handlers; returns callbacks whose should_cancel reports the first signal. */
rt_run_callbacks cli_interrupt_callbacks(void);

#endif
