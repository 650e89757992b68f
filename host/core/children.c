/*
 * host/core/children.c — an actor's children: an open-addressing set of (slot, nonce),
 * owned by the parent's context.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/core/runtime.h"
#include "host/core/core_int.h"

/* ---- Children: an open-addressing set of (slot, nonce), owned by the
 * parent's context; backward-shift deletion keeps probes short. */

struct thi_children {
    uint32_t cap, n;
    struct thi_child_ent e[];
};

void
thi_children_free(thi_children_t *c)
{
    free(c);
}

int
thi_children_add(thi_children_t **pc, thi_slot_t *slot, uint64_t nonce)
{
    thi_children_t *c = *pc;
    if (c == NULL || (c->n + 1) * 4 > c->cap * 3) {
        uint32_t cap = c ? c->cap * 2 : 8;
        thi_children_t *nc = calloc(1, sizeof *nc + cap * sizeof nc->e[0]);
        if (nc == NULL)
            return TH_ENOMEM;
        nc->cap = cap;
        for (uint32_t i = 0; c && i < c->cap; i++)
            if (c->e[i].slot)
                thi_children_add(&nc, c->e[i].slot, c->e[i].nonce);
        free(c);
        *pc = c = nc;
    }
    uint32_t i = (uint32_t)nonce & (c->cap - 1);
    while (c->e[i].slot)
        i = (i + 1) & (c->cap - 1);
    c->e[i].slot = slot;
    c->e[i].nonce = nonce;
    c->n++;
    return 0;
}

bool
thi_children_remove(thi_children_t *c, const thi_slot_t *slot, uint64_t nonce)
{
    if (c == NULL || c->n == 0)
        return false;
    uint32_t mask = c->cap - 1, i = (uint32_t)nonce & mask;
    while (c->e[i].slot) {
        if (c->e[i].slot == slot && c->e[i].nonce == nonce) {
            c->n--;
            uint32_t j = i;
            for (;;) { /* shift later entries of the cluster back */
                j = (j + 1) & mask;
                if (c->e[j].slot == NULL)
                    break;
                uint32_t home = (uint32_t)c->e[j].nonce & mask;
                if (((j - home) & mask) >= ((j - i) & mask)) {
                    c->e[i] = c->e[j];
                    i = j;
                }
            }
            c->e[i].slot = NULL;
            c->e[i].nonce = 0;
            return true;
        }
        i = (i + 1) & mask;
    }
    return false;
}

uint32_t
thi_children_count(const thi_children_t *c)
{
    return c ? c->n : 0;
}

static int
by_slot_id(const void *a, const void *b)
{
    const struct thi_child_ent *x = a, *y = b;
    return (x->slot->id > y->slot->id) - (x->slot->id < y->slot->id);
}

/* The children in creation order (slot ids are handed out in order), so
 * exits and shutdown are deterministic in synchronous mode. Returned owned
 * (free); NULL with *n = 0 when there are none or memory ran out. */
struct thi_child_ent *
thi_children_sorted(const thi_children_t *c, uint32_t *n)
{
    *n = 0;
    if (c == NULL || c->n == 0)
        return NULL;
    struct thi_child_ent *v = malloc(c->n * sizeof *v);
    if (v == NULL)
        return NULL;
    for (uint32_t i = 0; i < c->cap; i++)
        if (c->e[i].slot)
            v[(*n)++] = c->e[i];
    qsort(v, *n, sizeof *v, by_slot_id);
    return v;
}

th_addr_t *
thi_children_addrs(struct th_system *sys, thi_slot_t *slot, uint32_t *n)
{
    struct thi_child_ent *v = thi_children_sorted(slot->children, n);
    if (v == NULL)
        return NULL;
    th_addr_t *a = malloc(*n * sizeof *a);
    for (uint32_t i = 0; a && i < *n; i++)
        thi_slot_addr(sys, v[i].slot, v[i].nonce, &a[i]);
    if (a == NULL)
        *n = 0;
    free(v);
    return a;
}
