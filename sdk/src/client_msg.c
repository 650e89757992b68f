/*
 * sdk/src/client_msg.c — messages between a client context and actors:
 * tell (by address or global name; the header of a stream of tells to one
 * actor is built once), listen (the queue of pushed messages), ask (tell,
 * then listen), and role (ask the Director which actor plays a role).
 */
#include <stdio.h>
#include <string.h>

#include "sdk/src/client_int.h"

/* The tell header for (to, type), kept for the next tell: a stream of
 * tells to one actor costs no formatting. */
static int
tell_header(th_client_t *c, const th_addr_t *to, const char *type)
{
    if (c->tell_hdr_len && th_addr_eq(&c->tell_to, to) &&
        strcmp(c->tell_type, type) == 0)
        return 0;
    char a[TH_ADDR_STRLEN];
    thi_wire_addr_format(to, a, sizeof a);
    /* type and address are from fixed alphabets: nothing to escape */
    int n =
        snprintf(c->tell_hdr, sizeof c->tell_hdr,
                 "{\"op\":\"tell\",\"to\":\"%s\",\"type\":\"%s\"}", a, type);
    if (n < 0 || (size_t)n >= sizeof c->tell_hdr)
        return TH_EINVAL;
    c->tell_hdr_len = (size_t)n;
    c->tell_to = *to;
    snprintf(c->tell_type, sizeof c->tell_type, "%s", type);
    return 0;
}

/* What every tell checks before anything is sent: the type, reserved
 * types, the payload. */
static int
check_message(th_client_t *c, const char *type, const void *data, size_t len)
{
    if (!thi_wire_type_valid(type))
        return thi_client_fail(c, TH_EINVAL,
                    "tell: message type \"%.80s\" is not 1..%d characters of "
                    "[A-Za-z0-9_.:-]",
                    type ? type : "(null)", TH_NAME_MAX - 1);
    if (thi_wire_type_reserved(type))
        return thi_client_fail(c, TH_ERESERVED,
                    "tell: message type %s is reserved for the runtime", type);
    if (data == NULL && len > 0)
        return thi_client_fail(c, TH_EINVAL, "tell: NULL data with length %zu", len);
    if (len > c->max_payload)
        return thi_client_fail(c, TH_ETOOBIG,
                    "tell %s: payload of %zu bytes is over the host's limit "
                    "of %zu",
                    type, len, c->max_payload);
    return 0;
}

TH_API int
th_client_tell(th_client_t *c, const th_addr_t *to, const char *type,
               const void *data, size_t len)
{
    thi_client_check(c);
    if ((c->tells_unchecked++ % MONITOR_EVERY) == 0)
        thi_client_monitor_poll(c);
    if (c->broken)
        return c->broken;
    if (to == NULL || th_addr_is_null(to))
        return thi_client_fail(c, TH_EADDR, "tell: InvalidActorAddress: no address");
    int rc = check_message(c, type, data, len);
    if (rc != 0)
        return rc;
    rc = tell_header(c, to, type);
    if (rc != 0)
        return thi_client_fail(c, rc, "tell %s: cannot build the header", type);
    return thi_client_send_frame(c, c->tell_hdr, c->tell_hdr_len, data, len);
}

TH_API int
th_client_listen(th_client_t *c, th_client_msg_t **out, int timeout_ms)
{
    thi_client_check(c);
    if (out == NULL)
        return thi_client_fail(c, TH_EINVAL, "listen: NULL out");
    if (c->qhead == NULL) {
        int rc = thi_client_pump(c, timeout_ms, 0);
        if (rc == TH_ETIMEDOUT)
            return thi_client_fail(c, rc, "no message within %d ms", timeout_ms);
        if (rc != 0)
            return rc;
    }
    qmsg_t *m = c->qhead;
    c->qhead = m->next;
    if (c->qhead == NULL)
        c->qtail = NULL;
    m->next = NULL;
    *out = &m->pub;
    return 0;
}

TH_API int
th_client_tell_name(th_client_t *c, const char *name, const char *type,
                    const void *data, size_t len)
{
    thi_client_check(c);
    if (c->broken)
        return c->broken;
    if (name == NULL || name[0] == '\0' || strlen(name) > 255)
        return thi_client_fail(c, TH_EINVAL, "tell: a global name of 1..255 bytes");
    int rc = check_message(c, type, data, len);
    if (rc != 0)
        return rc;
    /* the name is JSON-escaped by jansson: any bytes are safe here */
    json_t *h = json_pack("{s:s, s:s, s:s}", "op", "tell", "name", name,
                          "type", type);
    char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (text == NULL)
        return thi_client_fail(c, TH_ENOMEM, "tell: out of memory");
    rc = thi_client_send_frame(c, text, strlen(text), data, len);
    free(text);
    return rc;
}

TH_API int
th_client_ask_name(th_client_t *c, th_client_msg_t **out, const char *name,
                   const char *type, const void *data, size_t len,
                   int timeout_ms)
{
    int rc = th_client_tell_name(c, name, type, data, len);
    if (rc != 0)
        return rc;
    return th_client_listen(c, out, timeout_ms);
}

TH_API int
th_client_role(th_client_t *c, th_addr_t *out, const char *role,
               const char *group, int timeout_ms)
{
    thi_client_check(c);
    c->err[0] = '\0';
    if (role == NULL || out == NULL)
        return thi_client_fail(c, TH_EINVAL, "role: a role name is required");
    json_t *q = json_pack("{s:s, s:s, s:s?}", "DirectorOp", "RetrieveRole",
                          "role", role, "group", group);
    char *body = q ? json_dumps(q, JSON_COMPACT) : NULL;
    json_decref(q);
    if (body == NULL)
        return thi_client_fail(c, TH_ENOMEM, "role: out of memory");
    th_client_msg_t *m = NULL;
    int rc = th_client_ask_name(c, &m, "Director", "DirectorOp", body,
                                strlen(body), timeout_ms);
    free(body);
    if (rc != 0)
        return rc;
    json_t *r = json_loadb(m->data, m->len, 0, NULL);
    const char *addr = json_string_value(json_object_get(r, "address"));
    const char *err = json_string_value(json_object_get(r, "error"));
    if (strcmp(m->type, "DirectorResult") != 0 || addr == NULL)
        rc = thi_client_fail(c, TH_ENOENT, "role %s: %s", role,
                  err ? err : "no answer from the Director");
    else if (thi_wire_addr_parse(out, addr) != 0)
        rc = thi_client_fail(c, TH_EADDR, "role %s: the Director sent a bad address",
                  role);
    json_decref(r);
    th_client_msg_free(m);
    return rc;
}

TH_API int
th_client_ask(th_client_t *c, th_client_msg_t **out, const th_addr_t *to,
              const char *type, const void *data, size_t len, int timeout_ms)
{
    int rc = th_client_tell(c, to, type, data, len);
    if (rc != 0)
        return rc;
    return th_client_listen(c, out, timeout_ms);
}

TH_API void
th_client_msg_free(th_client_msg_t *msg)
{
    free(msg); /* the qmsg_t starts with it */
}
