/*
 * host/daemon/prepare.c — everything of a start that can fail before the
 * actor system exists, in order: the endpoint, the director directory's
 * configuration, plugin paths, the Source Authority, the keys, Thespian's
 * "an existing system is used" check, the pid and log files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/daemon/daemon.h"
#include "proto/probe.h"

/* Everything that can fail before the system exists. Returns -1 to go on
 * serving, or the exit status (EXIT_OK when an existing system serves the
 * endpoint). */
int
thi_daemon_prepare(options_t *o, startup_t *st)
{
    char why[512];
    if (thi_wire_endpoint_resolve(st->endpoint, o->endpoint_arg, st->source,
                                  why) != 0) {
        thi_daemon_report(false, "%s", why);
        return EXIT_FAIL;
    }
    /* the director directory's configuration: one JSON value per file */
    const char *cfgdir =
        o->director_dir ? o->director_dir : getenv("THESPIAN_DIRECTOR_DIR");
    char capsfile[PATH_MAX] = "";
    if (cfgdir && *cfgdir) {
        snprintf(capsfile, sizeof capsfile, "%.4000s/othercaps.cfg", cfgdir);
        if (access(capsfile, F_OK) != 0)
            capsfile[0] = '\0';
    }
    if (thi_daemon_apply_log_config(o, cfgdir) != 0)
        return EXIT_FAIL;
    /* A host's own default threshold is INFO, so loads, unloads and
     * activations show; THESPLOG_THRESHOLD or a log configuration's level
     * (set above) win (docs/logging.md). */
    setenv("THESPLOG_THRESHOLD", "INFO", 0);
    st->caps = thi_daemon_load_capabilities(o, capsfile[0] ? capsfile : NULL);
    if (st->caps == NULL)
        return EXIT_FAIL;
    /* plugin paths made absolute: the daemon changes directory */
    for (size_t i = 0; i < o->n_plugins; i++) {
        st->plugin_paths[i] = realpath(o->plugins[i], NULL);
        if (st->plugin_paths[i] == NULL) {
            thi_daemon_report(false, "--plugin %s: %s", o->plugins[i],
                              strerror(errno));
            return EXIT_FAIL;
        }
    }

    /* Signed sources: a director directory brings the Source Authority */
    const char *dd =
        o->director_dir ? o->director_dir : getenv("THESPIAN_DIRECTOR_DIR");
    if (dd && *dd && thi_daemon_director(o, st, dd) != 0)
        return EXIT_FAIL;

    if (thi_daemon_keys(o, st, dd) != 0)
        return EXIT_FAIL;

    /* Thespian's rule: a system already serving the endpoint is used. */
    long other = 0;
    bool wildcard = strchr(st->endpoint, '*') != NULL;
    if (!wildcard &&
        thi_probe_thespiand(st->endpoint, st->curve ? &st->key : NULL, PROBE_MS,
                            &other) == 0) {
        printf("thespiand: an actor system is already running at %s "
               "(pid %ld); it is used\n",
               st->endpoint, other);
        return EXIT_OK;
    }

    char dir[PATH_MAX], slug[200], pidbuf[PATH_MAX];
    thi_daemon_endpoint_slug(st->endpoint, slug, sizeof slug);
    if (!o->foreground && (o->pidfile == NULL || o->logfile == NULL)) {
        if (thi_daemon_default_dir(dir, sizeof dir) != 0)
            return EXIT_FAIL;
        if (strlen(dir) + strlen(slug) + 20 > sizeof pidbuf) {
            thi_daemon_report(false, "%s: directory path too long", dir);
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
        st->pidfile = thi_daemon_absolute("--pidfile", o->pidfile);
        o->pidfile = NULL; /* pidbuf goes out of scope */
        if (st->pidfile == NULL)
            return EXIT_FAIL;
        if (thi_daemon_pidfile_check(st->pidfile, st->stale,
                                     sizeof st->stale) != 0)
            return EXIT_FAIL;
    }
    if (o->logfile) {
        /* O_NONBLOCK: a FIFO must fail here, not hang us; checked below */
        st->logfd = open(o->logfile,
                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
                             O_NOFOLLOW | O_NONBLOCK,
                         0640);
        if (st->logfd < 0) {
            thi_daemon_report(false, "--logfile %s: %s", o->logfile,
                              strerror(errno));
            return EXIT_FAIL;
        }
        struct stat lst;
        if (fstat(st->logfd, &lst) != 0 || !S_ISREG(lst.st_mode)) {
            thi_daemon_report(false, "--logfile %s: not a regular file",
                              o->logfile);
            return EXIT_FAIL;
        }
        fcntl(st->logfd, F_SETFL, fcntl(st->logfd, F_GETFL) & ~O_NONBLOCK);
        /* the internal log reopens it by name when it rotates */
        st->logpath = thi_daemon_absolute("--logfile", o->logfile);
        if (st->logpath == NULL)
            return EXIT_FAIL;
    }
    return -1;
}

void
thi_daemon_startup_fini(startup_t *st, size_t n_plugins)
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
