/*
 * interrupt.h — Ctrl-C for long CLI commands: the first SIGINT/SIGTERM asks the running call to
 * stop (through rt_run_callbacks.should_cancel: training ends after its current step and writes
 * a checkpoint of it, which --resume continues; ingest after the document in flight; compare
 * after the question or step in flight); a second one ends the process as usual. The signal flag
 * is the process's (signals are); what it cancels is the call it was handed to.
 */
#ifndef RT_CLI_INTERRUPT_H
#define RT_CLI_INTERRUPT_H

#include "ragtune.h"

#include <stdbool.h>

/* Installs the handlers; returns callbacks whose should_cancel reports the first signal. */
rt_run_callbacks cli_interrupt_callbacks(void);

#endif
