/*
 * sdk/src/client.c — libthespian-client: contexts on a host's admin
 * endpoint. One context is one ZeroMQ DEALER connection with its own reply
 * inbox in the host; private contexts share the parent's ZeroMQ context
 * (its I/O thread). Frames are docs/protocol.md; the host pushes actor
 * messages as they arrive, and they queue here until listen/ask takes
 * them. A socket monitor turns a lost connection into TH_ECLOSED at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "proto/curve.h"
#include "base/text.h"
#include "proto/wire.h"
#include "thespian/client.h"

#define CLIENT_MAGIC 0x434c4e54u /* "CLNT" */
#define DEFAULT_CONNECT_MS 5000
#define DEFAULT_REQUEST_MS 10000
#define BYE_LINGER_MS 100
/* Heartbeats find a host that stopped answering on a live TCP connection
 * (stopped, or a partition): the connection is then dropped and every
 * call fails with TH_ECLOSED instead of waiting. */
#define HEARTBEAT_IVL_MS 1000
#define HEARTBEAT_TTL_MS 5000
#define MONITOR_EVERY 32    /* tells between monitor checks (cost per tell) */
#define MONITOR_SLICE_MS 50 /* a wait looks at the monitor this often */

/* Shared by a context and the private contexts made from it. */
typedef struct shared {
    atomic_int refs;
    atomic_uint seq; /* names monitor endpoints */
    void *zctx;
    char endpoint[TH_WIRE_ENDPOINT_MAX];
    int connect_timeout_ms;
    int request_timeout_ms;
    bool curve; /* tcp://: CurveZMQ with these keys */
    thi_curve_key_t key;
    char server_pub[THI_CURVE_Z85];
    /* a key file is missing: the keys above are throwaway ones, so that
     * "nothing listens there" is still told apart; any host that answers
     * gets this error instead */
    int key_rc;
    char key_err[THI_CURVE_WHY];
} shared_t;

typedef struct qmsg {
    th_client_msg_t pub; /* first: handed out as th_client_msg_t */
    struct qmsg *next;
    char type[TH_NAME_MAX];
    unsigned char data[]; /* len + 1 bytes, NUL-terminated */
} qmsg_t;

struct th_client {
    uint32_t magic;
    shared_t *sh;
    void *sock; /* DEALER to the host */
    void *mon;  /* PAIR receiving the socket's events */
    th_addr_t me, system;
    size_t max_payload;
    uint64_t next_id;
    int broken;     /* 0, or the code every call now returns */
    bool connected; /* a TCP/IPC connection completed once */
    bool refused;   /* a connection attempt failed */
    int handshake;  /* 0, or the ZMQ_EVENT_HANDSHAKE_FAILED_* seen */
    int hs_value;   /* ... and its value (protocol error) */
    unsigned tells_unchecked;
    int rcvtimeo; /* ZMQ_RCVTIMEO currently set (-1: none) */
    /* queue of received messages */
    qmsg_t *qhead, *qtail;
    /* result of the request being waited for */
    uint64_t result_re;
    json_t *result;
    unsigned char *result_payload;
    size_t result_payload_len;
    /* last "msg" header seen: hosts repeat it for a stream of replies */
    char last_hdr[256];
    size_t last_hdr_len;
    char last_type[TH_NAME_MAX];
    th_addr_t last_from;
    /* last tell header built */
    th_addr_t tell_to;
    char tell_type[TH_NAME_MAX];
    char tell_hdr[160];
    size_t tell_hdr_len;
    char err[512];
};

/* ---- Small helpers ------------------------------------------------------- */

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(th_client_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(th_client_t *c, int code, const char *fmt, ...)
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

static void
check(const th_client_t *c)
{
    /* a programmer error: a freed or foreign pointer */
    if (c == NULL || c->magic != CLIENT_MAGIC)
        abort();
}

static void
shared_unref(shared_t *sh)
{
    /* acq_rel: the last owner sees every other owner's socket closed */
    if (sh &&
        atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) == 1) {
        zmq_ctx_term(sh->zctx);
        explicit_bzero(&sh->key, sizeof sh->key);
        free(sh);
    }
}

static void
set_int(void *sock, int opt, int v)
{
    (void)zmq_setsockopt(sock, opt, &v, sizeof v);
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

static void
result_clear(th_client_t *c)
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
        fail(c, TH_ECLOSED, "host at %s closed this context: %s",
             c->sh->endpoint, why ? why : "shutting down");
    } /* "ping" and unknown ops: nothing to do */
    json_decref(hdr);
}

/* Drain the monitor: connection events of our socket. */
static void
monitor_poll(th_client_t *c)
{
    for (;;) {
        unsigned char ev[6];
        int n = zmq_recv(c->mon, ev, sizeof ev, ZMQ_DONTWAIT);
        if (n < 0)
            return;
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(c->mon, ZMQ_RCVMORE, &more, &ml);
        if (more) { /* second frame: the endpoint, not needed */
            char ep[8];
            (void)zmq_recv(c->mon, ep, sizeof ep, ZMQ_DONTWAIT);
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
            fail(c, TH_ECLOSED, "connection to the host at %s was lost",
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
        if (zmq_msg_recv(&x, c->sock, ZMQ_DONTWAIT) < 0)
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
        if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        take_zmsg(c, &m);
    }
}

/* Wait until a message is queued (want_re == 0) or the result of request
 * want_re arrived, for at most timeout_ms (< 0: no limit). */
static int
pump(th_client_t *c, int timeout_ms, uint64_t want_re)
{
    int64_t deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;
    bool idle = true; /* nothing arrived since the monitor was read */
    for (;;) {
        drain_socket(c);
        if (want_re == 0 && c->qhead)
            return 0;
        if (want_re != 0 && c->result_re == want_re)
            return 0;
        if (idle)
            monitor_poll(c);
        if (c->broken)
            return c->broken;
        /* Wait in a blocking receive on the data socket alone, in slices:
         * zmq_poll, or polling the monitor too, would add bookkeeping to
         * every reply, and a lost connection is seen at the next slice
         * anyway. */
        int wait = MONITOR_SLICE_MS;
        if (timeout_ms >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return TH_ETIMEDOUT;
            if (left < wait)
                wait = (int)left;
        }
        if (wait != c->rcvtimeo) {
            set_int(c->sock, ZMQ_RCVTIMEO, wait);
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
            return fail(c, TH_EIO, "waiting for the host at %s: %s",
                        c->sh->endpoint, zmq_strerror(e));
        idle = true;
    }
}

/* ---- Sending ------------------------------------------------------------- */

static int
send_frame(th_client_t *c, const char *hdr, size_t hlen, const void *payload,
           size_t plen)
{
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, TH_WIRE_PREFIX + hlen + plen) != 0)
        return fail(c, TH_ENOMEM, "no memory for a %zu-byte frame",
                    TH_WIRE_PREFIX + hlen + plen);
    unsigned char *p = zmq_msg_data(&m);
    thi_wire_prefix(p, hlen);
    memcpy(p + TH_WIRE_PREFIX, hdr, hlen);
    if (plen)
        memcpy(p + TH_WIRE_PREFIX + hlen, payload, plen);
    if (zmq_msg_send(&m, c->sock, 0) < 0) {
        int e = zmq_errno();
        zmq_msg_close(&m);
        if (e == EAGAIN)
            return fail(c, TH_ETIMEDOUT,
                        "the host at %s accepted nothing for %d ms "
                        "(send queue full)",
                        c->sh->endpoint, c->sh->request_timeout_ms);
        return fail(c, TH_EIO, "sending to the host at %s: %s", c->sh->endpoint,
                    zmq_strerror(e));
    }
    return 0;
}

/* Send a request header (reference taken; "id" is added) and wait for
 * its result. On success *result is the result header (owned). */
static int
request(th_client_t *c, json_t *hdr, const void *payload, size_t plen,
        int timeout_ms, json_t **result, const char *what)
{
    if (hdr == NULL)
        return fail(c, TH_ENOMEM, "%s: no memory", what);
    if (c->broken) {
        json_decref(hdr);
        return c->broken;
    }
    result_clear(c);
    uint64_t id = c->next_id++;
    json_object_set_new(hdr, "id", json_integer((json_int_t)id));
    char *text = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    if (text == NULL)
        return fail(c, TH_ENOMEM, "%s: no memory", what);
    size_t hlen = strlen(text);
    if (hlen > TH_WIRE_HEADER_MAX) {
        free(text);
        return fail(c, TH_ETOOBIG,
                    "%s: request header of %zu bytes is over "
                    "the %u-byte limit",
                    what, hlen, TH_WIRE_HEADER_MAX);
    }
    int rc = send_frame(c, text, hlen, payload, plen);
    free(text);
    if (rc != 0)
        return rc;
    rc = pump(c, timeout_ms < 0 ? c->sh->request_timeout_ms : timeout_ms, id);
    if (rc == TH_ETIMEDOUT)
        return fail(c, rc, "%s: the host at %s did not answer within %d ms",
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
        return fail(c, (int)v, "%s: %s: %s", what, th_errname((int)v),
                    msg ? msg : th_strerror((int)v));
    }
    if (result)
        *result = json_incref(c->result);
    return 0;
}

/* ---- Contexts ------------------------------------------------------------ */

static void
context_free(th_client_t *c)
{
    if (c->mon) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->mon);
    }
    if (c->sock)
        zmq_close(c->sock);
    while (c->qhead) {
        qmsg_t *m = c->qhead;
        c->qhead = m->next;
        free(m);
    }
    result_clear(c);
    shared_t *sh = c->sh;
    c->magic = 0;
    free(c);
    shared_unref(sh);
}

/* Open one context on `sh` (a reference taken on success and failure). */
static int
context_open(th_client_t **out, shared_t *sh, char *err, size_t errlen)
{
    int rc = 0;
    th_client_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        shared_unref(sh);
        snprintf(err, errlen, "no memory for a client context");
        return TH_ENOMEM;
    }
    c->magic = CLIENT_MAGIC;
    c->sh = sh;
    c->next_id = 1;
    c->rcvtimeo = -1;
    c->sock = zmq_socket(sh->zctx, ZMQ_DEALER);
    c->mon = zmq_socket(sh->zctx, ZMQ_PAIR);
    if (c->sock == NULL || c->mon == NULL) {
        rc = fail(c, TH_EIO, "cannot make a ZeroMQ socket: %s",
                  zmq_strerror(zmq_errno()));
        goto out_free;
    }
    /* A random routing id names our session in the host. The first byte
     * must not be 0 (ZeroMQ reserves those ids for itself). */
    unsigned char rid[16];
    if (getrandom(rid, sizeof rid, 0) != (ssize_t)sizeof rid) {
        rc = fail(c, TH_EIO, "getrandom: %s", strerror(errno));
        goto out_free;
    }
    rid[0] |= 0x80;
    zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, rid, sizeof rid);
    set_int(c->sock, ZMQ_LINGER, 0);
    set_int(c->sock, ZMQ_SNDTIMEO, sh->request_timeout_ms);
    set_int(c->sock, ZMQ_SNDHWM, 100000);
    set_int(c->sock, ZMQ_RCVHWM, 100000);
    set_int(c->sock, ZMQ_RECONNECT_IVL, 100);
    set_int(c->sock, ZMQ_HEARTBEAT_IVL, HEARTBEAT_IVL_MS);
    set_int(c->sock, ZMQ_HEARTBEAT_TIMEOUT, HEARTBEAT_TTL_MS);
    set_int(c->sock, ZMQ_HEARTBEAT_TTL, HEARTBEAT_TTL_MS);
    /* a hostile or broken host must not make us allocate without bound */
    int64_t maxmsg = (int64_t)(TH_WIRE_PREFIX + TH_WIRE_HEADER_MAX) +
                     (int64_t)TH_WIRE_PAYLOAD_MAX * 4;
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);

    char mon_ep[64];
    snprintf(mon_ep, sizeof mon_ep, "inproc://th-client-mon-%u",
             atomic_fetch_add_explicit(&sh->seq, 1, memory_order_relaxed));
    char why[THI_CURVE_WHY];
    if (sh->curve && thi_curve_client(c->sock, &sh->key, sh->server_pub,
                                      why) != 0) {
        rc = fail(c, TH_EIO, "%s", why);
        goto out_free;
    }
    if (zmq_socket_monitor(c->sock, mon_ep,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED |
                               ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        zmq_connect(c->mon, mon_ep) != 0) {
        rc = fail(c, TH_EIO, "cannot monitor the connection: %s",
                  zmq_strerror(zmq_errno()));
        goto out_free;
    }
    if (zmq_connect(c->sock, sh->endpoint) != 0) {
        rc = fail(c, TH_EINVAL, "cannot connect to %s: %s", sh->endpoint,
                  zmq_strerror(zmq_errno()));
        goto out_free;
    }

    char hello[96];
    int n = snprintf(hello, sizeof hello,
                     "{\"op\":\"hello\",\"id\":%" PRIu64 ",\"pid\":%ld}",
                     c->next_id++, (long)getpid());
    rc = send_frame(c, hello, (size_t)n, NULL, 0);
    if (rc != 0)
        goto out_free;
    /* Wait in slices: a refused connection (nothing listens) fails after
     * a couple of attempts, not at the end of the whole timeout. */
    int64_t deadline = now_ms() + sh->connect_timeout_ms;
    int refusals = 0;
    do {
        int64_t left = deadline - now_ms();
        rc = pump(c, left < 100 ? (int)(left > 0 ? left : 0) : 100,
                  c->next_id - 1);
        monitor_poll(c);
        if (c->refused && !c->connected)
            refusals++;
        c->refused = false;
    } while (rc == TH_ETIMEDOUT && refusals < 3 && !c->handshake &&
             now_ms() < deadline);
    if (rc != 0 && sh->key_rc && (c->handshake || c->connected)) {
        rc = fail(c, sh->key_rc, "%s", sh->key_err);
        goto out_free;
    }
    if (rc != 0 && c->handshake) {
        /* refused before any request was read: say which side to fix */
        if (c->handshake == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            rc = fail(c, TH_EPERM,
                      "the host at %s refused this client's key %s: it is "
                      "not in the host's allow-list (docs/security.md)",
                      sh->endpoint, sh->key.pub);
        else if (!sh->curve)
            rc = fail(c, TH_EPERM,
                      "the handshake with %s failed: the host wants "
                      "another security mechanism (a tcp:// host needs "
                      "CurveZMQ keys)",
                      sh->endpoint);
        else
            rc = fail(c, TH_EPERM,
                      "the CurveZMQ handshake with %s failed (ZeroMQ "
                      "event value %d): the host's public key given is not "
                      "this host's, or the host does not use CurveZMQ",
                      sh->endpoint, (int)c->hs_value);
        goto out_free;
    }
    if (rc == TH_ETIMEDOUT) {
        if (c->connected)
            rc = fail(c, TH_ETIMEDOUT,
                      "%s accepted the connection but no thespiand answered "
                      "within %d ms",
                      sh->endpoint, sh->connect_timeout_ms);
        else
            rc = fail(c, TH_ECLOSED,
                      "nothing accepts connections at %s (is thespiand "
                      "running?)",
                      sh->endpoint);
        goto out_free;
    }
    if (rc != 0)
        goto out_free;
    json_t *code = json_object_get(c->result, "code");
    if (!json_is_integer(code) || json_integer_value(code) != 0) {
        json_int_t v =
            json_is_integer(code) ? json_integer_value(code) : TH_EFORMAT;
        const char *msg =
            json_string_value(json_object_get(c->result, "message"));
        rc = fail(c, v < 0 && v > -1000 ? (int)v : TH_EFORMAT,
                  "the host at %s refused the connection: %s", sh->endpoint,
                  msg ? msg : "no reason given");
        goto out_free;
    }
    const char *me = json_string_value(json_object_get(c->result, "addr"));
    const char *sys = json_string_value(json_object_get(c->result, "system"));
    json_t *maxp = json_object_get(c->result, "max_payload");
    if (me == NULL || sys == NULL || thi_wire_addr_parse(&c->me, me) != 0 ||
        thi_wire_addr_parse(&c->system, sys) != 0) {
        rc = fail(c, TH_EFORMAT,
                  "the host at %s sent a malformed welcome (addresses)",
                  sh->endpoint);
        goto out_free;
    }
    c->max_payload = json_is_integer(maxp) && json_integer_value(maxp) > 0
                         ? (size_t)json_integer_value(maxp)
                         : TH_WIRE_PAYLOAD_MAX;
    result_clear(c);
    c->err[0] = '\0';
    *out = c;
    return 0;

out_free:
    snprintf(err, errlen, "%s", c->err);
    context_free(c);
    return rc;
}

TH_API int
th_client_endpoint(char *buf, const char *explicit_ep, th_client_error_t *err)
{
    char why[512];
    int rc = thi_wire_endpoint_resolve(buf, explicit_ep, NULL, why);
    if (err) {
        err->code = rc;
        snprintf(err->msg, sizeof err->msg, "%s", rc ? why : "");
    }
    return rc;
}

TH_API int
th_client_connect(th_client_t **out, const th_client_opts_t *opts,
                  th_client_error_t *err)
{
    th_client_error_t local;
    if (err == NULL)
        err = &local;
    err->code = 0;
    err->msg[0] = '\0';
    if (out == NULL ||
        (opts && opts->size < sizeof(uint32_t) * 2 + sizeof(const char *))) {
        snprintf(err->msg, sizeof err->msg,
                 "th_client_connect: NULL out or opts->size not set");
        return err->code = TH_EINVAL;
    }
    shared_t *sh = calloc(1, sizeof *sh);
    if (sh == NULL) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return err->code = TH_ENOMEM;
    }
    atomic_init(&sh->refs, 1);
    atomic_init(&sh->seq, 0);
    const char *ep = opts ? opts->endpoint : NULL;
    int rc = th_client_endpoint(sh->endpoint, ep, err);
    if (rc != 0) {
        free(sh);
        return rc;
    }
    bool has_timeouts =
        opts && opts->size >= offsetof(th_client_opts_t, admin_key);
    bool has_keys = opts && opts->size >= sizeof(th_client_opts_t);
    sh->curve = thi_curve_needed(sh->endpoint);
    if (sh->curve) {
        char why[THI_CURVE_WHY];
        rc = thi_curve_client_keys(&sh->key, sh->server_pub,
                                   has_keys ? opts->admin_key : NULL,
                                   has_keys ? opts->server_key : NULL, why);
        thi_curve_key_t spare;
        if (rc == TH_ENOENT && thi_curve_keygen(&sh->key, NULL) == 0 &&
            thi_curve_keygen(&spare, NULL) == 0) {
            sh->key_rc = rc;
            snprintf(sh->key_err, sizeof sh->key_err, "%s", why);
            memcpy(sh->server_pub, spare.pub, sizeof sh->server_pub);
            rc = 0;
        }
        if (rc != 0) {
            snprintf(err->msg, sizeof err->msg, "%s", why);
            free(sh);
            return err->code = rc;
        }
    }
    sh->connect_timeout_ms = has_timeouts && opts->connect_timeout_ms > 0
                                 ? opts->connect_timeout_ms
                                 : DEFAULT_CONNECT_MS;
    sh->request_timeout_ms = has_timeouts && opts->request_timeout_ms > 0
                                 ? opts->request_timeout_ms
                                 : DEFAULT_REQUEST_MS;
    sh->zctx = zmq_ctx_new();
    if (sh->zctx == NULL) {
        snprintf(err->msg, sizeof err->msg, "cannot start ZeroMQ: %s",
                 zmq_strerror(zmq_errno()));
        free(sh);
        return err->code = TH_EIO;
    }
    /* close never waits for unsent messages beyond each socket's linger */
    zmq_ctx_set(sh->zctx, ZMQ_BLOCKY, 0);
    rc = context_open(out, sh, err->msg, sizeof err->msg);
    err->code = rc;
    return rc;
}

TH_API int
th_client_private(th_client_t **out, th_client_t *parent)
{
    check(parent);
    atomic_fetch_add_explicit(&parent->sh->refs, 1, memory_order_relaxed);
    return context_open(out, parent->sh, parent->err, sizeof parent->err);
}

TH_API void
th_client_close(th_client_t *c)
{
    if (c == NULL)
        return;
    check(c);
    monitor_poll(c);
    if (!c->broken) {
        static const char bye[] = "{\"op\":\"bye\"}";
        zmq_msg_t m;
        if (zmq_msg_init_size(&m, TH_WIRE_PREFIX + sizeof bye - 1) == 0) {
            unsigned char *p = zmq_msg_data(&m);
            thi_wire_prefix(p, sizeof bye - 1);
            memcpy(p + TH_WIRE_PREFIX, bye, sizeof bye - 1);
            if (zmq_msg_send(&m, c->sock, ZMQ_DONTWAIT) < 0)
                zmq_msg_close(&m);
            else
                set_int(c->sock, ZMQ_LINGER, BYE_LINGER_MS);
        }
    }
    context_free(c);
}

TH_API const char *
th_client_errmsg(const th_client_t *c)
{
    check(c);
    return c->err;
}

TH_API const char *
th_client_endpoint_of(const th_client_t *c)
{
    check(c);
    return c->sh->endpoint;
}

TH_API void
th_client_my_address(const th_client_t *c, th_addr_t *out)
{
    check(c);
    *out = c->me;
}

TH_API void
th_client_system_address(const th_client_t *c, th_addr_t *out)
{
    check(c);
    *out = c->system;
}

/* ---- Operations ---------------------------------------------------------- */

static int
addr_from_result(th_client_t *c, th_addr_t *out, json_t *res, const char *what)
{
    const char *a = json_string_value(json_object_get(res, "addr"));
    if (a == NULL || thi_wire_addr_parse(out, a) != 0)
        return fail(c, TH_EFORMAT, "%s: the host sent a malformed address",
                    what);
    return 0;
}

TH_API int
th_client_create(th_client_t *c, th_addr_t *out, const char *class_name,
                 const th_client_create_opts_t *opts)
{
    check(c);
    c->err[0] = '\0';
    char what[160];
    snprintf(what, sizeof what, "create %.100s", class_name ? class_name : "");
    if (out == NULL || class_name == NULL || class_name[0] == '\0' ||
        strlen(class_name) > 2 * TH_NAME_MAX)
        return fail(c, TH_EINVAL, "%s: the class name must be PLUGIN.CLASS",
                    what);
    if (opts && opts->size < sizeof(th_client_create_opts_t))
        return fail(c, TH_EINVAL, "%s: opts->size not set", what);
    json_t *hdr = json_pack("{s:s, s:s}", "op", "create", "class", class_name);
    if (hdr && opts && opts->global_name)
        json_object_set_new(hdr, "global_name", json_string(opts->global_name));
    if (hdr && opts && opts->source_hash)
        json_object_set_new(hdr, "source_hash", json_string(opts->source_hash));
    if (hdr && opts && opts->requirements_json) {
        json_error_t jerr;
        json_t *req =
            json_loads(opts->requirements_json, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(req)) {
            json_decref(req);
            json_decref(hdr);
            return fail(c, TH_EINVAL,
                        "%s: requirements must be a JSON object (%s)", what,
                        req ? "not an object" : jerr.text);
        }
        json_object_set_new(hdr, "requirements", req);
    }
    json_t *res = NULL;
    int rc = request(c, hdr, NULL, 0, -1, &res, what);
    if (rc == 0)
        rc = addr_from_result(c, out, res, what);
    json_decref(res);
    return rc;
}

TH_API int
th_client_lookup(th_client_t *c, th_addr_t *out, const char *global_name)
{
    check(c);
    c->err[0] = '\0';
    if (out == NULL || global_name == NULL || global_name[0] == '\0')
        return fail(c, TH_EINVAL, "lookup: a global name is required");
    char what[300];
    snprintf(what, sizeof what, "lookup %.255s", global_name);
    json_t *res = NULL;
    int rc =
        request(c, json_pack("{s:s, s:s}", "op", "lookup", "name", global_name),
                NULL, 0, -1, &res, what);
    if (rc == 0)
        rc = addr_from_result(c, out, res, what);
    json_decref(res);
    return rc;
}

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
        return fail(c, TH_EINVAL,
                    "tell: message type \"%.80s\" is not 1..%d characters of "
                    "[A-Za-z0-9_.:-]",
                    type ? type : "(null)", TH_NAME_MAX - 1);
    if (thi_wire_type_reserved(type))
        return fail(c, TH_ERESERVED,
                    "tell: message type %s is reserved for the runtime", type);
    if (data == NULL && len > 0)
        return fail(c, TH_EINVAL, "tell: NULL data with length %zu", len);
    if (len > c->max_payload)
        return fail(c, TH_ETOOBIG,
                    "tell %s: payload of %zu bytes is over the host's limit "
                    "of %zu",
                    type, len, c->max_payload);
    return 0;
}

TH_API int
th_client_tell(th_client_t *c, const th_addr_t *to, const char *type,
               const void *data, size_t len)
{
    check(c);
    if ((c->tells_unchecked++ % MONITOR_EVERY) == 0)
        monitor_poll(c);
    if (c->broken)
        return c->broken;
    if (to == NULL || th_addr_is_null(to))
        return fail(c, TH_EADDR, "tell: InvalidActorAddress: no address");
    int rc = check_message(c, type, data, len);
    if (rc != 0)
        return rc;
    rc = tell_header(c, to, type);
    if (rc != 0)
        return fail(c, rc, "tell %s: cannot build the header", type);
    return send_frame(c, c->tell_hdr, c->tell_hdr_len, data, len);
}

TH_API int
th_client_listen(th_client_t *c, th_client_msg_t **out, int timeout_ms)
{
    check(c);
    if (out == NULL)
        return fail(c, TH_EINVAL, "listen: NULL out");
    if (c->qhead == NULL) {
        int rc = pump(c, timeout_ms, 0);
        if (rc == TH_ETIMEDOUT)
            return fail(c, rc, "no message within %d ms", timeout_ms);
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
    check(c);
    if (c->broken)
        return c->broken;
    if (name == NULL || name[0] == '\0' || strlen(name) > 255)
        return fail(c, TH_EINVAL, "tell: a global name of 1..255 bytes");
    int rc = check_message(c, type, data, len);
    if (rc != 0)
        return rc;
    /* the name is JSON-escaped by jansson: any bytes are safe here */
    json_t *h = json_pack("{s:s, s:s, s:s}", "op", "tell", "name", name,
                          "type", type);
    char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (text == NULL)
        return fail(c, TH_ENOMEM, "tell: out of memory");
    rc = send_frame(c, text, strlen(text), data, len);
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
    check(c);
    c->err[0] = '\0';
    if (role == NULL || out == NULL)
        return fail(c, TH_EINVAL, "role: a role name is required");
    json_t *q = json_pack("{s:s, s:s, s:s?}", "DirectorOp", "RetrieveRole",
                          "role", role, "group", group);
    char *body = q ? json_dumps(q, JSON_COMPACT) : NULL;
    json_decref(q);
    if (body == NULL)
        return fail(c, TH_ENOMEM, "role: out of memory");
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
        rc = fail(c, TH_ENOENT, "role %s: %s", role,
                  err ? err : "no answer from the Director");
    else if (thi_wire_addr_parse(out, addr) != 0)
        rc = fail(c, TH_EADDR, "role %s: the Director sent a bad address",
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

TH_API int
th_client_update_capability(th_client_t *c, const char *name,
                            const char *value_json)
{
    check(c);
    c->err[0] = '\0';
    if (name == NULL || name[0] == '\0' || strlen(name) > 255)
        return fail(c, TH_EINVAL,
                    "updateCapability: the name must be 1..255 bytes");
    json_t *value = json_null();
    if (value_json) {
        json_error_t jerr;
        value = json_loads(value_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                           &jerr);
        if (value == NULL)
            return fail(c, TH_EINVAL,
                        "updateCapability %.255s: the value is not JSON: %s",
                        name, jerr.text);
    }
    char what[300];
    snprintf(what, sizeof what, "updateCapability %.255s", name);
    json_t *hdr = json_pack("{s:s, s:s, s:o}", "op", "update_capability",
                            "name", name, "value", value);
    return request(c, hdr, NULL, 0, -1, NULL, what);
}

/* A request whose answer is a text payload (status, sources): *out gets
 * it, NUL-terminated by take_frame, returned owned. */
static int
request_text(th_client_t *c, const char *op, const char *missing, char **out)
{
    check(c);
    c->err[0] = '\0';
    if (out == NULL)
        return fail(c, TH_EINVAL, "%s: NULL out", op);
    int rc = request(c, json_pack("{s:s}", "op", op), NULL, 0, -1, NULL, op);
    if (rc != 0)
        return rc;
    if (c->result_payload == NULL)
        return fail(c, TH_EFORMAT, "%s: the host sent no %s", op, missing);
    *out = (char *)c->result_payload;
    c->result_payload = NULL;
    c->result_payload_len = 0;
    return 0;
}

TH_API int
th_client_status(th_client_t *c, char **out)
{
    return request_text(c, "status", "status body", out);
}

TH_API int
th_client_shutdown(th_client_t *c, int timeout_ms)
{
    check(c);
    c->err[0] = '\0';
    int rc = request(c, json_pack("{s:s}", "op", "shutdown"), NULL, 0,
                     timeout_ms, NULL, "shutdown");
    if (rc == 0) {
        c->broken = TH_ECLOSED;
        snprintf(c->err, sizeof c->err, "the host at %s has shut down",
                 c->sh->endpoint);
    }
    return rc;
}

static int
load_bundle(th_client_t *c, char hash_out[65], const char *bundle_path,
            bool allow_rollback)
{
    check(c);
    c->err[0] = '\0';
    if (bundle_path == NULL || hash_out == NULL)
        return fail(c, TH_EINVAL, "load: a bundle path is required");
    char what[300];
    snprintf(what, sizeof what, "load %.255s", bundle_path);
    /* O_NONBLOCK and a type check: a FIFO here must not hang us */
    int fd = open(bundle_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return fail(c, TH_EIO, "%s: %s", what, strerror(errno));
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (f = fdopen(fd, "rb")) == NULL) {
        close(fd);
        return fail(c, TH_EIO, "%s: not a regular file", what);
    }
    size_t cap = c->max_payload, len = 0;
    unsigned char *buf = malloc(cap ? cap : 1);
    if (buf == NULL) {
        fclose(f);
        return fail(c, TH_ENOMEM, "%s: no memory", what);
    }
    len = fread(buf, 1, cap, f);
    bool more = fgetc(f) != EOF, bad = ferror(f) != 0;
    fclose(f);
    if (bad || more) {
        free(buf);
        return fail(c, bad ? TH_EIO : TH_ETOOBIG,
                    bad ? "%s: read error"
                        : "%s: larger than the host's "
                          "payload limit",
                    what);
    }
    json_t *res = NULL;
    /* the host answers once its Source Authority has (up to 10 s) */
    int rc = request(c,
                     json_pack("{s:s, s:b}", "op", "load", "allow_rollback",
                               allow_rollback),
                     buf, len, 30000, &res, what);
    free(buf);
    if (rc == 0) {
        const char *h = json_string_value(json_object_get(res, "source_hash"));
        if (h == NULL || strlen(h) != 64)
            rc = fail(c, TH_EFORMAT, "%s: the host sent no source hash", what);
        else
            memcpy(hash_out, h, 65);
    }
    json_decref(res);
    return rc;
}

TH_API int
th_client_load(th_client_t *c, char hash_out[65], const char *bundle_path)
{
    return load_bundle(c, hash_out, bundle_path, false);
}

TH_API int
th_client_load_rollback(th_client_t *c, char hash_out[65],
                        const char *bundle_path)
{
    return load_bundle(c, hash_out, bundle_path, true);
}

TH_API int
th_client_sources(th_client_t *c, char **out)
{
    return request_text(c, "sources", "list", out);
}

TH_API int
th_client_reload_keys(th_client_t *c, char **out)
{
    return request_text(c, "reload_keys", "key listing", out);
}

TH_API int
th_client_unload(th_client_t *c, const char *source_hash)
{
    check(c);
    c->err[0] = '\0';
    if (source_hash == NULL || source_hash[0] == '\0')
        return fail(c, TH_EINVAL, "unload: a source hash is required");
    char what[120];
    snprintf(what, sizeof what, "unload %.64s", source_hash);
    return request(
        c, json_pack("{s:s, s:s}", "op", "unload", "source_hash", source_hash),
        NULL, 0, -1, NULL, what);
}

TH_API int
th_client_addr_format(const th_addr_t *addr, char *buf, size_t size)
{
    return thi_wire_addr_format(addr, buf, size);
}

TH_API int
th_client_addr_parse(th_addr_t *out, const char *text)
{
    return thi_wire_addr_parse(out, text);
}

TH_API void
th_client_free(void *p)
{
    free(p);
}
