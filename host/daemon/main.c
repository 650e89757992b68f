/*
 * host/thespiand.c — the host daemon: one actor system behind one admin
 * endpoint. A thin main around libthespian-host and host/admin.c: options,
 * capabilities, the "existing system is used" check, daemon mode with an
 * atomically written pid file, SIGTERM/SIGINT as orderly shutdown, SIGHUP
 * to reload the trusted keys of the director directory.
 * Usage and exit codes: docs/cli.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "host/admin/admin.h"
#include "sdk/src/probe.h"
#include "host/host.h"
#include "host/rt.h"
#include "sdk/src/wire.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_STUCK 3 /* stopped at the shutdown bound, actors still running */
#define STOP_TIMEOUT_DEFAULT_MS 10000
#define PROBE_MS 1000
#define MAX_PLUGINS 256

static const char usage_text[] =
    "usage: thespiand [OPTIONS]\n"
    "Run one actor system behind an admin endpoint.\n"
    "\n"
    "  --endpoint E            admin endpoint, tcp://HOST:PORT or ipc://PATH\n"
    "                          (default: $THESPIAN_ENDPOINT, then\n"
    "                          $THESPIAN_DIRECTOR_DIR/adminendpoint.cfg, then\n"
    "                          " TH_WIRE_DEFAULT_ENDPOINT ")\n"
    "  --foreground            stay attached; log to standard error\n"
    "  --daemon                detach (the default) and write a pid file\n"
    "  --pidfile PATH          pid file (default in daemon mode: see docs)\n"
    "  --logfile PATH          append the log here instead of stderr\n"
    "  --log-config FILE       the actor log configuration (JSON: level,\n"
    "                          destination, format; default: the director\n"
    "                          directory's thesplog.cfg)\n"
    "  --plugin PATH           load an actor plugin .so (repeatable)\n"
    "  --director-dir DIR      run the Director's Source Authority on DIR's\n"
    "                          *_tls.key files, so signed bundles can be\n"
    "                          loaded (default: $THESPIAN_DIRECTOR_DIR; with\n"
    "                          neither, loads are refused)\n"
    "  --key-dir DIR           the admin keys live in DIR/curve: the host's\n"
    "                          CurveZMQ key pair (made at first start with\n"
    "                          an operator key) and the allow-list\n"
    "                          DIR/curve/clients/*.pub (default:\n"
    "                          $THESPIAN_KEY_DIR, else the director\n"
    "                          directory, else ~/.thespian); see\n"
    "                          docs/security.md\n"
    "  --authority PATH        the Source Authority plugin (default:\n"
    "                          $THESPIAN_AUTHORITY, else the one `meson\n"
    "                          install` put in LIBDIR/thespian)\n"
    "  --capabilities JSON     the system's capabilities, a JSON object\n"
    "  --capabilities-file P   ... read from a file\n"
    "  --workers N             worker threads (default: one per CPU)\n"
    "  --name NAME             system name in logs and status\n"
    "  --max-contexts N        client contexts at once (default 4096)\n"
    "  --stop-timeout MS       orderly shutdown bound (default 10000)\n"
    "  --max-payload BYTES     largest message body (default 16 MiB); a\n"
    "                          larger frame drops its connection\n"
    "  --help                  this text\n"
    "  --version               print the version and exit\n"
    "\n"
    "Exit status: 0 served and stopped in order, or an existing system\n"
    "already serves the endpoint; 1 failed; 2 usage error; 3 actors were\n"
    "still running at the shutdown bound (each is logged).\n";

typedef struct options {
    const char *endpoint_arg;
    bool foreground;
    const char *pidfile;
    const char *logfile;
    const char *log_config;
    const char *plugins[MAX_PLUGINS];
    size_t n_plugins;
    const char *caps_arg;
    const char *caps_file;
    uint32_t workers;
    const char *name;
    uint32_t max_contexts;
    int stop_timeout_ms;
    uint32_t max_payload;
    const char *director_dir;
    const char *authority;
    const char *key_dir;
} options_t;

/* Where start-up reports go: the terminal, or the pipe to the parent
 * that waits for the daemon to be ready. */
static int report_fd = -1;
static int report_err_fd = 2;

static void report(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report(bool ok, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (report_fd >= 0) {
        dprintf(report_fd, "%s %s\n", ok ? "OK" : "ERR", line);
        return;
    }
    dprintf(ok ? 1 : report_err_fd, "thespiand: %s\n", line);
}

static bool
parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return false;
    *out = (uint32_t)v;
    return true;
}

static int
usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "thespiand: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see thespiand --help)\n");
    return EXIT_USAGE;
}

static int
parse_args(options_t *o, int argc, char **argv)
{
    enum {
        O_ENDPOINT = 1,
        O_FG,
        O_DAEMON,
        O_PIDFILE,
        O_LOGFILE,
        O_PLUGIN,
        O_CAPS,
        O_CAPSFILE,
        O_WORKERS,
        O_NAME,
        O_MAXCTX,
        O_STOPTO,
        O_MAXPAY,
        O_DIRECTOR,
        O_AUTHORITY,
        O_LOGCFG,
        O_KEYDIR,
        O_HELP,
        O_VERSION
    };
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, O_ENDPOINT},
        {"foreground", no_argument, NULL, O_FG},
        {"daemon", no_argument, NULL, O_DAEMON},
        {"pidfile", required_argument, NULL, O_PIDFILE},
        {"logfile", required_argument, NULL, O_LOGFILE},
        {"plugin", required_argument, NULL, O_PLUGIN},
        {"capabilities", required_argument, NULL, O_CAPS},
        {"capabilities-file", required_argument, NULL, O_CAPSFILE},
        {"workers", required_argument, NULL, O_WORKERS},
        {"name", required_argument, NULL, O_NAME},
        {"max-contexts", required_argument, NULL, O_MAXCTX},
        {"stop-timeout", required_argument, NULL, O_STOPTO},
        {"max-payload", required_argument, NULL, O_MAXPAY},
        {"director-dir", required_argument, NULL, O_DIRECTOR},
        {"authority", required_argument, NULL, O_AUTHORITY},
        {"log-config", required_argument, NULL, O_LOGCFG},
        {"key-dir", required_argument, NULL, O_KEYDIR},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int c;
    uint32_t v;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_ENDPOINT:
            o->endpoint_arg = optarg;
            break;
        case O_FG:
            o->foreground = true;
            break;
        case O_DAEMON:
            o->foreground = false;
            break;
        case O_PIDFILE:
            o->pidfile = optarg;
            break;
        case O_LOGFILE:
            o->logfile = optarg;
            break;
        case O_DIRECTOR:
            o->director_dir = optarg;
            break;
        case O_AUTHORITY:
            o->authority = optarg;
            break;
        case O_LOGCFG:
            o->log_config = optarg;
            break;
        case O_KEYDIR:
            o->key_dir = optarg;
            break;
        case O_PLUGIN:
            if (o->n_plugins == MAX_PLUGINS)
                return usage_error("more than %s --plugin options", "256");
            o->plugins[o->n_plugins++] = optarg;
            break;
        case O_CAPS:
            o->caps_arg = optarg;
            break;
        case O_CAPSFILE:
            o->caps_file = optarg;
            break;
        case O_WORKERS:
            if (!parse_u32(optarg, 1024, &o->workers))
                return usage_error("--workers %s: want 0..1024", optarg);
            break;
        case O_NAME:
            o->name = optarg;
            break;
        case O_MAXCTX:
            if (!parse_u32(optarg, 1000000, &o->max_contexts) ||
                o->max_contexts == 0)
                return usage_error("--max-contexts %s: want 1..1000000",
                                   optarg);
            break;
        case O_STOPTO:
            if (!parse_u32(optarg, 3600000, &v) || v == 0)
                return usage_error("--stop-timeout %s: want 1..3600000 ms",
                                   optarg);
            o->stop_timeout_ms = (int)v;
            break;
        case O_MAXPAY:
            if (!parse_u32(optarg, 1u << 30, &o->max_payload) ||
                o->max_payload == 0)
                return usage_error("--max-payload %s: want 1..1073741824",
                                   optarg);
            break;
        case O_HELP:
            fputs(usage_text, stdout);
            exit(EXIT_OK);
        case O_VERSION: /* the meson project's version (meson.build) */
            printf("thespiand %s\n", TH_PROJECT_VERSION);
            exit(EXIT_OK);
        default:
            return usage_error("unknown or incomplete option %s",
                               argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument %s", argv[optind]);
    if (o->caps_arg && o->caps_file)
        return usage_error("%s", "give --capabilities or --capabilities-file, "
                                 "not both");
    return EXIT_OK;
}

/* True when `path` is a regular file; otherwise reports why. A FIFO or a
 * device given by mistake (or on purpose) would block us or never end. */
static bool
regular_file(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        report(false, "%s %s: %s", what, path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        report(false, "%s %s: not a regular file", what, path);
        return false;
    }
    return true;
}

/* The capabilities as compact JSON text (owned), checked to be an object;
 * NULL with a report naming the option or file when they are not. */
static char *
load_capabilities(const options_t *o, const char *dir_file)
{
    json_error_t jerr;
    json_t *v;
    const char *what;
    const char *file = o->caps_file ? o->caps_file
                       : o->caps_arg ? NULL
                                     : dir_file;
    if (file) {
        what = file;
        if (!regular_file(o->caps_file ? "--capabilities-file" : "othercaps.cfg",
                          file))
            return NULL;
        v = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    } else if (o->caps_arg) {
        what = "--capabilities";
        v = json_loads(o->caps_arg, JSON_REJECT_DUPLICATES, &jerr);
    } else {
        return strdup("{}");
    }
    if (v == NULL) {
        report(false, "%s: not valid JSON: %s (line %d, column %d)", what,
               jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        report(false, "%s: capabilities must be a JSON object", what);
        json_decref(v);
        return NULL;
    }
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return text;
}

/* The actor log configuration: --log-config FILE, else thesplog.cfg in the
 * director directory (docs/logging.md). A bad one stops the start, naming
 * the file and the key: the operator asked for it, so running with some
 * other configuration would hide the mistake. Its level is also the
 * internal log's threshold unless THESPLOG_THRESHOLD is set. Returns 0 or
 * -1 after reporting. */
static int
apply_log_config(const options_t *o, const char *dir)
{
    char path[PATH_MAX];
    const char *what = "--log-config";
    if (o->log_config) {
        snprintf(path, sizeof path, "%s", o->log_config);
    } else if (dir && *dir) {
        snprintf(path, sizeof path, "%.4000s/thesplog.cfg", dir);
        what = "thesplog.cfg";
        if (access(path, F_OK) != 0)
            return 0;
    } else {
        return 0;
    }
    if (!regular_file(what, path))
        return -1;
    th_diag_t d;
    if (th_log_configure_file(path, &d) != 0) {
        report(false, "%s %s", what, d.msg);
        return -1;
    }
    setenv("THESPLOG_THRESHOLD", thi_log_level_name(th_log_level()), 0);
    return 0;
}

/* ---- Pid files ----------------------------------------------------------- */

static bool
pid_is_thespiand(long pid)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false; /* not running (or not ours to see) */
    if (fgets(comm, sizeof comm, f) == NULL)
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, "thespiand") == 0;
}

/* Read a pid file: the pid, 0 when there is none, -1 when unreadable or
 * malformed (then treated as stale). */
static long
pidfile_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end = NULL;
    long pid = strtol(buf, &end, 10);
    if (pid <= 0 || (*end != '\n' && *end != '\0'))
        return -1;
    return pid;
}

/* Is the pid file free to use? A live thespiand in it is refused; a dead
 * pid, a process that is not thespiand, or garbage is stale: replaced
 * later with a log line (reported through *stale). */
static int
pidfile_check(const char *path, char *stale, size_t size)
{
    stale[0] = '\0';
    long pid = pidfile_read(path);
    if (pid == 0)
        return 0;
    if (pid < 0) {
        snprintf(stale, size,
                 "stale pid file %s (unreadable or malformed): "
                 "replaced",
                 path);
        return 0;
    }
    if (pid != (long)getpid() && pid_is_thespiand(pid)) {
        report(false,
               "pid file %s belongs to thespiand pid %ld, which is running "
               "but does not answer at this endpoint; stop it or use another "
               "--pidfile",
               path, pid);
        return -1;
    }
    snprintf(stale, size, "stale pid file %s (pid %ld %s): replaced", path, pid,
             kill((pid_t)pid, 0) == 0 || errno == EPERM ? "is not a thespiand"
                                                        : "is not running");
    return 0;
}

/* Write "PID\n" atomically: a reader sees the old file or the new one. */
static int
pidfile_write(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof tmp) {
        report(false, "pid file %s: path too long", path);
        return -1;
    }
    int fd =
        open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        report(false, "pid file %s: %s", tmp, strerror(errno));
        return -1;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    bool ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        report(false, "pid file %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void
pidfile_remove(const char *path)
{
    /* only our own: a successor may already have replaced it */
    if (path && pidfile_read(path) == (long)getpid())
        unlink(path);
}

/* Default directory for the daemon's pid and log files: the director
 * directory, else $XDG_RUNTIME_DIR, else /tmp/thespian-UID (0700, ours). */
static int
default_dir(char *buf, size_t size)
{
    const char *d = getenv("THESPIAN_DIRECTOR_DIR");
    if (d == NULL || *d == '\0')
        d = getenv("XDG_RUNTIME_DIR");
    if (d && *d) {
        snprintf(buf, size, "%s", d);
        return 0;
    }
    snprintf(buf, size, "/tmp/thespian-%ld", (long)getuid());
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        report(false, "%s: %s", buf, strerror(errno));
        return -1;
    }
    struct stat st;
    /* a directory someone else made (or a link) in /tmp is not ours */
    if (lstat(buf, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077) != 0) {
        report(false,
               "%s: not a private directory of this user; give "
               "--pidfile and --logfile",
               buf);
        return -1;
    }
    return 0;
}

static void
endpoint_slug(const char *ep, char *out, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; ep[i] && j + 1 < size; i++) {
        char c = ep[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9');
        out[j++] = keep ? c : '_';
    }
    out[j] = '\0';
}

/* ---- Daemon -------------------------------------------------------------- */

/* Detach. The original process waits until the daemon reports ready (or
 * failed) through a pipe and exits with that status, so `thespiand` and
 * `thespian start` return only once the endpoint serves. */
static void
daemonize(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        report(false, "pipe: %s", strerror(errno));
        exit(EXIT_FAIL);
    }
    pid_t pid = fork();
    if (pid < 0) {
        report(false, "fork: %s", strerror(errno));
        exit(EXIT_FAIL);
    }
    if (pid > 0) {
        close(p[1]);
        char buf[1200];
        size_t n = 0;
        ssize_t r;
        while (n < sizeof buf - 1 &&
               ((r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0 ||
                (r < 0 && errno == EINTR)))
            if (r > 0)
                n += (size_t)r;
        buf[n] = '\0';
        int st;
        waitpid(pid, &st, 0); /* the intermediate child */
        if (strncmp(buf, "OK ", 3) == 0) {
            printf("thespiand: %s", buf + 3);
            exit(EXIT_OK);
        }
        fprintf(stderr, "thespiand: %s",
                strncmp(buf, "ERR ", 4) == 0
                    ? buf + 4
                    : "the daemon exited during start-up\n");
        exit(EXIT_FAIL);
    }
    close(p[0]);
    if (setsid() < 0)
        _exit(EXIT_FAIL);
    pid = fork();
    if (pid < 0)
        _exit(EXIT_FAIL);
    if (pid > 0)
        _exit(EXIT_OK); /* the session leader goes: no terminal ever again */
    report_fd = p[1];
    umask(027);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        close(null);
    }
}

/* ---- main ---------------------------------------------------------------- */

/* What start-up prepares before the system exists; freed by startup_fini. */
typedef struct startup {
    char endpoint[TH_WIRE_ENDPOINT_MAX];
    char source[300]; /* where the endpoint came from */
    char *caps;       /* capabilities JSON text */
    char *plugin_paths[MAX_PLUGINS];
    char *pidfile;              /* absolute, or NULL */
    char stale[PATH_MAX + 100]; /* the stale pid file line to log */
    char logbuf[PATH_MAX];
    int logfd;
    char *logpath;              /* absolute --logfile: the internal log */
    char *director_dir;         /* absolute, or NULL: no authority */
    char *key_dir;              /* the same, links not resolved: the key
                                   policy must see a symlinked directory */
    char *authority;            /* the authority plugin, absolute */
    char state_dir[PATH_MAX];   /* sources and version record */
    bool curve;                 /* a tcp:// endpoint: CurveZMQ */
    thi_curve_key_t key;        /* the host's key pair */
    bool key_created;           /* ... made by this start */
    char clients_dir[PATH_MAX]; /* the allow-list */
} startup_t;

static void
startup_fini(startup_t *st, size_t n_plugins)
{
    free(st->caps);
    for (size_t i = 0; i < n_plugins; i++)
        free(st->plugin_paths[i]);
    free(st->pidfile);
    free(st->director_dir);
    free(st->key_dir);
    free(st->authority);
    free(st->logpath);
    if (st->logfd >= 0)
        close(st->logfd);
    explicit_bzero(&st->key, sizeof st->key);
}

/* The admin endpoint's protection (docs/security.md): for tcp:// the
 * host's CurveZMQ key pair and allow-list under the key directory (made
 * at first start), for ipc:// a private socket directory. Returns 0 or
 * -1 after reporting. */
static int
prepare_keys(const options_t *o, startup_t *st, const char *director_dir)
{
    char why[THI_CURVE_WHY];
    if (!thi_curve_needed(st->endpoint)) {
        if (thi_curve_ipc_dir(st->endpoint, why) != 0) {
            report(false, "admin endpoint %s: %s", st->endpoint, why);
            return -1;
        }
        return 0;
    }
    char kdir[THI_CURVE_PATH];
    if (thi_curve_key_dir(kdir, o->key_dir, director_dir, why) != 0 ||
        thi_curve_host_init(&st->key, &st->key_created, kdir, why) != 0) {
        report(false, "admin keys: %s", why);
        return -1;
    }
    st->curve = true;
    snprintf(st->clients_dir, sizeof st->clients_dir,
             "%.4000s/" THI_CURVE_SUBDIR "/" THI_CURVE_CLIENTS, kdir);
    return 0;
}

/* An absolute path for `path` whose directory exists (the daemon changes
 * directory, and relative paths would then name other files). */
static char *
absolute(const char *what, const char *path)
{
    char *dup = strdup(path), *result = NULL;
    if (dup == NULL)
        return NULL;
    char *slash = strrchr(dup, '/'), *base = slash ? slash + 1 : dup;
    if (slash)
        *slash = '\0';
    char *dir = realpath(slash ? (dup[0] ? dup : "/") : ".", NULL);
    if (dir == NULL || *base == '\0')
        report(false, "%s %s: %s", what, path,
               dir ? "names a directory" : strerror(errno));
    else if (asprintf(&result, "%s/%s", dir, base) < 0)
        result = NULL;
    free(dir);
    free(dup);
    return result;
}

/* Everything that can fail before the system exists. Returns -1 to go on
 * serving, or the exit status (EXIT_OK when an existing system serves the
 * endpoint). */
static int
prepare(options_t *o, startup_t *st)
{
    char why[512];
    if (thi_wire_endpoint_resolve(st->endpoint, o->endpoint_arg, st->source,
                                  why) != 0) {
        report(false, "%s", why);
        return EXIT_FAIL;
    }
    /* the director directory's configuration: one JSON value per file */
    const char *cfgdir = o->director_dir ? o->director_dir
                                         : getenv("THESPIAN_DIRECTOR_DIR");
    char capsfile[PATH_MAX] = "";
    if (cfgdir && *cfgdir) {
        snprintf(capsfile, sizeof capsfile, "%.4000s/othercaps.cfg", cfgdir);
        if (access(capsfile, F_OK) != 0)
            capsfile[0] = '\0';
    }
    if (apply_log_config(o, cfgdir) != 0)
        return EXIT_FAIL;
    /* A host's own default threshold is INFO, so loads, unloads and
     * activations show; THESPLOG_THRESHOLD or a log configuration's level
     * (set above) win (docs/logging.md). */
    setenv("THESPLOG_THRESHOLD", "INFO", 0);
    st->caps = load_capabilities(o, capsfile[0] ? capsfile : NULL);
    if (st->caps == NULL)
        return EXIT_FAIL;
    /* plugin paths made absolute: the daemon changes directory */
    for (size_t i = 0; i < o->n_plugins; i++) {
        st->plugin_paths[i] = realpath(o->plugins[i], NULL);
        if (st->plugin_paths[i] == NULL) {
            report(false, "--plugin %s: %s", o->plugins[i], strerror(errno));
            return EXIT_FAIL;
        }
    }

    /* Signed sources: a director directory brings the Source Authority */
    const char *dd = o->director_dir ? o->director_dir
                                     : getenv("THESPIAN_DIRECTOR_DIR");
    if (dd && *dd) {
        st->director_dir = realpath(dd, NULL);
        struct stat dst;
        if (st->director_dir == NULL || stat(st->director_dir, &dst) != 0 ||
            !S_ISDIR(dst.st_mode)) {
            report(false, "director directory %s: %s", dd,
                   st->director_dir ? "not a directory" : strerror(errno));
            return EXIT_FAIL;
        }
        char cwd[PATH_MAX];
        if (dd[0] == '/')
            st->key_dir = strdup(dd);
        else if (getcwd(cwd, sizeof cwd) == NULL ||
                 asprintf(&st->key_dir, "%s/%s", cwd, dd) < 0)
            st->key_dir = NULL;
        if (st->key_dir == NULL) {
            report(false, "director directory %s: %s", dd, strerror(errno));
            return EXIT_FAIL;
        }
        const char *ap = o->authority ? o->authority
                                      : getenv("THESPIAN_AUTHORITY");
        char guess[PATH_MAX];
        if (ap == NULL || *ap == '\0') {
            /* beside this binary: the build tree, then an install */
            char exe[PATH_MAX];
            ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
            exe[n > 0 ? n : 0] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash)
                *slash = '\0';
            snprintf(guess, sizeof guess, "%.3000s/../director/authority.so",
                     exe);
            /* installed: LIBDIR/thespian, relative to BINDIR (meson.build) */
            if (access(guess, R_OK) != 0 && TH_AUTHORITY_FROM_BIN[0] == '/')
                snprintf(guess, sizeof guess, "%s/authority.so",
                         TH_AUTHORITY_FROM_BIN);
            else if (access(guess, R_OK) != 0)
                snprintf(guess, sizeof guess, "%.3000s/%s/authority.so", exe,
                         TH_AUTHORITY_FROM_BIN);
            ap = guess;
        }
        st->authority = realpath(ap, NULL);
        if (st->authority == NULL) {
            report(false,
                   "the Source Authority plugin %s: %s (give --authority "
                   "PATH)",
                   ap, strerror(errno));
            return EXIT_FAIL;
        }
        char slug[200];
        endpoint_slug(st->endpoint, slug, sizeof slug);
        snprintf(st->state_dir, sizeof st->state_dir, "%.3800s/state-%.180s",
                 st->director_dir, slug);
    }

    if (prepare_keys(o, st, dd) != 0)
        return EXIT_FAIL;

    /* Thespian's rule: a system already serving the endpoint is used. */
    long other = 0;
    bool wildcard = strchr(st->endpoint, '*') != NULL;
    if (!wildcard && thi_probe_thespiand(st->endpoint, st->curve ? &st->key : NULL,
                                     PROBE_MS, &other) == 0) {
        printf("thespiand: an actor system is already running at %s "
               "(pid %ld); it is used\n",
               st->endpoint, other);
        return EXIT_OK;
    }

    char dir[PATH_MAX], slug[200], pidbuf[PATH_MAX];
    endpoint_slug(st->endpoint, slug, sizeof slug);
    if (!o->foreground && (o->pidfile == NULL || o->logfile == NULL)) {
        if (default_dir(dir, sizeof dir) != 0)
            return EXIT_FAIL;
        if (strlen(dir) + strlen(slug) + 20 > sizeof pidbuf) {
            report(false, "%s: directory path too long", dir);
            return EXIT_FAIL;
        }
        if (o->pidfile == NULL) {
            snprintf(pidbuf, sizeof pidbuf, "%.3900s/thespiand-%.180s.pid", dir,
                     slug);
            o->pidfile = pidbuf;
        }
        if (o->logfile == NULL) {
            snprintf(st->logbuf, sizeof st->logbuf,
                     "%.3900s/thespiand-%.180s.log", dir, slug);
            o->logfile = st->logbuf;
        }
    }
    if (o->pidfile) {
        st->pidfile = absolute("--pidfile", o->pidfile);
        o->pidfile = NULL; /* pidbuf goes out of scope */
        if (st->pidfile == NULL)
            return EXIT_FAIL;
        if (pidfile_check(st->pidfile, st->stale, sizeof st->stale) != 0)
            return EXIT_FAIL;
    }
    if (o->logfile) {
        /* O_NONBLOCK: a FIFO must fail here, not hang us; checked below */
        st->logfd = open(o->logfile,
                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
                             O_NOFOLLOW | O_NONBLOCK,
                         0640);
        if (st->logfd < 0) {
            report(false, "--logfile %s: %s", o->logfile, strerror(errno));
            return EXIT_FAIL;
        }
        struct stat lst;
        if (fstat(st->logfd, &lst) != 0 || !S_ISREG(lst.st_mode)) {
            report(false, "--logfile %s: not a regular file", o->logfile);
            return EXIT_FAIL;
        }
        fcntl(st->logfd, F_SETFL, fcntl(st->logfd, F_GETFL) & ~O_NONBLOCK);
        /* the internal log reopens it by name when it rotates */
        st->logpath = absolute("--logfile", o->logfile);
        if (st->logpath == NULL)
            return EXIT_FAIL;
    }
    return -1;
}

/* Detach (daemon mode), run the system behind its admin endpoint until an
 * orderly shutdown, clean up. Returns the exit status. */
static int
serve(const options_t *o, startup_t *st)
{
    if (!o->foreground)
        daemonize();
    if (st->logfd >= 0) {
        if (o->foreground)
            report_err_fd = dup(2); /* start-up errors still to the user */
        dup2(st->logfd, 2);
        close(st->logfd);
        st->logfd = -1;
    }
    /* the internal log: THESPLOG_FILE, else --logfile, else (foreground)
     * standard error, where the operator watches */
    thi_log_set_internal(st->logpath);

    /* SIGTERM and SIGINT become a readable fd the admin loop polls; the
     * mask is set before any thread exists, so every thread inherits it */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP); /* reload the trusted keys */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        report(false, "signalfd: %s", strerror(errno));
        return EXIT_FAIL;
    }
    if (st->stale[0])
        thi_log(TH_LOG_WARNING, NULL, "thespiand: %s", st->stale);

    th_system_opts_t sopts = {
        .workers = o->workers, .name = o->name, .max_payload = o->max_payload,
        .state_dir = st->state_dir[0] ? st->state_dir : NULL,
        .capabilities_json = st->caps,
        /* trusted keys come from the director directory only; without
         * one, none (never from the environment of a later embedder) */
        .key_dir = st->key_dir ? st->key_dir : "",
        .authority_class = st->authority ? "director.SourceAuthority" : ""};
    th_system_t *sys = NULL;
    thi_admin_t *admin = NULL;
    bool pid_written = false, late = false;
    int stop_bound = o->stop_timeout_ms > 0 ? o->stop_timeout_ms
                                            : STOP_TIMEOUT_DEFAULT_MS;
    int rc = th_system_create(&sys, &sopts);
    if (rc != 0) {
        report(false, "cannot create the actor system: %s", th_strerror(rc));
        goto out_close_signals;
    }
    if (st->key_dir == NULL)
        thi_log(TH_LOG_WARNING, NULL,
                "thespiand: no director directory: no key is trusted and "
                "every load of a signed source will be refused");
    for (size_t i = 0; i < o->n_plugins; i++) {
        th_diag_t d;
        thi_diag_clear(&d);
        rc = th_system_load_plugin(sys, st->plugin_paths[i], &d);
        if (rc != 0) {
            report(false, "--plugin %s: %s", st->plugin_paths[i],
                   d.msg[0] ? d.msg : th_strerror(rc));
            goto out_destroy_system;
        }
    }
    if (st->authority) {
        th_diag_t ad;
        thi_diag_clear(&ad);
        rc = th_system_load_plugin(sys, st->authority, &ad);
        th_addr_t auth;
        th_create_opts_t co = {.size = sizeof co,
                               .global_name = "SourceAuthority"};
        if (rc == 0)
            rc = th_system_create_actor(sys, &auth, "director.SourceAuthority",
                                        &co);
        /* the Director runs each group's TLI as sources come and go */
        th_addr_t dir_addr;
        th_create_opts_t dopts = {.size = sizeof dopts,
                                  .global_name = "Director"};
        if (rc == 0)
            rc = th_system_create_actor(sys, &dir_addr, "director.Director",
                                        &dopts);
        if (rc == 0) /* it alone reports which versions run */
            rc = th_system_register_director(sys, &dir_addr);
        if (rc != 0) {
            report(false, "the Source Authority %s: %s", st->authority,
                   ad.msg[0] ? ad.msg : th_strerror(rc));
            goto out_destroy_system;
        }
        thi_log(TH_LOG_INFO, NULL,
                "Source Authority on %s; sources unpack under %s",
                st->director_dir, st->state_dir);
    }
    thi_admin_opts_t aopts = {
        .endpoint = st->endpoint,
        .max_sessions = o->max_contexts,
        .stop_timeout_ms = o->stop_timeout_ms,
        .max_payload = o->max_payload,
        .plugins = (const char *const *)st->plugin_paths,
        .n_plugins = o->n_plugins,
        .curve_key = st->curve ? &st->key : NULL,
        .clients_dir = st->curve ? st->clients_dir : NULL,
    };
    th_diag_t d;
    thi_diag_clear(&d);
    rc = thi_admin_create(&admin, sys, &aopts, &d);
    if (rc != 0) {
        if (rc == TH_EEXIST)
            report(false, "%s (something that is not a thespiand holds it)",
                   d.msg);
        else
            report(false, "%s", d.msg);
        goto out_destroy_system;
    }
    if (st->pidfile) {
        if (pidfile_write(st->pidfile) != 0) {
            rc = TH_EIO;
            goto out_destroy_admin;
        }
        pid_written = true;
    }
    thi_log(TH_LOG_INFO, NULL,
            "thespiand: serving %s (pid %ld, endpoint from %s)",
            thi_admin_endpoint(admin), (long)getpid(), st->source);
    if (st->curve)
        thi_log(TH_LOG_INFO, NULL,
                "thespiand: CurveZMQ on; host key %s%s; clients allowed by "
                "%s/*.pub",
                st->key.pub,
                st->key_created ? " (made now, with an operator key)" : "",
                st->clients_dir);
    report(true, "serving %s (pid %ld)", thi_admin_endpoint(admin),
           (long)getpid());
    /* Type=notify: ready now that the keys, the Source Authority and the
     * admin endpoint are in place. Does nothing without $NOTIFY_SOCKET;
     * unset it so no process started later writes to the socket. */
    int nrc = sd_notifyf(1, "READY=1\nMAINPID=%ld\nSTATUS=serving %s",
                         (long)getpid(), thi_admin_endpoint(admin));
    if (nrc < 0)
        thi_log(TH_LOG_WARNING, NULL,
                "thespiand: cannot tell the service manager it is ready "
                "($NOTIFY_SOCKET): %s",
                strerror(-nrc));
    if (report_fd >= 0) {
        close(report_fd); /* the waiting parent exits now */
        report_fd = -1;
    }
    if (!o->foreground && chdir("/") != 0)
        thi_log(TH_LOG_WARNING, NULL, "thespiand: chdir /: %s",
                strerror(errno));

    late = thi_admin_run(admin, sfd) != 0;
    rc = 0;

out_destroy_admin:
    thi_admin_destroy(admin);
out_destroy_system:
    /* within the same bound, counted from when shutdown began: a worker
     * stuck in actor code is not waited for (and the memory it may touch
     * is left to the exit) */
    if (th_system_destroy_within(sys, stop_bound) != 0)
        late = true;
    if (pid_written)
        pidfile_remove(st->pidfile);
out_close_signals:
    close(sfd);
    if (rc == 0 && late)
        thi_log(TH_LOG_ERROR, NULL,
                "thespiand: stopped with actors still running %d ms after "
                "shutdown began (exit status %d)", stop_bound, EXIT_STUCK);
    else if (rc == 0)
        thi_log(TH_LOG_INFO, NULL, "thespiand: stopped");
    return rc != 0 ? EXIT_FAIL : late ? EXIT_STUCK : EXIT_OK;
}

int
main(int argc, char **argv)
{
    options_t o = {0};
    int rc = parse_args(&o, argc, argv);
    if (rc != EXIT_OK)
        return rc;
    startup_t st = {.logfd = -1};
    rc = prepare(&o, &st);
    if (rc < 0)
        rc = serve(&o, &st);
    startup_fini(&st, o.n_plugins);
    return rc;
}
