/*
 * prompt.h — the reader prompt (declared in ragtune.h: rt_rag_prompt_render,
 * rt_rag_completion_render, rt_rag_stop_strings). One format for `ask`, RAFT training data and
 * the default reader's recipe. The instructions are the prompt's fixed prefix, so a session's
 * prefix cache holds them across questions.
 */
#ifndef RT_RAG_PROMPT_H
#define RT_RAG_PROMPT_H

#include "ragtune.h"

/* The built-in instructions (the fixed prefix of every reader prompt). */
extern const char rt_rag_instructions[];

#endif
