/*
 * host/core/notify.h — a registry of addresses to notify: dead-letter
 * handlers, watchers of loaded sources. A set (an address is in it once),
 * unordered. Not locked itself: its owner's lock guards every call, so an
 * owner can change it and its own state as one step.
 */
#ifndef TH_HOST_CORE_NOTIFY_H
#define TH_HOST_CORE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "thespian/actor.h"

typedef struct thi_notify {
    th_addr_t *v;
    size_t n, cap;
} thi_notify_t;

/* 0 (also when `a` is there already) or TH_ENOMEM (unchanged). */
int thi_notify_add(thi_notify_t *r, const th_addr_t *a);
/* True when `a` was there. */
bool thi_notify_remove(thi_notify_t *r, const th_addr_t *a);
/* A copy of the addresses, to send to once the lock is released (a send
 * may re-enter the owner): malloc'd, *n set; NULL with *n = 0 when there
 * are none or memory ran out. */
th_addr_t *thi_notify_copy(const thi_notify_t *r, size_t *n);
void thi_notify_fini(thi_notify_t *r);

#endif /* TH_HOST_CORE_NOTIFY_H */
