/*
 * host/core/feature.h — how a feature (timers, fd watches, troupes,
 * capabilities, supervision: host/features/) attaches to the runtime. The
 * core calls features only through the table thi_features[], never by
 * name; a feature keeps its per-system and per-actor state in slots of
 * the system and of the actor's extension, indexed by its id. Every hook
 * is optional (NULL: not called). Hooks that take a ctx run in the
 * context that runs `slot`, unless said otherwise.
 */
#ifndef TH_HOST_CORE_FEATURE_H
#define TH_HOST_CORE_FEATURE_H

#include <jansson.h>
#include <stdbool.h>

#include "host/core/runtime.h"

/* Per-message hooks a feature arms for one actor (thi_slot_hooks): the
 * message path tests ext->hooks, one word, and calls the feature only
 * when its bit is set. */
#define THI_HOOK_CALLBACK 1u   /* after_callback after each callback */
#define THI_HOOK_ROUTE 2u      /* route takes user messages first */
#define THI_HOOK_DELIVERED 4u  /* delivered after each user message */
#define THI_HOOK_HOLD 8u       /* messages wait: the turn ends, held() */

typedef struct thi_feature {
    const char *name;
    unsigned id;                  /* its index in thi_features[] */
    /* A system message type only this feature sends: accept decides
     * whether it reaches the actor; to a dead actor it is dropped, not a
     * dead letter. NULL: none. */
    const char *own_type;

    /* ---- the system (th_system_create / destroy), in table order; fini
     * in reverse, only for features whose init succeeded */
    int (*sys_init)(struct th_system *sys, th_diag_t *d);
    void (*sys_fini)(struct th_system *sys);
    /* Synchronous mode (th_system_run): run what is due; returns ms until
     * the next due time, -1 when none. */
    int (*due)(struct th_system *sys);
    /* Synchronous mode: deliver ready events, waiting up to timeout_ms
     * (-1: no limit); returns how many, or -1 at once when it watches
     * nothing. At most one feature waits. */
    int (*poll)(struct th_system *sys, int timeout_ms);
    void (*stats)(struct th_system *sys, th_system_stats_t *out);

    /* ---- creating an actor (any thread; ctx NULL from outside) */
    /* Read this feature's createActor options (and what the creating
     * parent passes on); *extra stays NULL when there is nothing. Called
     * only when there are options (opts not NULL) or the create runs in
     * the parent's own context and the parent has feature state: a
     * feature passes on only what it keeps in the parent's state. */
    int (*create_opts)(struct th_system *sys, th_ctx_t *ctx,
                       thi_slot_t *parent_slot, const th_create_opts_t *opts,
                       void **extra, th_diag_t *d);
    void (*extra_free)(void *extra);
    /* May an actor of `cls` with `extra` (may be NULL) live here? Called
     * only when `wants` holds for cls or there is an extra. */
    int (*admit)(struct th_system *sys, const thi_class_t *cls,
                 const void *extra, th_diag_t *d);

    /* ---- starting an incarnation */
    /* Does an actor of `cls` need take even without extras? Asked once
     * per class (thi_class_features): the answer must depend on cls's
     * fields alone. */
    bool (*wants)(const thi_class_t *cls);
    /* Move `extra` (NULL when none; taken) into the slot. */
    int (*take)(th_ctx_t *ctx, thi_slot_t *slot, void *extra);
    /* After take: the feature runs this actor in place of its class's
     * code (no init, no teardown, no handlers). This and started are
     * called only when `wants` holds for the class or the feature holds
     * state for the actor. */
    bool (*runs_no_code)(const thi_slot_t *slot);
    int (*started)(th_ctx_t *ctx, thi_slot_t *slot);   /* after init */

    /* ---- messages */
    /* A system message of own_type reached its live actor: false drops it
     * (also when the actor is exiting). */
    bool (*accept)(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);
    void (*after_callback)(th_ctx_t *ctx, thi_slot_t *slot);
    /* THI_HOOK_ROUTE: true when it consumed env. */
    bool (*route)(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);
    void (*delivered)(th_ctx_t *ctx, thi_slot_t *slot, const thi_env_t *env);
    /* A user message failed the first time: true when the feature handled
     * the failure (no retry). Only called with the feature's state set. */
    bool (*failed)(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env,
                   const char *why);
    /* THI_HOOK_HOLD ended a turn: the feature requeues the slot later
     * (thi_sched_push) and clears the bit. The slot's last touch. */
    void (*held)(th_ctx_t *ctx, thi_slot_t *slot);

    /* ---- status and the end */
    /* Any thread: fields of the actor's status. */
    void (*status)(struct th_system *sys, thi_slot_t *slot,
                   const th_addr_t *self, json_t *into);
    /* Its own context (ActorStatus reply), with the state set. */
    void (*self_status)(th_ctx_t *ctx, thi_slot_t *slot, json_t *into);
    /* The incarnation ends: free the state (only called when set). */
    void (*slot_fini)(th_ctx_t *ctx, thi_slot_t *slot);
} thi_feature_t;

/* The registered features (host/features/features.c), in order. */
extern const thi_feature_t *const thi_features[];
extern const unsigned thi_n_features;

/* Which features an actor of `cls` needs without any createActor option:
 * bit i set when thi_features[i]->wants(cls). Asked on every create and
 * start, computed once per class (its `features` memo), so a plain class
 * costs one load and the per-actor hooks (admit, take, runs_no_code,
 * started) are called only for features that can apply. */
#define THI_CLASS_FEATURES_KNOWN (1u << 31)
_Static_assert(THI_FEATURES_MAX < 31, "a bit per feature below the memo's");
uint32_t thi_class_features_compute(const thi_class_t *cls);
static inline uint32_t
thi_class_features(const thi_class_t *cls)
{
    uint32_t m = atomic_load_explicit(&cls->features, memory_order_relaxed);
    if (__builtin_expect(m == 0, 0))
        m = thi_class_features_compute(cls);
    return m & ~THI_CLASS_FEATURES_KNOWN;
}
/* The features that hold state for the actor in `slot` (its own
 * context), as bits like thi_class_features. */
static inline uint32_t
thi_slot_features(const thi_slot_t *slot)
{
    uint32_t m = 0;
    if (slot->ext)
        for (unsigned i = 0; i < THI_FEATURES_MAX; i++)
            if (slot->ext->feat[i])
                m |= 1u << i;
    return m;
}

/* A feature's per-actor state, or NULL. */
static inline void *
thi_slot_feat(const thi_slot_t *slot, unsigned id)
{
    return slot->ext ? slot->ext->feat[id] : NULL;
}
/* Set it (NULL clears); TH_ENOMEM when the extension cannot be made. */
int thi_slot_feat_set(thi_slot_t *slot, unsigned id, void *state);
/* Arm and disarm per-message hooks; the extension must exist (a feature
 * state was set). */
static inline void
thi_slot_hooks(thi_slot_t *slot, uint32_t set, uint32_t clear)
{
    slot->ext->hooks = (slot->ext->hooks | set) & ~clear;
}

/* A feature's per-system state. */
static inline void *
thi_sys_feat(const struct th_system *sys, unsigned id)
{
    return sys->feat[id];
}

/* For core: the system hooks, run over every feature. */
int thi_features_init(struct th_system *sys, th_diag_t *d);
void thi_features_fini(struct th_system *sys);

#endif /* TH_HOST_CORE_FEATURE_H */
