/*
 * host/timer.c — wakeupAfter: a binary min-heap of due times. A threaded
 * system has one timer thread that sleeps until the earliest due time (no
 * polling); a synchronous system fires due timers from th_system_run. Ties
 * keep the order the timers were set in.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/rt.h"

typedef struct timer_ent {
    int64_t due_ns;
    uint64_t seq;
    th_addr_t target;
    void *data;
    size_t len;
    thi_timer_fn call;    /* internal call instead of a WakeupMessage */
} timer_ent_t;

struct thi_timers {
    struct th_system *sys;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    timer_ent_t *heap;
    size_t n, cap;
    uint64_t seq;
    bool quit;
    bool threaded;
    pthread_t thread;
};

static bool
before(const timer_ent_t *a, const timer_ent_t *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void
sift_up(timer_ent_t *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
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
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(&h[l], &h[m]))
            m = l;
        if (r < n && before(&h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        timer_ent_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void
fire(struct th_system *sys, timer_ent_t *e)
{
    if (e->call) {
        e->call(sys, e->data);
        free(e->data);
        return;
    }
    thi_send_system(sys, &e->target, &e->target, TH_MSG_WAKEUP,
                    e->data ? e->data : "", e->len);
    free(e->data);
}

int
thi_timers_fire_due(thi_timers_t *t)
{
    for (;;) {
        pthread_mutex_lock(&t->lock);
        if (t->n == 0) {
            pthread_mutex_unlock(&t->lock);
            return -1;
        }
        int64_t now = thi_now_ns();
        if (t->heap[0].due_ns > now) {
            int64_t ms = (t->heap[0].due_ns - now + 999999) / 1000000;
            pthread_mutex_unlock(&t->lock);
            return ms > 1000000 ? 1000000 : (int)ms;
        }
        timer_ent_t e = t->heap[0];
        t->heap[0] = t->heap[--t->n];
        sift_down(t->heap, t->n, 0);
        pthread_mutex_unlock(&t->lock);
        fire(t->sys, &e); /* outside the lock: delivery may take others */
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
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (!sys->opts.synchronous) {
        if (pthread_create(&t->thread, NULL, timer_main, t) != 0) {
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
    for (size_t i = 0; i < t->n; i++)
        free(t->heap[i].data);
    free(t->heap);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static int timer_push(thi_timers_t *t, const th_addr_t *target, uint32_t ms,
                      const void *data, size_t len, thi_timer_fn call);

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

static int
timer_push(thi_timers_t *t, const th_addr_t *target, uint32_t ms,
           const void *data, size_t len, thi_timer_fn call)
{
    void *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (copy == NULL)
            return TH_ENOMEM;
        memcpy(copy, data, len);
    }
    pthread_mutex_lock(&t->lock);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        timer_ent_t *h = realloc(t->heap, cap * sizeof *h);
        if (h == NULL) {
            pthread_mutex_unlock(&t->lock);
            free(copy);
            return TH_ENOMEM;
        }
        t->heap = h;
        t->cap = cap;
    }
    uint64_t seq = t->seq++;
    t->heap[t->n] = (timer_ent_t){thi_now_ns() + (int64_t)ms * 1000000, seq,
                                  *target, copy, len, call};
    sift_up(t->heap, t->n++);
    if (t->heap[0].seq == seq) /* new earliest: the thread must re-arm */
        pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

size_t
thi_timers_pending(thi_timers_t *t, const th_addr_t *target)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++)
        if (t->heap[i].call == NULL &&
            (target == NULL || th_addr_eq(&t->heap[i].target, target)))
            n++;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* ---- Timers with ids (placeholder until the timers work lands) ---- */

int
thi_timer_start(struct th_system *sys, const th_addr_t *target,
                int64_t delay_ms, int64_t period_ms, const void *data,
                size_t len, uint64_t *id_out)
{
    (void)sys, (void)target, (void)delay_ms, (void)period_ms, (void)data;
    (void)len, (void)id_out;
    return TH_EINVAL;
}

int
thi_timer_cancel(struct th_system *sys, const th_addr_t *target, uint64_t id)
{
    (void)sys, (void)target, (void)id;
    return TH_ENOENT;
}

bool
thi_timer_accept(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env)
{
    (void)ctx, (void)slot, (void)env;
    return true;
}

void
thi_timers_cancel_target(struct th_system *sys, const th_addr_t *target)
{
    (void)sys, (void)target;
}

