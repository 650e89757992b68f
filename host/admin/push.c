/*
 * host/admin/push.c — what actors send to a client context's inbox goes
 * back to that context. Inboxes notify from the delivering thread, which
 * queues the session on a ready list and wakes the admin thread through
 * an eventfd (or not at all while it spins for a reply). Back-pressure: a
 * context that does not read fills its pipe; its session is then blocked
 * with the one message taken (the runtime's inbox holds the rest) and
 * retried by the tick, which also pings idle contexts to find gone ones.
 */
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host/admin/internal.h"

/* Put s on the ready list (once) and wake the admin thread. */
static void
ready_push(struct thi_admin *a, session_t *s)
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
     * pairs with the fetch_sub in push_session */
    if (atomic_fetch_add_explicit(&s->pending, 1, memory_order_acq_rel) == 0)
        ready_push(s->admin, s);
}

/* Send one inbox message to its context. Returns 0 (sent or filtered),
 * TH_EFULL (keep it for later), TH_EDEAD (the context is gone). */
static int
push_one(struct thi_admin *a, session_t *s, th_inmsg_t *m)
{
    if (!thi_wire_type_passes(m->type) || !thi_wire_type_valid(m->type)) {
        /* runtime bookkeeping (ChildActorExited, WakeupMessage, ...) is
         * for actors; outside programs see only what Thespian shows them */
        s->filtered++;
        th_log_internal(TH_LOG_DEBUG, &s->addr,
                        "admin: %s for a context filtered", m->type);
        return 0;
    }
    if (s->push_hdr_len == 0 || strcmp(s->push_type, m->type) != 0 ||
        !th_addr_eq(&s->push_from, &m->sender)) {
        char from[TH_ADDR_STRLEN];
        th_addr_to_string(&m->sender, from, sizeof from);
        int n = snprintf(s->push_hdr, sizeof s->push_hdr,
                         "{\"op\":\"msg\",\"type\":\"%s\",\"from\":\"%s\"}",
                         m->type, from);
        if (n < 0 || (size_t)n >= sizeof s->push_hdr)
            return 0; /* cannot happen with valid names: drop */
        s->push_hdr_len = (size_t)n;
        snprintf(s->push_type, sizeof s->push_type, "%s", m->type);
        s->push_from = m->sender;
    }
    int rc = thi_adm_send(a, s->rid, s->rid_len, s->push_hdr, s->push_hdr_len,
                          m->data, m->len);
    if (rc == 0)
        s->pushed++;
    return rc == TH_ENOMEM ? 0 : rc;
}

/* Push up to PUSH_BUDGET messages of one session: a stashed one first,
 * then as many as on_inbox counted. Returns true when more are waiting
 * (the caller queues the session again); *gone when the context's peer
 * is gone. */
static bool
push_session(struct thi_admin *a, session_t *s, bool *gone)
{
    *gone = false;
    if (s->stash) {
        int rc = push_one(a, s, s->stash);
        if (rc == TH_EFULL)
            goto out_blocked;
        th_inmsg_free(s->stash);
        s->stash = NULL;
        if (rc == TH_EDEAD) {
            *gone = true;
            return false;
        }
    }
    /* acquire: pairs with on_inbox's fetch_add: the counted are linked */
    uint64_t n = atomic_load_explicit(&s->pending, memory_order_acquire);
    if (n > PUSH_BUDGET)
        n = PUSH_BUDGET;
    uint64_t taken = 0;
    bool stop = false;
    while (taken < n && !stop) {
        th_inmsg_t *m = NULL;
        if (th_inbox_recv(s->inbox, &m, 0) != 0) {
            /* cannot happen (each was counted after it was queued); do
             * not loop on a count that is wrong */
            th_log_internal(TH_LOG_ERROR, &s->addr,
                            "admin: inbox holds fewer messages than counted");
            taken = n;
            break;
        }
        taken++;
        int rc = push_one(a, s, m);
        if (rc == TH_EFULL) {
            s->stash = m;
            stop = true;
        } else {
            th_inmsg_free(m);
            if (rc == TH_EDEAD) {
                *gone = true;
                return false;
            }
        }
    }
    uint64_t left =
        atomic_fetch_sub_explicit(&s->pending, taken, memory_order_acq_rel) -
        taken;
    if (stop)
        goto out_blocked;
    return left > 0;

out_blocked:
    /* the context does not read: keep the message, stop pushing (the
     * runtime's inbox holds the rest) and let the tick retry */
    if (!s->blocked)
        a->n_blocked++;
    s->blocked = true;
    return false;
}

void
thi_adm_serve_ready(struct thi_admin *a, bool efd_readable)
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
    if (list)
        a->delivered = false; /* what was asked is answered */
    while (list) {
        session_t *s = list;
        /* While `queued` is set nobody else links s, so rnext is ours to
         * read; clearing it first means a message that lands during the
         * push below queues s again instead of being missed. */
        pthread_mutex_lock(&a->ready_lock);
        list = s->rnext;
        s->queued = false;
        pthread_mutex_unlock(&a->ready_lock);
        bool gone;
        if (s->blocked)
            continue; /* retried by the tick, in order */
        if (push_session(a, s, &gone))
            ready_push(a, s); /* more left: back of the line, fairly */
        else if (gone)
            thi_adm_session_close(a, s, "its connection is gone");
    }
}

/* Retry sessions whose pipe was full, and probe idle ones: with
 * ZMQ_ROUTER_MANDATORY a ping to a vanished peer fails at once. */
void
thi_adm_tick(struct thi_admin *a, bool probe)
{
    int64_t now = thi_adm_now_ms();
    static const char ping[] = "{\"op\":\"ping\"}";
    for (int b = 0; b < N_BUCKETS; b++) {
        session_t *s = a->buckets[b];
        while (s) {
            session_t *next = s->hnext;
            bool gone = false;
            if (s->blocked) {
                s->blocked = false;
                a->n_blocked--;
                if (push_session(a, s, &gone))
                    ready_push(a, s);
            } else if (probe && now - s->last_seen_ms >= PROBE_EVERY_MS) {
                gone = thi_adm_send(a, s->rid, s->rid_len, ping,
                                    sizeof ping - 1, NULL, 0) == TH_EDEAD;
                s->last_seen_ms = now;
            }
            if (gone)
                thi_adm_session_close(a, s, "its connection is gone");
            s = next;
        }
    }
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
