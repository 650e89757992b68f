/*
 * director/cli_system.c — the commands about the host itself: start (spawn
 * thespiand as a daemon and wait until it answers), shutdown, and status
 * (a readable table, or --json for scripts).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "director/cli.h"
#include "proto/curve.h"

/* ---- start --------------------------------------------------------------- */

/* The status of the host answering at `ep` (owned, json_decref), or
 * NULL when none answers within a second. */
static json_t *
host_status(const char *ep)
{
    th_client_opts_t o = {.size = sizeof o, .endpoint = ep,
                          .connect_timeout_ms = 1000};
    th_client_t *c = NULL;
    if (th_client_connect(&c, &o, NULL) != 0)
        return NULL;
    char *text = NULL;
    int rc = th_client_status(c, &text);
    th_client_close(c);
    if (rc != 0)
        return NULL;
    json_t *st = json_loads(text, 0, NULL);
    th_client_free(text);
    return st;
}

/* What `start --json` prints: the host at `ep` as its status tells it. */
static int
start_result(const cli_cmd_t *cmd, const char *ep, const char *state,
             const json_t *st, const char *kdir)
{
    json_t *adm = json_object_get(st, "admin");
    return cli_json_result(
        cmd, json_pack("{s:s, s:s, s:I, s:O?, s:O?, s:s?}", "state", state,
                       "endpoint", ep, "pid",
                       json_integer_value(json_object_get(adm, "pid")),
                       "version", json_object_get(adm, "version"),
                       "directorDir", json_object_get(adm, "directorDir"),
                       "keyDir", kdir));
}

/* A host already answering at `ep` is used, as in Thespian — unless it
 * works on another director directory than this command's (`dd`, "" for
 * none): it trusts other keys and runs other bundles, so using it
 * silently would be a surprise. Returns -1 when no host answers, else
 * the exit code. */
static int
start_existing(const cli_cmd_t *cmd, const char *ep, const char *dd,
               bool as_json)
{
    json_t *st = host_status(ep);
    if (st == NULL)
        return -1; /* thespiand says why, if it cannot start either */
    int rc;
    json_t *adm = json_object_get(st, "admin");
    const char *theirs = json_string_value(json_object_get(adm, "directorDir"));
    char a[PATH_MAX], b[PATH_MAX];
    bool same = (theirs == NULL && dd[0] == '\0') ||
                (theirs && dd[0] && realpath(theirs, a) && realpath(dd, b) &&
                 strcmp(a, b) == 0);
    long pid = (long)json_integer_value(json_object_get(adm, "pid"));
    if (same && as_json) {
        rc = start_result(cmd, ep, "running", st, NULL);
    } else if (same) {
        fprintf(cli_json_out ? stderr : stdout,
                "an actor system is already running at %s (pid %ld); it is "
                "used\n",
                cli_safe(ep), pid);
        rc = CLI_OK;
    } else {
        rc = cli_fail(cmd,
                      "the actor system already running at %s (pid %ld) "
                      "works on director directory %s, not %s: it trusts "
                      "other keys. Shut it down first, or choose another "
                      "--endpoint",
                      ep, pid, theirs ? theirs : "(none)",
                      dd[0] ? dd : "(none)");
    }
    json_decref(st);
    return rc;
}

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

    char exe[PATH_MAX];
    cli_find_thespiand(exe, sizeof exe);
    const char *args[2 * 64 + 20];
    size_t n = 0;
    args[n++] = exe;
    args[n++] = "--daemon";
    args[n++] = "--endpoint";
    args[n++] = ep;
    for (size_t i = 0; i < plugins.n; i++) {
        args[n++] = "--plugin";
        args[n++] = plugins.items[i];
    }
    const char *pass[][2] = {{"--capabilities", caps},
                             {"--capabilities-file", caps_file},
                             {"--pidfile", pidfile},
                             {"--logfile", logfile},
                             {"--workers", workers}};
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
        if (pass[i][1]) {
            args[n++] = pass[i][0];
            args[n++] = pass[i][1];
        }
    /* the director directory every other command uses, when it exists:
     * the host's Source Authority and Director work on it */
    char dd[4096];
    struct stat dst;
    cli_director_dir(dd, sizeof dd);
    if (stat(dd, &dst) == 0 && S_ISDIR(dst.st_mode)) {
        args[n++] = "--director-dir";
        args[n++] = dd;
    } else {
        dd[0] = '\0';
    }
    int existing = start_existing(cmd, ep, dd, as_json);
    if (existing != -1)
        return existing;
    /* the admin keys where this user's clients look for them, so the
     * host made here answers them at once (docs/security.md) */
    char kdir[THI_CURVE_PATH], why[THI_CURVE_WHY];
    if (thi_curve_key_dir(kdir, NULL, NULL, why) != 0)
        return cli_fail(cmd, "%s", why);
    args[n++] = "--key-dir";
    args[n++] = kdir;
    args[n] = NULL;

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return cli_fail(cmd, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* thespiand's own lines ("serving ...") are progress: with
         * --json they go to standard error */
        if (cli_json_out && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
            _exit(127);
        execvp(exe, (char *const *)args);
        fprintf(stderr, "thespian start: cannot run %s: %s (set $THESPIAND)\n",
                exe, strerror(errno));
        _exit(127);
    }
    /* thespiand returns once its daemon serves (or failed) */
    int st = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return cli_fail(cmd, "waitpid: %s", strerror(errno));
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((t1.tv_sec - t0.tv_sec) * 1000 +
                (t1.tv_nsec - t0.tv_nsec) / 1000000 >
            timeout_ms) {
            kill(pid, SIGTERM);
            waitpid(pid, &st, 0);
            return cli_fail(cmd, "%s did not report ready within %d ms", exe,
                            timeout_ms);
        }
        struct timespec nap = {0, 10 * 1000000};
        nanosleep(&nap, NULL);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return cli_fail(cmd, "%s failed (exit %d)", exe,
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    /* and it answers us (the endpoint may be one thespiand already used) */
    th_client_t *c = NULL;
    if (cli_connect(cmd, ep, &c) != CLI_OK)
        return CLI_FAIL;
    th_client_close(c);
    if (!as_json)
        return CLI_OK;
    json_t *hs = host_status(ep);
    if (hs == NULL)
        return cli_fail(cmd, "the host at %s started but its status cannot "
                             "be read", ep);
    int rc = start_result(cmd, ep, "started", hs, kdir);
    json_decref(hs);
    return rc;
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
