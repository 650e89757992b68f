/*
 * host/core/msg.h — messages inside the runtime: interned types, refcounted payloads,
 * envelopes (the mailbox nodes) and their kinds, and the clock. Thread-safe
 * unless said; an envelope belongs to whoever holds it.
 */
#ifndef TH_HOST_CORE_MSG_H
#define TH_HOST_CORE_MSG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "thespian/actor.h"

#define THI_ENV_INLINE 48            /* payload bytes kept in the envelope */


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

#endif /* TH_HOST_CORE_MSG_H */
