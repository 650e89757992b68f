/*
 * host/core/mailbox.h — an actor's mailbox: an intrusive MPSC queue with a stub, after
 * Vyukov, embedded in its slot. Inline: every send and every message
 * handled runs it. Producers: any thread; consumer: the context running
 * the slot.
 */
#ifndef TH_HOST_CORE_MAILBOX_H
#define TH_HOST_CORE_MAILBOX_H

#include "host/core/runtime.h"

/* ---- Mailbox: intrusive MPSC queue with a stub, after Vyukov. The low bit
 * of `head` means "empty and not scheduled": the push that clears it is the
 * one that must schedule the slot, so an actor is never scheduled twice. */

static inline bool
thi_mq_push(thi_slot_t *slot, thi_node_t *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* acq_rel: orders the node's contents before it becomes reachable */
    uintptr_t prev = atomic_exchange_explicit(&slot->head, (uintptr_t)n,
                                              memory_order_acq_rel);
    thi_node_t *p = (thi_node_t *)(prev & ~(uintptr_t)1);
    /* release: pairs with the acquire load of next in mq_pop */
    atomic_store_explicit(&p->next, n, memory_order_release);
    return (prev & 1) != 0;
}

static inline thi_node_t *
thi_mq_pop(thi_slot_t *slot)
{
    thi_node_t *tail = slot->tail;
    thi_node_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &slot->stub) {
        if (next == NULL)
            return NULL;
        slot->tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        slot->tail = next;
        return tail;
    }
    uintptr_t head = atomic_load_explicit(&slot->head, memory_order_acquire);
    if ((thi_node_t *)(head & ~(uintptr_t)1) != tail)
        return NULL; /* a producer is between its exchange and its link */
    thi_mq_push(slot, &slot->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        slot->tail = next;
        return tail;
    }
    return NULL;
}

/* Deschedule when truly empty; false means messages arrived (or are being
 * linked) and the slot must stay scheduled. */
static inline bool
thi_mq_mark_empty(thi_slot_t *slot)
{
    if (slot->tail != &slot->stub ||
        atomic_load_explicit(&slot->stub.next, memory_order_acquire) != NULL)
        return false;
    uintptr_t expect = (uintptr_t)&slot->stub;
    return atomic_compare_exchange_strong_explicit(
        &slot->head, &expect, expect | 1, memory_order_acq_rel,
        memory_order_relaxed);
}

#endif
