/*
 * director/cli_host.h — starting a host for the CLI (cli_host.c). Above
 * cli.h, below the commands. Single-threaded, like the whole CLI.
 */
#ifndef TH_DIRECTOR_CLI_HOST_H
#define TH_DIRECTOR_CLI_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "director/cli.h"

/* Most thespiand options a caller passes on: 64 --plugin pairs and the
 * five other pairs `thespian start` knows. */
#define CLI_START_EXTRA_MAX (2 * 64 + 10)

/* Start thespiand --daemon on `ep` with the options `extra` (n_extra
 * strings, at most CLI_START_EXTRA_MAX), the director directory when it
 * exists and the user's admin key directory, and wait up to timeout_ms
 * for it to report ready and answer. A host already answering at `ep`
 * is used instead, unless it works on another director directory (an
 * error). as_json: print start's JSON result. Messages name `cmd`.
 * Returns the exit code. Blocks; forks. */
int cli_host_start(const cli_cmd_t *cmd, const char *ep,
                   const char *const *extra, size_t n_extra, int timeout_ms,
                   bool as_json);

#endif /* TH_DIRECTOR_CLI_HOST_H */
