/*
 * loader/manifest.h — the schema of a bundle's MANIFEST.json and the
 * name rules it applies (group names, paths inside a bundle). Pure
 * functions: thread-safe.
 */
#ifndef TH_LOADER_MANIFEST_H
#define TH_LOADER_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>

#include "base/diag.h"

/* Validate a manifest object (types, names, unknown fields, limits).
 * A "plugin" file entry must carry "plugin" (the descriptor's plugin name)
 * and "classes" (its class names, unique, at least one); other kinds must
 * not. Plugin names are unique in a bundle, and the TLI's "Actors" may
 * name only "PLUGIN.CLASS" pairs the entries declare, so what a bundle
 * will run is known before anything of it is mapped. Exposed for tests
 * and for gensrc. */
int thi_manifest_check(const json_t *m, const char *what, th_diag_t *d);

/* Check a group name for well-formedness. */
bool thi_group_name_ok(const char *s);
/* NULL when `s` is a valid group name, else why not ("contains a control
 * character", "is not valid UTF-8", ...), for a diag. */
const char *thi_group_name_problem(const char *s);

/* A path inside a bundle: relative, '/'-separated, no empty, "." or ".."
 * component, no backslash or drive letter, printable ASCII, not the
 * manifest's own name. NULL when it is one, else why not (for a diag that
 * shows the path escaped). Shared by the manifest check, the zip reader
 * and the zip writer so all three apply one rule. */
const char *thi_bundle_path_problem(const char *p);

#endif /* TH_LOADER_MANIFEST_H */
