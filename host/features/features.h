/*
 * host/features/features.h — the features that attach to the actor
 * lifecycle through the table in host/core/feature.h: their ids (the index
 * of each one's state in the system and in an actor's extension), their
 * table entries, and what host/api.c and other features call. The core
 * includes none of this.
 */
#ifndef TH_HOST_FEATURES_H
#define TH_HOST_FEATURES_H

#include <jansson.h>

#include "host/core/runtime.h"
#include "host/core/feature.h"

/* Order is the table's: system init in this order, fini in reverse;
 * extras are taken in this order at start. */
enum thi_feature_id {
    THI_FEAT_CAPS,
    THI_FEAT_TIMER,
    THI_FEAT_WATCH,
    THI_FEAT_TROUPE,
    THI_FEAT_SUP,
    THI_FEAT_COUNT
};
_Static_assert(THI_FEAT_COUNT <= THI_FEATURES_MAX, "raise THI_FEATURES_MAX");

extern const thi_feature_t thi_feature_caps, thi_feature_timer,
    thi_feature_watch, thi_feature_troupe, thi_feature_sup;

/* ---- timer.c: wakeupAfter, timers with ids, internal delayed calls */
static inline thi_timers_t *
thi_sys_timers(const struct th_system *sys)
{
    return (thi_timers_t *)thi_sys_feat(sys, THI_FEAT_TIMER);
}
int thi_timers_create(struct th_system *sys, thi_timers_t **out);
void thi_timers_destroy(thi_timers_t *t);
int thi_timer_add(thi_timers_t *t, const th_addr_t *target, uint32_t ms,
                  const void *data, size_t len);
/* Fire due timers; returns ms until the next one (-1: none). */
int thi_timers_fire_due(thi_timers_t *t);
size_t thi_timers_pending(thi_timers_t *t, const th_addr_t *target);
/* Longest delay or period (ms): due times stay far from overflow. */
#define THI_TIMER_MAX_MS (INT64_MAX / 4000000)
int thi_timer_start(struct th_system *sys, const th_addr_t *target,
                    int64_t delay_ms, int64_t period_ms, const void *data,
                    size_t len, uint64_t *id_out);
int thi_timer_cancel(struct th_system *sys, const th_addr_t *target,
                     uint64_t id);
/* A TimerMessage reaches its actor: false when its timer was cancelled
 * meanwhile (drop it); sets ctx->msg_tag to its id. Only timer.c may send
 * a system TimerMessage: its id sits in the 8 bytes before msg.data. */
bool thi_timer_accept(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);
void thi_timers_cancel_target(struct th_system *sys, const th_addr_t *target);
/* Call fn(sys, args) on the timer thread (synchronous mode: from
 * th_system_run) after ms, with a copy of the `len` (> 0) bytes at args;
 * internal, not cancellable, dropped uncalled when the system is destroyed.
 * fn must be short: it holds the timer thread. */
typedef void (*thi_timer_fn)(struct th_system *sys, const void *args);
int thi_timer_call(thi_timers_t *t, uint32_t ms, thi_timer_fn fn,
                   const void *args, size_t len);

/* ---- caps.c: the system's capabilities */
int thi_caps_update(struct th_system *sys, const char *name,
                    const char *value_json, th_diag_t *d);
int thi_caps_json(struct th_system *sys, char **out);   /* free() */
/* The createActor requirements of the incarnation running in `slot` (JSON
 * object text, owned by the slot), or NULL. Only from its own context. */
const char *thi_caps_slot_requirements(const thi_slot_t *slot);

/* ---- watch.c: fd watches */
int thi_watch_set(th_ctx_t *ctx, const int *fds, size_t n);

/* ---- troupe.c: troupes and transient actors */
int thi_troupe_wip(th_ctx_t *ctx, bool on);

/* ---- supervise.c */
/* Validate and copy a strategy given by the actor running ctx (NULL or
 * no slot: from outside); TH_EINVAL with a diag naming the field. A
 * decider keeps the caller's source mapped until thi_sup_free. */
int thi_sup_copy(struct th_system *sys, th_ctx_t *ctx,
                 const th_supervision_t *in, th_supervision_t **out,
                 th_diag_t *d);
void thi_sup_free(th_supervision_t *sup);   /* NULL-safe */
int thi_sup_set(th_ctx_t *ctx, const th_supervision_t *sup);

#endif /* TH_HOST_FEATURES_H */
