/*
 * host/admin/req.c — what every operation does with the request it
 * serves (req_t): read an optional string field, refuse the request (an
 * answer when it has an id, else a log line), or drop a bad frame with a
 * rate-limited warning naming who sent it. Below requests.c and the
 * ops_*.c files, which all use it; above transport.c and monitor.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "host/admin/internal.h"

void
thi_adm_warn_bad(req_t *r, const char *fmt, ...)
{
    r->a->dropped_frames++;
    if (!thi_adm_may_log(r->a))
        return;
    /* its ACCEPTED event is not read yet: read the events, not frames
     * (r->s must stay valid) */
    if (!thi_adm_peer_known(r->a, r->fd) && !r->a->in_monitor) {
        r->a->in_monitor = true;
        thi_adm_monitor_events(r->a);
        r->a->in_monitor = false;
    }
    char who[200], what[400];
    thi_adm_describe(r->a, r->s, r->fd, who, sizeof who);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    th_log_internal(TH_LOG_WARNING, NULL, "admin: frame from %s dropped: %s",
                    who, what);
}

void
thi_adm_refuse(req_t *r, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->id > 0)
        thi_adm_reply_err(r->a, r->rid, r->rid_len, r->id, code, "%s", msg);
    else
        thi_adm_warn_bad(r, "%.40s: %s", r->op ? r->op : "?", msg);
}

const char *
thi_adm_opt_string(req_t *r, const char *key, bool *bad)
{
    json_t *v = json_object_get(r->hdr, key);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = true; /* a NUL inside would let C see another string */
        return NULL;
    }
    return json_string_value(v);
}
