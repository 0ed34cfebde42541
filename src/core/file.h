/*
 * file.h — reading, mapping and atomically writing files. Every file ragtune writes goes
 * through rt_atomic_file: it is written to "<path>.tmp.<pid>", fsync'd, renamed over <path>,
 * and the directory fsync'd, so a crash leaves the old file or the new one, never a mix.
 */
#ifndef RT_CORE_FILE_H
#define RT_CORE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Reads a whole file into a NUL-terminated buffer the caller frees. Fails with RT_ERR_RANGE if
 * the file is larger than max_bytes. */
int rt_file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len);

/* A read-only memory map of a whole file. */
typedef struct rt_mmap {
    void *data;
    size_t size;
} rt_mmap;
/* Maps path read-only (an empty file gives data == NULL, size 0). */
int rt_mmap_open(const char *path, rt_mmap *out);
void rt_mmap_close(rt_mmap *m);

/* Atomic file writer. */
typedef struct rt_atomic_file {
    FILE *fp;       /* write here */
    char *path;     /* final path */
    char *tmp_path; /* temporary path */
} rt_atomic_file;
/* Opens a temporary file beside path for writing. */
int rt_atomic_file_open(rt_atomic_file *f, const char *path);
/* Flushes, fsyncs and renames over the final path; on any failure removes the temporary file
 * and leaves the old file untouched. Always releases f. */
int rt_atomic_file_commit(rt_atomic_file *f);
/* Discards the temporary file; the final path is untouched. */
void rt_atomic_file_abort(rt_atomic_file *f);
/* Writes a whole buffer atomically. */
int rt_file_write_atomic(const char *path, const void *data, size_t len);

/* fwrite that reports RT_ERR_IO naming path on a short write. */
int rt_fwrite_all(FILE *fp, const void *data, size_t len, const char *path);

/* Copies a regular file (at most 1 GiB) atomically to `to`. */
int rt_file_copy(const char *from, const char *to);
/* True if path ends with suffix (e.g. ".gguf"). */
bool rt_path_has_suffix(const char *path, const char *suffix);

/* Creates a directory and its parents (like mkdir -p). */
int rt_mkdir_p(const char *path);
/* True if path exists and is a directory / regular file. */
int rt_is_dir(const char *path);
int rt_is_file(const char *path);
/* Joins dir and name with '/' into a new string the caller frees. */
char *rt_path_join(const char *dir, const char *name);

/* Takes an exclusive, non-blocking lock on "<dir>/lock" (created if missing) for one writer at a
 * time; `what` names the directory's kind in the error ("collection", "training output"). The
 * lock lasts until *fd is closed (rt_dir_unlock) or the process ends. RT_ERR_IO when another
 * process holds it. */
int rt_dir_lock(const char *dir, const char *what, int *fd);
void rt_dir_unlock(int fd);

/* Content fingerprint of a file, or of a directory's listed files (names: NULL-terminated;
 * missing ones count as absent): 32 hex digits plus NUL in out. Identity, not security (two
 * 64-bit multiply-xor streams over the bytes and the sizes). */
int rt_content_hash(const char *path, const char *const *names, char out[33]);

#endif
