/*
 * host/actor.c — actors: the slot table, mailboxes, delivery, and the
 * lifecycle run in each actor's own context (start, receive with restart and
 * PoisonMessage, exit with children first, ChildActorExited), plus global
 * names and dead letters. Everything that changes an actor happens while its
 * slot is scheduled on exactly one thread, so actor state needs no locks.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/rt.h"
#ifdef THI_FAULT_INJECTION
#include <unistd.h>
#endif

/* ---- Mailbox: intrusive MPSC queue with a stub, after Vyukov. The low bit
 * of `head` means "empty and not scheduled": the push that clears it is the
 * one that must schedule the slot, so an actor is never scheduled twice. */

static bool
mq_push(thi_slot_t *slot, thi_node_t *n)
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

static thi_node_t *
mq_pop(thi_slot_t *slot)
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
    mq_push(slot, &slot->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        slot->tail = next;
        return tail;
    }
    return NULL;
}

/* Deschedule when truly empty; false means messages arrived (or are being
 * linked) and the slot must stay scheduled. */
static bool
mq_mark_empty(thi_slot_t *slot)
{
    if (slot->tail != &slot->stub ||
        atomic_load_explicit(&slot->stub.next, memory_order_acquire) != NULL)
        return false;
    uintptr_t expect = (uintptr_t)&slot->stub;
    return atomic_compare_exchange_strong_explicit(
        &slot->head, &expect, expect | 1, memory_order_acq_rel,
        memory_order_relaxed);
}

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

static void
free_env_args(thi_env_t *env)
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

static void children_free(thi_children_t *c);

void
thi_slots_fini(struct th_system *sys)
{
    uint32_t n = atomic_load(&sys->n_slots);
    for (uint32_t id = 0; id < n; id++) {
        thi_slot_t *slot = thi_slot_get(sys, id);
        thi_node_t *node;
        while ((node = mq_pop(slot)) != NULL) {
            if (node == &slot->stub)
                continue;
            thi_env_t *env = (thi_env_t *)node;
            free_env_args(env);
            thi_env_free(env);
        }
        const thi_class_t *cls = atomic_load(&slot->cls);
        if (cls && slot->kind == THI_SLOT_ACTOR) {
            /* still alive after a timed-out shutdown: reclaim memory only;
             * its code may be wedged, so no callback runs here */
            free(slot->state);
            free(slot->u.name);
        }
        children_free(slot->children);
        if (slot->inbox)
            thi_inbox_free(slot->inbox);
    }
    for (uint32_t c = 0; c < THI_MAX_CHUNKS; c++)
        free(atomic_load(&sys->chunks[c]));
    pthread_mutex_destroy(&sys->slots_lock);
}

/* ---- Children: an open-addressing set of (slot, nonce), owned by the
 * parent's context; backward-shift deletion keeps probes short. */

struct thi_children {
    uint32_t cap, n;
    struct child_ent {
        thi_slot_t *slot;
        uint64_t nonce;
    } e[];
};

static void
children_free(thi_children_t *c)
{
    free(c);
}

static int
children_add(thi_children_t **pc, thi_slot_t *slot, uint64_t nonce)
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
                children_add(&nc, c->e[i].slot, c->e[i].nonce);
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

static bool
children_remove(thi_children_t *c, const thi_slot_t *slot, uint64_t nonce)
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

static uint32_t
children_count(const thi_children_t *c)
{
    return c ? c->n : 0;
}

static int
by_slot_id(const void *a, const void *b)
{
    const struct child_ent *x = a, *y = b;
    return (x->slot->id > y->slot->id) - (x->slot->id < y->slot->id);
}

/* The children in creation order (slot ids are handed out in order), so
 * exits and shutdown are deterministic in synchronous mode. Returned owned
 * (free); NULL with *n = 0 when there are none or memory ran out. */
static struct child_ent *
children_sorted(const thi_children_t *c, uint32_t *n)
{
    *n = 0;
    if (c == NULL || c->n == 0)
        return NULL;
    struct child_ent *v = malloc(c->n * sizeof *v);
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
    struct child_ent *v = children_sorted(slot->children, n);
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

void
thi_start_extra_free(thi_start_extra_t *x)
{
    if (x == NULL)
        return;
    free(x->requirements);
    thi_sup_free(x->sup_children);
    thi_sup_free(x->sup_self);
    free(x);
}

thi_slot_ext_t *
thi_slot_ext(thi_slot_t *slot)
{
    if (slot->ext == NULL)
        slot->ext = calloc(1, sizeof *slot->ext);
    return slot->ext;
}

static const thi_type_t *t_exit, *t_child_exited, *t_status_req,
    *t_dead_envelope, *t_validated, *t_timer, *t_poison;

static void
types_init(void)
{
    t_exit = thi_type_builtin(TH_MSG_EXIT_REQUEST);
    t_child_exited = thi_type_builtin(TH_MSG_CHILD_EXITED);
    t_status_req = thi_type_builtin(TH_MSG_STATUS_REQ);
    t_dead_envelope = thi_type_builtin(TH_MSG_DEAD_ENVELOPE);
    t_validated = thi_type_builtin(TH_MSG_VALIDATED_SOURCE);
    t_timer = thi_type_builtin(TH_MSG_TIMER);
    t_poison = thi_type_builtin(TH_MSG_POISON);
}
static pthread_once_t types_once = PTHREAD_ONCE_INIT;

/* ---- Dead letters ------------------------------------------------------------------- */

static void
log_dead_letter(struct th_system *sys, const thi_env_t *env,
                const th_addr_t *target, const char *why)
{
    /* at most ~20 lines a second: a flood must not become a log flood */
    static _Atomic int64_t window;
    static atomic_int in_window;
    int64_t now_s = thi_now_ns() / 1000000000;
    int64_t w = atomic_load_explicit(&window, memory_order_relaxed);
    if (w != now_s &&
        atomic_compare_exchange_strong(&window, &w, now_s))
        atomic_store(&in_window, 0);
    if (atomic_fetch_add(&in_window, 1) >= 20)
        return;
    char to[TH_ADDR_STRLEN], from[TH_ADDR_STRLEN];
    th_addr_to_string(target, to, sizeof to);
    th_addr_to_string(&env->msg.sender, from, sizeof from);
    thi_log(TH_LOG_WARNING, NULL, "dead letter: %s from %s to %s (%s)",
            env->msg.type, from, to, why);
    (void)sys;
}

void
thi_dead_letter(struct th_system *sys, thi_env_t *env,
                const th_addr_t *target, const char *why)
{
    if (env->kind != THI_ENV_USER) {
        free_env_args(env);
        thi_env_free(env);
        return;
    }
    /* An orphan adopted by the system may report to its old parent, which
     * is gone: the system is then the one that must hear it. */
    if (env->system && env->msg.type == t_child_exited->name &&
        !(target->opaque[0] == sys->id &&
          target->opaque[1] == sys->root->id)) {
        th_addr_t root;
        thi_slot_addr(sys, sys->root, sys->root->live_nonce, &root);
        thi_deliver(sys, &root, env);
        return;
    }
    atomic_fetch_add_explicit(&sys->dead_letters, 1, memory_order_relaxed);
    /* never wrap a DeadEnvelope again: a dead handler must not loop */
    bool forward = env->msg.type != t_dead_envelope->name;
    /* every registered handler gets it (a copy of the list: sending to a
     * handler that died meanwhile re-enters here, which takes dl_lock) */
    th_addr_t *handlers = NULL;
    size_t n = 0;
    if (forward) {
        pthread_mutex_lock(&sys->dl_lock);
        n = sys->n_dl_handlers;
        if (n && (handlers = malloc(n * sizeof *handlers)) != NULL)
            memcpy(handlers, sys->dl_handlers, n * sizeof *handlers);
        pthread_mutex_unlock(&sys->dl_lock);
        if (handlers == NULL)
            n = 0; /* out of memory: logged instead */
    }
    if (n == 0) {
        log_dead_letter(sys, env, target, why);
        thi_env_free(env);
        return;
    }
    char *body = thi_wrap_message_json(env, why, target);
    for (size_t i = 0; body && i < n; i++)
        thi_send_system(sys, target, &handlers[i], TH_MSG_DEAD_ENVELOPE, body,
                        strlen(body));
    free(body);
    free(handlers);
    thi_env_free(env);
}

/* ---- Delivery ------------------------------------------------------------------------ */

/* thi_deliver's body, inlined into thi_send_user (every send): built with
 * -fPIC, GCC never inlines a function with external linkage, since it
 * could be interposed. */
static inline int
deliver(struct th_system *sys, const th_addr_t *to, thi_env_t *env)
{
    if (to->opaque[0] != sys->id) {
        thi_dead_letter(sys, env, to,
                        th_addr_is_null(to) ? "null address"
                                            : "address of another system");
        return th_addr_is_null(to) ? TH_EADDR : TH_EDEAD;
    }
    thi_slot_t *slot = thi_slot_get(sys, to->opaque[1]);
    if (slot == NULL || to->opaque[2] == 0 ||
        atomic_load_explicit(&slot->nonce, memory_order_acquire) !=
            to->opaque[2]) {
        thi_dead_letter(sys, env, to, "no live actor at that address");
        return TH_EDEAD;
    }
    env->target_nonce = to->opaque[2];
    if (slot->kind == THI_SLOT_INBOX) {
        thi_inbox_deliver(slot, env);
        return 0;
    }
    uint64_t n = atomic_fetch_add_explicit(&slot->pushed, 1,
                                           memory_order_relaxed);
    if (!env->system) {
        uint64_t done = atomic_load_explicit(&slot->processed,
                                             memory_order_relaxed);
        /* signed: another sender's later message may already have been
         * processed, so done can pass n */
        if ((int64_t)(n - done) >= (int64_t)sys->opts.mailbox_limit) {
            atomic_fetch_sub_explicit(&slot->pushed, 1, memory_order_relaxed);
            return TH_EFULL; /* not consumed: the caller still owns env */
        }
    }
    if (mq_push(slot, &env->node))
        thi_sched_push(sys, slot);
    return 0;
}

int
thi_deliver(struct th_system *sys, const th_addr_t *to, thi_env_t *env)
{
    return deliver(sys, to, env);
}

int
thi_send_system(struct th_system *sys, const th_addr_t *from,
                const th_addr_t *to, const char *type, const void *data,
                size_t len)
{
    const thi_type_t *t = thi_type_builtin(type);
    thi_env_t *env;
    int rc = thi_env_new(&env, t, data, len);
    if (rc != 0)
        return rc;
    env->system = 1;
    if (from)
        env->msg.sender = *from;
    return thi_deliver(sys, to, env);
}

int
thi_send_user(struct th_system *sys, const th_addr_t *from,
              const th_addr_t *to, const char *name, const char *type,
              const void *data, size_t len, unsigned origin)
{
    if ((to == NULL && name == NULL) || (data == NULL && len > 0))
        return TH_EINVAL;
    if (len > sys->opts.max_payload)
        return TH_ETOOBIG;
    const thi_type_t *t;
    int rc = thi_type_for_send(&t, type, origin);
    if (rc != 0)
        return rc;
    thi_env_t *env;
    if (__builtin_expect(t == NULL, 0)) {
        /* a name the table does not hold (reserved ones always are) */
        rc = thi_env_new_named(&env, type, data ? data : "", len);
    } else {
        if (t->flags & THI_TYPE_RESERVED)
            return TH_ERESERVED;
        rc = thi_env_new(&env, t, data ? data : "", len);
    }
    if (rc != 0)
        return rc;
    if (from)
        env->msg.sender = *from;
    rc = to ? deliver(sys, to, env) : thi_send_name(sys, name, env);
    if (rc == TH_EFULL)
        thi_env_free(env); /* not sent: the caller still has its bytes */
    return rc;
}

/* ---- Global names ------------------------------------------------------------------- */

typedef struct thi_name_ent {
    struct thi_name_ent *next;
    th_addr_t addr;
    char name[];
} thi_name_ent_t;

static uint32_t
names_bucket(const char *name)
{
    uint32_t h = 5381;
    for (; *name; name++)
        h = h * 33 + (unsigned char)*name;
    return h % 1024;
}

static bool
addr_live(struct th_system *sys, const th_addr_t *a)
{
    thi_slot_t *slot = thi_slot_get(sys, a->opaque[1]);
    return slot && atomic_load(&slot->nonce) == a->opaque[2];
}

int
th_system_lookup_name(th_system_t *sys, const char *name, th_addr_t *out)
{
    if (name == NULL)
        return TH_EINVAL;
    int rc = TH_ENOENT;
    pthread_mutex_lock(&sys->names_lock);
    for (thi_name_ent_t *e = sys->names[names_bucket(name)]; e; e = e->next)
        if (strcmp(e->name, name) == 0 && addr_live(sys, &e->addr)) {
            *out = e->addr;
            rc = 0;
        }
    pthread_mutex_unlock(&sys->names_lock);
    return rc;
}

static void
names_remove(struct th_system *sys, const char *name, const th_addr_t *addr)
{
    pthread_mutex_lock(&sys->names_lock);
    for (thi_name_ent_t **pp = &sys->names[names_bucket(name)]; *pp;
         pp = &(*pp)->next) {
        thi_name_ent_t *e = *pp;
        if (strcmp(e->name, name) == 0 && th_addr_eq(&e->addr, addr)) {
            *pp = e->next;
            free(e);
            break;
        }
    }
    pthread_mutex_unlock(&sys->names_lock);
}

static bool valid_global_name(const char *s);

int
thi_send_name(struct th_system *sys, const char *name, thi_env_t *env)
{
    if (name == NULL) {
        thi_env_free(env);
        return TH_EINVAL;
    }
    th_addr_t to = {{0, 0, 0}};
    bool found = false;
    int rc;
    pthread_mutex_lock(&sys->names_lock);
    for (thi_name_ent_t *e = sys->names[names_bucket(name)]; e; e = e->next)
        if (strcmp(e->name, name) == 0 && addr_live(sys, &e->addr)) {
            to = e->addr;
            found = true;
        }
    /* queued while the name cannot move: a rebind comes before or after
     * this message as a whole */
    if (found)
        rc = thi_deliver(sys, &to, env);
    pthread_mutex_unlock(&sys->names_lock);
    if (!found) {
        char why[300];
        snprintf(why, sizeof why, "no live actor is named \"%.255s\"", name);
        thi_dead_letter(sys, env, &to, why);
        rc = TH_EDEAD;
    }
    return rc;
}

int
thi_rebind_name(struct th_system *sys, const char *name, const th_addr_t *to)
{
    if (name == NULL || !valid_global_name(name) || to == NULL)
        return TH_EINVAL;
    size_t nl = strlen(name);
    thi_name_ent_t *fresh = malloc(sizeof *fresh + nl + 1);
    if (fresh == NULL)
        return TH_ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&sys->names_lock);
    if (!addr_live(sys, to)) {
        rc = TH_EDEAD;
    } else {
        thi_name_ent_t *e = sys->names[names_bucket(name)];
        while (e && strcmp(e->name, name) != 0)
            e = e->next;
        if (e) {
            e->addr = *to;
        } else {
            memcpy(fresh->name, name, nl + 1);
            fresh->addr = *to;
            fresh->next = sys->names[names_bucket(name)];
            sys->names[names_bucket(name)] = fresh;
            fresh = NULL;
        }
    }
    pthread_mutex_unlock(&sys->names_lock);
    free(fresh);
    return rc;
}

void
thi_names_to_json(struct th_system *sys, json_t *into)
{
    char a[TH_ADDR_STRLEN];
    pthread_mutex_lock(&sys->names_lock);
    for (int b = 0; b < 1024; b++)
        for (thi_name_ent_t *e = sys->names[b]; e; e = e->next) {
            th_addr_to_string(&e->addr, a, sizeof a);
            json_object_set_new(into, e->name, json_string(a));
        }
    pthread_mutex_unlock(&sys->names_lock);
}

void
thi_names_fini(struct th_system *sys)
{
    for (int b = 0; b < 1024; b++) {
        thi_name_ent_t *e = sys->names[b];
        while (e) {
            thi_name_ent_t *next = e->next;
            free(e);
            e = next;
        }
        sys->names[b] = NULL;
    }
}

static bool
valid_global_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* ---- Creating actors ------------------------------------------------------------------- */

void
thi_ctx_init(th_ctx_t *ctx, struct th_system *sys, thi_worker_t *w)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->pub.magic = THI_CTX_MAGIC;
    ctx->pub.api = &thi_host_api;
    ctx->sys = sys;
    ctx->worker = w;
}

int
thi_send_internal(struct th_system *sys, const th_addr_t *to,
              enum thi_env_kind kind, const void *a, size_t alen,
              const void *b, size_t blen)
{
    thi_env_t *env = thi_env_alloc();
    if (env == NULL)
        return TH_ENOMEM;
    memset(env, 0, sizeof *env);
    env->kind = (uint16_t)kind;
    env->system = 1;
    env->msg.type = "th.internal";
    env->msg.data = env->in.bytes;
    if (alen)
        memcpy(env->in.bytes, a, alen);
    if (blen)
        memcpy(env->in.bytes + alen, b, blen);
    return thi_deliver(sys, to, env);
}

static int
push_op(struct th_system *sys, thi_slot_t *target, enum thi_env_kind kind,
        const th_addr_t *arg)
{
    th_addr_t to;
    thi_slot_addr(sys, target, atomic_load(&target->nonce), &to);
    return thi_send_internal(sys, &to, kind, arg, arg ? sizeof *arg : 0, NULL,
                         0);
}

static int create_slot(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
                       const thi_class_t *cls, const char *gname,
                       thi_slot_t *parent_slot, thi_start_extra_t *x);

/* The 1.1 options: requirements, supervision. *x is NULL when there are
 * none (the common case allocates nothing). */
static int
create_extra(struct th_system *sys, th_ctx_t *ctx, thi_slot_t *parent_slot,
             const char *class_name, const th_create_opts_t *opts,
             thi_start_extra_t **x, th_diag_t *d)
{
    *x = NULL;
    const char *reqs = NULL;
    const th_supervision_t *sup = NULL;
    if (opts && opts->size >= offsetof(th_create_opts_t, requirements_json) +
                                  sizeof(void *))
        reqs = opts->requirements_json;
    if (opts && opts->size >= offsetof(th_create_opts_t, supervision) +
                                  sizeof(void *))
        sup = opts->supervision;
    bool inherit = ctx && ctx->slot == parent_slot && parent_slot->ext &&
                   parent_slot->ext->sup;
    if (reqs == NULL && sup == NULL && !inherit)
        return 0;
    thi_start_extra_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        return thi_diag_set(d, TH_ENOMEM, "create %s: out of memory",
                            class_name);
    int rc = 0;
    if (reqs && (e->requirements = strdup(reqs)) == NULL)
        rc = TH_ENOMEM;
    if (rc == 0 && sup)
        rc = thi_sup_copy(sys, ctx, sup, &e->sup_children, d);
    if (rc == 0 && inherit)
        rc = thi_sup_inherit(parent_slot, e);
    if (rc != 0) {
        if (d->msg[0] == '\0')
            thi_diag_set(d, rc, "%s", th_strerror(rc));
        thi_log(TH_LOG_WARNING, NULL, "create %s: %s", class_name, d->msg);
        thi_start_extra_free(e);
        return rc;
    }
    *x = e;
    return 0;
}

int
thi_create(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
           const char *class_name, const th_create_opts_t *opts,
           th_diag_t *dout)
{
    th_diag_t local;
    th_diag_t *d = dout ? dout : &local;
    thi_diag_clear(d);
    if (class_name == NULL || out == NULL)
        return thi_diag_set(d, TH_EINVAL, "create: no class name or address");
    if (atomic_load(&sys->stopping))
        return thi_diag_set(d, TH_ECLOSED, "create %s: the system is "
                            "shutting down", class_name);
    const char *gname = NULL, *hash = NULL;
    if (opts) {
        if (opts->size < sizeof(uint32_t) * 2 + sizeof(void *))
            return thi_diag_set(d, TH_EINVAL, "create %s: opts->size %u is "
                                "too small", class_name, opts->size);
        gname = opts->global_name;
        if (opts->size >= offsetof(th_create_opts_t, source_hash) +
                              sizeof(void *))
            hash = opts->source_hash;
    }
    if (gname && !valid_global_name(gname))
        return thi_diag_set(d, TH_EINVAL, "create %s: global name is empty, "
                            "over 255 bytes or has control characters",
                            class_name);
    /* Thespian looks a global name up first: the running actor is the
     * answer whatever class or requirements this call names */
    if (gname && th_system_lookup_name(sys, gname, out) == 0)
        return 0;
    thi_slot_t *parent_slot =
        (ctx && ctx->slot && !gname) ? ctx->slot : sys->root;
    if (parent_slot != sys->root && (parent_slot->flags & THI_SLOT_EXITING))
        return thi_diag_set(d, TH_ECLOSED, "create %s: the parent is "
                            "exiting", class_name);
    /* inside an actor, PLUGIN.CLASS means its own source's first */
    const thi_class_t *own =
        (ctx && ctx->slot && ctx->slot->kind == THI_SLOT_ACTOR)
            ? atomic_load_explicit(&ctx->slot->cls, memory_order_relaxed)
            : NULL;
    const thi_class_t *cls;
    int rc = thi_class_resolve(sys, class_name, own ? own->source : NULL, hash,
                               &cls, d);
    if (rc != 0) {
        thi_log(TH_LOG_INFO, NULL, "create %s: %s", class_name, d->msg);
        return rc;
    }
    thi_start_extra_t *x = NULL;
    rc = create_extra(sys, ctx, parent_slot, class_name, opts, &x, d);
    if (rc == 0 && (rc = thi_caps_admit(sys, cls, x ? x->requirements : NULL,
                                        d)) != 0)
        thi_log(TH_LOG_INFO, NULL, "create %s: %s", class_name, d->msg);
    if (rc != 0) {
        thi_start_extra_free(x);
        thi_source_put(sys, cls->source);
        return rc;
    }
    rc = create_slot(sys, ctx, out, cls, gname, parent_slot, x);
    if (rc != 0)
        thi_source_put(sys, cls->source);
    return rc;
}

int
thi_create_resolved(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
                    const thi_class_t *cls, thi_slot_t *parent_slot,
                    thi_start_extra_t *x)
{
    int rc = create_slot(sys, ctx, out, cls, NULL, parent_slot, x);
    if (rc != 0)
        thi_source_put(sys, cls->source);
    return rc;
}

#ifdef THI_FAULT_INJECTION
_Atomic int thi_fault_start_fail;
_Atomic int thi_fault_finalize_delay_ms;
#endif

static void
internal_env_fill(thi_env_t *env, enum thi_env_kind kind, const void *a,
                  size_t alen)
{
    memset(env, 0, sizeof *env);
    env->kind = (uint16_t)kind;
    env->system = 1;
    env->msg.type = "th.internal";
    env->msg.data = env->in.bytes;
    if (alen)
        memcpy(env->in.bytes, a, alen);
}

/* The rest of thi_create, once the class is resolved (and its source
 * held). Everything that can fail is allocated first; the global name is
 * published only once START is queued, so a send by name always lands
 * behind START. On failure everything done is undone and the caller still
 * owns the source hold (it releases it, once). */
static int
create_slot(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
            const thi_class_t *cls, const char *gname, thi_slot_t *parent_slot,
            thi_start_extra_t *x)
{
    th_addr_t parent, root;
    thi_slot_addr(sys, parent_slot, parent_slot->live_nonce, &parent);
    thi_slot_addr(sys, sys->root, sys->root->live_nonce, &root);
    /* the root's children belong to the root's context: from elsewhere
     * the registration is a message to it */
    bool via_root = parent_slot == sys->root && !(ctx && ctx->slot == sys->root);

    int rc = TH_ENOMEM;
    thi_slot_t *slot = NULL;
    char *name_copy = NULL;
    thi_name_ent_t *ent = NULL;
    thi_env_t *start = thi_env_alloc();
    thi_env_t *add = via_root ? thi_env_alloc() : NULL;
    if (start)
        memset(start, 0, sizeof *start);
    if (add)
        memset(add, 0, sizeof *add);
    if (gname) {
        size_t nl = strlen(gname);
        name_copy = strdup(gname);
        if ((ent = malloc(sizeof *ent + nl + 1)) != NULL)
            memcpy(ent->name, gname, nl + 1);
    }
    if (start == NULL || (via_root && add == NULL) ||
        (gname && (name_copy == NULL || ent == NULL)))
        goto fail;
    if (gname) {
        /* held until the name is published: one actor per name, always */
        pthread_mutex_lock(&sys->names_lock);
        for (thi_name_ent_t *e = sys->names[names_bucket(gname)]; e;
             e = e->next)
            if (strcmp(e->name, gname) == 0 && addr_live(sys, &e->addr)) {
                *out = e->addr;
                pthread_mutex_unlock(&sys->names_lock);
                thi_source_put(sys, cls->source); /* no new actor */
                rc = 0;
                goto fail;
            }
    }
    rc = thi_slot_alloc(sys, &slot, THI_SLOT_ACTOR);
    if (rc != 0)
        goto fail_locked;
    uint64_t nonce = atomic_load(&slot->nonce);
    thi_slot_addr(sys, slot, nonce, out);
    /* visible to status from creation on; the old incarnation cleared it
     * before the slot reached the free list */
    atomic_store_explicit(&slot->cls, cls, memory_order_release);
    atomic_fetch_add_explicit(&sys->live_actors, 1, memory_order_relaxed);

    /* Track the child before it can start: its ChildActorExited then can
     * never overtake the registration. */
    if (via_root) {
        internal_env_fill(add, THI_ENV_ADD_CHILD, out, sizeof *out);
        rc = thi_deliver(sys, &root, add); /* a system message: consumed */
        add = NULL;
    } else {
        rc = children_add(&parent_slot->children, slot, nonce);
    }
    if (rc != 0)
        goto fail_slot;
    thi_start_args_t a = {cls, parent, name_copy, x};
    internal_env_fill(start, THI_ENV_START, &a, sizeof a);
#ifdef THI_FAULT_INJECTION
    if (atomic_exchange(&thi_fault_start_fail, 0))
        rc = TH_ENOMEM;
    else
#endif
        rc = thi_deliver(sys, out, start);
    if (rc != 0) {
        if (rc != TH_EFULL) { /* dead-lettered: its arguments went with it */
            start = NULL;
            name_copy = NULL;
            x = NULL;
        }
        goto fail_child;
    }
    if (gname) {
        uint32_t b = names_bucket(gname);
        ent->addr = *out;
        ent->next = sys->names[b];
        sys->names[b] = ent;
        pthread_mutex_unlock(&sys->names_lock);
    }
    return 0;

fail_child:
    if (via_root) /* what the root does when a child exits */
        thi_send_system(sys, out, &root, TH_MSG_CHILD_EXITED, "{}", 2);
    else
        children_remove(parent_slot->children, slot, nonce);
fail_slot:
    atomic_store_explicit(&slot->cls, NULL, memory_order_release);
    atomic_fetch_sub_explicit(&sys->live_actors, 1, memory_order_relaxed);
    thi_slot_release(sys, slot);
    thi_log(TH_LOG_ERROR, out, "could not start actor %s: %s", cls->qname,
            th_strerror(rc));
fail_locked:
    if (gname)
        pthread_mutex_unlock(&sys->names_lock);
fail:
    free(name_copy);
    free(ent);
    if (start)
        thi_env_free(start);
    if (add)
        thi_env_free(add);
    thi_start_extra_free(x);
    return rc;
}

/* ---- Running an actor ------------------------------------------------------------------- */


void
thi_self_addr(th_ctx_t *ctx, thi_slot_t *slot, th_addr_t *out)
{
    thi_slot_addr(ctx->sys, slot, slot->live_nonce, out);
}

static int
invoke(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    ctx->cur = env;
    ctx->failed_reason_set = false;
    ctx->fail_reason[0] = '\0';
    ctx->watch_called = false;
    /* interned names live as long as the process; a carried one is
     * copied (rare: a type no loaded class names) */
    const char *what = env->msg.type;
    if (__builtin_expect(env->type_owned, 0)) {
        size_t n = strnlen(what, sizeof ctx->busy_type - 1);
        memcpy(ctx->busy_type, what, n);
        ctx->busy_type[n] = '\0';
        what = ctx->busy_type;
    }
    atomic_store_explicit(&ctx->busy_what, what, memory_order_release);
    int rc = 0;
    if (slot->become) {
        rc = slot->become(ctx, slot->state, &env->msg);
    } else {
        bool handled = false;
        const char *mt = env->msg.type;
        if (__builtin_expect(env->type_owned, 0)) {
            /* a carried name: a class loaded since it was sent may have
             * interned it; dispatch compares interned pointers */
            const thi_type_t *it;
            if (thi_type_lookup(&it, mt) == 0)
                mt = it->name;
        }
        for (uint32_t i = 0; i < cls->n_dispatch; i++) {
            const thi_type_t *t = cls->dispatch_types[i];
            if (t != NULL && t->name != mt)
                continue;
            rc = cls->dispatch[i].handler(ctx, slot->state, &env->msg);
            if (rc != TH_SUPER) {
                handled = true;
                break;
            }
        }
        if (!handled)
            rc = cls->receive ? cls->receive(ctx, slot->state, &env->msg) : 0;
    }
    /* a watch lasts until the next callback (Thespian's ThespianWatch);
     * it sees ctx->cur: a WatchMessage handled re-arms the fds it named */
    if (__builtin_expect(ctx->watch_called ||
                             (slot->ext && slot->ext->watch), 0))
        thi_watch_after(ctx, slot);
    ctx->cur = NULL;
    atomic_store_explicit(&ctx->busy_what, NULL, memory_order_relaxed);
    return rc == TH_SUPER ? 0 : rc;
}

static void finalize(th_ctx_t *ctx, thi_slot_t *slot);
static void begin_exit(th_ctx_t *ctx, thi_slot_t *slot, bool recursive);

static int
start_instance(th_ctx_t *ctx, thi_slot_t *slot)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    if (cls->state_size && slot->state == NULL) {
        slot->state = calloc(1, cls->state_size);
        if (slot->state == NULL)
            return TH_ENOMEM;
    } else if (cls->state_size) {
        memset(slot->state, 0, cls->state_size);
    }
    slot->become = NULL;
    if (cls->init == NULL)
        return 0;
    ctx->cur = NULL;
    ctx->watch_called = false;
    atomic_store_explicit(&ctx->busy_what, "init", memory_order_relaxed);
    int rc = cls->init(ctx, slot->state);
    atomic_store_explicit(&ctx->busy_what, NULL, memory_order_relaxed);
    if (ctx->watch_called || (slot->ext && slot->ext->watch))
        thi_watch_after(ctx, slot); /* init may start a watch */
    return rc < 0 ? rc : 0;
}

/* Move the creator's extras into the new incarnation's ext. */
static int
start_extras(th_ctx_t *ctx, thi_slot_t *slot, thi_start_extra_t *x)
{
    (void)ctx;
    thi_slot_ext_t *e = thi_slot_ext(slot);
    if (e == NULL) {
        thi_start_extra_free(x);
        return TH_ENOMEM;
    }
    int rc = thi_caps_slot_take(ctx->sys, slot, x);
    if (x == NULL)
        return rc;
    e->troupe_member = x->troupe_member;
    e->leader = x->leader;
    if (rc == 0)
        rc = thi_sup_slot_take(slot, x);
    thi_start_extra_free(x);
    return rc;
}

static void
handle_start(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    thi_start_args_t a;
    memcpy(&a, env->in.bytes, sizeof a);
    memset(env->in.bytes, 0, sizeof a); /* taken */
    slot->live_nonce = env->target_nonce;
    slot->parent = a.parent;
    slot->u.name = a.name;
    slot->flags = 0;
    slot->n_restarts = 0;
    slot->started_ns = thi_now_ns();
    atomic_store_explicit(&slot->cls, a.cls, memory_order_release);
    int rc = 0;
    if (a.x || (a.cls->flags & (TH_CLASS_TROUPE | TH_CLASS_TRANSIENT |
                                TH_CLASS_TRANSIENT_IDLE)) ||
        thi_caps_watched(a.cls, NULL))
        rc = start_extras(ctx, slot, a.x);
    /* a troupe's leader only routes: none of the class's code runs in it */
    if (rc == 0 && (a.cls->flags & TH_CLASS_TROUPE) &&
        thi_troupe_is_leader(slot))
        slot->flags |= THI_SLOT_NOTEARDOWN;
    else if (rc == 0)
        rc = start_instance(ctx, slot);
    if (rc == 0 && (a.cls->flags & (TH_CLASS_TROUPE | TH_CLASS_TRANSIENT |
                                    TH_CLASS_TRANSIENT_IDLE)))
        rc = thi_troupe_start(ctx, slot);
    if (rc != 0) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_log(TH_LOG_ERROR, &self, "actor %s failed to start: %s",
                a.cls->qname, th_strerror(rc));
        /* init cleans up after itself when it fails: no teardown; children
         * it made before failing exit first */
        slot->flags |= THI_SLOT_NOTEARDOWN;
        begin_exit(ctx, slot, true);
    }
}

void
thi_send_poison(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env,
                const char *details)
{
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    if (env->msg.type == t_poison->name) {
        /* no recursion on PoisonMessage (Thespian's rule): two actors that
         * fail on everything would otherwise bounce it for ever */
        thi_log(TH_LOG_WARNING, &self,
                "handling a PoisonMessage failed (%s); not returned",
                details);
        return;
    }
    char *body = thi_wrap_message_json(env, details, &self);
    if (body == NULL)
        return;
    if (th_addr_is_null(&env->msg.sender)) {
        /* nobody to return it to: a dead letter, so dead-letter handlers
         * see it (a DeadEnvelope wrapping the PoisonMessage) */
        thi_env_t *pm;
        if (thi_env_new(&pm, t_poison, body, strlen(body)) == 0) {
            pm->system = 1;
            pm->msg.sender = self;
            thi_dead_letter(ctx->sys, pm, &env->msg.sender,
                            "PoisonMessage for a message sent from outside "
                            "the actors (no sender to return it to)");
        }
    } else {
        thi_send_system(ctx->sys, &self, &env->msg.sender, TH_MSG_POISON,
                        body, strlen(body));
    }
    free(body);
}

static const char *
fail_text(th_ctx_t *ctx, int rc)
{
    return ctx->failed_reason_set ? ctx->fail_reason : th_strerror(rc);
}

int
thi_actor_restart(th_ctx_t *ctx, thi_slot_t *slot)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    if (cls->teardown)
        cls->teardown(ctx, slot->state);
    slot->n_restarts++;
    int rc = start_instance(ctx, slot);
    if (rc != 0) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_log(TH_LOG_ERROR, &self, "actor %s failed to restart: %s",
                cls->qname, th_strerror(rc));
        slot->flags |= THI_SLOT_NOTEARDOWN;
        begin_exit(ctx, slot, true);
    }
    return rc;
}

void
thi_actor_exit(th_ctx_t *ctx, thi_slot_t *slot, bool recursive)
{
    begin_exit(ctx, slot, recursive);
}

/* Thespian's rule: a failing message is retried once on the same actor,
 * its state as the first attempt left it; failing again, it goes back to
 * its sender as PoisonMessage and the actor goes on with its next message.
 * (A fresh-state restart is a supervision directive, docs/supervision.md.)
 * Out of line (and its 300-byte buffer with it), so that the path of every
 * message, deliver_user, stays small enough to inline. */
static __attribute__((noinline, cold)) void
user_failed(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env, int rc)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    char why[300];
    snprintf(why, sizeof why, "%s", fail_text(ctx, rc));
    if (slot->ext && slot->ext->sup && thi_sup_failed(ctx, slot, env, why))
        return; /* the parent chose a strategy */
    thi_log(TH_LOG_WARNING, &self,
            "actor %s failed on %s: %s; retrying once", cls->qname,
            env->msg.type, why);
    rc = invoke(ctx, slot, env);
    if (rc >= 0)
        return;
    snprintf(why, sizeof why, "%s", fail_text(ctx, rc));
    thi_log(TH_LOG_WARNING, &self,
            "actor %s failed on %s again: %s; returned as PoisonMessage",
            cls->qname, env->msg.type, why);
    thi_send_poison(ctx, slot, env, why);
}

static inline void
deliver_user(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    int rc = invoke(ctx, slot, env);
    if (__builtin_expect(rc < 0, 0))
        user_failed(ctx, slot, env, rc);
}

static void
send_child_exited(th_ctx_t *ctx, thi_slot_t *slot)
{
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    char body[TH_ADDR_STRLEN + 32], a[TH_ADDR_STRLEN];
    th_addr_to_string(&self, a, sizeof a);
    int n = snprintf(body, sizeof body, "{\"childAddress\":\"%s\"}", a);
    thi_send_system(ctx->sys, &self, &slot->parent, TH_MSG_CHILD_EXITED, body,
                    (size_t)n);
}

static void
finalize(th_ctx_t *ctx, thi_slot_t *slot)
{
    struct th_system *sys = ctx->sys;
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    if (cls->teardown && !(slot->flags & THI_SLOT_NOTEARDOWN)) {
        atomic_store_explicit(&ctx->busy_what, "teardown",
                              memory_order_relaxed);
        cls->teardown(ctx, slot->state);
        atomic_store_explicit(&ctx->busy_what, NULL, memory_order_relaxed);
    }
    free(slot->state);
    slot->state = NULL;
    if (slot->u.name) {
        names_remove(sys, slot->u.name, &self);
        free(slot->u.name);
        slot->u.name = NULL;
    }
    if (slot->flags & THI_SLOT_DEADLETTERS) {
        pthread_mutex_lock(&sys->dl_lock);
        for (size_t i = 0; i < sys->n_dl_handlers; i++)
            if (th_addr_eq(&sys->dl_handlers[i], &self)) {
                sys->dl_handlers[i] = sys->dl_handlers[--sys->n_dl_handlers];
                break;
            }
        pthread_mutex_unlock(&sys->dl_lock);
    }
    if (slot->ext) {
        if (slot->ext->has_timers)
            thi_timers_cancel_target(sys, &self);
        thi_troupe_slot_fini(ctx, slot);
        thi_watch_slot_fini(sys, slot);
        thi_caps_slot_fini(sys, slot);
        thi_sup_slot_fini(slot);
        free(slot->ext);
        slot->ext = NULL;
    }
    send_child_exited(ctx, slot);
    children_free(slot->children);
    slot->children = NULL;
    slot->live_nonce = 0;
    slot->become = NULL;
    slot->flags = 0;
#ifdef THI_FAULT_INJECTION
    /* widens the window in which a status reader could still see the
     * class: the source must stay held through it */
    if (atomic_load(&thi_fault_finalize_delay_ms) > 0)
        usleep((useconds_t)atomic_load(&thi_fault_finalize_delay_ms) * 1000);
#endif
    atomic_store_explicit(&slot->cls, NULL, memory_order_release);
    atomic_fetch_sub_explicit(&sys->live_actors, 1, memory_order_relaxed);
    thi_slot_release(sys, slot);
    /* last: nothing of this actor refers to its class any more (status
     * readers see cls NULL first), so its source may be unmapped now */
    thi_source_put(sys, cls->source);
}

static void
begin_exit(th_ctx_t *ctx, thi_slot_t *slot, bool recursive)
{
    if (slot->flags & THI_SLOT_EXITING)
        return;
    slot->flags |= THI_SLOT_EXITING;
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    uint32_t n = 0;
    struct child_ent *v = children_sorted(slot->children, &n);
    if (n) {
        for (uint32_t i = 0; i < n; i++) {
            th_addr_t child;
            thi_slot_addr(ctx->sys, v[i].slot, v[i].nonce, &child);
            if (recursive) {
                thi_send_system(ctx->sys, &self, &child, TH_MSG_EXIT_REQUEST,
                                "", 0);
            } else {
                /* the system adopts it: it reports its exit there */
                push_op(ctx->sys, ctx->sys->root, THI_ENV_ADD_CHILD, &child);
                th_addr_t root;
                thi_slot_addr(ctx->sys, ctx->sys->root,
                              ctx->sys->root->live_nonce, &root);
                thi_send_internal(ctx->sys, &child, THI_ENV_REPARENT, &root,
                              sizeof root, NULL, 0);
            }
        }
        if (!recursive) {
            children_free(slot->children);
            slot->children = NULL;
        }
    }
    free(v);
    if (children_count(slot->children) == 0)
        finalize(ctx, slot);
}

static bool
exit_is_recursive(const thi_env_t *env)
{
    if (env->msg.len == 0 ||
        (env->msg.len == 2 && memcmp(env->msg.data, "{}", 2) == 0))
        return true; /* the common bodies, without a JSON parse */
    json_t *o = json_loadb(env->msg.data, env->msg.len, 0, NULL);
    bool rec = true;
    if (json_is_object(o) && json_is_true(json_object_get(o, "notRecursive")))
        rec = false;
    json_decref(o);
    return rec;
}

/* Another thread's view of a slot's class: read under classes_lock, which
 * unmapping a source takes to free its classes, and finalize clears cls
 * before it releases the source. "" when the slot holds no actor. */
void
thi_slot_qname(struct th_system *sys, thi_slot_t *slot, char *buf,
               size_t size)
{
    pthread_mutex_lock(&sys->classes_lock);
    const thi_class_t *cls = atomic_load(&slot->cls);
    snprintf(buf, size, "%s", cls ? cls->qname : "");
    pthread_mutex_unlock(&sys->classes_lock);
}

void
thi_actor_status(struct th_system *sys, thi_slot_t *slot, uint32_t in_turn,
                 json_t *into)
{
    char a[TH_ADDR_STRLEN];
    th_addr_t self;
    thi_slot_addr(sys, slot, atomic_load(&slot->nonce), &self);
    th_addr_to_string(&self, a, sizeof a);
    json_object_set_new(into, "address", json_string(a));
    /* copied under classes_lock, which the unmap takes to free a class: the
     * source it runs from tells status readers which version an actor is */
    char qname[sizeof ((thi_class_t *)0)->qname], source[65] = "";
    pthread_mutex_lock(&sys->classes_lock);
    const thi_class_t *cls = atomic_load(&slot->cls);
    snprintf(qname, sizeof qname, "%s", cls ? cls->qname : "");
    if (cls && cls->source)
        snprintf(source, sizeof source, "%s", thi_source_hash(cls->source));
    pthread_mutex_unlock(&sys->classes_lock);
    json_object_set_new(into, "class", json_string(qname));
    if (source[0])
        json_object_set_new(into, "source", json_string(source));
    /* processed is published once per turn: discount this turn's part */
    uint64_t depth = atomic_load(&slot->pushed) -
                     atomic_load(&slot->processed) - in_turn;
    json_object_set_new(into, "mailbox", json_integer((json_int_t)depth));
    json_object_set_new(into, "wakeups", json_integer((json_int_t)
        thi_timers_pending(sys->timers, &self)));
}

static void
reply_actor_status(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    json_t *o = json_object();
    thi_actor_status(ctx->sys, slot, ctx->popped, o);
    char a[TH_ADDR_STRLEN];
    th_addr_to_string(&slot->parent, a, sizeof a);
    json_object_set_new(o, "parent", json_string(a));
    if (slot->u.name)
        json_object_set_new(o, "name", json_string(slot->u.name));
    json_object_set_new(o, "children",
                        json_integer(children_count(slot->children)));
    json_object_set_new(o, "restarts", json_integer(slot->n_restarts));
    if (slot->ext && slot->ext->troupe)
        thi_troupe_status(slot, o);
    json_object_set_new(o, "processed", json_integer((json_int_t)
        atomic_load(&slot->processed)));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_send_system(ctx->sys, &self, &env->msg.sender,
                        TH_MSG_ACTOR_STATUS, text, strlen(text));
        free(text);
    }
}

/* ---- Root: the system actor ----------------------------------------------------- */

static void
root_check_done(struct th_system *sys, thi_slot_t *root)
{
    if ((root->flags & THI_SLOT_STOPPING) && children_count(root->children) == 0) {
        pthread_mutex_lock(&sys->state_lock);
        sys->root_done = true;
        pthread_cond_broadcast(&sys->state_cond);
        pthread_mutex_unlock(&sys->state_lock);
    }
}

static void
root_handle(th_ctx_t *ctx, thi_slot_t *root, thi_env_t *env)
{
    struct th_system *sys = ctx->sys;
    th_addr_t self;
    thi_self_addr(ctx, root, &self);
    switch (env->kind) {
    case THI_ENV_ADD_CHILD: {
        th_addr_t child;
        memcpy(&child, env->in.bytes, sizeof child);
        thi_slot_t *cs = thi_slot_get(sys, child.opaque[1]);
        if (cs != NULL)
            children_add(&root->children, cs, child.opaque[2]);
        if (cs != NULL && (root->flags & THI_SLOT_STOPPING))
            thi_send_system(sys, &self, &child, TH_MSG_EXIT_REQUEST, "", 0);
        thi_env_free(env);
        return;
    }
    case THI_ENV_SHUTDOWN: {
        if (root->flags & THI_SLOT_STOPPING)
            return;
        root->flags |= THI_SLOT_STOPPING;
        uint32_t n = 0;
        struct child_ent *v = children_sorted(root->children, &n);
        for (uint32_t i = 0; i < n; i++) {
            th_addr_t child;
            thi_slot_addr(sys, v[i].slot, v[i].nonce, &child);
            thi_send_system(sys, &self, &child, TH_MSG_EXIT_REQUEST, "", 0);
        }
        free(v);
        root_check_done(sys, root);
        thi_env_free(env);
        return;
    }
    case THI_ENV_UNMAP: {
        thi_source_t *src;
        memcpy(&src, env->in.bytes, sizeof src);
        thi_source_unmap(sys, src);
        thi_env_free(env);
        return;
    }
    case THI_ENV_USER:
        break;
    default:
        thi_env_free(env);
        return;
    }
    if (env->msg.type == t_child_exited->name && env->system) {
        children_remove(root->children,
                        thi_slot_get(sys, env->msg.sender.opaque[1]),
                        env->msg.sender.opaque[2]);
        root_check_done(sys, root);
    } else if (env->msg.type == t_status_req->name) {
        char *text = NULL;
        if (th_system_status_json(sys, &text) == 0) {
            thi_send_system(sys, &self, &env->msg.sender,
                            TH_MSG_SYSTEM_STATUS, text, strlen(text));
            free(text);
        }
    } else if (env->msg.type == t_validated->name) {
        thi_source_validated(sys, env);
    } else if (strcmp(env->msg.type, TH_MSG_ACTIVATED_SOURCE) == 0) {
        thi_source_activated(sys, env); /* the Director's, or ignored */
    } else if (env->msg.type == t_exit->name) {
        thi_request_shutdown(sys);
    } else {
        thi_dead_letter(sys, env, &self, "the system handles no such message");
        return;
    }
    thi_env_free(env);
}

void
thi_root_init(struct th_system *sys)
{
    pthread_once(&types_once, types_init);
    thi_slot_t *root = NULL;
    thi_slot_alloc(sys, &root, THI_SLOT_ROOT);
    root->live_nonce = atomic_load(&root->nonce);
    sys->root = root;
}

void
thi_request_shutdown(struct th_system *sys)
{
    if (atomic_exchange(&sys->stopping, true))
        return;
    atomic_store(&sys->stop_began_ns, thi_now_ns());
    pthread_mutex_lock(&sys->state_lock);
    pthread_cond_broadcast(&sys->state_cond);
    pthread_mutex_unlock(&sys->state_lock);
    push_op(sys, sys->root, THI_ENV_SHUTDOWN, NULL);
}

size_t
thi_report_running(struct th_system *sys)
{
    enum { MAX_LINES = 50 };
    size_t n_left = 0;
    uint32_t n = atomic_load(&sys->n_slots);
    for (uint32_t id = 0; id < n; id++) {
        thi_slot_t *slot = thi_slot_get(sys, id);
        if (slot->kind != THI_SLOT_ACTOR || atomic_load(&slot->cls) == NULL)
            continue;
        if (n_left++ >= MAX_LINES)
            continue;
        char a[TH_ADDR_STRLEN], qname[sizeof ((thi_class_t *)0)->qname];
        th_addr_t self;
        thi_slot_addr(sys, slot, atomic_load(&slot->nonce), &self);
        th_addr_to_string(&self, a, sizeof a);
        thi_slot_qname(sys, slot, qname, sizeof qname);
        const char *what = thi_sched_busy(sys->sched, slot);
        uint64_t depth = atomic_load(&slot->pushed) -
                         atomic_load(&slot->processed);
        bool cb = what && (!strcmp(what, "init") ||
                           !strcmp(what, "teardown"));
        if (what && what[0])
            thi_log(TH_LOG_ERROR, &self,
                    "shutdown: actor %s (%s) still running: its %s%s%s has "
                    "not returned", a, qname, cb ? "" : "handler for ",
                    what, cb ? " callback" : "");
        else
            thi_log(TH_LOG_ERROR, &self,
                    "shutdown: actor %s (%s) still running: %s; about %llu "
                    "message(s) queued", a, qname,
                    what ? "a worker runs it between callbacks"
                         : "not in a callback",
                    (unsigned long long)depth);
    }
    if (n_left > MAX_LINES)
        thi_log(TH_LOG_ERROR, NULL, "shutdown: and %zu more actor(s) still "
                "running", n_left - MAX_LINES);
    return n_left;
}

/* ---- Handoff (hot swap) -------------------------------------------------------- */

int
thi_handoff(struct th_system *sys, const th_addr_t *from, const th_addr_t *to,
            const th_addr_t *requester)
{
    if (!addr_live(sys, to))
        return TH_EDEAD;
    thi_handoff_args_t a = {*to, requester ? *requester : (th_addr_t){{0}}};
    return thi_send_internal(sys, from, THI_ENV_HANDOFF, &a, sizeof a, NULL, 0);
}

/* In the old holder's context, after everything queued before: export,
 * queue the state as the new holder's next message, forward from now on,
 * and tell the requester. */
static void
handle_handoff(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    thi_handoff_args_t a;
    memcpy(&a, env->in.bytes, sizeof a);
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    bool exported = false;
    bool forwarding = slot->ext && slot->ext->forwarding;
    bool leader = slot->ext && slot->ext->troupe; /* has no state */
    if (cls->export_state && !forwarding && !leader) {
        th_buf_t *buf = NULL;
        ctx->cur = NULL;
        int rc = cls->export_state(ctx, slot->state, &buf);
        if (rc < 0 || buf == NULL) {
            if (rc < 0)
                thi_log(TH_LOG_WARNING, &self,
                        "export_state of %s failed: %s; the new version "
                        "starts fresh",
                        cls->qname, th_strerror(rc));
            if (buf)
                thi_payload_release((thi_payload_t *)(void *)buf);
        } else {
            thi_env_t *imp;
            if (thi_env_from_payload(&imp, thi_type_builtin("th.internal"),
                                     (thi_payload_t *)(void *)buf) == 0) {
                imp->kind = THI_ENV_IMPORT;
                imp->system = 1;
                imp->msg.sender = self;
                exported = thi_deliver(ctx->sys, &a.to, imp) == 0;
            } else {
                thi_payload_release((thi_payload_t *)(void *)buf);
            }
        }
    }
    thi_slot_ext_t *e = thi_slot_ext(slot);
    if (e) {
        e->forward = a.to;
        e->forwarding = true;
    }
    if (!th_addr_is_null(&a.requester)) {
        char f[TH_ADDR_STRLEN], t[TH_ADDR_STRLEN], body[200];
        th_addr_to_string(&self, f, sizeof f);
        th_addr_to_string(&a.to, t, sizeof t);
        int n = snprintf(body, sizeof body,
                         "{\"from\":\"%s\",\"to\":\"%s\",\"exported\":%s}",
                         f, t, exported ? "true" : "false");
        thi_send_system(ctx->sys, &self, &a.requester, TH_MSG_HANDOFF_DONE,
                        body, (size_t)n);
    }
}

static void
handle_import(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    const thi_class_t *cls = atomic_load_explicit(&slot->cls,
                                                  memory_order_relaxed);
    if (cls->import_state == NULL || (slot->ext && slot->ext->troupe))
        return;
    ctx->cur = NULL;
    int rc = cls->import_state(ctx, slot->state, env->msg.data, env->msg.len);
    if (rc < 0) {
        th_addr_t self;
        thi_self_addr(ctx, slot, &self);
        thi_log(TH_LOG_WARNING, &self,
                "import_state of %s refused the handed-over state: %s",
                cls->qname, th_strerror(rc));
    }
}

/* ---- The run loop -------------------------------------------------------------------- */

static void
process(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    struct th_system *sys = ctx->sys;
    if (slot->kind == THI_SLOT_ROOT) {
        root_handle(ctx, slot, env); /* consumes env */
        return;
    }
    if (env->kind == THI_ENV_START) {
        handle_start(ctx, slot, env);
        thi_env_free(env);
        return;
    }
    /* the address it was sent to: made only for a dead letter, not on
     * every message */
    th_addr_t self;
    if (slot->live_nonce == 0 || env->target_nonce != slot->live_nonce) {
        if (env->system && env->msg.type == t_timer->name) {
            thi_env_free(env); /* its timer ended with the actor */
            return;
        }
        thi_slot_addr(sys, slot, env->target_nonce, &self);
        thi_dead_letter(sys, env, &self, "actor has exited");
        return;
    }
    if (env->kind == THI_ENV_REPARENT) {
        memcpy(&slot->parent, env->in.bytes, sizeof slot->parent);
        thi_env_free(env);
        return;
    }
    if (env->kind == THI_ENV_START_PROBE) { /* START is handled by now */
        thi_start_wait_t *w;
        memcpy(&w, env->in.bytes, sizeof w);
        thi_start_wait_answer(w, !(slot->flags & THI_SLOT_EXITING));
        thi_env_free(env);
        return;
    }
    if (env->kind == THI_ENV_HANDOFF || env->kind == THI_ENV_IMPORT) {
        if (!(slot->flags & THI_SLOT_EXITING)) {
            if (env->kind == THI_ENV_HANDOFF)
                handle_handoff(ctx, slot, env);
            else
                handle_import(ctx, slot, env);
        }
        thi_env_free(env);
        return;
    }
    if (env->kind == THI_ENV_OP) {
        if (!(slot->flags & THI_SLOT_EXITING)) {
            thi_op_fn fn;
            memcpy(&fn, env->in.bytes, sizeof fn);
            fn(ctx, slot, env);
        }
        thi_env_free(env);
        return;
    }
    if (env->kind != THI_ENV_USER) {
        thi_env_free(env);
        return;
    }
    const char *type = env->msg.type;
    /* handed over: the new holder answers; the runtime's own messages are
     * still this actor's */
    thi_slot_ext_t *ext = slot->ext;
    if (ext && ext->forwarding && !env->system && type != t_exit->name &&
        type != t_status_req->name) {
        int rc = thi_deliver(sys, &ext->forward, env);
        if (rc == TH_EFULL)
            thi_dead_letter(sys, env, &ext->forward,
                            "new holder's mailbox full");
        return;
    }
    if (type == t_child_exited->name && env->system) {
        children_remove(slot->children,
                        thi_slot_get(sys, env->msg.sender.opaque[1]),
                        env->msg.sender.opaque[2]);
        if (slot->flags & THI_SLOT_EXITING) {
            if (children_count(slot->children) == 0)
                finalize(ctx, slot);
            thi_env_free(env);
            return;
        }
    } else if (type == t_timer->name && env->system &&
               (!thi_timer_accept(ctx, slot, env) ||
                (slot->flags & THI_SLOT_EXITING))) {
        /* its timer was cancelled after it was sent, or ends with the
         * actor now: no dead letter */
        ctx->timer_id = 0;
        thi_env_free(env);
        return;
    } else if (slot->flags & THI_SLOT_EXITING) {
        thi_slot_addr(sys, slot, env->target_nonce, &self);
        thi_dead_letter(sys, env, &self, "actor is exiting");
        return;
    } else if (type == t_status_req->name) {
        reply_actor_status(ctx, slot, env);
        thi_env_free(env);
        return;
    } else if (type == t_exit->name) {
        /* the actor sees it, then exits; a troupe leader has no handler
         * and its members never outlive it */
        bool leader = ext && ext->troupe;
        if (!leader)
            (void)invoke(ctx, slot, env);
        begin_exit(ctx, slot, leader || exit_is_recursive(env));
        thi_env_free(env);
        return;
    }
    if (ext && ext->troupe && thi_troupe_route(ctx, slot, env))
        return; /* a troupe's address: a member handles it */
    deliver_user(ctx, slot, env);
    ctx->timer_id = 0;
    if (slot->ext && !(slot->flags & THI_SLOT_EXITING) &&
        (slot->ext->troupe_member || slot->ext->transient))
        thi_troupe_after(ctx, slot, env);
    thi_env_free(env);
}

int
thi_send_op(struct th_system *sys, const th_addr_t *to, thi_op_fn fn,
            const void *args, size_t len)
{
    if (len > THI_OP_ARGS)
        return TH_EINVAL;
    return thi_send_internal(sys, to, THI_ENV_OP, &fn, sizeof fn, args, len);
}

bool
thi_slot_run(th_ctx_t *ctx, thi_slot_t *slot, uint32_t batch)
{
    ctx->slot = slot;
    atomic_store_explicit(&ctx->busy, slot, memory_order_release);
    uint64_t done = atomic_load_explicit(&slot->processed,
                                         memory_order_relaxed);
    if (ctx->worker == NULL) {
        /* synchronous mode: a turn takes only what was queued before it,
         * so an actor messaging itself yields to the others */
        uint64_t queued = atomic_load_explicit(&slot->pushed,
                                               memory_order_relaxed) -
                          done;
        if (queued < batch)
            batch = queued ? (uint32_t)queued : 1;
    }
    uint32_t n = 0;
    bool parked = false;
    while (n < batch) {
        /* a supervised child backing off before its restart: messages
         * wait; the slot stays scheduled, and a timer requeues it */
        if (__builtin_expect(slot->ext != NULL, 0) &&
            slot->ext->suspend_until_ns != 0) {
            parked = true;
            break;
        }
        thi_node_t *node = mq_pop(slot);
        if (node == NULL)
            break;
        if (node == &slot->stub)
            continue;
        ctx->popped = ++n;
        process(ctx, slot, (thi_env_t *)node);
    }
    /* per context, summed by th_system_stats: no line shared by workers */
    atomic_store_explicit(&ctx->messages,
                          atomic_load_explicit(&ctx->messages,
                                               memory_order_relaxed) +
                              n,
                          memory_order_relaxed);
    atomic_store_explicit(&slot->processed, done + n, memory_order_relaxed);
    atomic_store_explicit(&ctx->busy, NULL, memory_order_release);
    if (parked) {
        thi_sup_park(ctx, slot); /* last touch: the timer may run it now */
        ctx->slot = NULL;
        return false;
    }
    ctx->slot = NULL;
    if (n == batch)
        return true;
    return !mq_mark_empty(slot);
}
