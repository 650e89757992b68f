/*
 * sdk/src/client_io.c — the traffic of one client context: frames from the
 * host (pushed actor messages queue until listen takes them; the result of
 * the request being waited for; "closed"), the socket monitor that turns a
 * lost connection into TH_ECLOSED at once, the wait (pump), and frames to
 * the host (one frame, one request and its result). Frames are
 * docs/protocol.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/zmsg.h"
#include "base/text.h"
#include "sdk/src/client_int.h"

int
thi_client_fail(th_client_t *c, int code, const char *fmt, ...)
{
    /* error texts carry the host's words and names: escaped, so a program
     * printing th_client_errmsg shows no control byte from outside */
    char raw[sizeof c->err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    thi_text_escape(c->err, sizeof c->err, raw, strlen(raw), THI_TEXT_SINK);
    return code;
}

/* ---- Receiving ----------------------------------------------------------- */

static void
queue_push(th_client_t *c, qmsg_t *m)
{
    m->next = NULL;
    if (c->qtail)
        c->qtail->next = m;
    else
        c->qhead = m;
    c->qtail = m;
}

void
thi_client_result_clear(th_client_t *c)
{
    json_decref(c->result);
    c->result = NULL;
    free(c->result_payload);
    c->result_payload = NULL;
    c->result_payload_len = 0;
    c->result_re = 0;
}

/* A pushed actor message. The header is parsed once per distinct header:
 * a stream of replies from one actor repeats the same bytes. */
static void
take_msg(th_client_t *c, const thi_wire_frame_t *f, json_t *hdr)
{
    const char *type = c->last_type;
    th_addr_t from = c->last_from;
    if (hdr != NULL) {
        type = json_string_value(json_object_get(hdr, "type"));
        const char *ftext = json_string_value(json_object_get(hdr, "from"));
        if (!thi_wire_type_valid(type) || ftext == NULL ||
            thi_wire_addr_parse(&from, ftext) != 0)
            return; /* a malformed push is dropped, as the host does */
        snprintf(c->last_type, sizeof c->last_type, "%s", type);
        c->last_from = from;
        if (f->hdr_len < sizeof c->last_hdr) {
            memcpy(c->last_hdr, f->hdr, f->hdr_len);
            c->last_hdr_len = f->hdr_len;
        } else {
            c->last_hdr_len = 0;
        }
    }
    qmsg_t *m = malloc(sizeof *m + f->payload_len + 1);
    if (m == NULL)
        return; /* out of memory: nowhere better to put it */
    snprintf(m->type, sizeof m->type, "%s", type);
    memcpy(m->data, f->payload, f->payload_len);
    m->data[f->payload_len] = '\0';
    m->pub.type = m->type;
    m->pub.data = m->data;
    m->pub.len = f->payload_len;
    m->pub.sender = from;
    queue_push(c, m);
}

static void
take_frame(th_client_t *c, const void *data, size_t len)
{
    thi_wire_frame_t f;
    if (thi_wire_split(&f, data, len) != THI_WIRE_OK)
        return;
    if (c->last_hdr_len && f.hdr_len == c->last_hdr_len &&
        memcmp(f.hdr, c->last_hdr, f.hdr_len) == 0) {
        take_msg(c, &f, NULL);
        return;
    }
    json_t *hdr = json_loadb(f.hdr, f.hdr_len, JSON_REJECT_DUPLICATES, NULL);
    const char *op = json_string_value(json_object_get(hdr, "op"));
    if (op == NULL) {
        json_decref(hdr);
        return;
    }
    if (strcmp(op, "msg") == 0) {
        take_msg(c, &f, hdr);
    } else if (strcmp(op, "result") == 0) {
        json_t *re = json_object_get(hdr, "re");
        if (json_is_integer(re) &&
            (uint64_t)json_integer_value(re) == c->next_id - 1 &&
            c->result == NULL) {
            c->result = json_incref(hdr);
            c->result_re = (uint64_t)json_integer_value(re);
            if (f.payload_len) {
                c->result_payload = malloc(f.payload_len + 1);
                if (c->result_payload) {
                    memcpy(c->result_payload, f.payload, f.payload_len);
                    c->result_payload[f.payload_len] = '\0';
                    c->result_payload_len = f.payload_len;
                }
            }
        } /* else: the answer to a request that already timed out */
    } else if (strcmp(op, "closed") == 0) {
        c->broken = TH_ECLOSED;
        const char *why = json_string_value(json_object_get(hdr, "message"));
        thi_client_fail(c, TH_ECLOSED, "host at %s closed this context: %s",
             c->sh->endpoint, why ? why : "shutting down");
    } /* "ping" and unknown ops: nothing to do */
    json_decref(hdr);
}

/* Drain the monitor: connection events of our socket. */
void
thi_client_monitor_poll(th_client_t *c)
{
    for (;;) {
        unsigned char ev[6];
        int n = thi_zmq_recv(c->mon, ev, sizeof ev, ZMQ_DONTWAIT);
        if (n < 0)
            return;
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(c->mon, ZMQ_RCVMORE, &more, &ml);
        if (more) { /* second frame: the endpoint, not needed */
            char ep[8];
            (void)thi_zmq_recv(c->mon, ep, sizeof ep, ZMQ_DONTWAIT);
        }
        if (n < 2)
            continue;
        uint16_t event;
        memcpy(&event, ev, sizeof event);
        if (event == ZMQ_EVENT_CONNECTED ||
            event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            c->connected = true;
        } else if (event == ZMQ_EVENT_CONNECT_RETRIED) {
            c->refused = true;
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                   event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                   event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            int32_t value;
            memcpy(&value, ev + 2, sizeof value);
            c->handshake = event;
            c->hs_value = value;
        } else if (event == ZMQ_EVENT_DISCONNECTED && c->connected &&
                   !c->broken) {
            /* the host's session (our reply address) is gone with the
             * connection: nothing after this could be answered */
            c->broken = TH_ECLOSED;
            thi_client_fail(c, TH_ECLOSED, "connection to the host at %s was lost",
                 c->sh->endpoint);
        }
    }
}

/* Dispatch one received message (closed here); a host never sends
 * multipart messages, so further parts are read and dropped. */
static void
take_zmsg(th_client_t *c, zmq_msg_t *m)
{
    bool more = zmq_msg_more(m);
    take_frame(c, zmq_msg_data(m), zmq_msg_size(m));
    zmq_msg_close(m);
    while (more) {
        zmq_msg_t x;
        zmq_msg_init(&x);
        if (thi_zmsg_recv(&x, c->sock, ZMQ_DONTWAIT) < 0)
            more = false;
        else
            more = zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
}

/* Receive and dispatch every frame already waiting. */
static void
drain_socket(th_client_t *c)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (thi_zmsg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        take_zmsg(c, &m);
    }
}

/* Wait until a message is queued (want_re == 0) or the result of request
 * want_re arrived, for at most timeout_ms (< 0: no limit). */
int
thi_client_pump(th_client_t *c, int timeout_ms, uint64_t want_re)
{
    int64_t deadline = timeout_ms < 0 ? 0 : thi_client_now_ms() + timeout_ms;
    bool idle = true; /* nothing arrived since the monitor was read */
    for (;;) {
        drain_socket(c);
        if (want_re == 0 && c->qhead)
            return 0;
        if (want_re != 0 && c->result_re == want_re)
            return 0;
        if (idle)
            thi_client_monitor_poll(c);
        if (c->broken)
            return c->broken;
        /* Wait in a blocking receive on the data socket alone, in slices:
         * zmq_poll, or polling the monitor too, would add bookkeeping to
         * every reply, and a lost connection is seen at the next slice
         * anyway. */
        int wait = MONITOR_SLICE_MS;
        if (timeout_ms >= 0) {
            int64_t left = deadline - thi_client_now_ms();
            if (left <= 0)
                return TH_ETIMEDOUT;
            if (left < wait)
                wait = (int)left;
        }
        if (wait != c->rcvtimeo) {
            thi_client_set_int(c->sock, ZMQ_RCVTIMEO, wait);
            c->rcvtimeo = wait;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, 0) >= 0) {
            take_zmsg(c, &m);
            idle = false;
            continue;
        }
        int e = zmq_errno();
        zmq_msg_close(&m);
        if (e != EAGAIN && e != EINTR)
            return thi_client_fail(c, TH_EIO, "waiting for the host at %s: %s",
                        c->sh->endpoint, zmq_strerror(e));
        idle = true;
    }
}

/* ---- Sending ------------------------------------------------------------- */

int
thi_client_send_frame(th_client_t *c, const char *hdr, size_t hlen,
                      const void *payload, size_t plen)
{
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, TH_WIRE_PREFIX + hlen + plen) != 0)
        return thi_client_fail(c, TH_ENOMEM, "no memory for a %zu-byte frame",
                    TH_WIRE_PREFIX + hlen + plen);
    unsigned char *p = zmq_msg_data(&m);
    thi_wire_prefix(p, hlen);
    memcpy(p + TH_WIRE_PREFIX, hdr, hlen);
    if (plen)
        memcpy(p + TH_WIRE_PREFIX + hlen, payload, plen);
    /* a signal handler run in this thread cuts the call short (EINTR):
     * try again until the send timeout has passed */
    int64_t deadline = thi_client_now_ms() + c->sh->request_timeout_ms;
    while (zmq_msg_send(&m, c->sock, 0) < 0) {
        int e = zmq_errno();
        if (e == EINTR && thi_client_now_ms() < deadline)
            continue;
        zmq_msg_close(&m);
        if (e == EAGAIN)
            return thi_client_fail(c, TH_ETIMEDOUT,
                        "the host at %s accepted nothing for %d ms "
                        "(send queue full)",
                        c->sh->endpoint, c->sh->request_timeout_ms);
        return thi_client_fail(c, TH_EIO, "sending to the host at %s: %s", c->sh->endpoint,
                    zmq_strerror(e));
    }
    return 0;
}

/* Send a request header (reference taken; "id" is added) and wait for
 * its result. On success *result is the result header (owned). */
int
thi_client_request(th_client_t *c, json_t *hdr, const void *payload,
                   size_t plen, int timeout_ms, json_t **result,
                   const char *what)
{
    if (hdr == NULL)
        return thi_client_fail(c, TH_ENOMEM, "%s: no memory", what);
    if (c->broken) {
        json_decref(hdr);
        return c->broken;
    }
    thi_client_result_clear(c);
    uint64_t id = c->next_id++;
    json_object_set_new(hdr, "id", json_integer((json_int_t)id));
    char *text = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    if (text == NULL)
        return thi_client_fail(c, TH_ENOMEM, "%s: no memory", what);
    size_t hlen = strlen(text);
    if (hlen > TH_WIRE_HEADER_MAX) {
        free(text);
        return thi_client_fail(c, TH_ETOOBIG,
                    "%s: request header of %zu bytes is over "
                    "the %u-byte limit",
                    what, hlen, TH_WIRE_HEADER_MAX);
    }
    int rc = thi_client_send_frame(c, text, hlen, payload, plen);
    free(text);
    if (rc != 0)
        return rc;
    rc = thi_client_pump(c, timeout_ms < 0 ? c->sh->request_timeout_ms : timeout_ms, id);
    if (rc == TH_ETIMEDOUT)
        return thi_client_fail(c, rc, "%s: the host at %s did not answer within %d ms",
                    what, c->sh->endpoint,
                    timeout_ms < 0 ? c->sh->request_timeout_ms : timeout_ms);
    if (rc != 0)
        return rc;
    json_t *code = json_object_get(c->result, "code");
    json_int_t v =
        json_is_integer(code) ? json_integer_value(code) : TH_EFORMAT;
    if (v > 0 || v < -1000)
        v = TH_EFORMAT;
    if (v != 0) {
        const char *msg =
            json_string_value(json_object_get(c->result, "message"));
        return thi_client_fail(c, (int)v, "%s: %s: %s", what, th_errname((int)v),
                    msg ? msg : th_strerror((int)v));
    }
    if (result)
        *result = json_incref(c->result);
    return 0;
}
