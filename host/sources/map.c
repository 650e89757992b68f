/*
 * host/sources/map.c — the code of a source in the process. Each verified
 * code file is written once into a sealed memfd and dlopened (RTLD_LOCAL,
 * the main namespace) through /proc/self/fd: what is mapped is the
 * verified buffer, with no file to re-read or re-hash. Private libraries
 * carry sonames made unique by gensrc (NAME.th-TAG) and are mapped before
 * their users, in dependency order (loader/load_order.h), so two versions
 * of a group never bind to each other's libraries and the number of loads
 * has no ceiling (docs/loading.md). A soname already loaded anywhere in
 * the process is refused: the same bytes signed by another key would
 * otherwise bind to the first copy. glibc-only (memfd, dlopen by
 * descriptor path).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/file.h"
#include "host/log.h"
#include "host/sources/internal.h"
#include "loader/elf_policy.h"
#include "loader/load_order.h"

/* Serialises "is this private soname loaded anywhere in the process?" with
 * the mapping that makes it so, across every system of the process. */
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;

/* After dlclose: the object named /proc/self/fd/`fd` is gone, or it
 * stays (NODELETE, an STB_GNU_UNIQUE symbol): then the descriptor stays
 * open for good, so no later load can get that name and be handed the
 * old object by the dynamic linker. */
static void
release_fd(const thi_source_t *s, int fd)
{
    if (fd < 0)
        return;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    void *h = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
    if (h == NULL) {
        close(fd);
        return;
    }
    dlclose(h);
    thi_log(TH_LOG_WARNING, NULL,
            "source %.12s: %s could not be unmapped (it is NODELETE or "
            "defines STB_GNU_UNIQUE symbols): it stays in memory until the "
            "host exits",
            s->hash, path);
}

/* Write one verified file once into a sealed memfd: nothing, not even
 * our own user, can change it between here and the mapping. The memfd's
 * name (shown in /proc/PID/maps) names the source and the file. */
static int
seal_file(const thi_source_t *s, const thi_bundle_file_t *f, int *fd_out,
          th_diag_t *d)
{
    const char *base = strrchr(f->path, '/');
    char name[200];
    snprintf(name, sizeof name, "th-%.12s-%.150s", s->hash,
             base ? base + 1 : f->path);
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return thi_diag_set(d, TH_EIO, "%s: memfd_create: %s", f->path,
                            strerror(errno));
    if (thi_write_all(fd, f->data, f->size) != 0) {
        int e = errno;
        close(fd);
        return thi_diag_set(d, TH_EIO, "%s: writing its memfd: %s", f->path,
                            strerror(e));
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
                                   F_SEAL_SEAL) != 0) {
        int e = errno;
        close(fd);
        return thi_diag_set(d, TH_EIO, "%s: sealing its memfd: %s", f->path,
                            strerror(e));
    }
    *fd_out = fd;
    return 0;
}

/* dlopen a sealed memfd through /proc/self/fd/N, in the main namespace,
 * RTLD_LOCAL: its symbols serve only the objects that depend on it. A
 * name the dynamic linker already knows would hand back that object, so
 * it is refused (release_fd keeps the descriptors of objects that could
 * not be unmapped open, so this takes an embedder's own doing). */
static int
map_fd(int fd, const char *what, void **out, th_diag_t *d)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    void *old = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
    if (old) {
        dlclose(old);
        return thi_diag_set(d, TH_EIO,
                            "%s: %s already names a loaded object", what,
                            path);
    }
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        why = why ? why : "unknown error";
        /* the process ran out of something, not a bad plugin: name it */
        const char *res =
            strstr(why, "static TLS") ? "the process's static TLS block"
            : strstr(why, "annot allocate memory") ? "memory"
            : NULL;
        if (res)
            return thi_diag_set(d, TH_ELIMIT, "%s: cannot map: limit "
                                "reached: %s is exhausted (%s)", what, res,
                                why);
        return thi_diag_set(d, TH_EABI, "%s: cannot map: %s", what, why);
    }
    *out = h;
    return 0;
}

/* The plugin is what its signed manifest entry says: the TLI and the
 * classes were checked against the entry before anything was mapped. */
static int
desc_matches(const th_plugin_t *desc, const thi_bundle_file_t *f,
             const char *where, th_diag_t *d)
{
    if (f->plugin == NULL || strcmp(desc->name, f->plugin) != 0)
        return thi_diag_set(d, TH_EABI,
                            "%s: descriptor names plugin %s, the manifest "
                            "says %s",
                            where, desc->name, f->plugin ? f->plugin : "none");
    bool same = json_array_size(f->classes) == desc->n_classes;
    for (uint32_t i = 0; same && i < desc->n_classes; i++) {
        bool found = false;
        size_t k;
        json_t *c;
        json_array_foreach(f->classes, k, c)
            found = found || strcmp(json_string_value(c),
                                    desc->classes[i]->name) == 0;
        same = found;
    }
    if (!same)
        return thi_diag_set(d, TH_EABI,
                            "%s: the descriptor's %u classes are not those "
                            "the manifest declares",
                            where, desc->n_classes);
    return 0;
}

/* Mapped: the handle and its memfd now belong to the source. */
static void
keep(thi_source_t *s, int *fds, size_t i, void *h)
{
    s->fds[s->n_handles] = fds[i];
    s->handles[s->n_handles++] = h;
    fds[i] = -1;
}

typedef struct {
    thi_source_t *s;
    const thi_bundle_t *b;
    int *fds;                    /* sealed memfds by file; -1 once kept */
} map_ctx_t;

/* thi_map_in_order's step: map library i. A failure other than
 * TH_ELIMIT may be a library it needs not mapped yet. */
static int
map_library(void *arg, size_t i, th_diag_t *d)
{
    map_ctx_t *c = arg;
    void *h = NULL;
    int rc = map_fd(c->fds[i], c->b->files[i].path, &h, d);
    if (rc == 0)
        keep(c->s, c->fds, i, h);
    return rc;
}

int
thi_source_seal(const thi_source_t *s, const thi_bundle_t *b, int **fds_out,
                th_diag_t *d)
{
    size_t n = b->n_files;
    int *fds = malloc((n + 1) * sizeof *fds);
    if (fds == NULL)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        fds[i] = -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (strcmp(b->files[i].kind, "data"))
            rc = seal_file(s, &b->files[i], &fds[i], d);
    if (rc) {
        thi_source_fds_close(fds, n);
        return rc;
    }
    *fds_out = fds;
    return 0;
}

void
thi_source_fds_close(int *fds, size_t n)
{
    if (fds == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
}

/* The sealed memfds mapped: private libraries first, in an order that
 * satisfies their own dependencies (thi_map_in_order: their users find
 * them by their unique soname, never by a search path), then the plugins.
 * Called with map_lock held. */
static int
map_source(thi_source_t *s, const thi_bundle_t *b, int *fds, const char *what,
           th_diag_t *d)
{
    size_t n = b->n_files;
    s->handles = calloc(n + 1, sizeof *s->handles);
    s->fds = calloc(n + 1, sizeof *s->fds);
    s->plugins = calloc(n + 1, sizeof *s->plugins);
    bool *pending = calloc(n + 1, sizeof *pending);
    int rc = 0;
    if (!s->handles || !s->fds || !s->plugins || !pending) {
        free(pending);
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        pending[i] = !strcmp(b->files[i].kind, "library");
    th_diag_t last = {0};
    map_ctx_t mc = {s, b, fds};
    rc = thi_map_in_order(n, pending, map_library, &mc, &last);
    if (rc == TH_ELIMIT) /* no other order finds what the process lacks */
        rc = thi_diag_set(d, rc, "%s: %s", what, last.msg);
    else if (rc)
        rc = thi_diag_set(d, TH_EABI, "%s: library %s", what, last.msg);
    free(pending);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(b->files[i].kind, "plugin"))
            continue;
        void *h = NULL;
        th_diag_t md = {0};
        if (map_fd(fds[i], b->files[i].path, &h, &md) != 0) {
            rc = thi_diag_set(d, md.code, "%s: plugin %s", what, md.msg);
            break;
        }
        keep(s, fds, i, h);
        const th_plugin_t *desc = dlsym(h, TH_PLUGIN_SYMBOL);
        char where[600];
        snprintf(where, sizeof where, "%s: %s", what, b->files[i].path);
        if (desc == NULL) {
            rc = thi_diag_set(d, TH_EABI, "%s: no %s descriptor", where,
                              TH_PLUGIN_SYMBOL);
            break;
        }
        rc = thi_plugin_check(desc, where, d);
        if (rc == 0)
            rc = desc_matches(desc, &b->files[i], where, d);
        if (rc)
            break;
        thi_plugin_t *p = calloc(1, sizeof *p);
        if (p == NULL) {
            rc = thi_diag_set(d, TH_ENOMEM, "out of memory");
            break;
        }
        p->handle = h;
        p->desc = desc;
        snprintf(p->name, sizeof p->name, "%s", desc->name);
        snprintf(p->path, sizeof p->path, "source %.64s: %.255s", s->hash,
                 b->files[i].path);
        s->plugins[s->n_plugins++] = p;
    }
    return rc;
}

/* A private soname must name nothing loaded yet, in any system of the
 * process: else the dynamic linker would bind this bundle's code to that
 * object rather than to the bundle's own library. Checked and mapped
 * under map_lock, so no other load maps that name in between. */
int
thi_source_map(thi_source_t *s, const thi_bundle_t *b, int *fds,
               const char *what, th_diag_t *d)
{
    int rc = 0;
    pthread_mutex_lock(&map_lock);
    for (size_t i = 0; i < b->n_files && rc == 0; i++) {
        if (strcmp(b->files[i].kind, "library"))
            continue;
        char soname[256];
        rc = thi_elf_soname(b->files[i].data, b->files[i].size, soname,
                            sizeof soname, what, d);
        void *h = rc ? NULL : dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            dlclose(h);
            rc = thi_diag_set(d, TH_EEXIST,
                              "%s: library %s: its soname %s is already "
                              "loaded in this process (the same bundle "
                              "contents signed by another key?): refused, "
                              "its users would bind to that object",
                              what, b->files[i].path, soname);
        }
    }
    if (rc == 0)
        rc = map_source(s, b, fds, what, d);
    pthread_mutex_unlock(&map_lock);
    thi_source_fds_close(fds, b->n_files); /* those not kept */
    return rc;
}

void
thi_source_unmap_code(thi_source_t *s)
{
    for (size_t i = 0; i < s->n_plugins; i++) {
        s->plugins[i]->handle = NULL; /* closed with the handles below */
        thi_plugin_close(s->plugins[i]);
    }
    for (size_t i = s->n_handles; i-- > 0;)
        dlclose(s->handles[i]);
    for (size_t i = 0; i < s->n_handles; i++)
        release_fd(s, s->fds[i]);
    free(s->plugins);
    free(s->handles);
    free(s->fds);
    s->plugins = NULL;
    s->handles = NULL;
    s->fds = NULL;
    s->n_plugins = s->n_handles = 0;
}
