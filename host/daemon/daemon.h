/*
 * host/daemon/daemon.h — what the files of thespiand share: its options,
 * what start-up prepares before the system exists, and the functions each
 * file offers the others. Private to host/daemon/; thespiand is single-
 * threaded until the actor system starts, and all of this runs on its
 * main thread.
 */
#ifndef TH_HOST_DAEMON_DAEMON_H
#define TH_HOST_DAEMON_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/admin/admin.h"
#include "host/host.h"
#include "proto/curve.h"
#include "proto/wire.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_STUCK 3 /* stopped at the shutdown bound, actors still running */
#define STOP_TIMEOUT_DEFAULT_MS 10000
#define PROBE_MS 1000
#define MAX_PLUGINS 256

/* The command line (args.c); strings borrowed from argv. */
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

/* What start-up prepares before the system exists; freed by
 * thi_daemon_startup_fini. */
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

/* ---- args.c -------------------------------------------------------------- */
/* Parse the command line into *o (zeroed by the caller). Returns EXIT_OK,
 * or EXIT_USAGE after a message on stderr; --help and --version print and
 * exit. */
int thi_daemon_parse_args(options_t *o, int argc, char **argv);

/* ---- detach.c: start-up reports and daemon mode -------------------------- */
/* One start-up line: to the terminal (stdout when ok, else stderr), or,
 * once detached, through the pipe to the parent that waits for it. */
void thi_daemon_report(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Detach: the original process waits for the daemon's report and exits
 * with it; this returns in the daemon. Exits on failure. */
void thi_daemon_detach(void);
/* Standard error is about to become the log file: keep start-up errors
 * going to the terminal (foreground mode). */
void thi_daemon_report_keep_terminal(void);
/* Start-up is over: close the pipe, so the waiting parent exits. */
void thi_daemon_report_done(void);

/* ---- config.c: the operator's files and paths ---------------------------- */
/* True when `path` is a regular file; otherwise reports why. */
bool thi_daemon_regular_file(const char *what, const char *path);
/* The capabilities as compact JSON text (owned), from --capabilities,
 * --capabilities-file or dir_file; NULL after a report. */
char *thi_daemon_load_capabilities(const options_t *o, const char *dir_file);
/* Apply --log-config or DIR/thesplog.cfg. Returns 0 or -1 after a report. */
int thi_daemon_apply_log_config(const options_t *o, const char *dir);
/* An absolute path (owned) for `path` whose directory exists; NULL after a
 * report. */
char *thi_daemon_absolute(const char *what, const char *path);
/* The director directory `dd`: its absolute path, the Source Authority
 * plugin and the state directory into *st. Returns 0 or -1 after a
 * report. */
int thi_daemon_director(const options_t *o, startup_t *st, const char *dd);

/* ---- keys.c: the endpoint's protection ----------------------------------- */
/* tcp://: the host's CurveZMQ key pair and allow-list; ipc://: a private
 * socket directory. Returns 0 or -1 after a report. */
int thi_daemon_keys(const options_t *o, startup_t *st,
                    const char *director_dir);

/* ---- pidfile.c: pid files and their directory ---------------------------- */
/* Is the pid file free to use? 0 (a stale one is described in `stale`)
 * or -1 after a report (a live thespiand holds it). */
int thi_daemon_pidfile_check(const char *path, char *stale, size_t size);
/* Write "PID\n" atomically. Returns 0 or -1 after a report. */
int thi_daemon_pidfile_write(const char *path);
/* Remove the pid file if it is still ours. NULL-safe. */
void thi_daemon_pidfile_remove(const char *path);
/* The default directory of pid and log files. 0 or -1 after a report. */
int thi_daemon_default_dir(char *buf, size_t size);
/* The endpoint as a file name part: [A-Za-z0-9], the rest '_'. */
void thi_daemon_endpoint_slug(const char *ep, char *out, size_t size);

/* ---- prepare.c: everything that can fail before the system exists -------- */
/* Returns -1 to go on serving, or the exit status (EXIT_OK when an
 * existing system serves the endpoint). */
int thi_daemon_prepare(options_t *o, startup_t *st);
void thi_daemon_startup_fini(startup_t *st, size_t n_plugins);

/* ---- signals.c: what each signal means ---------------------------------- */
/* SIGTERM, SIGINT (orderly shutdown) and SIGHUP (reload the trusted keys)
 * as a signalfd for the admin loop, blocked in every thread to come;
 * SIGPIPE ignored. Returns the fd, or -1 after a report. */
int thi_daemon_signals(void);
/* The admin loop's wake function (thi_admin_wake_fn) for that fd, `sys`
 * the th_system_t served: read one signal and do what it means (a read
 * that fails begins the shutdown too, "stop requested"). */
void thi_daemon_on_signal(thi_admin_t *admin, int sfd, void *sys);

/* ---- notify.c: the service manager --------------------------------------- */
/* Ready: report it to the waiting parent and to systemd (Type=notify). */
void thi_daemon_ready(const thi_admin_t *admin);

/* ---- shutdown.c: the bounded end ----------------------------------------- */
/* Close the admin endpoint (NULL-safe) and the system (NULL-safe) within
 * stop_bound ms of when shutdown began, remove the pid file (NULL: none
 * written), close the signal fd. rc: the start-up failure (0: none); late:
 * the admin loop stopped at its bound. Returns the exit status. */
int thi_daemon_shutdown(thi_admin_t *admin, th_system_t *sys, int stop_bound,
                        const char *pidfile, int sfd, int rc, bool late);

#endif /* TH_HOST_DAEMON_DAEMON_H */
