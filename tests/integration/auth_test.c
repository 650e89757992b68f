/*
 * tests/integration/auth_test.c — the authenticated admin endpoint through
 * a live thespiand (docs/security.md): on tcp:// a client with no key, an
 * unknown key or the wrong host key is refused before any request is
 * read (a shutdown from it leaves the host running), and each kind of
 * refusal is logged once per burst; an allow-listed key works and stops
 * working when revoked; an unsafe secret key file stops the start; on
 * ipc:// the socket directory is made 0700, and one open to others stops
 * the start. Needs $THESPIAND, $THESPIAN_CLI and $HELLO_SO.
 */
#include <jansson.h>
#include <zmq.h>

#include "curve_util.h"
#include "host_util.h"
#include "probe.h"
#include "th_test.h"

static const char *
hello_so(void)
{
    const char *p = getenv("HELLO_SO");
    CHECK(p && *p);
    return p;
}

static void
start(hu_host_t *h)
{
    const char *extra[] = {"--plugin", hello_so(), NULL};
    hu_start(h, extra);
}

/* Run a program to its end; its exit status, output into out. */
static int
run(char *out, size_t size, const char *const *argv)
{
    char path[] = "/tmp/th-auth-out-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    ssize_t n = pread(fd, out, size - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *
cli(void)
{
    const char *p = getenv("THESPIAN_CLI");
    CHECK(p && *p);
    return p;
}

/* How many lines of the host's log contain `needle`. */
static int
log_count(const hu_host_t *h, const char *needle)
{
    FILE *f = fopen(h->log, "r");
    if (f == NULL)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static bool
log_soon(const hu_host_t *h, const char *needle)
{
    for (int i = 0; i < 250; i++) {
        if (hu_log_has(h, needle))
            return true;
        hu_sleep_ms(20);
    }
    fprintf(stderr, "# log %s lacks \"%s\"\n", h->log, needle);
    return false;
}

/* Send hello then shutdown as a raw client; true when anything came
 * back within 300 ms (a refused peer gets nothing). */
static bool
raw_shutdown(void *zctx, const hu_host_t *h, int kind)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    thi_curve_key_t mine, other;
    char why[THI_CURVE_WHY], server[THI_CURVE_Z85];
    if (kind == 1) { /* a key of its own, not in the allow-list */
        CHECK_RC(thi_curve_keygen(&mine, why), 0);
        CHECK_RC(thi_curve_client_keys(&other, server, NULL, NULL, why), 0);
        CHECK_RC(thi_curve_client(s, &mine, server, why), 0);
    } else if (kind == 2) { /* the operator's key, a wrong host key */
        CHECK_RC(thi_curve_client_keys(&mine, server, NULL, NULL, why), 0);
        CHECK_RC(thi_curve_keygen(&other, why), 0);
        CHECK_RC(thi_curve_client(s, &mine, other.pub, why), 0);
    } /* kind 0: no CurveZMQ at all */
    CHECK_RC(zmq_connect(s, h->endpoint), 0);
    static const char *const hdrs[] = {"{\"op\":\"hello\",\"id\":1}",
                                       "{\"op\":\"shutdown\",\"id\":2}"};
    for (int i = 0; i < 2; i++) {
        unsigned char buf[128];
        size_t hl = strlen(hdrs[i]);
        memcpy(buf, "TH\x01\x00", 4);
        buf[4] = buf[5] = buf[6] = 0;
        buf[7] = (unsigned char)hl;
        memcpy(buf + 8, hdrs[i], hl);
        /* queued: a refused connection never takes them */
        (void)zmq_send(s, buf, 8 + hl, ZMQ_DONTWAIT);
    }
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    bool got = zmq_poll(&it, 1, 300) > 0;
    zmq_close(s);
    return got;
}

TH_TEST(unauthenticated_clients_are_refused_and_logged_once_per_burst)
{
    hu_host_t h = {0};
    start(&h);
    void *zctx = zmq_ctx_new();
    /* no key, then an unknown key, then the wrong host key: the first
     * and the last are the same kind of refusal (a failed handshake),
     * and all come within one burst window */
    static const char *const why[] = {"CurveZMQ handshake failed",
                                      "is not in the allow-list",
                                      "CurveZMQ handshake failed"};
    static const int kinds[] = {0, 1, 2};
    for (int k = 0; k < 3; k++) {
        int kind = kinds[k];
        for (int i = 0; i < 8; i++) /* a burst of the same kind */
            CHECK(!raw_shutdown(zctx, &h, kind));
        CHECK(log_soon(&h, why[kind]));
        hu_sleep_ms(300); /* the monitor is read every 100 ms */
        CHECK_EQ(log_count(&h, why[kind]), 1);
        CHECK_EQ(log_count(&h, "refused a connection"), kind == 0 ? 1 : 2);
        /* no request was read: the shutdown did nothing */
        CHECK(waitpid(h.pid, NULL, WNOHANG) == 0);
        hu_probe_greeter(&h);
    }
    CHECK_EQ(log_count(&h, "shutdown"), 0);
    /* a refused connection is a refusal, not a dropped connection (a
     * context's own line may race with its goodbye: not counted) */
    CHECK_EQ(log_count(&h, "(no context) dropped without a goodbye"), 0);
    /* what was held back is counted once the window (10 s) is over */
    for (int i = 0; i < 60 && !hu_log_has(&h, "more connections refused "
                                              "with a failed CurveZMQ");
         i++)
        hu_sleep_ms(250);
    CHECK(log_soon(&h, "more connections refused with a failed CurveZMQ"));
    CHECK(log_soon(&h, "more connections refused with a client key not"));
    zmq_ctx_term(zctx);
    CHECK(hu_finish(&h));
}

TH_TEST(client_library_says_why_it_was_refused)
{
    hu_host_t h = {0};
    start(&h);
    char keys[300], sec[400], pub[400], out[4096];
    snprintf(keys, sizeof keys, "%s/k", h.dir);
    CHECK_RC(mkdir(keys, 0700), 0);
    const char *kg[] = {cli(), "keygen", "--admin", "bob", "--dir", keys, NULL};
    CHECK_RC(run(out, sizeof out, kg), 0);
    snprintf(sec, sizeof sec, "%s/bob.key", keys);
    snprintf(pub, sizeof pub, "%s/bob.pub", keys);
    struct stat st;
    CHECK_RC(stat(sec, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);

    th_client_opts_t o = {.size = sizeof o,
                          .endpoint = h.endpoint,
                          .connect_timeout_ms = 5000,
                          .admin_key = sec};
    th_client_error_t err;
    th_client_t *c = NULL;
    CHECK_RC(th_client_connect(&c, &o, &err), TH_EPERM);
    CHECK_CONTAINS(err.message, "allow-list");
    o.admin_key = NULL;
    o.server_key = pub; /* not the host's key */
    CHECK_RC(th_client_connect(&c, &o, &err), TH_EPERM);
    CHECK_CONTAINS(err.message, "handshake");
    /* a secret key open to others is refused before any connection */
    CHECK_RC(chmod(sec, 0640), 0);
    o.server_key = NULL;
    o.admin_key = sec;
    CHECK_RC(th_client_connect(&c, &o, &err), TH_EPERM);
    CHECK_CONTAINS(err.message, "bob.key");
    CHECK(waitpid(h.pid, NULL, WNOHANG) == 0);
    hu_probe_greeter(&h);
    CHECK(hu_finish(&h));
}

TH_TEST(allowed_key_works_and_revoked_key_is_refused_at_once)
{
    hu_host_t h = {0};
    start(&h);
    char keys[300], sec[400], pub[400], out[4096];
    snprintf(keys, sizeof keys, "%s/k", h.dir);
    CHECK_RC(mkdir(keys, 0700), 0);
    const char *kg[] = {cli(),   "keygen", "--admin", "carol",
                        "--dir", keys,     NULL};
    CHECK_RC(run(out, sizeof out, kg), 0);
    snprintf(sec, sizeof sec, "%s/carol.key", keys);
    snprintf(pub, sizeof pub, "%s/carol.pub", keys);
    const char *allow[] = {cli(), "allow", pub, NULL};
    CHECK_RC(run(out, sizeof out, allow), 0);
    CHECK_CONTAINS(out, "allowed carol");

    th_client_opts_t o = {.size = sizeof o,
                          .endpoint = h.endpoint,
                          .connect_timeout_ms = 5000,
                          .request_timeout_ms = 5000,
                          .admin_key = sec};
    th_client_error_t err;
    th_client_t *c = NULL, *open_one = NULL;
    CHECK_RC(th_client_connect(&open_one, &o, &err), 0);
    char *text = NULL;
    CHECK_RC(th_client_status(open_one, &text), 0);
    th_client_free(text);
    /* the CLI with the same key, through --admin-key */
    const char *status[] = {cli(),      "--admin-key", sec, "--endpoint",
                            h.endpoint, "status",      NULL};
    CHECK_RC(run(out, sizeof out, status), 0);

    const char *revoke[] = {cli(), "revoke", "carol", NULL};
    CHECK_RC(run(out, sizeof out, revoke), 0);
    CHECK_RC(th_client_connect(&c, &o, &err), TH_EPERM);
    CHECK_CONTAINS(err.message, "allow-list");
    CHECK(run(out, sizeof out, status) != 0);
    CHECK_CONTAINS(out, "PermissionDenied");
    /* a connection made before the revocation lasts until it closes */
    CHECK_RC(th_client_status(open_one, &text), 0);
    th_client_free(text);
    th_client_close(open_one);
    /* allowed again: accepted again, without a restart */
    CHECK_RC(run(out, sizeof out, allow), 0);
    CHECK_RC(th_client_connect(&c, &o, &err), 0);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

/* Start thespiand on `ep` with key directory `kdir` (NULL: the test's);
 * it must fail: returns its output. */
static int
start_fails(char *out, size_t size, const char *ep, const char *kdir)
{
    const char *argv[] = {hu_thespiand(),
                          "--foreground",
                          "--endpoint",
                          ep,
                          "--plugin",
                          hello_so(),
                          kdir ? "--key-dir" : NULL,
                          kdir,
                          NULL};
    return run(out, size, argv);
}

TH_TEST(unsafe_secret_key_file_stops_the_start)
{
    hu_host_t h = {0};
    start(&h); /* makes the keys */
    CHECK(hu_finish(&h));
    char kdir[300], key[400], moved[400], out[4096], ep[64];
    hu_scratch(kdir, sizeof kdir);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", hu_free_port());
    /* a first start on an empty key directory makes the keys 0600 */
    hu_host_t h2 = {0};
    const char *extra[] = {"--plugin", hello_so(), "--key-dir", kdir, NULL};
    hu_spawn(&h2, extra);
    snprintf(key, sizeof key, "%s/curve/host.key", kdir);
    for (int i = 0; i < 500 && access(key, F_OK) != 0; i++)
        hu_sleep_ms(10);
    CHECK(log_soon(&h2, "serving"));
    CHECK(hu_finish(&h2));
    struct stat st;
    CHECK_RC(stat(key, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    snprintf(moved, sizeof moved, "%s/curve/operator.key", kdir);
    CHECK_RC(stat(moved, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);

    CHECK_RC(chmod(key, 0640), 0); /* group-readable */
    CHECK_EQ(start_fails(out, sizeof out, ep, kdir), 1);
    CHECK_CONTAINS(out, "host.key");
    CHECK_CONTAINS(out, "refused");
    CHECK_RC(chmod(key, 0600), 0);
    snprintf(moved, sizeof moved, "%s/elsewhere.key", kdir);
    CHECK_RC(rename(key, moved), 0);
    CHECK_RC(symlink(moved, key), 0); /* a symlink */
    CHECK_EQ(start_fails(out, sizeof out, ep, kdir), 1);
    CHECK_CONTAINS(out, "symbolic link");
    hu_rm_scratch(kdir);
}

TH_TEST(ipc_directory_is_private)
{
    char dir[200], sub[300], ep[400], out[4096];
    hu_scratch(dir, sizeof dir);
    /* missing: made 0700, and the host serves */
    snprintf(sub, sizeof sub, "%s/run", dir);
    snprintf(ep, sizeof ep, "ipc://%s/admin.sock", sub);
    char pidfile[450], logfile[450];
    snprintf(pidfile, sizeof pidfile, "%s/h.pid", dir);
    snprintf(logfile, sizeof logfile, "%s/h.log", dir);
    const char *argv[] = {hu_thespiand(), "--daemon", "--endpoint", ep,
                          "--plugin",     hello_so(), "--pidfile",  pidfile,
                          "--logfile",    logfile,    NULL};
    CHECK_RC(run(out, sizeof out, argv), 0);
    struct stat st;
    CHECK_RC(lstat(sub, &st), 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_EQ(st.st_mode & 0777, 0700);
    th_client_opts_t o = {.size = sizeof o, .endpoint = ep};
    th_client_t *c = NULL;
    th_client_error_t err;
    CHECK_RC(th_client_connect(&c, &o, &err), 0);
    CHECK_RC(th_client_shutdown(c, 10000), 0);
    th_client_close(c);
    for (int i = 0; i < 500 && access(pidfile, F_OK) == 0; i++)
        hu_sleep_ms(10);

    /* open to others: refused at start, naming the directory */
    CHECK_RC(unlink(ep + 6) == 0 || errno == ENOENT, 1);
    CHECK_RC(chmod(sub, 0777), 0);
    CHECK_EQ(start_fails(out, sizeof out, ep, NULL), 1);
    CHECK_CONTAINS(out, sub);
    CHECK_CONTAINS(out, "open to group or others");
    CHECK_RC(chmod(sub, 0750), 0);
    CHECK_EQ(start_fails(out, sizeof out, ep, NULL), 1);
    CHECK_CONTAINS(out, "open to group or others");
    CHECK_RC(access(ep + 6, F_OK), -1); /* nothing bound */
    hu_rm_scratch(dir);
}

/* Another local user cannot reach a host on ipc://: the socket's directory
 * is the host's alone, so a shutdown from `nobody` never arrives and the
 * host keeps serving. (Needs root, to run a client as another user.) */
TH_TEST(other_users_cannot_reach_an_ipc_host)
{
    if (geteuid() != 0) {
        printf("# not root: cannot run a client as another user here\n");
        return;
    }
    char dir[200], sub[300], ep[400], out[4096];
    hu_scratch(dir, sizeof dir);
    CHECK_RC(chmod(dir, 0755), 0); /* others may pass; only sub protects */
    snprintf(sub, sizeof sub, "%s/run", dir);
    snprintf(ep, sizeof ep, "ipc://%s/admin.sock", sub);
    char pidfile[450], logfile[450];
    snprintf(pidfile, sizeof pidfile, "%s/h.pid", dir);
    snprintf(logfile, sizeof logfile, "%s/h.log", dir);
    const char *argv[] = {hu_thespiand(), "--daemon", "--endpoint", ep,
                          "--plugin",     hello_so(), "--pidfile",  pidfile,
                          "--logfile",    logfile,    NULL};
    CHECK_RC(run(out, sizeof out, argv), 0);
    const char *as_nobody[] = {"/usr/bin/setpriv", "--reuid=65534",
                               "--regid=65534",    "--clear-groups",
                               cli(),              "--endpoint",
                               ep,                 "shutdown",
                               NULL};
    /* stopping is idempotent: the CLI exits 0 saying nothing answers
     * there — it could not reach the host */
    int rc = run(out, sizeof out, as_nobody);
    CHECK(rc != 127); /* setpriv itself ran */
    CHECK_CONTAINS(out, "nothing to shut down");
    /* the host is alive and serves its own user */
    th_client_opts_t o = {.size = sizeof o, .endpoint = ep};
    th_client_t *c = NULL;
    th_client_error_t err;
    CHECK_RC(th_client_connect(&c, &o, &err), 0);
    char *text = NULL;
    CHECK_RC(th_client_status(c, &text), 0);
    th_client_free(text);
    CHECK_RC(th_client_shutdown(c, 10000), 0);
    th_client_close(c);
    for (int i = 0; i < 500 && access(pidfile, F_OK) == 0; i++)
        hu_sleep_ms(10);
    hu_rm_scratch(dir);
}

TH_TEST_MAIN(
    TH_CASE(unauthenticated_clients_are_refused_and_logged_once_per_burst),
    TH_CASE(client_library_says_why_it_was_refused),
    TH_CASE(allowed_key_works_and_revoked_key_is_refused_at_once),
    TH_CASE(unsafe_secret_key_file_stops_the_start),
    TH_CASE(ipc_directory_is_private),
    TH_CASE(other_users_cannot_reach_an_ipc_host))
