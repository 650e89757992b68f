/*
 * host/sources/unload.c — the end of a source's life: unloading stops
 * creations of its classes at once; the release of its last actor's hold
 * (thi_source_put) has the system actor unmap its code, and the watchers
 * hear UnloadedSource then; at destroy, what is left is freed.
 */
#include <string.h>

#include "host/log.h"
#include "host/sources/internal.h"

void
thi_source_queue_unmap(struct th_system *sys, thi_source_t *src)
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
        thi_source_queue_unmap(sys, src);
}

void
thi_source_unmap(struct th_system *sys, thi_source_t *src)
{
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_source_t **pp = &SRC(sys)->sources; *pp; pp = &(*pp)->next)
        if (*pp == src) {
            *pp = src->next;
            break;
        }
    pthread_mutex_unlock(&sys->classes_lock);
    thi_registry_remove_source(sys, src);
    thi_log(TH_LOG_INFO, NULL, "source %.12s (%s %s) unmapped", src->hash,
            src->group, src->version ? src->version : "unversioned");
    thi_source_notify_watchers(sys, src, TH_MSG_UNLOADED_SOURCE);
    thi_source_free(src);
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
        thi_source_queue_unmap(sys, s);
    return rc;
}

int
th_system_unload_source(th_system_t *sys, const char *prefix,
                        char hash_out[65], th_diag_t *d)
{
    return thi_source_unload(sys, prefix ? prefix : "", hash_out, d);
}

void
thi_sources_table_fini(struct th_system *sys)
{
    thi_source_t *s = SRC(sys)->sources;
    while (s) {
        thi_source_t *next = s->next;
        if (s->live == 0) {
            thi_registry_remove_source(sys, s);
            thi_source_free(s);
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
    SRC(sys)->sources = NULL;
}
