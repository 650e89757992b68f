/*
 * host/admin/transport.c — frames on the admin endpoint's ROUTER socket:
 * sending one frame (a result, a pushed message, a ping) to a routing id,
 * and reading what the socket holds, one frame per request, for the
 * handler the caller passes (the loop passes requests.c's). The bottom of
 * the admin files: it knows sockets, not requests or sessions.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "proto/zmsg.h"
#include "host/admin/internal.h"

int
thi_adm_send(struct thi_admin *a, const unsigned char *rid, size_t rid_len,
             const char *hdr, size_t hlen, const void *payload, size_t plen)
{
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, TH_WIRE_PREFIX + hlen + plen) != 0)
        return TH_ENOMEM;
    unsigned char *p = zmq_msg_data(&m);
    thi_wire_prefix(p, hlen);
    memcpy(p + TH_WIRE_PREFIX, hdr, hlen);
    if (plen)
        memcpy(p + TH_WIRE_PREFIX + hlen, payload, plen);
    /* With ZMQ_ROUTER_MANDATORY the routing-id part fails at once for a
     * peer that is gone (EHOSTUNREACH) or full (EAGAIN). */
    if (thi_zmq_send(a->sock, rid, rid_len,
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        zmq_msg_close(&m);
        return e == EAGAIN ? TH_EFULL : TH_EDEAD;
    }
    if (thi_zmsg_send(&m, a->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return TH_EFULL;
    }
    return 0;
}

int
thi_adm_send_result(struct thi_admin *a, const unsigned char *rid,
                    size_t rid_len, json_int_t id, json_t *hdr,
                    const void *payload, size_t plen)
{
    if (hdr == NULL)
        return TH_ENOMEM;
    json_object_set_new(hdr, "op", json_string("result"));
    json_object_set_new(hdr, "re", json_integer(id));
    char *text = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    if (text == NULL)
        return TH_ENOMEM;
    int rc = thi_adm_send(a, rid, rid_len, text, strlen(text), payload, plen);
    free(text);
    return rc;
}

int
thi_adm_reply_ok(struct thi_admin *a, const unsigned char *rid, size_t rid_len,
                 json_int_t id, json_t *fields)
{
    json_t *hdr = fields ? fields : json_object();
    if (hdr)
        json_object_set_new(hdr, "code", json_integer(0));
    return thi_adm_send_result(a, rid, rid_len, id, hdr, NULL, 0);
}

int
thi_adm_reply_err(struct thi_admin *a, const unsigned char *rid, size_t rid_len,
                  json_int_t id, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return thi_adm_send_result(a, rid, rid_len, id,
                               json_pack("{s:i, s:s, s:s}", "code", code,
                                         "error", th_errname(code), "message",
                                         msg),
                               NULL, 0);
}

int
thi_adm_serve_socket(struct thi_admin *a, thi_adm_frame_fn *serve)
{
    int n;
    for (n = 0; n < RECV_BUDGET; n++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (thi_zmsg_recv(&rid, a->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return n;
        }
        if (!zmq_msg_more(&rid)) { /* cannot happen with a ROUTER */
            zmq_msg_close(&rid);
            continue;
        }
        zmq_msg_init(&body);
        int got = thi_zmsg_recv(&body, a->sock, ZMQ_DONTWAIT);
        int fd = got >= 0 ? zmq_msg_get(&body, ZMQ_SRCFD) : -1;
        size_t extra = 0;
        bool more = got >= 0 && zmq_msg_more(&body);
        while (more) { /* protocol frames are single-part: drain the rest */
            zmq_msg_t x;
            zmq_msg_init(&x);
            if (thi_zmsg_recv(&x, a->sock, ZMQ_DONTWAIT) < 0)
                more = false;
            else
                more = zmq_msg_more(&x);
            zmq_msg_close(&x);
            extra++;
        }
        if (got < 0) {
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            continue;
        }
        thi_adm_frame_t f = {.rid = zmq_msg_data(&rid),
                             .rid_len = zmq_msg_size(&rid),
                             .data = zmq_msg_data(&body),
                             .len = zmq_msg_size(&body),
                             .fd = fd,
                             .parts = extra + 1};
        serve(a, &f);
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
    return n;
}
