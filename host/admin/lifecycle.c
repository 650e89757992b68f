/*
 * host/admin/lifecycle.c — the endpoint's life: bind it (socket options,
 * the CurveZMQ server and its ZAP handler, the monitor), begin and finish
 * an orderly shutdown (answer what waits, tell every context the host is
 * closing), and close everything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "host/admin/internal.h"
#include "base/diag.h"

static void
set_int(void *sock, int opt, int v)
{
    (void)zmq_setsockopt(sock, opt, &v, sizeof v);
}

/* The ROUTER socket's options, before it binds. */
static void
socket_options(struct thi_admin *a)
{
    /* The size limit is checked by ZeroMQ's decoder against the length
     * announced on the wire, before it allocates anything. */
    int64_t maxmsg =
        (int64_t)(TH_WIRE_PREFIX + TH_WIRE_HEADER_MAX + a->max_payload);
    zmq_setsockopt(a->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    set_int(a->sock, ZMQ_ROUTER_MANDATORY, 1);
    set_int(a->sock, ZMQ_LINGER, CLOSE_LINGER_MS);
    /* Pushes may queue deep (the inbox holds the rest when full); what
     * one peer may queue towards us stays small, so a flood of large
     * frames is held back by TCP rather than by our memory. */
    set_int(a->sock, ZMQ_SNDHWM, 100000);
    set_int(a->sock, ZMQ_RCVHWM, 10000);
    set_int(a->sock, ZMQ_HEARTBEAT_IVL, HEARTBEAT_IVL_MS);
    set_int(a->sock, ZMQ_HEARTBEAT_TIMEOUT, HEARTBEAT_TTL_MS);
    set_int(a->sock, ZMQ_HEARTBEAT_TTL, HEARTBEAT_TTL_MS);
    set_int(a->sock, ZMQ_HANDSHAKE_IVL, HANDSHAKE_MS);
}

int
thi_admin_create(thi_admin_t **out, th_system_t *sys,
                 const thi_admin_opts_t *opts, th_diag_t *d)
{
    int rc = 0;
    if (!thi_wire_endpoint_valid(opts->endpoint))
        return thi_diag_set(d, TH_EINVAL,
                            "admin endpoint \"%s\": not tcp://HOST:PORT or "
                            "ipc://PATH",
                            opts->endpoint ? opts->endpoint : "(null)");
    struct thi_admin *a = calloc(1, sizeof *a);
    if (a == NULL)
        return thi_diag_set(d, TH_ENOMEM, "admin: out of memory");
    a->sys = sys;
    a->efd = -1;
    a->pid = (long)getpid();
    a->started_ms = thi_adm_now_ms();
    a->max_sessions = opts->max_sessions ? opts->max_sessions : 4096;
    a->stop_timeout_ms =
        opts->stop_timeout_ms > 0 ? opts->stop_timeout_ms : 10000;
    a->max_payload =
        opts->max_payload ? opts->max_payload : TH_WIRE_PAYLOAD_MAX;
    pthread_mutex_init(&a->ready_lock, NULL);
    a->plugins = json_array();
    for (size_t i = 0; i < opts->n_plugins; i++)
        json_array_append_new(a->plugins, json_string(opts->plugins[i]));

    pthread_mutex_init(&a->loads_lock, NULL);
    pthread_mutex_init(&a->refuse_lock, NULL);
    bool curve = thi_curve_needed(opts->endpoint);
    char why[THI_CURVE_WHY];
    if (curve && (opts->curve_key == NULL || opts->clients_dir == NULL)) {
        rc = thi_diag_set(d, TH_EINVAL,
                          "admin endpoint %s: a tcp:// endpoint needs the "
                          "host's CurveZMQ keys",
                          opts->endpoint);
        goto out_free;
    }
    if (!curve && (rc = thi_curve_ipc_dir(opts->endpoint, why)) != 0) {
        rc = thi_diag_set(d, rc, "admin endpoint %s: %s", opts->endpoint, why);
        goto out_free;
    }
    a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->efd < 0) {
        rc = thi_diag_set(d, TH_EIO, "admin: eventfd: %s", strerror(errno));
        goto out_free;
    }
    a->zctx = zmq_ctx_new();
    if (a->zctx == NULL) {
        rc = thi_diag_set(d, TH_EIO, "admin: cannot start ZeroMQ: %s",
                          zmq_strerror(zmq_errno()));
        goto out_free;
    }
    /* CurveZMQ boxes every frame on the I/O threads: with two, one
     * client flooding the host does not queue everyone else's frames
     * behind its own */
    zmq_ctx_set(a->zctx, ZMQ_IO_THREADS, 2);
    a->sock = zmq_socket(a->zctx, ZMQ_ROUTER);
    a->mon = zmq_socket(a->zctx, ZMQ_PAIR);
    if (a->sock == NULL || a->mon == NULL) {
        rc = thi_diag_set(d, TH_EIO, "admin: cannot make sockets: %s",
                          zmq_strerror(zmq_errno()));
        goto out_free;
    }
    socket_options(a);
    /* The ZAP handler is bound before the socket: a CURVE server without
     * one would admit any key. */
    if (curve &&
        ((rc = thi_zap_start(&a->zap, a->zctx, opts->clients_dir,
                             opts->curve_key->pub, thi_adm_zap_event, a,
                             why)) != 0 ||
         (rc = thi_curve_server(a->sock, opts->curve_key, why)) != 0)) {
        rc = thi_diag_set(d, rc, "admin endpoint %s: %s", opts->endpoint, why);
        goto out_free;
    }
    if (zmq_socket_monitor(a->sock, "inproc://th-admin-monitor",
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        zmq_connect(a->mon, "inproc://th-admin-monitor") != 0) {
        rc = thi_diag_set(d, TH_EIO, "admin: cannot monitor the socket: %s",
                          zmq_strerror(zmq_errno()));
        goto out_free;
    }
    if (zmq_bind(a->sock, opts->endpoint) != 0) {
        int e = zmq_errno();
        rc = thi_diag_set(d, e == EADDRINUSE ? TH_EEXIST : TH_EIO,
                          "admin endpoint %s: cannot bind: %s", opts->endpoint,
                          zmq_strerror(e));
        goto out_free;
    }
    size_t n = sizeof a->endpoint;
    if (zmq_getsockopt(a->sock, ZMQ_LAST_ENDPOINT, a->endpoint, &n) != 0)
        snprintf(a->endpoint, sizeof a->endpoint, "%s", opts->endpoint);
    *out = a;
    return 0;

out_free:
    thi_admin_destroy(a);
    return rc;
}

const char *
thi_admin_endpoint(const thi_admin_t *a)
{
    return a->endpoint;
}

void
thi_admin_stop(struct thi_admin *a, const char *why)
{
    if (a->stopping)
        return;
    a->stopping = true;
    a->stop_deadline = thi_adm_now_ms() + a->stop_timeout_ms;
    th_log_internal(TH_LOG_INFO, NULL, "admin: shutting down (%s)", why);
    (void)th_system_stop(a->sys, 0); /* starts it; waited for in the loop */
}

void
thi_adm_finish(struct thi_admin *a, int rc)
{
    thi_adm_log_roll(a, INT64_MAX); /* the last suppressed count */
    thi_adm_monitor_events(a);      /* no new frames are served now */
    thi_adm_monitor_judge(a);
    thi_adm_refuse_roll(a, true);
    /* loads still running use the system: let them end (each is bounded
     * by the authority timeout) and answer them */
    thi_adm_loads_wait(a);
    thi_adm_loads_serve(a);
    for (size_t i = 0; i < a->n_requesters; i++) {
        requester_t *q = &a->requesters[i];
        if (rc == 0)
            thi_adm_reply_ok(a, q->rid, q->rid_len, q->id, NULL);
        else
            thi_adm_reply_err(a, q->rid, q->rid_len, q->id, rc,
                              "actors were still running %d ms after "
                              "shutdown began; the host exits anyway",
                              a->stop_timeout_ms);
    }
    /* push what actors said while exiting, then say goodbye */
    thi_adm_serve_ready(a, true);
    static const char closed[] =
        "{\"op\":\"closed\",\"message\":\"the actor system has shut down\"}";
    for (int b = 0; b < N_BUCKETS; b++)
        for (session_t *s = a->buckets[b]; s; s = s->hnext)
            (void)thi_adm_send(a, s->rid, s->rid_len, closed, sizeof closed - 1,
                               NULL, 0);
}

void
thi_admin_destroy(thi_admin_t *a)
{
    if (a == NULL)
        return;
    for (int b = 0; b < N_BUCKETS; b++)
        while (a->buckets[b])
            thi_adm_session_close(a, a->buckets[b], "host closing");
    if (a->mon) {
        zmq_socket_monitor(a->sock, NULL, 0);
        zmq_close(a->mon);
    }
    if (a->sock)
        zmq_close(a->sock);
    thi_zap_stop(a->zap);
    if (a->zctx)
        zmq_ctx_term(a->zctx); /* waits up to the linger for last frames */
    if (a->efd >= 0)
        close(a->efd);
    json_decref(a->plugins);
    free(a->peers);
    free(a->requesters);
    thi_adm_loads_free(a);
    pthread_mutex_destroy(&a->loads_lock);
    pthread_mutex_destroy(&a->ready_lock);
    pthread_mutex_destroy(&a->refuse_lock);
    free(a);
}
