/*
 * host/log.h — the runtime's internal log and actors' th_log records; used by
 * every part of host/. Thread-safe.
 */
#ifndef TH_HOST_LOG_H
#define TH_HOST_LOG_H

#include <stdarg.h>

#include "thespian/actor.h"

/* log.c */
void thi_log(int level, const th_addr_t *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void thi_vlog(int level, const th_addr_t *who, const char *fmt, va_list ap);
int thi_log_level_of(const char *name);  /* -1: not a level name */
const char *thi_log_level_name(int level);
void thi_log_fmt_time(char *buf, size_t size); /* UTC, milliseconds */
/* The internal log's file when THESPLOG_FILE is unset (NULL: standard
 * error, not rotated) instead of $TMPDIR/thespian.log. Only before the
 * first record (thespiand's --logfile); opens it at once. */
void thi_log_set_internal(const char *path);
/* A record written whatever the threshold (host/core/status.c's status
 * dump). */
void thi_log_status(const char *text);

/* logcfg.c: an actor's (or the embedder's, who NULL) th_log record */
void thi_actor_vlog(int level, const th_addr_t *who, const char *fmt,
                    va_list ap);

#endif /* TH_HOST_LOG_H */
