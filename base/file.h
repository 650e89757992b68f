/*
 * base/file.h — whole-file reads with a size bound and atomic writes, for
 * every layer (bundles, keys, configuration, the CLI). Errors go to a
 * th_diag_t naming the path. Thread-safe (no shared state).
 */
#ifndef TH_BASE_FILE_H
#define TH_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

/* Read a whole regular file of at most `max` bytes (refuses directories,
 * FIFOs, devices, larger files) into *out (malloc'd). */
int thi_read_file(uint8_t **out, size_t *len, const char *path, size_t max,
                  th_diag_t *d);

/* Write all `len` bytes to `fd` (retrying short writes and EINTR).
 * 0, or -1 with errno set (EIO when write wrote nothing). */
int thi_write_all(int fd, const uint8_t *data, size_t len);

/* Write `len` bytes to `path` atomically and durably: a temporary file in
 * the same directory, fsync, rename, fsync of the directory. Mode 0644.
 * Thread-safe for distinct paths. */
int thi_write_file_atomic(const char *path, const uint8_t *data, size_t len,
                          th_diag_t *d);

#endif /* TH_BASE_FILE_H */
