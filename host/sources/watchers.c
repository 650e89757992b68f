/*
 * host/sources/watchers.c — watchers of sources: actors (the Director) told
 * LoadedSource when a source is listed and UnloadedSource when it is
 * unmapped, with what they need to activate a version, its TLI included.
 * A new watcher hears of every source already loaded.
 */
#include <stdlib.h>
#include <string.h>

#include "host/sources/internal.h"

/* LoadedSource / UnloadedSource body: what a watcher (the Director) needs
 * to activate a version, its TLI included. */
static json_t *
availability_body(const thi_source_t *s)
{
    return json_pack("{s:s, s:s, s:s?, s:s, s:O?}", "sourceHash", s->hash,
                     "group", s->group, "version", s->version, "info",
                     s->info ? s->info : "", "tli", s->tli);
}

void
thi_source_notify_watchers(struct th_system *sys, const thi_source_t *s,
                           const char *type)
{
    json_t *o = availability_body(s);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return;
    th_addr_t from;
    th_system_address_of(sys, &from);
    size_t n;
    pthread_mutex_lock(&sys->classes_lock);
    th_addr_t *w = thi_notify_copy(&SRC(sys)->src_watchers, &n);
    pthread_mutex_unlock(&sys->classes_lock);
    for (size_t i = 0; i < n; i++)
        thi_send_system(sys, &from, &w[i], type, text, strlen(text));
    free(w);
    free(text);
}

int
thi_source_watch(struct th_system *sys, const th_addr_t *a, bool on)
{
    pthread_mutex_lock(&sys->classes_lock);
    if (!on) {
        thi_notify_remove(&SRC(sys)->src_watchers, a);
        pthread_mutex_unlock(&sys->classes_lock);
        return 0;
    }
    if (thi_notify_add(&SRC(sys)->src_watchers, a) != 0) {
        pthread_mutex_unlock(&sys->classes_lock);
        return TH_ENOMEM;
    }
    /* a new watcher hears of every source already loaded */
    json_t *all = json_array();
    for (thi_source_t *s = SRC(sys)->sources; s; s = s->next)
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
