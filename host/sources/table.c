/*
 * host/sources/table.c — the sources a system has listed (SRC(sys)->sources,
 * under classes_lock): lookup by hash or hash prefix, the hold that counts
 * a source's live actors (its release is unload.c's), the listing (sources
 * JSON), and freeing a source's record.
 */
#include <stdlib.h>
#include <string.h>

#include "host/sources/internal.h"

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

void
thi_source_free(thi_source_t *s)
{
    if (s == NULL)
        return;
    thi_source_unmap_code(s);
    json_decref(s->tli);
    free(s->group);
    free(s->version);
    free(s->info);
    free(s);
}

thi_source_t *
thi_source_by_hash_locked(struct th_system *sys, const char *hash)
{
    for (thi_source_t *s = SRC(sys)->sources; s; s = s->next)
        if (!strcmp(s->hash, hash))
            return s;
    return NULL;
}

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
    for (thi_source_t *s = SRC(sys)->sources; s; s = s->next)
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

int
th_system_sources_json(th_system_t *sys, char **out)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_source_t *s = SRC(sys)->sources; s; s = s->next)
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

size_t
thi_sources_count(struct th_system *sys)
{
    size_t n = 0;
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_source_t *s = SRC(sys)->sources; s; s = s->next)
        n++;
    pthread_mutex_unlock(&sys->classes_lock);
    return n;
}
