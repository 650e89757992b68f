/*
 * host/admin/monitor.c — the ROUTER socket's monitor: names of the peers
 * by fd for log lines, goodbyes matched with closes, and a warning when a
 * peer that never said goodbye goes (also how a frame over the size limit
 * shows: ZeroMQ drops such a connection before allocating it), or when a
 * CurveZMQ handshake failed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "proto/zmsg.h"
#include "host/admin/internal.h"

bool
thi_adm_peer_slot(struct thi_admin *a, int fd)
{
    if (fd < 0 || fd >= 65536)
        return false;
    if (fd < a->n_peers)
        return true;
    int n = fd + 64;
    struct peer *p = realloc(a->peers, (size_t)n * sizeof *p);
    if (p == NULL)
        return false;
    memset(p + a->n_peers, 0, (size_t)(n - a->n_peers) * sizeof *p);
    a->peers = p;
    a->n_peers = n;
    return true;
}

bool
thi_adm_peer_known(struct thi_admin *a, int fd)
{
    return fd >= 0 && fd < a->n_peers && a->peers[fd].name[0];
}

const char *
thi_adm_peer_name(struct thi_admin *a, int fd)
{
    if (fd >= 0 && fd < a->n_peers && a->peers[fd].name[0])
        return a->peers[fd].name;
    return "unknown peer";
}

void
thi_adm_describe(struct thi_admin *a, const session_t *s, int fd, char *buf,
                 size_t size)
{
    if (s)
        snprintf(buf, size, "context %s (pid %ld, %s)", s->addr_text, s->pid,
                 thi_adm_peer_name(a, fd));
    else
        snprintf(buf, size, "%s (no context)", thi_adm_peer_name(a, fd));
}

void
thi_adm_monitor_serve(struct thi_admin *a)
{
    if (a->in_monitor)
        return;
    a->in_monitor = true;
    /* the closes of the last tick first: the loop has read the socket
     * since, so a goodbye sent before such a close has been counted */
    thi_adm_monitor_judge(a);
    thi_adm_monitor_events(a);
    a->in_monitor = false;
}

void
thi_adm_monitor_judge(struct thi_admin *a)
{
    for (int i = 0; i < a->n_closes; i++) {
        struct pending_close *pc = &a->closes[i];
        if (pc->fd < a->n_peers && a->peers[pc->fd].byes > 0) {
            a->peers[pc->fd].byes--;
            th_log_internal(TH_LOG_DEBUG, NULL, "admin: %s closed", pc->who);
        } else if (thi_adm_may_log(a)) {
            th_log_internal(
                TH_LOG_WARNING, NULL,
                "admin: connection of %s dropped without a "
                "goodbye (peer gone, or a frame over the "
                "%zu-byte limit)",
                pc->who, TH_WIRE_PREFIX + TH_WIRE_HEADER_MAX + a->max_payload);
        }
    }
    a->n_closes = 0;
}

/* A new connection: its name, for log lines. */
static void
peer_accepted(struct thi_admin *a, int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    /* the connection may be gone already: then only its fd */
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
            port = ntohs(in->sin6_port);
        } else if (ss.ss_family == AF_UNIX) {
            snprintf(host, sizeof host, "ipc");
        }
    }
    if (port || strcmp(host, "?") != 0)
        snprintf(a->peers[fd].name, sizeof a->peers[fd].name, "%s:%d fd %d",
                 host, port, fd);
    else
        snprintf(a->peers[fd].name, sizeof a->peers[fd].name,
                 "a peer already gone (fd %d)", fd);
    /* bye is kept: a quick client's goodbye may have been read before
     * this event (the monitor is read every 100 ms); the entry is cleared
     * when the connection goes */
}

/* The DISCONNECTED of a connection whose handshake failed. */
static void
peer_refused(struct thi_admin *a, int fd)
{
    int kind = a->failed[a->failed_head];
    a->failed_head = (a->failed_head + 1) % FAILED_MAX;
    a->n_failed--;
    char line[200];
    snprintf(line, sizeof line,
             "refused a connection from %s: CurveZMQ handshake "
             "failed (the client has no admin key, does not use "
             "this host's public key, or sent garbage)",
             thi_adm_peer_name(a, fd));
    /* an unknown key was logged by the ZAP handler, with the key */
    if (kind != REFUSE_KEY)
        thi_adm_refused(a, kind, line);
    if (fd < a->n_peers)
        a->peers[fd].name[0] = '\0';
}

/* The DISCONNECTED of any other connection: a goodbye, or judged later. */
static void
peer_closed(struct thi_admin *a, int fd)
{
    /* a session heard on this fd and still open: not a goodbye */
    session_t *found = thi_adm_session_on_fd(a, fd);
    /* a goodbye heard on this fd is this connection's */
    bool bye = fd < a->n_peers && a->peers[fd].byes > 0;
    if (bye) {
        a->peers[fd].byes--;
        found = NULL; /* a session on the fd is a later connection's */
    }
    char who[200];
    thi_adm_describe(a, found, fd, who, sizeof who);
    if (bye) {
        th_log_internal(TH_LOG_DEBUG, NULL, "admin: %s closed", who);
    } else {
        /* its goodbye may not be read yet: judged next tick */
        if (a->n_closes == CLOSES_MAX)
            thi_adm_monitor_judge(a);
        struct pending_close *pc = &a->closes[a->n_closes++];
        pc->fd = fd;
        snprintf(pc->who, sizeof pc->who, "%s", who);
    }
    if (found) /* probe now rather than at the next tick */
        a->probe_now = true;
    if (fd < a->n_peers)
        a->peers[fd].name[0] = '\0';
}

void
thi_adm_monitor_events(struct thi_admin *a)
{
    for (;;) {
        zmq_msg_t ev, ep;
        zmq_msg_init(&ev);
        if (thi_zmsg_recv(&ev, a->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        zmq_msg_init(&ep);
        if (zmq_msg_more(&ev))
            (void)thi_zmsg_recv(&ep, a->mon, ZMQ_DONTWAIT);
        uint16_t event = 0;
        int32_t value = -1;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
        int fd = value;
        if (event == ZMQ_EVENT_ACCEPTED && thi_adm_peer_slot(a, fd)) {
            peer_accepted(a, fd);
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                   event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                   event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            /* The value is the protocol error, not the fd; the failed
             * connection's DISCONNECTED follows (events come in order),
             * and names the peer: remember why until then. Which side
             * gave up first decides which event comes (a client without
             * CurveZMQ shows as a mechanism mismatch, an unexpected
             * command, or a closed connection), so only a ZAP refusal
             * is told apart. */
            int kind = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                           ? REFUSE_KEY
                           : REFUSE_HANDSHAKE;
            if (a->n_failed < FAILED_MAX)
                a->failed[(a->failed_head + a->n_failed++) % FAILED_MAX] =
                    (unsigned char)kind;
        } else if (event == ZMQ_EVENT_DISCONNECTED && fd >= 0 &&
                   a->n_failed > 0 && thi_adm_session_on_fd(a, fd) == NULL &&
                   !(fd < a->n_peers && a->peers[fd].byes > 0)) {
            peer_refused(a, fd);
        } else if (event == ZMQ_EVENT_DISCONNECTED && fd >= 0) {
            peer_closed(a, fd);
        }
    }
}
