/*
 * host/admin/ready.c — the ready list: sessions whose inbox got mail,
 * handed from the worker threads that deliver to the admin thread that
 * pushes. An inbox notifies on the delivering thread, which queues its
 * session and wakes the admin thread through an eventfd, or not at all
 * while that thread spins for a reply. The list's lock and the two flags
 * that pair the wake-up with the spin live here alone.
 */
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "host/admin/internal.h"

void
thi_adm_ready_push(struct thi_admin *a, session_t *s)
{
    pthread_mutex_lock(&a->ready_lock);
    if (!s->queued) {
        s->queued = true;
        s->rnext = NULL;
        bool wake = a->ready_head == NULL;
        if (a->ready_tail)
            a->ready_tail->rnext = s;
        else
            a->ready_head = s;
        a->ready_tail = s;
        if (wake) {
            /* seq_cst store then load, against spin_for_ready's seq_cst
             * store of `spinning` then load of `ready_flag`: either the
             * spinner sees the flag, or we see it is not spinning and
             * wake it through the eventfd (or both: harmless) */
            atomic_store(&a->ready_flag, true);
            if (!atomic_load(&a->spinning)) {
                uint64_t one = 1;
                /* a full counter (2^64-2) cannot happen: reads reset it */
                ssize_t w = write(a->efd, &one, sizeof one);
                (void)w;
            }
        }
    }
    pthread_mutex_unlock(&a->ready_lock);
}

void
thi_adm_ready_remove(struct thi_admin *a, session_t *s)
{
    pthread_mutex_lock(&a->ready_lock);
    if (s->queued) {
        session_t **pp = &a->ready_head, *prev = NULL;
        while (*pp && *pp != s) {
            prev = *pp;
            pp = &(*pp)->rnext;
        }
        if (*pp) {
            *pp = s->rnext;
            if (a->ready_tail == s)
                a->ready_tail = prev;
        }
    }
    pthread_mutex_unlock(&a->ready_lock);
}

/* Inbox notification, once per message queued: runs on the delivering
 * thread with the inbox lock held, so it only counts and, on the first
 * message, queues the session. Counting lets the admin thread take
 * exactly what is there and never wait on an empty inbox. */
void
thi_adm_on_inbox(void *arg)
{
    session_t *s = arg;
    /* acq_rel: the message is linked before this (under the inbox lock);
     * pairs with the fetch_sub in push_session (push.c) */
    if (atomic_fetch_add_explicit(&s->pending, 1, memory_order_acq_rel) == 0)
        thi_adm_ready_push(s->admin, s);
}

session_t *
thi_adm_ready_take(struct thi_admin *a, bool efd_readable)
{
    if (efd_readable) {
        uint64_t v;
        ssize_t r = read(a->efd, &v, sizeof v); /* reset it */
        (void)r;
    }
    pthread_mutex_lock(&a->ready_lock);
    session_t *list = a->ready_head;
    a->ready_head = a->ready_tail = NULL;
    atomic_store_explicit(&a->ready_flag, false, memory_order_relaxed);
    pthread_mutex_unlock(&a->ready_lock);
    return list;
}

session_t *
thi_adm_ready_next(struct thi_admin *a, session_t **list)
{
    /* While `queued` is set nobody else links s, so rnext is ours to
     * read; clearing it first means a message that lands during the
     * push that follows queues s again instead of being missed. */
    session_t *s = *list;
    pthread_mutex_lock(&a->ready_lock);
    *list = s->rnext;
    s->queued = false;
    pthread_mutex_unlock(&a->ready_lock);
    return s;
}

/* After handing tells to actors, wait a little on the CPU for their
 * replies: a reply typically comes within tens of microseconds, and
 * catching it here saves the admin thread a sleep and a wake-up on the
 * eventfd, which is most of what an outside ask costs above the raw
 * transport. Bounded, and only right after tells were delivered. */
bool
thi_adm_spin_for_ready(struct thi_admin *a, int64_t spin_ns)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* seq_cst: pairs with ready_push (see there); while set, deliveries
     * skip the eventfd write, a system call on the worker's path */
    atomic_store(&a->spinning, true);
    bool ready = false;
    for (unsigned i = 0; !ready; i++) {
        /* acquire: pairs with the seq_cst store in ready_push */
        ready = atomic_load_explicit(&a->ready_flag, memory_order_acquire);
        if (!ready && (i & 63) == 63) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000 + (t.tv_nsec - t0.tv_nsec) >
                spin_ns)
                break;
        }
        /* yield, not pause: the worker we just woke is often queued on
         * this very CPU (wake-affine), and a pure spin would keep it
         * from running the actor we wait for */
        sched_yield();
    }
    /* seq_cst store then load: the same pairing with ready_push, for the
     * delivery that lands just as we stop spinning */
    atomic_store(&a->spinning, false);
    return ready || atomic_load(&a->ready_flag);
}
