/*
 * director/cli_system.c — the commands about the host itself: start (spawn
 * thespiand as a daemon and wait until it answers: cli_host.c), shutdown,
 * and status
 * (a readable table, or --json for scripts).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "director/cli_host.h"

/* ---- start --------------------------------------------------------------- */

static int
run_start(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_start;
    cli_list_t plugins = {.n = 0};
    const char *caps = NULL, *caps_file = NULL, *pidfile = NULL,
               *logfile = NULL, *workers = NULL, *timeout = NULL;
    bool as_json = false;
    const cli_opt_t opts[] = {
        {"json", CLI_FLAG, &as_json},
        {"plugin", CLI_LIST, &plugins},
        {"capabilities", CLI_STRING, &caps},
        {"capabilities-file", CLI_STRING, &caps_file},
        {"pidfile", CLI_STRING, &pidfile},
        {"logfile", CLI_STRING, &logfile},
        {"workers", CLI_STRING, &workers},
        {"timeout", CLI_STRING, &timeout},
        {NULL, 0, NULL},
    };
    const char *pos[1];
    size_t n_pos;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 0, 0, &n_pos, &done))
        return done;
    if (as_json)
        cli_json_out = true;
    int timeout_ms = 30000;
    if (timeout && !cli_seconds(timeout, &timeout_ms))
        return cli_usage_error(cmd, "--timeout %s: want seconds", timeout);
    if (caps && caps_file)
        return cli_usage_error(cmd, "give --capabilities or "
                                    "--capabilities-file, not both");
    char ep[TH_CLIENT_ENDPOINT_MAX];
    if (cli_endpoint(cmd, NULL, ep) != CLI_OK)
        return CLI_FAIL;

    /* thespiand's options, in the order it is given them */
    const char *extra[CLI_START_EXTRA_MAX];
    size_t n = 0;
    for (size_t i = 0; i < plugins.n; i++) {
        extra[n++] = "--plugin";
        extra[n++] = plugins.items[i];
    }
    const char *pass[][2] = {{"--capabilities", caps},
                             {"--capabilities-file", caps_file},
                             {"--pidfile", pidfile},
                             {"--logfile", logfile},
                             {"--workers", workers}};
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
        if (pass[i][1]) {
            extra[n++] = pass[i][0];
            extra[n++] = pass[i][1];
        }
    return cli_host_start(cmd, ep, extra, n, timeout_ms, as_json);
}

const cli_cmd_t cli_cmd_start = {
    "start",
    "start thespiand in the background and wait until it answers",
    "usage: thespian start [--endpoint E] [--plugin PATH]...\n"
    "                      [--capabilities JSON | --capabilities-file PATH]\n"
    "                      [--pidfile PATH] [--logfile PATH] [--workers N]\n"
    "                      [--timeout SECONDS] [--json]\n"
    "Start an actor system (thespiand in daemon mode) on the endpoint and\n"
    "wait until it answers (default 30 s). When a system already serves the\n"
    "endpoint it is used, as in Thespian, and the exit status is 0 — unless\n"
    "it works on another director directory (it trusts other keys): then\n"
    "start says which and exits 1.\n"
    "thespiand is $THESPIAND, else the one next to this thespian binary\n"
    "(or in the build tree), else thespiand on $PATH. With\n"
    "the director directory ($THESPIAN_DIRECTOR_DIR, else\n"
    "~/.thespian/director) present, the host runs the Source Authority and\n"
    "the Director on it, so `thespian load` works. The host's admin keys\n"
    "are in K/curve, K being $THESPIAN_KEY_DIR, else $THESPIAN_DIRECTOR_DIR,\n"
    "else ~/.thespian: a first start makes the host's key pair and an\n"
    "allow-listed operator key there, which this user's commands then use\n"
    "(docs/security.md).\n"
    "--json: {\"state\": \"started\"|\"running\" (an existing system is\n"
    "used), \"endpoint\", \"pid\", \"version\", \"directorDir\" (null: none),\n"
    "\"keyDir\" (started only)}; thespiand's own lines go to standard error.\n",
    run_start,
};

/* ---- shutdown ------------------------------------------------------------ */

static int
run_shutdown(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_shutdown;
    const char *timeout = NULL;
    bool as_json = false;
    const cli_opt_t opts[] = {{"timeout", CLI_STRING, &timeout},
                              {"json", CLI_FLAG, &as_json},
                              {NULL, 0, NULL}};
    const char *pos[1];
    size_t n_pos;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 0, 0, &n_pos, &done))
        return done;
    int timeout_ms = 30000;
    if (timeout && !cli_seconds(timeout, &timeout_ms))
        return cli_usage_error(cmd, "--timeout %s: want seconds", timeout);
    char ep[TH_CLIENT_ENDPOINT_MAX];
    th_client_t *c = NULL;
    if (cli_endpoint(cmd, NULL, ep) != CLI_OK)
        return CLI_FAIL;
    /* stopping is idempotent: nothing listening means nothing to stop
     * (anything else — a refused key, a silent listener — is a failure) */
    th_client_opts_t copts = {.size = sizeof copts, .endpoint = ep};
    th_client_error_t err;
    int crc = th_client_connect(&c, &copts, &err);
    if (crc == TH_ECLOSED) {
        if (as_json)
            return cli_json_result(cmd, json_pack("{s:s, s:s}", "state",
                                                  "not running", "endpoint",
                                                  ep));
        printf("no actor system runs at %s: nothing to shut down\n",
               cli_safe(ep));
        return CLI_OK;
    }
    if (crc != 0)
        return cli_fail(cmd, "%s: %s", th_errname(crc), err.message);
    int rc = th_client_shutdown(c, timeout_ms);
    if (rc != 0) {
        cli_fail(cmd, "%s", th_client_errmsg(c));
        th_client_close(c);
        return CLI_FAIL;
    }
    th_client_close(c);
    if (as_json)
        return cli_json_result(cmd, json_pack("{s:s, s:s}", "state",
                                              "shut down", "endpoint", ep));
    printf("the actor system at %s has shut down\n", ep);
    return CLI_OK;
}

const cli_cmd_t cli_cmd_shutdown = {
    "shutdown",
    "shut the actor system down in order",
    "usage: thespian shutdown [--endpoint E] [--timeout SECONDS] [--json]\n"
    "Ask the actor system to shut down in order (every actor gets\n"
    "ActorExitRequest, children before parents) and wait until it has\n"
    "(default 30 s). When nothing listens at the endpoint, there is\n"
    "nothing to stop: it says so and exits 0.\n"
    "--json: {\"state\": \"shut down\"|\"not running\", \"endpoint\"}.\n",
    run_shutdown,
};

/* ---- status -------------------------------------------------------------- */

static void
row(const char *key, const char *fmt, json_t *v)
{
    printf("%-14s", key);
    if (json_is_string(v))
        printf(fmt, cli_safe(json_string_value(v)));
    else if (json_is_integer(v))
        printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (v) {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s", t ? t : "?");
        free(t);
    } else
        printf("-");
    putchar('\n');
}

/* "GROUP VERSION HASH12" of the source `hash` names, from the host's
 * source list; the short hash alone when the list lacks it. */
static void
source_text(const json_t *sources, const char *hash, char *buf, size_t n)
{
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s)
    {
        const char *h = json_string_value(json_object_get(s, "hash"));
        if (h && !strcmp(h, hash)) {
            const char *v = json_string_value(json_object_get(s, "version"));
            snprintf(buf, n, "%s %s %.12s",
                     cli_safe(json_string_value(json_object_get(s, "group"))),
                     v ? cli_safe(v) : "(unversioned)", hash);
            return;
        }
    }
    snprintf(buf, n, "%.12s", cli_safe(hash));
}

static void
print_table(json_t *st, const json_t *sources)
{
    json_t *sys = json_object_get(st, "system");
    json_t *adm = json_object_get(st, "admin");
    row("endpoint", "%s", json_object_get(adm, "endpoint"));
    row("pid", "%s", json_object_get(adm, "pid"));
    row("system", "%s", json_object_get(sys, "name"));
    row("address", "%s", json_object_get(sys, "address"));
    row("uptime (s)", "%s", json_object_get(adm, "uptime_s"));
    row("workers", "%s", json_object_get(sys, "workers"));
    row("contexts", "%s", json_object_get(adm, "contexts"));
    row("live actors", "%s", json_object_get(sys, "live_actors"));
    row("messages", "%s", json_object_get(sys, "messages"));
    row("dead letters", "%s", json_object_get(sys, "dead_letters"));
    row("wakeups", "%s", json_object_get(sys, "pending_wakeups"));
    row("sources", "%s", json_object_get(sys, "sources"));
    row("capabilities", "%s", json_object_get(st, "capabilities"));
    json_t *plugins = json_object_get(adm, "plugins");
    size_t i;
    json_t *v;
    json_array_foreach(plugins, i, v) row(i == 0 ? "plugins" : "", "%s", v);

    /* global names by address, for the actor table */
    json_t *names = json_object_get(sys, "names");
    json_t *actors = json_object_get(sys, "actors");
    printf("\n%-48s %-24s %-16s %-7s %s\n", "ADDRESS", "CLASS", "NAME",
           "MAILBOX", "SOURCE (GROUP VERSION HASH)");
    json_array_foreach(actors, i, v)
    {
        const char *addr = json_string_value(json_object_get(v, "address"));
        const char *name = "-", *key;
        json_t *a;
        json_object_foreach(names, key, a) if (addr && json_is_string(a) &&
                                               strcmp(json_string_value(a),
                                                      addr) == 0) name = key;
        json_t *mb = json_object_get(v, "mailbox");
        const char *hash = json_string_value(json_object_get(v, "source"));
        char src[200] = "-"; /* a plugin loaded by path */
        if (hash)
            source_text(sources, hash, src, sizeof src);
        printf("%-48s %-24s %-16s %-7" JSON_INTEGER_FORMAT " %s\n",
               addr ? cli_safe(addr) : "?",
               json_string_value(json_object_get(v, "class"))
                   ? cli_safe(json_string_value(json_object_get(v, "class")))
                   : "?",
               cli_safe(name), json_is_integer(mb) ? json_integer_value(mb) : 0,
               src);
    }
    if (json_array_size(actors) == 0)
        printf("(no actors)\n");
}

static int
run_status(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_status;
    bool as_json = false;
    const cli_opt_t opts[] = {{"json", CLI_FLAG, &as_json}, {NULL, 0, NULL}};
    const char *pos[1];
    size_t n_pos;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 0, 0, &n_pos, &done))
        return done;
    char ep[TH_CLIENT_ENDPOINT_MAX];
    th_client_t *c = NULL;
    if (cli_endpoint(cmd, NULL, ep) != CLI_OK ||
        cli_connect(cmd, ep, &c) != CLI_OK)
        return CLI_FAIL;
    char *text = NULL;
    int rc = th_client_status(c, &text);
    if (rc != 0) {
        cli_fail(cmd, "%s", th_client_errmsg(c));
        th_client_close(c);
        return CLI_FAIL;
    }
    /* the source list names each actor's group and version */
    char *stext = NULL;
    json_t *sources = NULL;
    if (!as_json && th_client_sources(c, &stext) == 0) {
        sources = json_loads(stext, 0, NULL);
        th_client_free(stext);
    }
    th_client_close(c);
    json_t *st = json_loads(text, 0, NULL);
    if (st == NULL) {
        th_client_free(text);
        json_decref(sources);
        return cli_fail(cmd, "the host sent a status that is not JSON");
    }
    if (as_json) {
        char *pretty = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", pretty ? pretty : text);
        free(pretty);
    } else {
        print_table(st, sources);
    }
    json_decref(sources);
    json_decref(st);
    th_client_free(text);
    return CLI_OK;
}

const cli_cmd_t cli_cmd_status = {
    "status",
    "show the actor system's state (--json for scripts)",
    "usage: thespian status [--endpoint E] [--json]\n"
    "Show the actor system: endpoint, pid, counters, capabilities, plugins\n"
    "and a table of its actors, each with the source it runs from (group,\n"
    "version, hash prefix; \"-\" for a plugin loaded by path). --json\n"
    "prints the whole status object (the\n"
    "\"status\" reply of docs/protocol.md) for scripts.\n",
    run_status,
};
