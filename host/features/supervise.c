/*
 * host/features/supervise.c — supervision strategies (Proto.Actor's model; contract
 * in actor.h above th_supervision_t and in docs/supervision.md).
 *
 * Each actor's supervision state (feature slot THI_FEAT_SUP) holds the
 * strategy it applies to its children (`children`), the copy of its
 * parent's strategy that applies to itself (`self`, taken when it was
 * created from the parent's context) and the times of its recent
 * supervised restarts. Everything runs in the actor's
 * own context or reaches another actor as an op: no locks on actor state.
 * A failed child decides from its own copy, so th_supervise changes only
 * children created afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "host/core/runtime.h"
#include "host/log.h"
#include "host/sources/sources.h"
#include "host/features/features.h"
#include "proto/wire.h"

/* Every strategy the runtime keeps is one of these (the public struct
 * first): a decider is code of the plugin that set the strategy, whose
 * source stays mapped while any copy may call it. */
typedef struct sup_copy {
    th_supervision_t s;
    struct th_system *sys;
    thi_source_t *src;             /* held; NULL: nothing to hold */
} sup_copy_t;

struct thi_sup_slot {
    th_supervision_t *children;    /* how it supervises; NULL: default */
    th_supervision_t *self;        /* the parent's strategy, for this actor */
    int64_t *hist;                 /* supervised restarts within the window */
    uint32_t n_hist;
    size_t cap_hist;
    int64_t suspend_until_ns;      /* backing off before a restart; 0 none */
};

/* What a creator hands a child (a start extra). */
typedef struct sup_extra {
    th_supervision_t *children;    /* createActor's opts->supervision */
    th_supervision_t *self;        /* a copy of the parent's */
} sup_extra_t;

static struct thi_sup_slot *
sstate(const thi_slot_t *slot)
{
    return thi_slot_feat(slot, THI_FEAT_SUP);
}

static const char *const dir_names[] = {"restart", "stop", "resume",
                                        "escalate"};
static const char *const strat_names[] = {"one-for-one", "all-for-one"};

static th_supervision_t *
copy_hold(struct th_system *sys, const th_supervision_t *in,
          thi_source_t *src)
{
    sup_copy_t *c = malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    c->s = *in;
    c->sys = sys;
    c->src = in->decider ? src : NULL;
    if (c->src) { /* live already (its actor runs): a count suffices */
        pthread_mutex_lock(&sys->classes_lock);
        thi_source_hold_locked(c->src);
        pthread_mutex_unlock(&sys->classes_lock);
    }
    return &c->s;
}

void
thi_sup_free(th_supervision_t *sup)
{
    if (sup == NULL)
        return;
    sup_copy_t *c = (sup_copy_t *)(void *)sup;
    thi_source_put(c->sys, c->src);
    free(c);
}

int
thi_sup_copy(struct th_system *sys, th_ctx_t *ctx,
             const th_supervision_t *in, th_supervision_t **out,
             th_diag_t *d)
{
    *out = NULL;
    if (in == NULL)
        return thi_diag_set(d, TH_EINVAL, "supervision: NULL");
    /* a newer plugin's larger struct is fine: only our fields are read */
    if (in->size < sizeof(th_supervision_t))
        return thi_diag_set(d, TH_EINVAL,
                            "supervision.size: %u, need at least %zu",
                            in->size, sizeof(th_supervision_t));
    if (in->strategy > TH_SUP_ALL_FOR_ONE)
        return thi_diag_set(d, TH_EINVAL,
                            "supervision.strategy: %u is not a strategy "
                            "(0 one-for-one, 1 all-for-one)",
                            in->strategy);
    if (in->directive > TH_SUP_ESCALATE)
        return thi_diag_set(d, TH_EINVAL,
                            "supervision.directive: %u is not a directive "
                            "(0 restart, 1 stop, 2 resume, 3 escalate)",
                            in->directive);
    th_supervision_t v;
    memcpy(&v, in, sizeof v);
    v.size = sizeof v;
    if (v.max_restarts == 0)
        v.max_restarts = 10;
    if (v.window_ms == 0)
        v.window_ms = 10000;
    if (v.max_backoff_ms == 0)
        v.max_backoff_ms = 30000;
    /* the decider is the calling actor's code (from outside: the host
     * program's, never unmapped) */
    const thi_class_t *owner =
        ctx && ctx->slot && ctx->slot->kind == THI_SLOT_ACTOR
            ? atomic_load_explicit(&ctx->slot->cls, memory_order_relaxed)
            : NULL;
    *out = copy_hold(sys, &v, owner ? owner->source : NULL);
    if (*out == NULL)
        return thi_diag_set(d, TH_ENOMEM, "supervision: out of memory");
    return 0;
}

static struct thi_sup_slot *
sup_slot(thi_slot_t *slot)
{
    struct thi_sup_slot *s = sstate(slot);
    if (s == NULL && (s = calloc(1, sizeof *s)) != NULL &&
        thi_slot_feat_set(slot, THI_FEAT_SUP, s) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

int
thi_sup_set(th_ctx_t *ctx, const th_supervision_t *sup)
{
    thi_slot_t *slot = ctx->slot;
    if (slot == NULL || slot->kind != THI_SLOT_ACTOR)
        return TH_EINVAL;
    th_supervision_t *c = NULL;
    if (sup) {
        th_diag_t d = {0};
        int rc = thi_sup_copy(ctx->sys, ctx, sup, &c, &d);
        if (rc != 0) {
            th_addr_t self;
            thi_self_addr(ctx, slot, &self);
            thi_log(TH_LOG_WARNING, &self, "th_supervise: %s", d.msg);
            return rc;
        }
    } else if (sstate(slot) == NULL) {
        return 0; /* already the default */
    }
    struct thi_sup_slot *s = sup_slot(slot);
    if (s == NULL) {
        free(c);
        return TH_ENOMEM;
    }
    thi_sup_free(s->children);
    s->children = c;
    return 0;
}

static void
sup_extra_free(void *extra)
{
    sup_extra_t *x = extra;
    thi_sup_free(x->children);
    thi_sup_free(x->self);
    free(x);
}

/* createActor's supervision option; and created from `parent`'s own
 * context, a copy of how `parent` supervises its children. */
static int
sup_create_opts(struct th_system *sys, th_ctx_t *ctx, thi_slot_t *parent,
                const th_create_opts_t *opts, void **extra, th_diag_t *d)
{
    const th_supervision_t *sup = NULL;
    if (opts && opts->size >= offsetof(th_create_opts_t, supervision) +
                                  sizeof(void *))
        sup = opts->supervision;
    const th_supervision_t *p = NULL;
    if (ctx && ctx->slot == parent && sstate(parent))
        p = sstate(parent)->children;
    if (sup == NULL && p == NULL)
        return 0;
    sup_extra_t *x = calloc(1, sizeof *x);
    if (x == NULL)
        return TH_ENOMEM;
    int rc = 0;
    if (sup)
        rc = thi_sup_copy(sys, ctx, sup, &x->children, d);
    if (rc == 0 && p) {
        const sup_copy_t *c = (const sup_copy_t *)(const void *)p;
        if ((x->self = copy_hold(c->sys, p, c->src)) == NULL)
            rc = TH_ENOMEM;
    }
    if (rc != 0) {
        sup_extra_free(x);
        return rc;
    }
    *extra = x;
    return 0;
}

static int
sup_take(th_ctx_t *ctx, thi_slot_t *slot, void *extra)
{
    (void)ctx;
    sup_extra_t *x = extra;
    if (x == NULL)
        return 0;
    struct thi_sup_slot *s = sup_slot(slot);
    if (s == NULL) {
        sup_extra_free(x);
        return TH_ENOMEM;
    }
    s->children = x->children;
    s->self = x->self;
    free(x);
    return 0;
}

static void
sup_slot_fini(th_ctx_t *ctx, thi_slot_t *slot)
{
    (void)ctx;
    struct thi_sup_slot *s = sstate(slot);
    thi_sup_free(s->children);
    thi_sup_free(s->self);
    free(s->hist);
    free(s);
    slot->ext->feat[THI_FEAT_SUP] = NULL;
}

/* ---- Applying a directive ------------------------------------------------ */

/* Record a supervised restart now; returns k, its rank within the window
 * (1-based), or 0 when it would exceed max_restarts (not recorded). */
static uint32_t
history_add(struct thi_sup_slot *s, const th_supervision_t *p, int64_t now)
{
    int64_t since = now - (int64_t)p->window_ms * 1000000;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < s->n_hist; i++)
        if (s->hist[i] > since)
            s->hist[keep++] = s->hist[i];
    s->n_hist = keep;
    if (s->n_hist >= p->max_restarts)
        return 0;
    if (THI_RESERVE(s->hist, s->cap_hist, (size_t)s->n_hist + 1, 4) != 0)
        return s->n_hist + 1; /* no history: count this one as the first */
    s->hist[s->n_hist++] = now;
    return s->n_hist;
}

static uint64_t
backoff_ms(const th_supervision_t *p, uint32_t k)
{
    if (p->backoff_ms == 0 || k == 0)
        return 0;
    uint32_t shift = k - 1 > 31 ? 31 : k - 1;
    uint64_t ms = (uint64_t)p->backoff_ms << shift;
    return ms > p->max_backoff_ms ? p->max_backoff_ms : ms;
}

/* Args of the ops a child sends its parent. */
struct sib_args {
    th_addr_t failed;     /* the child that failed */
    uint32_t directive;   /* TH_SUP_RESTART or TH_SUP_STOP */
};
struct esc_args {
    th_addr_t child;
    const char *msg_type; /* interned: immortal; NULL for an escalation */
};
_Static_assert(sizeof(struct sib_args) <= THI_OP_ARGS, "sib args");
_Static_assert(sizeof(struct esc_args) <= THI_OP_ARGS, "esc args");

static void
op_sibling(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    struct sib_args a;
    memcpy(&a, thi_op_args(env), sizeof a);
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    char who[TH_ADDR_STRLEN];
    thi_wire_addr_format(&a.failed, who, sizeof who);
    thi_log(TH_LOG_INFO, &self, "sibling %s failed (all-for-one): %s", who,
            a.directive == TH_SUP_STOP ? "stopping" : "restarting");
    if (a.directive == TH_SUP_STOP)
        thi_actor_exit(ctx, slot, true);
    else
        (void)thi_actor_restart(ctx, slot); /* logs and exits on failure */
}

/* In the parent: apply an all-for-one directive to the other children. */
static void
op_all_for_one(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    struct sib_args a;
    memcpy(&a, thi_op_args(env), sizeof a);
    uint32_t n = 0;
    th_addr_t *v = thi_children_addrs(ctx->sys, slot, &n);
    for (uint32_t i = 0; i < n; i++)
        if (!th_addr_eq(&v[i], &a.failed))
            (void)thi_send_op(ctx->sys, &v[i], op_sibling, &a, sizeof a);
    free(v);
}

static void sup_apply(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env,
                      const char *msg_type, const char *why);

/* In the parent: a child escalated its failure; this actor is treated as
 * failed, by its own parent's strategy, else (top-level, or its parent
 * kept Thespian's default) restarted. */
static void
op_escalated(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    struct esc_args a;
    memcpy(&a, thi_op_args(env), sizeof a);
    char who[TH_ADDR_STRLEN], why[TH_ADDR_STRLEN + 32];
    thi_wire_addr_format(&a.child, who, sizeof who);
    snprintf(why, sizeof why, "child %s escalated its failure", who);
    if (sstate(slot) && sstate(slot)->self) {
        sup_apply(ctx, slot, NULL, a.msg_type, why);
        return;
    }
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    thi_log(TH_LOG_WARNING, &self, "%s; restarting", why);
    (void)thi_actor_restart(ctx, slot);
}

/* A top-level actor, or one adopted by the system: no siblings, nobody
 * to escalate to (the system's ops are not supervision). */
static bool
parent_is_system(th_ctx_t *ctx, thi_slot_t *slot)
{
    th_addr_t root;
    thi_slot_addr(ctx->sys, ctx->sys->root, ctx->sys->root->live_nonce,
                  &root);
    return th_addr_eq(&slot->parent, &root);
}

/* Run fn in the parent's context. */
static void
tell_parent(th_ctx_t *ctx, thi_slot_t *slot, thi_op_fn fn, const void *args,
            size_t len)
{
    int rc = thi_send_op(ctx->sys, &slot->parent, fn, args, len);
    if (rc != 0) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_log(TH_LOG_WARNING, &self,
                "supervision: could not reach the parent: %s",
                th_strerror(rc));
    }
}

/* Apply the parent's strategy to this actor's failure. env: the failed
 * message (returned as PoisonMessage), NULL for an escalated failure. */
static void
sup_apply(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env,
          const char *msg_type, const char *why)
{
    struct thi_sup_slot *s = sstate(slot);
    const th_supervision_t *p = s->self;
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    uint32_t dir = p->directive;
    if (p->decider) {
        int d = p->decider(msg_type ? msg_type : "", why);
        if (d >= TH_SUP_RESTART && d <= TH_SUP_ESCALATE) {
            dir = (uint32_t)d;
        } else {
            thi_log(TH_LOG_WARNING, &self,
                    "supervision decider returned %d, not a directive; "
                    "using %s",
                    d, dir_names[dir]);
        }
    }
    uint32_t k = 0;
    char extra[96] = "";
    bool orphan = parent_is_system(ctx, slot);
    if (dir == TH_SUP_ESCALATE && orphan) {
        /* adopted by the system: it restarts, as a top-level parent would */
        dir = TH_SUP_RESTART;
        snprintf(extra, sizeof extra, " (escalated to the system)");
    }
    if (dir == TH_SUP_RESTART && (k = history_add(s, p, thi_now_ns())) == 0) {
        dir = TH_SUP_STOP;
        snprintf(extra, sizeof extra, " (more than %u restarts within %u ms)",
                 p->max_restarts, p->window_ms);
    }
    bool all = !orphan && p->strategy == TH_SUP_ALL_FOR_ONE &&
               (dir == TH_SUP_RESTART || dir == TH_SUP_STOP);
    const char *sname = strat_names[p->strategy];
    thi_log(TH_LOG_WARNING, &self,
            "actor %s failed on %s: %s; supervisor: %s (%s)%s", cls->qname,
            msg_type ? msg_type : "?", why, dir_names[dir], sname, extra);
    /* the siblings hear first: a message the sender sends once it got the
     * PoisonMessage reaches them through the parent after that */
    if (all) {
        struct sib_args a = {self, dir};
        tell_parent(ctx, slot, op_all_for_one, &a, sizeof a);
    }
    if (dir == TH_SUP_ESCALATE) {
        /* the op outlives this message: only an immortal name may go */
        struct esc_args a = {self, msg_type ? thi_type_immortal(msg_type)
                                            : NULL};
        tell_parent(ctx, slot, op_escalated, &a, sizeof a);
    }
    if (env) {
        char details[400];
        snprintf(details, sizeof details, "%s; supervisor: %s (%s)%s", why,
                 dir_names[dir], sname, extra);
        thi_send_poison(ctx, slot, env, details);
    }
    switch (dir) {
    case TH_SUP_RESTART: {
        if (thi_actor_restart(ctx, slot) != 0)
            return; /* it exits */
        uint64_t ms = backoff_ms(p, k);
        if (ms) { /* the run loop holds its messages: sup_held */
            s->suspend_until_ns = thi_now_ns() + (int64_t)ms * 1000000;
            thi_slot_hooks(slot, THI_HOOK_HOLD, 0);
        }
        return;
    }
    case TH_SUP_STOP:
        thi_actor_exit(ctx, slot, true);
        return;
    default: /* RESUME: state kept; ESCALATE: the parent decides */
        return;
    }
}

/* A supervised actor failed on env (first failure): when its parent
 * chose a strategy, apply it (PoisonMessage at once, then the directive)
 * and return true; false: Thespian's default applies. */
static bool
sup_failed(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env, const char *why)
{
    if (sstate(slot)->self == NULL)
        return false; /* supervises only its children: Thespian's rule */
    sup_apply(ctx, slot, env, env->msg.type, why);
    return true;
}

/* ---- Backoff ------------------------------------------------------------- */

static void
unpark(struct th_system *sys, const void *args)
{
    thi_slot_t *slot;
    memcpy(&slot, args, sizeof slot);
    /* the slot is scheduled but in no queue: nobody else touches it */
    sstate(slot)->suspend_until_ns = 0;
    thi_slot_hooks(slot, 0, THI_HOOK_HOLD);
    thi_sched_push(sys, slot);
}

/* End of a turn of a suspended slot (its last touch in the run loop): a
 * timer clears the hold and requeues the slot when it is due. */
static void
sup_held(th_ctx_t *ctx, thi_slot_t *slot)
{
    struct thi_sup_slot *s = sstate(slot);
    if (s == NULL || s->suspend_until_ns == 0)
        return;
    int64_t left = s->suspend_until_ns - thi_now_ns();
    uint32_t ms = left > 0 ? (uint32_t)((left + 999999) / 1000000) : 0;
    int rc = thi_timer_call(thi_sys_timers(ctx->sys), ms, unpark, &slot, sizeof slot);
    if (rc != 0) { /* cannot wait: resume at once rather than hang */
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_log(TH_LOG_ERROR, &self, "restart backoff skipped: %s",
                th_strerror(rc));
        unpark(ctx->sys, &slot);
    }
}

const thi_feature_t thi_feature_sup = {
    .name = "supervision",
    .id = THI_FEAT_SUP,
    .create_opts = sup_create_opts,
    .extra_free = sup_extra_free,
    .take = sup_take,
    .failed = sup_failed,
    .held = sup_held,
    .slot_fini = sup_slot_fini,
};
