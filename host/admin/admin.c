/*
 * host/admin.c — the admin endpoint of one actor system (docs/protocol.md).
 * One thread serves a ZeroMQ ROUTER socket: it checks every frame before
 * acting on it (a bad frame is dropped with a log line, and nothing else
 * changes), keeps one session per client context with a runtime inbox as
 * that context's address, and pushes what arrives in those inboxes back to
 * their contexts. Inboxes wake the thread through an eventfd (see
 * th_inbox_set_notify) so it can zmq_poll them with its socket.
 * A tcp:// endpoint is a CurveZMQ server whose ZAP handler (sdk/src/curve.c)
 * admits only allow-listed client keys: a refused peer never gets a frame
 * to us, and refusals are logged here at a bounded rate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "host/admin/admin.h"
#include "host/rt.h"
#include "sdk/src/wire.h"

#define N_BUCKETS 1024
#define RECV_BUDGET 1024    /* frames read per loop turn */
#define PUSH_BUDGET 256     /* messages pushed per session per turn */
#define PROBE_EVERY_MS 2000 /* liveness probe of idle sessions */
#define FULL_RETRY_MS 50    /* how long a tell waits for a full mailbox */
#define LOG_PER_SEC 20      /* warnings about bad input, per second */
#define CLOSE_LINGER_MS 500
#define HEARTBEAT_IVL_MS 1000
#define HEARTBEAT_TTL_MS 5000
#define MONITOR_EVERY_MS 100 /* how often connection events are read */
#define SPIN_NS 50000        /* wait for a reply on the CPU (see below) */
#define HANDSHAKE_MS 5000    /* a peer that does not finish its handshake */
#define REFUSE_QUIET_MS 10000 /* one line per kind of refusal this often */

/* Kinds of refused connections, each rate-limited on its own. */
enum { REFUSE_HANDSHAKE, REFUSE_KEY, N_REFUSE };
static const char *const refuse_kind[N_REFUSE] = {
    "with a failed CurveZMQ handshake",
    "with a client key not in the allow-list"};

typedef struct session session_t;

struct session {
    session_t *hnext; /* hash chain (admin thread) */
    session_t *rnext; /* ready list (under ready_lock) */
    bool queued;      /* on the ready list (under ready_lock) */
    bool blocked;     /* push stalled on a full pipe */
    struct thi_admin *admin;
    unsigned char rid[256]; /* ZeroMQ routing id */
    size_t rid_len;
    th_inbox_t *inbox;
    th_addr_t addr;
    char addr_text[TH_ADDR_STRLEN];
    int fd;   /* connection it was last heard on */
    long pid; /* what its hello said, for logs */
    int64_t last_seen_ms;
    th_inmsg_t *stash;            /* taken from the inbox, not yet sent */
    atomic_uint_fast64_t pending; /* queued in the inbox, not yet taken */
    /* last tell header and what it meant: a stream of tells to one actor
     * repeats the same bytes, so it is parsed once */
    char tell_hdr[192];
    size_t tell_hdr_len;
    th_addr_t tell_to;
    char tell_type[TH_NAME_MAX];
    /* last push header built */
    char push_hdr[160];
    size_t push_hdr_len;
    char push_type[TH_NAME_MAX + 1]; /* a copy: a type from outside is not
                                        interned, its pointer may be reused */
    th_addr_t push_from;
    uint64_t tells, pushed, filtered, refused;
};

#define CREATE_WAIT_MS 2000 /* how long create waits for an init */

typedef struct requester {
    unsigned char rid[256];
    size_t rid_len;
    json_int_t id;
} requester_t;

struct thi_admin {
    th_system_t *sys;
    void *zctx, *sock, *mon;
    char endpoint[TH_WIRE_ENDPOINT_MAX];
    uint32_t max_sessions;
    int stop_timeout_ms;
    size_t max_payload;
    json_t *plugins;
    long pid;
    int64_t started_ms;

    session_t *buckets[N_BUCKETS];
    uint32_t n_sessions;
    session_t *last; /* cache: the session heard from last */

    /* sessions whose inbox got mail; filled by worker threads */
    pthread_mutex_t ready_lock;
    session_t *ready_head, *ready_tail;
    int efd;
    atomic_bool ready_flag; /* ready list non-empty: for spinning */
    atomic_bool spinning;   /* the admin thread spins: no eventfd */
    bool delivered;         /* tells delivered, replies not served */
    unsigned spin_skip;     /* turns left without spinning */
    uint32_t n_blocked;     /* sessions with blocked set */

    /* monitor: what is known of each connection, by fd, for log lines.
     * Frames are served at once but monitor events every 100 ms, so
     * several connections may have come and gone on one fd by the time
     * their events are read: goodbyes are counted, and each DISCONNECTED
     * of the fd takes one. */
    struct peer {
        char name[56];
        uint32_t byes; /* goodbyes heard on this fd, not yet matched */
    } * peers;
    bool in_monitor; /* serve_monitor_events runs (warn_bad may call it) */
    /* closes without a goodbye counted yet, judged a tick later: the
     * goodbye may still wait in the socket's queue when ZeroMQ reports
     * the close (the monitor and the socket are separate queues) */
#define CLOSES_MAX 64
    struct pending_close {
        int fd;
        char who[200];
    } closes[CLOSES_MAX];
    int n_closes;
    /* kinds of failed handshakes whose DISCONNECTED is still to come */
#define FAILED_MAX 64
    unsigned char failed[FAILED_MAX];
    int failed_head, n_failed;
    int n_peers;
    bool probe_now; /* a connection dropped: probe at once */

    /* shutdown */
    bool stopping;
    int64_t stop_deadline;
    requester_t *requesters;
    size_t n_requesters;

    /* loads run on threads of their own (the Source Authority may take its
     * time); finished ones wait here for the admin thread to answer */
    pthread_mutex_t loads_lock;
    struct load_job *loads_done;
    atomic_int loads_running;

    /* CurveZMQ: the ZAP handler, and the rate limit of refusal lines
     * (written by the ZAP thread and the admin thread, under the lock) */
    thi_zap_t *zap;
    pthread_mutex_t refuse_lock;
    struct refusals {
        int64_t until;       /* lines of this kind are held back until */
        uint64_t suppressed; /* ... and counted meanwhile */
    } refuse[N_REFUSE];

    /* rate limit of warnings about bad input */
    int64_t log_window;
    int log_count;
    uint64_t dropped_frames, suppressed_logs;
};

/* ---- Small helpers ------------------------------------------------------- */

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* At most LOG_PER_SEC warnings about bad input a second: a flood of
 * garbage must not become a flood of log lines. */
static void
log_window_roll(struct thi_admin *a, int64_t s)
{
    if (s == a->log_window)
        return;
    if (a->suppressed_logs)
        thi_log(TH_LOG_WARNING, NULL,
                "admin: %" PRIu64 " more warnings about bad input were not "
                "logged",
                a->suppressed_logs);
    a->suppressed_logs = 0;
    a->log_window = s;
    a->log_count = 0;
}

static bool
may_log(struct thi_admin *a)
{
    log_window_roll(a, now_ms() / 1000);
    if (a->log_count++ < LOG_PER_SEC)
        return true;
    a->suppressed_logs++;
    return false;
}

/* A refused connection: the first of a burst is logged with its detail,
 * the rest of the next REFUSE_QUIET_MS only counted (refuse_roll reports
 * the count), so a flood of refused peers cannot flood the log. Any
 * thread. */
static void
refused(struct thi_admin *a, int kind, const char *line)
{
    int64_t now = now_ms();
    pthread_mutex_lock(&a->refuse_lock);
    struct refusals *r = &a->refuse[kind];
    bool log = now >= r->until;
    if (log)
        r->until = now + REFUSE_QUIET_MS;
    else
        r->suppressed++;
    pthread_mutex_unlock(&a->refuse_lock);
    if (log)
        thi_log(TH_LOG_WARNING, NULL,
                "admin: %s (more connections refused %s in the next %d s are "
                "counted, not logged)",
                line, refuse_kind[kind], REFUSE_QUIET_MS / 1000);
}

/* Report what refused() held back once its window is over. */
static void
refuse_roll(struct thi_admin *a, bool all)
{
    int64_t now = now_ms();
    for (int k = 0; k < N_REFUSE; k++) {
        pthread_mutex_lock(&a->refuse_lock);
        struct refusals *r = &a->refuse[k];
        uint64_t n = 0;
        if (r->suppressed && (all || now >= r->until)) {
            n = r->suppressed;
            r->suppressed = 0;
        }
        pthread_mutex_unlock(&a->refuse_lock);
        if (n)
            thi_log(TH_LOG_WARNING, NULL,
                    "admin: %" PRIu64 " more connections refused %s in the "
                    "last %d s",
                    n, refuse_kind[k], REFUSE_QUIET_MS / 1000);
    }
}

/* What the ZAP handler reports, from its thread. */
static void
zap_event(void *arg, int kind, const char *line)
{
    struct thi_admin *a = arg;
    if (kind == THI_ZAP_REFUSED)
        refused(a, REFUSE_KEY, line);
    else
        thi_log(TH_LOG_WARNING, NULL, "admin: %s", line);
}

/* Make room for fd in the peer table; false when it cannot. */
static bool
peer_slot(struct thi_admin *a, int fd)
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

static bool
peer_known(struct thi_admin *a, int fd)
{
    return fd >= 0 && fd < a->n_peers && a->peers[fd].name[0];
}

static const char *
peer_name(struct thi_admin *a, int fd)
{
    if (fd >= 0 && fd < a->n_peers && a->peers[fd].name[0])
        return a->peers[fd].name;
    return "unknown peer";
}

/* Who sent a frame, for log lines: the session's address, or the peer. */
static void
describe(struct thi_admin *a, const session_t *s, int fd, char *buf,
         size_t size)
{
    if (s)
        snprintf(buf, size, "context %s (pid %ld, %s)", s->addr_text, s->pid,
                 peer_name(a, fd));
    else
        snprintf(buf, size, "%s (no context)", peer_name(a, fd));
}

static uint32_t
rid_hash(const unsigned char *rid, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ rid[i]) * 16777619u;
    return h % N_BUCKETS;
}

static session_t *
session_find(struct thi_admin *a, const unsigned char *rid, size_t len)
{
    session_t *s = a->last;
    if (s && s->rid_len == len && memcmp(s->rid, rid, len) == 0)
        return s;
    for (s = a->buckets[rid_hash(rid, len)]; s; s = s->hnext)
        if (s->rid_len == len && memcmp(s->rid, rid, len) == 0) {
            a->last = s;
            return s;
        }
    return NULL;
}

/* ---- Sending ------------------------------------------------------------- */

/* Send one frame to a routing id. Returns 0, TH_EDEAD when the peer is
 * gone (the ROUTER knows no such id), TH_EFULL when its pipe is full. */
static int
send_to(struct thi_admin *a, const unsigned char *rid, size_t rid_len,
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
    if (zmq_send(a->sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        zmq_msg_close(&m);
        return e == EAGAIN ? TH_EFULL : TH_EDEAD;
    }
    if (zmq_msg_send(&m, a->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return TH_EFULL;
    }
    return 0;
}

/* Send a result header (reference taken; "op" and "re" are added). */
static int
send_result(struct thi_admin *a, const unsigned char *rid, size_t rid_len,
            json_int_t id, json_t *hdr, const void *payload, size_t plen)
{
    if (hdr == NULL)
        return TH_ENOMEM;
    json_object_set_new(hdr, "op", json_string("result"));
    json_object_set_new(hdr, "re", json_integer(id));
    char *text = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    if (text == NULL)
        return TH_ENOMEM;
    int rc = send_to(a, rid, rid_len, text, strlen(text), payload, plen);
    free(text);
    return rc;
}

static int
reply_ok(struct thi_admin *a, const unsigned char *rid, size_t rid_len,
         json_int_t id, json_t *fields)
{
    json_t *hdr = fields ? fields : json_object();
    if (hdr)
        json_object_set_new(hdr, "code", json_integer(0));
    return send_result(a, rid, rid_len, id, hdr, NULL, 0);
}

static int reply_err(struct thi_admin *a, const unsigned char *rid,
                     size_t rid_len, json_int_t id, int code, const char *fmt,
                     ...) __attribute__((format(printf, 6, 7)));

static int
reply_err(struct thi_admin *a, const unsigned char *rid, size_t rid_len,
          json_int_t id, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_result(a, rid, rid_len, id,
                       json_pack("{s:i, s:s, s:s}", "code", code, "error",
                                 th_errname(code), "message", msg),
                       NULL, 0);
}

/* ---- Sessions ------------------------------------------------------------ */

/* Put s on the ready list (once) and wake the admin thread. */
static void
ready_push(struct thi_admin *a, session_t *s)
{
    pthread_mutex_lock(&a->ready_lock);
    if (!s->queued) {
        s->queued = true;
        s->rnext = NULL;
        bool wake = a->ready_head == NULL;
        if (a->ready_tail)
            a->ready_tail->rnext = s;
        else
            a->ready_head = s;
        a->ready_tail = s;
        if (wake) {
            /* seq_cst store then load, against spin_for_ready's seq_cst
             * store of `spinning` then load of `ready_flag`: either the
             * spinner sees the flag, or we see it is not spinning and
             * wake it through the eventfd (or both: harmless) */
            atomic_store(&a->ready_flag, true);
            if (!atomic_load(&a->spinning)) {
                uint64_t one = 1;
                /* a full counter (2^64-2) cannot happen: reads reset it */
                ssize_t w = write(a->efd, &one, sizeof one);
                (void)w;
            }
        }
    }
    pthread_mutex_unlock(&a->ready_lock);
}

/* Inbox notification, once per message queued: runs on the delivering
 * thread with the inbox lock held, so it only counts and, on the first
 * message, queues the session. Counting lets the admin thread take
 * exactly what is there and never wait on an empty inbox. */
static void
on_inbox(void *arg)
{
    session_t *s = arg;
    /* acq_rel: the message is linked before this (under the inbox lock);
     * pairs with the fetch_sub in push_session */
    if (atomic_fetch_add_explicit(&s->pending, 1, memory_order_acq_rel) == 0)
        ready_push(s->admin, s);
}

static void
session_destroy(struct thi_admin *a, session_t *s, const char *why)
{
    /* after this no on_inbox runs for s (th_inbox_destroy promise) */
    th_inbox_destroy(s->inbox);
    pthread_mutex_lock(&a->ready_lock);
    if (s->queued) {
        session_t **pp = &a->ready_head, *prev = NULL;
        while (*pp && *pp != s) {
            prev = *pp;
            pp = &(*pp)->rnext;
        }
        if (*pp) {
            *pp = s->rnext;
            if (a->ready_tail == s)
                a->ready_tail = prev;
        }
    }
    pthread_mutex_unlock(&a->ready_lock);
    for (session_t **pp = &a->buckets[rid_hash(s->rid, s->rid_len)]; *pp;
         pp = &(*pp)->hnext)
        if (*pp == s) {
            *pp = s->hnext;
            break;
        }
    if (a->last == s)
        a->last = NULL;
    if (s->blocked)
        a->n_blocked--;
    a->n_sessions--;
    /* a goodbye is routine (one per client command): DEBUG */
    thi_log(strcmp(why, "goodbye") ? TH_LOG_INFO : TH_LOG_DEBUG, &s->addr,
            "admin: context closed (%s): %" PRIu64 " tells, %" PRIu64
            " pushed, %" PRIu64 " filtered",
            why, s->tells, s->pushed, s->filtered);
    th_inmsg_free(s->stash);
    free(s);
}

/* ---- Pushing inbox messages to their contexts ---------------------------- */

/* Send one inbox message to its context. Returns 0 (sent or filtered),
 * TH_EFULL (keep it for later), TH_EDEAD (the context is gone). */
static int
push_one(struct thi_admin *a, session_t *s, th_inmsg_t *m)
{
    if (!thi_wire_type_passes(m->type) || !thi_wire_type_valid(m->type)) {
        /* runtime bookkeeping (ChildActorExited, WakeupMessage, ...) is
         * for actors; outside programs see only what Thespian shows them */
        s->filtered++;
        thi_log(TH_LOG_DEBUG, &s->addr, "admin: %s for a context filtered",
                m->type);
        return 0;
    }
    if (s->push_hdr_len == 0 || strcmp(s->push_type, m->type) != 0 ||
        !th_addr_eq(&s->push_from, &m->sender)) {
        char from[TH_ADDR_STRLEN];
        th_addr_to_string(&m->sender, from, sizeof from);
        int n = snprintf(s->push_hdr, sizeof s->push_hdr,
                         "{\"op\":\"msg\",\"type\":\"%s\",\"from\":\"%s\"}",
                         m->type, from);
        if (n < 0 || (size_t)n >= sizeof s->push_hdr)
            return 0; /* cannot happen with valid names: drop */
        s->push_hdr_len = (size_t)n;
        snprintf(s->push_type, sizeof s->push_type, "%s", m->type);
        s->push_from = m->sender;
    }
    int rc = send_to(a, s->rid, s->rid_len, s->push_hdr, s->push_hdr_len,
                     m->data, m->len);
    if (rc == 0)
        s->pushed++;
    return rc == TH_ENOMEM ? 0 : rc;
}

/* Push up to PUSH_BUDGET messages of one session: a stashed one first,
 * then as many as on_inbox counted. Returns true when more are waiting
 * (the caller queues the session again); *gone when the context's peer
 * is gone. */
static bool
push_session(struct thi_admin *a, session_t *s, bool *gone)
{
    *gone = false;
    if (s->stash) {
        int rc = push_one(a, s, s->stash);
        if (rc == TH_EFULL)
            goto out_blocked;
        th_inmsg_free(s->stash);
        s->stash = NULL;
        if (rc == TH_EDEAD) {
            *gone = true;
            return false;
        }
    }
    /* acquire: pairs with on_inbox's fetch_add: the counted are linked */
    uint64_t n = atomic_load_explicit(&s->pending, memory_order_acquire);
    if (n > PUSH_BUDGET)
        n = PUSH_BUDGET;
    uint64_t taken = 0;
    bool stop = false;
    while (taken < n && !stop) {
        th_inmsg_t *m = NULL;
        if (th_inbox_recv(s->inbox, &m, 0) != 0) {
            /* cannot happen (each was counted after it was queued); do
             * not loop on a count that is wrong */
            thi_log(TH_LOG_ERROR, &s->addr,
                    "admin: inbox holds fewer messages than counted");
            taken = n;
            break;
        }
        taken++;
        int rc = push_one(a, s, m);
        if (rc == TH_EFULL) {
            s->stash = m;
            stop = true;
        } else {
            th_inmsg_free(m);
            if (rc == TH_EDEAD) {
                *gone = true;
                return false;
            }
        }
    }
    uint64_t left =
        atomic_fetch_sub_explicit(&s->pending, taken, memory_order_acq_rel) -
        taken;
    if (stop)
        goto out_blocked;
    return left > 0;

out_blocked:
    /* the context does not read: keep the message, stop pushing (the
     * runtime's inbox holds the rest) and let the tick retry */
    if (!s->blocked)
        a->n_blocked++;
    s->blocked = true;
    return false;
}

static void
serve_ready(struct thi_admin *a, bool efd_readable)
{
    if (efd_readable) {
        uint64_t v;
        ssize_t r = read(a->efd, &v, sizeof v); /* reset it */
        (void)r;
    }
    pthread_mutex_lock(&a->ready_lock);
    session_t *list = a->ready_head;
    a->ready_head = a->ready_tail = NULL;
    atomic_store_explicit(&a->ready_flag, false, memory_order_relaxed);
    pthread_mutex_unlock(&a->ready_lock);
    if (list)
        a->delivered = false; /* what was asked is answered */
    while (list) {
        session_t *s = list;
        /* While `queued` is set nobody else links s, so rnext is ours to
         * read; clearing it first means a message that lands during the
         * push below queues s again instead of being missed. */
        pthread_mutex_lock(&a->ready_lock);
        list = s->rnext;
        s->queued = false;
        pthread_mutex_unlock(&a->ready_lock);
        bool gone;
        if (s->blocked)
            continue; /* retried by the tick, in order */
        if (push_session(a, s, &gone))
            ready_push(a, s); /* more left: back of the line, fairly */
        else if (gone)
            session_destroy(a, s, "its connection is gone");
    }
}

/* Retry sessions whose pipe was full, and probe idle ones: with
 * ZMQ_ROUTER_MANDATORY a ping to a vanished peer fails at once. */
static void
tick(struct thi_admin *a, bool probe)
{
    int64_t now = now_ms();
    static const char ping[] = "{\"op\":\"ping\"}";
    for (int b = 0; b < N_BUCKETS; b++) {
        session_t *s = a->buckets[b];
        while (s) {
            session_t *next = s->hnext;
            bool gone = false;
            if (s->blocked) {
                s->blocked = false;
                a->n_blocked--;
                if (push_session(a, s, &gone))
                    ready_push(a, s);
            } else if (probe && now - s->last_seen_ms >= PROBE_EVERY_MS) {
                gone = send_to(a, s->rid, s->rid_len, ping, sizeof ping - 1,
                               NULL, 0) == TH_EDEAD;
                s->last_seen_ms = now;
            }
            if (gone)
                session_destroy(a, s, "its connection is gone");
            s = next;
        }
    }
}

/* After handing tells to actors, wait a little on the CPU for their
 * replies: a reply typically comes within tens of microseconds, and
 * catching it here saves the admin thread a sleep and a wake-up on the
 * eventfd, which is most of what an outside ask costs above the raw
 * transport. Bounded, and only right after tells were delivered. */
static bool
spin_for_ready(struct thi_admin *a, int64_t spin_ns)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* seq_cst: pairs with ready_push (see there); while set, deliveries
     * skip the eventfd write, a system call on the worker's path */
    atomic_store(&a->spinning, true);
    bool ready = false;
    for (unsigned i = 0; !ready; i++) {
        /* acquire: pairs with the seq_cst store in ready_push */
        ready = atomic_load_explicit(&a->ready_flag, memory_order_acquire);
        if (!ready && (i & 63) == 63) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000 + (t.tv_nsec - t0.tv_nsec) >
                spin_ns)
                break;
        }
        /* yield, not pause: the worker we just woke is often queued on
         * this very CPU (wake-affine), and a pure spin would keep it
         * from running the actor we wait for */
        sched_yield();
    }
    /* seq_cst store then load: the same pairing with ready_push, for the
     * delivery that lands just as we stop spinning */
    atomic_store(&a->spinning, false);
    return ready || atomic_load(&a->ready_flag);
}

static void serve_monitor(struct thi_admin *a);
static void serve_monitor_events(struct thi_admin *a);
static void judge_closes(struct thi_admin *a);
static int serve_socket(struct thi_admin *a);

/* ---- Requests ------------------------------------------------------------ */

typedef struct req {
    struct thi_admin *a;
    session_t *s; /* NULL: no context yet */
    const unsigned char *rid;
    size_t rid_len;
    int fd;
    json_t *hdr;
    json_int_t id;  /* 0: none given (no answer possible) */
    const char *op; /* for log lines; NULL before parsing */
    const unsigned char *payload;
    size_t payload_len;
} req_t;

static void warn_bad(req_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
warn_bad(req_t *r, const char *fmt, ...)
{
    r->a->dropped_frames++;
    if (!may_log(r->a))
        return;
    /* its ACCEPTED event is not read yet: read the events, not frames
     * (r->s must stay valid) */
    if (!peer_known(r->a, r->fd) && !r->a->in_monitor) {
        r->a->in_monitor = true;
        serve_monitor_events(r->a);
        r->a->in_monitor = false;
    }
    char who[200], what[400];
    describe(r->a, r->s, r->fd, who, sizeof who);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    thi_log(TH_LOG_WARNING, NULL, "admin: frame from %s dropped: %s", who,
            what);
}

/* Answer a refused request when it can be answered, else log it. */
static void refuse(req_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(req_t *r, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->id > 0)
        reply_err(r->a, r->rid, r->rid_len, r->id, code, "%s", msg);
    else
        warn_bad(r, "%.40s: %s", r->op ? r->op : "?", msg);
}

static const char *
opt_string(req_t *r, const char *key, bool *bad)
{
    json_t *v = json_object_get(r->hdr, key);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = true; /* a NUL inside would let C see another string */
        return NULL;
    }
    return json_string_value(v);
}

static void
op_hello(req_t *r)
{
    struct thi_admin *a = r->a;
    session_t *s = r->s;
    if (s == NULL) {
        if (a->stopping || th_system_is_stopping(a->sys)) {
            refuse(r, TH_ECLOSED, "the actor system is shutting down");
            return;
        }
        if (a->n_sessions >= a->max_sessions) {
            refuse(r, TH_ELIMIT,
                   "too many client contexts (limit %u; see --max-contexts)",
                   a->max_sessions);
            return;
        }
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            refuse(r, TH_ENOMEM, "out of memory");
            return;
        }
        int rc = th_inbox_create(a->sys, &s->inbox);
        if (rc != 0) {
            free(s);
            refuse(r, rc, "cannot make a reply address: %s", th_strerror(rc));
            return;
        }
        s->admin = a;
        memcpy(s->rid, r->rid, r->rid_len);
        s->rid_len = r->rid_len;
        th_inbox_address(s->inbox, &s->addr);
        th_addr_to_string(&s->addr, s->addr_text, sizeof s->addr_text);
        json_t *pid = json_object_get(r->hdr, "pid");
        s->pid = json_is_integer(pid) ? (long)json_integer_value(pid) : 0;
        s->fd = r->fd;
        s->last_seen_ms = now_ms();
        uint32_t b = rid_hash(s->rid, s->rid_len);
        s->hnext = a->buckets[b];
        a->buckets[b] = s;
        a->n_sessions++;
        th_inbox_set_notify(s->inbox, on_inbox, s);
        r->s = s;
        thi_log(TH_LOG_DEBUG, &s->addr, "admin: context opened by pid %ld (%s)",
                s->pid, peer_name(a, r->fd));
    }
    th_addr_t sys;
    char sys_text[TH_ADDR_STRLEN];
    th_system_address_of(a->sys, &sys);
    th_addr_to_string(&sys, sys_text, sizeof sys_text);
    reply_ok(a, r->rid, r->rid_len, r->id,
             json_pack("{s:s, s:s, s:I, s:i, s:s, s:I}", "addr", s->addr_text,
                       "system", sys_text, "max_payload",
                       (json_int_t)a->max_payload, "protocol",
                       (int)TH_WIRE_VERSION, "version", TH_HOST_VERSION, "pid",
                       (json_int_t)a->pid));
}

static void
op_ping(req_t *r)
{
    th_addr_t sys;
    char sys_text[TH_ADDR_STRLEN];
    th_system_address_of(r->a->sys, &sys);
    th_addr_to_string(&sys, sys_text, sizeof sys_text);
    reply_ok(r->a, r->rid, r->rid_len, r->id,
             json_pack("{s:b, s:I, s:s, s:s}", "thespiand", 1, "pid",
                       (json_int_t)r->a->pid, "endpoint", r->a->endpoint,
                       "system", sys_text));
}

/* Deliver a tell; EFULL is retried briefly, since the client has no way
 * to hear about it (a tell is not answered). */
static void
deliver_tell(req_t *r, const th_addr_t *to, const char *name,
             const char *type)
{
    session_t *s = r->s;
    /* by name: resolved in the runtime as one step with the queueing, so a
     * hot swap moving the name never drops this message */
    int rc = to ? th_inbox_send(s->inbox, to, type, r->payload, r->payload_len)
                : th_inbox_send_name(s->inbox, name, type, r->payload,
                                     r->payload_len);
    if (rc == TH_EFULL) {
        int64_t until = now_ms() + FULL_RETRY_MS;
        while (rc == TH_EFULL && now_ms() < until) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            rc = to ? th_inbox_send(s->inbox, to, type, r->payload,
                                    r->payload_len)
                    : th_inbox_send_name(s->inbox, name, type, r->payload,
                                         r->payload_len);
        }
    }
    s->tells++;
    r->a->delivered = true;
    if (rc == 0 || rc == TH_EDEAD)
        return; /* a dead target was dead-lettered (and logged) already */
    s->refused++;
    if (may_log(r->a)) {
        char a[TH_ADDR_STRLEN];
        if (to)
            th_addr_to_string(to, a, sizeof a);
        else
            snprintf(a, sizeof a, "%.50s", name);
        thi_log(TH_LOG_WARNING, &s->addr,
                "admin: tell %s to %s not delivered: %s (%s)", type, a,
                th_errname(rc), th_strerror(rc));
    }
}

/* The one header form a tell is cached in: exactly op, to, type. */
static void
op_tell(req_t *r, const char *hdr_bytes, size_t hdr_len)
{
    session_t *s = r->s;
    const char *to_text = json_string_value(json_object_get(r->hdr, "to"));
    const char *name = json_string_value(json_object_get(r->hdr, "name"));
    const char *type = json_string_value(json_object_get(r->hdr, "type"));
    th_addr_t to;
    if (to_text == NULL && name != NULL) {
        if (!thi_wire_type_valid(type) || thi_wire_type_reserved(type)) {
            warn_bad(r, "tell: \"type\" is not a message type a client may "
                        "send");
            return;
        }
        deliver_tell(r, NULL, name, type);
        return;
    }
    if (to_text == NULL || th_addr_from_string(&to, to_text) != 0 ||
        th_addr_is_null(&to)) {
        warn_bad(r, "tell: \"to\" is not an actor address");
        return;
    }
    if (!thi_wire_type_valid(type)) {
        warn_bad(r, "tell: \"type\" is not a message type name");
        return;
    }
    if (thi_wire_type_reserved(type)) {
        warn_bad(r, "tell: type %s is reserved for the runtime", type);
        return;
    }
    if (json_object_size(r->hdr) == 3 && hdr_len < sizeof s->tell_hdr) {
        memcpy(s->tell_hdr, hdr_bytes, hdr_len);
        s->tell_hdr_len = hdr_len;
        s->tell_to = to;
        snprintf(s->tell_type, sizeof s->tell_type, "%s", type);
    }
    deliver_tell(r, &to, NULL, type);
}

static void
op_create(req_t *r)
{
    bool bad = false;
    const char *cls = opt_string(r, "class", &bad);
    const char *gname = opt_string(r, "global_name", &bad);
    const char *hash = opt_string(r, "source_hash", &bad);
    json_t *req = json_object_get(r->hdr, "requirements");
    if (bad || cls == NULL) {
        refuse(r, TH_EINVAL,
               "\"class\" must be a string, and \"global_name\" and "
               "\"source_hash\" strings when given");
        return;
    }
    if (req != NULL && !json_is_null(req) && !json_is_object(req)) {
        refuse(r, TH_EINVAL, "\"requirements\" must be an object");
        return;
    }
    char *req_text = NULL;
    if (req != NULL && json_is_object(req)) {
        req_text = json_dumps(req, JSON_COMPACT);
        if (req_text == NULL) {
            refuse(r, TH_ENOMEM, "out of memory");
            return;
        }
    }
    th_create_opts_t opts = {.size = sizeof opts};
    opts.global_name = gname;
    opts.source_hash = hash;
    opts.requirements_json = req_text;
    th_addr_t addr;
    th_diag_t d = {0};
    /* Thespian's createActor returns once the actor is created or failed:
     * wait for its init (briefly: an init still running after that is
     * reported as created, which it is) */
    int rc = th_system_create_actor_wait(r->a->sys, &addr, cls, &opts,
                                         CREATE_WAIT_MS, &d);
    free(req_text);
    switch (rc) {
    case TH_ETIMEDOUT:
    case 0: {
        char text[TH_ADDR_STRLEN];
        th_addr_to_string(&addr, text, sizeof text);
        reply_ok(r->a, r->rid, r->rid_len, r->id,
                 json_pack("{s:s}", "addr", text));
        return;
    }
    case TH_ENOENT:
        /* Thespian: a class that cannot be found is an invalid spec */
        refuse(r, TH_EINVAL,
               "no actor class %s on this host (classes are PLUGIN.CLASS "
               "from a loaded plugin)",
               cls);
        return;
    case TH_ENOCOMPAT:
        refuse(r, rc, "%s", d.msg);
        return;
    case TH_ESOURCE: /* no such source, an unloading one, or ambiguous */
        if (d.msg[0])
            refuse(r, rc, "%s", d.msg);
        else
            refuse(r, rc, "no loaded source has hash %.80s",
                   hash ? hash : "");
        return;
    case TH_EINVAL:
        refuse(r, rc, "%s", d.msg[0] ? d.msg : "invalid options");
        return;
    case TH_EFAIL:
        refuse(r, TH_ESTARTUP,
               "%s failed to start: its init refused (the host log says "
               "why)",
               cls);
        return;
    default:
        refuse(r, rc, "%s", th_strerror(rc));
        return;
    }
}

static void
op_lookup(req_t *r)
{
    bool bad = false;
    const char *name = opt_string(r, "name", &bad);
    if (bad || name == NULL) {
        refuse(r, TH_EINVAL, "\"name\" must be a non-empty string");
        return;
    }
    th_addr_t addr;
    if (th_system_lookup_name(r->a->sys, name, &addr) != 0) {
        refuse(r, TH_ENOENT, "no live actor is named \"%.200s\"", name);
        return;
    }
    char text[TH_ADDR_STRLEN];
    th_addr_to_string(&addr, text, sizeof text);
    reply_ok(r->a, r->rid, r->rid_len, r->id, json_pack("{s:s}", "addr", text));
}

static void
op_status(req_t *r)
{
    struct thi_admin *a = r->a;
    char *sys_text = NULL;
    int rc = th_system_status_json(a->sys, &sys_text);
    if (rc != 0) {
        refuse(r, rc, "%s", th_strerror(rc));
        return;
    }
    json_t *sys = json_loads(sys_text, 0, NULL);
    free(sys_text);
    char *caps_text = NULL;
    json_t *caps = th_system_capabilities_json(a->sys, &caps_text) == 0
                       ? json_loads(caps_text, 0, NULL)
                       : NULL;
    free(caps_text);
    json_t *o =
        json_pack("{s:o, s:o, s:{s:s, s:I, s:i, s:s, s:I, s:I, s:O, s:I}}",
                  "system", sys ? sys : json_object(), "capabilities",
                  caps ? caps : json_object(),
                  "admin", "endpoint", a->endpoint, "pid", (json_int_t)a->pid,
                  "protocol", (int)TH_WIRE_VERSION, "version", TH_HOST_VERSION,
                  "contexts", (json_int_t)a->n_sessions, "uptime_s",
                  (json_int_t)((now_ms() - a->started_ms) / 1000), "plugins",
                  a->plugins, "dropped_frames", (json_int_t)a->dropped_frames);
    /* whose keys it trusts: `thespian start` compares it with its own */
    json_object_set_new(json_object_get(o, "admin"), "directorDir",
                        a->sys->key_dir[0] ? json_string(a->sys->key_dir)
                                           : json_null());
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        refuse(r, TH_ENOMEM, "out of memory");
        return;
    }
    send_result(a, r->rid, r->rid_len, r->id, json_pack("{s:i}", "code", 0),
                text, strlen(text));
    free(text);
}

static void
op_update_capability(req_t *r)
{
    bool bad = false;
    const char *name = opt_string(r, "name", &bad);
    json_t *value = json_object_get(r->hdr, "value");
    if (bad || name == NULL || strlen(name) > 255 || value == NULL) {
        refuse(r, TH_EINVAL,
               "wants \"name\" (1..255 bytes) and \"value\" (null "
               "removes)");
        return;
    }
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        refuse(r, TH_ENOMEM, "out of memory");
        return;
    }
    /* the runtime owns the capabilities; it re-checks the live actors */
    th_diag_t d = {0};
    int rc = th_system_update_capability(r->a->sys, name, text, &d);
    free(text);
    if (rc != 0) {
        refuse(r, rc, "%s", d.msg[0] ? d.msg : th_strerror(rc));
        return;
    }
    reply_ok(r->a, r->rid, r->rid_len, r->id, NULL);
}

static void
begin_stop(struct thi_admin *a, const char *why)
{
    if (a->stopping)
        return;
    a->stopping = true;
    a->stop_deadline = now_ms() + a->stop_timeout_ms;
    thi_log(TH_LOG_INFO, NULL, "admin: shutting down (%s)", why);
    (void)th_system_stop(a->sys, 0); /* starts it; waited for in the loop */
}

static void
op_shutdown(req_t *r)
{
    struct thi_admin *a = r->a;
    requester_t *q = realloc(a->requesters, (a->n_requesters + 1) * sizeof *q);
    if (q != NULL) {
        a->requesters = q;
        q = &q[a->n_requesters++];
        memcpy(q->rid, r->rid, r->rid_len);
        q->rid_len = r->rid_len;
        q->id = r->id;
    }
    char why[200];
    snprintf(why, sizeof why, "requested by context %s",
             r->s ? r->s->addr_text : "?");
    begin_stop(a, why);
}

/* ---- Sources: load (on a thread), unload, list ---------------------------- */

typedef struct load_job {
    struct load_job *next;
    struct thi_admin *a;
    unsigned char rid[256];
    size_t rid_len;
    json_int_t id;
    uint8_t *bytes;
    size_t len;
    bool allow_rollback;
    int rc;
    char hash[65];
    th_diag_t diag;
} load_job_t;

static void *
load_main(void *arg)
{
    load_job_t *j = arg;
    char what[64];
    snprintf(what, sizeof what, "bundle of %zu bytes", j->len);
    j->rc = th_system_load_source(j->a->sys, j->bytes, j->len, what,
                                  j->allow_rollback, j->hash, &j->diag);
    free(j->bytes);
    j->bytes = NULL;
    /* once listed, j belongs to the admin thread, which may free it */
    struct thi_admin *a = j->a;
    pthread_mutex_lock(&a->loads_lock);
    j->next = a->loads_done;
    a->loads_done = j;
    pthread_mutex_unlock(&a->loads_lock);
    uint64_t one = 1; /* wake the admin thread to answer */
    if (write(a->efd, &one, sizeof one) < 0)
        thi_log(TH_LOG_WARNING, NULL, "admin: cannot wake the admin thread");
    atomic_fetch_sub(&a->loads_running, 1);
    return NULL;
}

static void
op_load(req_t *r)
{
    struct thi_admin *a = r->a;
    json_t *rb = json_object_get(r->hdr, "allow_rollback");
    if (rb && !json_is_boolean(rb)) {
        refuse(r, TH_EINVAL, "load: \"allow_rollback\" must be true or false");
        return;
    }
    if (r->payload_len == 0) {
        refuse(r, TH_EINVAL, "load: the payload must be the bundle's bytes");
        return;
    }
    load_job_t *j = calloc(1, sizeof *j);
    if (j)
        j->bytes = malloc(r->payload_len);
    if (j == NULL || j->bytes == NULL || r->rid_len > sizeof j->rid) {
        free(j);
        refuse(r, TH_ENOMEM, "load: out of memory");
        return;
    }
    j->a = a;
    memcpy(j->rid, r->rid, r->rid_len);
    j->rid_len = r->rid_len;
    j->id = r->id;
    memcpy(j->bytes, r->payload, r->payload_len);
    j->len = r->payload_len;
    j->allow_rollback = json_is_true(rb);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&a->loads_running, 1);
    if (pthread_create(&t, &attr, load_main, j) != 0) {
        atomic_fetch_sub(&a->loads_running, 1);
        free(j->bytes);
        free(j);
        refuse(r, TH_EIO, "load: cannot start a thread");
    }
    pthread_attr_destroy(&attr);
}

/* Answer the loads that have finished (admin thread). */
static void
serve_loads(struct thi_admin *a)
{
    pthread_mutex_lock(&a->loads_lock);
    load_job_t *j = a->loads_done;
    a->loads_done = NULL;
    pthread_mutex_unlock(&a->loads_lock);
    while (j) {
        load_job_t *next = j->next;
        if (j->rc == 0)
            reply_ok(a, j->rid, j->rid_len, j->id,
                     json_pack("{s:s}", "source_hash", j->hash));
        else
            reply_err(a, j->rid, j->rid_len, j->id, j->rc, "%s", j->diag.msg);
        free(j);
        j = next;
    }
}

static void
op_unload(req_t *r)
{
    bool bad = false;
    const char *h = opt_string(r, "source_hash", &bad);
    if (h == NULL || bad) {
        refuse(r, TH_EINVAL, "unload: \"source_hash\" must be a string");
        return;
    }
    char full[65];
    th_diag_t d = {0};
    int rc = th_system_unload_source(r->a->sys, h, full, &d);
    if (rc != 0)
        refuse(r, rc, "%s", d.msg);
    else
        reply_ok(r->a, r->rid, r->rid_len, r->id,
                 json_pack("{s:s}", "source_hash", full));
}

static void
op_sources(req_t *r)
{
    char *text = NULL;
    int rc = th_system_sources_json(r->a->sys, &text);
    if (rc != 0) {
        refuse(r, rc, "%s", th_strerror(rc));
        return;
    }
    send_result(r->a, r->rid, r->rid_len, r->id,
                json_pack("{s:i}", "code", 0), text, strlen(text));
    free(text);
}

/* The operator's reload of the trusted keys: the host reads its key
 * directory again; the request carries no key, path or policy. */
static void
op_reload_keys(req_t *r)
{
    char *text = NULL;
    th_diag_t d = {0};
    int rc = th_system_reload_keys(r->a->sys, &text, &d);
    if (rc != 0) {
        refuse(r, rc, "reload_keys: %s", d.msg[0] ? d.msg : th_strerror(rc));
        return;
    }
    send_result(r->a, r->rid, r->rid_len, r->id,
                json_pack("{s:i}", "code", 0), text, strlen(text));
    free(text);
}

/* One frame from a peer: checked, then acted on. */
static void
handle_frame(struct thi_admin *a, const unsigned char *rid, size_t rid_len,
             const void *data, size_t len, int fd)
{
    req_t r = {.a = a, .rid = rid, .rid_len = rid_len, .fd = fd};
    r.s = session_find(a, rid, rid_len);
    if (r.s) {
        r.s->last_seen_ms = now_ms();
        r.s->fd = fd;
    }
    thi_wire_frame_t f;
    enum thi_wire_bad bad = thi_wire_split(&f, data, len);
    if (bad != THI_WIRE_OK) {
        if (bad == THI_WIRE_VERSION_UNKNOWN)
            warn_bad(&r, "%s %u (this host speaks %u), %zu bytes",
                     thi_wire_bad_text(bad), f.version, TH_WIRE_VERSION, len);
        else
            warn_bad(&r, "%s, %zu bytes", thi_wire_bad_text(bad), len);
        return;
    }
    r.payload = f.payload;
    r.payload_len = f.payload_len;
    session_t *s = r.s;
    /* a repeated tell header: no parsing */
    if (s && s->tell_hdr_len == f.hdr_len &&
        memcmp(s->tell_hdr, f.hdr, f.hdr_len) == 0) {
        deliver_tell(&r, &s->tell_to, NULL, s->tell_type);
        return;
    }
    json_error_t jerr;
    r.hdr = json_loadb(f.hdr, f.hdr_len, JSON_REJECT_DUPLICATES, &jerr);
    if (r.hdr == NULL) {
        warn_bad(&r, "header is not JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return;
    }
    if (!json_is_object(r.hdr)) {
        warn_bad(&r, "header is not a JSON object");
        goto out;
    }
    json_t *idv = json_object_get(r.hdr, "id");
    if (idv != NULL) {
        if (!json_is_integer(idv) || json_integer_value(idv) < 1) {
            warn_bad(&r, "\"id\" must be a positive integer");
            goto out;
        }
        r.id = json_integer_value(idv);
    }
    const char *op = json_string_value(json_object_get(r.hdr, "op"));
    r.op = op;
    if (op == NULL) {
        warn_bad(&r, "header has no \"op\" string");
        goto out;
    }
    if (strcmp(op, "ping") == 0) {
        op_ping(&r);
        goto out;
    }
    if (strcmp(op, "hello") == 0) {
        if (r.id <= 0)
            warn_bad(&r, "hello without an \"id\"");
        else
            op_hello(&r);
        goto out;
    }
    if (strcmp(op, "bye") == 0) {
        if (s)
            session_destroy(a, s, "goodbye");
        if (peer_slot(a, fd) && a->peers[fd].byes < UINT32_MAX)
            a->peers[fd].byes++;
        goto out;
    }
    if (s == NULL) {
        refuse(&r, TH_ECLOSED,
               "no context for this connection (send hello first; the host "
               "may have restarted)");
        goto out;
    }
    if (strcmp(op, "tell") == 0) {
        op_tell(&r, f.hdr, f.hdr_len);
        goto out;
    }
    /* everything below answers: it needs an id */
    if (r.id <= 0) {
        warn_bad(&r, "%.40s without an \"id\"", op);
        goto out;
    }
    if (strcmp(op, "create") == 0)
        op_create(&r);
    else if (strcmp(op, "lookup") == 0)
        op_lookup(&r);
    else if (strcmp(op, "status") == 0)
        op_status(&r);
    else if (strcmp(op, "update_capability") == 0)
        op_update_capability(&r);
    else if (strcmp(op, "shutdown") == 0)
        op_shutdown(&r);
    else if (strcmp(op, "load") == 0)
        op_load(&r);
    else if (strcmp(op, "unload") == 0)
        op_unload(&r);
    else if (strcmp(op, "sources") == 0)
        op_sources(&r);
    else if (strcmp(op, "reload_keys") == 0)
        op_reload_keys(&r);
    else
        refuse(&r, TH_EINVAL, "unknown op \"%.40s\"", op);
out:
    json_decref(r.hdr);
}

/* Read what the ROUTER has, up to RECV_BUDGET frames; returns how many
 * were read. */
static int
serve_socket(struct thi_admin *a)
{
    int n;
    for (n = 0; n < RECV_BUDGET; n++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, a->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return n;
        }
        if (!zmq_msg_more(&rid)) { /* cannot happen with a ROUTER */
            zmq_msg_close(&rid);
            continue;
        }
        zmq_msg_init(&body);
        int got = zmq_msg_recv(&body, a->sock, ZMQ_DONTWAIT);
        int fd = got >= 0 ? zmq_msg_get(&body, ZMQ_SRCFD) : -1;
        size_t extra = 0;
        bool more = got >= 0 && zmq_msg_more(&body);
        while (more) { /* protocol frames are single-part: drain the rest */
            zmq_msg_t x;
            zmq_msg_init(&x);
            if (zmq_msg_recv(&x, a->sock, ZMQ_DONTWAIT) < 0)
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
        if (extra) {
            req_t r = {.a = a, .fd = fd};
            r.s = session_find(a, zmq_msg_data(&rid), zmq_msg_size(&rid));
            warn_bad(&r,
                     "multipart message of %zu parts (protocol frames "
                     "are single-part)",
                     extra + 1);
        } else {
            handle_frame(a, zmq_msg_data(&rid), zmq_msg_size(&rid),
                         zmq_msg_data(&body), zmq_msg_size(&body), fd);
        }
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
    return n;
}

static bool
session_on_fd(struct thi_admin *a, int fd)
{
    for (int b = 0; b < N_BUCKETS; b++)
        for (session_t *s = a->buckets[b]; s; s = s->hnext)
            if (s->fd == fd)
                return true;
    return false;
}

/* Socket monitor: peer names for log lines, and a warning when a peer
 * that never said goodbye goes — which is also how a frame over the size
 * limit shows: ZeroMQ drops such a connection before allocating it. */
static void
serve_monitor(struct thi_admin *a)
{
    if (a->in_monitor)
        return;
    a->in_monitor = true;
    /* the closes of the last tick first: the loop has read the socket
     * since, so a goodbye sent before such a close has been counted */
    judge_closes(a);
    serve_monitor_events(a);
    a->in_monitor = false;
}

/* Each pending close takes a goodbye counted on its fd, or was a drop. */
static void
judge_closes(struct thi_admin *a)
{
    for (int i = 0; i < a->n_closes; i++) {
        struct pending_close *pc = &a->closes[i];
        if (pc->fd < a->n_peers && a->peers[pc->fd].byes > 0) {
            a->peers[pc->fd].byes--;
            thi_log(TH_LOG_DEBUG, NULL, "admin: %s closed", pc->who);
        } else if (may_log(a)) {
            thi_log(TH_LOG_WARNING, NULL,
                    "admin: connection of %s dropped without a goodbye "
                    "(peer gone, or a frame over the %zu-byte limit)",
                    pc->who,
                    TH_WIRE_PREFIX + TH_WIRE_HEADER_MAX + a->max_payload);
        }
    }
    a->n_closes = 0;
}

static void
serve_monitor_events(struct thi_admin *a)
{
    for (;;) {
        zmq_msg_t ev, ep;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, a->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        zmq_msg_init(&ep);
        if (zmq_msg_more(&ev))
            (void)zmq_msg_recv(&ep, a->mon, ZMQ_DONTWAIT);
        uint16_t event = 0;
        int32_t value = -1;
        if (zmq_msg_size(&ev) >= 6) {
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4);
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
        int fd = value;
        if (event == ZMQ_EVENT_ACCEPTED && peer_slot(a, fd)) {
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
                snprintf(a->peers[fd].name, sizeof a->peers[fd].name,
                         "%s:%d fd %d", host, port, fd);
            else
                snprintf(a->peers[fd].name, sizeof a->peers[fd].name,
                         "a peer already gone (fd %d)", fd);
            /* bye is kept: a quick client's goodbye may have been read
             * before this event (the monitor is read every 100 ms); the
             * entry is cleared when the connection goes */
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
                   a->n_failed > 0 && !session_on_fd(a, fd) &&
                   !(fd < a->n_peers && a->peers[fd].byes > 0)) {
            int kind = a->failed[a->failed_head];
            a->failed_head = (a->failed_head + 1) % FAILED_MAX;
            a->n_failed--;
            char line[200];
            snprintf(line, sizeof line,
                     "refused a connection from %s: CurveZMQ handshake "
                     "failed (the client has no admin key, does not use "
                     "this host's public key, or sent garbage)",
                     peer_name(a, fd));
            /* an unknown key was logged by the ZAP handler, with the key */
            if (kind != REFUSE_KEY)
                refused(a, kind, line);
            if (fd < a->n_peers)
                a->peers[fd].name[0] = '\0';
        } else if (event == ZMQ_EVENT_DISCONNECTED && fd >= 0) {
            /* a session heard on this fd and still open: not a goodbye */
            session_t *found = NULL;
            for (int b = 0; b < N_BUCKETS && !found; b++)
                for (session_t *s = a->buckets[b]; s; s = s->hnext)
                    if (s->fd == fd) {
                        found = s;
                        break;
                    }
            /* a goodbye heard on this fd is this connection's */
            bool bye = fd < a->n_peers && a->peers[fd].byes > 0;
            if (bye) {
                a->peers[fd].byes--;
                found = NULL; /* a session on the fd is a later connection's */
            }
            char who[200];
            describe(a, found, fd, who, sizeof who);
            if (bye) {
                thi_log(TH_LOG_DEBUG, NULL, "admin: %s closed", who);
            } else {
                /* its goodbye may not be read yet: judged next tick */
                if (a->n_closes == CLOSES_MAX)
                    judge_closes(a);
                struct pending_close *pc = &a->closes[a->n_closes++];
                pc->fd = fd;
                snprintf(pc->who, sizeof pc->who, "%s", who);
            }
            if (found) /* probe now rather than at the next tick */
                a->probe_now = true;
            if (fd < a->n_peers)
                a->peers[fd].name[0] = '\0';
        }
    }
}

/* ---- Life cycle ---------------------------------------------------------- */

static void
set_int(void *sock, int opt, int v)
{
    (void)zmq_setsockopt(sock, opt, &v, sizeof v);
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
    a->started_ms = now_ms();
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
    /* The ZAP handler is bound before the socket: a CURVE server without
     * one would admit any key. */
    if (curve &&
        ((rc = thi_zap_start(&a->zap, a->zctx, opts->clients_dir,
                             opts->curve_key->pub, zap_event, a, why)) != 0 ||
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

static void
finish(struct thi_admin *a, int rc)
{
    log_window_roll(a, INT64_MAX); /* the last suppressed count */
    serve_monitor_events(a); /* no new frames are served now */
    judge_closes(a);
    refuse_roll(a, true);
    /* loads still running use the system: let them end (each is bounded
     * by the authority timeout) and answer them */
    while (atomic_load(&a->loads_running) > 0) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    serve_loads(a);
    for (size_t i = 0; i < a->n_requesters; i++) {
        requester_t *q = &a->requesters[i];
        if (rc == 0)
            reply_ok(a, q->rid, q->rid_len, q->id, NULL);
        else
            reply_err(a, q->rid, q->rid_len, q->id, rc,
                      "actors were still running %d ms after shutdown began; "
                      "the host exits anyway",
                      a->stop_timeout_ms);
    }
    /* push what actors said while exiting, then say goodbye */
    serve_ready(a, true);
    static const char closed[] =
        "{\"op\":\"closed\",\"message\":\"the actor system has shut down\"}";
    for (int b = 0; b < N_BUCKETS; b++)
        for (session_t *s = a->buckets[b]; s; s = s->hnext)
            (void)send_to(a, s->rid, s->rid_len, closed, sizeof closed - 1,
                          NULL, 0);
}

int
thi_admin_run(thi_admin_t *a, int stop_fd)
{
    int64_t next_probe = now_ms() + PROBE_EVERY_MS, next_monitor = 0;
    for (;;) {
        /* the monitor is read by the tick: it only feeds log lines and
         * early probes, and every polled ZeroMQ socket costs each turn */
        zmq_pollitem_t items[3] = {
            {a->sock, 0, ZMQ_POLLIN, 0},
            {NULL, a->efd, ZMQ_POLLIN, 0},
            {NULL, stop_fd, ZMQ_POLLIN, 0},
        };
        int n_items = stop_fd >= 0 ? 3 : 2;
        long wait = a->n_blocked ? 2 : 100;
        /* Spin only for replies still to come (nothing served since the
         * delivery), and only while spinning pays: after a spin that saw
         * nothing (tells that get no answer), skip the next 64 chances. */
        if (a->delivered && a->spin_skip > 0) {
            a->spin_skip--;
        } else if (a->delivered) {
            if (spin_for_ready(a, SPIN_NS)) {
                serve_ready(a, false);
                wait = 0; /* only look whether more came meanwhile */
            } else {
                a->spin_skip = 64;
            }
        }
        a->delivered = false;
        if (zmq_poll(items, n_items, wait) < 0 && zmq_errno() != EINTR) {
            thi_log(TH_LOG_ERROR, NULL, "admin: poll failed: %s",
                    zmq_strerror(zmq_errno()));
            begin_stop(a, "poll failed");
        }
        if (stop_fd >= 0 && (items[2].revents & ZMQ_POLLIN)) {
            struct signalfd_siginfo si;
            char why[64] = "stop requested";
            bool got = read(stop_fd, &si, sizeof si) == (ssize_t)sizeof si;
            if (got && si.ssi_signo == SIGHUP) {
                /* the operator's reload of the trusted keys */
                th_diag_t kd = {0};
                if (th_system_reload_keys(a->sys, NULL, &kd) != 0)
                    thi_log(TH_LOG_ERROR, NULL, "SIGHUP: %s", kd.msg);
            } else {
                if (got)
                    snprintf(why, sizeof why, "signal %s",
                             si.ssi_signo == SIGTERM  ? "SIGTERM"
                             : si.ssi_signo == SIGINT ? "SIGINT"
                                                      : "other");
                begin_stop(a, why);
            }
        }
        if (items[0].revents & ZMQ_POLLIN)
            serve_socket(a);
        if (items[1].revents & ZMQ_POLLIN) {
            serve_ready(a, true);
            serve_loads(a);
        }
        int64_t now = now_ms();
        if (now >= next_monitor) {
            next_monitor = now + MONITOR_EVERY_MS;
            serve_monitor(a);
            refuse_roll(a, false);
        }
        bool probe = now >= next_probe || a->probe_now;
        if (probe) {
            next_probe = now + PROBE_EVERY_MS;
            if (a->probe_now) /* force: the dropped one must be probed */
                for (int b = 0; b < N_BUCKETS; b++)
                    for (session_t *s = a->buckets[b]; s; s = s->hnext)
                        s->last_seen_ms = 0;
            a->probe_now = false;
        }
        if (probe || a->n_blocked)
            tick(a, probe);
        log_window_roll(a, now / 1000); /* report what was suppressed */
        if (!a->stopping && th_system_is_stopping(a->sys))
            begin_stop(a, "an actor asked the system to shut down");
        if (a->stopping) {
            int rc = th_system_stop(a->sys, 0);
            if (rc == 0 || now_ms() >= a->stop_deadline) {
                finish(a, rc);
                return rc;
            }
        }
    }
}

void
thi_admin_destroy(thi_admin_t *a)
{
    if (a == NULL)
        return;
    for (int b = 0; b < N_BUCKETS; b++)
        while (a->buckets[b])
            session_destroy(a, a->buckets[b], "host closing");
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
    for (load_job_t *j = a->loads_done; j;) {
        load_job_t *next = j->next;
        free(j);
        j = next;
    }
    pthread_mutex_destroy(&a->loads_lock);
    pthread_mutex_destroy(&a->ready_lock);
    pthread_mutex_destroy(&a->refuse_lock);
    free(a);
}

/* ---- Probe --------------------------------------------------------------- */

int
thi_admin_probe(const char *endpoint, const thi_curve_key_t *key,
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
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) !=
            0 ||
        zmq_connect(mon, "inproc://th-probe-monitor") != 0 ||
        zmq_connect(sock, endpoint) != 0) {
        rc = TH_EIO;
        goto out_close;
    }
    static const char ping[] = "{\"op\":\"ping\",\"id\":1}";
    unsigned char frame[TH_WIRE_PREFIX + sizeof ping];
    thi_wire_prefix(frame, sizeof ping - 1);
    memcpy(frame + TH_WIRE_PREFIX, ping, sizeof ping - 1);
    (void)zmq_send(sock, frame, TH_WIRE_PREFIX + sizeof ping - 1, ZMQ_DONTWAIT);
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
            int n = zmq_recv(mon, ev, sizeof ev, ZMQ_DONTWAIT);
            char ep[8];
            (void)zmq_recv(mon, ep, sizeof ep, ZMQ_DONTWAIT);
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
            if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0) {
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
        (void)zmq_send(sock, b, TH_WIRE_PREFIX + sizeof bye - 1, ZMQ_DONTWAIT);
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
