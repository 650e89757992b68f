/*
 * host/core/core_int.h — what the files of host/core share among
 * themselves and nobody else: the children set, the name table's entries,
 * the runtime's own message types, and the lifecycle steps the run loop
 * calls. All of it runs in the context that runs the slot unless said.
 */
#ifndef TH_HOST_CORE_INT_H
#define TH_HOST_CORE_INT_H

#include <time.h>

#include "host/core/runtime.h"
#include "host/core/feature.h"

/* Data read on every message: hidden, so this -fPIC library reaches it
 * PC-relative rather than through the GOT. */
#define THI_HIDDEN __attribute__((visibility("hidden")))

/* slots.c: the runtime's types, pre-interned once (thi_root_init) */
extern const thi_type_t *thi_t_exit THI_HIDDEN, *thi_t_child_exited THI_HIDDEN,
    *thi_t_status_req THI_HIDDEN, *thi_t_dead_envelope THI_HIDDEN,
    *thi_t_validated THI_HIDDEN, *thi_t_poison THI_HIDDEN;
void thi_core_types_init(void);
/* The interned own_type of each feature (NULL: none), by feature id. */
extern const char *thi_own_types[THI_FEATURES_MAX] THI_HIDDEN;
/* Release what an undeliverable runtime envelope carries (START args,
 * a start probe's waiter); the envelope itself stays the caller's. */
void thi_env_args_free(thi_env_t *env);

/* status.c: the systems the SIGUSR1 status dump covers (th_system_create /
 * destroy). */
void thi_status_dump_register(struct th_system *sys);
void thi_status_dump_unregister(struct th_system *sys);

/* children.c: a parent's set of (slot, nonce) */
struct thi_child_ent {
    thi_slot_t *slot;
    uint64_t nonce;
};
void thi_children_free(thi_children_t *c);
int thi_children_add(thi_children_t **pc, thi_slot_t *slot, uint64_t nonce);
bool thi_children_remove(thi_children_t *c, const thi_slot_t *slot,
                         uint64_t nonce);
uint32_t thi_children_count(const thi_children_t *c);
/* In creation order (slot ids); free() the result. NULL with *n = 0 when
 * there are none or memory ran out. */
struct thi_child_ent *thi_children_sorted(const thi_children_t *c,
                                          uint32_t *n);

/* names.c: entries of sys->names (names_lock) */
typedef struct thi_name_ent {
    struct thi_name_ent *next;
    th_addr_t addr;
    char name[];
} thi_name_ent_t;
uint32_t thi_names_bucket(const char *name);
void thi_names_remove(struct th_system *sys, const char *name,
                      const th_addr_t *addr);
bool thi_addr_live(struct th_system *sys, const th_addr_t *a);
bool thi_valid_global_name(const char *s);

/* deliver.c: queue a runtime operation of `kind` to `target`'s current
 * incarnation, with an address argument (or none) */
/* Make *env a runtime operation of `kind` with `a` copied inline (the
 * caller has room for alen <= THI_ENV_INLINE); deliver.c. */
void thi_env_fill_internal(thi_env_t *env, enum thi_env_kind kind,
                           const void *a, size_t alen);
int thi_push_op(struct th_system *sys, thi_slot_t *target,
                enum thi_env_kind kind, const th_addr_t *arg);

/* lifecycle.c: steps the run loop takes */
void thi_handle_start(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);
void thi_begin_exit(th_ctx_t *ctx, thi_slot_t *slot, bool recursive);
void thi_finalize(th_ctx_t *ctx, thi_slot_t *slot);
bool thi_exit_is_recursive(const thi_env_t *env);
void thi_reply_actor_status(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);

/* After a callback (init or a handler): the features that asked to hear
 * it (a watch lasts until the next callback). */
void thi_features_after_callback_run(th_ctx_t *ctx, thi_slot_t *slot);
static inline void
thi_features_after_callback(th_ctx_t *ctx, thi_slot_t *slot)
{
    if (__builtin_expect(ctx->callback_hook ||
                             (slot->ext &&
                              (slot->ext->hooks & THI_HOOK_CALLBACK)), 0))
        thi_features_after_callback_run(ctx, slot);
}


/* handoff.c */
void thi_handle_handoff(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);
void thi_handle_import(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);

/* root.c: the root's messages (consumes env) */
void thi_root_handle(th_ctx_t *ctx, thi_slot_t *root, thi_env_t *env);

#endif /* TH_HOST_CORE_INT_H */
