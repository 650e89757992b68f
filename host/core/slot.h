/*
 * host/core/slot.h — an actor slot: the schedulable unit holding the mailbox, one
 * incarnation at a time, and what a creator hands a new incarnation.
 */
#ifndef TH_HOST_CORE_SLOT_H
#define TH_HOST_CORE_SLOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/core/class.h"
#include "host/core/msg.h"

/* ---- Actor slots ------------------------------------------------------------
 * A slot is permanent once allocated (type-stable memory): addresses carry
 * the slot id and the nonce of one incarnation, so a stale address finds a
 * slot whose nonce differs and the message becomes a dead letter. */
enum thi_slot_kind { THI_SLOT_ACTOR = 0, THI_SLOT_ROOT, THI_SLOT_INBOX };

typedef struct thi_children thi_children_t;

#define THI_FEATURES_MAX 8            /* see host/core/feature.h */

/* Per-actor data of the rarer features, allocated on first use (most
 * actors never have one) and freed when the incarnation ends. `feat`
 * holds each feature's own state by feature id; `hooks` says which
 * per-message hooks (THI_HOOK_*, core/feature.h) some feature armed for
 * this actor, so the message path tests one word. */
typedef struct thi_slot_ext {
    th_addr_t forward;                /* handoff.c: after a handoff ... */
    bool forwarding;                  /* ... messages go to `forward` */
    uint32_t hooks;                   /* THI_HOOK_* */
    void *feat[THI_FEATURES_MAX];
} thi_slot_ext_t;

/* What a creator hands a new incarnation besides its class (START args):
 * each feature's part by feature id, owned by the START envelope until
 * the feature's take hook moves it into the slot. */
typedef struct thi_start_extra {
    void *feat[THI_FEATURES_MAX];
} thi_start_extra_t;

typedef struct thi_slot {
    /* line 0: written by producers */
    _Atomic(uintptr_t) head;       /* last pushed node | 1 when unscheduled */
    atomic_uint_fast64_t pushed;   /* messages pushed (approximate depth) */
    _Atomic uint64_t nonce;        /* current incarnation; 0 = free */
    uint32_t id;
    uint16_t kind;                 /* enum thi_slot_kind */
    uint16_t reserved0;
    struct th_inbox *inbox;        /* kind == INBOX */
    char pad0_[64 - 40];
    /* line 1: the consumer (the context running the slot) */
    thi_node_t *tail;
    thi_node_t stub;
    atomic_uint_fast64_t processed;
    _Atomic(const thi_class_t *) cls;  /* NULL when no live incarnation */
    void *state;
    th_receive_fn become;
    struct thi_slot *sched_next;   /* global run queue link */
    thi_children_t *children;
    /* line 2 */
    th_addr_t parent;
    uint64_t live_nonce;           /* nonce of the running incarnation */
    union {
        char *name;                /* global name (live) */
        struct thi_slot *free_next;/* free list (free) */
    } u;
    uint32_t flags;                /* THI_SLOT_* */
    uint32_t n_restarts;
    int64_t started_ns;
    thi_slot_ext_t *ext;           /* rarer features; NULL for most */
} thi_slot_t;

#define THI_SLOT_EXITING 1u        /* exit begun, waiting for children */
#define THI_SLOT_DEADLETTERS 2u    /* registered dead-letter handler */
#define THI_SLOT_STOPPING 4u       /* root: shutdown in progress */
#define THI_SLOT_NOTEARDOWN 8u     /* init failed: teardown must not run */
#define THI_SLOT_NOCODE 16u        /* runs none of its class's code (a
                                      feature routes its messages) */

_Static_assert(sizeof(thi_slot_t) <= 192, "slot must stay within 3 lines");

/* Arguments of THI_ENV_START, carried inline in the envelope. */
typedef struct thi_start_args {
    const thi_class_t *cls;
    th_addr_t parent;
    char *name;                    /* taken: global name or NULL */
    thi_start_extra_t *x;          /* taken: NULL or extras */
} thi_start_args_t;
_Static_assert(sizeof(thi_start_args_t) <= THI_ENV_INLINE, "start args");

_Static_assert(sizeof(thi_handoff_args_t) <= THI_ENV_INLINE, "handoff args");

#endif /* TH_HOST_CORE_SLOT_H */
