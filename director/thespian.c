/*
 * director/thespian.c — the thespian CLI: global options, the command
 * table and `help`. Each command lives in a cli_*.c file; see cli.h for
 * how to add one. Exit codes: 0 ok, 1 operation failed, 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "thespian/version.h"

static const cli_cmd_t cli_cmd_help;

/* The command table: `thespian help` lists it in this order. */
static const cli_cmd_t *const commands[] = {
    &cli_cmd_start,  &cli_cmd_shutdown, &cli_cmd_status,
    &cli_cmd_create, &cli_cmd_tell,     &cli_cmd_ask,
    &cli_cmd_keygen, &cli_cmd_gensrc,   &cli_cmd_tlsinfo,
    &cli_cmd_load,   &cli_cmd_unload,   &cli_cmd_list,
    &cli_cmd_role,   &cli_cmd_avail,    &cli_cmd_refresh,
    &cli_cmd_config, &cli_cmd_keys,     &cli_cmd_allow,
    &cli_cmd_revoke, &cli_cmd_bootstart, &cli_cmd_help,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const cli_cmd_t *
find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static void
overview(FILE *f)
{
    fputs("usage: thespian [--endpoint E] [--admin-key FILE] "
          "[--server-key FILE]\n                COMMAND [ARGS...]\n"
          "       thespian --version\n"
          "Talk to a thespian-c actor system (thespiand).\n\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\nEvery command takes --help and --endpoint E. The host is found "
          "from\n--endpoint, else $THESPIAN_ENDPOINT, else "
          "$THESPIAN_DIRECTOR_DIR/adminendpoint.cfg\n(or Thespian's "
          "adminport.cfg), else " TH_CLIENT_DEFAULT_ENDPOINT
          ".\nOn tcp:// the client authenticates with CurveZMQ: its key "
          "pair is --admin-key,\nelse $THESPIAN_ADMIN_KEY, else "
          "K/curve/operator.key; the host's public key\nis --server-key, "
          "else $THESPIAN_SERVER_KEY, else K/curve/host.pub, where K is\n"
          "$THESPIAN_KEY_DIR, else $THESPIAN_DIRECTOR_DIR, else ~/.thespian "
          "(docs/security.md).\nExit status: 0 ok, 1 the operation failed, "
          "2 usage error.\n",
          f);
}

static int
run_help(int argc, char **argv)
{
    const char *pos[1];
    size_t n;
    int done;
    if (!cli_parse(&cli_cmd_help, argc, argv, NULL, pos, 0, 1, &n, &done))
        return done;
    if (n == 0) {
        overview(stdout);
        return CLI_OK;
    }
    const cli_cmd_t *c = find(pos[0]);
    if (c == NULL)
        return cli_usage_error(&cli_cmd_help, "no command named \"%s\"",
                               pos[0]);
    fputs(c->usage, stdout);
    return CLI_OK;
}

static const cli_cmd_t cli_cmd_help = {
    "help", "show the commands, or one command's usage",
    "usage: thespian help [COMMAND]\n"
    "Without COMMAND, list the commands; with it, show its usage.\n",
    run_help,
};

int
main(int argc, char **argv)
{
    cli_argv0 = argv[0];
    int i = 1;
    /* global options come before the command */
    while (i < argc && argv[i][0] == '-') {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            overview(stdout);
            return CLI_OK;
        }
        if (strcmp(a, "--version") == 0) { /* meson.build's version */
            printf("thespian %s\n", TH_VERSION);
            return CLI_OK;
        }
        if (strcmp(a, "--endpoint") == 0 && i + 1 < argc) {
            cli_global_endpoint = argv[i + 1];
            i += 2;
        } else if (strncmp(a, "--endpoint=", 11) == 0) {
            cli_global_endpoint = a + 11;
            i++;
        } else if (strncmp(a, "--", 2) == 0 &&
                   cli_key_option(a + 2, strcspn(a + 2, "=")) != NULL &&
                   (strchr(a, '=') || i + 1 < argc)) {
            const char *eq = strchr(a, '=');
            cli_set_key(cli_key_option(a + 2, strcspn(a + 2, "=")),
                        eq ? eq + 1 : argv[i + 1]);
            i += eq ? 1 : 2;
        } else {
            fprintf(stderr, "thespian: unknown option %s\n(see thespian "
                    "--help)\n", a);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        overview(stderr);
        return CLI_USAGE;
    }
    const cli_cmd_t *c = find(argv[i]);
    if (c == NULL) {
        fprintf(stderr, "thespian: no command named \"%s\"\n(see thespian "
                "help)\n", argv[i]);
        return CLI_USAGE;
    }
    return c->run(argc - i, argv + i);
}
