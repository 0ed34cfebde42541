/*
 * raft.h — reader / RAFT training examples (declared in ragtune.h: rt_raft_build,
 * rt_raft_data_write). A question-answer item and its oracle document become one prompt in the
 * shared reader format (rag/prompt.c) with distractor passages around the oracle, and the
 * completion " answer [n]" (n = the oracle's position), or the abstain text when the oracle is
 * left out. The same function serves `ragtune raft-data`, the default reader's recipe and the
 * evaluation layer's RAFT strategy.
 */
#ifndef RT_RAG_RAFT_H
#define RT_RAG_RAFT_H

#include "ragtune.h"

#endif
