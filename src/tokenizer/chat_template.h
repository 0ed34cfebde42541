/*
 * chat_template.h — recognising common Jinja chat templates and rendering them in C
 * (declared in ragtune.h: rt_chat_template_*). No Jinja interpreter: see chat_template.c.
 */
#ifndef RT_TOKENIZER_CHAT_TEMPLATE_H
#define RT_TOKENIZER_CHAT_TEMPLATE_H

#include "ragtune.h"

#endif
