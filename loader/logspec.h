/*
 * loader/logspec.h — the schema of a log configuration (docs/logging.md):
 * {"level", "destination" (alias "file"), "format"}. One checker for the
 * two places that read such a file: thespiand applying it (host/logcfg.c)
 * and `thespian config` showing it (director/config.c). Pure functions:
 * nothing is opened or installed here. Thread-safe.
 */
#ifndef TH_LOADER_LOGSPEC_H
#define TH_LOADER_LOGSPEC_H

#include <jansson.h>
#include <stddef.h>

#include "base/diag.h"

/* What a format is made of: literal text and %(field)s fields. */
enum thi_logfield {
    THI_LF_TEXT = 0,
    THI_LF_ASCTIME,
    THI_LF_LEVELNAME,
    THI_LF_LEVELNO,
    THI_LF_ADDR,        /* actorAddress */
    THI_LF_MESSAGE,
    THI_LF_PROCESS,
};

#define THI_LOG_DEFAULT_FORMAT \
    "%(asctime)s %(levelname)s [%(actorAddress)s] %(message)s"

/* Level of a level name (DEBUG .. CRITICAL, any case), or -1. */
int thi_logspec_level(const char *name);
/* Name of the highest level <= `level` ("DEBUG" below all). Static. */
const char *thi_logspec_level_name(int level);

/* Split `fmt` (Python logging's %-style subset: %(field)s and %%) and call
 * fn for each piece in order (text borrowed from fmt; len 0 for fields);
 * fn NULL only checks. A non-zero return of fn stops and is returned.
 * TH_EFORMAT / TH_EINVAL with a diag naming "format" and the offending
 * piece. */
typedef int (*thi_logseg_fn)(void *arg, enum thi_logfield f, const char *text,
                             size_t len);
int thi_logspec_format(const char *fmt, thi_logseg_fn fn, void *arg,
                       th_diag_t *d);

/* A checked configuration; the strings are borrowed from the JSON value. */
typedef struct thi_logspec {
    int level;                /* TH_LOG_WARNING when not given */
    const char *destination;  /* "stderr" when not given */
    const char *dest_key;     /* "destination" or "file": for messages */
    const char *format;       /* THI_LOG_DEFAULT_FORMAT when not given */
} thi_logspec_t;

/* Check `v` against the schema: an object with only the known keys, each
 * a string, a level name, a non-empty destination, not both "destination"
 * and "file", a valid format. 0 or TH_EINVAL/TH_EFORMAT with a diag
 * naming the key. */
int thi_logspec_check(const json_t *v, thi_logspec_t *out, th_diag_t *d);

#endif /* TH_LOADER_LOGSPEC_H */
