/*
 * host/daemon/pidfile.c — the daemon's pid file, written atomically and
 * checked at start (a live thespiand in it is refused, anything else is
 * stale and replaced), and the default directory of pid and log files.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/daemon/daemon.h"

static bool
pid_is_thespiand(long pid)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false; /* not running (or not ours to see) */
    if (fgets(comm, sizeof comm, f) == NULL)
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, "thespiand") == 0;
}

/* Read a pid file: the pid, 0 when there is none, -1 when unreadable or
 * malformed (then treated as stale). */
static long
pidfile_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end = NULL;
    long pid = strtol(buf, &end, 10);
    if (pid <= 0 || (*end != '\n' && *end != '\0'))
        return -1;
    return pid;
}

/* Is the pid file free to use? A live thespiand in it is refused; a dead
 * pid, a process that is not thespiand, or garbage is stale: replaced
 * later with a log line (reported through *stale). */
int
thi_daemon_pidfile_check(const char *path, char *stale, size_t size)
{
    stale[0] = '\0';
    long pid = pidfile_read(path);
    if (pid == 0)
        return 0;
    if (pid < 0) {
        snprintf(stale, size,
                 "stale pid file %s (unreadable or malformed): "
                 "replaced",
                 path);
        return 0;
    }
    if (pid != (long)getpid() && pid_is_thespiand(pid)) {
        thi_daemon_report(
            false,
            "pid file %s belongs to thespiand pid %ld, which is running "
            "but does not answer at this endpoint; stop it or use another "
            "--pidfile",
            path, pid);
        return -1;
    }
    snprintf(stale, size, "stale pid file %s (pid %ld %s): replaced", path, pid,
             kill((pid_t)pid, 0) == 0 || errno == EPERM ? "is not a thespiand"
                                                        : "is not running");
    return 0;
}

/* Write "PID\n" atomically: a reader sees the old file or the new one. */
int
thi_daemon_pidfile_write(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof tmp) {
        thi_daemon_report(false, "pid file %s: path too long", path);
        return -1;
    }
    int fd =
        open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        thi_daemon_report(false, "pid file %s: %s", tmp, strerror(errno));
        return -1;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    bool ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        thi_daemon_report(false, "pid file %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void
thi_daemon_pidfile_remove(const char *path)
{
    /* only our own: a successor may already have replaced it */
    if (path && pidfile_read(path) == (long)getpid())
        unlink(path);
}

/* Default directory for the daemon's pid and log files: the director
 * directory, else $XDG_RUNTIME_DIR, else /tmp/thespian-UID (0700, ours). */
int
thi_daemon_default_dir(char *buf, size_t size)
{
    const char *d = getenv("THESPIAN_DIRECTOR_DIR");
    if (d == NULL || *d == '\0')
        d = getenv("XDG_RUNTIME_DIR");
    if (d && *d) {
        snprintf(buf, size, "%s", d);
        return 0;
    }
    snprintf(buf, size, "/tmp/thespian-%ld", (long)getuid());
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        thi_daemon_report(false, "%s: %s", buf, strerror(errno));
        return -1;
    }
    struct stat st;
    /* a directory someone else made (or a link) in /tmp is not ours */
    if (lstat(buf, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077) != 0) {
        thi_daemon_report(false,
                          "%s: not a private directory of this user; give "
                          "--pidfile and --logfile",
                          buf);
        return -1;
    }
    return 0;
}

void
thi_daemon_endpoint_slug(const char *ep, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; ep[i] && j + 1 < size; i++) {
        char c = ep[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9');
        out[j++] = keep ? c : '_';
    }
    out[j] = '\0';
}
