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

/* Set by `thespian --endpoint E CMD ...`; a command's own --endpoint
 * overrides it. NULL: the discovery rule. */
extern const char *cli_global_endpoint;

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

#endif /* TH_DIRECTOR_CLI_H */
