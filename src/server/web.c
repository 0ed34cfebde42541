/*
 * web.c — serves the one static web page (src/server/web/index.html, compiled into the binary
 * by src/server/web/embed.cmake). The page talks to the same API as any client.
 */
#include "server/context.h"

#include <stddef.h>

extern const unsigned char srv_web_page[];
extern const size_t srv_web_page_len;

int srv_route_web(srv *s, srv_request *rq) {
    (void)s;
    srv_add_header(rq, "Content-Security-Policy",
                   "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                   "script-src 'self' 'unsafe-inline'");
    return srv_respond_bytes(rq, 200, "text/html; charset=utf-8", srv_web_page, srv_web_page_len);
}
