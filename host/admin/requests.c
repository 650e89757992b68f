/*
 * host/admin/requests.c — one frame from a peer: checked (framing, JSON
 * header, id), then handed to its operation through the table below. A
 * bad frame is dropped with a rate-limited log line and nothing else
 * changes; a refused request is answered when it carries an id. A new
 * operation is one function (ops_*.c) and one row in `ops`.
 */
#include <string.h>

#include "host/admin/internal.h"

/* What an operation needs before it runs. */
enum {
    NEED_CONTEXT = 1, /* a session (hello first); refused with TH_ECLOSED */
    NEED_ID = 2,      /* an "id": it answers */
};

typedef struct op {
    const char *name;
    void (*fn)(req_t *r);
    unsigned needs;
} op_t;

/* Every operation of docs/protocol.md. An op not here is refused as
 * unknown, once it has a context and an id. */
static const op_t ops[] = {
    {"tell", thi_adm_op_tell, NEED_CONTEXT},
    {"ping", thi_adm_op_ping, 0},
    {"hello", thi_adm_op_hello, NEED_ID},
    {"bye", thi_adm_op_bye, 0},
    {"create", thi_adm_op_create, NEED_CONTEXT | NEED_ID},
    {"lookup", thi_adm_op_lookup, NEED_CONTEXT | NEED_ID},
    {"status", thi_adm_op_status, NEED_CONTEXT | NEED_ID},
    {"update_capability", thi_adm_op_update_capability, NEED_CONTEXT | NEED_ID},
    {"shutdown", thi_adm_op_shutdown, NEED_CONTEXT | NEED_ID},
    {"load", thi_adm_op_load, NEED_CONTEXT | NEED_ID},
    {"unload", thi_adm_op_unload, NEED_CONTEXT | NEED_ID},
    {"sources", thi_adm_op_sources, NEED_CONTEXT | NEED_ID},
    {"reload_keys", thi_adm_op_reload_keys, NEED_CONTEXT | NEED_ID},
};

static const op_t *
op_find(const char *name)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

/* Parse the header and run its operation; r->hdr is set for the caller
 * to release. */
static void
dispatch(req_t *r)
{
    json_error_t jerr;
    r->hdr =
        json_loadb(r->hdr_bytes, r->hdr_len, JSON_REJECT_DUPLICATES, &jerr);
    if (r->hdr == NULL) {
        thi_adm_warn_bad(r, "header is not JSON: %s (line %d, column %d)",
                         jerr.text, jerr.line, jerr.column);
        return;
    }
    if (!json_is_object(r->hdr)) {
        thi_adm_warn_bad(r, "header is not a JSON object");
        return;
    }
    json_t *idv = json_object_get(r->hdr, "id");
    if (idv != NULL) {
        if (!json_is_integer(idv) || json_integer_value(idv) < 1) {
            thi_adm_warn_bad(r, "\"id\" must be a positive integer");
            return;
        }
        r->id = json_integer_value(idv);
    }
    const char *name = json_string_value(json_object_get(r->hdr, "op"));
    r->op = name;
    if (name == NULL) {
        thi_adm_warn_bad(r, "header has no \"op\" string");
        return;
    }
    const op_t *op = op_find(name);
    /* an unknown op is judged as one that needs both, in that order */
    unsigned needs = op ? op->needs : NEED_CONTEXT | NEED_ID;
    if ((needs & NEED_CONTEXT) && r->s == NULL) {
        thi_adm_refuse(r, TH_ECLOSED,
                       "no context for this connection (send hello first; "
                       "the host may have restarted)");
        return;
    }
    if ((needs & NEED_ID) && r->id <= 0) {
        thi_adm_warn_bad(r, "%.40s without an \"id\"", name);
        return;
    }
    if (op)
        op->fn(r);
    else
        thi_adm_refuse(r, TH_EINVAL, "unknown op \"%.40s\"", name);
}

void
thi_adm_handle_frame(struct thi_admin *a, const thi_adm_frame_t *fr)
{
    const unsigned char *rid = fr->rid;
    size_t rid_len = fr->rid_len, len = fr->len;
    int fd = fr->fd;
    if (fr->parts > 1) { /* dropped as a whole: the session is not touched */
        req_t r = {.a = a, .fd = fd};
        r.s = thi_adm_session_find(a, rid, rid_len);
        thi_adm_warn_bad(&r,
                         "multipart message of %zu parts (protocol "
                         "frames are single-part)",
                         fr->parts);
        return;
    }
    req_t r = {.a = a, .rid = rid, .rid_len = rid_len, .fd = fd};
    r.s = thi_adm_session_find(a, rid, rid_len);
    if (r.s) {
        r.s->last_seen_ms = thi_adm_now_ms();
        r.s->fd = fd;
    }
    thi_wire_frame_t f;
    enum thi_wire_bad bad = thi_wire_split(&f, fr->data, len);
    if (bad != THI_WIRE_OK) {
        if (bad == THI_WIRE_VERSION_UNKNOWN)
            thi_adm_warn_bad(&r, "%s %u (this host speaks %u), %zu bytes",
                             thi_wire_bad_text(bad), f.version, TH_WIRE_VERSION,
                             len);
        else
            thi_adm_warn_bad(&r, "%s, %zu bytes", thi_wire_bad_text(bad), len);
        return;
    }
    r.payload = f.payload;
    r.payload_len = f.payload_len;
    r.hdr_bytes = f.hdr;
    r.hdr_len = f.hdr_len;
    session_t *s = r.s;
    /* a repeated tell header: no parsing */
    if (s && s->tell_hdr_len == f.hdr_len &&
        memcmp(s->tell_hdr, f.hdr, f.hdr_len) == 0) {
        thi_adm_deliver_tell(&r, &s->tell_to, NULL, s->tell_type);
        return;
    }
    dispatch(&r);
    json_decref(r.hdr);
}
