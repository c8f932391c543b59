/* tests/preload/durable_image.c: an LD_PRELOAD library that keeps, beside a data dir, the
 * image a power cut would leave: only bytes that were fsynced. For the power-loss test:
 * run the broker with it, kill -9 the broker, start a new one on the image, and every
 * acknowledged record must be there (with log.flush.sync=true).
 *
 *   RUNNEL_WATCH_DIR=<data dir, absolute>  RUNNEL_IMAGE_DIR=<the image, absolute>
 *
 * Files under the watched dir are tracked per descriptor. fsync/fdatasync copy the bytes
 * written since the last sync into the image (RocksDB's files are append-only);
 * rename and unlink are applied to the image at once (as if the directory were synced
 * right away: kinder than a real power cut, and RocksDB syncs directories anyway).
 * Everything else passes through. Thread-safe. Not part of the broker. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FDS 65536

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *path; /* relative to the watched dir; NULL: not tracked */
    off_t synced;
} fds[MAX_FDS];
static char watch[PATH_MAX], image[PATH_MAX];
static size_t watch_len;
static bool ready;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_unlink)(const char *);

__attribute__((constructor)) static void init(void) {
    real_open = dlsym(RTLD_NEXT, "open");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_close = dlsym(RTLD_NEXT, "close");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_rename = dlsym(RTLD_NEXT, "rename");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    const char *w = getenv("RUNNEL_WATCH_DIR"), *i = getenv("RUNNEL_IMAGE_DIR");
    if (!w || !i || w[0] != '/' || i[0] != '/') return;
    if (snprintf(watch, sizeof watch, "%s/", w) >= (int)sizeof watch ||
        snprintf(image, sizeof image, "%s", i) >= (int)sizeof image)
        return;
    watch_len = strlen(watch);
    mkdir(image, 0755);
    ready = true;
}

/* The path relative to the watched dir, or NULL. */
static const char *watched(const char *path) {
    if (!ready || !path || strncmp(path, watch, watch_len) != 0) return NULL;
    const char *rel = path + watch_len;
    return *rel && !strchr(rel, '/') ? rel : NULL; /* RocksDB keeps a flat directory */
}

static void image_path(char *out, size_t n, const char *rel) {
    if (snprintf(out, n, "%s/%s", image, rel) >= (int)n) out[0] = 0; /* too long: no such file */
}

static void track(int fd, const char *path, int flags) {
    const char *rel = watched(path);
    if (fd < 0 || fd >= MAX_FDS || !rel) return;
    pthread_mutex_lock(&mu);
    free(fds[fd].path);
    fds[fd].path = strdup(rel);
    /* What the file holds when opened without O_TRUNC counts as durable: it was synced,
     * or it is the image's own copy from an earlier run. */
    struct stat st;
    fds[fd].synced = (flags & O_TRUNC) || fstat(fd, &st) != 0 ? 0 : st.st_size;
    if (flags & O_TRUNC) {
        char ip[PATH_MAX];
        image_path(ip, sizeof ip, rel);
        int ifd = real_open(ip, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (ifd >= 0) real_close(ifd);
    }
    pthread_mutex_unlock(&mu);
}

int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    int fd = real_open(path, flags, mode);
    track(fd, path, flags);
    return fd;
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    int fd = real_openat(dirfd, path, flags, mode);
    if (path[0] == '/') track(fd, path, flags);
    return fd;
}
int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int close(int fd) {
    if (fd >= 0 && fd < MAX_FDS && ready) {
        pthread_mutex_lock(&mu);
        free(fds[fd].path);
        fds[fd].path = NULL;
        pthread_mutex_unlock(&mu);
    }
    return real_close(fd);
}

/* Copy what fd gained since its last sync into the image. Lock held. */
static void capture(int fd) {
    if (fd < 0 || fd >= MAX_FDS || !fds[fd].path) return;
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    char ip[PATH_MAX];
    image_path(ip, sizeof ip, fds[fd].path);
    int ifd = real_open(ip, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (ifd < 0) return;
    if (st.st_size < fds[fd].synced) fds[fd].synced = 0; /* truncated: copy it all again */
    if (ftruncate(ifd, st.st_size) != 0) { /* the image file is never longer than the file */
    }
    /* RocksDB writes through O_WRONLY descriptors: read the file by its name. */
    char src[PATH_MAX];
    if (snprintf(src, sizeof src, "%s%s", watch, fds[fd].path) >= (int)sizeof src) {
        real_close(ifd);
        return;
    }
    int rfd = real_open(src, O_RDONLY | O_CLOEXEC, 0);
    if (rfd < 0) {
        real_close(ifd);
        return;
    }
    char buf[1 << 16];
    off_t at = fds[fd].synced;
    while (at < st.st_size) {
        ssize_t n = pread(rfd, buf, sizeof buf, at);
        if (n <= 0) break;
        if (pwrite(ifd, buf, (size_t)n, at) != n) break;
        at += n;
    }
    fds[fd].synced = at;
    real_close(rfd);
    real_fsync(ifd);
    real_close(ifd);
}

int fsync(int fd) {
    int rc = real_fsync(fd);
    if (rc == 0 && ready) {
        pthread_mutex_lock(&mu);
        capture(fd);
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

int fdatasync(int fd) {
    int rc = real_fdatasync(fd);
    if (rc == 0 && ready) {
        pthread_mutex_lock(&mu);
        capture(fd);
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

int rename(const char *from, const char *to) {
    int rc = real_rename(from, to);
    const char *rf = watched(from), *rt = watched(to);
    if (rc == 0 && rf && rt) {
        pthread_mutex_lock(&mu);
        char a[PATH_MAX], b[PATH_MAX];
        image_path(a, sizeof a, rf);
        image_path(b, sizeof b, rt);
        if (real_rename(a, b) != 0) real_unlink(b); /* never synced: the new name has nothing */
        for (int i = 0; i < MAX_FDS; i++)
            if (fds[i].path && strcmp(fds[i].path, rf) == 0) {
                free(fds[i].path);
                fds[i].path = strdup(rt);
            }
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

int unlink(const char *path) {
    int rc = real_unlink(path);
    const char *rel = watched(path);
    if (rc == 0 && rel) {
        char ip[PATH_MAX];
        image_path(ip, sizeof ip, rel);
        real_unlink(ip);
    }
    return rc;
}
