# embed.cmake — turns the web page (IN) into a C source (OUT) defining srv_web_page and
# srv_web_page_len, so the server binary carries its page (no xxd, no build step for the page).
# Run as: cmake -DIN=index.html -DOUT=web_page.c -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n_hex)
math(EXPR n_bytes "${n_hex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}" "/* generated from src/server/web/index.html by embed.cmake; do not edit */\n#include <stddef.h>\nconst unsigned char srv_web_page[] = {\n${bytes}0x00};\nconst size_t srv_web_page_len = ${n_bytes};\n")
