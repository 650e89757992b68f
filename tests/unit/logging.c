/*
 * tests/unit/logging.c — the two log streams (docs/logging.md): the actor
 * log (configuration, format fields, actor address, level, destination,
 * bad configurations) and the internal log (default file, threshold,
 * rotation at THESPLOG_FILE_MAXSIZE, the SIGUSR1 status dump). log.c and
 * logcfg.c keep process-wide state: each case sets its environment before
 * its first record (the harness forks per case).
 */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdatomic.h>

#include "host/log.h"
#include "rt_util.h"

static char dir[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

/* At a passing case's exit (a failing one _exits: its files stay). */
static void
rm_scratch(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
scratch(void)
{
    snprintf(dir, sizeof dir, "/tmp/thlogXXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    atexit(rm_scratch);
    char p[128];
    snprintf(p, sizeof p, "%s/internal.log", dir);
    setenv("THESPLOG_FILE", p, 1);
    unsetenv("THESPLOG_THRESHOLD");
    unsetenv("THESPLOG_FILE_MAXSIZE");
}

static char *
path_in(const char *name)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void
configure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
configure(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    th_diag_t d;
    int rc = th_log_configure_json(text, &d);
    if (rc != 0)
        TH_FAIL_AT_("configure %s: %s", text, d.msg);
}

/* Ask a Logger in `sys` to log; returns once it has. */
static void
actor_log(th_system_t *sys, th_inbox_t *in, const th_addr_t *logger,
          int level, const char *text, int n)
{
    char body[256];
    snprintf(body, sizeof body, "{\"level\": %d, \"text\": \"%s\", \"n\": %d}",
             level, text, n);
    CHECK_RC(th_inbox_send(in, logger, "Log", body, strlen(body)), 0);
    (void)sys;
    json_decref(rt_expect(in, "Logged", 5000));
}

static const char *const logplugins[] = {"logactors", NULL};

TH_TEST(actor_records_carry_the_address_in_the_format)
{
    scratch();
    configure("{\"level\": \"INFO\", \"destination\": \"%s\", \"format\": "
              "\"%%(levelname)s|%%(levelno)s|%%(actorAddress)s|%%(message)s"
              "|%%%%\"}",
              path_in("actors.log"));
    for (int sync = 0; sync < 2; sync++) {
        th_system_opts_t o = {.synchronous = sync, .workers = 2};
        th_system_t *sys = rt_system(&o, logplugins);
        th_inbox_t *in = NULL;
        CHECK_RC(th_inbox_create(sys, &in), 0);
        th_addr_t a = rt_create(sys, "logactors.Logger");
        actor_log(sys, in, &a, TH_LOG_INFO, sync ? "hello-sync" : "hello", 1);
        th_log_record(TH_LOG_ERROR, "outside %d", sync);
        char as[TH_ADDR_STRLEN], want[256];
        th_addr_to_string(&a, as, sizeof as);
        char *log = th_slurp_text(path_in("actors.log"));
        snprintf(want, sizeof want, "INFO|20|%s|%s|%%\n", as,
                 sync ? "hello-sync" : "hello");
        CHECK_CONTAINS(log, want);
        /* not from an actor: the address field is empty */
        snprintf(want, sizeof want, "\nERROR|40||outside %d|%%\n", sync);
        CHECK_CONTAINS(log, want);
        /* the actor log is not the internal log */
        char *internal = th_slurp_text(path_in("internal.log"));
        CHECK(strstr(internal, "hello") == NULL);
        free(internal);
        free(log);
        th_inbox_destroy(in);
        th_system_destroy(sys);
    }
}

TH_TEST(level_threshold_filters)
{
    scratch();
    configure("{\"level\": \"warning\", \"file\": \"%s\", \"format\": "
              "\"%%(levelname)s %%(message)s\"}",
              path_in("a.log"));
    CHECK_EQ(th_log_level(), TH_LOG_WARNING);
    th_system_t *sys = rt_system(NULL, logplugins);
    th_inbox_t *in = NULL;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "logactors.Logger");
    actor_log(sys, in, &a, TH_LOG_DEBUG, "dbg", 1);
    actor_log(sys, in, &a, TH_LOG_INFO, "inf", 1);
    actor_log(sys, in, &a, TH_LOG_WARNING, "wrn", 1);
    actor_log(sys, in, &a, TH_LOG_CRITICAL, "crit", 1);
    th_log_record(TH_LOG_INFO, "outside-info");
    char *log = th_slurp_text(path_in("a.log"));
    CHECK(strstr(log, "dbg") == NULL);
    CHECK(strstr(log, "inf") == NULL);
    CHECK(strstr(log, "outside-info") == NULL);
    CHECK_CONTAINS(log, "WARNING wrn\n");
    CHECK_CONTAINS(log, "CRITICAL crit\n");
    free(log);
    /* lower it while the system runs */
    configure("{\"level\": \"DEBUG\", \"destination\": \"%s\", \"format\": "
              "\"%%(levelname)s %%(message)s\"}",
              path_in("a.log"));
    actor_log(sys, in, &a, TH_LOG_DEBUG, "dbg2", 1);
    log = th_slurp_text(path_in("a.log"));
    CHECK_CONTAINS(log, "DEBUG dbg2\n");
    free(log);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(default_is_warning_to_stderr)
{
    scratch();
    int fd = open(path_in("stderr"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    close(fd);
    th_log_record(TH_LOG_INFO, "quiet-info");
    th_log_record(TH_LOG_WARNING, "loud-warning");
    dup2(saved, 2);
    close(saved);
    char *err = th_slurp_text(path_in("stderr"));
    CHECK(strstr(err, "quiet-info") == NULL);
    CHECK_CONTAINS(err, " WARNING [] loud-warning\n");
    free(err);
}

/* Each bad configuration: its code and key, and the previous one stays. */
TH_TEST(bad_config_names_the_key_and_keeps_the_previous)
{
    scratch();
    configure("{\"level\": \"INFO\", \"destination\": \"%s\", \"format\": "
              "\"good %%(message)s\"}",
              path_in("good.log"));
    static const struct {
        const char *text;
        int code;
        const char *why;
    } bad[] = {
        {"{\"level\": \"INFO\"", TH_EFORMAT, "not valid JSON"},
        {"[1, 2]", TH_EINVAL, "JSON object"},
        {"{\"level\": \"LOUD\"}", TH_EINVAL, "\"level\": \"LOUD\""},
        {"{\"level\": 3}", TH_EINVAL, "\"level\" must be a string"},
        {"{\"colour\": \"red\"}", TH_EINVAL, "unknown key \"colour\""},
        {"{\"format\": \"%(bogus)s\"}", TH_EINVAL, "unknown field %(bogus)s"},
        {"{\"format\": \"%d %(message)s\"}", TH_EFORMAT, "\"format\""},
        {"{\"format\": \"%(message)d\"}", TH_EFORMAT, "\"format\""},
        {"{\"destination\": \"/nonexistent/dir/x.log\"}", TH_EIO,
         "\"destination\": /nonexistent/dir/x.log"},
        {"{\"destination\": \"\"}", TH_EINVAL, "\"destination\" is empty"},
        {"{\"file\": \"a\", \"destination\": \"b\"}", TH_EINVAL, "alias"},
        {"{\"level\": \"INFO\", \"level\": \"DEBUG\"}", TH_EFORMAT,
         "duplicate"},
    };
    th_system_t *sys = rt_system(NULL, logplugins);
    th_inbox_t *in = NULL;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "logactors.Logger");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        th_diag_t d;
        int rc = th_log_configure_json(bad[i].text, &d);
        if (rc != bad[i].code || strstr(d.msg, bad[i].why) == NULL)
            TH_FAIL_AT_("%s: rc %d msg \"%s\", want %d and \"%s\"",
                        bad[i].text, rc, d.msg, bad[i].code, bad[i].why);
        CHECK_EQ(d.code, rc);
        /* still the good one: level INFO, its file, its format */
        char text[32];
        snprintf(text, sizeof text, "probe-%zu", i);
        actor_log(sys, in, &a, TH_LOG_INFO, text, 1);
        char want[64];
        snprintf(want, sizeof want, "good %s\n", text);
        char *log = th_slurp_text(path_in("good.log"));
        CHECK_CONTAINS(log, want);
        free(log);
    }
    /* from a file: the diag names the file, then the key */
    FILE *f = fopen(path_in("bad.cfg"), "w");
    fputs("{\"level\": \"LOUD\"}", f);
    fclose(f);
    th_diag_t d;
    CHECK_RC(th_log_configure_file(path_in("bad.cfg"), &d), TH_EINVAL);
    char want[256];
    snprintf(want, sizeof want, "%s: \"level\"", path_in("bad.cfg"));
    CHECK_CONTAINS(d.msg, want);
    f = fopen(path_in("bad.cfg"), "w");
    fputs("not json", f);
    fclose(f);
    CHECK_RC(th_log_configure_file(path_in("bad.cfg"), &d), TH_EFORMAT);
    CHECK_CONTAINS(d.msg, path_in("bad.cfg"));
    CHECK_CONTAINS(d.msg, "not valid JSON");
    CHECK_RC(th_log_configure_file(path_in("missing.cfg"), &d), TH_EIO);
    CHECK_CONTAINS(d.msg, path_in("missing.cfg"));
    /* and a good file works */
    f = fopen(path_in("ok.cfg"), "w");
    fprintf(f, "{\"file\": \"%s\", \"format\": \"%%(message)s!\"}",
            path_in("ok.log"));
    fclose(f);
    CHECK_RC(th_log_configure_file(path_in("ok.cfg"), &d), 0);
    actor_log(sys, in, &a, TH_LOG_ERROR, "from-file", 1);
    char *log = th_slurp_text(path_in("ok.log"));
    CHECK_STREQ(log, "from-file!\n");
    free(log);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* Reconfiguring while records are written: every record is whole, in
 * one of the two files, none lost. */
#define SPIN_RECORDS 5000
static atomic_int loggers_done;

static void *
log_loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < SPIN_RECORDS; i++)
        th_log_record(TH_LOG_WARNING, "spin %d end", i);
    atomic_fetch_add(&loggers_done, 1);
    return NULL;
}

TH_TEST(configure_while_logging)
{
    scratch();
    configure("{\"destination\": \"%s\", \"format\": \"<%%(message)s>\"}",
              path_in("x.log"));
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK(pthread_create(&t[i], NULL, log_loop, NULL) == 0);
    for (int i = 0; atomic_load(&loggers_done) < 3; i++) {
        configure("{\"destination\": \"%s\", \"format\": \"<%%(message)s>\"}",
                  path_in(i % 2 ? "x.log" : "y.log"));
        usleep(200);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    int total = 0;
    for (int k = 0; k < 2; k++) {
        char *log = th_slurp_text(path_in(k ? "x.log" : "y.log"));
        int recs = count(log, "<spin "), ends = count(log, " end>\n");
        CHECK_EQ(recs, ends);
        CHECK_EQ(count(log, "\n"), recs);
        total += recs;
        free(log);
    }
    CHECK_EQ(total, 3 * SPIN_RECORDS);
}

TH_TEST(internal_log_default_file_and_threshold)
{
    scratch();
    unsetenv("THESPLOG_FILE");
    setenv("TMPDIR", dir, 1);
    setenv("THESPLOG_THRESHOLD", "ERROR", 1);
    thi_log(TH_LOG_WARNING, NULL, "below-threshold");
    thi_log(TH_LOG_ERROR, NULL, "internal-error");
    char *log = th_slurp_text(path_in("thespian.log"));
    CHECK(strstr(log, "below-threshold") == NULL);
    CHECK_CONTAINS(log, " ERROR [] internal-error\n");
    free(log);
}

/* No input forges a record or sends a terminal escape: both logs escape
 * control bytes and invalid UTF-8 in every record. */
TH_TEST(records_escape_control_bytes_and_invalid_utf8)
{
    scratch();
    setenv("THESPLOG_THRESHOLD", "WARNING", 1);
    thi_log(TH_LOG_WARNING, NULL, "name %s end",
            "a\x1b[2J\r\nFORGED 2000-01-01 CRITICAL [] x\a\xff\xc2\x9b");
    char *log = th_slurp_text(path_in("internal.log"));
    CHECK_CONTAINS(log, "name a\\x1b[2J\\r\\nFORGED 2000-01-01 CRITICAL [] "
                        "x\\x07\\xff\\xc2\\x9b end\n");
    CHECK(strstr(log, "\nFORGED") == NULL && strchr(log, '\x1b') == NULL);
    free(log);
    configure("{\"level\": \"warning\", \"file\": \"%s\", \"format\": "
              "\"%%(levelname)s %%(message)s\"}",
              path_in("actor.log"));
    th_log_record(TH_LOG_WARNING, "outside %s end", "b\nFORGED\x1b\xfe");
    log = th_slurp_text(path_in("actor.log"));
    CHECK_STREQ(log, "WARNING outside b\\nFORGED\\x1b\\xfe end\n");
    free(log);
}

static void *
internal_writer(void *arg)
{
    long t = (long)(intptr_t)arg;
    for (int i = 0; i < 12; i++)
        thi_log(TH_LOG_WARNING, NULL, "rec %ld-%02d payload-payload end", t, i);
    return NULL;
}

static long
size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Every line of `log` is one whole record; returns how many. */
static int
whole_records(const char *log)
{
    int n = 0;
    for (const char *p = log; *p;) {
        const char *nl = strchr(p, '\n');
        CHECK(nl != NULL); /* no record cut at the end of a file */
        CHECK(strncmp(p, "20", 2) == 0);  /* starts with its timestamp */
        CHECK(strncmp(nl - 4, " end", 4) == 0);
        n++;
        p = nl + 1;
    }
    return n;
}

TH_TEST(internal_log_rotates_at_the_size_limit)
{
    scratch();
    setenv("THESPLOG_FILE_MAXSIZE", "2000", 1);
    /* 4 threads x 12 records of ~75 bytes: ~3600 bytes, one rotation */
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, internal_writer,
                             (void *)(intptr_t)i) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    const char *cur = path_in("internal.log");
    char old[160];
    snprintf(old, sizeof old, "%s.old", cur);
    long cs = size_of(cur), os = size_of(old);
    CHECK(os > 0);
    CHECK(os <= 2000);
    CHECK(cs > 0 && cs < 2000);
    char *a = th_slurp_text(old), *b = th_slurp_text(cur);
    CHECK_EQ(whole_records(a) + whole_records(b), 48);
    for (long i = 0; i < 4; i++)
        for (int k = 0; k < 12; k++) {
            char rec[32];
            snprintf(rec, sizeof rec, "rec %ld-%02d ", i, k);
            CHECK_EQ(count(a, rec) + count(b, rec), 1);
        }
    free(a);
    free(b);
    /* many more: one backup only, each file within the limit */
    for (int i = 0; i < 200; i++)
        thi_log(TH_LOG_ERROR, NULL, "more %d end", i);
    CHECK(size_of(cur) <= 2000 && size_of(old) <= 2000);
    b = th_slurp_text(cur);
    CHECK_CONTAINS(b, "more 199 end\n");
    whole_records(b);
    free(b);
    a = th_slurp_text(old);
    whole_records(a);
    free(a);
}

TH_TEST(bad_maxsize_warns_and_uses_the_default)
{
    scratch();
    setenv("THESPLOG_FILE_MAXSIZE", "2k", 1);
    int fd = open(path_in("stderr"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int saved = dup(2);
    dup2(fd, 2);
    close(fd);
    for (int i = 0; i < 100; i++) /* ~5 KB: under 10 MiB, no rotation */
        thi_log(TH_LOG_ERROR, NULL, "filler %d end", i);
    dup2(saved, 2);
    close(saved);
    char *err = th_slurp_text(path_in("stderr"));
    CHECK_CONTAINS(err, "THESPLOG_FILE_MAXSIZE=\"2k\"");
    CHECK_EQ(count(err, "THESPLOG_FILE_MAXSIZE"), 1);
    free(err);
    CHECK(size_of(path_in("internal.log.old")) < 0);
    CHECK(size_of(path_in("internal.log")) > 4000);
}

/* Wait until the internal log holds `needle` (5 s). */
static bool
await_internal(const char *needle)
{
    for (int i = 0; i < 500; i++) {
        char *log = th_slurp_text(path_in("internal.log"));
        bool found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return true;
        usleep(10000);
    }
    return false;
}

TH_TEST(sigusr1_dumps_status_to_the_internal_log)
{
    scratch();
    setenv("THESPLOG_THRESHOLD", "CRITICAL", 1); /* the dump still shows */
    th_system_opts_t a = {.name = "dump-threaded", .workers = 1};
    th_system_opts_t b = {.name = "dump-sync", .synchronous = true};
    th_system_t *s1 = rt_system(&a, logplugins);
    th_system_t *s2 = rt_system(&b, logplugins);
    rt_create(s1, "logactors.Logger");
    CHECK(kill(getpid(), SIGUSR1) == 0);
    CHECK(await_internal("\"name\":\"dump-sync\""));
    CHECK(await_internal("\"name\":\"dump-threaded\""));
    CHECK(await_internal(" STATUS [] SIGUSR1: status of 2 system(s)"));
    CHECK(await_internal("logactors.Logger"));
    th_system_destroy(s2);
    /* a destroyed system is no longer dumped; the process lives on */
    CHECK(kill(getpid(), SIGUSR1) == 0);
    CHECK(await_internal("SIGUSR1: status of 1 system(s)"));
    th_system_destroy(s1);
}

static volatile sig_atomic_t mine_called;
static void
mine(int sig)
{
    (void)sig;
    mine_called = 1;
}

TH_TEST(sigusr1_handler_of_the_program_is_kept)
{
    scratch();
    signal(SIGUSR1, mine);
    th_system_t *sys = rt_system(NULL, NULL);
    CHECK(await_internal("the status dump is off"));
    CHECK(kill(getpid(), SIGUSR1) == 0);
    for (int i = 0; i < 500 && !mine_called; i++)
        usleep(10000);
    CHECK(mine_called);
    th_system_destroy(sys);
}

TH_TEST_MAIN(TH_CASE(actor_records_carry_the_address_in_the_format),
             TH_CASE(records_escape_control_bytes_and_invalid_utf8),
             TH_CASE(level_threshold_filters),
             TH_CASE(default_is_warning_to_stderr),
             TH_CASE(bad_config_names_the_key_and_keeps_the_previous),
             TH_CASE(configure_while_logging),
             TH_CASE(internal_log_default_file_and_threshold),
             TH_CASE(internal_log_rotates_at_the_size_limit),
             TH_CASE(bad_maxsize_warns_and_uses_the_default),
             TH_CASE(sigusr1_dumps_status_to_the_internal_log),
             TH_CASE(sigusr1_handler_of_the_program_is_kept))
