/*
 * host/logcfg.c — the actor log: th_log records (and th_log_record from
 * the embedding program), filtered by level and written in a configured
 * format to a configured destination. The configuration is a JSON object
 * {"level", "destination" (alias "file"), "format"}; a new one replaces
 * the old one as a whole or not at all. Contract: docs/logging.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/array.h"
#include "host/host.h"
#include "host/core/runtime.h"
#include "host/log.h"
#include "loader/logspec.h"
#include "base/text.h"
#include "proto/wire.h"

typedef struct seg {
    enum thi_logfield f;
    char *text; /* THI_LF_TEXT only */
} seg_t;

typedef struct cfg {
    int level;
    int fd;
    bool own_fd;
    seg_t *segs;
    size_t n_segs, cap_segs;
} cfg_t;

/* Readers (every record above the level) take it shared; a configure
 * swaps the whole cfg under it exclusively, so no record sees half of
 * one and no fd is closed under a writer. */
static pthread_rwlock_t cfg_lock;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;
static cfg_t *cur;                     /* NULL: out of memory at start */
static atomic_int cur_level = TH_LOG_WARNING;

static cfg_t *cfg_default(void);

/* Writer-preferring: actors that log all the time must not starve a
 * configure (glibc's default lets readers overtake a waiting writer). */
static void
cfg_init(void)
{
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&cfg_lock, &a);
    pthread_rwlockattr_destroy(&a);
    cur = cfg_default();
}

static void
cfg_free(cfg_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_segs; i++)
        free(c->segs[i].text);
    free(c->segs);
    if (c->own_fd)
        close(c->fd);
    free(c);
}

static int
add_seg(void *arg, enum thi_logfield f, const char *text, size_t len)
{
    cfg_t *c = arg;
    if (THI_RESERVE(c->segs, c->cap_segs, c->n_segs + 1, 8) != 0)
        return TH_ENOMEM;
    seg_t *g = c->segs;
    g[c->n_segs].f = f;
    g[c->n_segs].text = NULL;
    if (f == THI_LF_TEXT && (g[c->n_segs].text = strndup(text, len)) == NULL)
        return TH_ENOMEM;
    c->n_segs++;
    return 0;
}

static int
parse_format(cfg_t *c, const char *fmt, th_diag_t *d)
{
    int rc = thi_logspec_format(fmt, add_seg, c, d);
    return rc == TH_ENOMEM ? thi_diag_set(d, rc, "out of memory") : rc;
}

static cfg_t *
cfg_default(void)
{
    cfg_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->level = TH_LOG_WARNING;
    c->fd = 2;
    if (parse_format(c, THI_LOG_DEFAULT_FORMAT, NULL) != 0) {
        cfg_free(c);
        return NULL;
    }
    return c;
}

static int
cfg_from_json(json_t *v, cfg_t **out, th_diag_t *d)
{
    thi_logspec_t spec;
    int rc = thi_logspec_check(v, &spec, d);
    if (rc != 0)
        return rc;
    cfg_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    c->level = spec.level;
    rc = parse_format(c, spec.format, d);
    if (rc == 0) {
        if (strcmp(spec.destination, "stderr") == 0) {
            c->fd = 2;
        } else if (strcmp(spec.destination, "stdout") == 0) {
            c->fd = 1;
        } else {
            c->fd = open(spec.destination,
                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            if (c->fd < 0)
                rc = thi_diag_set(d, TH_EIO, "\"%s\": %.300s: %s",
                                  spec.dest_key, spec.destination,
                                  strerror(errno));
            c->own_fd = c->fd >= 0;
        }
    }
    if (rc != 0) {
        cfg_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void
install(cfg_t *c)
{
    pthread_once(&cfg_once, cfg_init);
    pthread_rwlock_wrlock(&cfg_lock);
    cfg_t *old = cur;
    cur = c;
    atomic_store(&cur_level, c->level);
    pthread_rwlock_unlock(&cfg_lock);
    cfg_free(old);
}

int
th_log_configure_json(const char *text, th_diag_t *d)
{
    thi_diag_clear(d);
    if (text == NULL)
        return thi_diag_set(d, TH_EINVAL, "no log configuration text");
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        return thi_diag_set(d, TH_EFORMAT,
                            "log configuration: not valid JSON: %s (line "
                            "%d, column %d)",
                            jerr.text, jerr.line, jerr.column);
    cfg_t *c = NULL;
    int rc = cfg_from_json(v, &c, d);
    json_decref(v);
    if (rc == 0)
        install(c);
    return rc;
}

int
th_log_configure_file(const char *path, th_diag_t *d)
{
    thi_diag_clear(d);
    if (path == NULL)
        return thi_diag_set(d, TH_EINVAL, "no log configuration file");
    json_error_t jerr;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        bool io = access(path, R_OK) != 0;
        return thi_diag_set(d, io ? TH_EIO : TH_EFORMAT,
                            "%.300s: %s%s (line %d, column %d)", path,
                            io ? "" : "not valid JSON: ", jerr.text,
                            jerr.line, jerr.column);
    }
    cfg_t *c = NULL;
    th_diag_t inner;
    thi_diag_clear(&inner);
    int rc = cfg_from_json(v, &c, &inner);
    json_decref(v);
    if (rc != 0)
        return thi_diag_set(d, rc, "%.300s: %s", path, inner.msg);
    install(c);
    return 0;
}

int
th_log_level(void)
{
    return atomic_load_explicit(&cur_level, memory_order_relaxed);
}

/* Append `s` to buf[*n..cap), truncating. */
static void
put(char *buf, size_t cap, size_t *n, const char *s)
{
    size_t l = strlen(s);
    if (l > cap - *n)
        l = cap - *n;
    memcpy(buf + *n, s, l);
    *n += l;
}

void
thi_actor_vlog(int level, const th_addr_t *who, const char *fmt, va_list ap)
{
    if (level < atomic_load_explicit(&cur_level, memory_order_relaxed))
        return;
    char raw[1024], esc[4 * sizeof raw];
    if (vsnprintf(raw, sizeof raw, fmt, ap) < 0)
        return;
    /* a record is one line whatever an actor or a client put in it: control
     * bytes and invalid UTF-8 escaped (\n, \x1b) */
    const char *msg = raw;
    size_t rlen = strlen(raw);
    if (!thi_text_clean(raw, rlen)) {
        thi_text_escape(esc, sizeof esc, raw, rlen, THI_TEXT_SINK);
        msg = esc;
    }
    char addr[TH_ADDR_STRLEN] = "", when[40], num[24];
    if (who && !th_addr_is_null(who))
        thi_wire_addr_format(who, addr, sizeof addr);
    thi_log_fmt_time(when, sizeof when);
    pthread_once(&cfg_once, cfg_init);
    pthread_rwlock_rdlock(&cfg_lock);
    if (cur && level >= cur->level) {
        char line[4096 + 1024];
        size_t n = 0, cap = sizeof line - 1;
        for (size_t i = 0; i < cur->n_segs; i++) {
            switch (cur->segs[i].f) {
            case THI_LF_TEXT: put(line, cap, &n, cur->segs[i].text); break;
            case THI_LF_ASCTIME: put(line, cap, &n, when); break;
            case THI_LF_LEVELNAME: put(line, cap, &n, thi_log_level_name(level));
                break;
            case THI_LF_LEVELNO:
                snprintf(num, sizeof num, "%d", level);
                put(line, cap, &n, num);
                break;
            case THI_LF_ADDR: put(line, cap, &n, addr); break;
            case THI_LF_MESSAGE: put(line, cap, &n, msg); break;
            case THI_LF_PROCESS:
                snprintf(num, sizeof num, "%ld", (long)getpid());
                put(line, cap, &n, num);
                break;
            }
        }
        line[n++] = '\n';
        ssize_t w = write(cur->fd, line, n); /* one write: no interleaving */
        (void)w;
    }
    pthread_rwlock_unlock(&cfg_lock);
}

void
th_log_record(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    thi_actor_vlog(level, NULL, fmt, ap);
    va_end(ap);
}
