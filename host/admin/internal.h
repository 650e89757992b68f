/*
 * host/admin/internal.h — what the files of the admin endpoint share: the
 * endpoint's state, a session (one client context), a request being
 * served, and the functions each file offers the others. Private to
 * host/admin/; everything here runs on the admin thread unless its
 * comment says otherwise.
 */
#ifndef TH_HOST_ADMIN_INTERNAL_H
#define TH_HOST_ADMIN_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "host/admin/admin.h"
#include "host/host.h"
#include "proto/curve.h"
#include "proto/wire.h"

#define N_BUCKETS 1024
#define RECV_BUDGET 1024    /* frames read per loop turn */
#define PUSH_BUDGET 256     /* messages pushed per session per turn */
#define PROBE_EVERY_MS 2000 /* liveness probe of idle sessions */
#define FULL_RETRY_MS 50    /* how long a tell waits for a full mailbox */
#define LOG_PER_SEC 20      /* warnings about bad input, per second */
#define CLOSE_LINGER_MS 500
#define HEARTBEAT_IVL_MS 1000
#define HEARTBEAT_TTL_MS 5000
#define MONITOR_EVERY_MS 100  /* how often connection events are read */
#define SPIN_NS 50000         /* wait for a reply on the CPU (push.c) */
#define HANDSHAKE_MS 5000     /* a peer that does not finish its handshake */
#define REFUSE_QUIET_MS 10000 /* one line per kind of refusal this often */
#define CREATE_WAIT_MS 2000   /* how long create waits for an init */

/* Kinds of refused connections, each rate-limited on its own. */
enum { REFUSE_HANDSHAKE, REFUSE_KEY, N_REFUSE };

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
    bool in_monitor; /* monitor events are read (warn_bad may read them) */
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

/* One request frame being served (requests.c builds it; borrowed by the
 * operation it is dispatched to). */
typedef struct req {
    struct thi_admin *a;
    session_t *s; /* NULL: no context yet */
    const unsigned char *rid;
    size_t rid_len;
    int fd;
    json_t *hdr;
    const char *hdr_bytes; /* the header as received, hdr_len bytes */
    size_t hdr_len;
    json_int_t id;  /* 0: none given (no answer possible) */
    const char *op; /* for log lines; NULL before parsing */
    const unsigned char *payload;
    size_t payload_len;
} req_t;

static inline int64_t
thi_adm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- ratelimit.c: bounded log lines -------------------------------------- */
/* At most LOG_PER_SEC warnings about bad input a second; true when this
 * one may be logged. */
bool thi_adm_may_log(struct thi_admin *a);
/* Start the window of second `s`, reporting what the last one held back
 * (INT64_MAX: the last report, at shutdown). */
void thi_adm_log_roll(struct thi_admin *a, int64_t s);
/* A refused connection of `kind` (REFUSE_*): the first of a burst is
 * logged, the rest of REFUSE_QUIET_MS counted. Any thread. */
void thi_adm_refused(struct thi_admin *a, int kind, const char *line);
/* Report the counts refused() held back once their window is over (all:
 * every count now). */
void thi_adm_refuse_roll(struct thi_admin *a, bool all);
/* The ZAP handler's report (thi_zap_event_fn), from its thread. */
void thi_adm_zap_event(void *arg, int kind, const char *line);

/* ---- transport.c: frames in and out -------------------------------------- */
/* Send one frame to a routing id. Returns 0, TH_EDEAD when the peer is
 * gone (the ROUTER knows no such id), TH_EFULL when its pipe is full,
 * TH_ENOMEM. */
int thi_adm_send(struct thi_admin *a, const unsigned char *rid, size_t rid_len,
                 const char *hdr, size_t hlen, const void *payload,
                 size_t plen);
/* Send a result header (reference taken, NULL: TH_ENOMEM; "op" and "re"
 * are added) with a payload (borrowed). */
int thi_adm_send_result(struct thi_admin *a, const unsigned char *rid,
                        size_t rid_len, json_int_t id, json_t *hdr,
                        const void *payload, size_t plen);
/* A result with code 0 and `fields` (reference taken; may be NULL). */
int thi_adm_reply_ok(struct thi_admin *a, const unsigned char *rid,
                     size_t rid_len, json_int_t id, json_t *fields);
/* A result with error `code`, its name and a message. */
int thi_adm_reply_err(struct thi_admin *a, const unsigned char *rid,
                      size_t rid_len, json_int_t id, int code, const char *fmt,
                      ...) __attribute__((format(printf, 6, 7)));
/* One frame read from the socket, borrowed for the handler's call. */
typedef struct thi_adm_frame {
    const unsigned char *rid; /* routing id */
    size_t rid_len;
    const void *data; /* the first body part */
    size_t len;
    int fd;       /* the connection it came on (-1: unknown) */
    size_t parts; /* body parts: protocol frames have one; the rest were
                     read and dropped */
} thi_adm_frame_t;
typedef void thi_adm_frame_fn(struct thi_admin *a, const thi_adm_frame_t *f);
/* Read up to RECV_BUDGET frames, each handed to `serve`; returns how many
 * were read. */
int thi_adm_serve_socket(struct thi_admin *a, thi_adm_frame_fn *serve);

/* ---- monitor.c: connection events and peer names ------------------------- */
/* Make room for fd in the peer table; false when it cannot. */
bool thi_adm_peer_slot(struct thi_admin *a, int fd);
bool thi_adm_peer_known(struct thi_admin *a, int fd);
/* The peer's name on fd (borrowed), or "unknown peer". */
const char *thi_adm_peer_name(struct thi_admin *a, int fd);
/* Who sent a frame, for log lines: the session's address, or the peer. */
void thi_adm_describe(struct thi_admin *a, const session_t *s, int fd,
                      char *buf, size_t size);
/* The monitor's tick: judge last tick's closes, then read new events. */
void thi_adm_monitor_serve(struct thi_admin *a);
/* Read the events waiting (no frames are read meanwhile). */
void thi_adm_monitor_events(struct thi_admin *a);
/* Each pending close takes a goodbye counted on its fd, or was a drop. */
void thi_adm_monitor_judge(struct thi_admin *a);

/* ---- sessions.c: the table of client contexts ---------------------------- */
session_t *thi_adm_session_find(struct thi_admin *a, const unsigned char *rid,
                                size_t len);
/* Open a session for a routing id with a new inbox (notifying ready.c).
 * Returns 0 with *out (owned by the table), TH_ENOMEM, or the code of
 * th_inbox_create, with the reason in d (borrowed). */
int thi_adm_session_open(struct thi_admin *a, session_t **out,
                         const unsigned char *rid, size_t rid_len, int fd,
                         long pid, th_diag_t *d);
/* Close s: its inbox, its place on the ready list and in the table; `why`
 * goes to the log line. */
void thi_adm_session_close(struct thi_admin *a, session_t *s, const char *why);
/* A session last heard on fd (the first in table order), or NULL. */
session_t *thi_adm_session_on_fd(struct thi_admin *a, int fd);

/* ---- ready.c: sessions with mail, from worker threads to the admin one -- */
/* th_inbox_set_notify callback (a session): any delivering thread. */
void thi_adm_on_inbox(void *arg);
/* Put s on the ready list (once) and wake the admin thread. Any thread. */
void thi_adm_ready_push(struct thi_admin *a, session_t *s);
/* Take s off the ready list (its inbox is destroyed: no more notices). */
void thi_adm_ready_remove(struct thi_admin *a, session_t *s);
/* Take the whole ready list (efd_readable: reset the eventfd first); walk
 * it with thi_adm_ready_next. */
session_t *thi_adm_ready_take(struct thi_admin *a, bool efd_readable);
/* The first session of a taken, non-empty list: *list moves on and the
 * session is no longer queued, so new mail queues it again. */
session_t *thi_adm_ready_next(struct thi_admin *a, session_t **list);
/* Spin up to spin_ns for a session to become ready; true when one did. */
bool thi_adm_spin_for_ready(struct thi_admin *a, int64_t spin_ns);

/* ---- push.c: inbox messages to their contexts, with back-pressure -------- */
/* Push the sessions on the ready list (efd_readable: reset the eventfd). */
void thi_adm_serve_ready(struct thi_admin *a, bool efd_readable);
/* Retry blocked sessions; with probe, ping idle ones. */
void thi_adm_tick(struct thi_admin *a, bool probe);

/* ---- req.c: the request being served: fields, refusals, drops ---------- */
/* Count a dropped frame and log why (rate-limited). */
void thi_adm_warn_bad(req_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Answer a refused request when it can be answered, else log it. */
void thi_adm_refuse(req_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An optional non-empty string field (borrowed from r->hdr); *bad set
 * when present but not one. */
const char *thi_adm_opt_string(req_t *r, const char *key, bool *bad);

/* ---- requests.c: parsing and dispatch ------------------------------------ */
/* One frame from a peer (a thi_adm_frame_fn, handed to transport.c by the
 * loop): checked, then handed to its operation. */
void thi_adm_handle_frame(struct thi_admin *a, const thi_adm_frame_t *f);

/* ---- ops_*.c: one function per operation (dispatched by requests.c) ------ */
void thi_adm_op_hello(req_t *r); /* ops_context.c */
void thi_adm_op_ping(req_t *r);
void thi_adm_op_bye(req_t *r);
void thi_adm_op_tell(req_t *r); /* ops_actor.c */
void thi_adm_op_create(req_t *r);
void thi_adm_op_lookup(req_t *r);
void thi_adm_op_status(req_t *r); /* ops_system.c */
void thi_adm_op_update_capability(req_t *r);
void thi_adm_op_shutdown(req_t *r);
void thi_adm_op_reload_keys(req_t *r);
void thi_adm_op_load(req_t *r); /* ops_source.c */
void thi_adm_op_unload(req_t *r);
void thi_adm_op_sources(req_t *r);
/* Deliver a tell on the session's inbox (the parsed-once fast path of
 * requests.c too): to an address, or by name when `to` is NULL. */
void thi_adm_deliver_tell(req_t *r, const th_addr_t *to, const char *name,
                          const char *type);

/* ---- loads.c: loads on threads of their own ------------------------------ */
/* Start loading a copy of bundle (borrowed); answered later by
 * thi_adm_loads_serve. Returns 0, TH_ENOMEM, TH_EIO (no thread). */
int thi_adm_load_start(struct thi_admin *a, const unsigned char *rid,
                       size_t rid_len, json_int_t id,
                       const unsigned char *bundle, size_t len,
                       bool allow_rollback);
/* Answer the loads that have finished. */
void thi_adm_loads_serve(struct thi_admin *a);
/* Wait until no load runs (each is bounded by the authority timeout). */
void thi_adm_loads_wait(struct thi_admin *a);
/* Free the finished loads not answered (destroy). */
void thi_adm_loads_free(struct thi_admin *a);

/* ---- lifecycle.c: start and orderly stop --------------------------------- */
/* thi_admin_stop (admin.h) begins the orderly shutdown. */
/* The end of a shutdown with status rc: answer loads and shutdown
 * requests, push the last messages, tell every context it is closed. */
void thi_adm_finish(struct thi_admin *a, int rc);

#endif /* TH_HOST_ADMIN_INTERNAL_H */
