/*
 * director/tli.h — the TLI ("top level instructions") of a group: which
 * actors the Director creates when a version is activated, with their role,
 * global name and lifecycle messages. Data only: nothing in it is executed.
 *
 *   {"Actors": {"PLUGIN.CLASS": {"Role": S, "GlobalName": S,
 *               "OnLoad": {"Message": M}, "OnDeactivate": {"Message": M},
 *               "OnReactivate": {"Message": M}}},
 *    "AutoUnload": B, "TLS_Keep_Limit": N}
 *   M = {"type": S, "body": <any JSON>}
 */
#ifndef TH_DIRECTOR_TLI_H
#define TH_DIRECTOR_TLI_H

#include <jansson.h>

#include "base/diag.h"

/* Check a TLI object: known fields only, right types, class names of the
 * form PLUGIN.CLASS, message types valid, at most 256 actors. `what` names
 * the file in the diag. Returns 0 or TH_EFORMAT. Pure, thread-safe. */
int thi_tli_check(const json_t *tli, const char *what, th_diag_t *d);

#endif /* TH_DIRECTOR_TLI_H */
