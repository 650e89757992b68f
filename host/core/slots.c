/*
 * host/core/slots.c — the slot table (type-stable chunks, a free list), start waits,
 * the per-slot extension, and worker contexts.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/core/core_int.h"
#include "host/core/mailbox.h"

/* ---- Slot table ---------------------------------------------------------------- */

#define CHUNK_SLOTS (1u << THI_CHUNK_SHIFT)

int
thi_slots_init(struct th_system *sys)
{
    pthread_mutex_init(&sys->slots_lock, NULL);
    return 0;
}

static void
slot_init_fresh(thi_slot_t *slot, uint32_t id)
{
    memset(slot, 0, sizeof *slot);
    slot->id = id;
    atomic_init(&slot->stub.next, NULL);
    slot->tail = &slot->stub;
    atomic_init(&slot->head, (uintptr_t)&slot->stub | 1);
}

int
thi_slot_alloc(struct th_system *sys, thi_slot_t **out, uint16_t kind)
{
    pthread_mutex_lock(&sys->slots_lock);
    thi_slot_t *slot = sys->free_slots;
    /* inboxes and actors never share a slot: stale mail stays typed */
    thi_slot_t **pp = &sys->free_slots;
    while (slot && slot->kind != kind) {
        pp = &slot->u.free_next;
        slot = slot->u.free_next;
    }
    if (slot) {
        *pp = slot->u.free_next;
        slot->u.free_next = NULL;
    } else {
        uint32_t id = atomic_load_explicit(&sys->n_slots, memory_order_relaxed);
        uint32_t c = id >> THI_CHUNK_SHIFT;
        if (c >= THI_MAX_CHUNKS) {
            pthread_mutex_unlock(&sys->slots_lock);
            return TH_ELIMIT;
        }
        thi_slot_t *chunk =
            atomic_load_explicit(&sys->chunks[c], memory_order_relaxed);
        if (chunk == NULL) {
            chunk = aligned_alloc(64, sizeof(thi_slot_t) * CHUNK_SLOTS);
            if (chunk == NULL) {
                pthread_mutex_unlock(&sys->slots_lock);
                return TH_ENOMEM;
            }
            /* release: lookups that see n_slots see an initialised chunk */
            atomic_store_explicit(&sys->chunks[c], chunk, memory_order_release);
        }
        slot = &chunk[id & (CHUNK_SLOTS - 1)];
        slot_init_fresh(slot, id);
        atomic_store_explicit(&sys->n_slots, id + 1, memory_order_release);
    }
    slot->kind = kind;
    uint64_t nonce = thi_random64();
    atomic_store_explicit(&slot->nonce, nonce, memory_order_release);
    pthread_mutex_unlock(&sys->slots_lock);
    *out = slot;
    return 0;
}

void
thi_slot_release(struct th_system *sys, thi_slot_t *slot)
{
    pthread_mutex_lock(&sys->slots_lock);
    atomic_store_explicit(&slot->nonce, 0, memory_order_release);
    slot->u.free_next = sys->free_slots;
    sys->free_slots = slot;
    pthread_mutex_unlock(&sys->slots_lock);
}

void
thi_start_wait_answer(thi_start_wait_t *w, bool started)
{
    pthread_mutex_lock(&w->lock);
    w->done = true;
    w->started = started;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    thi_start_wait_put(w);
}

void
thi_start_wait_put(thi_start_wait_t *w)
{
    /* acq_rel: the last holder sees the other's writes before freeing */
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
    }
}

void
thi_env_args_free(thi_env_t *env)
{
    if (env->kind == THI_ENV_START) {
        thi_start_args_t a;
        memcpy(&a, env->in.bytes, sizeof a);
        free(a.name);
        thi_start_extra_free(a.x);
    } else if (env->kind == THI_ENV_START_PROBE) {
        /* undeliverable: the actor is already gone */
        thi_start_wait_t *w;
        memcpy(&w, env->in.bytes, sizeof w);
        thi_start_wait_answer(w, false);
    }
}

void
thi_slots_fini(struct th_system *sys)
{
    uint32_t n = atomic_load(&sys->n_slots);
    for (uint32_t id = 0; id < n; id++) {
        thi_slot_t *slot = thi_slot_get(sys, id);
        thi_node_t *node;
        while ((node = thi_mq_pop(slot)) != NULL) {
            if (node == &slot->stub)
                continue;
            thi_env_t *env = (thi_env_t *)node;
            thi_env_args_free(env);
            thi_env_free(env);
        }
        const thi_class_t *cls = atomic_load(&slot->cls);
        if (cls && slot->kind == THI_SLOT_ACTOR) {
            /* still alive after a timed-out shutdown: reclaim memory only;
             * its code may be wedged, so no callback runs here */
            free(slot->state);
            free(slot->u.name);
        }
        thi_children_free(slot->children);
        if (slot->inbox)
            thi_inbox_free(slot->inbox);
    }
    for (uint32_t c = 0; c < THI_MAX_CHUNKS; c++)
        free(atomic_load(&sys->chunks[c]));
    pthread_mutex_destroy(&sys->slots_lock);
}


void
thi_start_extra_free(thi_start_extra_t *x)
{
    if (x == NULL)
        return;
    for (unsigned i = 0; i < thi_n_features; i++)
        if (x->feat[i] && thi_features[i]->extra_free)
            thi_features[i]->extra_free(x->feat[i]);
    free(x);
}

thi_slot_ext_t *
thi_slot_ext(thi_slot_t *slot)
{
    if (slot->ext == NULL)
        slot->ext = calloc(1, sizeof *slot->ext);
    return slot->ext;
}

void
thi_ctx_init(th_ctx_t *ctx, struct th_system *sys, thi_worker_t *w)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->pub.magic = THI_CTX_MAGIC;
    ctx->pub.api = &thi_host_api;
    ctx->sys = sys;
    ctx->worker = w;
}

const thi_type_t *thi_t_exit, *thi_t_child_exited, *thi_t_status_req,
    *thi_t_dead_envelope, *thi_t_validated, *thi_t_poison;

const char *thi_own_types[THI_FEATURES_MAX];

void
thi_core_types_init(void)
{
    thi_t_exit = thi_type_builtin(TH_MSG_EXIT_REQUEST);
    thi_t_child_exited = thi_type_builtin(TH_MSG_CHILD_EXITED);
    thi_t_status_req = thi_type_builtin(TH_MSG_STATUS_REQ);
    thi_t_dead_envelope = thi_type_builtin(TH_MSG_DEAD_ENVELOPE);
    thi_t_validated = thi_type_builtin(TH_MSG_VALIDATED_SOURCE);
    thi_t_poison = thi_type_builtin(TH_MSG_POISON);
    for (unsigned i = 0; i < thi_n_features; i++)
        if (thi_features[i]->own_type)
            thi_own_types[i] = thi_type_builtin(thi_features[i]->own_type)->name;
}

/* The system's own address is its root slot's. */
void
th_system_address_of(th_system_t *sys, th_addr_t *out)
{
    thi_slot_addr(sys, sys->root, sys->root->live_nonce, out);
}
