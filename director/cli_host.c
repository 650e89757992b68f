/*
 * director/cli_host.c — starting a host: spawn thespiand as a daemon on
 * an endpoint and wait until it answers, or use the one already serving
 * there (`thespian start`, and `thespian load` when no host answers).
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
#include "director/cli_host.h"
#include "proto/curve.h"

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

int
cli_host_start(const cli_cmd_t *cmd, const char *ep, const char *const *extra,
               size_t n_extra, int timeout_ms, bool as_json)
{
    char exe[PATH_MAX];
    cli_find_thespiand(exe, sizeof exe);
    const char *args[CLI_START_EXTRA_MAX + 10];
    size_t n = 0;
    args[n++] = exe;
    args[n++] = "--daemon";
    args[n++] = "--endpoint";
    args[n++] = ep;
    for (size_t i = 0; i < n_extra && i < CLI_START_EXTRA_MAX; i++)
        args[n++] = extra[i];
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
        fprintf(stderr, "thespian %s: cannot run %s: %s (set $THESPIAND)\n",
                cmd->name, exe, strerror(errno));
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
