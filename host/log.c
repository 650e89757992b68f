/*
 * host/log.c — the runtime's internal log: one line per record with time,
 * level and the actor address it concerns. Destination is THESPLOG_FILE
 * (default: standard error), threshold THESPLOG_THRESHOLD (a level name,
 * default WARNING). Lines are written with one write(2) so concurrent
 * records never interleave.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "host/rt.h"

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static int log_fd = 2;
static int log_threshold = TH_LOG_WARNING;

static int
level_of(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"DEBUG", TH_LOG_DEBUG},     {"INFO", TH_LOG_INFO},
                  {"WARNING", TH_LOG_WARNING}, {"ERROR", TH_LOG_ERROR},
                  {"CRITICAL", TH_LOG_CRITICAL}};
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
        if (strcasecmp(s, levels[i].name) == 0)
            return levels[i].level;
    return -1;
}

static const char *
name_of(int level)
{
    if (level >= TH_LOG_CRITICAL)
        return "CRITICAL";
    if (level >= TH_LOG_ERROR)
        return "ERROR";
    if (level >= TH_LOG_WARNING)
        return "WARNING";
    if (level >= TH_LOG_INFO)
        return "INFO";
    return "DEBUG";
}

static void
log_init(void)
{
    const char *t = getenv("THESPLOG_THRESHOLD");
    if (t && level_of(t) >= 0)
        log_threshold = level_of(t);
    const char *f = getenv("THESPLOG_FILE");
    if (f && *f) {
        int fd = open(f, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0)
            log_fd = fd;
    }
}

void
thi_vlog(int level, const th_addr_t *who, const char *fmt, va_list ap)
{
    pthread_once(&log_once, log_init);
    if (level < log_threshold)
        return;
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char addr[TH_ADDR_STRLEN] = "";
    if (who && !th_addr_is_null(who))
        th_addr_to_string(who, addr, sizeof addr);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02d %02d:%02d:%02d.%03ld %s [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     name_of(level), addr);
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w; /* nowhere left to report a failed log write */
}

void
thi_log(int level, const th_addr_t *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    thi_vlog(level, who, fmt, ap);
    va_end(ap);
}
