/*
 * thespian/actor.h — the plugin ABI of thespian-c.
 *
 * A plugin is a shared object that exports exactly one symbol, the constant
 * descriptor `th_plugin_v1` (see TH_PLUGIN_DEFINE). It never links against
 * host symbols: every host service is reached through the function table
 * behind the th_ctx_t handed to each callback, wrapped by the static inline
 * helpers below. Plugins keep no globals of their own; per-actor memory is
 * declared (state_size) and owned by the host.
 *
 * One header on purpose, though long: it is the whole plugin ABI, the one
 * file a plugin author includes and reads, versioned as one piece.
 *
 * ABI change log (the table and descriptors only ever grow at the end):
 *   1.0  initial: descriptor, classes, dispatch tables, host API table
 *        (my_address ... addr_parse, restart_count, load_source,
 *        unload_source, register_source_authority,
 *        notify_source_availability, send_name, rebind_name, handoff);
 *        th_class_t with export_state / import_state.
 *   1.1  runtime completeness: class flags (troupe, transient), capability
 *        check and declared requirements, troupe and transient fields;
 *        th_create_opts_t.supervision; host API update_capability,
 *        capabilities, watch_fds, timer_start, timer_cancel, timer_id,
 *        work_in_progress, supervise. TimerMessage.
 *   1.2  host API global_name, requirements (an actor reads the global
 *        name and the createActor requirements it was created with);
 *        ActivatedSource (a message type only: the Director to the system).
 */
#ifndef TH_SDK_ACTOR_H
#define TH_SDK_ACTOR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thespian/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Permanent wire/ABI numbers. */
#define TH_ABI_MAJOR 1u
#define TH_ABI_MINOR 2u
#define TH_PLUGIN_MAGIC 0x54485031u /* "THP1": high bytes non-zero */
#define TH_PLUGIN_SYMBOL "th_plugin_v1"

/* Limits every component enforces. */
#define TH_NAME_MAX 64         /* plugin, class and message type names */
#define TH_ADDR_STRLEN 56      /* buffer size for th_addr_format, with NUL */

/* ---- Addresses --------------------------------------------------------
 * Opaque value: comparable and hashable bytewise, printable and parseable
 * through the host (th_addr_format / th_addr_parse), carries a random nonce
 * so it cannot be guessed, and names the system it lives on so it can travel
 * to other hosts. An all-zero address is "no address". */
typedef struct th_addr {
    uint64_t opaque[3];
} th_addr_t;

static inline bool
th_addr_eq(const th_addr_t *a, const th_addr_t *b)
{
    return a->opaque[0] == b->opaque[0] && a->opaque[1] == b->opaque[1] &&
           a->opaque[2] == b->opaque[2];
}

static inline bool
th_addr_is_null(const th_addr_t *a)
{
    return (a->opaque[0] | a->opaque[1] | a->opaque[2]) == 0;
}

static inline uint64_t
th_addr_hash(const th_addr_t *a)
{
    uint64_t h = a->opaque[0] * 0x9E3779B97F4A7C15ull;
    h ^= a->opaque[1] + 0x7F4A7C159E3779B9ull + (h << 6) + (h >> 2);
    h ^= a->opaque[2] + 0x94D049BB133111EBull + (h << 6) + (h >> 2);
    return h;
}

/* ---- Messages ----------------------------------------------------------
 * A message is a type name plus immutable payload bytes. The view handed to
 * receive callbacks is borrowed: valid only during the callback, `type`
 * included. Compare types with strcmp: the host interns the runtime's
 * types, those loaded classes dispatch on and those actors send, but a
 * type from outside the host that none of these names travels inside its
 * message (so a flood of made-up names cannot fill a shared table). */
typedef struct th_msg {
    const char *type;  /* NUL-terminated type name */
    const void *data;  /* payload bytes, never NULL (may be zero length) */
    size_t len;        /* payload length */
    th_addr_t sender;  /* who sent it; null for messages from outside */
} th_msg_t;

/* Runtime message types (Thespian's names). Actors may send only
 * ActorExitRequest, Thespian_StatusReq, ValidatedSource and
 * ActivatedSource (the system counts the last two only from the actors it
 * registered); outside programs the first three. The rest are reserved:
 * sending them fails with TH_ERESERVED. TH_MSG_RUNTIME_TYPES below is the
 * list with who may send each. Bodies are JSON, see docs/messages.md. */
#define TH_MSG_EXIT_REQUEST "ActorExitRequest"
#define TH_MSG_CHILD_EXITED "ChildActorExited"
#define TH_MSG_POISON "PoisonMessage"
#define TH_MSG_WAKEUP "WakeupMessage"
#define TH_MSG_WATCH "WatchMessage"
#define TH_MSG_DEAD_ENVELOPE "DeadEnvelope"
#define TH_MSG_CONVENTION_UPDATE "ActorSystemConventionUpdate"
#define TH_MSG_VALIDATE_SOURCE "ValidateSource"
#define TH_MSG_VALIDATED_SOURCE "ValidatedSource"
/* ValidateSource's payload: the source hash the host computed while it
 * verified the bundle (64 lowercase hex digits, then '\n': this many
 * bytes), then the bundle's bytes. An authority names the source by that
 * hash in its ValidatedSource answer; it need not hash the bundle again. */
#define TH_VALIDATE_SOURCE_HEADER 65u
#define TH_MSG_LOADED_SOURCE "LoadedSource"
#define TH_MSG_UNLOADED_SOURCE "UnloadedSource"
#define TH_MSG_STATUS_REQ "Thespian_StatusReq"
#define TH_MSG_SYSTEM_STATUS "Thespian_SystemStatus"
#define TH_MSG_ACTOR_STATUS "Thespian_ActorStatus"
#define TH_MSG_HANDOFF_DONE "Thespian_HandoffDone"
#define TH_MSG_TIMER "TimerMessage"           /* 1.1: th_timer_start */
/* The Director to the system: {"sourceHash": H} runs now. Counted only
 * from the Director the host registered (docs/director.md). */
#define TH_MSG_ACTIVATED_SOURCE "ActivatedSource"

/* Who may send a runtime message type besides the runtime itself. */
#define TH_MSG_BY_RUNTIME 0u    /* nobody else: sending it is TH_ERESERVED */
#define TH_MSG_BY_ACTORS 1u     /* actors (th_send) */
#define TH_MSG_BY_OUTSIDE 2u    /* outside programs (thespian/client.h) */

/* The runtime's message types, each as X(name, who may send it): the one
 * list of them, read by th_msg_is_runtime and by the host's and the
 * client library's send checks. A new runtime type is added here. */
#define TH_MSG_RUNTIME_TYPES(X)                                            \
    X(TH_MSG_EXIT_REQUEST, TH_MSG_BY_ACTORS | TH_MSG_BY_OUTSIDE)           \
    X(TH_MSG_CHILD_EXITED, TH_MSG_BY_RUNTIME)                              \
    X(TH_MSG_POISON, TH_MSG_BY_RUNTIME)                                    \
    X(TH_MSG_WAKEUP, TH_MSG_BY_RUNTIME)                                    \
    X(TH_MSG_WATCH, TH_MSG_BY_RUNTIME)                                     \
    X(TH_MSG_DEAD_ENVELOPE, TH_MSG_BY_RUNTIME)                             \
    X(TH_MSG_CONVENTION_UPDATE, TH_MSG_BY_RUNTIME)                         \
    X(TH_MSG_VALIDATE_SOURCE, TH_MSG_BY_RUNTIME)                           \
    X(TH_MSG_VALIDATED_SOURCE, TH_MSG_BY_ACTORS | TH_MSG_BY_OUTSIDE)       \
    X(TH_MSG_LOADED_SOURCE, TH_MSG_BY_RUNTIME)                             \
    X(TH_MSG_UNLOADED_SOURCE, TH_MSG_BY_RUNTIME)                           \
    X(TH_MSG_STATUS_REQ, TH_MSG_BY_ACTORS | TH_MSG_BY_OUTSIDE)             \
    X(TH_MSG_SYSTEM_STATUS, TH_MSG_BY_RUNTIME)                             \
    X(TH_MSG_ACTOR_STATUS, TH_MSG_BY_RUNTIME)                              \
    X(TH_MSG_HANDOFF_DONE, TH_MSG_BY_RUNTIME)                              \
    X(TH_MSG_TIMER, TH_MSG_BY_RUNTIME)                                     \
    X(TH_MSG_ACTIVATED_SOURCE, TH_MSG_BY_ACTORS)

/* True when `type` is one of the runtime's message types above (a
 * fallback handler should not answer those: their sender never asked for
 * a reply, and the runtime, not the peer, may be the sender). Pure,
 * thread-safe. */
#define TH_MSG_NAME_OF_(name, senders) name,
static inline bool
th_msg_is_runtime(const char *type)
{
    static const char *const names[] = {
        TH_MSG_RUNTIME_TYPES(TH_MSG_NAME_OF_)
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *a = type, *b = names[i];
        while (*a && *a == *b) {
            a++;
            b++;
        }
        if (*a == *b)
            return true;
    }
    return false;
}
#undef TH_MSG_NAME_OF_

/* Opaque handles. */
typedef struct th_ctx th_ctx_t; /* per-callback context; see below */
typedef struct th_buf th_buf_t; /* payload buffer being filled for a send */

/* ---- Callbacks ----------------------------------------------------------
 * All callbacks of one actor run one at a time (never concurrently), on any
 * worker thread. No host lock is held while they run; they may call any
 * th_* helper on the ctx they were given, and should not block for long
 * (they hold a worker thread). `state` is the actor's state_size bytes,
 * zeroed before init, owned by the host.
 *
 * init:     return 0, or a negative code to refuse to start (the actor is
 *           then dead and messages buffered for it become dead letters).
 * receive:  return 0 when handled, negative on failure. A failure retries
 *           the message at once on the same actor, with its state as the
 *           first attempt left it (Thespian's rule: no restart, nothing is
 *           forgotten). A second failure returns it to the sender as
 *           PoisonMessage (body: docs/messages.md; a message without a
 *           sender becomes a dead letter) and the actor goes on with its
 *           next message. A failed PoisonMessage is never returned. A
 *           parent's supervision strategy (th_supervise) may choose a
 *           restart with fresh state instead; th_restart_count tells init
 *           such a restart from a first start.
 * teardown: release what init acquired; called on exit and before restart.
 */
typedef int (*th_init_fn)(th_ctx_t *ctx, void *state);
typedef int (*th_receive_fn)(th_ctx_t *ctx, void *state, const th_msg_t *msg);
typedef void (*th_teardown_fn)(th_ctx_t *ctx, void *state);

/* State handoff across versions (Erlang's code_change is the model): when
 * the Director swaps a role to a new version, the old actor's export_state
 * writes its state into a buffer (th_buf_alloc; returned owned in *out, or
 * NULL for "nothing to hand over") and the new actor's import_state reads
 * it before any other message. The bytes are the plugin's own versioned
 * format: a new version must accept what older versions export. Return 0,
 * or negative (logged; the new actor keeps its fresh state). */
typedef int (*th_export_fn)(th_ctx_t *ctx, void *state, th_buf_t **out);
typedef int (*th_import_fn)(th_ctx_t *ctx, void *state, const void *data,
                            size_t len);

/* Type dispatch (Thespian's ActorTypeDispatcher). Entries are tried in
 * order; an entry matches when `type` equals the message type, or is "*".
 * A handler returns 0 (handled), negative (failure, as receive) or
 * TH_SUPER to defer to the next matching entry. When no entry handles the
 * message the class's receive is the unrecognised-message fallback (a NULL
 * receive ignores it). */
typedef struct th_dispatch {
    const char *type;
    th_receive_fn handler;
} th_dispatch_t;

/* Capability check (Thespian's actorSystemCapabilityCheck): called with
 * the system's capabilities and the createActor requirements, both JSON
 * object texts ("{}" when none), whenever the runtime must know whether
 * this class may live here: at createActor and after every capability
 * change. Return true to accept. Must be pure and fast: it may run on any
 * thread, outside any actor's context, concurrently with itself. */
typedef bool (*th_capcheck_fn)(const char *capabilities_json,
                               const char *requirements_json);

/* A declarative requirement (Thespian's requireCapability): the system
 * must have capability `name`; with value_json NULL it must be truthy,
 * else equal (as JSON) to that value. Truthiness of a JSON value: null,
 * false, 0, 0.0, "", [] and {} are false; everything else is true. */
typedef struct th_requirement {
    const char *name;
    const char *value_json;         /* NULL: truthy; else a JSON value */
} th_requirement_t;

/* Class flags (th_class_t.flags, 1.1). */
#define TH_CLASS_TROUPE 0x1u          /* a troupe: see troupe_max */
#define TH_CLASS_TRANSIENT 0x2u       /* exit transient_ms after the first
                                         message */
#define TH_CLASS_TRANSIENT_IDLE 0x4u  /* exit transient_ms after the last
                                         message */
#define TH_TROUPE_DEFAULT_MAX 10u     /* Thespian's troupe max_count */
#define TH_TROUPE_DEFAULT_IDLE 2u     /* Thespian's troupe idle_count */
#define TH_TRANSIENT_DEFAULT_MS 10000u

/* An actor class. `size` is sizeof(th_class_t) as the plugin was built, so
 * the struct can grow at the end in later minors.
 *
 * Troupes (TH_CLASS_TROUPE, Thespian's @troupe): one address for a group
 * of up to troupe_max (1 or more; TH_TROUPE_DEFAULT_MAX is Thespian's 10)
 * members, created on demand; each message goes to one member, a member
 * gets its next message only when it has finished the last one (and has
 * not set th_work_in_progress); beyond troupe_idle idle members, idle ones
 * exit. Replies go to the original sender.
 *
 * Transient actors (TH_CLASS_TRANSIENT / TH_CLASS_TRANSIENT_IDLE): exit
 * transient_ms (0: TH_TRANSIENT_DEFAULT_MS) after the first / the latest
 * message; an actor that never gets a message does not exit. */
typedef struct th_class {
    uint32_t size;                  /* sizeof(th_class_t) */
    uint32_t flags;                 /* TH_CLASS_* (1.1; 0 before) */
    const char *name;               /* CLASS; qualified as PLUGIN.CLASS */
    size_t state_size;              /* bytes of per-actor state (may be 0) */
    th_init_fn init;                /* optional */
    th_receive_fn receive;          /* fallback/only handler; optional
                                       when dispatch is given */
    th_teardown_fn teardown;        /* optional */
    const th_dispatch_t *dispatch;  /* optional table ... */
    uint32_t n_dispatch;            /* ... and its length */
    uint32_t reserved0;
    th_export_fn export_state;      /* optional: state handoff */
    th_import_fn import_state;      /* optional */
    /* -- 1.1 -- */
    th_capcheck_fn capability_check;   /* optional */
    const th_requirement_t *requires;  /* optional table ... */
    uint32_t n_requires;               /* ... and its length */
    uint32_t troupe_max;               /* TH_CLASS_TROUPE: 1.. members */
    uint32_t troupe_idle;              /* members kept when idle */
    uint32_t transient_ms;             /* TH_CLASS_TRANSIENT*: 0 = 10 s */
} th_class_t;

/* The one exported descriptor. The guard fields come first: the host checks
 * magic, then abi_major == TH_ABI_MAJOR and abi_minor <= its own, then reads
 * only `size` bytes. */
typedef struct th_plugin {
    uint32_t magic;                 /* TH_PLUGIN_MAGIC */
    uint16_t abi_major;             /* TH_ABI_MAJOR at build time */
    uint16_t abi_minor;             /* TH_ABI_MINOR at build time */
    uint32_t size;                  /* sizeof(th_plugin_t) at build time */
    uint32_t n_classes;
    const char *name;               /* plugin name: [A-Za-z0-9_] */
    const th_class_t *const *classes;
} th_plugin_t;

/* Options for creating an actor; zero-initialise and set `size`. */
typedef struct th_create_opts {
    uint32_t size;                  /* sizeof(th_create_opts_t) */
    uint32_t reserved0;
    const char *global_name;        /* NULL, or a system-wide unique name:
                                       an existing live actor of that name
                                       is returned instead of a new one */
    const char *source_hash;        /* NULL: resolve in the caller's source */
    const char *requirements_json;  /* NULL, or JSON object of required
                                       capabilities: each {name: value}
                                       needs capability `name` equal to
                                       value (true: truthy), and the
                                       class's check is asked with it */
    /* -- 1.1 -- */
    const struct th_supervision *supervision; /* how the new actor
                                       supervises ITS children; NULL:
                                       Thespian's default (copied) */
} th_create_opts_t;

/* Supervision (Proto.Actor's model; 1.1). A parent chooses how failures
 * of its children are handled. Without one, Thespian's rule applies:
 * retry the message once on the same state, then PoisonMessage to its
 * sender; the actor keeps serving.
 * With one, a child's failed message goes back to its sender as
 * PoisonMessage at once (details name the directive) and the directive
 * is applied:
 *   RESTART   the child restarts (fresh state, init again; address,
 *             mailbox and children stay); ALL_FOR_ONE restarts every
 *             sibling too;
 *   STOP      the child exits (ALL_FOR_ONE: every sibling);
 *   RESUME    the child keeps its state and goes on with its next message;
 *   ESCALATE  the parent is treated as failed, by its own parent's rule
 *             (a top-level parent is restarted); the child is left as it
 *             is (a parent that stops takes it along).
 * More than max_restarts restarts of one child within window_ms stop it.
 * Restart k (1-based, within the window) waits backoff_ms * 2^(k-1),
 * capped at max_backoff_ms: the child restarts at once, then takes no
 * message (ActorExitRequest included) until the backoff ends; messages
 * queue meanwhile. A child keeps the strategy its parent had when it was
 * created. Contract: docs/supervision.md. */
enum th_sup_strategy { TH_SUP_ONE_FOR_ONE = 0, TH_SUP_ALL_FOR_ONE = 1 };
enum th_sup_directive {
    TH_SUP_RESTART = 0,
    TH_SUP_STOP = 1,
    TH_SUP_RESUME = 2,
    TH_SUP_ESCALATE = 3,
};
typedef struct th_supervision {
    uint32_t size;                  /* sizeof(th_supervision_t) */
    uint32_t strategy;              /* enum th_sup_strategy */
    uint32_t directive;             /* enum th_sup_directive, when no
                                       decider is given */
    uint32_t max_restarts;          /* within window_ms; 0 = 10 */
    uint32_t window_ms;             /* 0 = 10,000 */
    uint32_t backoff_ms;            /* 0 = restart at once */
    uint32_t max_backoff_ms;        /* 0 = 30,000 */
    uint32_t reserved0;
    /* optional: the directive for this failure, from the failed message's
     * type and the failure text; pure, called on the child's thread */
    int (*decider)(const char *msg_type, const char *reason);
} th_supervision_t;

/* Log levels (syslog-like order). */
enum th_log_level {
    TH_LOG_DEBUG = 10,
    TH_LOG_INFO = 20,
    TH_LOG_WARNING = 30,
    TH_LOG_ERROR = 40,
    TH_LOG_CRITICAL = 50,
};

/* ---- Host services --------------------------------------------------------
 * The function table. Its first member is its own minor so a plugin can
 * check before calling an entry added later. Grows only at the end.
 * Every entry is thread-safe for the ctx it is called with; ctx is valid
 * only during the callback it was handed to. Pointers are borrowed unless
 * said otherwise. */
struct th_host_api {
    uint32_t minor;
    uint32_t size;
    /* -- 1.0 -- */
    void (*my_address)(th_ctx_t *ctx, th_addr_t *out);
    void (*system_address)(th_ctx_t *ctx, th_addr_t *out);
    int (*send)(th_ctx_t *ctx, const th_addr_t *to, const char *type,
                const void *data, size_t len);
    int (*buf_alloc)(th_ctx_t *ctx, th_buf_t **out, size_t len, void **data);
    void (*buf_free)(th_ctx_t *ctx, th_buf_t **buf);
    int (*send_buf)(th_ctx_t *ctx, const th_addr_t *to, const char *type,
                    th_buf_t **buf);
    int (*forward)(th_ctx_t *ctx, const th_addr_t *to, const th_msg_t *msg);
    int (*create)(th_ctx_t *ctx, th_addr_t *out, const char *class_name,
                  const th_create_opts_t *opts);
    int (*wakeup_after)(th_ctx_t *ctx, uint32_t ms, const void *data,
                        size_t len);
    int (*become)(th_ctx_t *ctx, th_receive_fn fn);
    int (*handle_dead_letters)(th_ctx_t *ctx, bool on);
    int (*system_shutdown)(th_ctx_t *ctx);
    int (*fail)(th_ctx_t *ctx, const char *reason);
    void (*log)(th_ctx_t *ctx, int level, const char *fmt, va_list ap);
    int (*addr_format)(const th_addr_t *addr, char *buf, size_t size);
    int (*addr_parse)(th_addr_t *out, const char *text);
    uint32_t (*restart_count)(th_ctx_t *ctx);
    int (*load_source)(th_ctx_t *ctx, const void *bundle, size_t len,
                       char hash_out[65]);
    int (*unload_source)(th_ctx_t *ctx, const char *hash);
    int (*register_source_authority)(th_ctx_t *ctx);
    int (*notify_source_availability)(th_ctx_t *ctx, bool on);
    int (*send_name)(th_ctx_t *ctx, const char *name, const char *type,
                     const void *data, size_t len);
    int (*rebind_name)(th_ctx_t *ctx, const char *name, const th_addr_t *to);
    int (*handoff)(th_ctx_t *ctx, const th_addr_t *from, const th_addr_t *to);
    /* -- 1.1 -- */
    int (*update_capability)(th_ctx_t *ctx, const char *name,
                             const char *value_json);
    int (*capabilities)(th_ctx_t *ctx, char *buf, size_t size,
                        size_t *needed);
    int (*watch_fds)(th_ctx_t *ctx, const int *fds, size_t n);
    int (*timer_start)(th_ctx_t *ctx, uint64_t *id_out, int64_t delay_ms,
                       int64_t period_ms, const void *data, size_t len);
    int (*timer_cancel)(th_ctx_t *ctx, uint64_t id);
    uint64_t (*timer_id)(th_ctx_t *ctx);
    int (*work_in_progress)(th_ctx_t *ctx, bool on);
    int (*supervise)(th_ctx_t *ctx, const th_supervision_t *sup);
    /* -- 1.2 -- */
    int (*global_name)(th_ctx_t *ctx, char *buf, size_t size, size_t *needed);
    int (*requirements)(th_ctx_t *ctx, char *buf, size_t size,
                        size_t *needed);
};

/* The public prefix of every th_ctx_t; the rest is the host's. */
struct th_ctx_pub {
    uint32_t magic;
    uint32_t reserved0;
    const struct th_host_api *api;
};

#define TH_API_(ctx) (((const struct th_ctx_pub *)(const void *)(ctx))->api)

/* ---- Helpers plugin authors call ----------------------------------------- */

/* Address of the actor running this callback. */
static inline th_addr_t
th_my_address(th_ctx_t *ctx)
{
    th_addr_t a;
    TH_API_(ctx)->my_address(ctx, &a);
    return a;
}

/* Address of the actor system itself (target of Thespian_StatusReq). */
static inline th_addr_t
th_system_address(th_ctx_t *ctx)
{
    th_addr_t a;
    TH_API_(ctx)->system_address(ctx, &a);
    return a;
}

/* Send a copy of `len` bytes at `data` as a message of `type` to `to`.
 * Returns 0; TH_EDEAD when the target is gone (the message became a dead
 * letter), TH_EFULL when its mailbox is full (nothing was sent),
 * TH_ETOOBIG, TH_ERESERVED, TH_EINVAL for a bad type name. */
static inline int
th_send(th_ctx_t *ctx, const th_addr_t *to, const char *type,
        const void *data, size_t len)
{
    return TH_API_(ctx)->send(ctx, to, type, data, len);
}

/* Send a NUL-terminated string (without the NUL) as the payload. */
static inline int
th_send_str(th_ctx_t *ctx, const th_addr_t *to, const char *type,
            const char *text)
{
    size_t n = 0;
    while (text && text[n])
        n++;
    return TH_API_(ctx)->send(ctx, to, type, text ? text : "", n);
}

/* Reply to the sender of `msg`. */
static inline int
th_reply(th_ctx_t *ctx, const th_msg_t *msg, const char *type,
         const void *data, size_t len)
{
    return TH_API_(ctx)->send(ctx, &msg->sender, type, data, len);
}

/* Zero-copy sending: allocate a payload buffer, fill it, send it. On
 * success *out is returned owned: hand it to th_send_buf or th_buf_free. */
static inline int
th_buf_alloc(th_ctx_t *ctx, th_buf_t **out, size_t len, void **data)
{
    return TH_API_(ctx)->buf_alloc(ctx, out, len, data);
}

/* Free a buffer that was not sent; sets *buf to NULL. NULL-safe. */
static inline void
th_buf_free(th_ctx_t *ctx, th_buf_t **buf)
{
    TH_API_(ctx)->buf_free(ctx, buf);
}

/* Send a filled buffer. Taken on success (*buf set to NULL); on failure
 * the caller still owns it and may retry or free it. */
static inline int
th_send_buf(th_ctx_t *ctx, const th_addr_t *to, const char *type,
            th_buf_t **buf)
{
    return TH_API_(ctx)->send_buf(ctx, to, type, buf);
}

/* Send the message being handled to `to` without copying its payload. The
 * sender seen by `to` is this actor. Runtime (reserved) types are refused
 * with TH_ERESERVED, as by th_send. */
static inline int
th_forward(th_ctx_t *ctx, const th_addr_t *to, const th_msg_t *msg)
{
    return TH_API_(ctx)->forward(ctx, to, msg);
}

/* Create an actor of class "PLUGIN.CLASS" as a child of this actor (with a
 * global name: as a child of the system). The address is returned at once;
 * messages sent to it are buffered until it has started. opts may be NULL.
 * Returns TH_ENOENT for an unknown class, TH_EINVAL for a bad name. */
static inline int
th_create(th_ctx_t *ctx, th_addr_t *out, const char *class_name,
          const th_create_opts_t *opts)
{
    return TH_API_(ctx)->create(ctx, out, class_name, opts);
}

/* Deliver a WakeupMessage carrying a copy of `data` to this actor after
 * `ms` milliseconds. Many may be pending; they arrive in due order. */
static inline int
th_wakeup_after(th_ctx_t *ctx, uint32_t ms, const void *data, size_t len)
{
    return TH_API_(ctx)->wakeup_after(ctx, ms, data, len);
}

/* Handle the following messages with `fn` instead of the class's dispatch
 * and receive; NULL goes back to the class's own handling. */
static inline int
th_become(th_ctx_t *ctx, th_receive_fn fn)
{
    return TH_API_(ctx)->become(ctx, fn);
}

/* Register (on=true) or unregister this actor as a dead-letter handler: it
 * then receives a DeadEnvelope for each undeliverable message. */
static inline int
th_handle_dead_letters(th_ctx_t *ctx, bool on)
{
    return TH_API_(ctx)->handle_dead_letters(ctx, on);
}

/* Ask the whole actor system to shut down in order. */
static inline int
th_system_shutdown(th_ctx_t *ctx)
{
    return TH_API_(ctx)->system_shutdown(ctx);
}

/* Record why the current message failed; returns TH_EFAIL so a handler can
 * write `return th_fail(ctx, "why");`. The text goes into the restart log
 * line and the PoisonMessage details. */
static inline int
th_fail(th_ctx_t *ctx, const char *reason)
{
    return TH_API_(ctx)->fail(ctx, reason);
}

/* Ask `to` to exit; recursive=false leaves its children running (they are
 * adopted by the system). */
static inline int
th_exit_request(th_ctx_t *ctx, const th_addr_t *to, bool recursive)
{
    return recursive ? th_send_str(ctx, to, TH_MSG_EXIT_REQUEST, "{}")
                     : th_send_str(ctx, to, TH_MSG_EXIT_REQUEST,
                                   "{\"notRecursive\":true}");
}

/* Log a printf-style line at `level`, tagged with this actor's address. */
static inline void
th_log(th_ctx_t *ctx, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline void
th_log(th_ctx_t *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    TH_API_(ctx)->log(ctx, level, fmt, ap);
    va_end(ap);
}

/* Print `addr` into buf (at least TH_ADDR_STRLEN bytes). Returns 0 or
 * TH_EINVAL when the buffer is too small. */
static inline int
th_addr_format(th_ctx_t *ctx, const th_addr_t *addr, char *buf, size_t size)
{
    return TH_API_(ctx)->addr_format(addr, buf, size);
}

/* Parse the printed form back. Returns 0 or TH_EADDR. */
static inline int
th_addr_parse(th_ctx_t *ctx, th_addr_t *out, const char *text)
{
    return TH_API_(ctx)->addr_parse(out, text);
}

/* How many times this actor was restarted (a supervision directive, see
 * th_supervise) since it was created (0 on first start; the default rule
 * never restarts). Lets init tell a restart from a start. */
static inline uint32_t
th_restart_count(th_ctx_t *ctx)
{
    return TH_API_(ctx)->restart_count(ctx);
}

/* ---- Sources (signed bundles) --------------------------------------------
 * Thespian's loadActorSource: hand the bytes of a .tls bundle (copied) to
 * the system, which verifies them against its trusted keys and then asks
 * the registered Source Authority, if any. Returns with the source hash
 * (SHA-256 hex) in hash_out; the outcome reaches watchers as LoadedSource.
 * TH_EPERM "no trusted key" / TH_EBADSIG when the verification fails. */
static inline int
th_load_source(th_ctx_t *ctx, const void *bundle, size_t len,
               char hash_out[65])
{
    return TH_API_(ctx)->load_source(ctx, bundle, len, hash_out);
}

/* unloadActorSource: no new actors from that source; its code is unmapped
 * once its last actor has exited. `hash` may be a unique prefix. */
static inline int
th_unload_source(th_ctx_t *ctx, const char *hash)
{
    return TH_API_(ctx)->unload_source(ctx, hash);
}

/* registerSourceAuthority: this actor receives ValidateSource (payload: the
 * bundle bytes, already verified by the host against its trusted keys) and
 * answers the system with ValidatedSource {"sourceHash": H, "valid": B,
 * "reason": S}: an additional gate that can refuse, never accept, a
 * bundle. Only the system's configured authority class, from a plugin the
 * host loaded by path, may register, and only the first time: anyone else
 * gets TH_EPERM and nothing changes. */
static inline int
th_register_source_authority(th_ctx_t *ctx)
{
    return TH_API_(ctx)->register_source_authority(ctx);
}

/* notifyOnSourceAvailability: receive LoadedSource / UnloadedSource
 * {"sourceHash", "group", "version", "info"}; on registration, a
 * LoadedSource for every source already loaded. */
static inline int
th_notify_source_availability(th_ctx_t *ctx, bool on)
{
    return TH_API_(ctx)->notify_source_availability(ctx, on);
}

/* ---- Names and hot swap -----------------------------------------------------
 * Send to the actor that holds the global name `name` at this instant:
 * the name is resolved and the message queued as one step, so a rebind
 * (below) never leaves a message with neither the old nor the new holder.
 * TH_EDEAD (a dead letter) when no live actor has the name. */
static inline int
th_send_name(th_ctx_t *ctx, const char *name, const char *type,
             const void *data, size_t len)
{
    return TH_API_(ctx)->send_name(ctx, name, type, data, len);
}

/* Make `name` refer to the live actor `to` from now on (atomically with
 * th_send_name). The Director moves a role's name to a new version. */
static inline int
th_rebind_name(th_ctx_t *ctx, const char *name, const th_addr_t *to)
{
    return TH_API_(ctx)->rebind_name(ctx, name, to);
}

/* Hand `from`'s role to `to`: after `from` has handled what was queued
 * before, its export_state (if any) goes to `to` as the first thing `to`
 * handles, `from` forwards every later message to `to`, and the caller
 * gets Thespian_HandoffDone {"from", "to", "exported": B}. */
static inline int
th_handoff(th_ctx_t *ctx, const th_addr_t *from, const th_addr_t *to)
{
    return TH_API_(ctx)->handoff(ctx, from, to);
}

/* ---- 1.1: capabilities, watches, timers, troupes, supervision ---------------
 * Each helper below checks the host's table minor first and returns
 * TH_EABI on a 1.0 host. */
#define TH_API_HAS_(ctx, field)                                              \
    (TH_API_(ctx)->size >= offsetof(struct th_host_api, field) +             \
                               sizeof(void *))

/* updateCapability: set capability `name` to the JSON value value_json, or
 * remove it (value_json NULL). When the value really changes, every live
 * actor whose class checks or requires capabilities is asked again, and
 * each that now rejects gets ActorExitRequest (the caller too). Returns 0,
 * TH_EINVAL (bad name, or a value that is not JSON), TH_EPERM (one of the
 * read-only common capabilities). */
static inline int
th_update_capability(th_ctx_t *ctx, const char *name, const char *value_json)
{
    if (!TH_API_HAS_(ctx, update_capability))
        return TH_EABI;
    return TH_API_(ctx)->update_capability(ctx, name, value_json);
}

/* Copy the system's capabilities (a JSON object text, NUL-terminated) into
 * buf. *needed (may be NULL) gets the size required, NUL included; returns
 * TH_ELIMIT when buf is smaller. */
static inline int
th_capabilities(th_ctx_t *ctx, char *buf, size_t size, size_t *needed)
{
    if (!TH_API_HAS_(ctx, capabilities))
        return TH_EABI;
    return TH_API_(ctx)->capabilities(ctx, buf, size, needed);
}

/* Thespian's ThespianWatch: watch `fds` for reading until this actor's
 * next callback; when some are readable the actor gets a WatchMessage
 * whose payload is {"ready": [fd, ...]}. Called again (or with n = 0)
 * replaces the set; a callback that does not call it ends the watch. An fd
 * closed while watched is dropped; an fd is watched by one actor at a
 * time. Returns 0, or the first of TH_EINVAL (a negative fd), TH_EIO (an
 * fd that is not open, or one epoll cannot watch, such as a regular
 * file), TH_EEXIST (another actor watches it), each logged naming the fd;
 * the valid ones are watched anyway. docs/timers.md. */
static inline int
th_watch_fds(th_ctx_t *ctx, const int *fds, size_t n)
{
    if (!TH_API_HAS_(ctx, watch_fds))
        return TH_EABI;
    return TH_API_(ctx)->watch_fds(ctx, fds, n);
}

/* Start a timer: a TimerMessage carrying a copy of `data` arrives after
 * delay_ms, then every period_ms (0: once). *id_out (may be NULL) gets
 * its id, never 0; th_timer_id tells it while the TimerMessage is handled.
 * At most one TimerMessage of a timer is queued at a time; periodic ticks
 * keep their phase. Timers end with the actor. TH_EINVAL for a negative
 * (or absurdly large) delay or period, TH_ETOOBIG for data over the
 * payload limit. docs/timers.md. */
static inline int
th_timer_start(th_ctx_t *ctx, uint64_t *id_out, int64_t delay_ms,
               int64_t period_ms, const void *data, size_t len)
{
    if (!TH_API_HAS_(ctx, timer_start))
        return TH_EABI;
    return TH_API_(ctx)->timer_start(ctx, id_out, delay_ms, period_ms, data,
                                     len);
}

/* Cancel one of this actor's timers: no TimerMessage of it is delivered
 * after this returns. TH_ENOENT when it is not pending (fired or
 * cancelled). */
static inline int
th_timer_cancel(th_ctx_t *ctx, uint64_t id)
{
    if (!TH_API_HAS_(ctx, timer_cancel))
        return TH_EABI;
    return TH_API_(ctx)->timer_cancel(ctx, id);
}

/* The id of the timer whose TimerMessage is being handled, else 0. */
static inline uint64_t
th_timer_id(th_ctx_t *ctx)
{
    if (!TH_API_HAS_(ctx, timer_id))
        return 0;
    return TH_API_(ctx)->timer_id(ctx);
}

/* A troupe member still working on its message after returning (e.g.
 * waiting for a reply): on=true keeps new work away until on=false.
 * TH_EINVAL outside a troupe member. */
static inline int
th_work_in_progress(th_ctx_t *ctx, bool on)
{
    if (!TH_API_HAS_(ctx, work_in_progress))
        return TH_EABI;
    return TH_API_(ctx)->work_in_progress(ctx, on);
}

/* Choose how this actor supervises the children it creates from now on
 * (copied; children created earlier keep the strategy they got; NULL: back
 * to Thespian's default). TH_EINVAL, with a log line naming the field, for
 * a short size or an unknown strategy or directive. Only from this actor's
 * own callbacks. */
static inline int
th_supervise(th_ctx_t *ctx, const th_supervision_t *sup)
{
    if (!TH_API_HAS_(ctx, supervise))
        return TH_EABI;
    return TH_API_(ctx)->supervise(ctx, sup);
}

/* ---- 1.2: what an actor was created with -------------------------------------
 * Each returns TH_EABI on an older host. */

/* The global name this actor was created with (NUL-terminated) into buf.
 * *needed (may be NULL) gets the size required, NUL included. Returns 0,
 * TH_ENOENT (no global name; *needed = 0), TH_ELIMIT (buf too small). */
static inline int
th_global_name(th_ctx_t *ctx, char *buf, size_t size, size_t *needed)
{
    if (!TH_API_HAS_(ctx, global_name))
        return TH_EABI;
    return TH_API_(ctx)->global_name(ctx, buf, size, needed);
}

/* The createActor requirements this actor was created with, as the JSON
 * object text its class's capability check was given ("{}" when none),
 * into buf. Returns 0, TH_ELIMIT (buf too small; *needed says how much). */
static inline int
th_requirements(th_ctx_t *ctx, char *buf, size_t size, size_t *needed)
{
    if (!TH_API_HAS_(ctx, requirements))
        return TH_EABI;
    return TH_API_(ctx)->requirements(ctx, buf, size, needed);
}

/* ---- Defining a plugin -----------------------------------------------------
 *   static const th_class_t greeter = { .size = sizeof(th_class_t), ... };
 *   TH_PLUGIN_DEFINE(hello, &greeter);
 * exports the descriptor `th_plugin_v1` for plugin "hello". */
#if defined(__GNUC__)
#define TH_PLUGIN_EXPORT_ __attribute__((visibility("default")))
#else
#define TH_PLUGIN_EXPORT_
#endif

#define TH_PLUGIN_DEFINE(pname, ...)                                          \
    static const th_class_t *const th_plugin_classes_[] = {__VA_ARGS__};      \
    TH_PLUGIN_EXPORT_ extern const th_plugin_t th_plugin_v1;                  \
    const th_plugin_t th_plugin_v1 = {                                        \
        TH_PLUGIN_MAGIC,                                                      \
        TH_ABI_MAJOR,                                                         \
        TH_ABI_MINOR,                                                         \
        (uint32_t)sizeof(th_plugin_t),                                        \
        (uint32_t)(sizeof th_plugin_classes_ / sizeof th_plugin_classes_[0]), \
        #pname,                                                               \
        th_plugin_classes_,                                                   \
    }

/* ---- ABI pins ------------------------------------------------------------- */
#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(th_addr_t) == 24, "th_addr_t size is ABI");
_Static_assert(sizeof(th_msg_t) == 48, "th_msg_t size is ABI");
_Static_assert(offsetof(th_msg_t, sender) == 24, "th_msg_t layout is ABI");
_Static_assert(sizeof(th_dispatch_t) == 16, "th_dispatch_t size is ABI");
_Static_assert(sizeof(th_class_t) == 112, "th_class_t size is ABI");
_Static_assert(offsetof(th_class_t, capability_check) == 80,
               "th_class_t 1.1 layout");
_Static_assert(offsetof(th_class_t, transient_ms) == 108,
               "th_class_t 1.1 layout");
_Static_assert(offsetof(th_class_t, import_state) == 72, "th_class_t layout");
_Static_assert(offsetof(th_class_t, receive) == 32, "th_class_t layout");
_Static_assert(offsetof(th_class_t, n_dispatch) == 56, "th_class_t layout");
_Static_assert(sizeof(th_plugin_t) == 32, "th_plugin_t size is ABI");
_Static_assert(offsetof(th_plugin_t, size) == 8, "th_plugin_t layout");
_Static_assert(offsetof(th_plugin_t, classes) == 24, "th_plugin_t layout");
_Static_assert(sizeof(th_create_opts_t) == 40, "th_create_opts_t size");
_Static_assert(offsetof(th_create_opts_t, supervision) == 32,
               "th_create_opts_t 1.1 layout");
_Static_assert(sizeof(th_supervision_t) == 40, "th_supervision_t size");
_Static_assert(sizeof(struct th_ctx_pub) == 16, "th_ctx_pub size is ABI");
_Static_assert(offsetof(struct th_host_api, my_address) == 8,
               "th_host_api layout is ABI");
_Static_assert(offsetof(struct th_host_api, handoff) == 8 + 23 * 8,
               "th_host_api 1.0 layout is ABI");
_Static_assert(offsetof(struct th_host_api, supervise) == 8 + 31 * 8,
               "th_host_api 1.1 layout is ABI");
_Static_assert(offsetof(struct th_host_api, requirements) == 8 + 33 * 8,
               "th_host_api 1.2 layout is ABI");
#endif

#ifdef __cplusplus
}
#endif
#endif /* TH_SDK_ACTOR_H */
