/*
 * host/sources/versions.c — the version record (rollback protection):
 * the highest version of each group this system accepted, in
 * STATE_DIR/versions.json. A load older than the record is refused unless
 * the operator allows it (load.c). The record rises when a version runs:
 * at load without a Director, else when the registered Director reports
 * it active (ActivatedSource). A rise is in force in memory at once and
 * reaches the disk on a writer thread of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/thread.h"
#include "base/file.h"
#include "base/version.h"
#include "host/log.h"
#include "host/sources/internal.h"

static void
versions_path(struct th_system *sys, char *out, size_t n)
{
    snprintf(out, n, "%s/versions.json", SRC(sys)->state_dir);
}

static void
versions_read(struct th_system *sys)
{
    char path[4200];
    versions_path(sys, path, sizeof path);
    json_error_t je;
    SRC(sys)->versions = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (SRC(sys)->versions == NULL) {
        if (access(path, F_OK) == 0) {
            thi_log(TH_LOG_ERROR, NULL,
                    "%s is unreadable (%s): loads are refused until it is "
                    "repaired or removed",
                    path, je.text);
            SRC(sys)->versions_bad = true;
        }
        SRC(sys)->versions = json_object();
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(SRC(sys)->versions, k, v) if (!json_is_string(v) ||
                                                 !thi_version_ok(
                                                     json_string_value(v)))
    {
        thi_log(TH_LOG_ERROR, NULL,
                "%s: group %s has no valid version: loads are refused", path,
                k);
        SRC(sys)->versions_bad = true;
    }
    if (!json_is_object(SRC(sys)->versions)) {
        SRC(sys)->versions_bad = true;
        json_decref(SRC(sys)->versions);
        SRC(sys)->versions = json_object();
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
    char *text = json_dumps(SRC(sys)->versions, JSON_INDENT(2) | JSON_SORT_KEYS);
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

/* The writer starts with the system (thi_versions_load), not at the first
 * rise: a load that raised the record then only wakes it, and any thread
 * may ask for a write. NULL when no thread could be started: the writes
 * are then made by whoever asks. */
static thi_versions_writer_t *
writer_start(struct th_system *sys)
{
    thi_versions_writer_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->sys = sys;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (thi_thread_start(&w->thread, NULL, versions_writer_main, w) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    pthread_setname_np(w->thread, "th-versions");
    return w;
}

void
thi_versions_load(struct th_system *sys)
{
    versions_read(sys);
    SRC(sys)->versions_writer = writer_start(sys);
}

/* Ask for the record to be written. Any thread; returns at once. */
void
thi_versions_save(struct th_system *sys)
{
    thi_versions_writer_t *w = SRC(sys)->versions_writer;
    if (w == NULL) {
        th_diag_t d = {0};
        if (versions_write(sys, &d) != 0)
            thi_log(TH_LOG_ERROR, NULL, "%s", d.msg);
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->dirty = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Destroy: the last rise reaches the disk before the record is freed. */
void
thi_versions_fini(struct th_system *sys)
{
    thi_versions_writer_t *w = SRC(sys)->versions_writer;
    if (w != NULL) {
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        SRC(sys)->versions_writer = NULL;
    }
    json_decref(SRC(sys)->versions);
    SRC(sys)->versions = NULL;
}

const char *
thi_versions_best_locked(struct th_system *sys, const char *group)
{
    return json_string_value(json_object_get(SRC(sys)->versions, group));
}

bool
thi_versions_raise_locked(struct th_system *sys, const char *group,
                          const char *version)
{
    const char *best = thi_versions_best_locked(sys, group);
    if (version == NULL || (best && thi_version_cmp(version, best) <= 0))
        return false;
    return json_object_set_new(SRC(sys)->versions, group, json_string(version)) ==
           0;
}

int
th_system_register_director(th_system_t *sys, const th_addr_t *a)
{
    char text[TH_ADDR_STRLEN];
    th_addr_to_string(a, text, sizeof text);
    pthread_mutex_lock(&sys->classes_lock);
    SRC(sys)->director = *a;
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
    bool from_director = !th_addr_is_null(&SRC(sys)->director) &&
                         th_addr_eq(&env->msg.sender, &SRC(sys)->director);
    thi_source_t *src = NULL;
    for (thi_source_t *s = SRC(sys)->sources; from_director && hash && s;
         s = s->next)
        if (strcmp(s->hash, hash) == 0 && !s->unloading)
            src = s;
    bool moved = src &&
                 thi_versions_raise_locked(sys, src->group, src->version);
    /* the log line of an activation or a swap names both versions */
    const char *prev = json_string_value(json_object_get(o, "previous"));
    char line[400] = "";
    thi_source_t *old = NULL;
    for (thi_source_t *s = SRC(sys)->sources; src && prev && s; s = s->next)
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
        thi_versions_save(sys);
}
