/*
 * director/cli_verdict.h — the Director's verdict on a load, as the CLI
 * asks for it (load and refresh use it). Above cli.h, below the commands.
 * Single-threaded, like the whole CLI.
 */
#ifndef TH_DIRECTOR_CLI_VERDICT_H
#define TH_DIRECTOR_CLI_VERDICT_H

#include <jansson.h>

#include "thespian/client.h"

/* The Director's {"DirectorOp": "RetrieveAll"} "groups" object; NULL when
 * the host runs no Director (or it did not answer in 5 s). Returned owned
 * (json_decref). Blocks on the host. */
json_t *cli_director_view(th_client_t *c);

/* After the host loaded `hash`: wait up to 10 s for the Director to
 * activate it (or to say a newer version runs, or that it failed to
 * start). `before` is cli_director_view from before the load (NULL: no
 * Director; then loaded is the verdict). Fills `res` (borrowed) with
 * "hash", "state" ("active", "loaded", "failed", "unknown"), "group",
 * "activeHash" when another version is active, "error" when it failed.
 * Returns CLI_OK, or CLI_FAIL when the version did not start; prints
 * nothing. */
int cli_load_verdict(th_client_t *c, const json_t *before, const char *hash,
                     json_t *res);

#endif /* TH_DIRECTOR_CLI_VERDICT_H */
