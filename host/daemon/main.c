/*
 * host/daemon/main.c — thespiand: one actor system behind one admin
 * endpoint. A thin main around libthespian-host (host/host.h) and the
 * admin endpoint (host/admin/): parse the options, prepare what can fail
 * before the system exists, detach, start the system with its plugins and
 * Source Authority, serve until an orderly shutdown, end within the bound.
 * Usage and exit codes: docs/cli.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/daemon/daemon.h"

/* The system's plugins, then the Source Authority and the Director when a
 * director directory brings them. Returns 0 or a code after a report. */
static int
start_actors(th_system_t *sys, const options_t *o, const startup_t *st)
{
    int rc;
    if (st->key_dir == NULL)
        th_log_internal(TH_LOG_WARNING, NULL,
                        "thespiand: no director directory: no key is trusted "
                        "and every load of a signed source will be refused");
    for (size_t i = 0; i < o->n_plugins; i++) {
        th_diag_t d = {0};
        rc = th_system_load_plugin(sys, st->plugin_paths[i], &d);
        if (rc != 0) {
            thi_daemon_report(false, "--plugin %s: %s", st->plugin_paths[i],
                              d.msg[0] ? d.msg : th_strerror(rc));
            return rc;
        }
    }
    if (st->authority == NULL)
        return 0;
    th_diag_t ad = {0};
    rc = th_system_load_plugin(sys, st->authority, &ad);
    th_addr_t auth;
    th_create_opts_t co = {.size = sizeof co, .global_name = "SourceAuthority"};
    if (rc == 0)
        rc =
            th_system_create_actor(sys, &auth, "director.SourceAuthority", &co);
    /* the Director runs each group's TLI as sources come and go */
    th_addr_t dir_addr;
    th_create_opts_t dopts = {.size = sizeof dopts, .global_name = "Director"};
    if (rc == 0)
        rc =
            th_system_create_actor(sys, &dir_addr, "director.Director", &dopts);
    if (rc == 0) /* it alone reports which versions run */
        rc = th_system_register_director(sys, &dir_addr);
    if (rc != 0) {
        thi_daemon_report(false, "the Source Authority %s: %s", st->authority,
                          ad.msg[0] ? ad.msg : th_strerror(rc));
        return rc;
    }
    th_log_internal(TH_LOG_INFO, NULL,
                    "Source Authority on %s; sources unpack under %s",
                    st->director_dir, st->state_dir);
    return 0;
}

/* Detach (daemon mode), run the system behind its admin endpoint until an
 * orderly shutdown, clean up. Returns the exit status. */
static int
serve(const options_t *o, startup_t *st)
{
    if (!o->foreground)
        thi_daemon_detach();
    if (st->logfd >= 0) {
        if (o->foreground)
            thi_daemon_report_keep_terminal();
        dup2(st->logfd, 2);
        close(st->logfd);
        st->logfd = -1;
    }
    /* the internal log: THESPLOG_FILE, else --logfile, else (foreground)
     * standard error, where the operator watches */
    th_log_set_internal_file(st->logpath);

    int sfd = thi_daemon_signals();
    if (sfd < 0)
        return EXIT_FAIL;
    if (st->stale[0])
        th_log_internal(TH_LOG_WARNING, NULL, "thespiand: %s", st->stale);

    th_system_opts_t sopts = {
        .workers = o->workers,
        .name = o->name,
        .max_payload = o->max_payload,
        .state_dir = st->state_dir[0] ? st->state_dir : NULL,
        .capabilities_json = st->caps,
        /* trusted keys come from the director directory only; without
         * one, none (never from the environment of a later embedder) */
        .key_dir = st->key_dir ? st->key_dir : "",
        .authority_class = st->authority ? "director.SourceAuthority" : ""};
    th_system_t *sys = NULL;
    thi_admin_t *admin = NULL;
    const char *pid_written = NULL;
    bool late = false;
    int stop_bound =
        o->stop_timeout_ms > 0 ? o->stop_timeout_ms : STOP_TIMEOUT_DEFAULT_MS;
    int rc = th_system_create(&sys, &sopts);
    if (rc != 0) {
        thi_daemon_report(false, "cannot create the actor system: %s",
                          th_strerror(rc));
        goto out;
    }
    if ((rc = start_actors(sys, o, st)) != 0)
        goto out;
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
    th_diag_t d = {0};
    rc = thi_admin_create(&admin, sys, &aopts, &d);
    if (rc != 0) {
        if (rc == TH_EEXIST)
            thi_daemon_report(false,
                              "%s (something that is not a thespiand holds "
                              "it)",
                              d.msg);
        else
            thi_daemon_report(false, "%s", d.msg);
        goto out;
    }
    if (st->pidfile) {
        if (thi_daemon_pidfile_write(st->pidfile) != 0) {
            rc = TH_EIO;
            goto out;
        }
        pid_written = st->pidfile;
    }
    th_log_internal(TH_LOG_INFO, NULL,
                    "thespiand: serving %s (pid %ld, endpoint from %s)",
                    thi_admin_endpoint(admin), (long)getpid(), st->source);
    if (st->curve)
        th_log_internal(TH_LOG_INFO, NULL,
                        "thespiand: CurveZMQ on; host key %s%s; clients "
                        "allowed by %s/*.pub",
                        st->key.pub,
                        st->key_created ? " (made now, with an operator key)"
                                        : "",
                        st->clients_dir);
    thi_daemon_ready(admin);
    if (!o->foreground && chdir("/") != 0)
        th_log_internal(TH_LOG_WARNING, NULL, "thespiand: chdir /: %s",
                        strerror(errno));

    /* the signals' meaning is ours; the admin loop only wakes for them */
    thi_admin_wake_t wake = {.fd = sfd, .fn = thi_daemon_on_signal, .arg = sys};
    late = thi_admin_run(admin, &wake) != 0;
    rc = 0;
out:
    return thi_daemon_shutdown(admin, sys, stop_bound, pid_written, sfd, rc,
                               late);
}

int
main(int argc, char **argv)
{
    /* Reading a bundle converts each zip entry's time with mktime(), and
     * with TZ unset glibc stats /etc/localtime on every call (several per
     * load, 2-6 us each here). Naming the file reads it once: the same
     * zone, not followed if the file changes while the host runs (nothing
     * in the host uses local time; logs are UTC). Before any thread. */
    if (getenv("TZ") == NULL)
        setenv("TZ", ":/etc/localtime", 0);
    options_t o = {0};
    int rc = thi_daemon_parse_args(&o, argc, argv);
    if (rc != EXIT_OK)
        return rc;
    startup_t st = {.logfd = -1};
    rc = thi_daemon_prepare(&o, &st);
    if (rc < 0)
        rc = serve(&o, &st);
    thi_daemon_startup_fini(&st, o.n_plugins);
    return rc;
}
