/*
 * base/diag.h — caller-owned diagnostics: one line naming the bad input
 * (file, archive member, key, field) and the reason. Filling one never
 * allocates, so error paths cannot fail in turn. Lowest layer: loader, host
 * and director all report through it.
 */
#ifndef TH_BASE_DIAG_H
#define TH_BASE_DIAG_H

#include "thespian/error.h" /* th_diag_t: public, embedders fill it too */

/* Reset to "no error". NULL-safe. */
void thi_diag_clear(th_diag_t *d);

/* Record `code` and a printf-style message; returns `code` so callers can
 * `return thi_diag_set(d, TH_EINVAL, "...")`. NULL-safe (then only returns
 * code). Keeps the first error: a later call does not overwrite a set diag
 * unless it was cleared. */
int thi_diag_set(th_diag_t *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* TH_BASE_DIAG_H */
