/*
 * host/core/deadletter.c — dead letters: counted, forwarded to registered handlers as
 * DeadEnvelope, else logged (rate-limited).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/log.h"
#include "host/core/core_int.h"
#include "proto/wire.h"

/* ---- Dead letters ------------------------------------------------------------------- */

static void
log_dead_letter(struct th_system *sys, const thi_env_t *env,
                const th_addr_t *target, const char *why)
{
    /* at most ~20 lines a second: a flood must not become a log flood */
    static _Atomic int64_t window;
    static atomic_int in_window;
    int64_t now_s = thi_now_ns() / 1000000000;
    int64_t w = atomic_load_explicit(&window, memory_order_relaxed);
    if (w != now_s &&
        atomic_compare_exchange_strong(&window, &w, now_s))
        atomic_store(&in_window, 0);
    if (atomic_fetch_add(&in_window, 1) >= 20)
        return;
    char to[TH_ADDR_STRLEN], from[TH_ADDR_STRLEN];
    thi_wire_addr_format(target, to, sizeof to);
    thi_wire_addr_format(&env->msg.sender, from, sizeof from);
    thi_log(TH_LOG_WARNING, NULL, "dead letter: %s from %s to %s (%s)",
            env->msg.type, from, to, why);
    (void)sys;
}

void
thi_dead_letter(struct th_system *sys, thi_env_t *env,
                const th_addr_t *target, const char *why)
{
    if (env->kind != THI_ENV_USER) {
        thi_env_args_free(env);
        thi_env_free(env);
        return;
    }
    /* An orphan adopted by the system may report to its old parent, which
     * is gone: the system is then the one that must hear it. */
    if (env->system && env->msg.type == thi_t_child_exited->name &&
        !(target->opaque[0] == sys->id &&
          target->opaque[1] == sys->root->id)) {
        th_addr_t root;
        thi_slot_addr(sys, sys->root, sys->root->live_nonce, &root);
        thi_deliver(sys, &root, env);
        return;
    }
    atomic_fetch_add_explicit(&sys->dead_letters, 1, memory_order_relaxed);
    /* never wrap a DeadEnvelope again: a dead handler must not loop */
    bool forward = env->msg.type != thi_t_dead_envelope->name;
    /* every registered handler gets it (a copy of the list: sending to a
     * handler that died meanwhile re-enters here, which takes dl_lock) */
    th_addr_t *handlers = NULL;
    size_t n = 0;
    if (forward) {
        pthread_mutex_lock(&sys->dl_lock);
        handlers = thi_notify_copy(&sys->dl_handlers, &n);
        pthread_mutex_unlock(&sys->dl_lock); /* n = 0 on ENOMEM: logged */
    }
    if (n == 0) {
        log_dead_letter(sys, env, target, why);
        thi_env_free(env);
        return;
    }
    char *body = thi_wrap_message_json(env, why, target);
    for (size_t i = 0; body && i < n; i++)
        thi_send_system(sys, target, &handlers[i], TH_MSG_DEAD_ENVELOPE, body,
                        strlen(body));
    free(body);
    free(handlers);
    thi_env_free(env);
}

int
thi_dead_letters_handle(struct th_system *sys, thi_slot_t *slot, bool on)
{
    th_addr_t self;
    thi_slot_addr(sys, slot, slot->live_nonce, &self);
    int rc = 0;
    pthread_mutex_lock(&sys->dl_lock);
    if (on && (rc = thi_notify_add(&sys->dl_handlers, &self)) == 0)
        slot->flags |= THI_SLOT_DEADLETTERS;
    else if (!on && thi_notify_remove(&sys->dl_handlers, &self))
        slot->flags &= ~THI_SLOT_DEADLETTERS;
    pthread_mutex_unlock(&sys->dl_lock);
    return rc;
}

void
thi_dead_letters_forget(struct th_system *sys, thi_slot_t *slot)
{
    if (!(slot->flags & THI_SLOT_DEADLETTERS))
        return;
    th_addr_t self;
    thi_slot_addr(sys, slot, slot->live_nonce, &self);
    pthread_mutex_lock(&sys->dl_lock);
    thi_notify_remove(&sys->dl_handlers, &self);
    pthread_mutex_unlock(&sys->dl_lock);
}
