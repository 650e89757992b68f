/*
 * host/rt.h — internal structures of the runtime shared by its files: the
 * system, actor slots (the schedulable unit, holding the mailbox), message
 * envelopes, worker contexts. Never installed; plugins see only actor.h.
 */
#ifndef TH_HOST_RT_H
#define TH_HOST_RT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/host.h"
#include "loader/plugin.h"
#include <jansson.h>
#include "thespian/actor.h"

#define THI_CTX_MAGIC 0x43545831u    /* "CTX1" */
#define THI_ENV_INLINE 48            /* payload bytes kept in the envelope */
#define THI_CHUNK_SHIFT 12           /* slots per chunk: 4096 */
#define THI_MAX_CHUNKS 4096          /* => at most 16 M actors per system */

/* ---- Messages ------------------------------------------------------------ */

/* Interned message type: one per distinct name, immortal. The table holds
 * the runtime's types, the types loaded classes dispatch on, and up to a
 * quota of types actors send; a type from outside that none of those
 * names is never added: its message carries the name (type_owned). */
typedef struct thi_type {
    const char *name;
    uint32_t flags;                  /* THI_TYPE_* */
    uint32_t hash;
} thi_type_t;

#define THI_TYPE_RESERVED 1u         /* only the runtime may send it */

/* Refcounted out-of-line payload: shared by forwarded copies. */
typedef struct thi_payload {
    atomic_uint refs;
    uint32_t reserved0;
    size_t len;
    unsigned char data[];
} thi_payload_t;

/* A mailbox node. Envelopes start with one; each slot embeds a stub. */
typedef struct thi_node {
    _Atomic(struct thi_node *) next;
} thi_node_t;

/* Envelope kinds: user-visible messages, and runtime operations that act
 * on the target slot in its own context. */
enum thi_env_kind {
    THI_ENV_USER = 0,
    THI_ENV_START,         /* start a new incarnation (thi_start_args_t) */
    THI_ENV_ADD_CHILD,     /* root: track a top-level child */
    THI_ENV_REPARENT,      /* child: the system adopts you */
    THI_ENV_SHUTDOWN,      /* root: begin orderly shutdown */
    THI_ENV_UNMAP,         /* root: unmap a source nobody uses any more */
    THI_ENV_HANDOFF,       /* old holder: export, then forward (args) */
    THI_ENV_IMPORT,        /* new holder: import the state in the payload */
    THI_ENV_START_PROBE,   /* after START: tell a waiter whether it lives */
    THI_ENV_OP,            /* run a thi_op_t in the target's context */
};

struct th_ctx;
struct thi_slot;
struct thi_env;
/* An operation run in an actor's own context (THI_ENV_OP): the envelope's
 * inline bytes hold the function, then up to THI_OP_ARGS bytes of
 * arguments (read them with thi_op_args). Only for a live incarnation:
 * sent to a dead one, the op is dropped without being called. */
typedef void (*thi_op_fn)(struct th_ctx *ctx, struct thi_slot *slot,
                          struct thi_env *env);
#define THI_OP_ARGS 40

/* A caller waiting for an actor to have started (or failed to). Shared by
 * the caller and the probe message: the last of the two frees it. */
typedef struct thi_start_wait {
    atomic_int refs;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    bool started;
} thi_start_wait_t;

/* Arguments of THI_ENV_HANDOFF. */
typedef struct thi_handoff_args {
    th_addr_t to;                  /* the new holder */
    th_addr_t requester;           /* told Thespian_HandoffDone */
} thi_handoff_args_t;

typedef struct thi_env {
    thi_node_t node;       /* first: mailbox link */
    th_msg_t msg;          /* public view handed to receive */
    uint64_t target_nonce; /* incarnation this was sent to */
    thi_payload_t *ext;    /* NULL when the payload is inline */
    uint16_t kind;         /* enum thi_env_kind */
    uint8_t system;        /* sent by the runtime (reserved types allowed) */
    uint8_t reserved0;
    uint8_t type_owned;    /* msg.type lives in ext, not in the type table:
                              a name from outside no class knows (msg.c) */
    uint8_t reserved2;
    uint16_t reserved1;
    union {
        unsigned char bytes[THI_ENV_INLINE];
        uint64_t align_;
    } in;
} thi_env_t;

/* th_buf_t (actor.h) is a thi_payload_t not yet sent; the two pointer types
 * convert through void *. */

/* ---- Classes ------------------------------------------------------------- */

typedef struct thi_class {
    char qname[2 * TH_NAME_MAX + 2];   /* PLUGIN.CLASS */
    const th_class_t *c;               /* plugin's class, read per its size */
    size_t state_size;
    th_init_fn init;
    th_receive_fn receive;
    th_teardown_fn teardown;
    th_export_fn export_state;
    th_import_fn import_state;
    uint32_t n_dispatch;
    const th_dispatch_t *dispatch;
    const thi_type_t **dispatch_types; /* interned; NULL entry = "*" */
    /* 1.1 (zero for an older plugin) */
    uint32_t flags;                    /* TH_CLASS_* */
    uint32_t n_requires;
    const th_requirement_t *requires;
    th_capcheck_fn capability_check;
    uint32_t troupe_max, troupe_idle;
    uint32_t transient_ms;             /* resolved: never 0 */
    struct thi_source *source;         /* NULL: a plugin loaded by path */
    struct thi_class *next;            /* registry chain */
} thi_class_t;

/* A loaded source: one verified bundle, its own unpack directory and its
 * own link-map namespace. Its code stays mapped while any actor of its
 * classes lives (`live`, guarded by the system's classes_lock). */
typedef struct thi_source thi_source_t;

/* ---- Actor slots ------------------------------------------------------------
 * A slot is permanent once allocated (type-stable memory): addresses carry
 * the slot id and the nonce of one incarnation, so a stale address finds a
 * slot whose nonce differs and the message becomes a dead letter. */
enum thi_slot_kind { THI_SLOT_ACTOR = 0, THI_SLOT_ROOT, THI_SLOT_INBOX };

typedef struct thi_children thi_children_t;

/* Per-actor data of the rarer features, allocated on first use (most
 * actors never have one) and freed when the incarnation ends. Each
 * feature owns its member and the file named beside it. */
typedef struct thi_slot_ext {
    th_addr_t forward;                /* actor.c: after a handoff ... */
    bool forwarding;                  /* ... messages go to `forward` */
    bool has_timers;                  /* timer.c: th_timer_start used */
    struct thi_tnode *timers;         /* timer.c: this actor's live timers */
    bool troupe_member;               /* troupe.c: member of `leader` */
    bool wip;                         /* troupe.c: work in progress */
    bool troupe_owed;                 /* troupe.c: routed work not yet
                                         reported done to the leader */
    th_addr_t leader;                 /* troupe.c */
    int64_t suspend_until_ns;         /* supervise.c: backoff; 0 = none */
    struct thi_troupe *troupe;        /* troupe.c: leader state */
    struct thi_transient *transient;  /* troupe.c: transient actors */
    struct thi_watch *watch;          /* watch.c: watched fds */
    struct thi_caps_slot *caps;       /* caps.c: createActor requirements */
    struct thi_sup_slot *sup;         /* supervise.c: strategies, history */
} thi_slot_ext_t;

/* What a creator hands a new incarnation besides its class (START args):
 * owned by the START envelope, then moved into the slot's ext. */
typedef struct thi_start_extra {
    char *requirements;               /* caps.c: JSON object text */
    th_supervision_t *sup_children;   /* supervise.c: opts->supervision */
    th_supervision_t *sup_self;       /* supervise.c: the parent's */
    bool troupe_member;               /* troupe.c */
    th_addr_t leader;
} thi_start_extra_t;

typedef struct thi_slot {
    /* line 0: written by producers */
    _Atomic(uintptr_t) head;       /* last pushed node | 1 when unscheduled */
    atomic_uint_fast64_t pushed;   /* messages pushed (approximate depth) */
    _Atomic uint64_t nonce;        /* current incarnation; 0 = free */
    uint32_t id;
    uint16_t kind;                 /* enum thi_slot_kind */
    uint16_t reserved0;
    struct th_inbox *inbox;        /* kind == INBOX */
    char pad0_[64 - 40];
    /* line 1: the consumer (the context running the slot) */
    thi_node_t *tail;
    thi_node_t stub;
    atomic_uint_fast64_t processed;
    _Atomic(const thi_class_t *) cls;  /* NULL when no live incarnation */
    void *state;
    th_receive_fn become;
    struct thi_slot *sched_next;   /* global run queue link */
    thi_children_t *children;
    /* line 2 */
    th_addr_t parent;
    uint64_t live_nonce;           /* nonce of the running incarnation */
    union {
        char *name;                /* global name (live) */
        struct thi_slot *free_next;/* free list (free) */
    } u;
    uint32_t flags;                /* THI_SLOT_* */
    uint32_t n_restarts;
    int64_t started_ns;
    thi_slot_ext_t *ext;           /* rarer features; NULL for most */
} thi_slot_t;

#define THI_SLOT_EXITING 1u        /* exit begun, waiting for children */
#define THI_SLOT_DEADLETTERS 2u    /* registered dead-letter handler */
#define THI_SLOT_STOPPING 4u       /* root: shutdown in progress */
#define THI_SLOT_NOTEARDOWN 8u     /* init failed: teardown must not run */

_Static_assert(sizeof(thi_slot_t) <= 192, "slot must stay within 3 lines");

/* Arguments of THI_ENV_START, carried inline in the envelope. */
typedef struct thi_start_args {
    const thi_class_t *cls;
    th_addr_t parent;
    char *name;                    /* taken: global name or NULL */
    thi_start_extra_t *x;          /* taken: NULL or extras */
} thi_start_args_t;
_Static_assert(sizeof(thi_start_args_t) <= THI_ENV_INLINE, "start args");

_Static_assert(sizeof(thi_handoff_args_t) <= THI_ENV_INLINE, "handoff args");

/* ---- Workers and the system ------------------------------------------------ */

typedef struct thi_worker thi_worker_t;
typedef struct thi_sched thi_sched_t;
typedef struct thi_timers thi_timers_t;

struct th_ctx {
    struct th_ctx_pub pub;         /* first: what plugins see */
    struct th_system *sys;
    thi_worker_t *worker;          /* NULL in synchronous mode */
    thi_slot_t *slot;              /* actor whose callback runs */
    thi_env_t *cur;                /* message being handled, or NULL */
    uint32_t popped;               /* messages taken in this turn so far */
    atomic_uint_fast64_t messages; /* handed to actors through this ctx */
    bool failed_reason_set;
    bool watch_called;             /* th_watch_fds during this callback */
    uint64_t timer_id;             /* TimerMessage being handled, else 0 */
    char fail_reason[256];
    /* for the shutdown report, read by other threads: the slot this ctx
     * runs and what its callback is doing (an interned message type or a
     * callback's name; never freed), else NULL */
    _Atomic(thi_slot_t *) busy;
    _Atomic(const char *) busy_what;
    /* a carried (uninterned) type's copy for busy_what: the message frees
     * its own when the handler returns. The last byte stays NUL, so a
     * reader racing a rewrite sees a bounded, maybe mixed, string */
    char busy_type[64];
};

struct th_system {
    uint64_t id;                   /* random: names this system in addrs */
    th_system_opts_t opts;
    char name[64];

    /* slot table */
    _Atomic(thi_slot_t *) chunks[THI_MAX_CHUNKS];
    atomic_uint n_slots;           /* ids handed out so far */
    pthread_mutex_t slots_lock;    /* free list, growth */
    thi_slot_t *free_slots;
    atomic_uint_fast64_t live_actors;

    thi_slot_t *root;
    _Atomic int64_t stop_began_ns; /* when shutdown was requested; 0 before */

    /* classes, plugins and sources (all under classes_lock) */
    pthread_mutex_t classes_lock;
    thi_class_t *classes[256];
    struct thi_plugin_rec *plugins;
    thi_source_t *sources;
    struct thi_pending_load *pending;  /* loads waiting for the authority */
    th_addr_t authority;               /* registered Source Authority */
    char authority_class[2 * TH_NAME_MAX + 2]; /* the one class that may
                                          register as authority; "" none */
    /* trusted keys (source.c): swapped whole by a reload under the write
     * lock; every verification holds the read lock */
    pthread_rwlock_t keys_lock;
    struct thi_keyring *keyring;       /* NULL: no key directory */
    char key_dir[4096];                /* "" when none */
    th_addr_t director;                /* registered Director, or null */
    th_addr_t *src_watchers;
    size_t n_src_watchers, cap_src_watchers;
    struct json_t *versions;           /* group -> highest accepted version */
    bool versions_bad;                 /* record unreadable: refuse loads */
    struct thi_versions_writer *versions_writer; /* writes it (source.c) */
    char state_dir[4096];
    bool own_state_dir;                /* made by us, removed at destroy */

    /* global names */
    pthread_mutex_t names_lock;
    struct thi_name_ent *names[1024];

    /* dead letters */
    pthread_mutex_t dl_lock;
    th_addr_t *dl_handlers;
    size_t n_dl_handlers, cap_dl_handlers;
    atomic_uint_fast64_t dead_letters;

    thi_sched_t *sched;
    thi_timers_t *timers;
    struct thi_watcher *watcher;   /* watch.c */
    struct thi_caps *caps;         /* caps.c */

    /* shutdown */
    pthread_mutex_t state_lock;
    pthread_cond_t state_cond;
    atomic_bool stopping;
    bool root_done;                /* every top-level actor has exited */
    bool destroyed;
};

/* ---- Cross-file internals --------------------------------------------------- */

/* msg.c: interning, envelopes, payloads */
void thi_types_init(void);  /* once per process, before any send */
/* Permanent: built-ins and the types of classes' dispatch tables. Returns
 * TH_EINVAL (not a type name), TH_ELIMIT (table full: THI_TYPES_MAX). */
int thi_type_intern(const thi_type_t **out, const char *name);
/* The send paths: *out is the interned type, or NULL when the message must
 * carry its name (thi_env_new_named). THI_TYPE_ACTOR interns a new name
 * within the actors' quota (THI_TYPES_SENT_MAX); THI_TYPE_OUTSIDE (clients,
 * the embedding program) only looks up. Returns 0 or TH_EINVAL. Lock-free
 * unless an actor adds a name; thread-safe. */
#define THI_TYPE_ACTOR 0u
#define THI_TYPE_OUTSIDE 1u
int thi_type_for_send(const thi_type_t **out, const char *name,
                      unsigned origin);
/* Lookup only: 0 with *out, or TH_ENOENT. */
int thi_type_lookup(const thi_type_t **out, const char *name);
/* `name` as an immortal string: the interned copy, else a fixed
 * placeholder (for pointers kept past a message's life). */
const char *thi_type_immortal(const char *name);
/* Counts for status: interned types, of them added by actor sends. */
void thi_types_count(unsigned *interned, unsigned *sent);
#define THI_TYPES_MAX 65536u
#define THI_TYPES_SENT_MAX 16384u
const thi_type_t *thi_type_builtin(const char *name);  /* pre-interned */
thi_env_t *thi_env_alloc(void);
void thi_env_free(thi_env_t *env);
int thi_env_new(thi_env_t **out, const thi_type_t *type, const void *data,
                size_t len);
/* `type` NULL: keep src's type (also a carried one: the copy shares the
 * payload that holds the name). */
int thi_env_share(thi_env_t **out, const thi_type_t *type,
                  const thi_env_t *src);
/* A message of a type that is not interned: one allocation holds the name
 * and the payload; msg.type points into it (type_owned). TH_ENOMEM. */
int thi_env_new_named(thi_env_t **out, const char *name, const void *data,
                      size_t len);
int thi_payload_alloc(thi_payload_t **out, size_t len);
void thi_payload_release(thi_payload_t *p);
int thi_env_from_payload(thi_env_t **out, const thi_type_t *type,
                         thi_payload_t *p);
char *thi_wrap_message_json(const thi_env_t *env, const char *details,
                            const th_addr_t *target);
uint64_t thi_random64(void);
int64_t thi_now_ns(void);
/* A condition variable whose timed waits use CLOCK_MONOTONIC, as
 * thi_now_ns does. */
void thi_cond_init(pthread_cond_t *c);

/* actor.c: slots, delivery, lifecycle */
int thi_slots_init(struct th_system *sys);
void thi_slots_fini(struct th_system *sys);

/* thi_slot_get and thi_slot_addr run on every send and every message
 * handled: inline here, since in this -fPIC library GCC does not inline a
 * function with external linkage even within its own file. */
static inline thi_slot_t *
thi_slot_get(struct th_system *sys, uint64_t id)
{
    if (id >= atomic_load_explicit(&sys->n_slots, memory_order_acquire))
        return NULL;
    thi_slot_t *chunk = atomic_load_explicit(
        &sys->chunks[id >> THI_CHUNK_SHIFT], memory_order_acquire);
    return chunk ? &chunk[id & ((1u << THI_CHUNK_SHIFT) - 1)] : NULL;
}

static inline void
thi_slot_addr(struct th_system *sys, const thi_slot_t *slot, uint64_t nonce,
              th_addr_t *out)
{
    out->opaque[0] = sys->id;
    out->opaque[1] = slot->id;
    out->opaque[2] = nonce;
}

int thi_slot_alloc(struct th_system *sys, thi_slot_t **out, uint16_t kind);
void thi_slot_release(struct th_system *sys, thi_slot_t *slot);
int thi_deliver(struct th_system *sys, const th_addr_t *to, thi_env_t *env);
void thi_dead_letter(struct th_system *sys, thi_env_t *env,
                     const th_addr_t *target, const char *why);
/* A copy of `data` as a user message of `type` from `from` (NULL: none) to
 * `to`, or to the holder of `name` when `to` is NULL. Reserved types are
 * refused (TH_ERESERVED). `origin` is THI_TYPE_ACTOR or THI_TYPE_OUTSIDE
 * (see thi_type_for_send). Returns as th_send. */
int thi_send_user(struct th_system *sys, const th_addr_t *from,
                  const th_addr_t *to, const char *name, const char *type,
                  const void *data, size_t len, unsigned origin);
/* Queue a runtime operation of `kind` to `to`, its arguments (a then b,
 * at most THI_ENV_INLINE bytes in all) copied inline. Returns as
 * thi_deliver (an undeliverable one is released as a dead letter). */
int thi_send_internal(struct th_system *sys, const th_addr_t *to,
                      enum thi_env_kind kind, const void *a, size_t alen,
                      const void *b, size_t blen);
int thi_send_system(struct th_system *sys, const th_addr_t *from,
                    const th_addr_t *to, const char *type, const void *data,
                    size_t len);
/* createActor from an actor (ctx) or from outside (ctx NULL); d (may be
 * NULL) says why a refusal was made. */
int thi_create(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
               const char *class_name, const th_create_opts_t *opts,
               th_diag_t *d);
/* Resolve `name` and queue `env` to its holder as one step (names_lock).
 * Consumes env except on TH_EFULL. */
int thi_send_name(struct th_system *sys, const char *name, thi_env_t *env);
int thi_rebind_name(struct th_system *sys, const char *name,
                    const th_addr_t *to);
void thi_start_wait_answer(thi_start_wait_t *w, bool started);
void thi_start_wait_put(thi_start_wait_t *w);
int thi_handoff(struct th_system *sys, const th_addr_t *from,
                const th_addr_t *to, const th_addr_t *requester);
/* Run up to `batch` messages of a scheduled slot; returns true when the
 * slot still has work and must be requeued. */
bool thi_slot_run(th_ctx_t *ctx, thi_slot_t *slot, uint32_t batch);
void thi_ctx_init(th_ctx_t *ctx, struct th_system *sys, thi_worker_t *w);
void thi_root_init(struct th_system *sys);
void thi_request_shutdown(struct th_system *sys);
/* Sources mapped now (unloading ones whose code is still mapped too). */
size_t thi_sources_count(struct th_system *sys);
/* Log every actor still alive (address, class, what its callback is doing
 * if a worker runs it); returns how many. For the shutdown bound. */
size_t thi_report_running(struct th_system *sys);
void thi_actor_status(struct th_system *sys, thi_slot_t *slot,
                      uint32_t in_turn, json_t *into);
/* The slot's class name copied under classes_lock, for threads that do
 * not run the slot (status, the shutdown report); "" when it holds none. */
void thi_slot_qname(struct th_system *sys, thi_slot_t *slot, char *buf,
                    size_t size);
void thi_names_to_json(struct th_system *sys, json_t *into);
#ifdef THI_FAULT_INJECTION
/* Test builds only: when set, the next create fails to queue its START
 * (as on out of memory) and must undo everything (cleared when used). */
extern _Atomic int thi_fault_start_fail;
/* ... and each finalize sleeps this long just before it clears cls */
extern _Atomic int thi_fault_finalize_delay_ms;
/* ... and each write of the version record sleeps this long first */
extern _Atomic int thi_fault_versions_write_delay_ms;
#endif
void thi_names_fini(struct th_system *sys);

/* Helpers for the feature files (troupe, supervision, capabilities). All
 * take the ctx running `slot` unless said otherwise. */
thi_slot_ext_t *thi_slot_ext(thi_slot_t *slot);  /* get or make; NULL: ENOMEM */
void thi_self_addr(th_ctx_t *ctx, thi_slot_t *slot, th_addr_t *out);
void thi_actor_exit(th_ctx_t *ctx, thi_slot_t *slot, bool recursive);
/* Thespian's restart: teardown, zeroed state, init (become reset). On an
 * init failure the actor exits; returns that code. */
int thi_actor_restart(th_ctx_t *ctx, thi_slot_t *slot);
void thi_send_poison(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env,
                     const char *details);
/* Run `fn` in the context of the incarnation at `to` (any thread). */
int thi_send_op(struct th_system *sys, const th_addr_t *to, thi_op_fn fn,
                const void *args, size_t len);
static inline const void *
thi_op_args(const thi_env_t *env)
{
    return env->in.bytes + sizeof(thi_op_fn);
}
/* A child of `parent_slot` of the resolved class `cls` (its source held
 * by the caller, released here on failure); x taken. */
int thi_create_resolved(struct th_system *sys, th_ctx_t *ctx, th_addr_t *out,
                        const thi_class_t *cls, thi_slot_t *parent_slot,
                        thi_start_extra_t *x);
void thi_start_extra_free(thi_start_extra_t *x);
/* This actor's live children (sorted by slot id); free() the array. */
th_addr_t *thi_children_addrs(struct th_system *sys, thi_slot_t *slot,
                              uint32_t *n);

/* caps.c: the system's capabilities */
int thi_caps_init(struct th_system *sys, const char *caps_json, th_diag_t *d);
void thi_caps_fini(struct th_system *sys);
/* May `cls` live here with these createActor requirements (JSON object
 * text or NULL)? 0, TH_ENOCOMPAT or TH_EINVAL with a diag saying why. */
int thi_caps_admit(struct th_system *sys, const thi_class_t *cls,
                   const char *requirements, th_diag_t *d);
int thi_caps_update(struct th_system *sys, const char *name,
                    const char *value_json, th_diag_t *d);
int thi_caps_json(struct th_system *sys, char **out);   /* free() */
/* Does an actor of `cls` created with `x` need re-checks after a change
 * (then handle_start calls thi_caps_slot_take, x may be NULL)? */
static inline bool
thi_caps_watched(const thi_class_t *cls, const thi_start_extra_t *x)
{
    return cls->capability_check || cls->n_requires ||
           (x && x->requirements);
}
int thi_caps_slot_take(struct th_system *sys, thi_slot_t *slot,
                       thi_start_extra_t *x);
void thi_caps_slot_fini(struct th_system *sys, thi_slot_t *slot);
/* The createActor requirements of the incarnation running in `slot` (JSON
 * object text, owned by the slot), or NULL. Only from its own context. */
const char *thi_caps_slot_requirements(const thi_slot_t *slot);

/* watch.c: fd watches */
int thi_watch_init(struct th_system *sys);
void thi_watch_fini(struct th_system *sys);
int thi_watch_set(th_ctx_t *ctx, const int *fds, size_t n);
void thi_watch_after(th_ctx_t *ctx, thi_slot_t *slot);  /* after a callback */
void thi_watch_slot_fini(struct th_system *sys, thi_slot_t *slot);
/* Synchronous mode: wait up to timeout_ms (-1: no limit) for watched fds
 * and deliver; returns how many WatchMessages were sent, or -1 at once
 * when no fd is watched. */
int thi_watch_poll(struct th_system *sys, int timeout_ms);

/* troupe.c: troupes and transient actors */
/* A troupe's address is its leader: a slot of the class that runs none of
 * its code and routes user messages to members (its children). */
bool thi_troupe_is_leader(const thi_slot_t *slot); /* after start_extras */
int thi_troupe_start(th_ctx_t *ctx, thi_slot_t *slot);  /* after init */
/* The leader's user messages (ext->troupe set): always consumes env. */
bool thi_troupe_route(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);
/* A member's or transient actor's user message `env` is done. */
void thi_troupe_after(th_ctx_t *ctx, thi_slot_t *slot, const thi_env_t *env);
int thi_troupe_wip(th_ctx_t *ctx, bool on);
void thi_troupe_status(thi_slot_t *slot, json_t *into); /* leader */
void thi_troupe_slot_fini(th_ctx_t *ctx, thi_slot_t *slot);

/* supervise.c */
/* Validate and copy a strategy given by the actor running ctx (NULL or
 * no slot: from outside); TH_EINVAL with a diag naming the field. A
 * decider keeps the caller's source mapped until thi_sup_free. */
int thi_sup_copy(struct th_system *sys, th_ctx_t *ctx,
                 const th_supervision_t *in, th_supervision_t **out,
                 th_diag_t *d);
void thi_sup_free(th_supervision_t *sup);   /* NULL-safe */
int thi_sup_set(th_ctx_t *ctx, const th_supervision_t *sup);
/* An actor with ext->sup failed on env (first failure): when its parent
 * chose a strategy, apply it (PoisonMessage at once, then the directive)
 * and return true; false: Thespian's default applies. Consumes nothing. */
bool thi_sup_failed(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env,
                    const char *why);
/* End of a turn of a suspended slot (the last touch of thi_slot_run): a
 * timer clears suspend_until_ns and requeues the slot when it is due. */
void thi_sup_park(th_ctx_t *ctx, thi_slot_t *slot);
/* Creating a child from `parent`'s own context: x->sup_self gets a copy
 * of how `parent` supervises its children. */
int thi_sup_inherit(thi_slot_t *parent, thi_start_extra_t *x);
int thi_sup_slot_take(thi_slot_t *slot, thi_start_extra_t *x);
void thi_sup_slot_fini(thi_slot_t *slot);

/* sched.c */
int thi_sched_create(struct th_system *sys, thi_sched_t **out);
void thi_sched_stop(thi_sched_t *sched);
void thi_sched_destroy(thi_sched_t *sched);
uint32_t thi_sched_stop_within(thi_sched_t *sched, int timeout_ms);
const char *thi_sched_busy(thi_sched_t *sched, const thi_slot_t *slot);
void thi_sched_push(struct th_system *sys, thi_slot_t *slot);
long thi_sched_run_sync(struct th_system *sys, int timeout_ms,
                        bool (*until)(void *), void *arg);
uint32_t thi_sched_workers(thi_sched_t *sched);
uint64_t thi_sched_messages(thi_sched_t *sched);

/* timer.c */
int thi_timers_create(struct th_system *sys, thi_timers_t **out);
void thi_timers_destroy(thi_timers_t *t);
int thi_timer_add(thi_timers_t *t, const th_addr_t *target, uint32_t ms,
                  const void *data, size_t len);
/* Fire due timers; returns ms until the next one (-1: none). */
int thi_timers_fire_due(thi_timers_t *t);
size_t thi_timers_pending(thi_timers_t *t, const th_addr_t *target);
/* Longest delay or period (ms): due times stay far from overflow. */
#define THI_TIMER_MAX_MS (INT64_MAX / 4000000)
int thi_timer_start(struct th_system *sys, const th_addr_t *target,
                    int64_t delay_ms, int64_t period_ms, const void *data,
                    size_t len, uint64_t *id_out);
int thi_timer_cancel(struct th_system *sys, const th_addr_t *target,
                     uint64_t id);
/* A TimerMessage reaches its actor: false when its timer was cancelled
 * meanwhile (drop it); sets ctx->timer_id. Only timer.c may send a system
 * TimerMessage: its id sits in the 8 bytes before env->msg.data. */
bool thi_timer_accept(th_ctx_t *ctx, thi_slot_t *slot, thi_env_t *env);
void thi_timers_cancel_target(struct th_system *sys, const th_addr_t *target);
/* Call fn(sys, args) on the timer thread (synchronous mode: from
 * th_system_run) after ms, with a copy of the `len` (> 0) bytes at args;
 * internal, not cancellable, dropped uncalled when the system is destroyed.
 * fn must be short: it holds the timer thread. */
typedef void (*thi_timer_fn)(struct th_system *sys, const void *args);
int thi_timer_call(thi_timers_t *t, uint32_t ms, thi_timer_fn fn,
                   const void *args, size_t len);

/* api.c */
extern const struct th_host_api thi_host_api;

/* registry.c: classes and plugins. thi_class_resolve finds PLUGIN.CLASS
 * in the named source (hash prefix), else in `own` source first, then among
 * plugins loaded by path, then in the one loaded source that has it; a
 * sourced class comes back with its source's live count taken (release
 * with thi_source_put when the actor ends or its creation fails). */
int thi_class_resolve(struct th_system *sys, const char *qname,
                      const thi_source_t *own, const char *hash_prefix,
                      const thi_class_t **out, th_diag_t *d);
int thi_registry_add_plugin(struct th_system *sys, thi_source_t *src,
                            thi_plugin_t *p, th_diag_t *d);
void thi_registry_remove_source(struct th_system *sys, thi_source_t *src);
void thi_registry_fini(struct th_system *sys);

/* source.c */
int thi_sources_init(struct th_system *sys);
void thi_sources_fini(struct th_system *sys);
void thi_source_put(struct th_system *sys, thi_source_t *src);
void thi_source_hold_locked(thi_source_t *src);   /* classes_lock held */
bool thi_source_usable(const thi_source_t *src);
const char *thi_source_hash(const thi_source_t *src);
int thi_source_find(struct th_system *sys, const char *prefix,
                    thi_source_t **out, th_diag_t *d); /* classes_lock held */
void thi_source_validated(struct th_system *sys, thi_env_t *env);
void thi_source_activated(struct th_system *sys, thi_env_t *env);
void thi_source_unmap(struct th_system *sys, thi_source_t *src);
int thi_source_request(struct th_system *sys, const th_addr_t *requester,
                       const void *bundle, size_t len, bool allow_rollback,
                       char hash_out[65], struct thi_pending_load **out,
                       th_diag_t *d);
int thi_source_unload(struct th_system *sys, const char *prefix,
                      char hash_out[65], th_diag_t *d);
/* Register `a`, an actor of class `cls`, as the Source Authority: only
 * an actor of the system's authority class from a plugin the embedder
 * loaded by path, and only while no other is registered (TH_EPERM). */
int thi_source_register_authority(struct th_system *sys, const th_addr_t *a,
                                  const thi_class_t *cls);
int thi_source_watch(struct th_system *sys, const th_addr_t *a, bool on);

/* inbox (system.c) */
void thi_inbox_deliver(thi_slot_t *slot, thi_env_t *env);
void thi_inbox_free(struct th_inbox *in);

/* log.c */
void thi_log(int level, const th_addr_t *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void thi_vlog(int level, const th_addr_t *who, const char *fmt, va_list ap);
int thi_log_level_of(const char *name);  /* -1: not a level name */
const char *thi_log_level_name(int level);
void thi_log_fmt_time(char *buf, size_t size); /* UTC, milliseconds */
/* The internal log's file when THESPLOG_FILE is unset (NULL: standard
 * error, not rotated) instead of $TMPDIR/thespian.log. Only before the
 * first record (thespiand's --logfile); opens it at once. */
void thi_log_set_internal(const char *path);
/* Systems the SIGUSR1 status dump covers (th_system_create / destroy). */
void thi_log_register_system(struct th_system *sys);
void thi_log_unregister_system(struct th_system *sys);

/* logcfg.c: an actor's (or the embedder's, who NULL) th_log record */
void thi_actor_vlog(int level, const th_addr_t *who, const char *fmt,
                    va_list ap);

#endif /* TH_HOST_RT_H */
