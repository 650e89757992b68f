/*
 * director/cli_bootstart.c — `thespian bootstart`: write a systemd unit
 * that runs a host on the director directory at boot (as the directory's
 * owner, or --user), then enable and start it with systemctl.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "base/file.h"
#include "thespian/error.h"

extern char **environ;

static bool
unit_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_-") == n;
}

/* `in` made absolute in out (n bytes): realpath when it exists, else
 * joined to the working directory. */
static bool
absolute(const char *in, char *out, size_t n)
{
    char cwd[PATH_MAX], real[PATH_MAX];
    if (realpath(in, real))
        return (size_t)snprintf(out, n, "%s", real) < n;
    if (in[0] == '/')
        return (size_t)snprintf(out, n, "%s", in) < n;
    return getcwd(cwd, sizeof cwd) &&
           (size_t)snprintf(out, n, "%s/%s", cwd, in) < n;
}

/* thespiand as `start` finds it, as an absolute path of an executable. */
static bool
thespiand_path(char *out, size_t n)
{
    char exe[PATH_MAX];
    cli_find_thespiand(exe, sizeof exe);
    if (strchr(exe, '/'))
        return absolute(exe, out, n) && access(out, X_OK) == 0;
    const char *path = getenv("PATH");
    char *copy = strdup(path ? path : "/usr/bin:/bin"), *save = NULL;
    bool found = false;
    for (char *d = strtok_r(copy, ":", &save); copy && d && !found;
         d = strtok_r(NULL, ":", &save))
        found = *d == '/' &&
                (size_t)snprintf(out, n, "%s/%s", d, exe) < n &&
                access(out, X_OK) == 0;
    free(copy);
    return found;
}

/* One word of a unit line: quoted when it holds blanks or quotes; '%'
 * (specifiers) doubled, and '$' too in Exec lines (variables). Control
 * characters cannot be written: false. */
static bool
unit_word(FILE *f, const char *s, bool exec)
{
    bool quote = *s == '\0' || strpbrk(s, " \t\"'\\;") != NULL;
    if (quote)
        fputc('"', f);
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
        if (*p == '%' || (exec && *p == '$'))
            fputc(*p, f);
        else if (quote && (*p == '"' || *p == '\\'))
            fputc('\\', f);
        fputc(*p, f);
    }
    if (quote)
        fputc('"', f);
    return true;
}

/* The unit text (malloc'd) into *out; false when a value cannot be put
 * into a unit (a control character). */
/* Is path `top` itself or below it? */
static bool
in_dir(const char *path, const char *top)
{
    size_t n = strlen(top);
    return strncmp(path, top, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* The directory an ipc:// endpoint's socket lives in (into out), or
 * false for tcp://. */
static bool
ipc_dir(const char *ep, char *out, size_t n)
{
    if (strncmp(ep, "ipc://", 6) != 0)
        return false;
    snprintf(out, n, "%s", ep + 6);
    char *slash = strrchr(out, '/');
    if (slash == NULL || slash == out)
        return false;
    *slash = '\0';
    return true;
}

static bool
unit_text(char **out, size_t *len, const char *name, const char *daemon,
          const char *dir, const char *ep, const char *self, const char *user)
{
    FILE *f = open_memstream(out, len);
    if (f == NULL)
        return false;
    /* Type=notify: thespiand sends READY=1 once its keys, the Source
     * Authority and the admin endpoint are in place, so ExecStartPost
     * (refresh) and units ordered after this one start against a host
     * that answers. Its standard error is the journal. */
    fprintf(f, "# written by `thespian bootstart %s`\n[Unit]\n"
            "Description=thespian-c actor system %s\n"
            "Wants=network-online.target\n"
            "After=network-online.target\n\n[Service]\nType=notify\n"
            "NotifyAccess=main\nUser=",
            name, name);
    bool ok = unit_word(f, user, false);
    fputs("\nEnvironment=", f);
    char assign[PATH_MAX + 32];
    snprintf(assign, sizeof assign, "THESPIAN_DIRECTOR_DIR=%s", dir);
    ok = ok && unit_word(f, assign, false);
    fputs("\nExecStart=", f);
    ok = ok && unit_word(f, daemon, true);
    fputs(" --foreground --director-dir ", f);
    ok = ok && unit_word(f, dir, true);
    fputs(" --endpoint ", f);
    ok = ok && unit_word(f, ep, true);
    /* '-': a bundle that fails to load must not take the host down */
    fputs("\nExecStartPost=-", f);
    ok = ok && unit_word(f, self, true);
    fputs(" --endpoint ", f);
    ok = ok && unit_word(f, ep, true);
    fputs(" refresh --wait 30\nRestart=on-failure\n", f);
    /* Hardening (systemd.exec(5)): the host writes only its director
     * directory (keys, state, sources) and, for ipc://, the socket's
     * directory; the rest of the file system is read-only to it. */
    fputs("NoNewPrivileges=yes\nProtectSystem=strict\nReadWritePaths=", f);
    ok = ok && unit_word(f, dir, false);
    char sock[PATH_MAX];
    bool ipc = ipc_dir(ep, sock, sizeof sock);
    if (ipc) {
        fputs(" -", f); /* '-': made by the host if missing */
        ok = ok && unit_word(f, sock, false);
    }
    /* what the host must see where everyone sees it: its binaries, its
     * director directory, its socket; a private /tmp or a hidden /home
     * would take them away */
    const char *paths[] = {dir, daemon, self, ipc ? sock : dir};
    bool tmp = false, home = false;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        tmp = tmp || in_dir(paths[i], "/tmp") || in_dir(paths[i], "/var/tmp");
        home = home || in_dir(paths[i], "/home") ||
               in_dir(paths[i], "/root") || in_dir(paths[i], "/run/user");
    }
    fprintf(f, "\nPrivateTmp=%s\nProtectHome=%s\n", tmp ? "no" : "yes",
            home ? "read-only" : "yes");
    fputs("PrivateDevices=yes\nProtectKernelTunables=yes\n"
          "ProtectKernelModules=yes\nProtectKernelLogs=yes\n"
          "ProtectControlGroups=yes\nProtectClock=yes\n"
          "ProtectHostname=yes\nRestrictSUIDSGID=yes\n"
          "RestrictNamespaces=yes\nRestrictRealtime=yes\n"
          "LockPersonality=yes\n"
          "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n"
          "SystemCallArchitectures=native\nUMask=0077\n"
          "\n[Install]\nWantedBy=multi-user.target\n",
          f);
    if (fclose(f) != 0 || !ok) {
        free(*out);
        *out = NULL;
        return false;
    }
    return true;
}

/* Run systemctl with args; CLI_OK when it exited 0. */
static int
systemctl(const cli_cmd_t *cmd, char *const *args)
{
    pid_t pid;
    fflush(NULL);
    int e = posix_spawnp(&pid, "systemctl", NULL, NULL, args, environ);
    if (e != 0)
        return cli_fail(cmd, "cannot run systemctl: %s (the unit is written; "
                        "start it by hand, or use nostart)", strerror(e));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return cli_fail(cmd, "systemctl %s%s%s failed (exit %d)", args[1],
                        args[2] ? " " : "", args[2] ? args[2] : "",
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return CLI_OK;
}

static int
bootstart_args(const cli_cmd_t *cmd, const char **pos, size_t n,
               const char **name, bool *nostart)
{
    *name = "thespian";
    *nostart = n > 0 && strcmp(pos[n - 1], "nostart") == 0;
    if (n == 2 && !*nostart)
        return cli_usage_error(cmd, "the second argument must be "
                                    "\"nostart\", not \"%s\"", pos[1]);
    if (n == 2 || (n == 1 && !*nostart))
        *name = pos[0];
    if (!unit_name_ok(*name))
        return cli_usage_error(cmd, "NAME \"%s\" must be 1-64 of A-Z a-z "
                                    "0-9 _ -", *name);
    return CLI_OK;
}

static int
run_bootstart(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_bootstart;
    const char *pos[2], *name;
    size_t n;
    int done;
    bool nostart;
    const char *user = NULL;
    bool as_json = false;
    const cli_opt_t opts[] = {{"user", CLI_STRING, &user},
                              {"json", CLI_FLAG, &as_json},
                              {NULL, 0, NULL}};
    if (!cli_parse(cmd, argc, argv, opts, pos, 0, 2, &n, &done))
        return done;
    if ((done = bootstart_args(cmd, pos, n, &name, &nostart)) != CLI_OK)
        return done;
    char ep[TH_CLIENT_ENDPOINT_MAX], dd[4096], dir[PATH_MAX];
    char daemon[PATH_MAX], self[PATH_MAX], unit[PATH_MAX];
    if (cli_endpoint(cmd, NULL, ep) != CLI_OK)
        return CLI_FAIL;
    cli_director_dir(dd, sizeof dd);
    if (!absolute(dd, dir, sizeof dir))
        return cli_fail(cmd, "%s: cannot make the path absolute", dd);
    /* the host runs as the director directory's owner unless told: its
     * keys and state are there, and a key is trusted only when its owner
     * is the host's user or root (docs/security.md) */
    struct stat dst;
    int serr = stat(dir, &dst) != 0 ? errno : 0;
    if (serr || !S_ISDIR(dst.st_mode))
        return cli_fail(cmd, "director directory %s: %s (make it and put the "
                        "trusted keys in it first; see keys/README.md)",
                        dir, serr ? strerror(serr) : "not a directory");
    char owner[256];
    if (user == NULL) {
        struct passwd *pw = getpwuid(dst.st_uid);
        if (pw == NULL)
            return cli_fail(cmd, "director directory %s: its owner (uid %ld) "
                            "has no user name; give --user NAME", dir,
                            (long)dst.st_uid);
        snprintf(owner, sizeof owner, "%s", pw->pw_name);
        user = owner;
    } else if (getpwnam(user) == NULL) {
        return cli_fail(cmd, "--user %s: no such user", cli_safe(user));
    }
    if (!thespiand_path(daemon, sizeof daemon))
        return cli_fail(cmd, "thespiand not found (set $THESPIAND, or put it "
                             "beside thespian or on $PATH)");
    if (!cli_self_exe(self, sizeof self))
        return cli_fail(cmd, "/proc/self/exe: cannot find this binary");
    const char *udir = getenv("THESPIAN_SYSTEMD_DIR");
    snprintf(unit, sizeof unit, "%.3000s/thespian-%s.service",
             udir && *udir ? udir : "/etc/systemd/system", name);
    char *text = NULL;
    size_t len = 0;
    if (!unit_text(&text, &len, name, daemon, dir, ep, self, user))
        return cli_fail(cmd, "a path or the endpoint holds a control "
                             "character: it cannot go into a unit");
    th_diag_t d = {0};
    int rc = thi_write_file_atomic(unit, (const uint8_t *)text, len, &d);
    free(text);
    if (rc != 0)
        return cli_fail(cmd, "%s", d.msg);
    if (!as_json)
        printf("%s\n", unit);
    char svc[128];
    snprintf(svc, sizeof svc, "thespian-%s.service", name);
    if (!nostart) {
        char *reload[] = {"systemctl", "daemon-reload", NULL};
        char *enable[] = {"systemctl", "enable", "--now", svc, NULL};
        /* a failure names the unit written: it stays, to start by hand */
        if (systemctl(cmd, reload) != CLI_OK ||
            systemctl(cmd, enable) != CLI_OK) {
            if (as_json)
                fprintf(stderr, "thespian %s: unit written: %s\n", cmd->name,
                        cli_safe(unit));
            return CLI_FAIL;
        }
        if (!as_json)
            printf("enabled and started %s\n", svc);
    }
    if (!as_json)
        return CLI_OK;
    return cli_json_result(
        cmd, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "unit", unit,
                       "service", svc, "user", user, "directorDir", dir,
                       "endpoint", ep, "thespiand", daemon, "exec", self,
                       "started", !nostart));
}

const cli_cmd_t cli_cmd_bootstart = {
    "bootstart", "install a systemd unit that runs a host at boot",
    "usage: thespian bootstart [--user USER] [NAME] [nostart] [--json]\n"
    "Write the systemd unit thespian-NAME.service (NAME: 1-64 of A-Z a-z\n"
    "0-9 _ -, default \"thespian\") into $THESPIAN_SYSTEMD_DIR (default\n"
    "/etc/systemd/system). It runs `thespiand --foreground --director-dir\n"
    "DIR --endpoint E` (thespiand found as `start` finds it, DIR the\n"
    "director directory, which must exist, E the endpoint by the discovery\n"
    "rule, all absolute) as Type=notify (ready once keys and the Source\n"
    "Authority are in place; its log goes to the journal), as User=USER\n"
    "(default: DIR's owner), with THESPIAN_DIRECTOR_DIR=DIR, then\n"
    "`thespian --endpoint E refresh --wait 30` (a failure there does not\n"
    "stop the host), Restart=on-failure, hardening (NoNewPrivileges,\n"
    "ProtectSystem=strict with ReadWritePaths=DIR, PrivateTmp,\n"
    "ProtectHome, ...: docs/cli.md), WantedBy=multi-user.target. Then,\n"
    "unless nostart, "
    "`systemctl daemon-reload` and `systemctl enable --now` the unit (exit\n"
    "1 when systemctl is missing or fails). Prints the unit's path.\n"
    "--json: {\"unit\" (its path), \"service\", \"user\", \"directorDir\",\n"
    "\"endpoint\", \"thespiand\", \"exec\" (this thespian, for refresh),\n"
    "\"started\" (false with nostart)}.\n",
    run_bootstart,
};
