/*
 * fuzz_server_request.c — libFuzzer target for the server's request-body parser
 * (src/server/request.c): every input is parsed as a chat request and as a completion
 * request; a rejection must come with a message, an acceptance with consistent fields.
 */
#include "server/request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int chat = 0; chat < 2; chat++) {
        srv_gen_request r;
        char msg[256];
        const char *param = NULL;
        msg[0] = 0;
        if (srv_gen_request_parse((const char *)data, size, chat, &r, msg, sizeof msg, &param) ==
            0) {
            if (chat && (r.n_messages == 0 || !r.messages)) abort();
            if (!chat && !r.prompt) abort();
            for (size_t i = 0; i < r.n_messages; i++)
                if (!r.messages[i].role || !r.messages[i].content) abort();
            if (r.n < 1 || r.n > SRV_MAX_N || r.n_stop > SRV_MAX_STOP) abort();
            srv_gen_request_free(&r);
        } else if (msg[0] == 0) {
            abort();
        }
    }
    return 0;
}
