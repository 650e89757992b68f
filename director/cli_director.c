/*
 * director/cli_director.c — the commands about the director directory:
 * config (echo its *.cfg files), avail (the signed bundles it holds, by
 * group, with what the host has loaded) and refresh (load the newest of
 * each group). bootstart (a systemd unit that runs a host on it) is in
 * cli_bootstart.c.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "director/cli_tls.h"
#include "director/cli_verdict.h"
#include "director/config.h"
#include "loader/bundle.h"
#include "thespian/error.h"

/* ---- the host's sources ---------------------------------------------------- */

/* Connect to the host at `ep` without printing, retrying for wait_ms
 * (0: one attempt). Returns the client or NULL with the reason in err. */
static th_client_t *
host_connect(const char *ep, int wait_ms, th_client_error_t *err)
{
    th_client_opts_t o = {.size = sizeof o, .endpoint = ep,
                          .connect_timeout_ms = 3000};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        th_client_t *c = NULL;
        if (th_client_connect(&c, &o, err) == 0)
            return c;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
                  (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= wait_ms)
            return NULL;
        struct timespec nap = {0, 200 * 1000000};
        nanosleep(&nap, NULL);
    }
}

/* The host's loaded sources as a JSON array (owned), or NULL with the
 * reason in why. */
static json_t *
host_sources(th_client_t *c, char *why, size_t n)
{
    char *text = NULL;
    if (th_client_sources(c, &text) != 0) {
        snprintf(why, n, "%s", th_client_errmsg(c));
        return NULL;
    }
    json_t *all = json_loads(text, 0, NULL);
    th_client_free(text);
    if (!json_is_array(all)) {
        json_decref(all);
        snprintf(why, n, "the host sent a source list that is not a JSON "
                         "array");
        return NULL;
    }
    return all;
}

static const char *
field(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static bool
is_loaded(const json_t *sources, const char *hash)
{
    size_t i;
    const json_t *s;
    json_array_foreach(sources, i, s)
    {
        const char *h = field(s, "hash");
        if (h && *hash && strcmp(h, hash) == 0)
            return true;
    }
    return false;
}

/* The hash of the group's active source: for now the loaded (not
 * unloading) source of the group with the highest version. */
static const char *
active_hash(const json_t *sources, const char *group)
{
    const char *best = NULL, *best_v = NULL;
    size_t i;
    const json_t *s;
    json_array_foreach(sources, i, s)
    {
        const char *g = field(s, "group"), *v = field(s, "version");
        if (g == NULL || strcmp(g, group) != 0 ||
            json_is_true(json_object_get(s, "unloading")))
            continue;
        if (best == NULL || thi_version_cmp(v, best_v) > 0) {
            best = field(s, "hash");
            best_v = v;
        }
    }
    return best;
}

/* ---- config ---------------------------------------------------------------- */

/* Read every *.cfg of dir into *out {name: value}. Each bad file is
 * printed; CLI_FAIL when there was one. A missing directory is empty. */
static int
read_configs(const cli_cmd_t *cmd, const char *dir, json_t *out)
{
    char **names = NULL;
    size_t n = 0;
    th_diag_t d = {0};
    int e = thi_dir_names(&names, &n, dir, ".cfg", &d);
    if (e == TH_ENOENT)
        return CLI_OK;
    if (e != 0)
        return cli_fail(cmd, "director directory %s", d.msg);
    int rc = CLI_OK;
    for (size_t i = 0; i < n; i++) {
        char path[4400];
        json_t *v = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        thi_diag_clear(&d);
        if (thi_config_read(&v, path, &d) != 0)
            rc = cli_fail(cmd, "%s", d.msg);
        else
            json_object_set_new(out, names[i], v);
    }
    thi_names_free(names, n);
    return rc;
}

static void
print_config(const char *dir, const char *ep, json_t *cfg)
{
    struct stat st;
    printf("director directory: %s%s\nendpoint:           %s\n", dir,
           stat(dir, &st) != 0 ? " (does not exist)" : "", ep);
    if (json_object_size(cfg) == 0)
        printf("(no *.cfg files)\n");
    const char *name;
    json_t *v;
    json_object_foreach(cfg, name, v)
    {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        /* Thespian's own files: what they mean here */
        const char *note = "";
        if (!strcmp(name, "adminport.cfg"))
            note = json_object_get(cfg, "adminendpoint.cfg")
                       ? "  (Thespian's admin port; adminendpoint.cfg "
                         "takes precedence)"
                       : "  (Thespian's admin port: tcp://127.0.0.1:PORT "
                         "when no option or variable names the endpoint)";
        else if (!strcmp(name, "thespbase.cfg"))
            note = "  (Thespian's system base: no effect; thespiand is "
                   "the one kind of system)";
        printf("%-19s %s%s\n", name, text ? cli_safe(text) : "?", note);
        free(text);
    }
}

static int
run_config(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_config;
    bool as_json = false;
    const cli_opt_t opts[] = {{"json", CLI_FLAG, &as_json}, {NULL, 0, NULL}};
    const char *pos[1];
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 0, 0, &n, &done))
        return done;
    char dir[4096], ep[TH_CLIENT_ENDPOINT_MAX];
    cli_director_dir(dir, sizeof dir);
    json_t *cfg = json_object();
    int rc = read_configs(cmd, dir, cfg);
    if (rc == CLI_OK)
        rc = cli_endpoint(cmd, NULL, ep);
    json_t *keys = rc == CLI_OK ? cli_local_keys() : NULL;
    if (rc == CLI_OK && keys == NULL)
        rc = cli_fail(cmd, "out of memory");
    if (rc == CLI_OK && as_json) {
        json_t *all = json_pack("{s:s, s:s, s:O, s:O}", "directorDir", dir,
                                "endpoint", ep, "config", cfg, "keys", keys);
        char *text = json_dumps(all, JSON_INDENT(2) | JSON_ENCODE_ANY);
        puts(text ? text : "{}");
        free(text);
        json_decref(all);
    } else if (rc == CLI_OK) {
        print_config(dir, ep, cfg);
        cli_print_keys(stdout, keys);
    }
    json_decref(keys);
    json_decref(cfg);
    return rc;
}

const cli_cmd_t cli_cmd_config = {
    "config", "show the director directory and its configuration",
    "usage: thespian config [--json]\n"
    "Show the director directory ($THESPIAN_DIRECTOR_DIR, else\n"
    "~/.thespian/director), the endpoint by the discovery rule, and the\n"
    "JSON value of each *.cfg file there: convleader.cfg (\"HOST:PORT\" or\n"
    "an endpoint), othercaps.cfg (an object), thesplog.cfg and\n"
    "thesplogd.cfg (log configurations: docs/logging.md),\n"
    "adminendpoint.cfg (an endpoint string or a port) and any other. A file\n"
    "that is not a regular file, is over 64 KiB, is not JSON or has the\n"
    "wrong type is an error naming it (exit 1). Nothing in a file is run.\n"
    "Then the trusted keys, as `thespian keys` lists them: each *_tls.key\n"
    "with its fingerprint, or SKIPPED with the reason.\n"
    "--json prints {\"directorDir\", \"endpoint\", \"config\": {FILE: VALUE},\n"
    "\"keys\": {\"dir\", \"problem\"?, \"trusted\": [...], \"skipped\": [...]}}.\n",
    run_config,
};

/* ---- avail ----------------------------------------------------------------- */

/* The host's sources, or NULL (said once on stderr: no marks then). */
static json_t *
avail_sources(const cli_cmd_t *cmd)
{
    char ep[TH_CLIENT_ENDPOINT_MAX], why[600];
    th_client_error_t err;
    if (cli_endpoint(cmd, NULL, ep) != CLI_OK)
        return NULL;
    th_client_t *c = host_connect(ep, 0, &err);
    if (c == NULL) {
        fprintf(stderr, "thespian %s: no host answers at %s (%s): "
                "loaded/active not shown\n", cmd->name, cli_safe(ep),
                cli_safe(err.message));
        return NULL;
    }
    json_t *s = host_sources(c, why, sizeof why);
    th_client_close(c);
    if (s == NULL)
        fprintf(stderr, "thespian %s: %s: loaded/active not shown\n",
                cmd->name, cli_safe(why));
    return s;
}

static json_t *
avail_json(const cli_tls_scan_t *s, const char *only, const json_t *src)
{
    json_t *all = json_object(), *bad = json_array();
    for (size_t i = 0; i < s->n; i++) {
        const cli_tls_t *t = &s->items[i];
        if (t->group == NULL) {
            json_array_append_new(bad, json_pack("{s:s, s:s}", "file",
                                                 t->file, "reason",
                                                 t->reason));
            continue;
        }
        if (only && strcmp(only, t->group) != 0)
            continue;
        json_t *list = json_object_get(all, t->group);
        if (list == NULL)
            json_object_set_new(all, t->group, list = json_array());
        const char *act = active_hash(src, t->group);
        json_array_append_new(
            list, json_pack("{s:s?, s:s, s:s, s:b, s:b}", "version",
                            t->version, "hash", t->hash, "file", t->file,
                            "loaded", is_loaded(src, t->hash), "active",
                            act && strcmp(act, t->hash) == 0));
    }
    json_object_set_new(all, "unverified", bad);
    return all;
}

static void
avail_print(const cli_tls_scan_t *s, json_t *groups)
{
    printf("bundles in %s:\n", cli_safe(s->dir));
    const char *g;
    json_t *list;
    json_object_foreach(groups, g, list)
    {
        if (strcmp(g, "unverified") == 0)
            continue;
        printf("%s\n", cli_safe(g));
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e)
        printf("  %-14s %.12s  %s%s%s\n",
               field(e, "version") ? cli_safe(field(e, "version"))
                                   : "(unversioned)",
               cli_safe(field(e, "hash")), cli_safe(field(e, "file")),
               json_is_true(json_object_get(e, "loaded")) ? "  loaded" : "",
               json_is_true(json_object_get(e, "active")) ? " active" : "");
    }
    json_t *bad = json_object_get(groups, "unverified");
    if (json_array_size(bad))
        printf("unverified (not loadable):\n");
    size_t i;
    json_t *e;
    json_array_foreach(bad, i, e)
    printf("  %s\n", cli_safe(field(e, "reason"))); /* names the file */
}

static int
run_avail(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_avail;
    bool as_json = false;
    const cli_opt_t opts[] = {{"json", CLI_FLAG, &as_json}, {NULL, 0, NULL}};
    const char *pos[1];
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 0, 1, &n, &done))
        return done;
    if (n == 1 && !thi_group_name_ok(pos[0]))
        return cli_usage_error(cmd, "\"%s\" is not a group name", pos[0]);
    cli_tls_scan_t s;
    if (cli_tls_scan(cmd, &s) != CLI_OK)
        return CLI_FAIL;
    json_t *src = avail_sources(cmd);
    json_t *groups = avail_json(&s, n == 1 ? pos[0] : NULL, src);
    if (as_json) {
        char *text = json_dumps(groups, JSON_INDENT(2));
        puts(text ? text : "{}");
        free(text);
    } else {
        avail_print(&s, groups);
    }
    json_decref(groups);
    json_decref(src);
    cli_tls_scan_fini(&s);
    return CLI_OK;
}

const cli_cmd_t cli_cmd_avail = {
    "avail", "list the signed bundles in the director directory",
    "usage: thespian avail [GROUP] [--json]\n"
    "Check every *.tls file of the director directory against its\n"
    "*_tls.key keys and list them by group, newest version first\n"
    "(unversioned last): version, hash prefix, file, and the marks\n"
    "\"loaded\" (the running host has that source) and \"active\" (for now:\n"
    "the loaded source of the group with the highest version). With no host\n"
    "at the endpoint this is said once and no marks are shown. Bundles that\n"
    "do not verify are listed under \"unverified\" with the reason.\n"
    "--json prints {GROUP: [{version, hash, file, loaded, active}],\n"
    "\"unverified\": [{file, reason}]}.\n",
    run_avail,
};

/* ---- refresh --------------------------------------------------------------- */

/* Load `t` unless the host has it, and wait for the Director's verdict;
 * false when the load failed or the version did not start. The outcome
 * goes into `out` (an array) as {"group", "version", "hash", "file",
 * "state", "error"?}. */
static bool
refresh_one(const cli_cmd_t *cmd, th_client_t *c, const json_t *src,
            const cli_tls_t *t, json_t *out, bool quiet)
{
    const char *v = t->version ? t->version : "(unversioned)";
    json_t *res = json_pack("{s:s, s:s?, s:s, s:s}", "group", t->group,
                            "version", t->version, "hash", t->hash, "file",
                            t->file);
    json_array_append_new(out, res);
    if (is_loaded(src, t->hash)) {
        json_object_set_new(res, "state", json_string("unchanged"));
        if (!quiet)
            printf("unchanged %-16s %-14s %.12s  %s\n", cli_safe(t->group),
                   cli_safe(v), t->hash, cli_safe(t->file));
        return true;
    }
    json_t *before = cli_director_view(c);
    char hash[65];
    bool ok = true;
    if (th_client_load(c, hash, t->path) != 0) {
        json_object_set_new(res, "state", json_string("refused"));
        json_object_set_new(res, "error",
                            json_string(th_client_errmsg(c)));
        ok = false;
    } else {
        ok = cli_load_verdict(c, before, hash, res) == CLI_OK;
    }
    json_decref(before);
    const char *state = json_string_value(json_object_get(res, "state"));
    if (!ok) {
        cli_fail(cmd, "group %s: %s: %s%s", t->group, t->file,
                 json_string_value(json_object_get(res, "error")),
                 strcmp(state, "refused") ? " (did not start; the previous "
                                            "version stays active)"
                                          : "");
    } else if (!quiet) {
        printf("loaded    %-16s %-14s %.12s  %s%s\n", cli_safe(t->group),
               cli_safe(v), t->hash, cli_safe(t->file),
               !strcmp(state, "active") ? "  active"
               : json_object_get(res, "activeHash")
                   ? "  (not active: a newer version runs)"
                   : "");
    }
    return ok;
}

static int
run_refresh(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_refresh;
    const char *wait = NULL;
    bool as_json = false;
    const cli_opt_t opts[] = {{"wait", CLI_STRING, &wait},
                              {"json", CLI_FLAG, &as_json},
                              {NULL, 0, NULL}};
    const char *pos[1];
    size_t n;
    int done, wait_ms = 0;
    bool failed = false;
    if (!cli_parse(cmd, argc, argv, opts, pos, 0, 0, &n, &done))
        return done;
    cli_json_out = as_json;
    if (wait && !cli_seconds(wait, &wait_ms))
        return cli_usage_error(cmd, "--wait %s: want seconds", wait);
    char ep[TH_CLIENT_ENDPOINT_MAX], why[600];
    th_client_error_t err;
    if (cli_endpoint(cmd, NULL, ep) != CLI_OK)
        return CLI_FAIL;
    cli_tls_scan_t s;
    if (cli_tls_scan(cmd, &s) != CLI_OK)
        return CLI_FAIL;
    th_client_t *c = host_connect(ep, wait_ms, &err);
    json_t *src = c ? host_sources(c, why, sizeof why) : NULL;
    int rc = CLI_OK;
    if (c == NULL)
        rc = cli_fail(cmd, "%s", err.message);
    else if (src == NULL)
        rc = cli_fail(cmd, "%s", why);
    json_t *groups = json_array(), *skipped = json_array();
    for (size_t i = 0; rc == CLI_OK && i < s.n; i++) {
        const cli_tls_t *t = &s.items[i];
        if (t->group == NULL) {
            fprintf(stderr, "thespian %s: skipped %s\n", cmd->name,
                    cli_safe(t->reason));
            json_array_append_new(skipped,
                                  json_pack("{s:s, s:s}", "file", t->file,
                                            "reason", t->reason));
        } else if (cli_tls_newest(&s, t->group) != t) {
            continue;
        } else if (!refresh_one(cmd, c, src, t, groups, as_json)) {
            failed = true; /* go on with the other groups */
        }
    }
    if (rc == CLI_OK && failed)
        rc = CLI_FAIL;
    if (as_json && (c != NULL && src != NULL)) {
        json_t *all = json_pack("{s:o, s:o}", "groups", groups, "skipped",
                                skipped);
        cli_json_print(all);
        json_decref(all);
    } else {
        json_decref(groups);
        json_decref(skipped);
    }
    json_decref(src);
    th_client_close(c);
    cli_tls_scan_fini(&s);
    return rc;
}

const cli_cmd_t cli_cmd_refresh = {
    "refresh", "load the newest bundle of every group into the host",
    "usage: thespian refresh [--wait SECONDS] [--json]\n"
    "For every group in the director directory, load its newest verified\n"
    "bundle into the host; a group whose newest is loaded already is\n"
    "reported as unchanged. With a Director, each load waits for its\n"
    "verdict: active, loaded (a newer version runs), or failed to start.\n"
    "Every group is tried; exit 1 when any load was refused or its\n"
    "version did not start (each failure named). --wait retries\n"
    "connecting to the host that long (for a host that is still starting,\n"
    "as in bootstart). --json prints {\"groups\": [{\"group\", \"version\",\n"
    "\"hash\", \"file\", \"state\": \"unchanged\"|\"active\"|\"loaded\"|\n"
    "\"failed\"|\"refused\", \"error\"?}], \"skipped\": [{\"file\",\n"
    "\"reason\"}]}.\n",
    run_refresh,
};
