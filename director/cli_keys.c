/*
 * director/cli_keys.c — the trusted keys: `thespian keys` lists the
 * *_tls.key files of the director directory as a host reads them (the same
 * loader function and policy), `thespian keys reload` has the running host
 * read them again and prints what it now trusts.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "director/cli_tls.h"
#include "loader/keyring.h"

static int
print_json(const json_t *o)
{
    char *text = json_dumps(o, JSON_INDENT(2));
    puts(text ? text : "{}");
    free(text);
    return CLI_OK;
}

/* Print a key list (taken) as JSON or as the table. */
static void
show_keys(json_t *o, bool as_json)
{
    if (as_json)
        print_json(o);
    else
        cli_print_keys(stdout, o);
    json_decref(o);
}

static int
run_keys(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_keys;
    bool as_json = false;
    const cli_opt_t opts[] = {{"json", CLI_FLAG, &as_json}, {NULL, 0, NULL}};
    const char *pos[1];
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 0, 1, &n, &done))
        return done;
    if (n == 0 || strcmp(pos[0], "list") == 0) {
        json_t *o = cli_local_keys();
        if (o == NULL)
            return cli_fail(cmd, "out of memory");
        show_keys(o, as_json);
        return CLI_OK;
    }
    if (strcmp(pos[0], "reload") != 0)
        return cli_usage_error(cmd, "unknown subcommand \"%.40s\"", pos[0]);
    char ep[TH_CLIENT_ENDPOINT_MAX];
    th_client_t *c = NULL;
    int rc = cli_endpoint(cmd, NULL, ep);
    if (rc == CLI_OK)
        rc = cli_connect(cmd, ep, &c);
    if (rc != CLI_OK)
        return rc;
    char *text = NULL;
    if (th_client_reload_keys(c, &text) != 0) {
        rc = cli_fail(cmd, "%s", th_client_errmsg(c));
        th_client_close(c);
        return rc;
    }
    th_client_close(c);
    json_t *o = json_loads(text, 0, NULL);
    th_client_free(text);
    if (o == NULL)
        return cli_fail(cmd, "the host's answer is not JSON");
    show_keys(o, as_json);
    return CLI_OK;
}

const cli_cmd_t cli_cmd_keys = {
    "keys", "list the trusted keys, or have the host reload them",
    "usage: thespian keys [list | reload] [--json]\n"
    "list (the default): the *_tls.key files of the director directory as a\n"
    "host reads them, each trusted one with its fingerprint (SHA-256 of the\n"
    "DER SubjectPublicKeyInfo, as `openssl pkey -pubin -outform DER |\n"
    "sha256sum` prints it), each skipped one with the reason. A key must be\n"
    "RSA 2048-8192 bits with e = 65537, a regular file (not a symlink), not\n"
    "group/world-writable, owned by the host's user or root; the directory\n"
    "likewise, or no key is trusted.\n"
    "reload: the running host reads its key directory again (as on SIGHUP):\n"
    "added keys are trusted from now on, removed ones no longer. Prints what\n"
    "the host now trusts. Nothing else can change the host's keys.\n",
    run_keys,
};
