/*
 * director/cli.h — the thespian CLI's command table and the helpers every
 * command shares (option parsing with --help and --endpoint, finding and
 * connecting to the host, naming an actor by address or global name).
 * To add a command: write `const cli_cmd_t cli_cmd_NAME` in a cli_*.c
 * file, declare it below, and list it in the table in thespian.c.
 */
#ifndef TH_DIRECTOR_CLI_H
#define TH_DIRECTOR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <stdio.h>

#include "thespian/client.h"

/* Exit codes of every command (docs/cli.md). */
#define CLI_OK 0
#define CLI_FAIL 1  /* the operation failed */
#define CLI_USAGE 2 /* bad command line */

typedef struct cli_cmd {
    const char *name;
    const char *summary; /* one line for `thespian help` */
    const char *usage;   /* the full text of `thespian help NAME` */
    /* argv[0] is the command name; global options are already applied */
    int (*run)(int argc, char **argv);
} cli_cmd_t;

/* The commands (one per file or group of files). */
extern const cli_cmd_t cli_cmd_start;
extern const cli_cmd_t cli_cmd_shutdown;
extern const cli_cmd_t cli_cmd_status;
extern const cli_cmd_t cli_cmd_create;
extern const cli_cmd_t cli_cmd_tell;
extern const cli_cmd_t cli_cmd_ask;
extern const cli_cmd_t cli_cmd_keygen;
extern const cli_cmd_t cli_cmd_gensrc;
extern const cli_cmd_t cli_cmd_tlsinfo;
extern const cli_cmd_t cli_cmd_load;
extern const cli_cmd_t cli_cmd_unload;
extern const cli_cmd_t cli_cmd_list;
extern const cli_cmd_t cli_cmd_role;
extern const cli_cmd_t cli_cmd_config;
extern const cli_cmd_t cli_cmd_avail;
extern const cli_cmd_t cli_cmd_refresh;
extern const cli_cmd_t cli_cmd_bootstart;
extern const cli_cmd_t cli_cmd_keys;
extern const cli_cmd_t cli_cmd_allow;
extern const cli_cmd_t cli_cmd_revoke;

/* `thespian keygen --admin NAME [--dir DIR]` (cli_clients.c): write
 * DIR/NAME.key and DIR/NAME.pub, a CurveZMQ key pair. Exit code. */
int cli_admin_keygen(const cli_cmd_t *cmd, const char *name, const char *dir,
                     bool as_json);

/* Set by `thespian --endpoint E CMD ...`; a command's own --endpoint
 * overrides it. NULL: the discovery rule. */
extern const char *cli_global_endpoint;

/* --admin-key FILE and --server-key FILE (global or on any command):
 * cli_key_option gives the option's name when `name` (len bytes, no
 * leading "--") is one of them, else NULL; cli_set_key applies one by
 * setting $THESPIAN_ADMIN_KEY / $THESPIAN_SERVER_KEY, which every
 * connection of this process then uses (docs/security.md). */
const char *cli_key_option(const char *name, size_t len);
void cli_set_key(const char *option, const char *value);

/* Set by a command's --json: what would go to standard output besides
 * the JSON document (progress lines) goes to standard error instead. */
extern bool cli_json_out;

/* Print a JSON value indented, one document, on standard output. */
void cli_json_print(const json_t *o);

/* A command's --json result `o` (taken; NULL when json_pack failed, e.g.
 * a path that is not UTF-8): printed and CLI_OK, or, for NULL, a message
 * saying the operation was done but its result cannot be JSON, and
 * CLI_FAIL. Errors never print JSON: they are the usual message on
 * standard error with a non-zero exit (docs/cli.md). */
int cli_json_result(const cli_cmd_t *cmd, json_t *o);

/* ---- The Director's verdict on a load (cli_sources.c) ------------------ */

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

/* Path of the running thespian binary (for finding thespiand). */
extern const char *cli_argv0;

/* ---- Option parsing ---------------------------------------------------------
 * A command lists its options; cli_parse fills them, handles --help (prints
 * the usage, returns CLI_OK through *done) and --endpoint, and collects
 * the positional arguments. Unknown options and wrong counts are usage
 * errors (message, then CLI_USAGE through *done). */
typedef enum { CLI_FLAG, CLI_STRING, CLI_LIST } cli_opt_kind_t;

typedef struct cli_opt {
    const char *name; /* without the leading "--" */
    cli_opt_kind_t kind;
    void *out; /* bool *, const char **, or cli_list_t * */
} cli_opt_t;

typedef struct cli_list {
    const char *items[64];
    size_t n;
} cli_list_t;

/* Returns true when the command should go on; false with *done set to
 * the exit code otherwise. pos receives up to max_pos positional
 * arguments (the count in *n_pos); fewer than min_pos is a usage error. */
bool cli_parse(const cli_cmd_t *cmd, int argc, char **argv,
               const cli_opt_t *opts, const char **pos, size_t min_pos,
               size_t max_pos, size_t *n_pos, int *done);

/* Print "thespian CMD: MESSAGE" and the hint to CMD --help; CLI_USAGE. */
int cli_usage_error(const cli_cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "thespian CMD: MESSAGE"; returns CLI_FAIL. */
int cli_fail(const cli_cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* `s` (from outside: a bundle, a host, a file) with control characters
 * and invalid UTF-8 escaped (\x1b, \n), for printing; cut at 2 KiB.
 * Returns one of 8 static buffers used in turn (several may appear in one
 * printf); NULL for NULL. Not thread-safe: the CLI is one thread. */
const char *cli_safe(const char *s);

/* Print `text` line by line (split at '\n'), each line escaped as by
 * cli_safe: for multi-line texts such as key-loading warnings. */
void cli_put_lines(FILE *f, const char *text);

/* ---- Host ---------------------------------------------------------------- */

/* The endpoint by the discovery rule (the command's --endpoint, else the
 * global one, else $THESPIAN_ENDPOINT, ...). buf holds
 * TH_CLIENT_ENDPOINT_MAX bytes. Returns CLI_OK or prints and returns
 * CLI_FAIL. */
int cli_endpoint(const cli_cmd_t *cmd, const char *explicit_ep, char *buf);

/* Connect to the host at `endpoint`; prints the reason and returns
 * CLI_FAIL when it cannot. */
int cli_connect(const cli_cmd_t *cmd, const char *endpoint, th_client_t **out);

/* An actor named on the command line: a printed address (th1:...) or a
 * global name looked up in the host. Prints and returns CLI_FAIL. */
int cli_target(const cli_cmd_t *cmd, th_client_t *c, const char *text,
               th_addr_t *out);

/* Parse seconds ("2", "0.5") into milliseconds; false when malformed. */
bool cli_seconds(const char *text, int *ms);

/* ---- Where things are ---------------------------------------------------- */

/* The director directory: $THESPIAN_DIRECTOR_DIR, else
 * ~/.thespian/director (docs/cli.md). Not checked for existence. */
void cli_director_dir(char *buf, size_t n);

/* The absolute path of this running binary (/proc/self/exe); false when
 * it cannot be read or does not fit in `size` bytes. */
bool cli_self_exe(char *buf, size_t size);

/* thespiand: $THESPIAND, else next to this binary (installed), else in
 * ../host/ (the build tree), else "thespiand" (to be found on $PATH). */
void cli_find_thespiand(char *buf, size_t size);

/* ---- Bundles in the director directory (cli_director.c) ----------------- */

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

/* ---- Trusted keys (cli_keys.c) ---------------------------------------- */

/* The director directory's keys as a host reads them (thi_keyring_json);
 * NULL on ENOMEM. Returned owned (json_decref). */
json_t *cli_local_keys(void);

/* Print a key listing (thi_keyring_json's shape) for people. */
void cli_print_keys(FILE *f, const json_t *keys);

#endif /* TH_DIRECTOR_CLI_H */
