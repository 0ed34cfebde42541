/*
 * file.c — whole-file reads, read-only maps, crash-safe writes.
 */
#include "core/file.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int rt_file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len) {
    *out = NULL;
    if (out_len) *out_len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return rt_error(RT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return rt_error(RT_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(fp);
        return rt_error(RT_ERR_RANGE, "%s: file is %lld bytes, more than the limit of %zu", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *buf = rt_malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return RT_ERR_NOMEM;
    }
    size_t got = fread(buf, 1, n, fp);
    int err = ferror(fp);
    fclose(fp);
    if (got != n || err) {
        free(buf);
        return rt_error(RT_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = '\0';
    *out = buf;
    if (out_len) *out_len = n;
    return RT_OK;
}

int rt_mmap_open(const char *path, rt_mmap *out) {
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rt_error(RT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rt_error(RT_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return RT_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return rt_error(RT_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    out->data = p;
    out->size = (size_t)st.st_size;
    return RT_OK;
}

void rt_mmap_close(rt_mmap *m) {
    if (m->data) munmap(m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

int rt_atomic_file_open(rt_atomic_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->path = rt_strdup(path);
    size_t n = strlen(path) + 32;
    f->tmp_path = rt_malloc(n);
    if (!f->path || !f->tmp_path) {
        free(f->path);
        free(f->tmp_path);
        return RT_ERR_NOMEM;
    }
    snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        int e = errno;
        free(f->path);
        free(f->tmp_path);
        memset(f, 0, sizeof *f);
        return rt_error(RT_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(e));
    }
    return RT_OK;
}

static void fsync_parent_dir(const char *path) {
    char *copy = rt_strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int rt_atomic_file_commit(rt_atomic_file *f) {
    int status = RT_OK;
    if (fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0)
        status = rt_error(RT_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
    if (fclose(f->fp) != 0 && status == RT_OK)
        status = rt_error(RT_ERR_IO, "%s: close failed: %s", f->path, strerror(errno));
    f->fp = NULL;
    if (status == RT_OK && rename(f->tmp_path, f->path) != 0)
        status = rt_error(RT_ERR_IO, "%s: rename failed: %s", f->path, strerror(errno));
    if (status != RT_OK)
        unlink(f->tmp_path);
    else
        fsync_parent_dir(f->path);
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
    return status;
}

void rt_atomic_file_abort(rt_atomic_file *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp_path) unlink(f->tmp_path);
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
}

int rt_fwrite_all(FILE *fp, const void *data, size_t len, const char *path) {
    if (len && fwrite(data, 1, len, fp) != len)
        return rt_error(RT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return RT_OK;
}

int rt_file_write_atomic(const char *path, const void *data, size_t len) {
    rt_atomic_file f;
    RT_TRY(rt_atomic_file_open(&f, path));
    int status = rt_fwrite_all(f.fp, data, len, path);
    if (status != RT_OK) {
        rt_atomic_file_abort(&f);
        return status;
    }
    return rt_atomic_file_commit(&f);
}

int rt_mkdir_p(const char *path) {
    char *copy = rt_strdup(path);
    if (!copy) return RT_ERR_NOMEM;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            free(copy);
            return rt_error(RT_ERR_IO, "%s: cannot create directory: %s", path, strerror(e));
        }
        *p = '/';
    }
    if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
        int e = errno;
        free(copy);
        return rt_error(RT_ERR_IO, "%s: cannot create directory: %s", path, strerror(e));
    }
    free(copy);
    return RT_OK;
}

int rt_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int rt_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *rt_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = rt_malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int rt_file_copy(const char *from, const char *to) {
    char *data;
    size_t len;
    RT_TRY(rt_file_read_all(from, (size_t)1 << 30, &data, &len));
    int st = rt_file_write_atomic(to, data, len);
    free(data);
    return st;
}

bool rt_path_has_suffix(const char *path, const char *suffix) {
    size_t a = strlen(path), b = strlen(suffix);
    return a >= b && !strcmp(path + a - b, suffix);
}

/* ---- directory lock ---------------------------------------------------------------------- */

int rt_dir_lock(const char *dir, const char *what, int *fd) {
    *fd = -1;
    char *lock_path = rt_path_join(dir, "lock");
    if (!lock_path) return RT_ERR_NOMEM;
    int f = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int err = errno;
    free(lock_path);
    if (f < 0) return rt_error(RT_ERR_IO, "%s: cannot create the lock file: %s", dir, strerror(err));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        err = errno;
        close(f);
        return rt_error(RT_ERR_IO, "%s: %s is in use by another writer (%s)", dir, what,
                        strerror(err));
    }
    *fd = f;
    return RT_OK;
}

void rt_dir_unlock(int fd) {
    if (fd >= 0) close(fd);
}

/* ---- content hash ------------------------------------------------------------------------ */

typedef struct content_hasher {
    uint64_t a, b;
} content_hasher;

static void hasher_word(content_hasher *h, uint64_t w) {
    h->a = (h->a ^ w) * 0x9e3779b97f4a7c15ull;
    h->a ^= h->a >> 29;
    h->b = (h->b + w) * 0xbf58476d1ce4e5b9ull;
    h->b ^= h->b >> 31;
}

static void hasher_bytes(content_hasher *h, const unsigned char *p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        hasher_word(h, w);
    }
    uint64_t tail = 0;
    memcpy(&tail, p + i, n - i);
    hasher_word(h, tail ^ ((uint64_t)(n - i) << 56));
    hasher_word(h, (uint64_t)n);
}

static int hash_one_file(content_hasher *h, const char *path) {
    rt_mmap m;
    RT_TRY(rt_mmap_open(path, &m));
    hasher_bytes(h, m.data, m.size);
    rt_mmap_close(&m);
    return RT_OK;
}

int rt_content_hash(const char *path, const char *const *names, char out[33]) {
    content_hasher h = {0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull};
    int st = RT_OK;
    if (rt_is_dir(path)) {
        for (size_t i = 0; !st && names && names[i]; i++) {
            char *p = rt_path_join(path, names[i]);
            if (!p) return RT_ERR_NOMEM;
            hasher_bytes(&h, (const unsigned char *)names[i], strlen(names[i]));
            if (rt_is_file(p))
                st = hash_one_file(&h, p);
            else
                hasher_word(&h, 0xab5e47ull);
            free(p);
        }
    } else {
        st = hash_one_file(&h, path);
    }
    if (st) return st;
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.a, (unsigned long long)h.b);
    return RT_OK;
}
