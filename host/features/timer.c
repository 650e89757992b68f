/*
 * host/features/timer.c — wakeupAfter and timers with ids: a binary min-heap of due
 * times (schedule O(log n)) and an id table (cancel O(1)). A threaded
 * system has one timer thread that sleeps until the earliest due time (no
 * polling); a synchronous system fires due timers from th_system_run. Ties
 * keep the order the timers were set in.
 *
 * Over 600 lines as one piece: the heap, the id table, the thread and the
 * per-actor lists share one lock and one node type, and a timer moves
 * between them in every operation here.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/thread.h"
#include "base/array.h"
#include "host/core/runtime.h"
#include "host/features/features.h"

/* One timer. User timers (th_timer_start) have an id, are in the id table
 * and on their actor's list (timer_slot_t) until they end; their data
 * starts with the 8-byte id, copied ahead of the payload into every
 * TimerMessage (whose msg view starts past it). A cancelled timer still in
 * the heap stays there, marked, until it comes up (lazy deletion): cancel
 * is O(1), the heap never needs a search. */
typedef struct thi_tnode tnode_t;
struct thi_tnode {
    uint64_t id;               /* 0: a wakeup or an internal call */
    th_addr_t target;
    int64_t period_ns;         /* 0: once */
    thi_timer_fn call;         /* internal call instead of a message */
    tnode_t *lprev, *lnext;    /* the actor's list */
    bool in_heap;
    bool cancelled;
    bool queued;               /* a TimerMessage of it is in the mailbox */
    size_t len;                /* of data, the id prefix included */
    unsigned char data[];
};

/* An actor's state here (feature slot THI_FEAT_TIMER): its live timers. */
typedef struct timer_slot {
    tnode_t *timers;
} timer_slot_t;

typedef struct timer_ent {
    int64_t due_ns;
    uint64_t seq;
    tnode_t *n;
} timer_ent_t;

#define ID_PREFIX sizeof(uint64_t)
#define ID_CHUNK_SHIFT 12
#define ID_CHUNK (1u << ID_CHUNK_SHIFT)

typedef struct idslot {
    tnode_t *n;                /* NULL: free */
    uint32_t gen;
    uint32_t next_free;
} idslot_t;

struct thi_timers {
    struct th_system *sys;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    timer_ent_t *heap;
    size_t n, cap;
    uint64_t seq;
    idslot_t **ids;            /* id -> live user timer: chunks */
    size_t cap_chunks;
    uint32_t n_ids;            /* entries made so far */
    uint32_t id_free;          /* free list head, UINT32_MAX: none */
    size_t n_dead;             /* cancelled entries still in the heap */
    bool quit;
    bool threaded;
    pthread_t thread;
};

static bool
before(const timer_ent_t *a, const timer_ent_t *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

/* A 4-ary heap: half the levels of a binary one, so fewer cache misses
 * per pop with a million timers. */
static void
sift_up(timer_ent_t *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!before(&h[i], &h[p]))
            break;
        timer_ent_t t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static void
sift_down(timer_ent_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t c = 4 * i + 1, m = i;
        for (size_t k = c; k < c + 4 && k < n; k++)
            if (before(&h[k], &h[m]))
                m = k;
        if (m == i)
            break;
        timer_ent_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* ---- the id table (lock held) ----
 * An id is (generation << 32 | index): the index picks an entry of a
 * chunked table (growth never moves or rehashes anything, so no schedule
 * stalls the timer thread), the generation, bumped each time the entry is
 * reused, tells a stale id. The same id comes back only after 2^32 reuses
 * of one entry. */

static idslot_t *
id_ent(const thi_timers_t *t, uint32_t idx)
{
    return &t->ids[idx >> ID_CHUNK_SHIFT][idx & (ID_CHUNK - 1)];
}

static int
map_put(thi_timers_t *t, tnode_t *n)
{
    uint32_t idx = t->id_free;
    if (idx != UINT32_MAX) {
        t->id_free = id_ent(t, idx)->next_free;
    } else {
        if (t->n_ids == UINT32_MAX)
            return TH_ELIMIT;
        idx = t->n_ids;
        size_t c = idx >> ID_CHUNK_SHIFT;
        if ((idx & (ID_CHUNK - 1)) == 0) {
            if (THI_RESERVE(t->ids, t->cap_chunks, c + 1, 16) != 0)
                return TH_ENOMEM;
            if ((t->ids[c] = calloc(ID_CHUNK, sizeof **t->ids)) == NULL)
                return TH_ENOMEM;
        }
        t->n_ids++;
    }
    idslot_t *e = id_ent(t, idx);
    if (++e->gen == 0)
        e->gen = 1; /* never id 0 */
    e->n = n;
    n->id = (uint64_t)e->gen << 32 | idx;
    return 0;
}

static tnode_t *
map_find(const thi_timers_t *t, uint64_t id)
{
    uint32_t idx = (uint32_t)id;
    if (idx >= t->n_ids)
        return NULL;
    tnode_t *n = id_ent(t, idx)->n;
    return n && n->id == id ? n : NULL;
}

static void
map_del(thi_timers_t *t, tnode_t *n)
{
    uint32_t idx = (uint32_t)n->id;
    idslot_t *e = id_ent(t, idx);
    e->n = NULL;
    e->next_free = t->id_free;
    t->id_free = idx;
}

static int
heap_push(thi_timers_t *t, int64_t due, tnode_t *n)
{
    if (THI_RESERVE(t->heap, t->cap, t->n + 1, 64) != 0)
        return TH_ENOMEM;
    uint64_t seq = t->seq++;
    t->heap[t->n] = (timer_ent_t){due, seq, n};
    sift_up(t->heap, t->n++);
    n->in_heap = true;
    if (t->heap[0].seq == seq) /* new earliest: the thread must re-arm */
        pthread_cond_signal(&t->cond);
    return 0;
}

/* Most of the heap is cancelled timers far from due: drop them and
 * rebuild the heap, O(n) once per n/2 cancels (lock held). */
static void
compact(thi_timers_t *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->heap[i].n->cancelled)
            free(t->heap[i].n);
        else
            t->heap[k++] = t->heap[i];
    }
    t->n = k;
    t->n_dead = 0;
    for (size_t i = k / 4 + 1; i-- > 0;)
        sift_down(t->heap, t->n, i);
    pthread_cond_signal(&t->cond); /* the earliest may have changed */
}

/* A user timer ends (lock held): out of the id table and its actor's list; its
 * memory goes now, or when its heap entry comes up. */
static void
user_end(thi_timers_t *t, tnode_t *n, timer_slot_t *ts)
{
    map_del(t, n);
    if (n->lprev)
        n->lprev->lnext = n->lnext;
    else if (ts)
        ts->timers = n->lnext;
    if (n->lnext)
        n->lnext->lprev = n->lprev;
    n->lprev = n->lnext = NULL;
    n->cancelled = true;
    if (!n->in_heap)
        free(n);
    else if (++t->n_dead > 4096 && t->n_dead > t->n / 2)
        compact(t);
}

/* A TimerMessage of `n` (lock held: n's data may go once it is released). */
static thi_env_t *
timer_env(const tnode_t *n)
{
    thi_env_t *env;
    if (thi_env_new(&env, thi_type_builtin(TH_MSG_TIMER), n->data, n->len) !=
        0)
        return NULL;
    env->system = 1;
    env->msg.sender = n->target;
    env->msg.data = (const unsigned char *)env->msg.data + ID_PREFIX;
    env->msg.len -= ID_PREFIX;
    return env;
}

/* A wakeup whose actor has exited ends with it (Thespian drops it): no
 * dead letter. An exit racing this check still gives a dead letter. */
static bool
target_alive(struct th_system *sys, const th_addr_t *a)
{
    thi_slot_t *slot = thi_slot_get(sys, a->opaque[1]);
    return slot && a->opaque[2] != 0 &&
           atomic_load_explicit(&slot->nonce, memory_order_acquire) ==
               a->opaque[2];
}

int
thi_timers_fire_due(thi_timers_t *t)
{
    int64_t now = thi_now_ns();
    for (;;) {
        pthread_mutex_lock(&t->lock);
        if (t->n == 0) {
            pthread_mutex_unlock(&t->lock);
            return -1;
        }
        if (t->heap[0].due_ns > now) /* the clock read once per batch */
            now = thi_now_ns();
        if (t->heap[0].due_ns > now) {
            int64_t ms = (t->heap[0].due_ns - now + 999999) / 1000000;
            pthread_mutex_unlock(&t->lock);
            return ms > 1000000 ? 1000000 : (int)ms;
        }
        timer_ent_t e = t->heap[0];
        tnode_t *n = e.n;
        t->heap[0] = t->heap[--t->n];
        sift_down(t->heap, t->n, 0);
        if (n->cancelled) {
            t->n_dead--;
            pthread_mutex_unlock(&t->lock);
            free(n);
            continue;
        }
        if (n->id == 0) {
            n->in_heap = false;
            pthread_mutex_unlock(&t->lock);
            /* outside the lock: delivery may take others */
            if (n->call)
                n->call(t->sys, n->data);
            else if (target_alive(t->sys, &n->target))
                thi_send_system(t->sys, &n->target, &n->target,
                                TH_MSG_WAKEUP, n->data, n->len);
            free(n);
            continue;
        }
        /* a user timer: at most one of its messages in the mailbox, so a
         * slow actor does not pile ticks up */
        thi_env_t *env = NULL;
        if (!n->queued) {
            env = timer_env(n);
            n->queued = env != NULL;
        }
        th_addr_t to = n->target;
        if (n->period_ns) {
            /* next = previous due + period: no drift; ticks missed while
             * the system stalled are skipped, keeping the phase */
            int64_t due = e.due_ns + n->period_ns;
            if (due <= now)
                due += ((now - due) / n->period_ns + 1) * n->period_ns;
            /* room: this one was just popped */
            t->heap[t->n++] = (timer_ent_t){due, t->seq++, n};
            sift_up(t->heap, t->n - 1);
        } else {
            n->in_heap = false;
        }
        pthread_mutex_unlock(&t->lock);
        if (env)
            thi_deliver(t->sys, &to, env);
    }
}

static void *
timer_main(void *arg)
{
    thi_timers_t *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->quit) {
        if (t->n == 0) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        int64_t due = t->heap[0].due_ns;
        if (due > thi_now_ns()) {
            struct timespec ts = {due / 1000000000, due % 1000000000};
            pthread_cond_timedwait(&t->cond, &t->lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&t->lock);
        thi_timers_fire_due(t);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int
thi_timers_create(struct th_system *sys, thi_timers_t **out)
{
    thi_timers_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return TH_ENOMEM;
    t->sys = sys;
    t->id_free = UINT32_MAX;
    pthread_mutex_init(&t->lock, NULL);
    thi_cond_init(&t->cond);
    if (!sys->opts.synchronous) {
        if (thi_thread_start(&t->thread, NULL, timer_main, t) != 0) {
            pthread_cond_destroy(&t->cond);
            pthread_mutex_destroy(&t->lock);
            free(t);
            return TH_EIO;
        }
        pthread_setname_np(t->thread, "th-timers");
        t->threaded = true;
    }
    *out = t;
    return 0;
}

void
thi_timers_destroy(thi_timers_t *t)
{
    if (t == NULL)
        return;
    if (t->threaded) {
        pthread_mutex_lock(&t->lock);
        t->quit = true;
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
    }
    /* a node is in the heap, the map, or both: free each once */
    for (size_t i = 0; i < t->n; i++)
        if (t->heap[i].n->id == 0 || t->heap[i].n->cancelled)
            free(t->heap[i].n);
    for (uint32_t i = 0; i < t->n_ids; i++)
        free(id_ent(t, i)->n);
    for (size_t c = 0; c < ((size_t)t->n_ids + ID_CHUNK - 1) / ID_CHUNK; c++)
        free(t->ids[c]);
    free(t->ids);
    free(t->heap);

    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static tnode_t *
node_new(const th_addr_t *target, const void *data, size_t len,
         size_t prefix)
{
    tnode_t *n = calloc(1, sizeof *n + prefix + len);
    if (n == NULL)
        return NULL;
    n->target = *target;
    n->len = prefix + len;
    if (len)
        memcpy(n->data + prefix, data, len);
    return n;
}

static int
timer_push(thi_timers_t *t, const th_addr_t *target, uint32_t ms,
           const void *data, size_t len, thi_timer_fn call)
{
    tnode_t *n = node_new(target, data, len, 0);
    if (n == NULL)
        return TH_ENOMEM;
    n->call = call;
    pthread_mutex_lock(&t->lock);
    int rc = heap_push(t, thi_now_ns() + (int64_t)ms * 1000000, n);
    pthread_mutex_unlock(&t->lock);
    if (rc != 0)
        free(n);
    return rc;
}

int
thi_timer_add(thi_timers_t *t, const th_addr_t *target, uint32_t ms,
              const void *data, size_t len)
{
    return timer_push(t, target, ms, data, len, NULL);
}

int
thi_timer_call(thi_timers_t *t, uint32_t ms, thi_timer_fn fn,
               const void *args, size_t len)
{
    static const th_addr_t none = {{0, 0, 0}};
    if (fn == NULL || len == 0)
        return TH_EINVAL;
    return timer_push(t, &none, ms, args, len, fn);
}

/* Wakeups and live user timers (not internal calls); O(heap). */
size_t
thi_timers_pending(thi_timers_t *t, const th_addr_t *target)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        const tnode_t *e = t->heap[i].n;
        if (e->call == NULL && !e->cancelled &&
            (target == NULL || th_addr_eq(&e->target, target)))
            n++;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* ---- Timers with ids ---- */

/* The live actor at `target`; callers run in its own context. */
static thi_slot_t *
own_slot(struct th_system *sys, const th_addr_t *target)
{
    thi_slot_t *slot = thi_slot_get(sys, target->opaque[1]);
    if (slot == NULL || target->opaque[2] == 0 ||
        slot->live_nonce != target->opaque[2])
        return NULL;
    return slot;
}

int
thi_timer_start(struct th_system *sys, const th_addr_t *target,
                int64_t delay_ms, int64_t period_ms, const void *data,
                size_t len, uint64_t *id_out)
{
    if (delay_ms < 0 || period_ms < 0 || delay_ms > THI_TIMER_MAX_MS ||
        period_ms > THI_TIMER_MAX_MS || (data == NULL && len > 0))
        return TH_EINVAL;
    if (len > sys->opts.max_payload)
        return TH_ETOOBIG;
    thi_slot_t *slot = own_slot(sys, target);
    if (slot == NULL)
        return TH_EDEAD;
    timer_slot_t *ts = thi_slot_feat(slot, THI_FEAT_TIMER);
    if (ts == NULL) {
        if ((ts = calloc(1, sizeof *ts)) == NULL)
            return TH_ENOMEM;
        if (thi_slot_feat_set(slot, THI_FEAT_TIMER, ts) != 0) {
            free(ts);
            return TH_ENOMEM;
        }
    }
    tnode_t *n = node_new(target, data, len, ID_PREFIX);
    if (n == NULL)
        return TH_ENOMEM;
    n->period_ns = period_ms * 1000000;
    thi_timers_t *t = thi_sys_timers(sys);
    pthread_mutex_lock(&t->lock);
    int rc = map_put(t, n);
    if (rc == 0) {
        memcpy(n->data, &n->id, ID_PREFIX);
        rc = heap_push(t, thi_now_ns() + delay_ms * 1000000, n);
        if (rc != 0)
            map_del(t, n);
    }
    if (rc == 0) {
        n->lnext = ts->timers;
        if (n->lnext)
            n->lnext->lprev = n;
        ts->timers = n;
        if (id_out)
            *id_out = n->id;
    }
    pthread_mutex_unlock(&t->lock);
    if (rc != 0)
        free(n);
    return rc;
}

int
thi_timer_cancel(struct th_system *sys, const th_addr_t *target, uint64_t id)
{
    thi_timers_t *t = thi_sys_timers(sys);
    thi_slot_t *slot = own_slot(sys, target);
    int rc = TH_ENOENT;
    pthread_mutex_lock(&t->lock);
    tnode_t *n = map_find(t, id);
    /* another actor's timer is as good as unknown to this one */
    if (n && slot && th_addr_eq(&n->target, target)) {
        user_end(t, n, thi_slot_feat(slot, THI_FEAT_TIMER));
        rc = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

bool
thi_timer_accept(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    thi_timers_t *t = thi_sys_timers(ctx->sys);
    /* only timer_env makes system TimerMessages: the id is just before
     * the view (a copy made by th_forward is a user message) */
    uint64_t id;
    memcpy(&id, (const unsigned char *)env->msg.data - ID_PREFIX, ID_PREFIX);
    bool ok = false;
    pthread_mutex_lock(&t->lock);
    tnode_t *n = map_find(t, id);
    if (n && n->target.opaque[1] == slot->id &&
        n->target.opaque[2] == slot->live_nonce) {
        ok = true;
        n->queued = false;
        ctx->msg_tag = id;
        if (n->period_ns == 0) /* a one-shot ends when delivered */
            user_end(t, n, thi_slot_feat(slot, THI_FEAT_TIMER));
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void
thi_timers_cancel_target(struct th_system *sys, const th_addr_t *target)
{
    thi_slot_t *slot = thi_slot_get(sys, target->opaque[1]);
    timer_slot_t *ts = slot ? thi_slot_feat(slot, THI_FEAT_TIMER) : NULL;
    if (ts == NULL)
        return;
    thi_timers_t *t = thi_sys_timers(sys);
    pthread_mutex_lock(&t->lock);
    while (ts->timers)
        user_end(t, ts->timers, ts);
    pthread_mutex_unlock(&t->lock);
}

/* ---- The feature table's entry ---- */

static int
timer_sys_init(struct th_system *sys, th_diag_t *d)
{
    (void)d;
    thi_timers_t *t;
    int rc = thi_timers_create(sys, &t);
    if (rc == 0)
        sys->feat[THI_FEAT_TIMER] = t;
    return rc;
}

static void
timer_sys_fini(struct th_system *sys)
{
    thi_timers_destroy(thi_sys_timers(sys));
    sys->feat[THI_FEAT_TIMER] = NULL;
}

static int
timer_due(struct th_system *sys)
{
    return thi_timers_fire_due(thi_sys_timers(sys));
}

static void
timer_stats(struct th_system *sys, th_system_stats_t *out)
{
    out->pending_timers = thi_timers_pending(thi_sys_timers(sys), NULL);
}

static void
timer_status(struct th_system *sys, thi_slot_t *slot, const th_addr_t *self,
             json_t *into)
{
    (void)slot;
    json_object_set_new(into, "wakeups", json_integer((json_int_t)
        thi_timers_pending(thi_sys_timers(sys), self)));
}

static void
timer_slot_fini(th_ctx_t *ctx, thi_slot_t *slot)
{
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    thi_timers_cancel_target(ctx->sys, &self);
    free(thi_slot_feat(slot, THI_FEAT_TIMER));
    slot->ext->feat[THI_FEAT_TIMER] = NULL;
}

const thi_feature_t thi_feature_timer = {
    .name = "timers",
    .id = THI_FEAT_TIMER,
    .own_type = TH_MSG_TIMER,
    .sys_init = timer_sys_init,
    .sys_fini = timer_sys_fini,
    .due = timer_due,
    .stats = timer_stats,
    .accept = thi_timer_accept,
    .status = timer_status,
    .slot_fini = timer_slot_fini,
};
