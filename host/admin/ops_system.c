/*
 * host/admin/ops_system.c — the operations on the actor system as a whole:
 * status (the system's, its capabilities and the endpoint's own),
 * update_capability, shutdown (answered when the system has stopped) and
 * reload_keys (the operator's reload of the trusted keys).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/admin/internal.h"

void
thi_adm_op_status(req_t *r)
{
    struct thi_admin *a = r->a;
    char *sys_text = NULL;
    int rc = th_system_status_json(a->sys, &sys_text);
    if (rc != 0) {
        thi_adm_refuse(r, rc, "%s", th_strerror(rc));
        return;
    }
    json_t *sys = json_loads(sys_text, 0, NULL);
    free(sys_text);
    char *caps_text = NULL;
    json_t *caps = th_system_capabilities_json(a->sys, &caps_text) == 0
                       ? json_loads(caps_text, 0, NULL)
                       : NULL;
    free(caps_text);
    json_t *o = json_pack(
        "{s:o, s:o, s:{s:s, s:I, s:i, s:s, s:I, s:I, s:O, s:I}}", "system",
        sys ? sys : json_object(), "capabilities", caps ? caps : json_object(),
        "admin", "endpoint", a->endpoint, "pid", (json_int_t)a->pid, "protocol",
        (int)TH_WIRE_VERSION, "version", TH_HOST_VERSION, "contexts",
        (json_int_t)a->n_sessions, "uptime_s",
        (json_int_t)((thi_adm_now_ms() - a->started_ms) / 1000), "plugins",
        a->plugins, "dropped_frames", (json_int_t)a->dropped_frames);
    /* whose keys it trusts: `thespian start` compares it with its own */
    const char *key_dir = th_system_key_dir(a->sys);
    json_object_set_new(json_object_get(o, "admin"), "directorDir",
                        key_dir[0] ? json_string(key_dir) : json_null());
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        thi_adm_refuse(r, TH_ENOMEM, "out of memory");
        return;
    }
    thi_adm_send_result(a, r->rid, r->rid_len, r->id,
                        json_pack("{s:i}", "code", 0), text, strlen(text));
    free(text);
}

void
thi_adm_op_update_capability(req_t *r)
{
    bool bad = false;
    const char *name = thi_adm_opt_string(r, "name", &bad);
    json_t *value = json_object_get(r->hdr, "value");
    if (bad || name == NULL || strlen(name) > 255 || value == NULL) {
        thi_adm_refuse(r, TH_EINVAL,
                       "wants \"name\" (1..255 bytes) and \"value\" (null "
                       "removes)");
        return;
    }
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        thi_adm_refuse(r, TH_ENOMEM, "out of memory");
        return;
    }
    /* the runtime owns the capabilities; it re-checks the live actors */
    th_diag_t d = {0};
    int rc = th_system_update_capability(r->a->sys, name, text, &d);
    free(text);
    if (rc != 0) {
        thi_adm_refuse(r, rc, "%s", d.msg[0] ? d.msg : th_strerror(rc));
        return;
    }
    thi_adm_reply_ok(r->a, r->rid, r->rid_len, r->id, NULL);
}

/* Answered by thi_adm_finish once the system has stopped (or the bound
 * passed): the requester is remembered until then. */
void
thi_adm_op_shutdown(req_t *r)
{
    struct thi_admin *a = r->a;
    requester_t *q = realloc(a->requesters, (a->n_requesters + 1) * sizeof *q);
    if (q != NULL) {
        a->requesters = q;
        q = &q[a->n_requesters++];
        memcpy(q->rid, r->rid, r->rid_len);
        q->rid_len = r->rid_len;
        q->id = r->id;
    }
    char why[200];
    snprintf(why, sizeof why, "requested by context %s",
             r->s ? r->s->addr_text : "?");
    thi_admin_stop(a, why);
}

/* The operator's reload of the trusted keys: the host reads its key
 * directory again; the request carries no key, path or policy. */
void
thi_adm_op_reload_keys(req_t *r)
{
    char *text = NULL;
    th_diag_t d = {0};
    int rc = th_system_reload_keys(r->a->sys, &text, &d);
    if (rc != 0) {
        thi_adm_refuse(r, rc, "reload_keys: %s",
                       d.msg[0] ? d.msg : th_strerror(rc));
        return;
    }
    thi_adm_send_result(r->a, r->rid, r->rid_len, r->id,
                        json_pack("{s:i}", "code", 0), text, strlen(text));
    free(text);
}
