/*
 * host/admin/sessions.c — the table of client contexts. A session is one
 * context: its ZeroMQ routing id, the runtime inbox that is its address,
 * and what is known of it for log lines. Found by routing id through a
 * hash table with a one-entry cache (a stream of frames from one client).
 * Admin thread only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/admin/internal.h"

static uint32_t
rid_hash(const unsigned char *rid, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ rid[i]) * 16777619u;
    return h % N_BUCKETS;
}

session_t *
thi_adm_session_find(struct thi_admin *a, const unsigned char *rid, size_t len)
{
    session_t *s = a->last;
    if (s && s->rid_len == len && memcmp(s->rid, rid, len) == 0)
        return s;
    for (s = a->buckets[rid_hash(rid, len)]; s; s = s->hnext)
        if (s->rid_len == len && memcmp(s->rid, rid, len) == 0) {
            a->last = s;
            return s;
        }
    return NULL;
}

int
thi_adm_session_open(struct thi_admin *a, session_t **out,
                     const unsigned char *rid, size_t rid_len, int fd, long pid,
                     th_diag_t *d)
{
    session_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(d->msg, sizeof d->msg, "out of memory");
        return d->code = TH_ENOMEM;
    }
    int rc = th_inbox_create(a->sys, &s->inbox);
    if (rc != 0) {
        free(s);
        snprintf(d->msg, sizeof d->msg, "cannot make a reply address: %s",
                 th_strerror(rc));
        return d->code = rc;
    }
    s->admin = a;
    memcpy(s->rid, rid, rid_len);
    s->rid_len = rid_len;
    th_inbox_address(s->inbox, &s->addr);
    th_addr_to_string(&s->addr, s->addr_text, sizeof s->addr_text);
    s->pid = pid;
    s->fd = fd;
    s->last_seen_ms = thi_adm_now_ms();
    uint32_t b = rid_hash(s->rid, s->rid_len);
    s->hnext = a->buckets[b];
    a->buckets[b] = s;
    a->n_sessions++;
    th_inbox_set_notify(s->inbox, thi_adm_on_inbox, s);
    *out = s;
    return 0;
}

void
thi_adm_session_close(struct thi_admin *a, session_t *s, const char *why)
{
    /* after this no on_inbox runs for s (th_inbox_destroy promise) */
    th_inbox_destroy(s->inbox);
    thi_adm_ready_remove(a, s);
    for (session_t **pp = &a->buckets[rid_hash(s->rid, s->rid_len)]; *pp;
         pp = &(*pp)->hnext)
        if (*pp == s) {
            *pp = s->hnext;
            break;
        }
    if (a->last == s)
        a->last = NULL;
    if (s->blocked)
        a->n_blocked--;
    a->n_sessions--;
    /* a goodbye is routine (one per client command): DEBUG */
    th_log_internal(strcmp(why, "goodbye") ? TH_LOG_INFO : TH_LOG_DEBUG,
                    &s->addr,
                    "admin: context closed (%s): %" PRIu64 " tells, %" PRIu64
                    " pushed, %" PRIu64 " filtered",
                    why, s->tells, s->pushed, s->filtered);
    th_inmsg_free(s->stash);
    free(s);
}

session_t *
thi_adm_session_on_fd(struct thi_admin *a, int fd)
{
    for (int b = 0; b < N_BUCKETS; b++)
        for (session_t *s = a->buckets[b]; s; s = s->hnext)
            if (s->fd == fd)
                return s;
    return NULL;
}
