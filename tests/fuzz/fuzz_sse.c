/*
 * fuzz_sse.c — libFuzzer target: the reply of a remote generation (rt_remote_parse_reply: the
 * Server-Sent Events parser and the mapping of OpenAI chunks / bodies to text, usage and finish
 * reason) on arbitrary bytes. The first byte picks event stream or JSON body and chat or
 * completions. An accepted reply must never contain the stop string and its text length must
 * match.
 */
#include "rag/remote.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    rt_session_request q = rt_session_default_request();
    rt_chat_message m = {"user", "q"};
    if (data[0] & 2) {
        q.messages = &m;
        q.n_messages = 1;
    } else {
        q.prompt = "p";
    }
    const char *stops[1] = {"END"};
    q.stop_strings = stops;
    q.n_stop_strings = 1;
    rt_session_result res;
    if (rt_remote_parse_reply((const char *)data + 1, size - 1, data[0] & 1, &q, &res) != RT_OK)
        return 0;
    if (!res.text || res.n_generated < 0 || res.n_prompt < 0) abort();
    for (size_t i = 0; i + 3 <= res.text_len; i++)
        if (!memcmp(res.text + i, "END", 3)) abort(); /* a stop string got through */
    rt_session_result_clear(&res);
    return 0;
}
