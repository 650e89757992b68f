/*
 * host/admin/ops_context.c — the operations that open, check and close a
 * client context: hello (a session with its own reply address), ping
 * (is this a thespiand, which one), bye (the context's goodbye).
 */
#include "host/admin/internal.h"

void
thi_adm_op_hello(req_t *r)
{
    struct thi_admin *a = r->a;
    session_t *s = r->s;
    if (s == NULL) {
        if (a->stopping || th_system_is_stopping(a->sys)) {
            thi_adm_refuse(r, TH_ECLOSED, "the actor system is shutting down");
            return;
        }
        if (a->n_sessions >= a->max_sessions) {
            thi_adm_refuse(r, TH_ELIMIT,
                           "too many client contexts (limit %u; see "
                           "--max-contexts)",
                           a->max_sessions);
            return;
        }
        json_t *pid = json_object_get(r->hdr, "pid");
        th_diag_t d = {0};
        int rc = thi_adm_session_open(
            a, &s, r->rid, r->rid_len, r->fd,
            json_is_integer(pid) ? (long)json_integer_value(pid) : 0, &d);
        if (rc != 0) {
            thi_adm_refuse(r, rc, "%s", d.msg);
            return;
        }
        r->s = s;
        th_log_internal(TH_LOG_DEBUG, &s->addr,
                        "admin: context opened by pid %ld (%s)", s->pid,
                        thi_adm_peer_name(a, r->fd));
    }
    th_addr_t sys;
    char sys_text[TH_ADDR_STRLEN];
    th_system_address_of(a->sys, &sys);
    th_addr_to_string(&sys, sys_text, sizeof sys_text);
    thi_adm_reply_ok(a, r->rid, r->rid_len, r->id,
                     json_pack("{s:s, s:s, s:I, s:i, s:s, s:I}", "addr",
                               s->addr_text, "system", sys_text, "max_payload",
                               (json_int_t)a->max_payload, "protocol",
                               (int)TH_WIRE_VERSION, "version", TH_HOST_VERSION,
                               "pid", (json_int_t)a->pid));
}

void
thi_adm_op_ping(req_t *r)
{
    th_addr_t sys;
    char sys_text[TH_ADDR_STRLEN];
    th_system_address_of(r->a->sys, &sys);
    th_addr_to_string(&sys, sys_text, sizeof sys_text);
    thi_adm_reply_ok(r->a, r->rid, r->rid_len, r->id,
                     json_pack("{s:b, s:I, s:s, s:s}", "thespiand", 1, "pid",
                               (json_int_t)r->a->pid, "endpoint",
                               r->a->endpoint, "system", sys_text));
}

void
thi_adm_op_bye(req_t *r)
{
    struct thi_admin *a = r->a;
    if (r->s)
        thi_adm_session_close(a, r->s, "goodbye");
    /* counted on the fd: the monitor matches it with the close */
    if (thi_adm_peer_slot(a, r->fd) && a->peers[r->fd].byes < UINT32_MAX)
        a->peers[r->fd].byes++;
}
