/*
 * host/core/deliver.c — delivery: an address to a live slot's mailbox (or an inbox),
 * the mailbox limit, the send paths (user, system, internal operations).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/core/core_int.h"
#include "host/core/mailbox.h"

/* ---- Delivery ------------------------------------------------------------------------ */

/* thi_deliver's body, inlined into thi_send_user (every send): built with
 * -fPIC, GCC never inlines a function with external linkage, since it
 * could be interposed. */
static inline int
deliver(struct th_system *sys, const th_addr_t *to, thi_env_t *env)
{
    if (to->opaque[0] != sys->id) {
        thi_dead_letter(sys, env, to,
                        th_addr_is_null(to) ? "null address"
                                            : "address of another system");
        return th_addr_is_null(to) ? TH_EADDR : TH_EDEAD;
    }
    thi_slot_t *slot = thi_slot_get(sys, to->opaque[1]);
    if (slot == NULL || to->opaque[2] == 0 ||
        atomic_load_explicit(&slot->nonce, memory_order_acquire) !=
            to->opaque[2]) {
        thi_dead_letter(sys, env, to, "no live actor at that address");
        return TH_EDEAD;
    }
    env->target_nonce = to->opaque[2];
    if (slot->kind == THI_SLOT_INBOX) {
        thi_inbox_deliver(slot, env);
        return 0;
    }
    uint64_t n = atomic_fetch_add_explicit(&slot->pushed, 1,
                                           memory_order_relaxed);
    if (!env->system) {
        uint64_t done = atomic_load_explicit(&slot->processed,
                                             memory_order_relaxed);
        /* signed: another sender's later message may already have been
         * processed, so done can pass n */
        if ((int64_t)(n - done) >= (int64_t)sys->opts.mailbox_limit) {
            atomic_fetch_sub_explicit(&slot->pushed, 1, memory_order_relaxed);
            return TH_EFULL; /* not consumed: the caller still owns env */
        }
    }
    if (thi_mq_push(slot, &env->node))
        thi_sched_push(sys, slot);
    return 0;
}

int
thi_deliver(struct th_system *sys, const th_addr_t *to, thi_env_t *env)
{
    return deliver(sys, to, env);
}

int
thi_send_system(struct th_system *sys, const th_addr_t *from,
                const th_addr_t *to, const char *type, const void *data,
                size_t len)
{
    const thi_type_t *t = thi_type_builtin(type);
    thi_env_t *env;
    int rc = thi_env_new(&env, t, data, len);
    if (rc != 0)
        return rc;
    env->system = 1;
    if (from)
        env->msg.sender = *from;
    return thi_deliver(sys, to, env);
}

int
thi_send_user(struct th_system *sys, const th_addr_t *from,
              const th_addr_t *to, const char *name, const char *type,
              const void *data, size_t len, unsigned origin)
{
    if ((to == NULL && name == NULL) || (data == NULL && len > 0))
        return TH_EINVAL;
    if (len > sys->opts.max_payload)
        return TH_ETOOBIG;
    const thi_type_t *t;
    int rc = thi_type_for_send(&t, type, origin);
    if (rc != 0)
        return rc;
    thi_env_t *env;
    if (__builtin_expect(t == NULL, 0)) {
        /* a name the table does not hold (reserved ones always are) */
        rc = thi_env_new_named(&env, type, data ? data : "", len);
    } else {
        if (t->flags & THI_TYPE_RESERVED)
            return TH_ERESERVED;
        rc = thi_env_new(&env, t, data ? data : "", len);
    }
    if (rc != 0)
        return rc;
    if (from)
        env->msg.sender = *from;
    rc = to ? deliver(sys, to, env) : thi_send_name(sys, name, env);
    if (rc == TH_EFULL)
        thi_env_free(env); /* not sent: the caller still has its bytes */
    return rc;
}

int
thi_send_internal(struct th_system *sys, const th_addr_t *to,
              enum thi_env_kind kind, const void *a, size_t alen,
              const void *b, size_t blen)
{
    thi_env_t *env = thi_env_alloc();
    if (env == NULL)
        return TH_ENOMEM;
    thi_env_fill_internal(env, kind, a, alen);
    if (blen)
        memcpy(env->in.bytes + alen, b, blen);
    return thi_deliver(sys, to, env);
}

void
thi_env_fill_internal(thi_env_t *env, enum thi_env_kind kind, const void *a,
                      size_t alen)
{
    memset(env, 0, sizeof *env);
    env->kind = (uint16_t)kind;
    env->system = 1;
    env->msg.type = "th.internal";
    env->msg.data = env->in.bytes;
    if (alen)
        memcpy(env->in.bytes, a, alen);
}

int
thi_push_op(struct th_system *sys, thi_slot_t *target, enum thi_env_kind kind,
        const th_addr_t *arg)
{
    th_addr_t to;
    thi_slot_addr(sys, target, atomic_load(&target->nonce), &to);
    return thi_send_internal(sys, &to, kind, arg, arg ? sizeof *arg : 0, NULL,
                         0);
}

int
thi_send_op(struct th_system *sys, const th_addr_t *to, thi_op_fn fn,
            const void *args, size_t len)
{
    if (len > THI_OP_ARGS)
        return TH_EINVAL;
    return thi_send_internal(sys, to, THI_ENV_OP, &fn, sizeof fn, args, len);
}

