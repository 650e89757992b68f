/*
 * tests/integration/daemon_test.c — thespiand as a process: a second start
 * on a live endpoint uses the existing system (exit 0), daemon mode with
 * an atomically written pid file removed on SIGTERM, stale pid files and
 * stale ipc endpoints cleaned with a log line, a pid file of a live
 * thespiand refused, an endpoint held by something else, bad capabilities
 * and usage errors. Needs $THESPIAND and $HELLO_SO.
 */
#include "host_util.h"
#include "th_test.h"

#include <sys/un.h>

/* Run thespiand with `args` (NULL-terminated, after argv[0]) to its exit;
 * its stdout and stderr go to `out` (a NUL-terminated text). Returns the
 * exit status, -signal, or -1000 after timeout_ms. */
static int
run_thespiand(const char *const *args, char *out, size_t size, int timeout_ms)
{
    char path[] = "/tmp/th-daemon-out-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *argv[32];
    int n = 0;
    hu_keys(); /* the admin keys of tcp:// hosts */
    argv[n++] = hu_thespiand();
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("THESPLOG_THRESHOLD", "INFO", 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    hu_host_t h = {.pid = pid};
    int rc = hu_wait_exit(&h, timeout_ms);
    if (rc == -1000) {
        kill(pid, SIGKILL);
        hu_wait_exit(&h, 5000);
    }
    ssize_t got = pread(fd, out, size - 1, 0);
    out[got > 0 ? got : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

static const char *
hello_so(void)
{
    const char *p = getenv("HELLO_SO");
    CHECK(p != NULL);
    return p;
}

static long
read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = -1;
    fclose(f);
    return pid;
}

static bool
alive(long pid)
{
    return kill((pid_t)pid, 0) == 0;
}

/* A pid that surely runs nothing: a child that has exited and been reaped. */
static long
dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return (long)p;
}

static bool
file_has(const char *path, const char *needle)
{
    hu_host_t h = {0};
    if (strlen(path) >= sizeof h.log)
        return false;
    memcpy(h.log, path, strlen(path) + 1);
    return hu_log_has(&h, needle);
}

static void
wait_gone(long pid)
{
    int64_t end = th_now_ms() + 20000;
    while (alive(pid) && th_now_ms() < end)
        hu_sleep_ms(20);
    CHECK(!alive(pid));
}

TH_TEST(second_start_uses_the_existing_system)
{
    hu_host_t h = {0};
    const char *extra[] = {"--plugin", hello_so(), NULL};
    hu_start(&h, extra);
    char out[4096];
    const char *args[] = {"--foreground", "--endpoint", h.endpoint, NULL};
    int64_t t0 = th_now_ms();
    CHECK_EQ(run_thespiand(args, out, sizeof out, 20000), 0);
    CHECK(th_now_ms() - t0 < 10000);
    CHECK_CONTAINS(out, "already running");
    CHECK_CONTAINS(out, h.endpoint);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)h.pid);
    CHECK_CONTAINS(out, pid);
    /* the same in daemon mode, and the first host is untouched */
    const char *dargs[] = {"--daemon", "--endpoint", h.endpoint, NULL};
    CHECK_EQ(run_thespiand(dargs, out, sizeof out, 20000), 0);
    CHECK_CONTAINS(out, "already running");
    th_client_t *c = hu_connect(&h);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(daemon_writes_and_removes_its_pid_file)
{
    char dir[256], pidfile[400], logfile[400], ep[64], out[4096];
    hu_scratch(dir, sizeof dir);
    snprintf(pidfile, sizeof pidfile, "%s/t.pid", dir);
    snprintf(logfile, sizeof logfile, "%s/t.log", dir);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", hu_free_port());
    const char *args[] = {"--daemon", "--endpoint", ep,      "--pidfile",
                          pidfile,    "--logfile",  logfile, "--plugin",
                          hello_so(), NULL};
    /* returns once the daemon serves */
    CHECK_EQ(run_thespiand(args, out, sizeof out, 20000), 0);
    CHECK_CONTAINS(out, "serving");
    long pid = read_pid(pidfile);
    CHECK(pid > 0 && alive(pid));
    hu_host_t h = {0};
    snprintf(h.endpoint, sizeof h.endpoint, "%s", ep);
    th_client_t *c = hu_connect(&h);
    char *status = NULL;
    CHECK_RC(th_client_status(c, &status), 0);
    char want[64];
    snprintf(want, sizeof want, "\"pid\":%ld", pid);
    CHECK_CONTAINS(status, want);
    th_client_free(status);
    th_client_close(c);
    kill((pid_t)pid, SIGTERM);
    wait_gone(pid);
    CHECK(access(pidfile, F_OK) != 0); /* removed on exit */
    CHECK(file_has(logfile, "shutting down (signal SIGTERM)"));
    CHECK(!file_has(logfile, "Sanitizer"));
    hu_rm_scratch(dir);
}

TH_TEST(stale_pid_files_are_replaced)
{
    char dir[256], pidfile[400], logfile[400], ep[64], out[4096];
    hu_scratch(dir, sizeof dir);
    snprintf(pidfile, sizeof pidfile, "%s/t.pid", dir);
    snprintf(logfile, sizeof logfile, "%s/t.log", dir);
    /* three kinds of stale: a dead pid, a live process that is not a
     * thespiand (this test), garbage */
    const char *contents[3];
    char dead[32], mine[32];
    snprintf(dead, sizeof dead, "%ld\n", dead_pid());
    snprintf(mine, sizeof mine, "%ld\n", (long)getpid());
    contents[0] = dead;
    contents[1] = mine;
    contents[2] = "not a pid";
    const char *why[3] = {"is not running", "is not a thespiand", "malformed"};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(pidfile, "w");
        fputs(contents[i], f);
        fclose(f);
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", hu_free_port());
        const char *args[] = {"--daemon", "--endpoint", ep,      "--pidfile",
                              pidfile,    "--logfile",  logfile, NULL};
        CHECK_EQ(run_thespiand(args, out, sizeof out, 20000), 0);
        long pid = read_pid(pidfile);
        CHECK(pid > 0 && pid != getpid() && alive(pid));
        CHECK(file_has(logfile, "stale pid file"));
        CHECK(file_has(logfile, why[i]));
        kill((pid_t)pid, SIGTERM);
        wait_gone(pid);
        CHECK(access(pidfile, F_OK) != 0);
    }
    hu_rm_scratch(dir);
}

TH_TEST(pid_file_of_a_live_thespiand_is_refused)
{
    hu_host_t h = {0};
    hu_scratch(h.dir, sizeof h.dir);
    char pidfile[400], out[4096], ep[64];
    snprintf(pidfile, sizeof pidfile, "%s/shared.pid", h.dir);
    const char *extra[] = {"--pidfile", pidfile, NULL};
    hu_start(&h, extra);
    CHECK_EQ(read_pid(pidfile), h.pid);
    /* another endpoint, the same pid file: not stale, refused */
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", hu_free_port());
    const char *args[] = {"--foreground", "--endpoint", ep,
                          "--pidfile",    pidfile,      NULL};
    CHECK_EQ(run_thespiand(args, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, pidfile);
    CHECK_CONTAINS(out, "belongs to thespiand");
    CHECK_EQ(read_pid(pidfile), h.pid); /* untouched */
    CHECK(hu_finish(&h));
}

TH_TEST(stale_ipc_endpoint_is_cleaned)
{
    hu_host_t h = {0};
    hu_scratch(h.dir, sizeof h.dir);
    char path[300];
    snprintf(path, sizeof path, "%s/a.sock", h.dir);
    /* a socket file left by a dead process: bound, never unlinked */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    CHECK(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    CHECK_RC(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s);
    CHECK(access(path, F_OK) == 0);
    snprintf(h.endpoint, sizeof h.endpoint, "ipc://%.100s", path);
    snprintf(h.log, sizeof h.log, "%s/thespiand.log", h.dir);
    const char *argv[] = {hu_thespiand(), "--foreground", "--endpoint",
                          h.endpoint, NULL};
    fflush(NULL);
    h.pid = fork();
    if (h.pid == 0) {
        int fd = open(h.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        dup2(fd, 1); /* its "serving" line must not enter the TAP stream */
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    CHECK(hu_wait_ready(&h, 20000));
    CHECK(hu_finish(&h));
}

TH_TEST(endpoint_held_by_something_else_fails)
{
    /* a listener that never speaks the protocol */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    CHECK_RC(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_RC(listen(s, 16), 0);
    getsockname(s, (struct sockaddr *)&a, &len);
    char ep[64], out[4096];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
    const char *args[] = {"--foreground", "--endpoint", ep, NULL};
    CHECK_EQ(run_thespiand(args, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, ep);
    CHECK_CONTAINS(out, "not a thespiand");
    close(s);
}

TH_TEST(bad_options_and_capabilities)
{
    char out[4096];
    const char *a1[] = {"--capabilities", "[1,2]", "--foreground", NULL};
    CHECK_EQ(run_thespiand(a1, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, "--capabilities");
    CHECK_CONTAINS(out, "JSON object");
    const char *a2[] = {"--capabilities", "{nope", "--foreground", NULL};
    CHECK_EQ(run_thespiand(a2, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, "not valid JSON");
    const char *a3[] = {"--capabilities-file", "/nonexistent/caps.json",
                        "--foreground", NULL};
    CHECK_EQ(run_thespiand(a3, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, "/nonexistent/caps.json");
    const char *a4[] = {"--bogus", NULL};
    CHECK_EQ(run_thespiand(a4, out, sizeof out, 20000), 2);
    CHECK_CONTAINS(out, "--bogus");
    const char *a5[] = {"--workers", "many", NULL};
    CHECK_EQ(run_thespiand(a5, out, sizeof out, 20000), 2);
    const char *a6[] = {"--endpoint", "udp://x", "--foreground", NULL};
    CHECK_EQ(run_thespiand(a6, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, "udp://x");
    const char *a7[] = {"--plugin", "/nonexistent/p.so", "--foreground", NULL};
    CHECK_EQ(run_thespiand(a7, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, "/nonexistent/p.so");
    const char *a8[] = {"--help", NULL};
    CHECK_EQ(run_thespiand(a8, out, sizeof out, 20000), 0);
    CHECK_CONTAINS(out, "usage: thespiand");
    /* a capabilities file that is an object is taken */
    char dir[256], caps[400], ep[64];
    hu_scratch(dir, sizeof dir);
    /* FIFOs and directories are refused at once, not waited on */
    char fifo[400];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK_RC(mkfifo(fifo, 0600), 0);
    const char *a9[] = {"--capabilities-file", fifo, "--foreground", NULL};
    CHECK_EQ(run_thespiand(a9, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, "not a regular file");
    const char *a10[] = {"--capabilities-file", dir, "--foreground", NULL};
    CHECK_EQ(run_thespiand(a10, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, "not a regular file");
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", hu_free_port());
    const char *a11[] = {"--endpoint",   ep,  "--logfile", fifo,
                         "--foreground", NULL};
    CHECK_EQ(run_thespiand(a11, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, "--logfile");
    /* the endpoint rule's config file, as a FIFO: an error, no hang */
    char cfg[400];
    snprintf(cfg, sizeof cfg, "%s/adminendpoint.cfg", dir);
    CHECK_RC(mkfifo(cfg, 0600), 0);
    setenv("THESPIAN_DIRECTOR_DIR", dir, 1);
    unsetenv("THESPIAN_ENDPOINT");
    char buf[TH_CLIENT_ENDPOINT_MAX];
    th_client_error_t err;
    CHECK_RC(th_client_endpoint(buf, NULL, &err), TH_EIO);
    CHECK_CONTAINS(err.message, "not a regular file");
    unsetenv("THESPIAN_DIRECTOR_DIR");
    unlink(cfg);
    snprintf(caps, sizeof caps, "%s/caps.json", dir);
    /* the common capabilities are the runtime's: setting one is refused */
    FILE *f = fopen(caps, "w");
    fputs("{\"Thespian Watch Supported\": true, \"cores\": 2}\n", f);
    fclose(f);
    const char *a12[] = {"--capabilities-file", caps, "--foreground", NULL};
    CHECK_EQ(run_thespiand(a12, out, sizeof out, 20000), 1);
    CHECK_CONTAINS(out, "\"Thespian Watch Supported\" is a common capability");
    f = fopen(caps, "w");
    fputs("{\"gpu\": true, \"cores\": 2}\n", f);
    fclose(f);
    hu_host_t h = {0};
    const char *extra[] = {"--capabilities-file", caps, NULL};
    hu_start(&h, extra);
    th_client_t *c = hu_connect(&h);
    char *status = NULL;
    CHECK_RC(th_client_status(c, &status), 0);
    CHECK_CONTAINS(status, "\"cores\":2");
    th_client_free(status);
    th_client_close(c);
    CHECK(hu_finish(&h));
    hu_rm_scratch(dir);
}

TH_TEST_MAIN(TH_CASE(second_start_uses_the_existing_system),
             TH_CASE(daemon_writes_and_removes_its_pid_file),
             TH_CASE(stale_pid_files_are_replaced),
             TH_CASE(pid_file_of_a_live_thespiand_is_refused),
             TH_CASE(stale_ipc_endpoint_is_cleaned),
             TH_CASE(endpoint_held_by_something_else_fails),
             TH_CASE(bad_options_and_capabilities))
