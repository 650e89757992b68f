/*
 * host/admin/ops_actor.c — the operations on actors: tell (to an address
 * or a global name; the session's inbox is the sender), create (wait for
 * the init, as Thespian's createActor does), lookup of a global name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/admin/internal.h"

/* Deliver a tell; EFULL is retried briefly, since the client has no way
 * to hear about it (a tell is not answered). */
void
thi_adm_deliver_tell(req_t *r, const th_addr_t *to, const char *name,
                     const char *type)
{
    session_t *s = r->s;
    /* by name: resolved in the runtime as one step with the queueing, so a
     * hot swap moving the name never drops this message */
    int rc = to ? th_inbox_send(s->inbox, to, type, r->payload, r->payload_len)
                : th_inbox_send_name(s->inbox, name, type, r->payload,
                                     r->payload_len);
    if (rc == TH_EFULL) {
        int64_t until = thi_adm_now_ms() + FULL_RETRY_MS;
        while (rc == TH_EFULL && thi_adm_now_ms() < until) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            rc = to ? th_inbox_send(s->inbox, to, type, r->payload,
                                    r->payload_len)
                    : th_inbox_send_name(s->inbox, name, type, r->payload,
                                         r->payload_len);
        }
    }
    s->tells++;
    r->a->delivered = true;
    if (rc == 0 || rc == TH_EDEAD)
        return; /* a dead target was dead-lettered (and logged) already */
    s->refused++;
    if (thi_adm_may_log(r->a)) {
        char a[TH_ADDR_STRLEN];
        if (to)
            th_addr_to_string(to, a, sizeof a);
        else
            snprintf(a, sizeof a, "%.50s", name);
        th_log_internal(TH_LOG_WARNING, &s->addr,
                        "admin: tell %s to %s not delivered: %s (%s)", type, a,
                        th_errname(rc), th_strerror(rc));
    }
}

/* The one header form a tell is cached in: exactly op, to, type. */
void
thi_adm_op_tell(req_t *r)
{
    session_t *s = r->s;
    const char *to_text = json_string_value(json_object_get(r->hdr, "to"));
    const char *name = json_string_value(json_object_get(r->hdr, "name"));
    const char *type = json_string_value(json_object_get(r->hdr, "type"));
    th_addr_t to;
    if (to_text == NULL && name != NULL) {
        if (!thi_wire_type_valid(type) || thi_wire_type_reserved(type)) {
            thi_adm_warn_bad(r, "tell: \"type\" is not a message type a "
                                "client may send");
            return;
        }
        thi_adm_deliver_tell(r, NULL, name, type);
        return;
    }
    if (to_text == NULL || th_addr_from_string(&to, to_text) != 0 ||
        th_addr_is_null(&to)) {
        thi_adm_warn_bad(r, "tell: \"to\" is not an actor address");
        return;
    }
    if (!thi_wire_type_valid(type)) {
        thi_adm_warn_bad(r, "tell: \"type\" is not a message type name");
        return;
    }
    if (thi_wire_type_reserved(type)) {
        thi_adm_warn_bad(r, "tell: type %s is reserved for the runtime", type);
        return;
    }
    if (json_object_size(r->hdr) == 3 && r->hdr_len < sizeof s->tell_hdr) {
        memcpy(s->tell_hdr, r->hdr_bytes, r->hdr_len);
        s->tell_hdr_len = r->hdr_len;
        s->tell_to = to;
        snprintf(s->tell_type, sizeof s->tell_type, "%s", type);
    }
    thi_adm_deliver_tell(r, &to, NULL, type);
}

void
thi_adm_op_create(req_t *r)
{
    bool bad = false;
    const char *cls = thi_adm_opt_string(r, "class", &bad);
    const char *gname = thi_adm_opt_string(r, "global_name", &bad);
    const char *hash = thi_adm_opt_string(r, "source_hash", &bad);
    json_t *req = json_object_get(r->hdr, "requirements");
    if (bad || cls == NULL) {
        thi_adm_refuse(r, TH_EINVAL,
                       "\"class\" must be a string, and \"global_name\" and "
                       "\"source_hash\" strings when given");
        return;
    }
    if (req != NULL && !json_is_null(req) && !json_is_object(req)) {
        thi_adm_refuse(r, TH_EINVAL, "\"requirements\" must be an object");
        return;
    }
    char *req_text = NULL;
    if (req != NULL && json_is_object(req)) {
        req_text = json_dumps(req, JSON_COMPACT);
        if (req_text == NULL) {
            thi_adm_refuse(r, TH_ENOMEM, "out of memory");
            return;
        }
    }
    th_create_opts_t opts = {.size = sizeof opts};
    opts.global_name = gname;
    opts.source_hash = hash;
    opts.requirements_json = req_text;
    th_addr_t addr;
    th_diag_t d = {0};
    /* Thespian's createActor returns once the actor is created or failed:
     * wait for its init (briefly: an init still running after that is
     * reported as created, which it is) */
    int rc = th_system_create_actor_wait(r->a->sys, &addr, cls, &opts,
                                         CREATE_WAIT_MS, &d);
    free(req_text);
    switch (rc) {
    case TH_ETIMEDOUT:
    case 0: {
        char text[TH_ADDR_STRLEN];
        th_addr_to_string(&addr, text, sizeof text);
        thi_adm_reply_ok(r->a, r->rid, r->rid_len, r->id,
                         json_pack("{s:s}", "addr", text));
        return;
    }
    case TH_ENOENT:
        /* Thespian: a class that cannot be found is an invalid spec */
        thi_adm_refuse(r, TH_EINVAL,
                       "no actor class %s on this host (classes are "
                       "PLUGIN.CLASS from a loaded plugin)",
                       cls);
        return;
    case TH_ENOCOMPAT:
        thi_adm_refuse(r, rc, "%s", d.msg);
        return;
    case TH_ESOURCE: /* no such source, an unloading one, or ambiguous */
        if (d.msg[0])
            thi_adm_refuse(r, rc, "%s", d.msg);
        else
            thi_adm_refuse(r, rc, "no loaded source has hash %.80s",
                           hash ? hash : "");
        return;
    case TH_EINVAL:
        thi_adm_refuse(r, rc, "%s", d.msg[0] ? d.msg : "invalid options");
        return;
    case TH_EFAIL:
        thi_adm_refuse(r, TH_ESTARTUP,
                       "%s failed to start: its init refused (the host log "
                       "says why)",
                       cls);
        return;
    default:
        thi_adm_refuse(r, rc, "%s", th_strerror(rc));
        return;
    }
}

void
thi_adm_op_lookup(req_t *r)
{
    bool bad = false;
    const char *name = thi_adm_opt_string(r, "name", &bad);
    if (bad || name == NULL) {
        thi_adm_refuse(r, TH_EINVAL, "\"name\" must be a non-empty string");
        return;
    }
    th_addr_t addr;
    if (th_system_lookup_name(r->a->sys, name, &addr) != 0) {
        thi_adm_refuse(r, TH_ENOENT, "no live actor is named \"%.200s\"", name);
        return;
    }
    char text[TH_ADDR_STRLEN];
    th_addr_to_string(&addr, text, sizeof text);
    thi_adm_reply_ok(r->a, r->rid, r->rid_len, r->id,
                     json_pack("{s:s}", "addr", text));
}
