/*
 * host/log.c — the runtime's internal log (Thespian's thesplog): one line
 * per record with time, level and the actor address it concerns.
 * Destination THESPLOG_FILE (default $TMPDIR/thespian.log), threshold
 * THESPLOG_THRESHOLD (default WARNING), rotated to PATH.old when a write
 * would take the file past THESPLOG_FILE_MAXSIZE bytes (default 10 MiB).
 * Contract: docs/logging.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/array.h"
#include "host/log.h"
#include "loader/logspec.h"
#include "base/text.h"
#include "proto/wire.h"

/* 10 MiB: a busy host's INFO lines for days, not minutes (Thespian's
 * 50 KiB rotated a host's log every few hundred lines) */
#define DEFAULT_MAXSIZE (10 * 1024 * 1024)

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
/* set once in log_init, read lock-free on every record */
static int log_threshold = TH_LOG_WARNING;

/* the writer: size check + rotation + write under one lock */
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = 2;
static char *log_path;     /* NULL: standard error, never rotated */
static off_t log_size;
static off_t log_maxsize = DEFAULT_MAXSIZE;

/* Standard error is the journal (a systemd service's): each record starts
 * with its syslog priority, "<N>", which journald turns into the record's
 * PRIORITY (sd-daemon(3)). Set once in log_init. */
static bool log_journal;

/* thi_log_set_internal, before the first record */
static bool internal_set;
static char *internal_path;

int
thi_log_level_of(const char *s)
{
    return thi_logspec_level(s);
}

const char *
thi_log_level_name(int level)
{
    return thi_logspec_level_name(level);
}

/* Strict: digits only, > 0; anything else warns once and is ignored. */
static off_t
maxsize_from_env(void)
{
    const char *s = getenv("THESPLOG_FILE_MAXSIZE");
    if (s == NULL || *s == '\0')
        return DEFAULT_MAXSIZE;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || v == 0 ||
        v > (1ULL << 40)) {
        dprintf(2,
                "thespian: THESPLOG_FILE_MAXSIZE=\"%s\" is not a size in "
                "bytes (1..2^40); using %d\n",
                s, DEFAULT_MAXSIZE);
        return DEFAULT_MAXSIZE;
    }
    return (off_t)v;
}

static int
open_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static void log_init_fd(void);

/* systemd sets JOURNAL_STREAM=DEV:INODE for the stream it connected to
 * the journal; it counts only while fd is still that stream (systemd.exec(5)). */
static bool
fd_is_journal(int fd)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
        fstat(fd, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

static void
log_init(void)
{
    log_init_fd();
    log_journal = log_fd == 2 && fd_is_journal(2);
}

static void
log_init_fd(void)
{
    int t = thi_log_level_of(getenv("THESPLOG_THRESHOLD"));
    if (t >= 0)
        log_threshold = t;
    log_maxsize = maxsize_from_env();
    const char *f = getenv("THESPLOG_FILE");
    char dflt[4096];
    if (f == NULL || *f == '\0') {
        if (internal_set && internal_path == NULL)
            return; /* the embedder chose standard error */
        if (internal_set) {
            f = internal_path;
        } else {
            const char *tmp = getenv("TMPDIR");
            snprintf(dflt, sizeof dflt, "%.4000s/thespian.log",
                     tmp && *tmp ? tmp : "/tmp");
            f = dflt;
        }
    }
    int fd = open_log(f);
    if (fd < 0) {
        dprintf(2, "thespian: internal log %s: %s; logging to stderr\n", f,
                strerror(errno));
        return;
    }
    struct stat st;
    log_fd = fd;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        log_path = strdup(f); /* NULL on ENOMEM: no rotation, still logs */
        log_size = st.st_size;
    }
}

void
thi_log_set_internal(const char *path)
{
    internal_set = true;
    free(internal_path);
    internal_path = path ? strdup(path) : NULL;
    pthread_once(&log_once, log_init);
}

/* Under wlock. The file is renamed, never copied, so a record is in one
 * file or the other, whole. A standard error that was this same file (a
 * daemon's --logfile) follows it to the new file. */
static void
rotate_locked(void)
{
    char old[4200];
    snprintf(old, sizeof old, "%.4090s.old", log_path);
    if (rename(log_path, old) != 0) {
        log_maxsize = (off_t)1 << 62; /* cannot rotate: stop trying */
        dprintf(log_fd, "thespian: cannot rotate %s: %s\n", log_path,
                strerror(errno));
        return;
    }
    int fd = open_log(log_path);
    if (fd < 0) {
        log_size = 0; /* keep writing to the .old file, try again later */
        return;
    }
    struct stat a, b;
    if (fstat(log_fd, &a) == 0 && fstat(2, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        dup2(fd, 2);
    close(log_fd);
    log_fd = fd;
    log_size = 0;
}

static void
write_record(const char *line, size_t len)
{
    pthread_mutex_lock(&wlock);
    if (log_path && log_size > 0 && log_size + (off_t)len > log_maxsize)
        rotate_locked();
    ssize_t w = write(log_fd, line, len);
    if (w > 0)
        log_size += w;
    pthread_mutex_unlock(&wlock);
}

void
thi_log_fmt_time(char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    /* strftime, not one snprintf of every field: -O3 cannot bound the
     * int fields and warns the text may not fit */
    size_t n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    if (n == 0 && size > 0)
        buf[0] = '\0';
    else
        snprintf(buf + n, size - n, ".%03d", (int)(ts.tv_nsec / 1000000));
}

/* One record, one write(2): concurrent records never interleave. */
static int
syslog_priority(int level)
{
    return level >= TH_LOG_CRITICAL ? LOG_CRIT
           : level >= TH_LOG_ERROR  ? LOG_ERR
           : level >= TH_LOG_WARNING ? LOG_WARNING
           : level >= TH_LOG_INFO   ? LOG_INFO
                                    : LOG_DEBUG;
}

static void
emit(int level, const char *levelname, const th_addr_t *who,
     const char *body)
{
    char addr[TH_ADDR_STRLEN] = "";
    if (who && !th_addr_is_null(who))
        thi_wire_addr_format(who, addr, sizeof addr);
    char when[40];
    thi_log_fmt_time(when, sizeof when);
    /* names and texts from outside reach records: escape control bytes and
     * invalid UTF-8 so no input forges a line or a terminal escape */
    char esc_small[1200], *esc = NULL;
    size_t blen = strlen(body);
    if (!thi_text_clean(body, blen)) {
        size_t need = 4 * blen + 1;
        esc = need <= sizeof esc_small ? esc_small : malloc(need);
        if (esc == NULL)
            return;
        thi_text_escape(esc, need, body, blen, THI_TEXT_SINK);
        body = esc;
    }
    char prio[8] = "";
    if (log_journal)
        snprintf(prio, sizeof prio, "<%d>", syslog_priority(level));
    char small[1200], *line = small;
    size_t cap = strlen(prio) + strlen(when) + strlen(levelname) +
                 strlen(addr) + strlen(body) + 8;
    if (cap > sizeof small && (line = malloc(cap)) == NULL) {
        if (esc != NULL && esc != esc_small)
            free(esc);
        return;
    }
    int n = snprintf(line, cap, "%s%s %s [%s] %s\n", prio, when, levelname,
                     addr, body);
    if (n > 0)
        write_record(line, (size_t)n);
    if (line != small)
        free(line);
    if (esc != NULL && esc != esc_small)
        free(esc);
}

void
thi_vlog(int level, const th_addr_t *who, const char *fmt, va_list ap)
{
    pthread_once(&log_once, log_init);
    if (level < log_threshold)
        return;
    char body[1024];
    if (vsnprintf(body, sizeof body, fmt, ap) < 0)
        return;
    emit(level, thi_log_level_name(level), who, body);
}

void
thi_log(int level, const th_addr_t *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    thi_vlog(level, who, fmt, ap);
    va_end(ap);
}

/* A record written whatever the threshold (the status dump). */
void
thi_log_status(const char *text)
{
    pthread_once(&log_once, log_init);
    emit(TH_LOG_INFO, "STATUS", NULL, text);
}
