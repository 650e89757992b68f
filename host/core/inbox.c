/*
 * host/core/inbox.c — inboxes: how a program outside the actors asks and
 * listens (th_inbox_*). An inbox is a slot of its own kind whose messages
 * go to a locked queue instead of a mailbox run by a worker.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/thread.h"
#include "host/core/runtime.h"
#include "host/core/core_int.h"
#include "proto/wire.h"

/* ---- Inboxes ------------------------------------------------------------------- */

struct th_inbox {
    th_system_t *sys;
    thi_slot_t *slot;
    uint64_t nonce;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    thi_env_t *head, *tail;
    bool closed;
    void (*notify)(void *arg);     /* th_inbox_set_notify; under lock */
    void *notify_arg;
};

typedef struct inmsg {
    th_inmsg_t pub;
    thi_env_t *env;
} inmsg_t;

int
th_inbox_create(th_system_t *sys, th_inbox_t **out)
{
    thi_slot_t *slot;
    int rc = thi_slot_alloc(sys, &slot, THI_SLOT_INBOX);
    if (rc != 0)
        return rc;
    th_inbox_t *in = slot->inbox;
    if (in == NULL) {
        /* one per slot, kept for the slot's lifetime: a late sender that
         * read the slot before it closed still finds a valid lock */
        in = calloc(1, sizeof *in);
        if (in == NULL) {
            thi_slot_release(sys, slot);
            return TH_ENOMEM;
        }
        in->sys = sys;
        in->slot = slot;
        pthread_mutex_init(&in->lock, NULL);
        thi_cond_init(&in->cond);
        slot->inbox = in;
    }
    pthread_mutex_lock(&in->lock);
    in->nonce = atomic_load(&slot->nonce);
    in->closed = false;
    in->notify = NULL;
    in->notify_arg = NULL;
    pthread_mutex_unlock(&in->lock);
    *out = in;
    return 0;
}

void
thi_inbox_deliver(thi_slot_t *slot, thi_env_t *env)
{
    th_inbox_t *in = slot->inbox;
    if (!thi_wire_type_passes(env->msg.type)) {
        /* runtime bookkeeping (ChildActorExited, WakeupMessage, ...) is for
         * actors: an inbox sees what a client of thespiand sees */
        thi_env_free(env);
        return;
    }
    pthread_mutex_lock(&in->lock);
    if (in->closed || in->nonce != env->target_nonce) {
        pthread_mutex_unlock(&in->lock);
        th_addr_t to;
        thi_slot_addr(in->sys, slot, env->target_nonce, &to);
        thi_dead_letter(in->sys, env, &to, "inbox closed");
        return;
    }
    atomic_store_explicit(&env->node.next, NULL, memory_order_relaxed);
    if (in->tail)
        atomic_store_explicit(&in->tail->node.next, &env->node,
                              memory_order_relaxed);
    else
        in->head = env;
    in->tail = env;
    pthread_cond_signal(&in->cond);
    /* called under the lock, so set_notify/destroy can promise that the
     * old callback has finished when they return */
    if (in->notify)
        in->notify(in->notify_arg);
    pthread_mutex_unlock(&in->lock);
}

void
th_inbox_destroy(th_inbox_t *in)
{
    if (in == NULL)
        return;
    pthread_mutex_lock(&in->lock);
    in->closed = true;
    in->notify = NULL;
    in->notify_arg = NULL;
    thi_env_t *e = in->head;
    in->head = in->tail = NULL;
    pthread_mutex_unlock(&in->lock);
    while (e) {
        thi_env_t *next = (thi_env_t *)atomic_load_explicit(
            &e->node.next, memory_order_relaxed);
        thi_env_free(e);
        e = next;
    }
    thi_slot_release(in->sys, in->slot);
}

void
thi_inbox_free(th_inbox_t *in)
{
    thi_env_t *e = in->head;
    while (e) {
        thi_env_t *next = (thi_env_t *)atomic_load_explicit(
            &e->node.next, memory_order_relaxed);
        thi_env_free(e);
        e = next;
    }
    pthread_cond_destroy(&in->cond);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

void
th_inbox_set_notify(th_inbox_t *in, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&in->lock);
    in->notify = fn;
    in->notify_arg = arg;
    pthread_mutex_unlock(&in->lock);
}

void
th_inbox_address(th_inbox_t *in, th_addr_t *out)
{
    thi_slot_addr(in->sys, in->slot, in->nonce, out);
}

int
th_inbox_send(th_inbox_t *in, const th_addr_t *to, const char *type,
              const void *data, size_t len)
{
    th_addr_t self;
    th_inbox_address(in, &self);
    return to ? thi_ran_after_send(in->sys, thi_send_user(in->sys, &self, to,
                                                      NULL, type, data, len,
                                                      THI_TYPE_OUTSIDE))
              : TH_EINVAL;
}

int
th_inbox_send_name(th_inbox_t *in, const char *name, const char *type,
                   const void *data, size_t len)
{
    th_addr_t self;
    th_inbox_address(in, &self);
    return name ? thi_ran_after_send(in->sys, thi_send_user(in->sys, &self, NULL,
                                                        name, type, data,
                                                        len, THI_TYPE_OUTSIDE))
                : TH_EINVAL;
}

static bool
inbox_ready(void *arg)
{
    th_inbox_t *in = arg;
    pthread_mutex_lock(&in->lock);
    bool ready = in->head != NULL;
    pthread_mutex_unlock(&in->lock);
    return ready;
}

int
th_inbox_recv(th_inbox_t *in, th_inmsg_t **out, int timeout_ms)
{
    if (in->sys->opts.synchronous)
        thi_sched_run_sync(in->sys, timeout_ms, inbox_ready, in);
    struct timespec ts;
    thi_deadline_after(&ts, CLOCK_MONOTONIC, timeout_ms < 0 ? 0 : timeout_ms);
    pthread_mutex_lock(&in->lock);
    /* timeout 0 polls: never sleep, not even the timer slack of a wait
     * whose deadline has passed */
    while (in->head == NULL && !in->sys->opts.synchronous &&
           timeout_ms != 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&in->cond, &in->lock);
        else if (pthread_cond_timedwait(&in->cond, &in->lock, &ts) ==
                 ETIMEDOUT)
            break;
    }
    thi_env_t *e = in->head;
    if (e) {
        in->head = (thi_env_t *)atomic_load_explicit(&e->node.next,
                                                     memory_order_relaxed);
        if (in->head == NULL)
            in->tail = NULL;
    }
    pthread_mutex_unlock(&in->lock);
    if (e == NULL)
        return TH_ETIMEDOUT;
    inmsg_t *m = malloc(sizeof *m);
    if (m == NULL) {
        thi_env_free(e);
        return TH_ENOMEM;
    }
    m->env = e;
    m->pub.type = e->msg.type;
    m->pub.data = e->msg.data;
    m->pub.len = e->msg.len;
    m->pub.sender = e->msg.sender;
    *out = &m->pub;
    return 0;
}

void
th_inmsg_free(th_inmsg_t *msg)
{
    if (msg == NULL)
        return;
    inmsg_t *m = (inmsg_t *)msg;
    thi_env_free(m->env);
    free(m);
}
