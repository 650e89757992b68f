/*
 * host/core/runtime.h — what host/core offers the rest of the runtime (features,
 * sources, the API table): delivery and sends, dead letters, creating
 * actors, global names, the lifecycle steps a feature may take, status.
 */
#ifndef TH_HOST_CORE_RUNTIME_H
#define TH_HOST_CORE_RUNTIME_H

#include <jansson.h>

#include "host/core/system.h"

int thi_deliver(struct th_system *sys, const th_addr_t *to, thi_env_t *env);
void thi_dead_letter(struct th_system *sys, thi_env_t *env,
                     const th_addr_t *target, const char *why);
/* The actor in `slot` (its own context) starts or stops hearing dead
 * letters as DeadEnvelope; 0 or TH_ENOMEM. */
int thi_dead_letters_handle(struct th_system *sys, thi_slot_t *slot, bool on);
/* Its incarnation ends: no more DeadEnvelopes for it. */
void thi_dead_letters_forget(struct th_system *sys, thi_slot_t *slot);
/* A copy of `data` as a user message of `type` from `from` (NULL: none) to
 * `to`, or to the holder of `name` when `to` is NULL. Reserved types are
 * refused (TH_ERESERVED). `origin` is THI_TYPE_ACTOR or THI_TYPE_OUTSIDE
 * (see thi_type_for_send). Returns as th_send. */
int thi_send_user(struct th_system *sys, const th_addr_t *from,
                  const th_addr_t *to, const char *name, const char *type,
                  const void *data, size_t len, unsigned origin);
/* Queue a runtime operation of `kind` to `to`, its arguments (a then b,
 * at most THI_ENV_INLINE bytes in all) copied inline. Returns as
 * thi_deliver (an undeliverable one is released as a dead letter). */
int thi_send_internal(struct th_system *sys, const th_addr_t *to,
                      enum thi_env_kind kind, const void *a, size_t alen,
                      const void *b, size_t blen);
int thi_send_system(struct th_system *sys, const th_addr_t *from,
                    const th_addr_t *to, const char *type, const void *data,
                    size_t len);
/* createActor from an actor (ctx) or from outside (ctx NULL); d (may be
 * NULL) says why a refusal was made. */
int thi_create(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
               const char *class_name, const th_create_opts_t *opts,
               th_diag_t *d);
/* Resolve `name` and queue `env` to its holder as one step (names_lock).
 * Consumes env except on TH_EFULL. */
int thi_send_name(struct th_system *sys, const char *name, thi_env_t *env);
int thi_rebind_name(struct th_system *sys, const char *name,
                    const th_addr_t *to);
void thi_start_wait_answer(thi_start_wait_t *w, bool started);
void thi_start_wait_put(thi_start_wait_t *w);
int thi_handoff(struct th_system *sys, const th_addr_t *from,
                const th_addr_t *to, const th_addr_t *requester);
/* Run up to `batch` messages of a scheduled slot; returns true when the
 * slot still has work and must be requeued. */
bool thi_slot_run(th_ctx_t *ctx, thi_slot_t *slot, uint32_t batch);
void thi_ctx_init(th_ctx_t *ctx, struct th_system *sys, thi_worker_t *w);
void thi_root_init(struct th_system *sys);
void thi_request_shutdown(struct th_system *sys);
/* Log every actor still alive (address, class, what its callback is doing
 * if a worker runs it); returns how many. For the shutdown bound. */
size_t thi_report_running(struct th_system *sys);
void thi_actor_status(struct th_system *sys, thi_slot_t *slot,
                      uint32_t in_turn, json_t *into);
/* The slot's class name copied under classes_lock, for threads that do
 * not run the slot (status, the shutdown report); "" when it holds none. */
void thi_slot_qname(struct th_system *sys, thi_slot_t *slot, char *buf,
                    size_t size);
void thi_names_to_json(struct th_system *sys, json_t *into);
#ifdef THI_FAULT_INJECTION
/* Test builds only: when set, the next create fails to queue its START
 * (as on out of memory) and must undo everything (cleared when used). */
extern _Atomic int thi_fault_start_fail;
/* ... and each finalize sleeps this long just before it clears cls */
extern _Atomic int thi_fault_finalize_delay_ms;
/* ... and each write of the version record sleeps this long first */
extern _Atomic int thi_fault_versions_write_delay_ms;
#endif
void thi_names_fini(struct th_system *sys);

/* Helpers for the feature files (troupe, supervision, capabilities). All
 * take the ctx running `slot` unless said otherwise. */
thi_slot_ext_t *thi_slot_ext(thi_slot_t *slot);  /* get or make; NULL: ENOMEM */
void thi_self_addr(th_ctx_t *ctx, thi_slot_t *slot, th_addr_t *out);
void thi_actor_exit(th_ctx_t *ctx, thi_slot_t *slot, bool recursive);
/* Thespian's restart: teardown, zeroed state, init (become reset). On an
 * init failure the actor exits; returns that code. */
int thi_actor_restart(th_ctx_t *ctx, thi_slot_t *slot);
void thi_send_poison(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env,
                     const char *details);
/* Run `fn` in the context of the incarnation at `to` (any thread). */
int thi_send_op(struct th_system *sys, const th_addr_t *to, thi_op_fn fn,
                const void *args, size_t len);
static inline const void *
thi_op_args(const thi_env_t *env)
{
    return env->in.bytes + sizeof(thi_op_fn);
}
/* A child of `parent_slot` of the resolved class `cls` (its source held
 * by the caller, released here on failure); x taken. */
int thi_create_resolved(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
                        const thi_class_t *cls, thi_slot_t *parent_slot,
                        thi_start_extra_t *x);
void thi_start_extra_free(thi_start_extra_t *x);
/* This actor's live children (sorted by slot id); free() the array. */
th_addr_t *thi_children_addrs(struct th_system *sys, thi_slot_t *slot,
                              uint32_t *n);

#endif /* TH_HOST_CORE_RUNTIME_H */
