/*
 * host/sources/registry.c — the classes a system can create, by qualified name
 * PLUGIN.CLASS, and the plugins they come from. A plugin registers all its
 * classes or none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/log.h"
#include "host/sources/internal.h"
#include "loader/plugin.h"

typedef struct thi_plugin_rec {
    struct thi_plugin_rec *next;
    thi_plugin_t *plugin;
} thi_plugin_rec_t;

static uint32_t
bucket_of(const char *qname)
{
    uint32_t h = 2166136261u;
    for (; *qname; qname++)
        h = (h ^ (unsigned char)*qname) * 16777619u;
    return h % 256;
}

static void
class_free(thi_class_t *c)
{
    if (c == NULL)
        return;
    free(c->dispatch_types);
    free(c);
}

static int
class_build(thi_class_t **out, const th_plugin_t *desc, const th_class_t *c)
{
    thi_class_t *k = calloc(1, sizeof *k);
    if (k == NULL)
        return TH_ENOMEM;
    snprintf(k->qname, sizeof k->qname, "%s.%s", desc->name, c->name);
    k->c = c;
    k->state_size = c->state_size;
    k->init = c->init;
    k->receive = c->receive;
    k->teardown = c->teardown;
    k->export_state = c->export_state;
    k->import_state = c->import_state;
    k->n_dispatch = c->n_dispatch;
    k->dispatch = c->dispatch;
    k->transient_ms = TH_TRANSIENT_DEFAULT_MS;
    if (c->size >= sizeof(th_class_t)) { /* 1.1 fields */
        k->flags = c->flags;
        k->capability_check = c->capability_check;
        k->requires = c->requires;
        k->n_requires = c->n_requires;
        k->troupe_max = c->troupe_max;
        k->troupe_idle = c->troupe_idle;
        if (c->transient_ms)
            k->transient_ms = c->transient_ms;
    }
    if (c->n_dispatch) {
        k->dispatch_types = calloc(c->n_dispatch, sizeof *k->dispatch_types);
        if (k->dispatch_types == NULL) {
            free(k);
            return TH_ENOMEM;
        }
        for (uint32_t i = 0; i < c->n_dispatch; i++) {
            if (strcmp(c->dispatch[i].type, "*") == 0)
                continue; /* NULL matches every type */
            int rc = thi_type_intern(&k->dispatch_types[i],
                                     c->dispatch[i].type);
            if (rc != 0) {
                class_free(k);
                return rc;
            }
        }
    }
    *out = k;
    return 0;
}

/* Register every class of `p` under `src` (NULL: loaded by path), all or
 * none. Plugin names are unique within one source and among the plugins
 * loaded by path; two sources may both have one of a name. */
int
thi_registry_add_plugin(th_system_t *sys, thi_source_t *src, thi_plugin_t *p,
                        th_diag_t *d)
{
    const th_plugin_t *desc = p->desc;
    thi_class_t **built = calloc(desc->n_classes, sizeof *built);
    if (built == NULL)
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", p->path);
    int rc = 0;
    for (uint32_t i = 0; i < desc->n_classes && rc == 0; i++) {
        rc = class_build(&built[i], desc, desc->classes[i]);
        if (rc == TH_ELIMIT)
            thi_diag_set(d, rc,
                         "%s: class %s: the message type table is full "
                         "(limit %u types)",
                         p->path, desc->classes[i]->name, THI_TYPES_MAX);
        else if (rc != 0)
            thi_diag_set(d, rc, "%s: class %s: %s", p->path,
                         desc->classes[i]->name, th_strerror(rc));
        else
            built[i]->source = src;
    }
    if (rc != 0)
        goto out_free;
    pthread_mutex_lock(&sys->classes_lock);
    for (int b = 0; b < 256 && rc == 0; b++)
        for (thi_class_t *k = SRC(sys)->classes[b]; k; k = k->next)
            if (k->source == src &&
                strncmp(k->qname, p->name, strlen(p->name)) == 0 &&
                k->qname[strlen(p->name)] == '.') {
                rc = thi_diag_set(d, TH_EEXIST,
                                  "%s: a plugin named %s is already loaded",
                                  p->path, p->name);
                break;
            }
    if (rc == 0)
        for (uint32_t i = 0; i < desc->n_classes; i++) {
            uint32_t b = bucket_of(built[i]->qname);
            built[i]->next = SRC(sys)->classes[b];
            SRC(sys)->classes[b] = built[i];
            built[i] = NULL;
        }
    pthread_mutex_unlock(&sys->classes_lock);
out_free:
    for (uint32_t i = 0; i < desc->n_classes; i++)
        class_free(built[i]);
    free(built);
    return rc;
}

void
thi_registry_remove_source(th_system_t *sys, thi_source_t *src)
{
    pthread_mutex_lock(&sys->classes_lock);
    for (int b = 0; b < 256; b++)
        for (thi_class_t **pp = &SRC(sys)->classes[b]; *pp;) {
            thi_class_t *k = *pp;
            if (k->source == src) {
                *pp = k->next;
                class_free(k);
            } else {
                pp = &k->next;
            }
        }
    pthread_mutex_unlock(&sys->classes_lock);
}

int
th_system_load_plugin(th_system_t *sys, const char *path, th_diag_t *d)
{
    thi_plugin_t *p = NULL;
    int rc = thi_plugin_open(&p, path, d);
    if (rc != 0) {
        thi_log(TH_LOG_ERROR, NULL, "%s", d ? d->msg : "plugin refused");
        return rc;
    }
    thi_plugin_rec_t *rec = calloc(1, sizeof *rec);
    if (rec == NULL) {
        thi_plugin_close(p);
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", path);
    }
    rc = thi_registry_add_plugin(sys, NULL, p, d);
    if (rc != 0) {
        free(rec);
        thi_plugin_close(p);
        return rc;
    }
    pthread_mutex_lock(&sys->classes_lock);
    rec->plugin = p;
    rec->next = SRC(sys)->plugins;
    SRC(sys)->plugins = rec;
    pthread_mutex_unlock(&sys->classes_lock);
    thi_log(TH_LOG_INFO, NULL, "loaded plugin %s (%u classes) from %s",
            p->name, p->desc->n_classes, path);
    return 0;
}

static thi_class_t *
find_in(th_system_t *sys, const char *qname, const thi_source_t *src)
{
    for (thi_class_t *k = SRC(sys)->classes[bucket_of(qname)]; k; k = k->next)
        if (k->source == src && strcmp(k->qname, qname) == 0)
            return k;
    return NULL;
}

int
thi_class_resolve(th_system_t *sys, const char *qname,
                  const thi_source_t *own, const char *hash_prefix,
                  const thi_class_t **out, th_diag_t *d)
{
    int rc = 0;
    thi_class_t *k = NULL;
    pthread_mutex_lock(&sys->classes_lock);
    if (hash_prefix) {
        thi_source_t *src = NULL;
        rc = thi_source_find(sys, hash_prefix, &src, d);
        if (rc == 0 && !thi_source_usable(src))
            rc = thi_diag_set(d, TH_ESOURCE,
                              "source %.12s is unloading: no new actors",
                              thi_source_hash(src));
        if (rc == 0 && (k = find_in(sys, qname, src)) == NULL)
            rc = thi_diag_set(d, TH_ENOENT, "source %.12s has no class %s",
                              thi_source_hash(src), qname);
    } else {
        if (own && thi_source_usable(own))
            k = find_in(sys, qname, own);
        if (k == NULL)
            k = find_in(sys, qname, NULL);
        if (k == NULL) { /* the one loaded source that has it, if one */
            int found = 0;
            char list[200] = "";
            size_t used = 0;
            for (thi_class_t *c = SRC(sys)->classes[bucket_of(qname)]; c;
                 c = c->next)
                if (c->source && thi_source_usable(c->source) &&
                    strcmp(c->qname, qname) == 0) {
                    k = c;
                    found++;
                    /* the candidates, so the caller can pick one */
                    int w = snprintf(list + used, sizeof list - used,
                                     "%s%.12s", found > 1 ? ", " : "",
                                     thi_source_hash(c->source));
                    if (w > 0 && (size_t)w < sizeof list - used)
                        used += (size_t)w;
                }
            if (found > 1) {
                k = NULL;
                rc = thi_diag_set(d, TH_ESOURCE,
                                  "class %s is ambiguous: %d loaded sources "
                                  "have it (%s); name one by its source hash",
                                  qname, found, list);
            }
        }
        if (k == NULL && rc == 0)
            rc = thi_diag_set(d, TH_ENOENT, "no class %s is loaded", qname);
    }
    if (k && k->source) {
        /* taken under the lock that unloading checks: no unmap while the
         * new actor may run */
        thi_source_hold_locked(k->source);
    }
    pthread_mutex_unlock(&sys->classes_lock);
    if (rc == 0)
        *out = k;
    return rc;
}

void
thi_registry_fini(struct th_system *sys)
{
    for (int b = 0; b < 256; b++) {
        thi_class_t *k = SRC(sys)->classes[b];
        while (k) {
            thi_class_t *next = k->next;
            class_free(k);
            k = next;
        }
        SRC(sys)->classes[b] = NULL;
    }
    thi_plugin_rec_t *r = SRC(sys)->plugins;
    while (r) {
        thi_plugin_rec_t *next = r->next;
        thi_plugin_close(r->plugin);
        free(r);
        r = next;
    }
    SRC(sys)->plugins = NULL;
}
