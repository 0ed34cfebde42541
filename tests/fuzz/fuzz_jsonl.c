/*
 * fuzz_jsonl.c — libFuzzer target for JSONL document records ({"id","text","metadata"}),
 * line by line as ingestion reads them.
 */
#include "knowledge/ingest.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    size_t i = 0, line = 0;
    while (i <= size) {
        const char *nl = i < size ? memchr(s + i, '\n', size - i) : NULL;
        size_t end = nl ? (size_t)(nl - s) : size;
        rt_jsonl_record r;
        if (rt_jsonl_parse_line(s + i, end - i, "fuzz", ++line, &r) == 0) rt_jsonl_record_free(&r);
        i = end + 1;
    }
    return 0;
}
