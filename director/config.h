/*
 * director/config.h — the director directory's configuration: one JSON
 * value per `*.cfg` file (convleader, othercaps, thesplog, thesplogd,
 * adminendpoint, and any other). Data only: nothing read is executed.
 * Also lists a directory's files by suffix (the CLI's .tls scan uses it).
 */
#ifndef TH_DIRECTOR_CONFIG_H
#define TH_DIRECTOR_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "base/diag.h"

/* Largest configuration file read, in bytes. */
#define THI_CONFIG_MAX ((size_t)64 << 10)

/* The names (not paths) of the entries of `dir` whose name ends in
 * `suffix` and is longer than it, sorted bytewise. Any file type is
 * listed: callers check each one. Returns 0 with *names (each and the
 * array malloc'd: thi_names_free) and *n; TH_ENOENT when dir does not
 * exist, TH_EIO when it cannot be read, TH_ENOMEM. Thread-safe. */
int thi_dir_names(char ***names, size_t *n, const char *dir,
                  const char *suffix, th_diag_t *d);
void thi_names_free(char **names, size_t n);

/* Read one configuration file: a regular file (opened without blocking,
 * so a FIFO is refused, not waited on) of at most THI_CONFIG_MAX bytes
 * holding exactly one JSON value (no duplicate keys). The known names
 * (the last path component) have a type: convleader.cfg a "HOST:PORT" or
 * endpoint string, othercaps.cfg an object, thesplog.cfg and
 * thesplogd.cfg an object whose "level" (DEBUG INFO WARNING ERROR
 * CRITICAL) and "file" are strings when present, adminendpoint.cfg an
 * endpoint string or a port 1-65535. Returns 0 with *out owned
 * (json_decref); TH_EINVAL (not a regular file), TH_ETOOBIG, TH_EFORMAT
 * (not JSON, wrong type), TH_EIO, with a diag naming the file and field.
 * Thread-safe; never blocks on a FIFO. */
int thi_config_read(json_t **out, const char *path, th_diag_t *d);

#endif /* TH_DIRECTOR_CONFIG_H */
