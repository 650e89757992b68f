/*
 * host/core/root.c — the root: the system actor, parent of top-level actors; shutdown
 * and the report of actors still running.
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

static pthread_once_t types_once = PTHREAD_ONCE_INIT;

/* ---- Root: the system actor ----------------------------------------------------- */

static void
root_check_done(struct th_system *sys, thi_slot_t *root)
{
    if ((root->flags & THI_SLOT_STOPPING) && thi_children_count(root->children) == 0) {
        pthread_mutex_lock(&sys->state_lock);
        sys->root_done = true;
        pthread_cond_broadcast(&sys->state_cond);
        pthread_mutex_unlock(&sys->state_lock);
    }
}

void
thi_root_handle(th_ctx_t *ctx, thi_slot_t *root, thi_env_t *env)
{
    struct th_system *sys = ctx->sys;
    th_addr_t self;
    thi_self_addr(ctx, root, &self);
    switch (env->kind) {
    case THI_ENV_ADD_CHILD: {
        th_addr_t child;
        memcpy(&child, env->in.bytes, sizeof child);
        thi_slot_t *cs = thi_slot_get(sys, child.opaque[1]);
        if (cs != NULL)
            thi_children_add(&root->children, cs, child.opaque[2]);
        if (cs != NULL && (root->flags & THI_SLOT_STOPPING))
            thi_send_system(sys, &self, &child, TH_MSG_EXIT_REQUEST, "", 0);
        thi_env_free(env);
        return;
    }
    case THI_ENV_SHUTDOWN: {
        if (root->flags & THI_SLOT_STOPPING)
            return;
        root->flags |= THI_SLOT_STOPPING;
        uint32_t n = 0;
        struct thi_child_ent *v = thi_children_sorted(root->children, &n);
        for (uint32_t i = 0; i < n; i++) {
            th_addr_t child;
            thi_slot_addr(sys, v[i].slot, v[i].nonce, &child);
            thi_send_system(sys, &self, &child, TH_MSG_EXIT_REQUEST, "", 0);
        }
        free(v);
        root_check_done(sys, root);
        thi_env_free(env);
        return;
    }
    case THI_ENV_UNMAP: {
        thi_source_t *src;
        memcpy(&src, env->in.bytes, sizeof src);
        thi_class_provider.unmap(sys, src);
        thi_env_free(env);
        return;
    }
    case THI_ENV_USER:
        break;
    default:
        thi_env_free(env);
        return;
    }
    if (env->msg.type == thi_t_child_exited->name && env->system) {
        thi_children_remove(root->children,
                        thi_slot_get(sys, env->msg.sender.opaque[1]),
                        env->msg.sender.opaque[2]);
        root_check_done(sys, root);
    } else if (env->msg.type == thi_t_status_req->name) {
        char *text = NULL;
        if (th_system_status_json(sys, &text) == 0) {
            thi_send_system(sys, &self, &env->msg.sender,
                            TH_MSG_SYSTEM_STATUS, text, strlen(text));
            free(text);
        }
    } else if (env->msg.type == thi_t_validated->name) {
        thi_class_provider.validated(sys, env);
    } else if (strcmp(env->msg.type, TH_MSG_ACTIVATED_SOURCE) == 0) {
        thi_class_provider.activated(sys, env); /* the Director's, or ignored */
    } else if (env->msg.type == thi_t_exit->name) {
        thi_request_shutdown(sys);
    } else {
        thi_dead_letter(sys, env, &self, "the system handles no such message");
        return;
    }
    thi_env_free(env);
}

void
thi_root_init(struct th_system *sys)
{
    pthread_once(&types_once, thi_core_types_init);
    thi_slot_t *root = NULL;
    thi_slot_alloc(sys, &root, THI_SLOT_ROOT);
    root->live_nonce = atomic_load(&root->nonce);
    sys->root = root;
}

void
thi_request_shutdown(struct th_system *sys)
{
    if (atomic_exchange(&sys->stopping, true))
        return;
    atomic_store(&sys->stop_began_ns, thi_now_ns());
    pthread_mutex_lock(&sys->state_lock);
    pthread_cond_broadcast(&sys->state_cond);
    pthread_mutex_unlock(&sys->state_lock);
    thi_push_op(sys, sys->root, THI_ENV_SHUTDOWN, NULL);
}

size_t
thi_report_running(struct th_system *sys)
{
    enum { MAX_LINES = 50 };
    size_t n_left = 0;
    uint32_t n = atomic_load(&sys->n_slots);
    for (uint32_t id = 0; id < n; id++) {
        thi_slot_t *slot = thi_slot_get(sys, id);
        if (slot->kind != THI_SLOT_ACTOR || atomic_load(&slot->cls) == NULL)
            continue;
        if (n_left++ >= MAX_LINES)
            continue;
        char a[TH_ADDR_STRLEN], qname[sizeof ((thi_class_t *)0)->qname];
        th_addr_t self;
        thi_slot_addr(sys, slot, atomic_load(&slot->nonce), &self);
        thi_wire_addr_format(&self, a, sizeof a);
        thi_slot_qname(sys, slot, qname, sizeof qname);
        const char *what = thi_sched_busy(sys->sched, slot);
        uint64_t depth = atomic_load(&slot->pushed) -
                         atomic_load(&slot->processed);
        bool cb = what && (!strcmp(what, "init") ||
                           !strcmp(what, "teardown"));
        if (what && what[0])
            thi_log(TH_LOG_ERROR, &self,
                    "shutdown: actor %s (%s) still running: its %s%s%s has "
                    "not returned", a, qname, cb ? "" : "handler for ",
                    what, cb ? " callback" : "");
        else
            thi_log(TH_LOG_ERROR, &self,
                    "shutdown: actor %s (%s) still running: %s; about %llu "
                    "message(s) queued", a, qname,
                    what ? "a worker runs it between callbacks"
                         : "not in a callback",
                    (unsigned long long)depth);
    }
    if (n_left > MAX_LINES)
        thi_log(TH_LOG_ERROR, NULL, "shutdown: and %zu more actor(s) still "
                "running", n_left - MAX_LINES);
    return n_left;
}

