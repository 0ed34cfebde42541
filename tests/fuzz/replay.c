/*
 * replay.c — runs a libFuzzer target over every file of a corpus directory (and over a few
 * generated mutations of each), so the corpus replays as an ordinary test under ASan/UBSan.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    size_t n = fread(buf, 1, (size_t)len, fp);
    fclose(fp);
    LLVMFuzzerTestOneInput(buf, n);
    /* Deterministic mutations: every truncation length on a coarse grid, and byte flips. */
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t cut = 0; cut < n; cut += n / 64 + 1)
        LLVMFuzzerTestOneInput(buf, cut);
    for (int round = 0; round < 200 && n > 0; round++) {
        uint8_t *m = malloc(n);
        memcpy(m, buf, n);
        for (int k = 0; k < 4; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(seed >> 33) % n;
            m[pos] = (uint8_t)(seed >> 17);
        }
        LLVMFuzzerTestOneInput(m, n);
        free(m);
    }
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "%s: no corpus directory\n", argv[1]);
        return 1;
    }
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) count += run_file(path);
    }
    closedir(d);
    printf("replayed %d corpus files (with mutations)\n", count);
    return count > 0 ? 0 : 1;
}
