/*
 * director/cli_tls.h — the director directory as the CLI reads it: its
 * *.tls bundles, verified against its *_tls.key keys, and those keys
 * (cli_tls.c). Above cli.h, below the commands. Single-threaded, like the
 * whole CLI.
 */
#ifndef TH_DIRECTOR_CLI_TLS_H
#define TH_DIRECTOR_CLI_TLS_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "director/cli.h"

/* One *.tls file of the director directory, checked against the
 * directory's *_tls.key keys (thi_bundle_verify, then thi_bundle_read). */
typedef struct cli_tls {
    char *file;    /* its name in the directory */
    char *path;    /* directory/name */
    char *group;   /* NULL when it did not verify */
    char *version; /* NULL: unversioned, or it did not verify */
    char hash[65]; /* SHA-256 of the file; "" when it could not be read */
    char *reason;  /* why it did not verify; NULL when it did */
} cli_tls_t;

typedef struct cli_tls_scan {
    char dir[4096];
    cli_tls_t *items; /* verified ones first, by group, newest version
                         first (unversioned last), then by file name;
                         then the unverified ones by file name */
    size_t n;
} cli_tls_scan_t;

/* Scan the director directory's *.tls files (each read whole, verified,
 * its manifest read). A bundle that does not verify is listed with the
 * reason, never dropped. Key warnings go to standard error. Returns
 * CLI_OK with *out filled (release with cli_tls_scan_fini, which is safe
 * on a zeroed struct) or prints the reason (the directory or keys cannot
 * be read) and returns CLI_FAIL. Blocks on file I/O. */
int cli_tls_scan(const cli_cmd_t *cmd, cli_tls_scan_t *out);
void cli_tls_scan_fini(cli_tls_scan_t *s);

/* The newest verified bundle of `group` in the scan; NULL when none.
 * Borrowed from s. */
const cli_tls_t *cli_tls_newest(const cli_tls_scan_t *s, const char *group);

/* Put into `path` (n bytes) the newest verified bundle of `group` in the
 * director directory and print which file was chosen. Returns CLI_OK, or
 * prints and returns CLI_FAIL (no such bundle, directory unreadable). */
int cli_tls_pick(const cli_cmd_t *cmd, const char *group, char *path,
                 size_t n);

/* ---- Trusted keys ---------------------------------------------------- */

/* The director directory's keys as a host reads them (thi_keyring_json);
 * NULL on ENOMEM. Returned owned (json_decref). */
json_t *cli_local_keys(void);

/* Print a key listing (thi_keyring_json's shape) for people. */
void cli_print_keys(FILE *f, const json_t *keys);

#endif /* TH_DIRECTOR_CLI_TLS_H */
