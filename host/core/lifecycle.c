/*
 * host/core/lifecycle.c — an incarnation's life in its own context: start (extras, init),
 * restart, PoisonMessage, exit (children first), finalize, ChildActorExited,
 * and the actor's status.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/log.h"
#include "host/core/provider.h"
#include "host/core/core_int.h"
#include "proto/wire.h"
#ifdef THI_FAULT_INJECTION
#include <unistd.h>
#endif

/* ---- Running an actor ------------------------------------------------------------------- */

void
thi_self_addr(th_ctx_t *ctx, thi_slot_t *slot, th_addr_t *out)
{
    thi_slot_addr(ctx->sys, slot, slot->live_nonce, out);
}

static int
start_instance(th_ctx_t *ctx, thi_slot_t *slot)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    if (cls->state_size && slot->state == NULL) {
        slot->state = calloc(1, cls->state_size);
        if (slot->state == NULL)
            return TH_ENOMEM;
    } else if (cls->state_size) {
        memset(slot->state, 0, cls->state_size);
    }
    slot->become = NULL;
    if (cls->init == NULL)
        return 0;
    ctx->cur = NULL;
    ctx->callback_hook = false;
    atomic_store_explicit(&ctx->busy_what, "init", memory_order_relaxed);
    int rc = cls->init(ctx, slot->state);
    atomic_store_explicit(&ctx->busy_what, NULL, memory_order_relaxed);
    thi_features_after_callback(ctx, slot); /* init may start a watch */
    return rc < 0 ? rc : 0;
}

/* Move the creator's extras into the features' state of the new
 * incarnation; every feature takes its part (freeing it on failure), the
 * first error is the answer. */
static int
start_extras(th_ctx_t *ctx, thi_slot_t *slot, thi_start_extra_t *x)
{
    int rc = 0;
    for (unsigned i = 0; i < thi_n_features; i++) {
        const thi_feature_t *f = thi_features[i];
        void *part = x ? x->feat[i] : NULL;
        if (x)
            x->feat[i] = NULL;
        if (f->take) {
            int r = f->take(ctx, slot, part);
            if (rc == 0)
                rc = r;
        } else if (part) {
            f->extra_free(part);
        }
    }
    free(x);
    return rc;
}

/* `on`: the features that apply to this actor (feature.h) */
static bool
features_run_no_code(const thi_slot_t *slot, uint32_t on)
{
    for (unsigned i = 0; i < thi_n_features; i++)
        if ((on & (1u << i)) && thi_features[i]->runs_no_code &&
            thi_features[i]->runs_no_code(slot))
            return true;
    return false;
}

static int
features_started(th_ctx_t *ctx, thi_slot_t *slot, uint32_t on)
{
    int rc = 0;
    for (unsigned i = 0; i < thi_n_features && rc == 0; i++)
        if ((on & (1u << i)) && thi_features[i]->started)
            rc = thi_features[i]->started(ctx, slot);
    return rc;
}

void
thi_handle_start(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    thi_start_args_t a;
    memcpy(&a, env->in.bytes, sizeof a);
    memset(env->in.bytes, 0, sizeof a); /* taken */
    slot->live_nonce = env->target_nonce;
    slot->parent = a.parent;
    slot->u.name = a.name;
    slot->flags = 0;
    slot->n_restarts = 0;
    slot->started_ns = thi_now_ns();
    atomic_store_explicit(&slot->cls, a.cls, memory_order_release);
    int rc = 0;
    /* a plain actor (no extras, a class no feature wants) skips every
     * feature hook */
    uint32_t on = thi_class_features(a.cls);
    if (a.x || on) {
        rc = start_extras(ctx, slot, a.x);
        on |= thi_slot_features(slot);
    }
    /* e.g. a troupe's leader only routes: none of the class's code runs */
    if (rc == 0 && on && features_run_no_code(slot, on))
        slot->flags |= THI_SLOT_NOTEARDOWN | THI_SLOT_NOCODE;
    else if (rc == 0)
        rc = start_instance(ctx, slot);
    if (rc == 0 && (on || slot->ext)) /* init may have made some state */
        rc = features_started(ctx, slot, on | thi_slot_features(slot));
    if (rc != 0) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_log(TH_LOG_ERROR, &self, "actor %s failed to start: %s",
                a.cls->qname, th_strerror(rc));
        /* init cleans up after itself when it fails: no teardown; children
         * it made before failing exit first */
        slot->flags |= THI_SLOT_NOTEARDOWN;
        thi_begin_exit(ctx, slot, true);
    }
}

void
thi_send_poison(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env,
                const char *details)
{
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    if (env->msg.type == thi_t_poison->name) {
        /* no recursion on PoisonMessage (Thespian's rule): two actors that
         * fail on everything would otherwise bounce it for ever */
        thi_log(TH_LOG_WARNING, &self,
                "handling a PoisonMessage failed (%s); not returned",
                details);
        return;
    }
    char *body = thi_wrap_message_json(env, details, &self);
    if (body == NULL)
        return;
    if (th_addr_is_null(&env->msg.sender)) {
        /* nobody to return it to: a dead letter, so dead-letter handlers
         * see it (a DeadEnvelope wrapping the PoisonMessage) */
        thi_env_t *pm;
        if (thi_env_new(&pm, thi_t_poison, body, strlen(body)) == 0) {
            pm->system = 1;
            pm->msg.sender = self;
            thi_dead_letter(ctx->sys, pm, &env->msg.sender,
                            "PoisonMessage for a message sent from outside "
                            "the actors (no sender to return it to)");
        }
    } else {
        thi_send_system(ctx->sys, &self, &env->msg.sender, TH_MSG_POISON,
                        body, strlen(body));
    }
    free(body);
}

int
thi_actor_restart(th_ctx_t *ctx, thi_slot_t *slot)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    if (cls->teardown)
        cls->teardown(ctx, slot->state);
    slot->n_restarts++;
    int rc = start_instance(ctx, slot);
    if (rc != 0) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_log(TH_LOG_ERROR, &self, "actor %s failed to restart: %s",
                cls->qname, th_strerror(rc));
        slot->flags |= THI_SLOT_NOTEARDOWN;
        thi_begin_exit(ctx, slot, true);
    }
    return rc;
}

void
thi_actor_exit(th_ctx_t *ctx, thi_slot_t *slot, bool recursive)
{
    thi_begin_exit(ctx, slot, recursive);
}

static void
send_child_exited(th_ctx_t *ctx, thi_slot_t *slot)
{
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    char body[TH_ADDR_STRLEN + 32], a[TH_ADDR_STRLEN];
    thi_wire_addr_format(&self, a, sizeof a);
    int n = snprintf(body, sizeof body, "{\"childAddress\":\"%s\"}", a);
    thi_send_system(ctx->sys, &self, &slot->parent, TH_MSG_CHILD_EXITED, body,
                    (size_t)n);
}

void
thi_finalize(th_ctx_t *ctx, thi_slot_t *slot)
{
    struct th_system *sys = ctx->sys;
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    if (cls->teardown && !(slot->flags & THI_SLOT_NOTEARDOWN)) {
        atomic_store_explicit(&ctx->busy_what, "teardown",
                              memory_order_relaxed);
        cls->teardown(ctx, slot->state);
        atomic_store_explicit(&ctx->busy_what, NULL, memory_order_relaxed);
    }
    free(slot->state);
    slot->state = NULL;
    if (slot->u.name) {
        thi_names_remove(sys, slot->u.name, &self);
        free(slot->u.name);
        slot->u.name = NULL;
    }
    thi_dead_letters_forget(sys, slot);
    if (slot->ext) {
        for (unsigned i = 0; i < thi_n_features; i++)
            if (slot->ext->feat[i] && thi_features[i]->slot_fini)
                thi_features[i]->slot_fini(ctx, slot);
        free(slot->ext);
        slot->ext = NULL;
    }
    send_child_exited(ctx, slot);
    thi_children_free(slot->children);
    slot->children = NULL;
    slot->live_nonce = 0;
    slot->become = NULL;
    slot->flags = 0;
#ifdef THI_FAULT_INJECTION
    /* widens the window in which a status reader could still see the
     * class: the source must stay held through it */
    if (atomic_load(&thi_fault_finalize_delay_ms) > 0)
        usleep((useconds_t)atomic_load(&thi_fault_finalize_delay_ms) * 1000);
#endif
    atomic_store_explicit(&slot->cls, NULL, memory_order_release);
    atomic_fetch_sub_explicit(&sys->live_actors, 1, memory_order_relaxed);
    thi_slot_release(sys, slot);
    /* last: nothing of this actor refers to its class any more (status
     * readers see cls NULL first), so its source may be unmapped now */
    thi_class_put_source(sys, cls);
}

void
thi_begin_exit(th_ctx_t *ctx, thi_slot_t *slot, bool recursive)
{
    if (slot->flags & THI_SLOT_EXITING)
        return;
    slot->flags |= THI_SLOT_EXITING;
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    uint32_t n = 0;
    struct thi_child_ent *v = thi_children_sorted(slot->children, &n);
    if (n) {
        for (uint32_t i = 0; i < n; i++) {
            th_addr_t child;
            thi_slot_addr(ctx->sys, v[i].slot, v[i].nonce, &child);
            if (recursive) {
                thi_send_system(ctx->sys, &self, &child, TH_MSG_EXIT_REQUEST,
                                "", 0);
            } else {
                /* the system adopts it: it reports its exit there */
                thi_push_op(ctx->sys, ctx->sys->root, THI_ENV_ADD_CHILD, &child);
                th_addr_t root;
                thi_slot_addr(ctx->sys, ctx->sys->root,
                              ctx->sys->root->live_nonce, &root);
                thi_send_internal(ctx->sys, &child, THI_ENV_REPARENT, &root,
                              sizeof root, NULL, 0);
            }
        }
        if (!recursive) {
            thi_children_free(slot->children);
            slot->children = NULL;
        }
    }
    free(v);
    if (thi_children_count(slot->children) == 0)
        thi_finalize(ctx, slot);
}

bool
thi_exit_is_recursive(const thi_env_t *env)
{
    if (env->msg.len == 0 ||
        (env->msg.len == 2 && memcmp(env->msg.data, "{}", 2) == 0))
        return true; /* the common bodies, without a JSON parse */
    json_t *o = json_loadb(env->msg.data, env->msg.len, 0, NULL);
    bool rec = true;
    if (json_is_object(o) && json_is_true(json_object_get(o, "notRecursive")))
        rec = false;
    json_decref(o);
    return rec;
}

/* Another thread's view of a slot's class: read under classes_lock, which
 * unmapping a source takes to free its classes, and finalize clears cls
 * before it releases the source. "" when the slot holds no actor. */
void
thi_slot_qname(struct th_system *sys, thi_slot_t *slot, char *buf,
               size_t size)
{
    pthread_mutex_lock(&sys->classes_lock);
    const thi_class_t *cls = atomic_load(&slot->cls);
    snprintf(buf, size, "%s", cls ? cls->qname : "");
    pthread_mutex_unlock(&sys->classes_lock);
}

void
thi_actor_status(struct th_system *sys, thi_slot_t *slot, uint32_t in_turn,
                 json_t *into)
{
    char a[TH_ADDR_STRLEN];
    th_addr_t self;
    thi_slot_addr(sys, slot, atomic_load(&slot->nonce), &self);
    thi_wire_addr_format(&self, a, sizeof a);
    json_object_set_new(into, "address", json_string(a));
    /* copied under classes_lock, which the unmap takes to free a class: the
     * source it runs from tells status readers which version an actor is */
    char qname[sizeof ((thi_class_t *)0)->qname], source[65] = "";
    pthread_mutex_lock(&sys->classes_lock);
    const thi_class_t *cls = atomic_load(&slot->cls);
    snprintf(qname, sizeof qname, "%s", cls ? cls->qname : "");
    if (cls && cls->source)
        snprintf(source, sizeof source, "%s", thi_class_provider.hash(cls->source));
    pthread_mutex_unlock(&sys->classes_lock);
    json_object_set_new(into, "class", json_string(qname));
    if (source[0])
        json_object_set_new(into, "source", json_string(source));
    /* processed is published once per turn: discount this turn's part */
    uint64_t depth = atomic_load(&slot->pushed) -
                     atomic_load(&slot->processed) - in_turn;
    json_object_set_new(into, "mailbox", json_integer((json_int_t)depth));
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->status)
            thi_features[i]->status(sys, slot, &self, into);
}

void
thi_reply_actor_status(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    json_t *o = json_object();
    thi_actor_status(ctx->sys, slot, ctx->popped, o);
    char a[TH_ADDR_STRLEN];
    thi_wire_addr_format(&slot->parent, a, sizeof a);
    json_object_set_new(o, "parent", json_string(a));
    if (slot->u.name)
        json_object_set_new(o, "name", json_string(slot->u.name));
    json_object_set_new(o, "children",
                        json_integer(thi_children_count(slot->children)));
    json_object_set_new(o, "restarts", json_integer(slot->n_restarts));
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->self_status && thi_slot_feat(slot, i))
            thi_features[i]->self_status(ctx, slot, o);
    json_object_set_new(o, "processed", json_integer((json_int_t)
        atomic_load(&slot->processed)));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_send_system(ctx->sys, &self, &env->msg.sender,
                        TH_MSG_ACTOR_STATUS, text, strlen(text));
        free(text);
    }
}

