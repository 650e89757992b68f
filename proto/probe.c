/*
 * proto/probe.c — is a thespiand serving an endpoint? One ping on a
 * DEALER socket of a ZeroMQ context of its own, watched through the
 * socket's monitor, so that "nothing listens" and "a failed CurveZMQ
 * handshake" are told apart from "no answer" without waiting out the
 * whole bound. The protocol: docs/protocol.md ("ping").
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "proto/zmsg.h"
#include "proto/probe.h"
#include "proto/wire.h"
#include "thespian/error.h"

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_int(void *sock, int opt, int v)
{
    (void)zmq_setsockopt(sock, opt, &v, sizeof v);
}

int
thi_probe_thespiand(const char *endpoint, const thi_curve_key_t *key,
                    int timeout_ms, long *pid)
{
    int rc = TH_ETIMEDOUT;
    void *ctx = zmq_ctx_new();
    if (ctx == NULL)
        return TH_EIO;
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    bool connected = false;
    if (sock == NULL || mon == NULL) {
        rc = TH_EIO;
        goto out_close;
    }
    set_int(sock, ZMQ_LINGER, 0);
    int64_t maxmsg = 1 << 20;
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    /* the host's own key: its ZAP handler accepts it */
    if (key && thi_curve_needed(endpoint) &&
        thi_curve_client(sock, key, key->pub, NULL) != 0) {
        rc = TH_EIO;
        goto out_close;
    }
    if (zmq_socket_monitor(sock, "inproc://th-probe-monitor",
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        zmq_connect(mon, "inproc://th-probe-monitor") != 0 ||
        zmq_connect(sock, endpoint) != 0) {
        rc = TH_EIO;
        goto out_close;
    }
    static const char ping[] = "{\"op\":\"ping\",\"id\":1}";
    unsigned char frame[TH_WIRE_PREFIX + sizeof ping];
    thi_wire_prefix(frame, sizeof ping - 1);
    memcpy(frame + TH_WIRE_PREFIX, ping, sizeof ping - 1);
    (void)thi_zmq_send(sock, frame, TH_WIRE_PREFIX + sizeof ping - 1,
                       ZMQ_DONTWAIT);
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0},
                                   {mon, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, (long)left) < 0 && zmq_errno() != EINTR)
            break;
        if (items[1].revents & ZMQ_POLLIN) {
            unsigned char ev[6];
            int n = thi_zmq_recv(mon, ev, sizeof ev, ZMQ_DONTWAIT);
            char ep[8];
            (void)thi_zmq_recv(mon, ep, sizeof ep, ZMQ_DONTWAIT);
            uint16_t event = 0;
            if (n >= 2)
                memcpy(&event, ev, 2);
            if (event == ZMQ_EVENT_CONNECTED)
                connected = true;
            else if (event == ZMQ_EVENT_CONNECT_RETRIED && !connected) {
                rc = TH_ECLOSED; /* nothing listens there */
                break;
            } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                       event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                       event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
                rc = TH_EPERM; /* a host with other keys, or not a host */
                break;
            }
        }
        if (items[0].revents & ZMQ_POLLIN) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (thi_zmsg_recv(&m, sock, ZMQ_DONTWAIT) >= 0) {
                thi_wire_frame_t f;
                if (thi_wire_split(&f, zmq_msg_data(&m), zmq_msg_size(&m)) ==
                    THI_WIRE_OK) {
                    json_t *h = json_loadb(f.hdr, f.hdr_len, 0, NULL);
                    if (json_is_true(json_object_get(h, "thespiand"))) {
                        json_t *p = json_object_get(h, "pid");
                        if (pid)
                            *pid = json_is_integer(p)
                                       ? (long)json_integer_value(p)
                                       : 0;
                        rc = 0;
                    }
                    json_decref(h);
                }
            }
            zmq_msg_close(&m);
            if (rc == 0)
                break;
        }
    }
out_close:
    if (rc == 0) {
        /* a goodbye, so the host logs no dropped connection for a probe */
        static const char bye[] = "{\"op\":\"bye\"}";
        unsigned char b[TH_WIRE_PREFIX + sizeof bye];
        thi_wire_prefix(b, sizeof bye - 1);
        memcpy(b + TH_WIRE_PREFIX, bye, sizeof bye - 1);
        set_int(sock, ZMQ_LINGER, 100);
        (void)thi_zmq_send(sock, b, TH_WIRE_PREFIX + sizeof bye - 1,
                           ZMQ_DONTWAIT);
    }
    if (mon) {
        if (sock)
            zmq_socket_monitor(sock, NULL, 0);
        zmq_close(mon);
    }
    if (sock)
        zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}
