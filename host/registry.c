/*
 * host/registry.c — the classes a system can create, by qualified name
 * PLUGIN.CLASS, and the plugins they come from. A plugin registers all its
 * classes or none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/rt.h"
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
    k->n_dispatch = c->n_dispatch;
    k->dispatch = c->dispatch;
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

int
th_system_load_plugin(th_system_t *sys, const char *path, th_diag_t *d)
{
    thi_plugin_t *p = NULL;
    int rc = thi_plugin_open(&p, path, d);
    if (rc != 0) {
        thi_log(TH_LOG_ERROR, NULL, "%s", d ? d->msg : "plugin refused");
        return rc;
    }
    const th_plugin_t *desc = p->desc;
    thi_class_t **built = calloc(desc->n_classes, sizeof *built);
    thi_plugin_rec_t *rec = calloc(1, sizeof *rec);
    if (built == NULL || rec == NULL) {
        rc = thi_diag_set(d, TH_ENOMEM, "%s: out of memory", path);
        goto out_free;
    }
    for (uint32_t i = 0; i < desc->n_classes; i++) {
        rc = class_build(&built[i], desc, desc->classes[i]);
        if (rc != 0) {
            thi_diag_set(d, rc, "%s: class %s: %s", path,
                         desc->classes[i]->name, th_strerror(rc));
            goto out_free;
        }
    }
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_plugin_rec_t *r = sys->plugins; r; r = r->next)
        if (strcmp(r->plugin->name, p->name) == 0) {
            pthread_mutex_unlock(&sys->classes_lock);
            rc = thi_diag_set(d, TH_EEXIST,
                              "%s: a plugin named %s is already loaded (%s)",
                              path, p->name, r->plugin->path);
            goto out_free;
        }
    for (uint32_t i = 0; i < desc->n_classes; i++) {
        uint32_t b = bucket_of(built[i]->qname);
        built[i]->next = sys->classes[b];
        sys->classes[b] = built[i];
    }
    rec->plugin = p;
    rec->next = sys->plugins;
    sys->plugins = rec;
    pthread_mutex_unlock(&sys->classes_lock);
    thi_log(TH_LOG_INFO, NULL, "loaded plugin %s (%u classes) from %s",
            p->name, desc->n_classes, path);
    free(built);
    return 0;

out_free:
    for (uint32_t i = 0; built && i < desc->n_classes; i++)
        class_free(built[i]);
    free(built);
    free(rec);
    thi_plugin_close(p);
    return rc;
}

int
thi_class_lookup(struct th_system *sys, const char *qname,
                 const thi_class_t **out)
{
    int rc = TH_ENOENT;
    pthread_mutex_lock(&sys->classes_lock);
    for (thi_class_t *k = sys->classes[bucket_of(qname)]; k; k = k->next)
        if (strcmp(k->qname, qname) == 0) {
            *out = k;
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&sys->classes_lock);
    return rc;
}

void
thi_registry_fini(struct th_system *sys)
{
    for (int b = 0; b < 256; b++) {
        thi_class_t *k = sys->classes[b];
        while (k) {
            thi_class_t *next = k->next;
            class_free(k);
            k = next;
        }
        sys->classes[b] = NULL;
    }
    thi_plugin_rec_t *r = sys->plugins;
    while (r) {
        thi_plugin_rec_t *next = r->next;
        thi_plugin_close(r->plugin);
        free(r);
        r = next;
    }
    sys->plugins = NULL;
}
