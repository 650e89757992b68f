/*
 * host/admin/push.c — what actors send to a client context's inbox goes
 * back to that context: the sessions on the ready list (ready.c) are
 * pushed, each message one frame (transport.c). Back-pressure: a
 * context that does not read fills its pipe; its session is then blocked
 * with the one message taken (the runtime's inbox holds the rest) and
 * retried by the tick, which also pings idle contexts to find gone ones.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "host/admin/internal.h"

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
    /* acquire: pairs with on_inbox's fetch_add (ready.c): the counted are linked */
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
    session_t *list = thi_adm_ready_take(a, efd_readable);
    if (list)
        a->delivered = false; /* what was asked is answered */
    while (list) {
        session_t *s = thi_adm_ready_next(a, &list);
        bool gone;
        if (s->blocked)
            continue; /* retried by the tick, in order */
        if (push_session(a, s, &gone))
            thi_adm_ready_push(a, s); /* more left: back of the line */
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
                    thi_adm_ready_push(a, s);
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
