/*
 * loader/describe.c — plugin descriptors read in a child process
 * (describe.h): the files are written from the caller's memory into a
 * private directory and mapped from there, so what is described is the
 * very bytes the caller will sign or load, and whatever their constructors
 * do happens in a process that exits (and, in gensrc, never had the key).
 */
#include "loader/describe.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "loader/load_order.h"
#include "loader/plugin.h"
#include "thespian/error.h"

#define DESCRIBE_MAX ((size_t)4 << 20)

/* How long the child may take: a plugin whose constructor never returns
 * must not hang gensrc. $THESPIAN_CHECK_TIMEOUT_MS overrides (1..3600000). */
#define DESCRIBE_TIMEOUT_MS 30000

static int
describe_timeout_ms(void)
{
    const char *v = getenv("THESPIAN_CHECK_TIMEOUT_MS");
    char *end = NULL;
    long ms = v ? strtol(v, &end, 10) : 0;
    if (v == NULL || end == v || *end != '\0' || ms < 1 || ms > 3600000)
        return DESCRIBE_TIMEOUT_MS;
    return (int)ms;
}

static int64_t
mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int
stage_file(const char *dir, const thi_bundle_input_t *f)
{
    char path[4800];
    snprintf(path, sizeof path, "%s/%s", dir, f->path);
    for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0500);
    if (fd < 0)
        return -1;
    if (thi_write_all(fd, f->data, f->size) != 0) {
        close(fd);
        return -1;
    }
    return close(fd);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static void
rm_staged(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#define NAME(i) (names ? names[i] : in[i].path)

/* The staged libraries, mapped into the child's own namespace (the first
 * one mapped creates it). */
typedef struct map_ctx {
    const thi_bundle_input_t *in;
    const char *dir;
    Lmid_t *lmid;
} map_ctx_t;

static int
map_staged(void *arg, size_t i, th_diag_t *d)
{
    map_ctx_t *c = arg;
    char path[4800];
    snprintf(path, sizeof path, "%s/%s", c->dir, c->in[i].path);
    dlerror();
    void *x = dlmopen(*c->lmid, path, RTLD_NOW | RTLD_LOCAL);
    if (x == NULL) {
        const char *e = dlerror();
        return thi_diag_set(d, TH_EIO, "%s: %s", c->in[i].path,
                            e ? e : "cannot be mapped");
    }
    if (*c->lmid == LM_ID_NEWLM)
        dlinfo(x, RTLD_DI_LMID, c->lmid);
    return 0;
}

/* The child's work: map the libraries (in dependency order) and plugins
 * into one namespace of their own, as a host does, and describe each
 * plugin. `names` (or the paths) name the files in messages. */
static json_t *
describe_in_child(const char *dir, const thi_bundle_input_t *in,
                  const char *const *names, size_t n)
{
    json_t *res = json_object();
    char why[1024] = "";
    for (size_t i = 0; i < n && !why[0]; i++) {
        if (in[i].path[0] == '/' || strstr(in[i].path, ".."))
            snprintf(why, sizeof why, "%s: not a relative bundle path",
                     NAME(i));
        else if (strcmp(in[i].kind, "data") && stage_file(dir, &in[i]) != 0)
            snprintf(why, sizeof why, "%s: cannot stage: %s", NAME(i),
                     strerror(errno));
    }
    Lmid_t lmid = LM_ID_NEWLM;
    bool *pending = calloc(n + 1, sizeof *pending);
    if (!why[0] && pending) { /* libraries in dependency order */
        for (size_t i = 0; i < n; i++)
            pending[i] = !strcmp(in[i].kind, "library");
        /* one that never maps is named when a plugin needing it fails */
        map_ctx_t mc = {in, dir, &lmid};
        (void)thi_map_in_order(n, pending, map_staged, &mc, NULL);
    }
    free(pending);
    th_diag_t d = {0};
    for (size_t i = 0; i < n && !why[0]; i++) {
        if (strcmp(in[i].kind, "plugin"))
            continue;
        char path[4800];
        snprintf(path, sizeof path, "%s/%s", dir, in[i].path);
        dlerror();
        void *p = dlmopen(lmid, path, RTLD_NOW | RTLD_LOCAL);
        if (p == NULL) {
            const char *e = dlerror();
            snprintf(why, sizeof why,
                     "%s: cannot be loaded: %s (a private library it needs "
                     "must be listed in deps:)",
                     NAME(i), e ? e : "unknown error");
            break;
        }
        if (lmid == LM_ID_NEWLM)
            dlinfo(p, RTLD_DI_LMID, &lmid);
        const th_plugin_t *desc = dlsym(p, TH_PLUGIN_SYMBOL);
        if (desc == NULL) {
            snprintf(why, sizeof why,
                     "%s: not a thespian-c plugin (no %s descriptor); if it "
                     "is a library the plugins need, list it in deps:",
                     NAME(i), TH_PLUGIN_SYMBOL);
            break;
        }
        if (thi_plugin_check(desc, NAME(i), &d) != 0) {
            snprintf(why, sizeof why, "%s", d.msg);
            break;
        }
        json_t *cl = json_array();
        for (uint32_t k = 0; k < desc->n_classes; k++)
            json_array_append_new(cl, json_string(desc->classes[k]->name));
        json_object_set_new(res, in[i].path,
                            json_pack("{s:s, s:o}", "plugin", desc->name,
                                      "classes", cl));
    }
    rm_staged(dir);
    if (why[0]) {
        json_decref(res);
        return json_pack("{s:s}", "error", why);
    }
    return res;
}

/* The child writes one JSON document to the pipe: the answer, or
 * {"error": TEXT}; the parent reads at most DESCRIBE_MAX bytes of it. */
int
thi_plugins_describe(json_t **out, const thi_bundle_input_t *in,
                     const char *const *names, size_t n, th_diag_t *d)
{
    /* made here, so a child killed at the bound leaves nothing behind */
    const char *t = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/thespian-describe-XXXXXX",
             t && *t ? t : "/tmp");
    if (mkdtemp(dir) == NULL)
        return thi_diag_set(d, TH_EIO, "%s: cannot make a staging "
                            "directory: %s", dir, strerror(errno));
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        rm_staged(dir);
        return thi_diag_set(d, TH_EIO, "pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        rm_staged(dir);
        return thi_diag_set(d, TH_EIO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        json_t *r = describe_in_child(dir, in, names, n);
        char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
        size_t len = text ? strlen(text) : 0, off = 0;
        while (off < len) {
            ssize_t w = write(fds[1], text + off, len - off);
            if (w <= 0 && errno != EINTR)
                _exit(2);
            if (w > 0)
                off += (size_t)w;
        }
        _exit(text ? 0 : 2);
    }
    close(fds[1]);
    char *buf = malloc(DESCRIBE_MAX + 1);
    size_t len = 0;
    bool too_big = false, late = false;
    int timeout = describe_timeout_ms();
    int64_t deadline = mono_ms() + timeout;
    for (;;) {
        if (buf == NULL)
            break;
        if (len == DESCRIBE_MAX) {
            too_big = true;
            break;
        }
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        int64_t left = deadline - mono_ms();
        int pr = left > 0 ? poll(&pf, 1, (int)left) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            late = true;
            break;
        }
        ssize_t r = read(fds[0], buf + len, DESCRIBE_MAX - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fds[0]);
    if (late || too_big)
        kill(pid, SIGKILL); /* it has nothing more to say that we want */
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    rm_staged(dir);
    int rc = 0;
    json_t *o = NULL;
    if (buf == NULL) {
        rc = thi_diag_set(d, TH_ENOMEM, "out of memory");
    } else if (late) {
        rc = thi_diag_set(d, TH_ETIMEDOUT,
                          "checking the plugins did not finish within %d ms "
                          "(a plugin's code, e.g. a constructor, does not "
                          "return; THESPIAN_CHECK_TIMEOUT_MS sets the bound)",
                          timeout);
    } else if (WIFSIGNALED(st)) {
        rc = thi_diag_set(d, TH_EABI,
                          "checking the plugins crashed (signal %d): a "
                          "plugin's code failed while it was mapped",
                          WTERMSIG(st));
    } else if (too_big || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
               (o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL)) ==
                   NULL) {
        rc = thi_diag_set(d, TH_EIO,
                          "checking the plugins failed (exit status %d)",
                          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    } else if (json_string_value(json_object_get(o, "error"))) {
        rc = thi_diag_set(d, TH_EABI, "%s",
                          json_string_value(json_object_get(o, "error")));
    }
    free(buf);
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}
