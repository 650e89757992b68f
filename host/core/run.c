/*
 * host/core/run.c — the run loop: a turn of a scheduled slot, each message routed
 * by kind and type to the runtime or to the actor's handlers (the hot path:
 * invoke and process stay in one file so they inline).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/log.h"
#include "host/core/core_int.h"
#include "host/core/mailbox.h"

/* The feature that alone sends system messages of `type` (interned), or
 * NULL. Only for system messages: user messages never pay for it. */
static const thi_feature_t *
owner_of(const char *type)
{
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->own_type && thi_own_types[i] == type)
            return thi_features[i];
    return NULL;
}

static __attribute__((noinline)) bool
route(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->route && thi_features[i]->route(ctx, slot, env))
            return true;
    return false;
}

static __attribute__((noinline)) void
delivered(th_ctx_t *ctx, thi_slot_t *slot, const thi_env_t *env)
{
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->delivered)
            thi_features[i]->delivered(ctx, slot, env);
}

static const char *
fail_text(th_ctx_t *ctx, int rc)
{
    return ctx->failed_reason_set ? ctx->fail_reason : th_strerror(rc);
}

static int
invoke(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    ctx->cur = env;
    ctx->failed_reason_set = false;
    ctx->fail_reason[0] = '\0';
    ctx->callback_hook = false;
    /* interned names live as long as the process; a carried one is
     * copied (rare: a type no loaded class names) */
    const char *what = env->msg.type;
    if (__builtin_expect(env->type_owned, 0)) {
        size_t n = strnlen(what, sizeof ctx->busy_type - 1);
        memcpy(ctx->busy_type, what, n);
        ctx->busy_type[n] = '\0';
        what = ctx->busy_type;
    }
    atomic_store_explicit(&ctx->busy_what, what, memory_order_release);
    int rc = 0;
    if (slot->become) {
        rc = slot->become(ctx, slot->state, &env->msg);
    } else {
        bool handled = false;
        const char *mt = env->msg.type;
        if (__builtin_expect(env->type_owned, 0)) {
            /* a carried name: a class loaded since it was sent may have
             * interned it; dispatch compares interned pointers */
            const thi_type_t *it;
            if (thi_type_lookup(&it, mt) == 0)
                mt = it->name;
        }
        for (uint32_t i = 0; i < cls->n_dispatch; i++) {
            const thi_type_t *t = cls->dispatch_types[i];
            if (t != NULL && t->name != mt)
                continue;
            rc = cls->dispatch[i].handler(ctx, slot->state, &env->msg);
            if (rc != TH_SUPER) {
                handled = true;
                break;
            }
        }
        if (!handled)
            rc = cls->receive ? cls->receive(ctx, slot->state, &env->msg) : 0;
    }
    /* it sees ctx->cur: e.g. a WatchMessage handled re-arms its fds */
    thi_features_after_callback(ctx, slot);
    ctx->cur = NULL;
    atomic_store_explicit(&ctx->busy_what, NULL, memory_order_relaxed);
    return rc == TH_SUPER ? 0 : rc;
}

/* Thespian's rule: a failing message is retried once on the same actor,
 * its state as the first attempt left it; failing again, it goes back to
 * its sender as PoisonMessage and the actor goes on with its next message.
 * (A fresh-state restart is a supervision directive, docs/supervision.md.)
 * Out of line (and its 300-byte buffer with it), so that the path of every
 * message, deliver_user, stays small enough to inline. */
static __attribute__((noinline, cold)) void
user_failed(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env, int rc)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    char why[300];
    snprintf(why, sizeof why, "%s", fail_text(ctx, rc));
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->failed && thi_slot_feat(slot, i) &&
            thi_features[i]->failed(ctx, slot, env, why))
            return; /* e.g. the parent chose a supervision strategy */
    thi_log(TH_LOG_WARNING, &self,
            "actor %s failed on %s: %s; retrying once", cls->qname,
            env->msg.type, why);
    rc = invoke(ctx, slot, env);
    if (rc >= 0)
        return;
    snprintf(why, sizeof why, "%s", fail_text(ctx, rc));
    thi_log(TH_LOG_WARNING, &self,
            "actor %s failed on %s again: %s; returned as PoisonMessage",
            cls->qname, env->msg.type, why);
    thi_send_poison(ctx, slot, env, why);
}

static inline void
deliver_user(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    int rc = invoke(ctx, slot, env);
    if (__builtin_expect(rc < 0, 0))
        user_failed(ctx, slot, env, rc);
}
/* ---- The run loop -------------------------------------------------------------------- */

/* Sent to an incarnation that is gone: true when env was consumed. */
static inline bool
stale(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    if (__builtin_expect(slot->live_nonce != 0 &&
                             env->target_nonce == slot->live_nonce, 1))
        return false;
    if (env->system && owner_of(env->msg.type) != NULL) {
        thi_env_free(env); /* e.g. its timer ended with the actor */
        return true;
    }
    /* the address it was sent to: made only for a dead letter, not on
     * every message */
    th_addr_t self;
    thi_slot_addr(ctx->sys, slot, env->target_nonce, &self);
    thi_dead_letter(ctx->sys, env, &self, "actor has exited");
    return true;
}

/* The runtime's own envelopes (every kind but THI_ENV_USER): out of the
 * user messages' path, which then tests the kind once. */
static __attribute__((noinline)) void
process_internal(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    if (env->kind == THI_ENV_START) {
        thi_handle_start(ctx, slot, env);
        thi_env_free(env);
        return;
    }
    if (stale(ctx, slot, env))
        return;
    if (env->kind == THI_ENV_REPARENT) {
        memcpy(&slot->parent, env->in.bytes, sizeof slot->parent);
        thi_env_free(env);
        return;
    }
    if (env->kind == THI_ENV_START_PROBE) { /* START is handled by now */
        thi_start_wait_t *w;
        memcpy(&w, env->in.bytes, sizeof w);
        thi_start_wait_answer(w, !(slot->flags & THI_SLOT_EXITING));
        thi_env_free(env);
        return;
    }
    if (env->kind == THI_ENV_HANDOFF || env->kind == THI_ENV_IMPORT) {
        if (!(slot->flags & THI_SLOT_EXITING)) {
            if (env->kind == THI_ENV_HANDOFF)
                thi_handle_handoff(ctx, slot, env);
            else
                thi_handle_import(ctx, slot, env);
        }
        thi_env_free(env);
        return;
    }
    if (env->kind == THI_ENV_OP) {
        if (!(slot->flags & THI_SLOT_EXITING)) {
            thi_op_fn fn;
            memcpy(&fn, env->in.bytes, sizeof fn);
            fn(ctx, slot, env);
        }
        thi_env_free(env);
        return;
    }
    thi_env_free(env);
}

static void
process(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    struct th_system *sys = ctx->sys;
    if (slot->kind == THI_SLOT_ROOT) {
        thi_root_handle(ctx, slot, env); /* consumes env */
        return;
    }
    if (__builtin_expect(env->kind != THI_ENV_USER, 0)) {
        process_internal(ctx, slot, env);
        return;
    }
    if (stale(ctx, slot, env))
        return;
    th_addr_t self;
    const char *type = env->msg.type;
    const thi_feature_t *owner;
    /* handed over: the new holder answers; the runtime's own messages are
     * still this actor's */
    thi_slot_ext_t *ext = slot->ext;
    if (ext && ext->forwarding && !env->system && type != thi_t_exit->name &&
        type != thi_t_status_req->name) {
        int rc = thi_deliver(sys, &ext->forward, env);
        if (rc == TH_EFULL)
            thi_dead_letter(sys, env, &ext->forward,
                            "new holder's mailbox full");
        return;
    }
    if (type == thi_t_child_exited->name && env->system) {
        thi_children_remove(slot->children,
                        thi_slot_get(sys, env->msg.sender.opaque[1]),
                        env->msg.sender.opaque[2]);
        if (slot->flags & THI_SLOT_EXITING) {
            if (thi_children_count(slot->children) == 0)
                thi_finalize(ctx, slot);
            thi_env_free(env);
            return;
        }
    } else if (env->system && (owner = owner_of(type)) != NULL &&
               (!owner->accept(ctx, slot, env) ||
                (slot->flags & THI_SLOT_EXITING))) {
        /* e.g. its timer was cancelled after it was sent, or ends with
         * the actor now: no dead letter */
        ctx->msg_tag = 0;
        thi_env_free(env);
        return;
    } else if (slot->flags & THI_SLOT_EXITING) {
        thi_slot_addr(sys, slot, env->target_nonce, &self);
        thi_dead_letter(sys, env, &self, "actor is exiting");
        return;
    } else if (type == thi_t_status_req->name) {
        thi_reply_actor_status(ctx, slot, env);
        thi_env_free(env);
        return;
    } else if (type == thi_t_exit->name) {
        /* the actor sees it, then exits; one that runs no code (a troupe's
         * leader) has no handler, and what it runs never outlives it */
        bool nocode = (slot->flags & THI_SLOT_NOCODE) != 0;
        if (!nocode)
            (void)invoke(ctx, slot, env);
        thi_begin_exit(ctx, slot, nocode || thi_exit_is_recursive(env));
        thi_env_free(env);
        return;
    }
    if (__builtin_expect(ext && (ext->hooks & THI_HOOK_ROUTE), 0) &&
        route(ctx, slot, env))
        return; /* e.g. a troupe's address: a member handles it */
    deliver_user(ctx, slot, env);
    ctx->msg_tag = 0;
    if (__builtin_expect(slot->ext != NULL, 0) &&
        (slot->ext->hooks & THI_HOOK_DELIVERED) &&
        !(slot->flags & THI_SLOT_EXITING))
        delivered(ctx, slot, env);
    thi_env_free(env);
}

bool
thi_slot_run(th_ctx_t *ctx, thi_slot_t *slot, uint32_t batch)
{
    ctx->slot = slot;
    atomic_store_explicit(&ctx->busy, slot, memory_order_release);
    uint64_t done = atomic_load_explicit(&slot->processed,
                                         memory_order_relaxed);
    if (ctx->worker == NULL) {
        /* synchronous mode: a turn takes only what was queued before it,
         * so an actor messaging itself yields to the others */
        uint64_t queued = atomic_load_explicit(&slot->pushed,
                                               memory_order_relaxed) -
                          done;
        if (queued < batch)
            batch = queued ? (uint32_t)queued : 1;
    }
    uint32_t n = 0;
    bool parked = false;
    while (n < batch) {
        /* a supervised child backing off before its restart: messages
         * wait; the slot stays scheduled, and a timer requeues it */
        if (__builtin_expect(slot->ext != NULL, 0) &&
            (slot->ext->hooks & THI_HOOK_HOLD)) {
            parked = true;
            break;
        }
        thi_node_t *node = thi_mq_pop(slot);
        if (node == NULL)
            break;
        if (node == &slot->stub)
            continue;
        ctx->popped = ++n;
        process(ctx, slot, (thi_env_t *)node);
    }
    /* per context, summed by th_system_stats: no line shared by workers */
    atomic_store_explicit(&ctx->messages,
                          atomic_load_explicit(&ctx->messages,
                                               memory_order_relaxed) +
                              n,
                          memory_order_relaxed);
    atomic_store_explicit(&slot->processed, done + n, memory_order_relaxed);
    atomic_store_explicit(&ctx->busy, NULL, memory_order_release);
    if (parked) {
        /* last touch: the feature may requeue it now */
        for (unsigned i = 0; i < thi_n_features; i++)
            if (thi_features[i]->held)
                thi_features[i]->held(ctx, slot);
        ctx->slot = NULL;
        return false;
    }
    ctx->slot = NULL;
    if (n == batch)
        return true;
    return !thi_mq_mark_empty(slot);
}
