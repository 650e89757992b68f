/*
 * loader/zip_write.h — building a signed bundle: a reproducible zip and the
 * signature trailer as its comment (layout in loader/format.h).
 */
#ifndef TH_LOADER_ZIP_WRITE_H
#define TH_LOADER_ZIP_WRITE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "loader/crypto.h"

typedef struct thi_bundle_input {
    const char *path;           /* path inside the bundle */
    const char *kind;           /* plugin | library | data */
    const uint8_t *data;        /* borrowed */
    size_t size;
    /* plugins only: the descriptor's plugin name and its class names
     * (NULL-terminated), recorded in the signed manifest; borrowed */
    const char *plugin;
    const char *const *classes;
} thi_bundle_input_t;

/* Build a signed bundle: MANIFEST.json (from the fields given plus the
 * files' paths, sizes, hashes and kinds) and the files, sorted, with fixed
 * timestamps, owners and modes, deflated; then the signed trailer. The same
 * inputs give the same bytes. `tli` may be NULL; `version` NULL means an
 * unversioned bundle. Returns 0 with *out (malloc'd, caller frees). */
int thi_bundle_build(uint8_t **out, size_t *out_len, const char *group,
                     const char *version, const char *info,
                     const json_t *tli, const thi_bundle_input_t *files,
                     size_t n_files, const thi_key_t *key, th_diag_t *d);

/* Turn a finished zip (ending in an end record without comment) into a
 * bundle: the signed trailer becomes its comment. Used by
 * thi_bundle_build, and by tests that sign archives they crafted. */
int thi_bundle_seal(uint8_t **out, size_t *out_len, const uint8_t *zip,
                    size_t zlen, const thi_key_t *key, th_diag_t *d);

#endif /* TH_LOADER_ZIP_WRITE_H */
