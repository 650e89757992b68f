/*
 * director/cli_clients.c — the admin endpoint's clients from the command
 * line: `allow` (put a client's public key into this host's allow-list)
 * and `revoke` (take it out); their key pairs come from `keygen --admin`
 * (cli_keygen.c). Keys and layout: proto/curve.c, docs/security.md.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "loader/plugin.h"
#include "proto/curve.h"

/* K/curve/clients of this user's key directory. */
static int
clients_dir(const cli_cmd_t *cmd, char *buf, size_t size)
{
    char kdir[THI_CURVE_PATH], why[THI_CURVE_WHY];
    if (thi_curve_key_dir(kdir, NULL, NULL, why) != 0)
        return cli_fail(cmd, "%s", why);
    snprintf(buf, size, "%.4000s/" THI_CURVE_SUBDIR "/" THI_CURVE_CLIENTS,
             kdir);
    if (access(buf, F_OK) != 0)
        return cli_fail(cmd,
                        "%s: %s (the host makes it at its first start on a "
                        "tcp:// endpoint)",
                        buf, strerror(errno));
    return CLI_OK;
}

static int
run_allow(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_allow;
    const char *name = NULL;
    bool as_json = false;
    cli_opt_t opts[] = {{"name", CLI_STRING, &name},
                        {"json", CLI_FLAG, &as_json},
                        {NULL, CLI_FLAG, NULL}};
    const char *pos[1];
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 1, 1, &n, &done))
        return done;
    char key[THI_CURVE_Z85], why[THI_CURVE_WHY], derived[64];
    if (thi_curve_load_public(key, pos[0], why) != 0)
        return cli_fail(cmd, "%s", why);
    if (name == NULL) { /* the file's name without .pub */
        const char *base = strrchr(pos[0], '/');
        base = base ? base + 1 : pos[0];
        size_t len = strcspn(base, ".");
        snprintf(derived, sizeof derived, "%.*s", (int)(len < 63 ? len : 63),
                 base);
        name = derived;
    }
    if (!thi_plugin_valid_name(name))
        return cli_usage_error(cmd,
                               "client name \"%s\" must be 1-64 of A-Z a-z "
                               "0-9 _ (give --name)",
                               name);
    char dir[THI_CURVE_PATH + 64], path[THI_CURVE_PATH + 160];
    if (clients_dir(cmd, dir, sizeof dir) != CLI_OK)
        return CLI_FAIL;
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    int rc = thi_curve_write_public(path, key, name, why);
    if (rc == TH_EEXIST)
        return cli_fail(cmd, "%s exists already: revoke %s first", path, name);
    if (rc != 0)
        return cli_fail(cmd, "%s", why);
    if (as_json)
        return cli_json_result(cmd, json_pack("{s:s, s:s, s:s}", "name", name,
                                              "key", key, "path", path));
    printf("allowed %s (%s): new connections with its key are accepted\n", name,
           key);
    return CLI_OK;
}

const cli_cmd_t cli_cmd_allow = {
    "allow",
    "allow a client's admin key (CurveZMQ) on this user's host",
    "usage: thespian allow PUBFILE [--name NAME] [--json]\n"
    "Copy the public key in PUBFILE (made by `thespian keygen --admin`)\n"
    "into the allow-list K/curve/clients/NAME.pub, K being\n"
    "$THESPIAN_KEY_DIR, else $THESPIAN_DIRECTOR_DIR, else ~/.thespian.\n"
    "NAME defaults to PUBFILE's name without its extension. The host reads\n"
    "the allow-list at every new connection: no restart or reload.\n"
    "--json: {\"name\", \"key\" (Z85), \"path\" (the file written)}.\n",
    run_allow,
};

static int
run_revoke(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_revoke;
    bool as_json = false;
    cli_opt_t opts[] = {{"json", CLI_FLAG, &as_json}, {NULL, CLI_FLAG, NULL}};
    const char *pos[1];
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 1, 1, &n, &done))
        return done;
    if (!thi_plugin_valid_name(pos[0]))
        return cli_usage_error(cmd,
                               "client name \"%s\" must be 1-64 of A-Z a-z "
                               "0-9 _",
                               pos[0]);
    char dir[THI_CURVE_PATH + 64], path[THI_CURVE_PATH + 160];
    if (clients_dir(cmd, dir, sizeof dir) != CLI_OK)
        return CLI_FAIL;
    snprintf(path, sizeof path, "%s/%s.pub", dir, pos[0]);
    if (unlink(path) != 0)
        return cli_fail(cmd, "%s: %s", path, strerror(errno));
    if (as_json)
        return cli_json_result(cmd, json_pack("{s:s, s:s}", "name", pos[0],
                                              "path", path));
    printf("revoked %s: new connections with its key are refused (open "
           "ones stay until they close)\n",
           pos[0]);
    return CLI_OK;
}

const cli_cmd_t cli_cmd_revoke = {
    "revoke",
    "take a client's admin key out of this user's host's allow-list",
    "usage: thespian revoke NAME [--json]\n"
    "Remove K/curve/clients/NAME.pub (see `thespian allow`). It takes\n"
    "effect at once for new connections; connections already open stay\n"
    "until they close (stop the client, or restart the host, to end them).\n"
    "--json: {\"name\", \"path\" (the file removed)}.\n",
    run_revoke,
};
