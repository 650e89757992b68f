/* base/file.c — bounded whole-file reads, atomic writes (see file.h). */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "thespian/error.h"

int
thi_read_file(uint8_t **out, size_t *len, const char *path, size_t max,
              th_diag_t *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return thi_diag_set(d, errno == ENOENT ? TH_ENOENT : TH_EIO,
                            "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) != 0) {
        rc = thi_diag_set(d, TH_EIO, "%s: %s", path, strerror(errno));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = thi_diag_set(d, TH_EINVAL, "%s: not a regular file", path);
        goto out_close;
    }
    if ((uint64_t)st.st_size > max) {
        rc = thi_diag_set(d, TH_ETOOBIG,
                          "%s: %lld bytes is over the limit of %zu", path,
                          (long long)st.st_size, max);
        goto out_close;
    }
    size_t n = (size_t)st.st_size, got = 0;
    buf = malloc(n ? n : 1);
    if (buf == NULL) {
        rc = thi_diag_set(d, TH_ENOMEM, "%s: out of memory", path);
        goto out_close;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = thi_diag_set(d, TH_EIO, "%s: short read", path);
            free(buf);
            goto out_close;
        }
        got += (size_t)r;
    }
    *out = buf;
    *len = n;
out_close:
    close(fd);
    return rc;
}

int
thi_write_all(int fd, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* The rename is durable only once the directory holding it is: without
 * this a crash can bring the old file back (an older version record, and
 * with it a rollback the record had refused). A file system that cannot
 * sync a directory (EINVAL) has nothing more to give. */
static int
sync_dir_of(const char *path, th_diag_t *d)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return thi_diag_set(d, TH_EIO, "%s: written, but its directory "
                            "cannot be opened to sync it: %s", path,
                            strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL)
        return thi_diag_set(d, TH_EIO, "%s: written, but its directory "
                            "cannot be synced: %s", path, strerror(e));
    return 0;
}

int
thi_write_file_atomic(const char *path, const uint8_t *data, size_t len,
                      th_diag_t *d)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof tmp)
        return thi_diag_set(d, TH_EINVAL, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return thi_diag_set(d, TH_EIO, "%s: cannot create: %s", tmp,
                            strerror(errno));
    if (thi_write_all(fd, data, len) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return thi_diag_set(d, TH_EIO, "%s: write failed: %s", tmp,
                            strerror(e));
    }
    int rc = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return thi_diag_set(d, TH_EIO, "%s: cannot write: %s", path,
                            strerror(e));
    }
    return sync_dir_of(path, d);
}
