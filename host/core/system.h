/*
 * host/core/system.h — the system and worker contexts (th_system_t, th_ctx_t), the slot
 * table, the scheduler, inboxes. The struct fields under a lock say which.
 */
#ifndef TH_HOST_CORE_SYSTEM_H
#define TH_HOST_CORE_SYSTEM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/core/notify.h"
#include "host/core/slot.h"
#include "host/host.h"
#include "base/diag.h"

#define THI_CTX_MAGIC 0x43545831u    /* "CTX1" */
#define THI_CHUNK_SHIFT 12           /* slots per chunk: 4096 */
#define THI_MAX_CHUNKS 4096          /* => at most 16 M actors per system */

/* ---- Workers and the system ------------------------------------------------ */

typedef struct thi_worker thi_worker_t;
typedef struct thi_sched thi_sched_t;
typedef struct thi_timers thi_timers_t;

struct th_ctx {
    struct th_ctx_pub pub;         /* first: what plugins see */
    struct th_system *sys;
    thi_worker_t *worker;          /* NULL in synchronous mode */
    thi_slot_t *slot;              /* actor whose callback runs */
    thi_env_t *cur;                /* message being handled, or NULL */
    uint32_t popped;               /* messages taken in this turn so far */
    atomic_uint_fast64_t messages; /* handed to actors through this ctx */
    bool failed_reason_set;
    bool callback_hook;            /* a feature asked to hear the end of
                                      this callback (THI_HOOK_CALLBACK) */
    uint64_t msg_tag;              /* a feature's tag for the message being
                                      handled (a timer's id), else 0 */
    char fail_reason[256];
    /* for the shutdown report, read by other threads: the slot this ctx
     * runs and what its callback is doing (an interned message type or a
     * callback's name; never freed), else NULL */
    _Atomic(thi_slot_t *) busy;
    _Atomic(const char *) busy_what;
    /* a carried (uninterned) type's copy for busy_what: the message frees
     * its own when the handler returns. The last byte stays NUL, so a
     * reader racing a rewrite sees a bounded, maybe mixed, string */
    char busy_type[64];
};

struct th_system {
    uint64_t id;                   /* random: names this system in addrs */
    th_system_opts_t opts;
    char name[64];

    /* slot table */
    _Atomic(thi_slot_t *) chunks[THI_MAX_CHUNKS];
    atomic_uint n_slots;           /* ids handed out so far */
    pthread_mutex_t slots_lock;    /* free list, growth */
    thi_slot_t *free_slots;
    atomic_uint_fast64_t live_actors;

    thi_slot_t *root;
    _Atomic int64_t stop_began_ns; /* when shutdown was requested; 0 before */

    /* Guards every actor's slot->cls against its class being freed: a
     * thread that reads another slot's class (status, the shutdown report)
     * copies what it needs under it, and the provider frees a class (an
     * unmapped source's) only under it. That lifetime is the core's
     * concern, so the lock lives here; the provider also guards its own
     * state with it (host/sources/internal.h says what). */
    pthread_mutex_t classes_lock;
    /* where classes come from (provider.h): host/sources' state, made by
     * its init; the core never looks inside */
    struct thi_sources *src;

    /* global names */
    pthread_mutex_t names_lock;
    struct thi_name_ent *names[1024];

    /* dead letters */
    pthread_mutex_t dl_lock;
    thi_notify_t dl_handlers;      /* under dl_lock */
    atomic_uint_fast64_t dead_letters;

    thi_sched_t *sched;
    void *feat[THI_FEATURES_MAX];  /* each feature's system state, by id */

    /* shutdown */
    pthread_mutex_t state_lock;
    pthread_cond_t state_cond;
    atomic_bool stopping;
    bool root_done;                /* every top-level actor has exited */
    bool destroyed;
};


/* slots.c: the slot table */
int thi_slots_init(struct th_system *sys);
void thi_slots_fini(struct th_system *sys);

/* thi_slot_get and thi_slot_addr run on every send and every message
 * handled: inline here, since in this -fPIC library GCC does not inline a
 * function with external linkage even within its own file. */
static inline thi_slot_t *
thi_slot_get(struct th_system *sys, uint64_t id)
{
    if (id >= atomic_load_explicit(&sys->n_slots, memory_order_acquire))
        return NULL;
    thi_slot_t *chunk = atomic_load_explicit(
        &sys->chunks[id >> THI_CHUNK_SHIFT], memory_order_acquire);
    return chunk ? &chunk[id & ((1u << THI_CHUNK_SHIFT) - 1)] : NULL;
}

static inline void
thi_slot_addr(struct th_system *sys, const thi_slot_t *slot, uint64_t nonce,
              th_addr_t *out)
{
    out->opaque[0] = sys->id;
    out->opaque[1] = slot->id;
    out->opaque[2] = nonce;
}

int thi_slot_alloc(struct th_system *sys, thi_slot_t **out, uint16_t kind);
void thi_slot_release(struct th_system *sys, thi_slot_t *slot);

/* sched.c */
int thi_sched_create(struct th_system *sys, thi_sched_t **out);
void thi_sched_stop(thi_sched_t *sched);
void thi_sched_destroy(thi_sched_t *sched);
uint32_t thi_sched_stop_within(thi_sched_t *sched, int timeout_ms);
const char *thi_sched_busy(thi_sched_t *sched, const thi_slot_t *slot);
void thi_sched_push(struct th_system *sys, thi_slot_t *slot);
long thi_sched_run_sync(struct th_system *sys, int timeout_ms,
                        bool (*until)(void *), void *arg);
/* Synchronous mode: run the system after a send from outside; returns rc */
int thi_ran_after_send(struct th_system *sys, int rc);
uint32_t thi_sched_workers(thi_sched_t *sched);
uint64_t thi_sched_messages(thi_sched_t *sched);

/* api.c */
extern const struct th_host_api thi_host_api;


/* inbox (inbox.c) */
void thi_inbox_deliver(thi_slot_t *slot, thi_env_t *env);
void thi_inbox_free(struct th_inbox *in);

#endif /* TH_HOST_CORE_SYSTEM_H */
