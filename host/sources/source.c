/*
 * host/sources/source.c — sources: signed bundles loaded into a running system.
 * The runtime verifies every bundle itself first, on its own copy of the
 * bytes, against the keyring it read from the operator's key directory
 * (loader/keyring.h; at create and on th_system_reload_keys, never from a
 * message). A Source Authority, when the system registered one, is an
 * additional gate (ValidateSource): it may refuse what the keyring
 * accepted, never accept what it refused. Then the runtime reads the
 * archive against the signed manifest (TLI classes included) and checks
 * the ELF policy — all before a byte is written — then writes each code
 * file once into a sealed memfd and dlopens it (RTLD_LOCAL, the main
 * namespace) through /proc/self/fd: what is mapped is the verified buffer,
 * with no file to re-read or re-hash. Private libraries carry sonames made
 * unique by gensrc (NAME.th-TAG) and are mapped by the host before their
 * users, so two versions of a group never bind to each other's libraries
 * and the number of loads has no ceiling (docs/loading.md).
 * Unloading stops creations at once and unmaps when the last actor of the
 * source is gone. The group's version record (rollback protection) rises
 * when a version runs.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/core/runtime.h"
#include "host/log.h"
#include "host/sources/sources.h"
#include "loader/bundle.h"
#include "loader/elf_policy.h"
#include "loader/plugin.h"

struct thi_source {
    struct thi_source *next;
    char hash[65];
    char *group, *version, *info;
    json_t *tli;                 /* the signed TLI, or NULL */
    char key[256];
    void **handles;              /* in load order; closed in reverse */
    int *fds;                    /* the sealed memfd of each handle: kept
                                    open while mapped, so its name
                                    /proc/self/fd/N names only this object */
    size_t n_handles;
    thi_plugin_t **plugins;      /* descriptors checked; handles above */
    size_t n_plugins;
    long live;                   /* actors of its classes (classes_lock) */
    bool unloading, unmap_queued;
};

typedef struct thi_pending_load {
    struct thi_pending_load *next;
    char hash[65];
    thi_payload_t *bytes;        /* ValidateSource's payload: the source
                                    hash line, then the exact bytes verified
                                    and unpacked (pending_bundle) */
    bool allow_rollback;
    size_t signed_len;           /* from the keyring's verification */
    char key[256];               /* the trusted key that verified it */
    bool direct;                 /* no authority: the system vouches */
    th_addr_t requester;         /* actor to tell, or null (outside) */
    bool done;
    int rc;
    th_diag_t diag;
    bool abandoned;              /* the outside waiter gave up */
    bool processing;             /* the system actor is loading it: it stays
                                    listed (classes_lock) so a second load of
                                    the same bytes sees it until the source
                                    itself is listed */
} thi_pending_t;

static int keys_init(struct th_system *sys);

/* The bundle's bytes inside a pending load's payload, after the hash line
 * the authority reads (TH_VALIDATE_SOURCE_HEADER, actor.h). */
static const uint8_t *
pending_bundle(const thi_pending_t *p)
{
    return p->bytes->data + TH_VALIDATE_SOURCE_HEADER;
}

static size_t
pending_len(const thi_pending_t *p)
{
    return p->bytes->len - TH_VALIDATE_SOURCE_HEADER;
}

/* ---- small helpers ----------------------------------------------------------- */

bool
thi_source_usable(const thi_source_t *src)
{
    return src && !src->unloading;
}

const char *
thi_source_hash(const thi_source_t *src)
{
    return src->hash;
}

static void
rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

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

static void
source_free(thi_source_t *s)
{
    if (s == NULL)
        return;
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
    json_decref(s->tli);
    free(s->group);
    free(s->version);
    free(s->info);
    free(s);
}

/* LoadedSource / UnloadedSource body: what a watcher (the Director) needs
 * to activate a version, its TLI included. */
static json_t *
availability_body(const thi_source_t *s)
{
    return json_pack("{s:s, s:s, s:s?, s:s, s:O?}", "sourceHash", s->hash,
                     "group", s->group, "version", s->version, "info",
                     s->info ? s->info : "", "tli", s->tli);
}

static void
notify_watchers(struct th_system *sys, const thi_source_t *s,
                const char *type)
{
    json_t *o = availability_body(s);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return;
    th_addr_t from, w[64];
    th_system_address_of(sys, &from);
    pthread_mutex_lock(&sys->classes_lock);
    size_t n = sys->n_src_watchers < 64 ? sys->n_src_watchers : 64;
    if (n)
        memcpy(w, sys->src_watchers, n * sizeof *w);
    pthread_mutex_unlock(&sys->classes_lock);
    for (size_t i = 0; i < n; i++)
        thi_send_system(sys, &from, &w[i], type, text, strlen(text));
    free(text);
}

/* ---- versions record (rollback protection) -------------------------------------- */

static void
versions_path(struct th_system *sys, char *out, size_t n)
{
    snprintf(out, n, "%s/versions.json", sys->state_dir);
}

static void
versions_load(struct th_system *sys)
{
    char path[4200];
    versions_path(sys, path, sizeof path);
    json_error_t je;
    sys->versions = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (sys->versions == NULL) {
        if (access(path, F_OK) == 0) {
            thi_log(TH_LOG_ERROR, NULL,
                    "%s is unreadable (%s): loads are refused until it is "
                    "repaired or removed",
                    path, je.text);
            sys->versions_bad = true;
        }
        sys->versions = json_object();
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(sys->versions, k, v) if (!json_is_string(v) ||
                                                 !thi_version_ok(
                                                     json_string_value(v)))
    {
        thi_log(TH_LOG_ERROR, NULL,
                "%s: group %s has no valid version: loads are refused", path,
                k);
        sys->versions_bad = true;
    }
    if (!json_is_object(sys->versions)) {
        sys->versions_bad = true;
        json_decref(sys->versions);
        sys->versions = json_object();
    }
}

/* The record as it is now, written atomically (temporary file, fsync,
 * rename); the text is taken under classes_lock, where it rises. */
#ifdef THI_FAULT_INJECTION
_Atomic int thi_fault_versions_write_delay_ms;
#endif

static int
versions_write(struct th_system *sys, th_diag_t *d)
{
#ifdef THI_FAULT_INJECTION
    int delay = atomic_load(&thi_fault_versions_write_delay_ms);
    if (delay > 0)
        nanosleep(&(struct timespec){delay / 1000, (delay % 1000) * 1000000L},
                  NULL);
#endif
    char path[4200];
    versions_path(sys, path, sizeof path);
    pthread_mutex_lock(&sys->classes_lock);
    char *text = json_dumps(sys->versions, JSON_INDENT(2) | JSON_SORT_KEYS);
    pthread_mutex_unlock(&sys->classes_lock);
    if (text == NULL)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    int rc = thi_write_file_atomic(path, (const uint8_t *)text, strlen(text),
                                   d);
    free(text);
    return rc;
}

/* The record goes to disk on a thread of its own: a rise is in force in
 * memory at once (every later load of this system is checked against
 * it), and the load that raised it is answered without waiting for the
 * disk's flush (1-15 ms here, most of a small load). Rises that come
 * while a write is under way are coalesced into the next one; the system
 * waits for the last at destroy (docs/director.md, "The version
 * record"). */
typedef struct thi_versions_writer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool dirty; /* a rise not yet being written */
    bool stop;  /* destroy: write what is dirty, then end */
    struct th_system *sys;
} thi_versions_writer_t;

static void *
versions_writer_main(void *arg)
{
    thi_versions_writer_t *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->dirty && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->dirty)
            break;
        w->dirty = false;
        pthread_mutex_unlock(&w->lock);
        th_diag_t d = {0};
        if (versions_write(w->sys, &d) != 0)
            thi_log(TH_LOG_ERROR, NULL, "%s", d.msg);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Ask for the record to be written. Called by the system actor only
 * (every rise happens there), so the writer is started by one thread. If
 * no thread can be started, the record is written here and now. */
static void
versions_save(struct th_system *sys)
{
    thi_versions_writer_t *w = sys->versions_writer;
    if (w == NULL) {
        w = calloc(1, sizeof *w);
        if (w) {
            w->sys = sys;
            pthread_mutex_init(&w->lock, NULL);
            pthread_cond_init(&w->cond, NULL);
            if (pthread_create(&w->thread, NULL, versions_writer_main, w)) {
                pthread_cond_destroy(&w->cond);
                pthread_mutex_destroy(&w->lock);
                free(w);
                w = NULL;
            }
        }
        if (w == NULL) {
            th_diag_t d = {0};
            if (versions_write(sys, &d) != 0)
                thi_log(TH_LOG_ERROR, NULL, "%s", d.msg);
            return;
        }
        sys->versions_writer = w;
    }
    pthread_mutex_lock(&w->lock);
    w->dirty = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Destroy: the last rise reaches the disk before the record is freed. */
static void
versions_writer_stop(struct th_system *sys)
{
    thi_versions_writer_t *w = sys->versions_writer;
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
    sys->versions_writer = NULL;
}

/* Raise the group's record to `version` if it is higher (classes_lock
 * held). True when it moved: the caller saves it. */
static bool
versions_raise_locked(struct th_system *sys, const char *group,
                      const char *version)
{
    const char *best = json_string_value(json_object_get(sys->versions,
                                                         group));
    if (version == NULL || (best && thi_version_cmp(version, best) <= 0))
        return false;
    return json_object_set_new(sys->versions, group, json_string(version)) ==
           0;
}

int
thi_sources_init(struct th_system *sys)
{
    int krc = keys_init(sys);
    if (krc != 0)
        return krc;
    if (sys->opts.state_dir && sys->opts.state_dir[0]) {
        snprintf(sys->state_dir, sizeof sys->state_dir, "%s",
                 sys->opts.state_dir);
        if (mkdir(sys->state_dir, 0700) != 0 && errno != EEXIST)
            return TH_EIO;
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(sys->state_dir, sizeof sys->state_dir,
                 "%s/thespian-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(sys->state_dir) == NULL)
            return TH_EIO;
        sys->own_state_dir = true;
    }
    versions_load(sys);
    return 0;
}

void
thi_sources_fini(struct th_system *sys)
{
    versions_writer_stop(sys);
    thi_source_t *s = sys->sources;
    while (s) {
        thi_source_t *next = s->next;
        if (s->live == 0) {
            thi_registry_remove_source(sys, s);
            source_free(s);
        } else {
            /* actors still alive after a failed shutdown may still run its
             * code: leave it mapped, only forget it */
            free(s->group);
            free(s->version);
            free(s->info);
            json_decref(s->tli);
        }
        s = next;
    }
    sys->sources = NULL;
    thi_pending_t *p = sys->pending;
    while (p) {
        thi_pending_t *next = p->next;
        thi_payload_release(p->bytes);
        free(p);
        p = next;
    }
    sys->pending = NULL;
    free(sys->src_watchers);
    json_decref(sys->versions);
    thi_keyring_destroy(sys->keyring);
    sys->keyring = NULL;
    pthread_rwlock_destroy(&sys->keys_lock);
    if (sys->own_state_dir)
        rm_tree(sys->state_dir);
}

/* ---- finding sources ------------------------------------------------------------ */

int
thi_source_find(struct th_system *sys, const char *prefix, thi_source_t **out,
                th_diag_t *d)
{
    size_t n = strlen(prefix);
    if (n == 0 || n > 64 || strspn(prefix, "0123456789abcdef") != n)
        return thi_diag_set(d, TH_ESOURCE,
                            "source hash \"%.70s\" is not a hex prefix",
                            prefix);
    thi_source_t *found = NULL;
    int matches = 0;
    for (thi_source_t *s = sys->sources; s; s = s->next)
        if (strncmp(s->hash, prefix, n) == 0) {
            found = s;
            matches++;
        }
    if (matches == 0)
        return thi_diag_set(d, TH_ESOURCE, "no loaded source has hash %s",
                            prefix);
    if (matches > 1)
        return thi_diag_set(d, TH_ESOURCE,
                            "source hash prefix %s is ambiguous (%d sources)",
                            prefix, matches);
    *out = found;
    return 0;
}

void
thi_source_hold_locked(thi_source_t *src)
{
    src->live++;
}

/* Have the system actor unmap `src` (never under an actor whose callback
 * frames might still be on this stack). */
static void
queue_unmap(struct th_system *sys, thi_source_t *src)
{
    thi_env_t *env = thi_env_alloc();
    if (env == NULL)
        return;
    memset(env, 0, sizeof *env);
    env->kind = THI_ENV_UNMAP;
    env->system = 1;
    env->msg.type = "th.internal";
    env->msg.data = env->in.bytes;
    memcpy(env->in.bytes, &src, sizeof src);
    th_addr_t root;
    th_system_address_of(sys, &root);
    thi_deliver(sys, &root, env);
}

void
thi_source_put(struct th_system *sys, thi_source_t *src)
{
    if (src == NULL)
        return;
    pthread_mutex_lock(&sys->classes_lock);
    bool unmap = --src->live == 0 && src->unloading && !src->unmap_queued;
    if (unmap)
        src->unmap_queued = true;
    pthread_mutex_unlock(&sys->classes_lock);
    if (unmap)
        queue_unmap(sys, src);
}

void
thi_source_unmap(struct th_system *sys, thi_source_t *src)
{
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_source_t **pp = &sys->sources; *pp; pp = &(*pp)->next)
        if (*pp == src) {
            *pp = src->next;
            break;
        }
    pthread_mutex_unlock(&sys->classes_lock);
    thi_registry_remove_source(sys, src);
    thi_log(TH_LOG_INFO, NULL, "source %.12s (%s %s) unmapped", src->hash,
            src->group, src->version ? src->version : "unversioned");
    notify_watchers(sys, src, TH_MSG_UNLOADED_SOURCE);
    source_free(src);
}

int
thi_source_unload(struct th_system *sys, const char *prefix, char hash_out[65],
                  th_diag_t *d)
{
    pthread_mutex_lock(&sys->classes_lock);
    thi_source_t *s = NULL;
    int rc = thi_source_find(sys, prefix, &s, d);
    if (rc == 0 && s->unloading)
        rc = thi_diag_set(d, TH_ESOURCE, "source %.12s is already unloading",
                          s->hash);
    bool unmap = false;
    if (rc == 0) {
        s->unloading = true;
        memcpy(hash_out, s->hash, 65);
        unmap = s->live == 0;
        s->unmap_queued = unmap; /* else its last actor's put queues it */
        thi_log(TH_LOG_INFO, NULL,
                "source %.12s (%s %s) unloading: %ld actors still running",
                s->hash, s->group, s->version ? s->version : "unversioned",
                s->live);
    }
    pthread_mutex_unlock(&sys->classes_lock);
    if (unmap)
        queue_unmap(sys, s);
    return rc;
}

/* ---- loading ------------------------------------------------------------------ */

/* Serialises "is this private soname loaded anywhere in the process?" with
 * the mapping that makes it so, across every system of the process. */
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;

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
    size_t off = 0;
    while (off < f->size) {
        ssize_t w = write(fd, f->data + off, f->size - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            return thi_diag_set(d, TH_EIO, "%s: writing its memfd: %s",
                                f->path, strerror(e));
        }
        off += (size_t)w;
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

/* Every code file into a sealed memfd, then: private libraries first, in
 * an order that satisfies their own dependencies (retried until no more
 * can be mapped; their users find them by their unique soname, never by
 * a search path), then the plugins. Called with map_lock held. */
static int
map_source(thi_source_t *s, const thi_bundle_t *b, const char *what,
           th_diag_t *d)
{
    size_t n = b->n_files;
    s->handles = calloc(n + 1, sizeof *s->handles);
    s->fds = calloc(n + 1, sizeof *s->fds);
    s->plugins = calloc(n + 1, sizeof *s->plugins);
    int *fds = malloc((n + 1) * sizeof *fds);
    int rc = 0;
    if (!s->handles || !s->fds || !s->plugins || !fds) {
        free(fds);
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        fds[i] = -1;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (strcmp(b->files[i].kind, "data"))
            rc = seal_file(s, &b->files[i], &fds[i], d);
    bool progress = rc == 0;
    th_diag_t last = {0};
    while (progress && rc == 0) {
        progress = false;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (fds[i] < 0 || strcmp(b->files[i].kind, "library"))
                continue;
            thi_diag_clear(&last);
            void *h = NULL;
            if (map_fd(fds[i], b->files[i].path, &h, &last) == 0) {
                s->fds[s->n_handles] = fds[i];
                s->handles[s->n_handles++] = h;
                fds[i] = -1;
                progress = true;
            } else if (last.code == TH_ELIMIT) {
                /* no other order will find what the process lacks */
                rc = thi_diag_set(d, last.code, "%s: %s", what, last.msg);
            }
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (fds[i] >= 0 && !strcmp(b->files[i].kind, "library"))
            rc = thi_diag_set(d, TH_EABI, "%s: library %s", what, last.msg);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(b->files[i].kind, "plugin"))
            continue;
        void *h = NULL;
        th_diag_t md = {0};
        if (map_fd(fds[i], b->files[i].path, &h, &md) != 0) {
            rc = thi_diag_set(d, md.code, "%s: plugin %s", what, md.msg);
            break;
        }
        s->fds[s->n_handles] = fds[i];
        s->handles[s->n_handles++] = h;
        fds[i] = -1;
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
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return rc;
}

static bool
platform_ok(const thi_bundle_t *b, const char *what, th_diag_t *d)
{
    json_t *abi = json_object_get(b->manifest, "abi");
    json_t *pf = json_object_get(b->manifest, "platform");
    json_int_t major = json_integer_value(json_object_get(abi, "major"));
    json_int_t minor = json_integer_value(json_object_get(abi, "minor"));
    if (major != TH_ABI_MAJOR || minor > TH_ABI_MINOR) {
        thi_diag_set(d, TH_EABI, "%s: bundle ABI %lld.%lld, host ABI %u.%u",
                     what, (long long)major, (long long)minor, TH_ABI_MAJOR,
                     TH_ABI_MINOR);
        return false;
    }
#if defined(__x86_64__)
    const char *arch = "x86_64";
#elif defined(__aarch64__)
    const char *arch = "aarch64";
#else
    const char *arch = "unknown";
#endif
    const char *a = json_string_value(json_object_get(pf, "arch"));
    const char *l = json_string_value(json_object_get(pf, "libc"));
    if (strcmp(a, arch) || strcmp(l, "glibc")) {
        thi_diag_set(d, TH_EABI,
                     "%s: bundle is for %s/%s, this host is %s/glibc", what,
                     a, l, arch);
        return false;
    }
    return true;
}

static int
elf_policy(const thi_bundle_t *b, const char *what, th_diag_t *d)
{
    thi_bundle_input_t *in = calloc(b->n_files + 1, sizeof *in);
    if (in == NULL)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->n_files; i++)
        in[i] = (thi_bundle_input_t){.path = b->files[i].path,
                                     .kind = b->files[i].kind,
                                     .data = b->files[i].data,
                                     .size = b->files[i].size};
    int rc = thi_elf_check_bundle(in, b->n_files, what, d);
    free(in);
    return rc;
}

/* Everything after the keyring (and the authority, if any) said yes. On
 * failure nothing remains: no directory, no mapping, no class, no version
 * record. *record_out: the version record rose, for the caller to save. */
static int
load_verified(struct th_system *sys, thi_pending_t *p, bool *record_out,
              th_diag_t *d)
{
    const uint8_t *bytes = pending_bundle(p);
    char what[80];
    snprintf(what, sizeof what, "source %.12s", p->hash);
    /* the archive is read only up to where the verified signature ends */
    thi_bundle_t *b = NULL;
    int rc = thi_bundle_read_flags(&b, bytes, p->signed_len,
                                   THI_READ_SKIP_DATA, what, d);
    if (rc)
        return rc;
    thi_source_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        thi_bundle_free(b);
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    }
    memcpy(s->hash, p->hash, 65);
    snprintf(s->key, sizeof s->key, "%s", p->key);
    s->group = strdup(b->group);
    s->version = b->version ? strdup(b->version) : NULL;
    s->info = strdup(b->info ? b->info : "");
    s->tli = b->tli ? json_deep_copy(b->tli) : NULL;
    if (!platform_ok(b, what, d)) {
        rc = d ? d->code : TH_EABI;
        goto out_free;
    }
    /* the ELF policy, on the bytes that will be written and mapped, before
     * any of them is (the TLI's classes were checked against the signed
     * manifest by thi_bundle_read) */
    rc = elf_policy(b, what, d);
    if (rc)
        goto out_free;
    /* rollback protection and one unversioned bundle per group */
    pthread_mutex_lock(&sys->classes_lock);
    const char *best = json_string_value(json_object_get(sys->versions,
                                                         b->group));
    bool bad = sys->versions_bad;
    thi_source_t *clash = NULL;
    for (thi_source_t *o = sys->sources; o; o = o->next)
        if (!strcmp(o->group, b->group) && !o->unloading &&
            (o->version == NULL || b->version == NULL))
            clash = o;
    pthread_mutex_unlock(&sys->classes_lock);
    if (bad) {
        rc = thi_diag_set(d, TH_EPERM,
                          "%s: the version record in %s is unreadable; "
                          "loads are refused",
                          what, sys->state_dir);
        goto out_free;
    }
    if (clash) {
        rc = thi_diag_set(d, TH_EPERM,
                          "%s: group %s: an unversioned bundle cannot run "
                          "beside another version (loaded: %.12s)",
                          what, b->group, clash->hash);
        goto out_free;
    }
    if (best && b->version && thi_version_cmp(b->version, best) < 0) {
        if (!p->allow_rollback) {
            rc = thi_diag_set(d, TH_EPERM,
                              "%s: group %s version %s is older than %s, "
                              "accepted before (rollback refused; override "
                              "to allow)",
                              what, b->group, b->version, best);
            goto out_free;
        }
        thi_log(TH_LOG_WARNING, NULL,
                "%s: rollback of group %s to %s (highest accepted %s) "
                "allowed by the operator",
                what, b->group, b->version, best);
    }
    /* a private soname must name nothing loaded yet, in any system of
     * the process: else the dynamic linker would bind this bundle's code
     * to that object rather than to the bundle's own library */
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
        rc = map_source(s, b, what, d);
    pthread_mutex_unlock(&map_lock);
    if (rc)
        goto out_free;
    if (s->n_plugins == 0) {
        rc = thi_diag_set(d, TH_EFORMAT, "%s: the bundle has no plugin",
                          what);
        goto out_free;
    }
    for (size_t i = 0; i < s->n_plugins && rc == 0; i++)
        rc = thi_registry_add_plugin(sys, s, s->plugins[i], d);
    if (rc) {
        thi_registry_remove_source(sys, s);
        goto out_free;
    }
    /* the version record moves when a version runs: here, without a
     * Director; with one, when it reports the version active
     * (thi_source_activated), so a failed activation moves nothing */
    pthread_mutex_lock(&sys->classes_lock);
    bool record = th_addr_is_null(&sys->director) &&
                  versions_raise_locked(sys, b->group, b->version);
    s->next = sys->sources;
    sys->sources = s;
    pthread_mutex_unlock(&sys->classes_lock);
    thi_log(TH_LOG_INFO, NULL, "source %.12s loaded: group %s version %s, key %s",
            s->hash, s->group, s->version ? s->version : "(none)", s->key);
    thi_bundle_free(b);
    notify_watchers(sys, s, TH_MSG_LOADED_SOURCE);
    /* in force in memory already; written to disk in the background once
     * the caller is answered (waking the writer first made the caller
     * wait for a core on a busy machine) */
    *record_out = record;
    return 0;

out_free:
    thi_bundle_free(b);
    source_free(s);
    return rc;
}

static thi_pending_t *
pending_take(struct th_system *sys, const char *hash)
{
    for (thi_pending_t **pp = &sys->pending; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->hash, hash) == 0) {
            thi_pending_t *p = *pp;
            *pp = p->next;
            return p;
        }
    return NULL;
}

/* The system actor got ValidatedSource: only the registered authority's
 * answer counts, or, for a load made while no authority was registered,
 * the system's own (sent to itself by thi_source_request). */
void
thi_source_validated(struct th_system *sys, thi_env_t *env)
{
    json_t *o = json_loadb(env->msg.data, env->msg.len, JSON_REJECT_DUPLICATES,
                           NULL);
    const char *hash = json_string_value(json_object_get(o, "sourceHash"));
    pthread_mutex_lock(&sys->classes_lock);
    th_addr_t root;
    th_system_address_of(sys, &root);
    bool from_authority = th_addr_eq(&env->msg.sender, &sys->authority) &&
                          !th_addr_is_null(&sys->authority);
    bool from_system = env->system && th_addr_eq(&env->msg.sender, &root);
    thi_pending_t *p = NULL;
    for (thi_pending_t *q = sys->pending; hash && q; q = q->next)
        if (!strcmp(q->hash, hash) && !q->processing &&
            (q->direct ? from_system : from_authority))
            p = q;
    if (p)
        p->processing = true;
    pthread_mutex_unlock(&sys->classes_lock);
    if (p == NULL) {
        char a[TH_ADDR_STRLEN];
        th_addr_to_string(&env->msg.sender, a, sizeof a);
        thi_log(TH_LOG_WARNING, NULL,
                "ValidatedSource from %s ignored (%s)", a,
                !from_authority && !from_system
                    ? "not the registered Source Authority"
                    : "no pending load with that hash");
        json_decref(o);
        return;
    }
    th_diag_t d = {0};
    int rc;
    bool record = false;
    if (json_is_true(json_object_get(o, "valid"))) {
        rc = load_verified(sys, p, &record, &d);
    } else {
        const char *why = json_string_value(json_object_get(o, "reason"));
        rc = thi_diag_set(&d, TH_EBADSIG,
                          "source %.12s refused by the Source Authority: %s",
                          p->hash, why ? why : "no reason given");
    }
    json_decref(o);
    if (rc)
        thi_log(TH_LOG_ERROR, NULL, "%s", d.msg);
    pthread_mutex_lock(&sys->classes_lock);
    pending_take(sys, p->hash); /* the source, if any, is listed now */
    pthread_mutex_unlock(&sys->classes_lock);
    pthread_mutex_lock(&sys->state_lock);
    p->rc = rc;
    p->diag = d;
    p->done = true;
    bool abandoned = p->abandoned;
    bool outside = th_addr_is_null(&p->requester);
    pthread_cond_broadcast(&sys->state_cond);
    pthread_mutex_unlock(&sys->state_lock);
    if (abandoned || !outside) {
        thi_payload_release(p->bytes);
        free(p);
    }
    if (record)
        versions_save(sys);
}

/* Verify `p`'s bytes against the system's keyring (read-locked: a reload
 * swaps the ring, never changes one in use). The one hashing pass of the
 * load: it gives the signature's digest and the source hash together. */
static int
verify_pending(struct th_system *sys, thi_pending_t *p, th_diag_t *d)
{
    thi_verified_t v;
    pthread_rwlock_rdlock(&sys->keys_lock);
    int rc = thi_bundle_verify(&v, pending_bundle(p), pending_len(p),
                               sys->keyring, "bundle", d);
    pthread_rwlock_unlock(&sys->keys_lock);
    if (rc == 0) {
        p->signed_len = v.signed_len;
        memcpy(p->hash, v.source_hex, 65);
        /* the authority names the source by this hash: it need not hash
         * the bundle again (docs/messages.md, ValidateSource) */
        memcpy(p->bytes->data, v.source_hex, 64);
        p->bytes->data[64] = '\n';
        snprintf(p->key, sizeof p->key, "%s", v.key_name);
    }
    return rc;
}

int
thi_source_request(struct th_system *sys, const th_addr_t *requester,
                   const void *bundle, size_t len, bool allow_rollback,
                   char hash_out[65], thi_pending_t **out, th_diag_t *d)
{
    hash_out[0] = '\0';
    if (len > THI_BUNDLE_MAX_BYTES)
        return thi_diag_set(d, TH_ETOOBIG,
                            "bundle of %zu bytes is over the limit of %zu",
                            len, THI_BUNDLE_MAX_BYTES);
    /* our own copy first: what is verified is what is later read and
     * mapped, whatever the caller does with its buffer */
    thi_pending_t *p = calloc(1, sizeof *p);
    int rc = p ? thi_payload_alloc(&p->bytes, TH_VALIDATE_SOURCE_HEADER + len)
               : TH_ENOMEM;
    if (rc) {
        free(p);
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    }
    memcpy(p->bytes->data + TH_VALIDATE_SOURCE_HEADER, bundle, len);
    p->allow_rollback = allow_rollback;
    if (requester)
        p->requester = *requester;
    rc = verify_pending(sys, p, d);
    if (rc) {
        thi_log(TH_LOG_WARNING, NULL, "%s", d ? d->msg : "load refused");
        goto out_free;
    }
    memcpy(hash_out, p->hash, 65);
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_source_t *s = sys->sources; s; s = s->next)
        if (!strcmp(s->hash, hash_out)) {
            bool unloading = s->unloading;
            pthread_mutex_unlock(&sys->classes_lock);
            if (unloading) {
                rc = thi_diag_set(d, TH_ESOURCE,
                                  "source %.12s is being unloaded; load it "
                                  "again once it is gone",
                                  hash_out);
                goto out_free;
            }
            rc = 1; /* loaded already: a no-op */
            goto out_free;
        }
    for (thi_pending_t *q = sys->pending; q; q = q->next)
        if (!strcmp(q->hash, hash_out)) {
            pthread_mutex_unlock(&sys->classes_lock);
            rc = thi_diag_set(d, TH_EEXIST,
                              "source %.12s is already being loaded",
                              hash_out);
            goto out_free;
        }
    th_addr_t root, authority = sys->authority;
    th_system_address_of(sys, &root);
    p->direct = th_addr_is_null(&authority);
    p->next = sys->pending;
    sys->pending = p;
    if (!p->direct)
        atomic_fetch_add(&p->bytes->refs, 1); /* one for the message */
    pthread_mutex_unlock(&sys->classes_lock);
    if (out)
        *out = p;
    if (p->direct) {
        /* no authority: the system actor, which serialises every load,
         * loads it on its own word */
        char body[120];
        snprintf(body, sizeof body, "{\"sourceHash\":\"%s\",\"valid\":true}",
                 hash_out);
        rc = thi_send_system(sys, &root, &root, TH_MSG_VALIDATED_SOURCE, body,
                             strlen(body));
        return rc ? thi_diag_set(d, rc, "the system cannot be reached: %s",
                                 th_strerror(rc))
                  : 0;
    }
    const thi_type_t *t = thi_type_builtin(TH_MSG_VALIDATE_SOURCE);
    thi_env_t *env;
    rc = thi_env_from_payload(&env, t, p->bytes);
    if (rc) {
        thi_payload_release(p->bytes);
        return thi_diag_set(d, rc, "out of memory");
    }
    env->system = 1;
    env->msg.sender = root;
    rc = thi_deliver(sys, &authority, env);
    if (rc)
        return thi_diag_set(d, TH_EPERM,
                            "the Source Authority cannot be reached: %s",
                            th_strerror(rc));
    return 0;

out_free:
    thi_payload_release(p->bytes);
    free(p);
    return rc;
}

static bool
pending_done(void *arg)
{
    thi_pending_t *p = arg;
    return p->done;
}

int
th_system_load_source(th_system_t *sys, const uint8_t *bundle, size_t len,
                      const char *what, bool allow_rollback, char hash_out[65],
                      th_diag_t *d)
{
    thi_pending_t *p = NULL;
    th_diag_t rd = {0};
    int rc = thi_source_request(sys, NULL, bundle, len, allow_rollback,
                                hash_out, &p, &rd);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        /* forget a request the authority never received */
        if (p) {
            pthread_mutex_lock(&sys->classes_lock);
            thi_pending_t *q = pending_take(sys, hash_out);
            pthread_mutex_unlock(&sys->classes_lock);
            if (q) {
                thi_payload_release(q->bytes);
                free(q);
            }
        }
        return thi_diag_set(d, rc, "%s: %s", what, rd.msg);
    }
    int timeout = sys->opts.authority_timeout_ms;
    if (sys->opts.synchronous) {
        thi_sched_run_sync(sys, timeout, pending_done, p);
        pthread_mutex_lock(&sys->state_lock);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += timeout / 1000;
        ts.tv_nsec += (long)(timeout % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&sys->state_lock);
        while (!p->done &&
               pthread_cond_timedwait(&sys->state_cond, &sys->state_lock,
                                      &ts) != ETIMEDOUT)
            ;
    }
    if (!p->done) {
        p->abandoned = true;
        pthread_mutex_unlock(&sys->state_lock);
        /* if the answer never comes, drop the request; one being loaded
         * right now is freed by the system actor when it is done */
        pthread_mutex_lock(&sys->classes_lock);
        thi_pending_t *q = p->processing ? NULL : pending_take(sys, hash_out);
        pthread_mutex_unlock(&sys->classes_lock);
        if (q) {
            thi_payload_release(q->bytes);
            free(q);
        }
        return thi_diag_set(d, TH_ETIMEDOUT,
                            "%s: the Source Authority did not answer within "
                            "%d ms",
                            what, timeout);
    }
    pthread_mutex_unlock(&sys->state_lock);
    rc = p->rc;
    if (rc)
        thi_diag_set(d, rc, "%s", p->diag.msg);
    thi_payload_release(p->bytes);
    free(p);
    return rc;
}

int
th_system_unload_source(th_system_t *sys, const char *prefix,
                        char hash_out[65], th_diag_t *d)
{
    return thi_source_unload(sys, prefix ? prefix : "", hash_out, d);
}

int
th_system_sources_json(th_system_t *sys, char **out)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_source_t *s = sys->sources; s; s = s->next)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s?, s:s, s:s, s:I, s:b}", "hash",
                           s->hash, "group", s->group, "version", s->version,
                           "info", s->info ? s->info : "", "key", s->key,
                           "live_actors", (json_int_t)s->live, "unloading",
                           s->unloading));
    pthread_mutex_unlock(&sys->classes_lock);
    *out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return *out ? 0 : TH_ENOMEM;
}

int
th_system_register_director(th_system_t *sys, const th_addr_t *a)
{
    char text[TH_ADDR_STRLEN];
    th_addr_to_string(a, text, sizeof text);
    pthread_mutex_lock(&sys->classes_lock);
    sys->director = *a;
    pthread_mutex_unlock(&sys->classes_lock);
    thi_log(TH_LOG_INFO, NULL,
            "Director registered: %s (it reports which versions run)", text);
    return 0;
}

/* ActivatedSource from the registered Director: the version runs, so the
 * group's record may rise to it. Anyone else is ignored. */
void
thi_source_activated(struct th_system *sys, thi_env_t *env)
{
    json_t *o = json_loadb(env->msg.data, env->msg.len, JSON_REJECT_DUPLICATES,
                           NULL);
    const char *hash = json_string_value(json_object_get(o, "sourceHash"));
    pthread_mutex_lock(&sys->classes_lock);
    bool from_director = !th_addr_is_null(&sys->director) &&
                         th_addr_eq(&env->msg.sender, &sys->director);
    thi_source_t *src = NULL;
    for (thi_source_t *s = sys->sources; from_director && hash && s;
         s = s->next)
        if (strcmp(s->hash, hash) == 0 && !s->unloading)
            src = s;
    bool moved = src && versions_raise_locked(sys, src->group, src->version);
    /* the log line of an activation or a swap names both versions */
    const char *prev = json_string_value(json_object_get(o, "previous"));
    char line[400] = "";
    thi_source_t *old = NULL;
    for (thi_source_t *s = sys->sources; src && prev && s; s = s->next)
        if (strcmp(s->hash, prev) == 0)
            old = s;
    if (src && old)
        snprintf(line, sizeof line,
                 "group %s: version %s (%.12s) active, replacing version %s "
                 "(%.12s)",
                 src->group, src->version ? src->version : "unversioned",
                 src->hash, old->version ? old->version : "unversioned",
                 old->hash);
    else if (src)
        snprintf(line, sizeof line, "group %s: version %s (%.12s) active",
                 src->group, src->version ? src->version : "unversioned",
                 src->hash);
    pthread_mutex_unlock(&sys->classes_lock);
    if (line[0])
        thi_log(TH_LOG_INFO, NULL, "%s", line);
    if (!from_director || (hash && src == NULL)) {
        char a[TH_ADDR_STRLEN];
        th_addr_to_string(&env->msg.sender, a, sizeof a);
        thi_log(TH_LOG_WARNING, NULL, "%s from %s ignored (%s)",
                TH_MSG_ACTIVATED_SOURCE, a,
                !from_director ? "not the registered Director"
                               : "no loaded source has that hash");
    }
    json_decref(o);
    if (moved)
        versions_save(sys);
}

int
thi_source_register_authority(struct th_system *sys, const th_addr_t *a,
                              const thi_class_t *cls)
{
    char text[TH_ADDR_STRLEN];
    th_addr_to_string(a, text, sizeof text);
    const char *why = NULL;
    pthread_mutex_lock(&sys->classes_lock);
    if (sys->authority_class[0] == '\0')
        why = "this system admits no Source Authority";
    else if (cls == NULL || strcmp(cls->qname, sys->authority_class) != 0)
        why = "only the system's own authority class may register";
    else if (cls->source != NULL)
        why = "a class from a loaded bundle may not be the authority";
    else if (!th_addr_is_null(&sys->authority) &&
             !th_addr_eq(&sys->authority, a))
        why = "a Source Authority is registered already";
    else
        sys->authority = *a; /* the first registration is the only one */
    pthread_mutex_unlock(&sys->classes_lock);
    if (why) {
        thi_log(TH_LOG_WARNING, a,
                "Source Authority registration refused (%s): %s",
                cls ? cls->qname : "?", why);
        return TH_EPERM;
    }
    thi_log(TH_LOG_INFO, NULL, "Source Authority registered: %s (%s)", text,
            cls->qname);
    return 0;
}

/* ---- trusted keys ------------------------------------------------------------ */

static void
log_lines(int level, const char *text)
{
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        int n = nl ? (int)(nl - text) : (int)strlen(text);
        thi_log(level, NULL, "%.*s", n, text);
        text = nl ? nl + 1 : NULL;
    }
}

/* Read the key directory into a new keyring and swap it in. The old ring
 * is freed once no verification uses it (the write lock waits for them). */
static int
keys_read(struct th_system *sys, const char *why, th_diag_t *d)
{
    thi_keyring_t *kr = NULL;
    char *warnings = NULL;
    if (sys->key_dir[0]) {
        int rc = thi_keyring_load_dir(&kr, sys->key_dir, &warnings, d);
        log_lines(TH_LOG_WARNING, warnings);
        free(warnings);
        if (rc != 0)
            return rc;
    }
    pthread_rwlock_wrlock(&sys->keys_lock);
    thi_keyring_t *old = sys->keyring;
    sys->keyring = kr;
    pthread_rwlock_unlock(&sys->keys_lock);
    thi_keyring_destroy(old);
    size_t n = thi_keyring_count(kr);
    if (n == 0) {
        /* an embedder that never loads sources configures no directory:
         * say so quietly; a directory that yields no key is a warning */
        thi_log(sys->key_dir[0] ? TH_LOG_WARNING : TH_LOG_INFO, NULL,
                "%s: no trusted key: %s; every load will be refused", why,
                thi_keyring_problem(kr));
        return 0;
    }
    json_t *list = thi_keyring_json(kr);
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(list, "trusted"), i, k)
        thi_log(TH_LOG_INFO, NULL, "%s: trusted key %s sha256:%s", why,
                json_string_value(json_object_get(k, "file")),
                json_string_value(json_object_get(k, "fingerprint")));
    /* what the host trusts changed: worth a line at the default level */
    if (strcmp(why, "keys at start") != 0)
        thi_log(TH_LOG_WARNING, NULL, "%s from %s: %zu trusted, %zu skipped",
                why, sys->key_dir, n,
                json_array_size(json_object_get(list, "skipped")));
    json_decref(list);
    return 0;
}

static int
keys_init(struct th_system *sys)
{
    pthread_rwlock_init(&sys->keys_lock, NULL);
    const char *dir = sys->opts.key_dir;
    if (dir == NULL)
        dir = getenv("THESPIAN_DIRECTOR_DIR");
    if (dir && strlen(dir) >= sizeof sys->key_dir)
        return TH_EINVAL;
    snprintf(sys->key_dir, sizeof sys->key_dir, "%s", dir ? dir : "");
    sys->opts.key_dir = NULL; /* copied */
    const char *ac = sys->opts.authority_class;
    if (ac == NULL)
        ac = "director.SourceAuthority";
    if (strlen(ac) >= sizeof sys->authority_class)
        return TH_EINVAL;
    snprintf(sys->authority_class, sizeof sys->authority_class, "%s", ac);
    sys->opts.authority_class = NULL;
    th_diag_t d = {0};
    return keys_read(sys, "keys at start", &d);
}

int
th_system_reload_keys(th_system_t *sys, char **out, th_diag_t *d)
{
    if (out)
        *out = NULL;
    int rc = keys_read(sys, "keys reloaded", d);
    if (rc == 0 && out)
        rc = th_system_keys_json(sys, out);
    return rc;
}

int
th_system_keys_json(th_system_t *sys, char **out)
{
    pthread_rwlock_rdlock(&sys->keys_lock);
    json_t *o = thi_keyring_json(sys->keyring);
    pthread_rwlock_unlock(&sys->keys_lock);
    if (o && sys->key_dir[0] == '\0')
        json_object_set_new(o, "problem",
                            json_string(thi_keyring_problem(NULL)));
    *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *out ? 0 : TH_ENOMEM;
}

int
thi_source_watch(struct th_system *sys, const th_addr_t *a, bool on)
{
    pthread_mutex_lock(&sys->classes_lock);
    size_t i = 0;
    while (i < sys->n_src_watchers && !th_addr_eq(&sys->src_watchers[i], a))
        i++;
    if (!on) {
        if (i < sys->n_src_watchers)
            sys->src_watchers[i] = sys->src_watchers[--sys->n_src_watchers];
        pthread_mutex_unlock(&sys->classes_lock);
        return 0;
    }
    if (i == sys->n_src_watchers) {
        if (sys->n_src_watchers == sys->cap_src_watchers) {
            size_t cap = sys->cap_src_watchers ? sys->cap_src_watchers * 2 : 4;
            th_addr_t *w = realloc(sys->src_watchers, cap * sizeof *w);
            if (w == NULL) {
                pthread_mutex_unlock(&sys->classes_lock);
                return TH_ENOMEM;
            }
            sys->src_watchers = w;
            sys->cap_src_watchers = cap;
        }
        sys->src_watchers[sys->n_src_watchers++] = *a;
    }
    /* a new watcher hears of every source already loaded */
    json_t *all = json_array();
    for (thi_source_t *s = sys->sources; s; s = s->next)
        if (!s->unloading)
            json_array_append_new(all, availability_body(s));
    pthread_mutex_unlock(&sys->classes_lock);
    th_addr_t from;
    th_system_address_of(sys, &from);
    size_t k;
    json_t *e;
    json_array_foreach(all, k, e)
    {
        char *text = json_dumps(e, JSON_COMPACT);
        if (text)
            thi_send_system(sys, &from, a, TH_MSG_LOADED_SOURCE, text,
                            strlen(text));
        free(text);
    }
    json_decref(all);
    return 0;
}

size_t
thi_sources_count(struct th_system *sys)
{
    size_t n = 0;
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_source_t *s = sys->sources; s; s = s->next)
        n++;
    pthread_mutex_unlock(&sys->classes_lock);
    return n;
}
