/*
 * tests/integration/host_util.h — running real thespiand processes from
 * integration tests and benchmarks: a free loopback port, spawning a host
 * in the foreground with its log in a file, waiting until it answers,
 * stopping or killing it. Header-only (static functions) so test programs
 * and bench/ include it without a library.
 */
#ifndef TH_TESTS_INTEGRATION_HOST_UTIL_H
#define TH_TESTS_INTEGRATION_HOST_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/th_clock.h"
#include "thespian/client.h"

typedef struct hu_host {
    pid_t pid;
    int port;
    char endpoint[128];
    char dir[256]; /* scratch directory of this host */
    char log[300]; /* its stderr */
} hu_host_t;

static inline void
hu_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A loopback TCP port that was free a moment ago (bind to port 0). */
static inline int
hu_free_port(void)
{
    /* below the kernel's ephemeral range: no outgoing connection of a
     * parallel test takes its local port from there before the host
     * binds it (taplib.free_port does the same) */
    int low = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d", &low) != 1)
            low = 32768;
        fclose(f);
    }
    int top = low > 65536 ? 65535 : low - 1;
    if (top < 2048)
        top = 2048;
    int bottom = top - 12000 > 1025 ? top - 12000 : 1025;
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (int i = 0; i < 200; i++) {
        int port = bottom + (int)(rand_r(&seed) % (unsigned)(top - bottom + 1));
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0;
        if (s >= 0)
            close(s);
        if (ok)
            return port;
    }
    perror("hu_free_port: no free port below the ephemeral range");
    exit(1);
}

/* The path of thespiand, from $THESPIAND (meson passes it). */
static inline const char *
hu_thespiand(void)
{
    const char *p = getenv("THESPIAND");
    if (p == NULL || *p == '\0') {
        fprintf(stderr, "# $THESPIAND is not set\n");
        exit(1);
    }
    return p;
}

/* A fresh scratch directory under $TMPDIR (or /tmp). */
static inline void
hu_scratch(char *buf, size_t size)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, size, "%s/th-it-XXXXXX", t && *t ? t : "/tmp");
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

static char hu_key_dir[256];
static pid_t hu_key_pid;

static inline int hu_rm_one(const char *path, const struct stat *st, int flag,
                            struct FTW *f);

static inline void
hu_rm_keys(void)
{
    /* only the process that made it: forked test cases exit too */
    if (hu_key_dir[0] && hu_key_pid == getpid())
        nftw(hu_key_dir, hu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The admin keys of this test process (docs/security.md): a fresh key
 * directory, set as $THESPIAN_KEY_DIR so that every host it starts makes
 * its CurveZMQ key pair and operator key there at first start, and every
 * client it opens finds them. Removed at exit. Returns the directory. */
static inline const char *
hu_keys(void)
{
    const char *env = getenv("THESPIAN_KEY_DIR");
    if (env && *env)
        return env;
    const char *t = getenv("TMPDIR");
    snprintf(hu_key_dir, sizeof hu_key_dir, "%s/th-keys-XXXXXX",
             t && *t ? t : "/tmp");
    if (mkdtemp(hu_key_dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    setenv("THESPIAN_KEY_DIR", hu_key_dir, 1);
    hu_key_pid = getpid();
    atexit(hu_rm_keys);
    return hu_key_dir;
}

/* Start `thespiand --foreground --endpoint tcp://127.0.0.1:PORT` plus the
 * extra arguments (NULL-terminated), stderr into h->log. Does not wait.
 * The host's admin keys are the test process's (hu_keys). */
static inline void
hu_spawn(hu_host_t *h, const char *const *extra)
{
    hu_keys();
    if (h->dir[0] == '\0')
        hu_scratch(h->dir, sizeof h->dir);
    if (h->port == 0)
        h->port = hu_free_port();
    snprintf(h->endpoint, sizeof h->endpoint, "tcp://127.0.0.1:%d", h->port);
    snprintf(h->log, sizeof h->log, "%s/thespiand.log", h->dir);
    const char *argv[64];
    int n = 0;
    argv[n++] = hu_thespiand();
    argv[n++] = "--foreground";
    argv[n++] = "--endpoint";
    argv[n++] = h->endpoint;
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    fflush(NULL);
    h->pid = fork();
    if (h->pid < 0) {
        perror("fork");
        exit(1);
    }
    if (h->pid == 0) {
        int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDWR);
        /* tests read the log, context lines (DEBUG) included */
        setenv("THESPLOG_THRESHOLD", "DEBUG", 0);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(null, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
}

/* Wait until the host answers (a context can be opened). */
static inline bool
hu_wait_ready(hu_host_t *h, int timeout_ms)
{
    int64_t end = th_now_ms() + timeout_ms;
    while (th_now_ms() < end) {
        th_client_opts_t o = {.size = sizeof o,
                              .endpoint = h->endpoint,
                              .connect_timeout_ms = 500};
        th_client_t *c = NULL;
        if (th_client_connect(&c, &o, NULL) == 0) {
            th_client_close(c);
            return true;
        }
        int st;
        if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
            h->pid = 0;
            return false; /* it died */
        }
        hu_sleep_ms(20);
    }
    return false;
}

/* Spawn with a plugin and wait; exits the test on failure. */
static inline void
hu_start(hu_host_t *h, const char *const *extra)
{
    hu_spawn(h, extra);
    if (!hu_wait_ready(h, 20000)) {
        fprintf(stderr, "# thespiand at %s did not come up; log %s\n",
                h->endpoint, h->log);
        exit(1);
    }
}

/* Wait for the host process to exit; returns its exit status or -signal,
 * or -1000 on timeout. */
static inline int
hu_wait_exit(hu_host_t *h, int timeout_ms)
{
    int64_t end = th_now_ms() + timeout_ms;
    int st = 0;
    while (h->pid > 0) {
        pid_t w = waitpid(h->pid, &st, WNOHANG);
        if (w == h->pid) {
            h->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
        }
        if (th_now_ms() >= end)
            return -1000;
        hu_sleep_ms(10);
    }
    return 0;
}

/* SIGTERM and wait (then SIGKILL if it lingers). */
static inline int
hu_stop(hu_host_t *h)
{
    if (h->pid <= 0)
        return 0;
    kill(h->pid, SIGTERM);
    int rc = hu_wait_exit(h, 20000);
    if (rc == -1000) {
        kill(h->pid, SIGKILL);
        rc = hu_wait_exit(h, 5000);
    }
    return rc;
}

/* Does the host's log contain `needle`? */
static inline bool
hu_log_has(const hu_host_t *h, const char *needle)
{
    FILE *f = fopen(h->log, "r");
    if (f == NULL)
        return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* Did a sanitizer (ASan, UBSan, LSan) report anything in the log? */
static inline bool
hu_log_clean(const hu_host_t *h)
{
    return !hu_log_has(h, "Sanitizer") && !hu_log_has(h, "runtime error:");
}

static inline int
hu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

/* Remove the scratch directory and everything in it. */
static inline void
hu_rm_scratch(const char *dir)
{
    if (dir[0])
        nftw(dir, hu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The end of a test that ran a host: stop it in order, require exit 0
 * and a log without sanitizer reports, then remove its scratch files
 * (kept when something failed, for a look). */
static inline bool
hu_finish(hu_host_t *h)
{
    int rc = hu_stop(h);
    bool clean = hu_log_clean(h);
    if (rc != 0 || !clean) {
        fprintf(stderr, "# thespiand exit %d%s; log %s\n", rc,
                clean ? "" : ", sanitizer report", h->log);
        return false;
    }
    hu_rm_scratch(h->dir);
    return true;
}

/* Connect a context to the host (exits the test on failure). */
static inline th_client_t *
hu_connect(const hu_host_t *h)
{
    th_client_opts_t o = {.size = sizeof o,
                          .endpoint = h->endpoint,
                          .connect_timeout_ms = 10000,
                          .request_timeout_ms = 10000};
    th_client_error_t err;
    th_client_t *c = NULL;
    if (th_client_connect(&c, &o, &err) != 0) {
        fprintf(stderr, "# connect %s: %s\n", h->endpoint, err.message);
        exit(1);
    }
    return c;
}

#endif /* TH_TESTS_INTEGRATION_HOST_UTIL_H */
