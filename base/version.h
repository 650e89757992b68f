/*
 * base/version.h — version strings (bundle groups' versions and anything
 * else versioned the same way): well-formedness and ordering. Pure
 * functions: thread-safe, never allocate.
 */
#ifndef TH_BASE_VERSION_H
#define TH_BASE_VERSION_H

#include <stdbool.h>

/* A version: at most 64 bytes of '.'-separated non-empty fields of
 * A-Z a-z 0-9 _ -. */
bool thi_version_ok(const char *s);

/* Compare versions field by field on '.': numeric fields numerically,
 * others bytewise; a numeric field sorts before a non-numeric one; a prefix
 * sorts first. NULL (unversioned) sorts before every version. */
int thi_version_cmp(const char *a, const char *b);

#endif /* TH_BASE_VERSION_H */
