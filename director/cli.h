/*
 * director/cli.h — the bottom layer of the thespian CLI: the command type
 * and the helpers every command shares (option parsing with --help and
 * --endpoint, output, finding and connecting to the host, naming an actor
 * by address or global name, where things are). It knows no command.
 * The layers, each using only those below it:
 *   thespian.c               the command table and main
 *   cli_<group>.c            the commands (declared in cli_cmds.h)
 *   cli_tls.c, cli_host.c, cli_verdict.c   shared pieces of several
 *                            commands (the director directory, starting a
 *                            host, the Director's verdict on a load)
 *   cli.c                    this header's helpers
 * To add a command: write `const cli_cmd_t cli_cmd_NAME` in a cli_*.c
 * file, declare it in cli_cmds.h, and list it in the table in thespian.c.
 * Single-threaded: the CLI is one thread.
 */
#ifndef TH_DIRECTOR_CLI_H
#define TH_DIRECTOR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

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

#endif /* TH_DIRECTOR_CLI_H */
