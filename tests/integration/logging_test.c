/*
 * tests/integration/logging_test.c — logging through a real thespiand
 * (docs/logging.md): --log-config with an actor logging through the host,
 * a bad configuration refused at start, SIGUSR1's status dump in the
 * internal log, and the internal log rotating under --logfile with the
 * host's standard error following it.
 */
#include <fcntl.h>
#include <ftw.h>

#include "host_util.h"
#include "th_test.h"

static const char *
logactors(void)
{
    const char *p = getenv("LOGACTORS_SO");
    if (p == NULL)
        TH_FAIL_AT_("$LOGACTORS_SO is not set");
    return p;
}

static bool
await_file_has(const char *path, const char *needle, int timeout_ms)
{
    int64_t end = th_now_ms() + timeout_ms;
    do {
        char *s = th_slurp_text(path);
        bool found = strstr(s, needle) != NULL;
        free(s);
        if (found)
            return true;
        hu_sleep_ms(20);
    } while (th_now_ms() < end);
    return false;
}

/* Ask a Logger to log `text` at `level`; returns its address text. */
static void
log_through(th_client_t *c, const th_addr_t *logger, int level,
            const char *text)
{
    char body[200];
    snprintf(body, sizeof body, "{\"level\": %d, \"text\": \"%s\"}", level,
             text);
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(c, &m, logger, "Log", body, strlen(body), 10000),
             0);
    CHECK_STREQ(m->type, "Logged");
    th_client_msg_free(m);
}

TH_TEST(log_config_formats_actor_records_and_sigusr1_dumps)
{
    hu_host_t h = {0};
    hu_scratch(h.dir, sizeof h.dir);
    char cfg[400], actors[400], internal[400];
    snprintf(cfg, sizeof cfg, "%s/log.json", h.dir);
    snprintf(actors, sizeof actors, "%s/actors.log", h.dir);
    snprintf(internal, sizeof internal, "%s/internal.log", h.dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f,
            "{\"level\": \"INFO\", \"destination\": \"%s\", \"format\": "
            "\"%%(levelname)s <%%(actorAddress)s> %%(message)s\"}",
            actors);
    fclose(f);
    setenv("THESPLOG_FILE", internal, 1);
    const char *extra[] = {"--plugin", logactors(), "--log-config", cfg,
                           "--name", "logged-host", NULL};
    hu_start(&h, extra);
    th_client_t *c = hu_connect(&h);
    th_addr_t a;
    CHECK_RC(th_client_create(c, &a, "logactors.Logger", NULL), 0);
    char as[TH_ADDR_STRLEN], want[200];
    CHECK_RC(th_client_addr_format(&a, as, sizeof as), 0);
    log_through(c, &a, 20, "info-through-host");
    log_through(c, &a, 10, "debug-filtered");
    char *log = th_slurp_text(actors);
    snprintf(want, sizeof want, "INFO <%s> info-through-host\n", as);
    CHECK_CONTAINS(log, want);
    CHECK(strstr(log, "debug-filtered") == NULL);
    free(log);
    /* the internal log is its own file; the status dump goes there */
    CHECK(kill(h.pid, SIGUSR1) == 0);
    CHECK(await_file_has(internal, "\"name\":\"logged-host\"", 10000));
    CHECK(await_file_has(internal, "logactors.Logger", 1000));
    /* still serving */
    log_through(c, &a, 40, "after-dump");
    th_client_close(c);
    CHECK(await_file_has(actors, "ERROR <", 1000));
    CHECK(hu_finish(&h));
}

TH_TEST(bad_log_config_is_refused_naming_the_file)
{
    static const char *const bad[][2] = {
        {"{\"level\": \"LOUD\"}", "\"level\""},
        {"{\"level\": \"INFO\"", "not valid JSON"},
        {"{\"format\": \"%(nope)s\"}", "%(nope)s"},
        {"{\"destination\": \"stderr\", \"colour\": \"red\"}", "\"colour\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hu_host_t h = {0};
        hu_scratch(h.dir, sizeof h.dir);
        char cfg[400];
        snprintf(cfg, sizeof cfg, "%s/bad.json", h.dir);
        FILE *f = fopen(cfg, "w");
        fputs(bad[i][0], f);
        fclose(f);
        const char *extra[] = {"--log-config", cfg, NULL};
        hu_spawn(&h, extra);
        CHECK_EQ(hu_wait_exit(&h, 20000), 1);
        char *err = th_slurp_text(h.log);
        CHECK_CONTAINS(err, cfg);
        CHECK_CONTAINS(err, bad[i][1]);
        free(err);
        hu_rm_scratch(h.dir);
    }
    /* a missing file too */
    hu_host_t h = {0};
    hu_scratch(h.dir, sizeof h.dir);
    const char *extra[] = {"--log-config", "/nonexistent/log.json", NULL};
    hu_spawn(&h, extra);
    CHECK_EQ(hu_wait_exit(&h, 20000), 1);
    CHECK(hu_log_has(&h, "--log-config /nonexistent/log.json"));
    hu_rm_scratch(h.dir);
}

TH_TEST(internal_log_rotates_under_logfile_and_stderr_follows)
{
    hu_host_t h = {0};
    hu_scratch(h.dir, sizeof h.dir);
    char logfile[400], old[420];
    snprintf(logfile, sizeof logfile, "%s/host.log", h.dir);
    snprintf(old, sizeof old, "%s.old", logfile);
    unsetenv("THESPLOG_FILE"); /* the internal log is --logfile */
    setenv("THESPLOG_FILE_MAXSIZE", "3000", 1);
    setenv("THESPLOG_THRESHOLD", "DEBUG", 1);
    const char *extra[] = {"--plugin", logactors(), "--logfile", logfile,
                           NULL};
    hu_start(&h, extra);
    /* each context logs a DEBUG line or two: enough to rotate */
    for (int i = 0; i < 40 && access(old, F_OK) != 0; i++)
        th_client_close(hu_connect(&h));
    CHECK(access(old, F_OK) == 0);
    /* the new file is bounded: records written meanwhile may have rotated
     * it again, and lines the actor log writes to standard error (which
     * follows the file) are not counted by the internal log's rotation, so
     * allow one bound more, far below the 40 contexts' worth */
    struct stat st;
    CHECK(stat(logfile, &st) == 0 && st.st_size < 2 * 3000);
    /* the actor log's default destination, standard error, now writes to
     * the new file, not to the .old one */
    th_client_t *c = hu_connect(&h);
    th_addr_t a;
    CHECK_RC(th_client_create(c, &a, "logactors.Logger", NULL), 0);
    log_through(c, &a, 30, "warning-after-rotation");
    th_client_close(c);
    CHECK(await_file_has(logfile, "warning-after-rotation", 2000));
    char *o = th_slurp_text(old);
    CHECK(strstr(o, "warning-after-rotation") == NULL);
    free(o);
    int rc = hu_stop(&h);
    CHECK_EQ(rc, 0);
    hu_rm_scratch(h.dir);
}

TH_TEST_MAIN(TH_CASE(log_config_formats_actor_records_and_sigusr1_dumps),
             TH_CASE(bad_log_config_is_refused_naming_the_file),
             TH_CASE(internal_log_rotates_under_logfile_and_stderr_follows))
