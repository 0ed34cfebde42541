/*
 * qa_model.h — model-written questions for `qa generate --model`: a generation session (a
 * local model or an OpenAI-compatible server) reads a passage and writes one question and a
 * short answer; the pair is kept only when the answer is verified to occur in the passage
 * (SQuAD-normalized, on word boundaries), so a question whose answer the model made up or
 * paraphrased is dropped.
 */
#ifndef RT_EVAL_QA_MODEL_H
#define RT_EVAL_QA_MODEL_H

#include "ragtune.h"

/* Asks s (greedy, seeded) for a question and short answer about passage. *question and
 * *answer are malloc'd, or both NULL when the reply has no "Question:" and "Answer:" lines;
 * *reply (may be NULL) gets the raw reply (malloc'd). Chat messages when the session is
 * remote or its tokenizer has a chat template, else a raw prompt ending in "Question:". */
int rt_qa_model_ask(rt_session *s, const char *passage, uint64_t seed, char **question,
                    char **answer, char **reply);

/* true when the answer has 1 to 12 words after SQuAD normalization and occurs, normalized,
 * in the normalized passage on word boundaries. */
bool rt_qa_answer_in_evidence(const char *answer, const char *passage);

#endif
