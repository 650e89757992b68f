/*
 * host/host.h — the embeddable actor runtime (libthespian-host). thespiand
 * is a thin main around it; tests, benchmarks and the synchronous plugin
 * test runner embed it directly. Installed as <thespian/host.h>, found
 * with `pkg-config --cflags --libs thespian-host`; it needs only the
 * public SDK headers. Plugins never see this header: they use
 * sdk/include/thespian/actor.h.
 */
#ifndef TH_HOST_HOST_H
#define TH_HOST_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thespian/actor.h"
#include "thespian/error.h"
#include "thespian/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The thespian-c version: status replies and the common capability
 * "Thespian Version". meson.build's project version, through the
 * generated <thespian/version.h>. */
#define TH_HOST_VERSION TH_VERSION

typedef struct th_system th_system_t;
typedef struct th_inbox th_inbox_t;

typedef struct th_system_opts {
    uint32_t workers;       /* worker threads; 0 = one per online CPU */
    bool synchronous;       /* no threads: th_system_run drives everything */
    uint32_t batch;         /* messages per actor turn; 0 = 64 */
    size_t mailbox_limit;   /* queued messages per actor; 0 = 1,000,000 */
    size_t max_payload;     /* bytes per message; 0 = 16 MiB */
    const char *name;       /* system name for logs/status; NULL = "thespian" */
    const char *state_dir;  /* where the highest accepted version per
                               group is recorded
                               (versions.json); NULL = a private temporary
                               directory, removed at destroy */
    int authority_timeout_ms; /* Source Authority answer; 0 = 10,000 */
    const char *key_dir;    /* trusted keys: the *_tls.key files of this
                               directory (path copied), read at create and
                               by th_system_reload_keys under the key
                               policy of docs/security.md; NULL =
                               $THESPIAN_DIRECTOR_DIR if set, else none
                               (every load refused) */
    const char *authority_class; /* the one class (PLUGIN.CLASS, copied)
                               whose actor may register as Source Authority,
                               from a plugin loaded by th_system_load_plugin
                               only, first registration only; NULL =
                               "director.SourceAuthority", "" = none */
    const char *capabilities_json; /* JSON object of this system's own
                               capabilities (copied); NULL = none. Not an
                               object, or setting a common capability:
                               th_system_create fails with TH_EINVAL
                               (docs/capabilities.md) */
    bool sync_queue_only;   /* synchronous mode: sends from outside
                               (th_system_tell, th_inbox_send, ...) only
                               queue, and actors run only in th_system_run
                               / th_inbox_recv. Default false: such a send
                               runs the system until nothing is runnable
                               before it returns (Thespian's
                               simpleSystemBase; docs/thespian.md) */
} th_system_opts_t;

/* Create an actor system (threaded unless opts->synchronous). opts may be
 * NULL for defaults. Returns 0, TH_ENOMEM, TH_EIO (threads). *out is
 * returned owned: release with th_system_destroy. */
int th_system_create(th_system_t **out, const th_system_opts_t *opts);

/* th_system_destroy_within's bound: 30 s. */
#define TH_STOP_TIMEOUT_DEFAULT_MS 30000

/* Orderly shutdown (ActorExitRequest to every actor, children complete
 * before parents), then free everything. NULL-safe; call from a thread
 * that is not a worker of this system. Threaded mode returns within
 * stop_timeout_ms of when shutdown began (th_system_stop, or this call)
 * plus a margin of about half a second:
 *   0            every actor exited; everything is freed;
 *   TH_ETIMEDOUT actors were still running at the bound. Each is logged
 *                (address, class, the message or callback it is in). When
 *                no worker is inside actor code, everything is freed
 *                anyway; when a callback never returned, its worker is
 *                left running and the system's memory stays allocated
 *                (nothing it may touch is freed): the process should exit.
 * Synchronous mode runs the shutdown on the calling thread, so a callback
 * that never returns blocks it: the bound holds between callbacks. */
int th_system_destroy_within(th_system_t *sys, int stop_timeout_ms);
/* th_system_destroy_within(sys, TH_STOP_TIMEOUT_DEFAULT_MS). */
int th_system_destroy(th_system_t *sys);

/* Orderly shutdown without freeing; returns when every actor has exited or
 * timeout_ms passed (TH_ETIMEDOUT). Idempotent. Thread-safe, blocking. */
int th_system_stop(th_system_t *sys, int timeout_ms);

/* True once shutdown has been requested (by an actor or a caller). */
bool th_system_is_stopping(th_system_t *sys);

/* Block until the system has been asked to shut down (by an actor calling
 * th_system_shutdown, or by th_system_shutdown), or timeout_ms (< 0: no
 * limit). Returns 0 or TH_ETIMEDOUT. Threaded systems only. */
int th_system_wait_stopping(th_system_t *sys, int timeout_ms);

/* Synchronous mode: run actors on the calling thread until nothing is
 * runnable and no timer is due within timeout_ms (< 0: wait for timers
 * without limit; 0: do not wait for timers). Due timers fire on entry and
 * every 32 actor turns, also while actors stay busy. Returns the number
 * of messages processed, or a negative code (0 when called from inside a
 * run). Deterministic: FIFO order. */
long th_system_run(th_system_t *sys, int timeout_ms);

/* dlopen a plugin .so and register its classes as PLUGIN.CLASS. Refuses
 * (with a diag naming the file and reason) a missing descriptor, bad magic,
 * other ABI major, newer minor, bad sizes or names, duplicate plugin.
 * Thread-safe. d may be NULL. */
int th_system_load_plugin(th_system_t *sys, const char *path, th_diag_t *d);

/* Create a top-level actor (child of the system). The address is valid at
 * once; messages to it are buffered until it has started. opts may be
 * NULL. Returns 0, TH_ENOENT (unknown class), TH_EINVAL, TH_ECLOSED.
 * Thread-safe, does not block. */
int th_system_create_actor(th_system_t *sys, th_addr_t *out,
                           const char *class_name,
                           const th_create_opts_t *opts);

/* As th_system_create_actor, then wait up to timeout_ms until the actor
 * has run its init: Thespian's createActor, which returns once the actor
 * is created or has failed. Returns 0, or TH_EFAIL when its init refused
 * to start (the actor is gone), TH_ETIMEDOUT (its init is still running;
 * the actor exists), or the create's own codes (TH_ENOENT, TH_EINVAL,
 * TH_ENOCOMPAT naming the capability, ...); d (may be NULL) gets the
 * reason of a refusal. Thread-safe, blocking; not from a worker of this
 * system. */
int th_system_create_actor_wait(th_system_t *sys, th_addr_t *out,
                                const char *class_name,
                                const th_create_opts_t *opts, int timeout_ms,
                                th_diag_t *d);

/* Send from outside the actor system (sender is the null address).
 * Same returns as th_send. Thread-safe; in a threaded system it does not
 * block. In a synchronous one it then runs the system until nothing is
 * runnable (Thespian's simpleSystemBase; not when sync_queue_only). A
 * message without a sender that fails twice becomes a dead letter. */
int th_system_tell(th_system_t *sys, const th_addr_t *to, const char *type,
                   const void *data, size_t len);

/* Send to whoever holds the global name right now; the name is resolved
 * and the message queued as one step (see th_send_name in actor.h).
 * Returns as th_system_tell; TH_EDEAD when no live actor has the name. */
int th_system_tell_name(th_system_t *sys, const char *name, const char *type,
                        const void *data, size_t len);

/* The system's own address (answers Thespian_StatusReq). */
void th_system_address_of(th_system_t *sys, th_addr_t *out);

/* Look up a live named actor. Returns 0 or TH_ENOENT. Thread-safe. */
int th_system_lookup_name(th_system_t *sys, const char *name, th_addr_t *out);

/* Status of the whole system as a JSON object text (the same body as the
 * Thespian_SystemStatus reply). *out is returned owned: free() it. */
int th_system_status_json(th_system_t *sys, char **out);

/* updateCapability from outside the actors: set capability `name` to the
 * JSON value value_json (borrowed), or remove it (value_json NULL or
 * "null"). A real change re-checks every live actor whose class checks or
 * requires capabilities or that was created with requirements; those that
 * no longer fit get an ActorExitRequest. No change: no effect. Returns 0,
 * TH_EINVAL (bad name, value not JSON), TH_EPERM (a read-only common
 * capability), TH_ENOMEM, with d (may be NULL) naming the capability.
 * Thread-safe, does not block on actors. */
int th_system_update_capability(th_system_t *sys, const char *name,
                                const char *value_json, th_diag_t *d);

/* The system's capabilities, common ones included, as a JSON object text.
 * *out is returned owned: free() it. Returns 0, TH_EINVAL (out NULL),
 * TH_ENOMEM. Thread-safe. */
int th_system_capabilities_json(th_system_t *sys, char **out);

/* ---- Sources: signed bundles ------------------------------------------------
 * Load a .tls bundle (bytes borrowed and copied; `what` names it in
 * diags). The runtime first verifies the copy against its trusted keys
 * (opts.key_dir): nothing parses a bundle that did not verify. When an
 * authority is registered, the bundle then goes to it as ValidateSource and
 * its ValidatedSource may still refuse it; with none, the verification
 * alone decides. Then the archive is checked against the signed manifest,
 * its code mapped from sealed memfds (docs/loading.md) and its classes
 * registered. Blocks until loaded or refused (opts.authority_timeout_ms).
 * Loading a loaded bundle again is a no-op. Returns 0 with the source hash
 * (SHA-256 of the bytes, hex) in hash_out, or TH_EPERM ("no trusted key:
 * ..." when none is trusted), TH_EBADSIG (unsigned, unknown key, bad
 * signature, or refused by the authority), TH_ETIMEDOUT,
 * TH_EFORMAT/TH_EHASH/TH_ETOOBIG (archive), TH_EABI, TH_EPERM (older
 * version than accepted before, unless allow_rollback).
 * Thread-safe; not from a worker thread of this system. */
int th_system_load_source(th_system_t *sys, const uint8_t *bundle, size_t len,
                          const char *what, bool allow_rollback,
                          char hash_out[65], th_diag_t *d);

/* Read the key directory again (the operator's explicit reload: the
 * admin op "reload_keys", SIGHUP to thespiand): keys added there are
 * trusted from now on, removed or now-failing ones no longer; sources
 * already loaded stay. Each skipped file is logged as a warning naming it.
 * *out (may be NULL; returned owned, free()) gets the listing of
 * th_system_keys_json. Returns 0 or TH_ENOMEM. Thread-safe, blocks on file
 * I/O and until running verifications end. */
int th_system_reload_keys(th_system_t *sys, char **out, th_diag_t *d);

/* The trusted keys as JSON text: {"dir", "problem"?, "trusted": [{"file",
 * "fingerprint", "bits"}], "skipped": [{"file", "reason"}]}; fingerprint
 * is the hex SHA-256 of the key's DER SubjectPublicKeyInfo. *out returned
 * owned: free(). Returns 0 or TH_ENOMEM. Thread-safe. */
int th_system_keys_json(th_system_t *sys, char **out);

/* Unload the source whose hash starts with `prefix` (unique). New
 * creations from it stop at once; its code is unmapped when its last actor
 * has exited. Returns 0 with the full hash, TH_ESOURCE (no such source or
 * ambiguous prefix: the diag says which). Thread-safe. */
int th_system_unload_source(th_system_t *sys, const char *prefix,
                            char hash_out[65], th_diag_t *d);

/* Make the actor at `a` (borrowed) the system's Director: the one actor
 * whose ActivatedSource {"sourceHash": H} messages to the system count.
 * While a Director is registered, a group's version record (the rollback
 * check's versions.json) rises only when the Director reports a version
 * active, so a version that fails to activate moves nothing; without one
 * it rises when a version loads. Only the embedding program (thespiand)
 * calls this; no message or plugin can. Returns 0. Thread-safe. */
int th_system_register_director(th_system_t *sys, const th_addr_t *a);

/* The loaded sources as a JSON array text: [{"hash", "group", "version",
 * "info", "key", "live_actors", "unloading"}]. *out owned: free(). */
int th_system_sources_json(th_system_t *sys, char **out);

/* The key directory the system trusts keys from (th_system_opts_t.key_dir
 * as resolved at create: "" when none). Borrowed: valid until
 * th_system_destroy; it never changes meanwhile. Thread-safe. */
const char *th_system_key_dir(th_system_t *sys);

/* Counters, for tests and benchmarks. Relaxed snapshots. */
typedef struct th_system_stats {
    uint64_t live_actors;
    uint64_t dead_letters;
    uint64_t messages;      /* messages handed to actors */
    uint64_t pending_timers;
} th_system_stats_t;
void th_system_stats(th_system_t *sys, th_system_stats_t *out);

/* Print / parse addresses (same format plugins see). */
int th_addr_to_string(const th_addr_t *addr, char *buf, size_t size);
int th_addr_from_string(th_addr_t *out, const char *text);

/* ---- Inboxes: addresses for code outside the actor system -----------------
 * An inbox is an address whose messages queue up for a thread to take with
 * th_inbox_recv (the ask/listen of the client library). Each inbox belongs
 * to one consumer thread at a time; send/recv on different inboxes are
 * independent (Thespian's private contexts). */
typedef struct th_inmsg {
    const char *type;  /* valid until th_inmsg_free */
    const void *data;
    size_t len;
    th_addr_t sender;
} th_inmsg_t;

/* Create an inbox. *out returned owned: th_inbox_destroy. Thread-safe. */
int th_inbox_create(th_system_t *sys, th_inbox_t **out);

/* Destroy; later messages to its address become dead letters. NULL-safe. */
void th_inbox_destroy(th_inbox_t *inbox);

/* The inbox's address, to hand out as a reply-to sender. */
void th_inbox_address(th_inbox_t *inbox, th_addr_t *out);

/* Send with the inbox as the sender. Same returns as th_send; runs a
 * synchronous system as th_system_tell does. */
int th_inbox_send(th_inbox_t *inbox, const th_addr_t *to, const char *type,
                  const void *data, size_t len);

/* As th_inbox_send, to the holder of a global name (th_send_name). */
int th_inbox_send_name(th_inbox_t *inbox, const char *name, const char *type,
                       const void *data, size_t len);

/* Wait up to timeout_ms (< 0: forever) for the next message. In a
 * synchronous system this runs the system while waiting. An inbox gets
 * what a client of thespiand gets: user messages, PoisonMessage and the
 * status replies; the runtime's other messages (ActorExitRequest,
 * ChildActorExited, WakeupMessage, ...) sent to it are dropped. Returns 0
 * with *out owned (th_inmsg_free), or TH_ETIMEDOUT, TH_ECLOSED. */
int th_inbox_recv(th_inbox_t *inbox, th_inmsg_t **out, int timeout_ms);

/* Free a received message. NULL-safe. */
void th_inmsg_free(th_inmsg_t *msg);

/* Delivery notification, for a consumer that multiplexes many inboxes with
 * other event sources (the admin endpoint polls its socket and an eventfd).
 * `fn(arg)` is called once for each message queued into this inbox, after
 * it is queued, so a consumer that counts the calls knows how many
 * th_inbox_recv(inbox, &m, 0) will succeed. It runs on the delivering
 * thread (a worker, or any thread that sends) with the inbox's lock held:
 * it must be short, must not block, and must not call th_inbox_* on this
 * inbox. fn NULL turns notification off. Once th_inbox_set_notify or
 * th_inbox_destroy has returned, the previous fn is neither running nor
 * called again for this inbox. Thread-safe. */
void th_inbox_set_notify(th_inbox_t *inbox, void (*fn)(void *arg), void *arg);

/* ---- The actor log (docs/logging.md) -------------------------------------
 * th_log records from actors go to the actor log, configured by a JSON
 * object {"level": NAME, "destination": "stderr"|"stdout"|PATH (alias
 * "file"), "format": "%(asctime)s ... %(actorAddress)s %(message)s"}.
 * Without a configuration: WARNING and above to standard error in that
 * default format. The runtime's own records go to the separate internal
 * log (THESPLOG_FILE) and are not affected. */

/* Apply a configuration from JSON text (borrowed). The new configuration
 * replaces the previous one whole, or, on error, not at all (the previous
 * one stays in force). Returns 0, TH_EFORMAT (not JSON, or a bad format
 * directive), TH_EINVAL (not an object, unknown key, not a string, bad
 * level name, unknown format field), TH_EIO (the destination file cannot
 * be opened); d (may be NULL) names the key and the reason. Thread-safe:
 * may be called while actors log; a record is written whole under the old
 * or the new configuration. Process-wide: every system shares it. */
int th_log_configure_json(const char *text, th_diag_t *d);

/* As th_log_configure_json, reading the file at `path`; the diag starts
 * with the path. TH_EIO when the file cannot be read. */
int th_log_configure_file(const char *path, th_diag_t *d);

/* The actor log's level now in force (TH_LOG_*). Thread-safe. */
int th_log_level(void);

/* A record to the actor log from outside any actor (the embedding
 * program); its actorAddress field is empty. Thread-safe. */
void th_log_record(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- The internal log (docs/logging.md) ---------------------------------
 * The runtime's own records (loads, swaps, refusals, shutdown), apart from
 * the actor log: THESPLOG_FILE, else the file given to
 * th_log_set_internal_file, else $TMPDIR/thespian.log; records below
 * THESPLOG_THRESHOLD are dropped. The embedding program (thespiand, its
 * admin endpoint) writes its own lines there too. */

/* A record to the internal log. `who` (borrowed, may be NULL) is the
 * address the record is about. Thread-safe; does not block on actors. */
void th_log_internal(int level, const th_addr_t *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The internal log's file when THESPLOG_FILE is unset (path copied; NULL:
 * standard error, not rotated) instead of $TMPDIR/thespian.log. Call once,
 * before the first record and before any system exists; it opens the
 * file at once. Not thread-safe. */
void th_log_set_internal_file(const char *path);

/* Ask for the status dump that SIGUSR1 gives: the status of every live
 * system, written to the internal log by the runtime's dump thread. A
 * program that takes its signals synchronously (signalfd, sigwait) calls
 * this for SIGUSR1. Returns at once; async-signal-safe; thread-safe. No
 * effect before the first system exists, or when SIGUSR1 already had a
 * handler of the program's then (the dump is off; logged). */
void th_log_status_dump(void);

/* The name of a TH_LOG_* level ("DEBUG", "INFO", ...), as THESPLOG_THRESHOLD
 * and log configurations spell it. Static string. Thread-safe. */
const char *th_log_level_name(int level);

#ifdef __cplusplus
}
#endif
#endif /* TH_HOST_HOST_H */
