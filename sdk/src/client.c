/*
 * sdk/src/client.c — libthespian-client: contexts on a host's admin
 * endpoint. One context is one ZeroMQ DEALER connection with its own reply
 * inbox in the host; private contexts share the parent's ZeroMQ context
 * (its I/O thread). Connecting says hello and waits for the welcome,
 * telling apart nothing listening, a refused key and a silent host. The
 * other files of the library: client_int.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "proto/zmsg.h"
#include "sdk/src/client_int.h"

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
    thi_client_result_clear(c);
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
        rc = thi_client_fail(c, TH_EIO, "cannot make a ZeroMQ socket: %s",
                  zmq_strerror(zmq_errno()));
        goto out_free;
    }
    /* A random routing id names our session in the host. The first byte
     * must not be 0 (ZeroMQ reserves those ids for itself). */
    unsigned char rid[16];
    if (getrandom(rid, sizeof rid, 0) != (ssize_t)sizeof rid) {
        rc = thi_client_fail(c, TH_EIO, "getrandom: %s", strerror(errno));
        goto out_free;
    }
    rid[0] |= 0x80;
    zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, rid, sizeof rid);
    thi_client_set_int(c->sock, ZMQ_LINGER, 0);
    thi_client_set_int(c->sock, ZMQ_SNDTIMEO, sh->request_timeout_ms);
    thi_client_set_int(c->sock, ZMQ_SNDHWM, 100000);
    thi_client_set_int(c->sock, ZMQ_RCVHWM, 100000);
    thi_client_set_int(c->sock, ZMQ_RECONNECT_IVL, 100);
    thi_client_set_int(c->sock, ZMQ_HEARTBEAT_IVL, HEARTBEAT_IVL_MS);
    thi_client_set_int(c->sock, ZMQ_HEARTBEAT_TIMEOUT, HEARTBEAT_TTL_MS);
    thi_client_set_int(c->sock, ZMQ_HEARTBEAT_TTL, HEARTBEAT_TTL_MS);
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
        rc = thi_client_fail(c, TH_EIO, "%s", why);
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
        rc = thi_client_fail(c, TH_EIO, "cannot monitor the connection: %s",
                  zmq_strerror(zmq_errno()));
        goto out_free;
    }
    if (zmq_connect(c->sock, sh->endpoint) != 0) {
        rc = thi_client_fail(c, TH_EINVAL, "cannot connect to %s: %s", sh->endpoint,
                  zmq_strerror(zmq_errno()));
        goto out_free;
    }

    char hello[96];
    int n = snprintf(hello, sizeof hello,
                     "{\"op\":\"hello\",\"id\":%" PRIu64 ",\"pid\":%ld}",
                     c->next_id++, (long)getpid());
    rc = thi_client_send_frame(c, hello, (size_t)n, NULL, 0);
    if (rc != 0)
        goto out_free;
    /* Wait in slices: a refused connection (nothing listens) fails after
     * a couple of attempts, not at the end of the whole timeout. */
    int64_t deadline = thi_client_now_ms() + sh->connect_timeout_ms;
    int refusals = 0;
    do {
        int64_t left = deadline - thi_client_now_ms();
        rc = thi_client_pump(c, left < 100 ? (int)(left > 0 ? left : 0) : 100,
                  c->next_id - 1);
        thi_client_monitor_poll(c);
        if (c->refused && !c->connected)
            refusals++;
        c->refused = false;
    } while (rc == TH_ETIMEDOUT && refusals < 3 && !c->handshake &&
             thi_client_now_ms() < deadline);
    if (rc != 0 && sh->key_rc && (c->handshake || c->connected)) {
        rc = thi_client_fail(c, sh->key_rc, "%s", sh->key_err);
        goto out_free;
    }
    if (rc != 0 && c->handshake) {
        /* refused before any request was read: say which side to fix */
        if (c->handshake == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            rc = thi_client_fail(c, TH_EPERM,
                      "the host at %s refused this client's key %s: it is "
                      "not in the host's allow-list (docs/security.md)",
                      sh->endpoint, sh->key.pub);
        else if (!sh->curve)
            rc = thi_client_fail(c, TH_EPERM,
                      "the handshake with %s failed: the host wants "
                      "another security mechanism (a tcp:// host needs "
                      "CurveZMQ keys)",
                      sh->endpoint);
        else
            rc = thi_client_fail(c, TH_EPERM,
                      "the CurveZMQ handshake with %s failed (ZeroMQ "
                      "event value %d): the host's public key given is not "
                      "this host's, or the host does not use CurveZMQ",
                      sh->endpoint, (int)c->hs_value);
        goto out_free;
    }
    if (rc == TH_ETIMEDOUT) {
        if (c->connected)
            rc = thi_client_fail(c, TH_ETIMEDOUT,
                      "%s accepted the connection but no thespiand answered "
                      "within %d ms",
                      sh->endpoint, sh->connect_timeout_ms);
        else
            rc = thi_client_fail(c, TH_ECLOSED,
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
        rc = thi_client_fail(c, v < 0 && v > -1000 ? (int)v : TH_EFORMAT,
                  "the host at %s refused the connection: %s", sh->endpoint,
                  msg ? msg : "no reason given");
        goto out_free;
    }
    const char *me = json_string_value(json_object_get(c->result, "addr"));
    const char *sys = json_string_value(json_object_get(c->result, "system"));
    json_t *maxp = json_object_get(c->result, "max_payload");
    if (me == NULL || sys == NULL || thi_wire_addr_parse(&c->me, me) != 0 ||
        thi_wire_addr_parse(&c->system, sys) != 0) {
        rc = thi_client_fail(c, TH_EFORMAT,
                  "the host at %s sent a malformed welcome (addresses)",
                  sh->endpoint);
        goto out_free;
    }
    c->max_payload = json_is_integer(maxp) && json_integer_value(maxp) > 0
                         ? (size_t)json_integer_value(maxp)
                         : TH_WIRE_PAYLOAD_MAX;
    thi_client_result_clear(c);
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
    thi_client_check(parent);
    atomic_fetch_add_explicit(&parent->sh->refs, 1, memory_order_relaxed);
    return context_open(out, parent->sh, parent->err, sizeof parent->err);
}

TH_API void
th_client_close(th_client_t *c)
{
    if (c == NULL)
        return;
    thi_client_check(c);
    thi_client_monitor_poll(c);
    if (!c->broken) {
        static const char bye[] = "{\"op\":\"bye\"}";
        zmq_msg_t m;
        if (zmq_msg_init_size(&m, TH_WIRE_PREFIX + sizeof bye - 1) == 0) {
            unsigned char *p = zmq_msg_data(&m);
            thi_wire_prefix(p, sizeof bye - 1);
            memcpy(p + TH_WIRE_PREFIX, bye, sizeof bye - 1);
            if (thi_zmsg_send(&m, c->sock, ZMQ_DONTWAIT) < 0)
                zmq_msg_close(&m);
            else
                thi_client_set_int(c->sock, ZMQ_LINGER, BYE_LINGER_MS);
        }
    }
    context_free(c);
}

TH_API const char *
th_client_errmsg(const th_client_t *c)
{
    thi_client_check(c);
    return c->err;
}

TH_API const char *
th_client_endpoint_of(const th_client_t *c)
{
    thi_client_check(c);
    return c->sh->endpoint;
}

TH_API void
th_client_my_address(const th_client_t *c, th_addr_t *out)
{
    thi_client_check(c);
    *out = c->me;
}

TH_API void
th_client_system_address(const th_client_t *c, th_addr_t *out)
{
    thi_client_check(c);
    *out = c->system;
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
