/*
 * host/core/notify.c — registries of addresses to notify (notify.h).
 */
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "host/core/notify.h"
#include "thespian/actor.h"

static size_t
find(const thi_notify_t *r, const th_addr_t *a)
{
    size_t i = 0;
    while (i < r->n && !th_addr_eq(&r->v[i], a))
        i++;
    return i;
}

int
thi_notify_add(thi_notify_t *r, const th_addr_t *a)
{
    if (find(r, a) < r->n)
        return 0;
    if (THI_RESERVE(r->v, r->cap, r->n + 1, 4) != 0)
        return TH_ENOMEM;
    r->v[r->n++] = *a;
    return 0;
}

bool
thi_notify_remove(thi_notify_t *r, const th_addr_t *a)
{
    size_t i = find(r, a);
    if (i == r->n)
        return false;
    r->v[i] = r->v[--r->n];
    return true;
}

th_addr_t *
thi_notify_copy(const thi_notify_t *r, size_t *n)
{
    *n = 0;
    if (r->n == 0)
        return NULL;
    th_addr_t *v = malloc(r->n * sizeof *v);
    if (v == NULL)
        return NULL;
    memcpy(v, r->v, r->n * sizeof *v);
    *n = r->n;
    return v;
}

void
thi_notify_fini(thi_notify_t *r)
{
    free(r->v);
    r->v = NULL;
    r->n = r->cap = 0;
}
