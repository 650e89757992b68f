/*
 * host/core/create.c — createActor: resolve the class, check options and capabilities,
 * allocate the slot, register the child, queue START, publish the name.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/log.h"
#include "host/core/provider.h"
#include "host/core/core_int.h"

#ifdef THI_FAULT_INJECTION
#include <unistd.h>
#endif

/* ---- Creating actors ------------------------------------------------------------------- */

static int create_slot(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
                       const thi_class_t *cls, const char *gname,
                       thi_slot_t *parent_slot, thi_start_extra_t *x);

/* The features' options (requirements, supervision, ...). *x is NULL
 * when there are none (the common case allocates nothing). */
static int
create_extra(struct th_system *sys, th_ctx_t *ctx, thi_slot_t *parent_slot,
             const char *class_name, const th_create_opts_t *opts,
             thi_start_extra_t **x, th_diag_t *d)
{
    *x = NULL;
    /* no options, and no parent state to pass on (what a feature passes
     * on lives in the parent's state, read only from its own context):
     * nothing to ask (feature.h, create_opts) */
    if (opts == NULL && !(ctx && ctx->slot == parent_slot && parent_slot->ext))
        return 0;
    void *part[THI_FEATURES_MAX] = {0};
    bool any = false;
    int rc = 0;
    for (unsigned i = 0; i < thi_n_features && rc == 0; i++)
        if (thi_features[i]->create_opts) {
            rc = thi_features[i]->create_opts(sys, ctx, parent_slot, opts,
                                              &part[i], d);
            any |= part[i] != NULL;
        }
    if (rc == 0 && !any)
        return 0;
    thi_start_extra_t *e = rc == 0 ? calloc(1, sizeof *e) : NULL;
    if (e == NULL) {
        for (unsigned i = 0; i < thi_n_features; i++)
            if (part[i])
                thi_features[i]->extra_free(part[i]);
        if (rc == 0)
            return thi_diag_set(d, TH_ENOMEM, "create %s: out of memory",
                                class_name);
        if (d->msg[0] == '\0')
            thi_diag_set(d, rc, "%s", th_strerror(rc));
        thi_log(TH_LOG_WARNING, NULL, "create %s: %s", class_name, d->msg);
        return rc;
    }
    memcpy(e->feat, part, sizeof part);
    *x = e;
    return 0;
}

int
thi_create(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
           const char *class_name, const th_create_opts_t *opts,
           th_diag_t *dout)
{
    th_diag_t local;
    th_diag_t *d = dout ? dout : &local;
    thi_diag_clear(d);
    if (class_name == NULL || out == NULL)
        return thi_diag_set(d, TH_EINVAL, "create: no class name or address");
    if (atomic_load(&sys->stopping))
        return thi_diag_set(d, TH_ECLOSED, "create %s: the system is "
                            "shutting down", class_name);
    const char *gname = NULL, *hash = NULL;
    if (opts) {
        if (opts->size < sizeof(uint32_t) * 2 + sizeof(void *))
            return thi_diag_set(d, TH_EINVAL, "create %s: opts->size %u is "
                                "too small", class_name, opts->size);
        gname = opts->global_name;
        if (opts->size >= offsetof(th_create_opts_t, source_hash) +
                              sizeof(void *))
            hash = opts->source_hash;
    }
    if (gname && !thi_valid_global_name(gname))
        return thi_diag_set(d, TH_EINVAL, "create %s: global name is empty, "
                            "over 255 bytes or has control characters",
                            class_name);
    /* Thespian looks a global name up first: the running actor is the
     * answer whatever class or requirements this call names */
    if (gname && th_system_lookup_name(sys, gname, out) == 0)
        return 0;
    thi_slot_t *parent_slot =
        (ctx && ctx->slot && !gname) ? ctx->slot : sys->root;
    if (parent_slot != sys->root && (parent_slot->flags & THI_SLOT_EXITING))
        return thi_diag_set(d, TH_ECLOSED, "create %s: the parent is "
                            "exiting", class_name);
    /* inside an actor, PLUGIN.CLASS means its own source's first */
    const thi_class_t *own =
        (ctx && ctx->slot && ctx->slot->kind == THI_SLOT_ACTOR)
            ? atomic_load_explicit(&ctx->slot->cls, memory_order_relaxed)
            : NULL;
    const thi_class_t *cls;
    int rc = thi_class_provider.resolve(sys, class_name, own ? own->source : NULL, hash,
                               &cls, d);
    if (rc != 0) {
        thi_log(TH_LOG_INFO, NULL, "create %s: %s", class_name, d->msg);
        return rc;
    }
    thi_start_extra_t *x = NULL;
    rc = create_extra(sys, ctx, parent_slot, class_name, opts, &x, d);
    /* admit only where the class or an extra brings something */
    uint32_t asks = thi_class_features(cls);
    for (unsigned i = 0; x && i < thi_n_features; i++)
        if (x->feat[i])
            asks |= 1u << i;
    for (unsigned i = 0; asks && i < thi_n_features && rc == 0; i++)
        if ((asks & (1u << i)) && thi_features[i]->admit &&
            (rc = thi_features[i]->admit(sys, cls, x ? x->feat[i] : NULL,
                                         d)) != 0)
            thi_log(TH_LOG_INFO, NULL, "create %s: %s", class_name, d->msg);
    if (rc != 0) {
        thi_start_extra_free(x);
        thi_class_put_source(sys, cls);
        return rc;
    }
    rc = create_slot(sys, ctx, out, cls, gname, parent_slot, x);
    if (rc != 0)
        thi_class_put_source(sys, cls);
    return rc;
}

int
thi_create_resolved(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
                    const thi_class_t *cls, thi_slot_t *parent_slot,
                    thi_start_extra_t *x)
{
    int rc = create_slot(sys, ctx, out, cls, NULL, parent_slot, x);
    if (rc != 0)
        thi_class_put_source(sys, cls);
    return rc;
}

#ifdef THI_FAULT_INJECTION
_Atomic int thi_fault_start_fail;
_Atomic int thi_fault_finalize_delay_ms;
#endif

/* The rest of thi_create, once the class is resolved (and its source
 * held). Everything that can fail is allocated first; the global name is
 * published only once START is queued, so a send by name always lands
 * behind START. On failure everything done is undone and the caller still
 * owns the source hold (it releases it, once). */
static int
create_slot(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
            const thi_class_t *cls, const char *gname, thi_slot_t *parent_slot,
            thi_start_extra_t *x)
{
    th_addr_t parent, root;
    thi_slot_addr(sys, parent_slot, parent_slot->live_nonce, &parent);
    thi_slot_addr(sys, sys->root, sys->root->live_nonce, &root);
    /* the root's children belong to the root's context: from elsewhere
     * the registration is a message to it */
    bool via_root = parent_slot == sys->root && !(ctx && ctx->slot == sys->root);

    int rc = TH_ENOMEM;
    thi_slot_t *slot = NULL;
    char *name_copy = NULL;
    thi_name_ent_t *ent = NULL;
    thi_env_t *start = thi_env_alloc();
    thi_env_t *add = via_root ? thi_env_alloc() : NULL;
    if (start)
        memset(start, 0, sizeof *start);
    if (add)
        memset(add, 0, sizeof *add);
    if (gname) {
        size_t nl = strlen(gname);
        name_copy = strdup(gname);
        if ((ent = malloc(sizeof *ent + nl + 1)) != NULL)
            memcpy(ent->name, gname, nl + 1);
    }
    if (start == NULL || (via_root && add == NULL) ||
        (gname && (name_copy == NULL || ent == NULL)))
        goto fail;
    if (gname) {
        /* held until the name is published: one actor per name, always */
        pthread_mutex_lock(&sys->names_lock);
        for (thi_name_ent_t *e = sys->names[thi_names_bucket(gname)]; e;
             e = e->next)
            if (strcmp(e->name, gname) == 0 && thi_addr_live(sys, &e->addr)) {
                *out = e->addr;
                pthread_mutex_unlock(&sys->names_lock);
                thi_class_put_source(sys, cls); /* no new actor */
                rc = 0;
                goto fail;
            }
    }
    rc = thi_slot_alloc(sys, &slot, THI_SLOT_ACTOR);
    if (rc != 0)
        goto fail_locked;
    uint64_t nonce = atomic_load(&slot->nonce);
    thi_slot_addr(sys, slot, nonce, out);
    /* visible to status from creation on; the old incarnation cleared it
     * before the slot reached the free list */
    atomic_store_explicit(&slot->cls, cls, memory_order_release);
    atomic_fetch_add_explicit(&sys->live_actors, 1, memory_order_relaxed);

    /* Track the child before it can start: its ChildActorExited then can
     * never overtake the registration. */
    if (via_root) {
        thi_env_fill_internal(add, THI_ENV_ADD_CHILD, out, sizeof *out);
        rc = thi_deliver(sys, &root, add); /* a system message: consumed */
        add = NULL;
    } else {
        rc = thi_children_add(&parent_slot->children, slot, nonce);
    }
    if (rc != 0)
        goto fail_slot;
    thi_start_args_t a = {cls, parent, name_copy, x};
    thi_env_fill_internal(start, THI_ENV_START, &a, sizeof a);
#ifdef THI_FAULT_INJECTION
    if (atomic_exchange(&thi_fault_start_fail, 0))
        rc = TH_ENOMEM;
    else
#endif
        rc = thi_deliver(sys, out, start);
    if (rc != 0) {
        if (rc != TH_EFULL) { /* dead-lettered: its arguments went with it */
            start = NULL;
            name_copy = NULL;
            x = NULL;
        }
        goto fail_child;
    }
    if (gname) {
        uint32_t b = thi_names_bucket(gname);
        ent->addr = *out;
        ent->next = sys->names[b];
        sys->names[b] = ent;
        pthread_mutex_unlock(&sys->names_lock);
    }
    return 0;

fail_child:
    if (via_root) /* what the root does when a child exits */
        thi_send_system(sys, out, &root, TH_MSG_CHILD_EXITED, "{}", 2);
    else
        thi_children_remove(parent_slot->children, slot, nonce);
fail_slot:
    atomic_store_explicit(&slot->cls, NULL, memory_order_release);
    atomic_fetch_sub_explicit(&sys->live_actors, 1, memory_order_relaxed);
    thi_slot_release(sys, slot);
    thi_log(TH_LOG_ERROR, out, "could not start actor %s: %s", cls->qname,
            th_strerror(rc));
fail_locked:
    if (gname)
        pthread_mutex_unlock(&sys->names_lock);
fail:
    free(name_copy);
    free(ent);
    if (start)
        thi_env_free(start);
    if (add)
        thi_env_free(add);
    thi_start_extra_free(x);
    return rc;
}

