/*
 * host/core/names.c — global names: a hash table from name to address (names_lock);
 * a send by name resolves and queues as one step.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/core/core_int.h"
#include "proto/wire.h"

/* ---- Global names ------------------------------------------------------------------- */

uint32_t
thi_names_bucket(const char *name)
{
    uint32_t h = 5381;
    for (; *name; name++)
        h = h * 33 + (unsigned char)*name;
    return h % 1024;
}

bool
thi_addr_live(struct th_system *sys, const th_addr_t *a)
{
    thi_slot_t *slot = thi_slot_get(sys, a->opaque[1]);
    return slot && atomic_load(&slot->nonce) == a->opaque[2];
}

int
th_system_lookup_name(th_system_t *sys, const char *name, th_addr_t *out)
{
    if (name == NULL)
        return TH_EINVAL;
    int rc = TH_ENOENT;
    pthread_mutex_lock(&sys->names_lock);
    for (thi_name_ent_t *e = sys->names[thi_names_bucket(name)]; e; e = e->next)
        if (strcmp(e->name, name) == 0 && thi_addr_live(sys, &e->addr)) {
            *out = e->addr;
            rc = 0;
        }
    pthread_mutex_unlock(&sys->names_lock);
    return rc;
}

void
thi_names_remove(struct th_system *sys, const char *name, const th_addr_t *addr)
{
    pthread_mutex_lock(&sys->names_lock);
    for (thi_name_ent_t **pp = &sys->names[thi_names_bucket(name)]; *pp;
         pp = &(*pp)->next) {
        thi_name_ent_t *e = *pp;
        if (strcmp(e->name, name) == 0 && th_addr_eq(&e->addr, addr)) {
            *pp = e->next;
            free(e);
            break;
        }
    }
    pthread_mutex_unlock(&sys->names_lock);
}

int
thi_send_name(struct th_system *sys, const char *name, thi_env_t *env)
{
    if (name == NULL) {
        thi_env_free(env);
        return TH_EINVAL;
    }
    th_addr_t to = {{0, 0, 0}};
    bool found = false;
    int rc;
    pthread_mutex_lock(&sys->names_lock);
    for (thi_name_ent_t *e = sys->names[thi_names_bucket(name)]; e; e = e->next)
        if (strcmp(e->name, name) == 0 && thi_addr_live(sys, &e->addr)) {
            to = e->addr;
            found = true;
        }
    /* queued while the name cannot move: a rebind comes before or after
     * this message as a whole */
    if (found)
        rc = thi_deliver(sys, &to, env);
    pthread_mutex_unlock(&sys->names_lock);
    if (!found) {
        char why[300];
        snprintf(why, sizeof why, "no live actor is named \"%.255s\"", name);
        thi_dead_letter(sys, env, &to, why);
        rc = TH_EDEAD;
    }
    return rc;
}

int
thi_rebind_name(struct th_system *sys, const char *name, const th_addr_t *to)
{
    if (name == NULL || !thi_valid_global_name(name) || to == NULL)
        return TH_EINVAL;
    size_t nl = strlen(name);
    thi_name_ent_t *fresh = malloc(sizeof *fresh + nl + 1);
    if (fresh == NULL)
        return TH_ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&sys->names_lock);
    if (!thi_addr_live(sys, to)) {
        rc = TH_EDEAD;
    } else {
        thi_name_ent_t *e = sys->names[thi_names_bucket(name)];
        while (e && strcmp(e->name, name) != 0)
            e = e->next;
        if (e) {
            e->addr = *to;
        } else {
            memcpy(fresh->name, name, nl + 1);
            fresh->addr = *to;
            fresh->next = sys->names[thi_names_bucket(name)];
            sys->names[thi_names_bucket(name)] = fresh;
            fresh = NULL;
        }
    }
    pthread_mutex_unlock(&sys->names_lock);
    free(fresh);
    return rc;
}

void
thi_names_to_json(struct th_system *sys, json_t *into)
{
    char a[TH_ADDR_STRLEN];
    pthread_mutex_lock(&sys->names_lock);
    for (int b = 0; b < 1024; b++)
        for (thi_name_ent_t *e = sys->names[b]; e; e = e->next) {
            thi_wire_addr_format(&e->addr, a, sizeof a);
            json_object_set_new(into, e->name, json_string(a));
        }
    pthread_mutex_unlock(&sys->names_lock);
}

void
thi_names_fini(struct th_system *sys)
{
    for (int b = 0; b < 1024; b++) {
        thi_name_ent_t *e = sys->names[b];
        while (e) {
            thi_name_ent_t *next = e->next;
            free(e);
            e = next;
        }
        sys->names[b] = NULL;
    }
}

bool
thi_valid_global_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

