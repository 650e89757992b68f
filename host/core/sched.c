/*
 * host/core/sched.c — the M:N scheduler. Each worker thread owns a FIFO ring of
 * runnable actor slots (others may steal from it) and a LIFO slot holding
 * the actor it most recently made runnable, so a request/reply pair stays
 * on one core. Slots made runnable outside workers go to a global queue.
 * Idle workers sleep on a futex: a system with nothing to do uses no CPU.
 * Synchronous mode has no threads: the caller drains the global queue.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/thread.h"
#include "host/core/runtime.h"
#include "host/core/feature.h"

#define RING_CAP 256u
#define LIFO_STREAK_MAX 16   /* then let queued work run: fairness */
#define GLOBAL_EVERY 61      /* check the global queue every N turns */
#define TIMER_CHECK_TURNS 32 /* synchronous mode: due timers every N turns */

struct thi_worker {
    struct thi_sched *sched;
    uint32_t index;
    pthread_t thread;
    th_ctx_t ctx;
    thi_slot_t *lifo;            /* owner only */
    uint32_t lifo_streak;
    uint32_t tick;
    uint64_t rng;
    /* ring: owner pushes at tail; owner and thieves take at head (CAS) */
    _Alignas(64) _Atomic uint32_t head;
    _Alignas(64) _Atomic uint32_t tail;
    _Atomic(thi_slot_t *) ring[RING_CAP];
};

struct thi_sched {
    struct th_system *sys;
    uint32_t n;
    thi_worker_t *workers;
    uint32_t batch;
    th_ctx_t sync_ctx;
    bool sync_running;           /* synchronous: inside thi_sched_run_sync */

    pthread_mutex_t glock;
    thi_slot_t *ghead, *gtail;
    atomic_uint gcount;

    _Alignas(64) _Atomic uint32_t park_seq;
    atomic_int sleepers;
    atomic_bool quit;
    uint32_t started;
};

static _Thread_local thi_worker_t *tls_worker;

static long
futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
    return syscall(SYS_futex, (uint32_t *)addr, op, val, NULL, NULL, 0);
}

/* ---- global queue ------------------------------------------------------------ */

static void
global_push(thi_sched_t *s, thi_slot_t *slot)
{
    pthread_mutex_lock(&s->glock);
    slot->sched_next = NULL;
    if (s->gtail)
        s->gtail->sched_next = slot;
    else
        s->ghead = slot;
    s->gtail = slot;
    atomic_fetch_add_explicit(&s->gcount, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->glock);
}

static thi_slot_t *
global_pop(thi_sched_t *s)
{
    if (atomic_load_explicit(&s->gcount, memory_order_relaxed) == 0)
        return NULL;
    pthread_mutex_lock(&s->glock);
    thi_slot_t *slot = s->ghead;
    if (slot) {
        s->ghead = slot->sched_next;
        if (s->ghead == NULL)
            s->gtail = NULL;
        slot->sched_next = NULL;
        atomic_fetch_sub_explicit(&s->gcount, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&s->glock);
    return slot;
}

/* ---- worker rings --------------------------------------------------------------- */

static uint32_t
ring_len(thi_worker_t *w)
{
    uint32_t h = atomic_load_explicit(&w->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&w->tail, memory_order_acquire);
    return t - h;
}

static void
ring_push(thi_worker_t *w, thi_slot_t *slot)
{
    uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&w->head, memory_order_acquire);
    if (t - h >= RING_CAP) {
        global_push(w->sched, slot);
        return;
    }
    atomic_store_explicit(&w->ring[t % RING_CAP], slot, memory_order_relaxed);
    /* release: a thief that sees the new tail sees the cell */
    atomic_store_explicit(&w->tail, t + 1, memory_order_release);
}

static thi_slot_t *
ring_take(thi_worker_t *w)
{
    for (;;) {
        uint32_t h = atomic_load_explicit(&w->head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&w->tail, memory_order_acquire);
        if (h == t)
            return NULL;
        thi_slot_t *slot =
            atomic_load_explicit(&w->ring[h % RING_CAP], memory_order_relaxed);
        /* the owner never overwrites cell h before head moves past it */
        if (atomic_compare_exchange_weak_explicit(&w->head, &h, h + 1,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed))
            return slot;
    }
}

/* ---- parking ---------------------------------------------------------------------- */

static void
notify_one(thi_sched_t *s)
{
    /* seq_cst fence pairs with the one in park(): either the sleeper sees
     * the work we just queued, or we see it counted as a sleeper */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&s->sleepers, memory_order_relaxed) > 0) {
        atomic_fetch_add_explicit(&s->park_seq, 1, memory_order_release);
        futex(&s->park_seq, FUTEX_WAKE_PRIVATE, 1);
    }
}

static void
notify_all(thi_sched_t *s)
{
    atomic_fetch_add_explicit(&s->park_seq, 1, memory_order_release);
    futex(&s->park_seq, FUTEX_WAKE_PRIVATE, INT_MAX);
}

static bool
has_work(thi_sched_t *s)
{
    if (atomic_load_explicit(&s->gcount, memory_order_relaxed) > 0)
        return true;
    for (uint32_t i = 0; i < s->n; i++)
        if (ring_len(&s->workers[i]) > 0)
            return true;
    return false;
}

static void
park(thi_worker_t *w)
{
    thi_sched_t *s = w->sched;
    uint32_t seq = atomic_load_explicit(&s->park_seq, memory_order_acquire);
    atomic_fetch_add_explicit(&s->sleepers, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    if (!has_work(s) && !atomic_load(&s->quit))
        futex(&s->park_seq, FUTEX_WAIT_PRIVATE, seq);
    atomic_fetch_sub_explicit(&s->sleepers, 1, memory_order_relaxed);
}

/* ---- scheduling ---------------------------------------------------------------------- */

void
thi_sched_push(struct th_system *sys, thi_slot_t *slot)
{
    thi_sched_t *s = sys->sched;
    thi_worker_t *w = tls_worker;
    if (w != NULL && w->sched == s) {
        /* made runnable by an actor on this worker: run it next here */
        if (w->lifo) {
            ring_push(w, w->lifo);
            w->lifo = slot;
            notify_one(s);
        } else {
            w->lifo = slot;
        }
        return;
    }
    global_push(s, slot);
    notify_one(s);
}

static void
requeue(thi_worker_t *w, thi_slot_t *slot)
{
    /* used up its batch: wait behind work queued from outside, if any, so
     * a busy actor on this worker cannot delay it for many turns */
    if (atomic_load_explicit(&w->sched->gcount, memory_order_relaxed) > 0) {
        global_push(w->sched, slot);
        slot = global_pop(w->sched);
        if (slot == NULL)
            return;
    }
    ring_push(w, slot);
    if (w->lifo != NULL || ring_len(w) > 1)
        notify_one(w->sched);
}

static thi_slot_t *
steal(thi_worker_t *w)
{
    thi_sched_t *s = w->sched;
    if (s->n < 2)
        return NULL;
    w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t start = (uint32_t)(w->rng >> 33) % s->n;
    for (uint32_t i = 0; i < s->n; i++) {
        thi_worker_t *v = &s->workers[(start + i) % s->n];
        if (v == w)
            continue;
        thi_slot_t *slot = ring_take(v);
        if (slot)
            return slot;
    }
    return NULL;
}

static thi_slot_t *
next_slot(thi_worker_t *w)
{
    thi_sched_t *s = w->sched;
    thi_slot_t *slot;
    if (++w->tick % GLOBAL_EVERY == 0 && (slot = global_pop(s)) != NULL)
        return slot;
    if (w->lifo && (w->lifo_streak < LIFO_STREAK_MAX || ring_len(w) == 0)) {
        slot = w->lifo;
        w->lifo = NULL;
        w->lifo_streak++;
        return slot;
    }
    w->lifo_streak = 0;
    if ((slot = ring_take(w)) != NULL)
        return slot;
    if (w->lifo) {
        slot = w->lifo;
        w->lifo = NULL;
        return slot;
    }
    if ((slot = global_pop(s)) != NULL)
        return slot;
    return steal(w);
}

static void *
worker_main(void *arg)
{
    thi_worker_t *w = arg;
    thi_sched_t *s = w->sched;
    tls_worker = w;
    while (!atomic_load_explicit(&s->quit, memory_order_acquire)) {
        thi_slot_t *slot = next_slot(w);
        if (slot == NULL) {
            park(w);
            continue;
        }
        if (thi_slot_run(&w->ctx, slot, s->batch))
            requeue(w, slot);
    }
    tls_worker = NULL;
    return NULL;
}

int
thi_sched_create(struct th_system *sys, thi_sched_t **out)
{
    thi_sched_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TH_ENOMEM;
    s->sys = sys;
    s->batch = sys->opts.batch ? sys->opts.batch : 64;
    pthread_mutex_init(&s->glock, NULL);
    thi_ctx_init(&s->sync_ctx, sys, NULL);
    if (sys->opts.synchronous) {
        *out = s;
        return 0;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s->n = sys->opts.workers ? sys->opts.workers
                             : (uint32_t)(ncpu > 0 ? ncpu : 1);
    s->workers = aligned_alloc(64, sizeof *s->workers * s->n);
    if (s->workers == NULL) {
        free(s);
        return TH_ENOMEM;
    }
    memset(s->workers, 0, sizeof *s->workers * s->n);
    *out = s;
    for (uint32_t i = 0; i < s->n; i++) {
        thi_worker_t *w = &s->workers[i];
        w->sched = s;
        w->index = i;
        w->rng = thi_random64();
        thi_ctx_init(&w->ctx, sys, w);
        if (thi_thread_start(&w->thread, NULL, worker_main, w) != 0) {
            thi_sched_stop(s);
            return TH_EIO;
        }
        s->started++;
        char tname[16];
        snprintf(tname, sizeof tname, "th-worker-%u", i % 1000u);
        pthread_setname_np(w->thread, tname);
    }
    return 0;
}

void
thi_sched_stop(thi_sched_t *s)
{
    if (s == NULL)
        return;
    atomic_store_explicit(&s->quit, true, memory_order_release);
    notify_all(s);
    for (uint32_t i = 0; i < s->started; i++)
        pthread_join(s->workers[i].thread, NULL);
    s->started = 0;
}

/* thi_sched_stop with a bound: a worker whose actor's callback never
 * returns is not waited for (detached; it keeps the system's memory, so
 * the caller must not free it). Returns how many workers were left. */
uint32_t
thi_sched_stop_within(thi_sched_t *s, int timeout_ms)
{
    if (s == NULL)
        return 0;
    atomic_store_explicit(&s->quit, true, memory_order_release);
    notify_all(s);
    struct timespec ts; /* pthread_timedjoin_np's clock is CLOCK_REALTIME */
    thi_deadline_after(&ts, CLOCK_REALTIME, timeout_ms);
    uint32_t left = 0;
    for (uint32_t i = 0; i < s->started; i++)
        if (pthread_timedjoin_np(s->workers[i].thread, NULL, &ts) != 0) {
            pthread_detach(s->workers[i].thread);
            left++;
        }
    s->started = 0;
    return left;
}

/* What the callback of a worker running `slot` is doing ("" between
 * callbacks), or NULL when no worker runs it. */
const char *
thi_sched_busy(thi_sched_t *s, const thi_slot_t *slot)
{
    for (uint32_t i = 0; s && i < s->n; i++)
        if (atomic_load_explicit(&s->workers[i].ctx.busy,
                                 memory_order_acquire) == slot) {
            const char *what = atomic_load_explicit(
                &s->workers[i].ctx.busy_what, memory_order_relaxed);
            return what ? what : "";
        }
    return NULL;
}

void
thi_sched_destroy(thi_sched_t *s)
{
    if (s == NULL)
        return;
    thi_sched_stop(s);
    free(s->workers);
    pthread_mutex_destroy(&s->glock);
    free(s);
}

uint32_t
thi_sched_workers(thi_sched_t *s)
{
    return s->n;
}

uint64_t
thi_sched_messages(thi_sched_t *s)
{
    uint64_t n = atomic_load_explicit(&s->sync_ctx.messages,
                                      memory_order_relaxed);
    for (uint32_t i = 0; i < s->n; i++)
        n += atomic_load_explicit(&s->workers[i].ctx.messages,
                                  memory_order_relaxed);
    return n;
}

/* The features' due work (timers): ms until the earliest next, -1: none. */
static int
features_due(struct th_system *sys)
{
    int next = -1;
    for (unsigned i = 0; i < thi_n_features; i++) {
        if (thi_features[i]->due == NULL)
            continue;
        int ms = thi_features[i]->due(sys);
        if (ms >= 0 && (next < 0 || ms < next))
            next = ms;
    }
    return next;
}

/* The features' events (fd watches): how many were delivered, -1 when no
 * feature watches anything. */
static int
features_poll(struct th_system *sys, int timeout_ms)
{
    int n = -1;
    for (unsigned i = 0; i < thi_n_features; i++) {
        if (thi_features[i]->poll == NULL)
            continue;
        int k = thi_features[i]->poll(sys, timeout_ms);
        if (k >= 0)
            n = (n < 0 ? 0 : n) + k;
    }
    return n;
}

long
thi_sched_run_sync(struct th_system *sys, int timeout_ms,
                   bool (*until)(void *), void *arg)
{
    thi_sched_t *s = sys->sched;
    if (s->sync_running)
        return 0; /* nested (a send from inside a run): the outer run goes on */
    s->sync_running = true;
    uint64_t before = thi_sched_messages(s);
    int64_t deadline =
        timeout_ms > 0 ? thi_now_ns() + (int64_t)timeout_ms * 1000000 : 0;
    /* Due timers fire even while actors stay busy and while the caller's
     * condition keeps being met (docs/timers.md): once on entry, then
     * every TIMER_CHECK_TURNS turns, not only when nothing is runnable. */
    (void)features_due(sys);
    uint32_t turns = 0;
    for (;;) {
        if (until && until(arg))
            break;
        thi_slot_t *slot = global_pop(s);
        if (slot) {
            if (thi_slot_run(&s->sync_ctx, slot, s->batch))
                global_push(s, slot);
            if (++turns % TIMER_CHECK_TURNS == 0)
                (void)features_due(sys);
            continue;
        }
        int next_ms = features_due(sys);
        if (atomic_load_explicit(&s->gcount, memory_order_relaxed) > 0)
            continue;
        /* readable watched fds are work too: a look without waiting */
        int watched = features_poll(sys, 0);
        if (watched > 0)
            continue;
        /* nothing due: wait only for a timer, or for fds until a deadline
         * (timeout -1 with no timer left returns rather than block) */
        if (timeout_ms == 0 ||
            (next_ms < 0 && (watched < 0 || timeout_ms < 0)))
            break;
        int64_t now = thi_now_ns();
        if (timeout_ms > 0 && now >= deadline)
            break;
        int64_t wait_ns = next_ms < 0 ? INT64_MAX : (int64_t)next_ms * 1000000;
        if (timeout_ms > 0 && wait_ns > deadline - now)
            wait_ns = deadline - now;
        if (watched >= 0) { /* sleep in epoll: an fd may end the wait */
            features_poll(sys, (int)((wait_ns + 999999) / 1000000));
            continue;
        }
        struct timespec ts = {wait_ns / 1000000000, wait_ns % 1000000000};
        nanosleep(&ts, NULL);
    }
    s->sync_running = false;
    return (long)(thi_sched_messages(s) - before);
}

/* Synchronous mode runs the system after a send from outside, as
 * Thespian's simpleSystemBase does on tell: when the send returns, what it
 * caused has happened (timers excepted). sync_queue_only keeps sends
 * queue-only. A send from inside a run (nested) only queues. */
int
thi_ran_after_send(struct th_system *sys, int rc)
{
    if (rc == 0 && sys->opts.synchronous && !sys->opts.sync_queue_only)
        (void)thi_sched_run_sync(sys, 0, NULL, NULL);
    return rc;
}
