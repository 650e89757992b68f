/*
 * host/features/troupe.c — troupes and transient actors (Thespian §8.1, §8.2).
 *
 * A troupe's address is its leader: a slot of the troupe's class that runs
 * none of the class's code. The leader routes each user message to one
 * member (a child of the leader, created on demand up to troupe_max) by
 * re-delivering the same envelope, so the original sender is kept. A
 * member tells the leader when it is free again (an op in the leader's
 * context); the leader then hands it the next queued message, or retires
 * it when more than troupe_idle members are idle. Everything the leader
 * knows lives in its own context: no locks.
 *
 * A transient actor notes the time of its first / latest message; one
 * internal timer at a time checks the deadline and, once it has passed,
 * sends the actor an ActorExitRequest from itself.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/array.h"
#include "host/core/runtime.h"
#include "host/log.h"
#include "host/sources/sources.h"
#include "host/features/features.h"

/* env->reserved0 of an envelope a leader handed to a member */
#define ROUTED 1u

typedef struct member {
    th_addr_t addr;
    bool busy;
} member_t;

struct thi_troupe {
    const thi_class_t *cls;
    uint32_t n;               /* members in m[] */
    uint32_t retiring;        /* asked to exit, not yet gone */
    uint32_t n_idle;
    uint64_t routed;          /* messages handed to members */
    thi_env_t **q;            /* FIFO ring of messages waiting for a member */
    size_t q_head, q_len, q_cap;
    member_t m[];             /* troupe_max entries */
};

struct thi_transient {
    int64_t first_ns, last_ns; /* 0: no message yet */
    bool armed;                /* a check is pending on the timer thread */
    bool idle;                 /* TH_CLASS_TRANSIENT_IDLE */
    uint32_t ms;
};

/* An actor's state here (feature slot THI_FEAT_TROUPE). */
typedef struct troupe_slot {
    bool member;                      /* a member of `leader`'s troupe */
    bool wip;                         /* work in progress */
    bool owed;                        /* routed work not yet reported done */
    th_addr_t leader;
    struct thi_troupe *troupe;        /* leader: the troupe */
    struct thi_transient *transient;  /* a transient actor's deadline */
} troupe_slot_t;

/* What a leader hands a member it creates (a start extra). */
typedef struct troupe_extra {
    th_addr_t leader;
} troupe_extra_t;

static troupe_slot_t *
tslot(const thi_slot_t *slot)
{
    return thi_slot_feat(slot, THI_FEAT_TROUPE);
}

static troupe_slot_t *
tslot_make(thi_slot_t *slot)
{
    troupe_slot_t *ts = tslot(slot);
    if (ts == NULL && (ts = calloc(1, sizeof *ts)) != NULL &&
        thi_slot_feat_set(slot, THI_FEAT_TROUPE, ts) != 0) {
        free(ts);
        ts = NULL;
    }
    return ts;
}

/* ---- Transient actors ------------------------------------------------------ */

static void transient_check(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);

/* Timer thread: run the check in the actor's own context; an actor that
 * has gone meanwhile just drops the op. */
static void
transient_fire(struct th_system *sys, const void *args)
{
    th_addr_t a;
    memcpy(&a, args, sizeof a);
    thi_send_op(sys, &a, transient_check, NULL, 0);
}

static int
transient_arm(th_ctx_t *ctx, thi_slot_t *slot, int64_t delay_ns)
{
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    uint32_t ms = (uint32_t)((delay_ns + 999999) / 1000000);
    int rc = thi_timer_call(thi_sys_timers(ctx->sys), ms, transient_fire, &self,
                            sizeof self);
    if (rc != 0)
        thi_log(TH_LOG_ERROR, &self,
                "transient actor: cannot arm its exit timer: %s",
                th_strerror(rc));
    tslot(slot)->transient->armed = rc == 0;
    return rc;
}

static void
transient_check(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    (void)env;
    struct thi_transient *t = tslot(slot) ? tslot(slot)->transient : NULL;
    if (t == NULL)
        return;
    t->armed = false;
    int64_t deadline = (t->idle ? t->last_ns : t->first_ns) +
                       (int64_t)t->ms * 1000000;
    int64_t left = deadline - thi_now_ns();
    if (left > 0) { /* a later message moved the deadline */
        transient_arm(ctx, slot, left);
        return;
    }
    /* as if asked: the actor's handler runs, its parent hears it exited */
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    thi_send_system(ctx->sys, &self, &self, TH_MSG_EXIT_REQUEST, "", 0);
}

/* A message reached a transient actor: move its deadline, arm the check
 * when none is pending (one timer per actor, not per message). */
static void
transient_note(th_ctx_t *ctx, thi_slot_t *slot)
{
    struct thi_transient *t = tslot(slot)->transient;
    int64_t now = thi_now_ns();
    if (t->first_ns == 0)
        t->first_ns = now;
    t->last_ns = now;
    if (!t->armed)
        transient_arm(ctx, slot, (int64_t)t->ms * 1000000);
}

/* ---- Troupe leader ------------------------------------------------------------ */

static bool
is_leader(const thi_slot_t *slot)
{
    return tslot(slot) && tslot(slot)->troupe;
}

static member_t *
find_member(struct thi_troupe *tr, const th_addr_t *a)
{
    for (uint32_t i = 0; i < tr->n; i++)
        if (th_addr_eq(&tr->m[i].addr, a))
            return &tr->m[i];
    return NULL;
}

static void
forget_member(struct thi_troupe *tr, member_t *m)
{
    if (!m->busy)
        tr->n_idle--;
    *m = tr->m[--tr->n];
}

/* Hand env to member m (marked busy). Consumes env. */
static void
hand_to(th_ctx_t *ctx, struct thi_troupe *tr, member_t *m, thi_env_t *env)
{
    if (!m->busy)
        tr->n_idle--;
    m->busy = true;
    env->reserved0 = ROUTED;
    tr->routed++;
    /* a member holds one routed message at a time: its mailbox cannot be
     * full of them; anything else still becomes a dead letter */
    int rc = thi_deliver(ctx->sys, &m->addr, env);
    if (rc == TH_EFULL)
        thi_dead_letter(ctx->sys, env, &m->addr,
                        "troupe member's mailbox full");
}

static int
queue_push(struct thi_troupe *tr, thi_env_t *env)
{
    if (tr->q_len == tr->q_cap) {
        size_t old = tr->q_cap;
        if (THI_RESERVE(tr->q, tr->q_cap, tr->q_len + 1, 16) != 0)
            return TH_ENOMEM;
        /* a full ring wraps at the old end: the part before q_head moves
         * behind the rest (the new room is at least as large as it) */
        memmove(tr->q + old, tr->q, tr->q_head * sizeof *tr->q);
    }
    tr->q[(tr->q_head + tr->q_len++) % tr->q_cap] = env;
    return 0;
}

static thi_env_t *
queue_pop(struct thi_troupe *tr)
{
    if (tr->q_len == 0)
        return NULL;
    thi_env_t *env = tr->q[tr->q_head];
    tr->q_head = (tr->q_head + 1) % tr->q_cap;
    tr->q_len--;
    return env;
}

/* A new member, child of the leader, holding the class's code mapped like
 * any actor of it. */
static int
add_member(th_ctx_t *ctx, thi_slot_t *slot, struct thi_troupe *tr,
           member_t **out)
{
    struct th_system *sys = ctx->sys;
    thi_start_extra_t *x = calloc(1, sizeof *x);
    troupe_extra_t *te = calloc(1, sizeof *te);
    if (x == NULL || te == NULL) {
        free(x);
        free(te);
        return TH_ENOMEM;
    }
    thi_self_addr(ctx, slot, &te->leader);
    x->feat[THI_FEAT_TROUPE] = te;
    if (tr->cls->source) {
        pthread_mutex_lock(&sys->classes_lock);
        thi_source_hold_locked(tr->cls->source);
        pthread_mutex_unlock(&sys->classes_lock);
    }
    member_t *m = &tr->m[tr->n];
    int rc = thi_create_resolved(sys, ctx, &m->addr, tr->cls, slot, x);
    if (rc != 0)
        return rc;
    m->busy = false;
    tr->n++;
    tr->n_idle++;
    *out = m;
    return 0;
}

/* The leader's context: member `args` finished its routed work. */
static void
member_free(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    if (!is_leader(slot))
        return;
    struct thi_troupe *tr = tslot(slot)->troupe;
    th_addr_t a;
    memcpy(&a, thi_op_args(env), sizeof a);
    member_t *m = find_member(tr, &a);
    if (m == NULL || !m->busy)
        return; /* retired or gone meanwhile */
    m->busy = false;
    tr->n_idle++;
    thi_env_t *next = queue_pop(tr);
    if (next) {
        hand_to(ctx, tr, m, next);
        return;
    }
    if (tr->n_idle > tr->cls->troupe_idle) { /* shrink back to idle_count */
        th_addr_t self, gone = m->addr;
        thi_self_addr(ctx, slot, &self);
        forget_member(tr, m);
        tr->retiring++;
        thi_send_system(ctx->sys, &self, &gone, TH_MSG_EXIT_REQUEST, "", 0);
    }
}

static bool
troupe_route(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    struct thi_troupe *tr = tslot(slot)->troupe;
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    if (env->system && strcmp(env->msg.type, TH_MSG_CHILD_EXITED) == 0) {
        /* a member gone on its own (failed restart, asked directly) or a
         * retired one: the leader's own business, never a member's */
        member_t *m = find_member(tr, &env->msg.sender);
        if (m)
            forget_member(tr, m);
        else if (tr->retiring)
            tr->retiring--;
        thi_env_free(env);
        if (tr->q_len && tr->n + tr->retiring < tr->cls->troupe_max) {
            member_t *nm;
            if (add_member(ctx, slot, tr, &nm) == 0)
                hand_to(ctx, tr, nm, queue_pop(tr));
        }
        return true;
    }
    if (tslot(slot)->transient)
        transient_note(ctx, slot);
    member_t *m = NULL;
    for (uint32_t i = 0; i < tr->n && tr->n_idle; i++)
        if (!tr->m[i].busy) {
            m = &tr->m[i];
            break;
        }
    if (m == NULL && tr->n + tr->retiring < tr->cls->troupe_max) {
        int rc = add_member(ctx, slot, tr, &m);
        if (rc != 0) {
            m = NULL;
            thi_log(TH_LOG_WARNING, &self,
                    "troupe %s: cannot add a member (%s); message queued",
                    tr->cls->qname, th_strerror(rc));
        }
    }
    /* the queue is the troupe's mailbox: same bound, so a flood costs the
     * flooder dead letters, not the host its memory */
    if (tr->q_len >= ctx->sys->opts.mailbox_limit) {
        thi_dead_letter(ctx->sys, env, &self,
                        "troupe queue full (mailbox_limit)");
        return true;
    }
    if (queue_push(tr, env) != 0) {
        thi_dead_letter(ctx->sys, env, &self, "troupe queue: out of memory");
        return true;
    }
    if (m) /* first come, first served: the oldest waiting message */
        hand_to(ctx, tr, m, queue_pop(tr));
    return true;
}

static bool
troupe_wants(const thi_class_t *cls)
{
    return (cls->flags & (TH_CLASS_TROUPE | TH_CLASS_TRANSIENT |
                          TH_CLASS_TRANSIENT_IDLE)) != 0;
}

/* A member's extra: it knows its leader. */
static int
troupe_take(th_ctx_t *ctx, thi_slot_t *slot, void *extra)
{
    (void)ctx;
    troupe_extra_t *te = extra;
    if (te == NULL)
        return 0;
    troupe_slot_t *ts = tslot_make(slot);
    if (ts) {
        ts->member = true;
        ts->leader = te->leader;
        thi_slot_hooks(slot, THI_HOOK_DELIVERED, 0);
    }
    free(te);
    return ts ? 0 : TH_ENOMEM;
}

/* After init: a leader's troupe, a transient actor's deadline. */
static int
troupe_started(th_ctx_t *ctx, thi_slot_t *slot)
{
    (void)ctx;
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    if (!troupe_wants(cls))
        return 0;
    troupe_slot_t *e = tslot_make(slot);
    if (e == NULL)
        return TH_ENOMEM;
    if (e->member)
        return 0; /* the troupe, as a whole, is what is transient */
    if ((cls->flags & TH_CLASS_TROUPE) && e->troupe == NULL) {
        e->troupe = calloc(1, sizeof *e->troupe +
                                  cls->troupe_max * sizeof e->troupe->m[0]);
        if (e->troupe == NULL)
            return TH_ENOMEM;
        e->troupe->cls = cls;
        thi_slot_hooks(slot, THI_HOOK_ROUTE, 0);
    }
    if ((cls->flags & (TH_CLASS_TRANSIENT | TH_CLASS_TRANSIENT_IDLE)) &&
        e->transient == NULL) {
        e->transient = calloc(1, sizeof *e->transient);
        if (e->transient == NULL)
            return TH_ENOMEM;
        e->transient->ms = cls->transient_ms;
        e->transient->idle = (cls->flags & TH_CLASS_TRANSIENT_IDLE) != 0;
        thi_slot_hooks(slot, THI_HOOK_DELIVERED, 0);
    }
    return 0;
}

static bool
troupe_is_leader(const thi_slot_t *slot)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    return cls && (cls->flags & TH_CLASS_TROUPE) &&
           !(tslot(slot) && tslot(slot)->member);
}

/* ---- Members ------------------------------------------------------------------ */

static void
troupe_delivered(th_ctx_t *ctx, thi_slot_t *slot, const thi_env_t *env)
{
    troupe_slot_t *e = tslot(slot);
    if (e->transient)
        transient_note(ctx, slot);
    if (!e->member)
        return;
    if (env->reserved0 == ROUTED)
        e->owed = true;
    /* free once the routed message is done and no work is in progress; a
     * message sent to the member directly (e.g. the one clearing its
     * work in progress) is not the leader's to count */
    if (e->owed && !e->wip) {
        e->owed = false;
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_send_op(ctx->sys, &e->leader, member_free, &self, sizeof self);
    }
}

int
thi_troupe_wip(th_ctx_t *ctx, bool on)
{
    thi_slot_t *slot = ctx->slot;
    if (tslot(slot) == NULL || !tslot(slot)->member) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_log(TH_LOG_WARNING, &self,
                "th_work_in_progress: this actor is not a troupe member");
        return TH_EINVAL;
    }
    tslot(slot)->wip = on;
    return 0;
}

static void
troupe_status(th_ctx_t *ctx, thi_slot_t *slot, json_t *into)
{
    (void)ctx;
    struct thi_troupe *tr = tslot(slot)->troupe;
    if (tr == NULL)
        return;
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
                          "members", (json_int_t)tr->n,
                          "idle", (json_int_t)tr->n_idle,
                          "retiring", (json_int_t)tr->retiring,
                          "queued", (json_int_t)tr->q_len,
                          "routed", (json_int_t)tr->routed,
                          "max", (json_int_t)tr->cls->troupe_max);
    if (o)
        json_object_set_new(into, "troupe", o);
}

static void
troupe_slot_fini(th_ctx_t *ctx, thi_slot_t *slot)
{
    struct thi_troupe *tr = tslot(slot)->troupe;
    if (tr) {
        /* never silently lost: what no member took is a dead letter */
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_env_t *env;
        while ((env = queue_pop(tr)) != NULL)
            thi_dead_letter(ctx->sys, env, &self,
                            "troupe exited before a member was free");
        free(tr->q);
        free(tr);
        tslot(slot)->troupe = NULL;
    }
    free(tslot(slot)->transient);
    free(tslot(slot));
    slot->ext->feat[THI_FEAT_TROUPE] = NULL;
}

static void
troupe_extra_free(void *extra)
{
    free(extra);
}

const thi_feature_t thi_feature_troupe = {
    .name = "troupes",
    .id = THI_FEAT_TROUPE,
    .extra_free = troupe_extra_free,
    .wants = troupe_wants,
    .take = troupe_take,
    .runs_no_code = troupe_is_leader,
    .started = troupe_started,
    .route = troupe_route,
    .delivered = troupe_delivered,
    .self_status = troupe_status,
    .slot_fini = troupe_slot_fini,
};
