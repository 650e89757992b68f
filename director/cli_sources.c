/*
 * director/cli_sources.c — signed sources in a running host: load a .tls
 * bundle (the host's Source Authority verifies it) or a group's newest one
 * in the director directory, unload one by any unique prefix of its hash,
 * list what is loaded.
 */
#include <errno.h>
#include <unistd.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "director/cli_host.h"
#include "director/cli_tls.h"
#include "director/cli_verdict.h"
#include "loader/bundle.h"

static int
connected(const cli_cmd_t *cmd, const char *ep_opt, th_client_t **c)
{
    char ep[TH_CLIENT_ENDPOINT_MAX];
    int rc = cli_endpoint(cmd, ep_opt, ep);
    return rc == CLI_OK ? cli_connect(cmd, ep, c) : rc;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The bundle `arg` names, into path: FILE.tls as given; FILE.tli names
 * the group of its base name, anything else a GROUP: then the group's
 * newest verified bundle in the director directory. */
static int
load_target(const cli_cmd_t *cmd, const char *arg, char *path, size_t n)
{
    if (ends_with(arg, ".tls")) {
        snprintf(path, n, "%s", arg);
        return CLI_OK;
    }
    char group[256];
    const char *slash = strrchr(arg, '/'), *base = slash ? slash + 1 : arg;
    bool tli = ends_with(base, ".tli");
    size_t len = strlen(base) - (tli ? 4 : 0);
    snprintf(group, sizeof group, "%.*s", (int)len, base);
    if (len >= sizeof group || !thi_group_name_ok(group))
        return cli_usage_error(cmd,
                               tli ? "%s: the file's name is not GROUP.tli"
                                   : "\"%s\" is not a FILE.tls, FILE.tli "
                                     "or group name",
                               arg);
    return cli_tls_pick(cmd, group, path, n);
}

/* After a load: the bundle's TLI may say TLS_Keep_Limit N; then only the
 * newest N bundle files of its group stay in the director directory (the
 * one just loaded always stays). */
static void
prune_group(const cli_cmd_t *cmd, const char *path, const char *hash,
            json_t *pruned)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    th_diag_t d = {0};
    thi_keyring_t *kr = NULL;
    thi_bundle_t *b = NULL;
    char dir[4096];
    cli_director_dir(dir, sizeof dir);
    thi_verified_t v;
    if (thi_read_file(&buf, &len, path, THI_BUNDLE_MAX_BYTES, &d) != 0 ||
        thi_keyring_load_dir(&kr, dir, NULL, &d) != 0 ||
        thi_bundle_verify(&v, buf, len, kr, path, &d) != 0 ||
        thi_bundle_read(&b, buf, v.signed_len, path, &d) != 0)
        goto out;
    json_int_t keep = json_integer_value(json_object_get(b->tli,
                                                         "TLS_Keep_Limit"));
    if (keep <= 0)
        goto out;
    cli_tls_scan_t s = {0};
    if (cli_tls_scan(cmd, &s) != CLI_OK)
        goto out;
    json_int_t seen = 0;
    for (size_t i = 0; i < s.n; i++) {
        const cli_tls_t *t = &s.items[i];
        if (t->group == NULL || strcmp(t->group, b->group) != 0)
            continue;
        if (++seen > keep && strcmp(t->hash, hash) != 0) {
            if (unlink(t->path) != 0)
                fprintf(stderr, "thespian load: cannot prune %s: %s\n",
                        cli_safe(t->path), strerror(errno));
            else if (pruned)
                json_array_append_new(pruned, json_string(t->file));
            else
                printf("pruned %s (TLS_Keep_Limit %lld)\n",
                       cli_safe(t->file), (long long)keep);
        }
    }
    cli_tls_scan_fini(&s);
out:
    thi_bundle_free(b);
    thi_keyring_destroy(kr);
    free(buf);
}

/* The refusal a user can act on: a rollback names the option. */
static const char *
load_error(th_client_t *c, int e, char *buf, size_t n)
{
    const char *msg = th_client_errmsg(c);
    if (e == TH_EPERM && strstr(msg, "rollback refused"))
        snprintf(buf, n, "%s; load it with --allow-rollback", msg);
    else
        snprintf(buf, n, "%s", msg);
    return buf;
}

static int
run_load(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_load;
    const char *pos[1], *ep = NULL;
    bool rollback = false, as_json = false;
    cli_opt_t opts[] = {{"allow-rollback", CLI_FLAG, &rollback},
                        {"json", CLI_FLAG, &as_json},
                        {NULL, CLI_FLAG, NULL}};
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 1, 1, &n, &done))
        return done;
    cli_json_out = as_json;
    char path[PATH_MAX];
    int rc = load_target(cmd, pos[0], path, sizeof path);
    if (rc != CLI_OK)
        return rc;
    /* Thespian's load starts a system when none runs */
    char epbuf[TH_CLIENT_ENDPOINT_MAX];
    if (cli_endpoint(cmd, ep, epbuf) != CLI_OK)
        return CLI_FAIL;
    th_client_opts_t probe = {.size = sizeof probe, .endpoint = epbuf,
                              .connect_timeout_ms = 500};
    th_client_t *c = NULL;
    if (th_client_connect(&c, &probe, NULL) == 0) {
        th_client_close(c);
    } else {
        fprintf(as_json ? stderr : stdout,
                "no host answers at %s: starting one\n", cli_safe(epbuf));
        rc = cli_host_start(cmd, epbuf, NULL, 0, 30000, false);
        if (rc != CLI_OK)
            return rc;
    }
    rc = connected(cmd, ep, &c);
    if (rc != CLI_OK)
        return rc;
    /* the Director's view before: its verdict on this load is what
     * changes after it */
    json_t *before = cli_director_view(c);
    char hash[65], why[1200];
    int e = rollback ? th_client_load_rollback(c, hash, path)
                     : th_client_load(c, hash, path);
    json_t *res = json_pack("{s:s}", "file", path);
    if (e != 0) {
        rc = cli_fail(cmd, "%s", load_error(c, e, why, sizeof why));
        json_object_set_new(res, "state", json_string("refused"));
        json_object_set_new(res, "error", json_string(why));
    } else {
        rc = cli_load_verdict(c, before, hash, res);
    }
    th_client_close(c);
    json_decref(before);
    const char *group = json_string_value(json_object_get(res, "group"));
    const char *state = json_string_value(json_object_get(res, "state"));
    const char *act = json_string_value(json_object_get(res, "activeHash"));
    if (e == 0 && rc != CLI_OK)
        cli_fail(cmd, "%s (%.12s) did not start: %s; the previous version "
                      "stays active",
                 group ? group : path, hash,
                 json_string_value(json_object_get(res, "error")));
    json_t *pruned = as_json ? json_array() : NULL;
    if (!as_json && rc == CLI_OK) {
        printf("loaded %.12s  %s\n", hash, cli_safe(path));
        if (!strcmp(state, "active"))
            printf("active: group %s runs %.12s\n", cli_safe(group), hash);
        else if (group)
            printf("loaded, not active: group %s runs %.12s, a newer "
                   "version\n",
                   cli_safe(group), act ? act : "?");
    }
    if (rc == CLI_OK)
        prune_group(cmd, path, hash, pruned);
    if (as_json) {
        json_object_set_new(res, "pruned", pruned);
        cli_json_print(res);
    }
    json_decref(res);
    return rc;
}

const cli_cmd_t cli_cmd_load = {
    "load", "load a signed .tls bundle (or a group's newest) into the host",
    "usage: thespian load FILE.tls|FILE.tli|GROUP [--allow-rollback] "
    "[--json]\n"
    "With GROUP, or FILE.tli (the group of its base name), load the newest\n"
    "verified bundle of the group in the director directory (see avail;\n"
    "the chosen file is printed).\n"
    "Send the bundle to the host; its Source Authority checks the signature\n"
    "against the director directory's keys, then the host unpacks it into\n"
    "its own namespace and its classes can be created (create CLASS\n"
    "--source HASH). Prints the source hash (SHA-256 of the file). Loading a\n"
    "loaded bundle again does nothing. A version older than one the host\n"
    "accepted before is refused unless --allow-rollback (logged). When the\n"
    "bundle's TLI sets TLS_Keep_Limit N, only the newest N bundle files of\n"
    "its group stay in the director directory. With no host answering at\n"
    "the endpoint, one is started first (as `thespian start`). When the\n"
    "host runs a Director, load waits for its verdict: the version is\n"
    "active (or a newer one runs), or it failed to start (exit 1; the\n"
    "previous version stays active). --json prints {\"file\", \"hash\",\n"
    "\"state\": \"active\"|\"loaded\"|\"failed\"|\"refused\", \"group\",\n"
    "\"error\"?, \"pruned\": [FILE]} (also when it failed).\n",
    run_load,
};

/* The actors of the host's status that run from `hash`, as
 * [{"address", "class"}]; NULL when the status cannot be had. */
static json_t *
actors_of(th_client_t *c, const char *hash)
{
    char *text = NULL;
    if (th_client_status(c, &text) != 0)
        return NULL;
    json_t *st = json_loads(text, 0, NULL);
    th_client_free(text);
    json_t *out = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(st, "system"),
                                       "actors"),
                       i, a)
    {
        const char *h = json_string_value(json_object_get(a, "source"));
        if (h && !strcmp(h, hash))
            json_array_append_new(
                out, json_pack("{s:O, s:O}", "address",
                               json_object_get(a, "address"), "class",
                               json_object_get(a, "class")));
    }
    json_decref(st);
    return out;
}

/* Whether the host still lists `hash` among its sources. */
static bool
still_loaded(th_client_t *c, const char *hash)
{
    char *text = NULL;
    if (th_client_sources(c, &text) != 0)
        return true;
    json_t *all = json_loads(text, 0, NULL);
    th_client_free(text);
    bool found = false;
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s)
    {
        const char *h = json_string_value(json_object_get(s, "hash"));
        found = found || (h && !strcmp(h, hash));
    }
    json_decref(all);
    return found;
}

/* After the unload: wait up to 3 s for the source to go, then say what
 * is true — gone, or still mapped for the actors that run from it (those
 * nobody asked to exit: created outside the Director's TLI). */
static int
unload_outcome(th_client_t *c, const char *hash, bool director, bool as_json)
{
    bool gone = false;
    for (int i = 0; i < 60 && !(gone = !still_loaded(c, hash)); i++) {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    json_t *running = gone ? json_array() : actors_of(c, hash);
    json_t *res = json_pack("{s:s, s:s, s:o}", "hash", hash, "state",
                            gone ? "unloaded" : "unloading", "running",
                            running ? running : json_array());
    if (as_json) {
        cli_json_print(res);
    } else if (gone) {
        printf("unloaded %.12s: its actors have exited and its code is "
               "unmapped\n",
               hash);
    } else {
        size_t n = json_array_size(running);
        printf("unloading %.12s: no new actors from it; %zu actor%s still "
               "run%s from it%s; its code is unmapped when %s exited:\n",
               hash, n, n == 1 ? "" : "s", n == 1 ? "s" : "",
               director ? " (not started by the Director, so not asked "
                          "to exit)"
                        : "",
               n == 1 ? "it has" : "they have");
        size_t i;
        json_t *a;
        json_array_foreach(running, i, a)
            printf("  %s  %s\n",
                   cli_safe(json_string_value(json_object_get(a, "address"))),
                   cli_safe(json_string_value(json_object_get(a, "class"))));
    }
    json_decref(res);
    return CLI_OK;
}

static int
run_unload(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_unload;
    const char *pos[1];
    bool as_json = false;
    cli_opt_t opts[] = {{"json", CLI_FLAG, &as_json}, {NULL, CLI_FLAG, NULL}};
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 1, 1, &n, &done))
        return done;
    th_client_t *c;
    int rc = connected(cmd, NULL, &c);
    if (rc != CLI_OK)
        return rc;
    th_addr_t director;
    char hash[65] = "";
    bool by_director = th_client_lookup(c, &director, "Director") == 0;
    if (by_director) {
        /* the Director retires the version's actors (OnDeactivate, then
         * ActorExitRequest) and reactivates the previous version */
        json_t *q = json_pack("{s:s, s:s}", "DirectorOp", "Unload", "hash",
                              pos[0]);
        char *body = json_dumps(q, JSON_COMPACT);
        json_decref(q);
        th_client_msg_t *m = NULL;
        int e = th_client_ask_name(c, &m, "Director", "DirectorOp", body,
                                   strlen(body), 10000);
        free(body);
        json_t *r = e == 0 ? json_loadb(m->data, m->len, 0, NULL) : NULL;
        const char *err = json_string_value(json_object_get(r, "error"));
        const char *h = json_string_value(json_object_get(r, "hash"));
        if (e != 0)
            rc = cli_fail(cmd, "the Director did not answer: %s",
                          th_client_errmsg(c));
        else if (err && *err)
            rc = cli_fail(cmd, "%s: %s", pos[0], err);
        else if (h == NULL || strlen(h) != 64)
            rc = cli_fail(cmd, "the Director's answer names no source");
        else
            snprintf(hash, sizeof hash, "%s", h);
        json_decref(r);
        th_client_msg_free(m);
    } else if (th_client_unload(c, pos[0]) != 0) {
        rc = cli_fail(cmd, "%s", th_client_errmsg(c));
    } else {
        /* the full hash, for the outcome: the prefix was unique */
        char *text = NULL;
        json_t *all = th_client_sources(c, &text) == 0
                          ? json_loads(text, 0, NULL)
                          : NULL;
        th_client_free(text);
        size_t i;
        json_t *s;
        json_array_foreach(all, i, s)
        {
            const char *h = json_string_value(json_object_get(s, "hash"));
            if (h && !strncmp(h, pos[0], strlen(pos[0])) &&
                json_is_true(json_object_get(s, "unloading")))
                snprintf(hash, sizeof hash, "%s", h);
        }
        json_decref(all);
        if (hash[0] == '\0' && !as_json)
            printf("unloaded %s\n", cli_safe(pos[0]));
        else if (hash[0] == '\0') {
            json_t *res = json_pack("{s:s, s:s, s:[]}", "hash", pos[0],
                                    "state", "unloaded", "running");
            cli_json_print(res);
            json_decref(res);
        }
    }
    if (rc == CLI_OK && hash[0])
        rc = unload_outcome(c, hash, by_director, as_json);
    th_client_close(c);
    return rc;
}

const cli_cmd_t cli_cmd_unload = {
    "unload", "unload a source by its hash (any unique prefix)",
    "usage: thespian unload HASH [--json]\n"
    "Stop new actors from the source at once; the host unmaps its code when\n"
    "the last of its actors has exited. HASH may be any unique prefix. With\n"
    "a Director, the actors it started from the version get OnDeactivate\n"
    "and ActorExitRequest. unload waits up to 3 s and says what is true:\n"
    "\"unloaded\" (code unmapped), or \"unloading\" with the actors that\n"
    "still run from it (created outside the TLI: nobody asked them to\n"
    "exit). --json prints {\"hash\", \"state\": \"unloaded\"|\"unloading\",\n"
    "\"running\": [{\"address\", \"class\"}]}.\n",
    run_unload,
};

static int
run_list(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_list;
    const char *pos[1];
    bool as_json = false;
    cli_opt_t opts[] = {{"json", CLI_FLAG, &as_json}, {NULL, CLI_FLAG, NULL}};
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 0, 1, &n, &done))
        return done;
    th_client_t *c;
    int rc = connected(cmd, NULL, &c);
    if (rc != CLI_OK)
        return rc;
    char *text = NULL;
    if (th_client_sources(c, &text) != 0) {
        rc = cli_fail(cmd, "%s", th_client_errmsg(c));
        th_client_close(c);
        return rc;
    }
    json_t *all = json_loads(text, 0, NULL);
    th_client_free(text);
    json_t *shown = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(all, i, s)
    {
        const char *g = json_string_value(json_object_get(s, "group"));
        if (n == 0 || (g && strcmp(g, pos[0]) == 0))
            json_array_append(shown, s);
    }
    if (as_json) {
        char *out = json_dumps(shown, JSON_INDENT(2));
        puts(out ? out : "[]");
        free(out);
    } else {
        printf("%-16s %-12s %-12s %6s  %s\n", "GROUP", "VERSION", "HASH",
               "ACTORS", "INFO");
        json_array_foreach(shown, i, s)
        {
            const char *v = json_string_value(json_object_get(s, "version"));
            printf("%-16s %-12s %-12.12s %6lld  %s%s\n",
                   cli_safe(json_string_value(json_object_get(s, "group"))),
                   v ? cli_safe(v) : "-",
                   cli_safe(json_string_value(json_object_get(s, "hash"))),
                   (long long)json_integer_value(
                       json_object_get(s, "live_actors")),
                   cli_safe(json_string_value(json_object_get(s, "info"))),
                   json_is_true(json_object_get(s, "unloading"))
                       ? " (unloading)"
                       : "");
        }
    }
    json_decref(shown);
    json_decref(all);
    th_client_close(c);
    return rc;
}

const cli_cmd_t cli_cmd_list = {
    "list", "list the loaded sources",
    "usage: thespian list [GROUP] [--json]\n"
    "One line per loaded source: group, version, hash prefix, live actors,\n"
    "info. --json prints the list of sources as JSON objects (hash, group,\n"
    "version, info, key, live_actors, unloading).\n",
    run_list,
};

static int
run_role(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_role;
    const char *pos[2];
    bool as_json = false;
    cli_opt_t opts[] = {{"json", CLI_FLAG, &as_json}, {NULL, CLI_FLAG, NULL}};
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 1, 2, &n, &done))
        return done;
    th_client_t *c;
    int rc = connected(cmd, NULL, &c);
    if (rc != CLI_OK)
        return rc;
    th_addr_t a;
    if (th_client_role(c, &a, pos[0], n == 2 ? pos[1] : NULL, 10000) != 0) {
        rc = cli_fail(cmd, "%s", th_client_errmsg(c));
    } else {
        char text[TH_ADDR_STRLEN];
        th_client_addr_format(&a, text, sizeof text);
        if (as_json) {
            json_t *o = json_pack("{s:s, s:s, s:s?}", "address", text, "role",
                                  pos[0], "group", n == 2 ? pos[1] : NULL);
            cli_json_print(o);
            json_decref(o);
        } else {
            printf("%s  %s%s%s\n", text, cli_safe(pos[0]),
                   n == 2 ? "  group " : "", n == 2 ? cli_safe(pos[1]) : "");
        }
    }
    th_client_close(c);
    return rc;
}

const cli_cmd_t cli_cmd_role = {
    "role", "the address of the actor playing a role",
    "usage: thespian role ROLE [GROUP] [--json]\n"
    "Ask the Director which actor of an active version plays ROLE (as the\n"
    "TLI names it), optionally only in GROUP. Prints the address, the role,\n"
    "the group and the global name, if any. --json prints {\"address\",\n"
    "\"role\", \"group\"}.\n",
    run_role,
};
