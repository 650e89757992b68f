/*
 * proto/zap.c — the ZAP handler (ZeroMQ RFC 27) of a CurveZMQ server (see
 * curve.h): a thread that answers the library's authentication requests by
 * checking each connecting key against the allow-list (thi_curve_allowed).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "proto/zmsg.h"
#include "base/thread.h"
#include "proto/curve.h"
#include "thespian/error.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

/* A start failure: "ZAP handler: REASON" into why (may be NULL). */
static int
zap_fail(char *why, int rc, const char *reason)
{
    if (why)
        snprintf(why, THI_CURVE_WHY, "ZAP handler: %s", reason);
    return rc;
}

struct thi_zap {
    void *ctx;
    void *rep;  /* bound at ZAP_ENDPOINT, used by the thread */
    void *ctl;  /* PAIR: the stopping thread's end */
    void *ctl2; /* PAIR: the handler thread's end */
    pthread_t thread;
    bool running;
    char clients[THI_CURVE_PATH];
    char own[THI_CURVE_Z85];
    thi_zap_event_fn event;
    void *arg;
    /* warnings about skipped files: once per change of the directory */
    struct timespec warned_mtime;
    bool warned;
    bool warn_now;
};

static void
zap_warn(void *arg, const char *line)
{
    struct thi_zap *z = arg;
    if (z->warn_now && z->event)
        z->event(z->arg, THI_ZAP_WARN, line);
}

/* Receive one multipart request into frames[] (at most n); the count,
 * or -1 when the socket failed. Extra frames are read and dropped. */
static int
recv_request(void *sock, zmq_msg_t *frames, int n)
{
    int got = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (thi_zmsg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            for (int i = 0; i < got; i++)
                zmq_msg_close(&frames[i]);
            return -1;
        }
        bool more = zmq_msg_more(&m);
        if (got < n)
            frames[got++] = m;
        else
            zmq_msg_close(&m);
        if (!more)
            return got;
    }
}

static bool
frame_is(zmq_msg_t *m, const char *s)
{
    return zmq_msg_size(m) == strlen(s) &&
           memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

static void
zap_reply(void *sock, zmq_msg_t *req_id, const char *code, const char *text,
          const char *user)
{
    thi_zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    thi_zmq_send(sock, zmq_msg_data(req_id), zmq_msg_size(req_id), ZMQ_SNDMORE);
    thi_zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
    thi_zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    thi_zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    thi_zmq_send(sock, "", 0, 0);
}

static void
zap_serve(struct thi_zap *z)
{
    /* version, request id, domain, address, routing id, mechanism,
     * credentials (RFC 27) */
    zmq_msg_t f[7];
    int n = recv_request(z->rep, f, 7);
    if (n < 0)
        return;
    if (n < 2) { /* cannot even answer: REP still needs a reply */
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
        thi_zmq_send(z->rep, "", 0, 0);
        return;
    }
    char addr[64] = "?";
    if (n >= 4) {
        size_t al = zmq_msg_size(&f[3]);
        snprintf(addr, sizeof addr, "%.*s", (int)(al < 60 ? al : 60),
                 (const char *)zmq_msg_data(&f[3]));
        for (char *p = addr; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                *p = '?';
    }
    char line[400], name[64] = "";
    if (n != 7 || !frame_is(&f[0], "1.0") || !frame_is(&f[5], "CURVE") ||
        zmq_msg_size(&f[6]) != 32) {
        zap_reply(z->rep, &f[1], "400", "CURVE with a client key required", "");
        snprintf(line, sizeof line,
                 "refused a connection from %s: not a CurveZMQ client", addr);
        if (z->event)
            z->event(z->arg, THI_ZAP_REFUSED, line);
    } else {
        const uint8_t *key = zmq_msg_data(&f[6]);
        char z85[THI_CURVE_Z85];
        zmq_z85_encode(z85, key, 32);
        /* warn about skipped allow-list files only when the directory
         * changed since the last warning: a flood of connections must
         * not repeat them */
        struct stat st;
        z->warn_now = false;
        if (stat(z->clients, &st) == 0 &&
            (!z->warned || st.st_mtim.tv_sec != z->warned_mtime.tv_sec ||
             st.st_mtim.tv_nsec != z->warned_mtime.tv_nsec)) {
            z->warn_now = true;
            z->warned = true;
            z->warned_mtime = st.st_mtim;
        }
        bool ok = strcmp(z85, z->own) == 0;
        if (ok)
            snprintf(name, sizeof name, "host");
        else
            ok = thi_curve_allowed(z->clients, key, name, zap_warn, z);
        if (ok) {
            zap_reply(z->rep, &f[1], "200", "OK", name);
        } else {
            zap_reply(z->rep, &f[1], "400", "client key not allowed", "");
            snprintf(line, sizeof line,
                     "refused a connection from %s: client key %s is not in "
                     "the allow-list %.200s",
                     addr, z85, z->clients);
            if (z->event)
                z->event(z->arg, THI_ZAP_REFUSED, line);
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

static void *
zap_main(void *arg)
{
    struct thi_zap *z = arg;
    for (;;) {
        zmq_pollitem_t items[2] = {{z->rep, 0, ZMQ_POLLIN, 0},
                                   {z->ctl2, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            zap_serve(z);
    }
    zmq_close(z->rep);
    zmq_close(z->ctl2);
    return NULL;
}

int
thi_zap_start(thi_zap_t **out, void *zctx, const char *clients_dir,
              const char *own_pub, thi_zap_event_fn event, void *arg, char *why)
{
    struct thi_zap *z = calloc(1, sizeof *z);
    if (z == NULL)
        return zap_fail(why, TH_ENOMEM, "out of memory");
    z->ctx = zctx;
    z->event = event;
    z->arg = arg;
    snprintf(z->clients, sizeof z->clients, "%s", clients_dir);
    snprintf(z->own, sizeof z->own, "%s", own_pub ? own_pub : "");
    char ctl_ep[64];
    snprintf(ctl_ep, sizeof ctl_ep, "inproc://th-zap-ctl-%p", (void *)z);
    z->rep = zmq_socket(zctx, ZMQ_REP);
    z->ctl = zmq_socket(zctx, ZMQ_PAIR);
    z->ctl2 = zmq_socket(zctx, ZMQ_PAIR);
    int linger = 0;
    if (z->rep == NULL || z->ctl == NULL || z->ctl2 == NULL ||
        zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->rep, ZAP_ENDPOINT) != 0 || zmq_bind(z->ctl, ctl_ep) != 0 ||
        zmq_connect(z->ctl2, ctl_ep) != 0) {
        int rc = zap_fail(why, TH_EIO, zmq_strerror(zmq_errno()));
        if (z->rep)
            zmq_close(z->rep);
        if (z->ctl2)
            zmq_close(z->ctl2);
        if (z->ctl)
            zmq_close(z->ctl);
        free(z);
        return rc;
    }
    zmq_setsockopt(z->ctl, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(z->ctl2, ZMQ_LINGER, &linger, sizeof linger);
    int e = thi_thread_start(&z->thread, NULL, zap_main, z);
    if (e != 0) {
        zmq_close(z->rep);
        zmq_close(z->ctl2);
        zmq_close(z->ctl);
        free(z);
        return zap_fail(why, TH_EIO, strerror(e));
    }
    z->running = true;
    *out = z;
    return 0;
}

void
thi_zap_stop(thi_zap_t *z)
{
    if (z == NULL)
        return;
    if (z->running) {
        thi_zmq_send(z->ctl, "", 0, 0);
        pthread_join(z->thread, NULL);
    }
    zmq_close(z->ctl);
    free(z);
}

