/*
 * thespian/client.h — talking to actors from outside programs
 * (libthespian-client, `pkg-config --cflags --libs thespian-client`).
 *
 * A th_client_t is one context: one connection to a host's admin endpoint
 * (thespiand) with its own reply address in the host. Messages sent with
 * th_client_tell / th_client_ask carry that address as their sender, so
 * replies come back to this context only. A context is used by one thread
 * at a time; give every thread its own with th_client_private (Thespian's
 * ActorSystem().private()). Different contexts are fully independent.
 *
 * Errors are the negative TH_E* codes of thespian/error.h; th_errname()
 * gives the Thespian exception name (InvalidActorAddress,
 * NoCompatibleSystemForActor, InvalidActorSourceHash,
 * InvalidActorSpecification, ActorSystemRequestTimeout,
 * ActorSystemShutdown, ...), and th_client_errmsg() one line saying what
 * failed and why. A host that is gone gives TH_ECLOSED at once (within
 * 50 ms), a host that does not answer gives TH_ETIMEDOUT within the
 * timeout; even a wait without limit (timeout < 0) ends with TH_ECLOSED
 * about 5 s after a host stopped answering on a live connection
 * (ZeroMQ heartbeats). The wire protocol is docs/protocol.md.
 */
#ifndef TH_SDK_CLIENT_H
#define TH_SDK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thespian/actor.h" /* th_addr_t, TH_ADDR_STRLEN, TH_MSG_* names */
#include "thespian/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TH_API __attribute__((visibility("default")))
#else
#define TH_API
#endif

/* Thespian's Admin Port, on loopback. */
#define TH_CLIENT_DEFAULT_ENDPOINT "tcp://127.0.0.1:1900"
#define TH_CLIENT_ENDPOINT_MAX 256 /* bytes for an endpoint, with NUL */

typedef struct th_client th_client_t;

/* Options for th_client_connect; zero-initialise and set `size`. */
typedef struct th_client_opts {
    uint32_t size; /* sizeof(th_client_opts_t) */
    uint32_t reserved0;
    const char *endpoint;   /* NULL: the discovery rule, see
                               th_client_endpoint */
    int connect_timeout_ms; /* wait for the host's welcome; 0 = 5000 */
    int request_timeout_ms; /* create, status, lookup, capability and
                               shutdown requests, and a tell blocked by
                               a full send queue; 0 = 10000 */
    /* tcp:// endpoints are authenticated with CurveZMQ (docs/security.md).
     * NULL: $THESPIAN_ADMIN_KEY, else K/curve/operator.key, where K is
     * $THESPIAN_KEY_DIR, else $THESPIAN_DIRECTOR_DIR, else ~/.thespian. */
    const char *admin_key;  /* this client's key pair file (0600) */
    const char *server_key; /* the host's public key file; NULL:
                               $THESPIAN_SERVER_KEY, else K/curve/host.pub */
} th_client_opts_t;

/* Error detail of th_client_connect and th_client_endpoint (no client
 * exists to hold it): the common diagnostic of thespian/error.h. `code`
 * is the TH_E* code, 0 when no error; `message` (same bytes as `msg`) one
 * line naming what failed and why. */
typedef th_diag_t th_client_error_t;

/* A message received from an actor. */
typedef struct th_client_msg {
    const char *type; /* message type name */
    const void *data; /* payload bytes, never NULL, NUL-terminated
                         for convenience (not counted in len) */
    size_t len;       /* payload length */
    th_addr_t sender; /* who sent it */
} th_client_msg_t;

/* Options for th_client_create; zero-initialise and set `size`. */
typedef struct th_client_create_opts {
    uint32_t size; /* sizeof(th_client_create_opts_t) */
    uint32_t reserved0;
    const char *global_name;       /* NULL, or a system-wide name: a live
                                      actor of that name is returned
                                      instead of a new one */
    const char *source_hash;       /* NULL, or the loaded source to create
                                      the class from */
    const char *requirements_json; /* NULL, or a JSON object of required
                                      capabilities */
} th_client_create_opts_t;

/* Resolve the admin endpoint by the one rule every thespian program uses
 * (docs/cli.md "Finding the host"): `explicit_ep` when non-NULL and
 * non-empty; else $THESPIAN_ENDPOINT; else the file adminendpoint.cfg in
 * $THESPIAN_DIRECTOR_DIR (a JSON string endpoint, or a JSON integer port
 * meaning tcp://127.0.0.1:PORT); else Thespian's adminport.cfg there (a
 * port); else TH_CLIENT_DEFAULT_ENDPOINT.
 * buf must hold TH_CLIENT_ENDPOINT_MAX bytes. Returns 0, or TH_EINVAL /
 * TH_EFORMAT / TH_EIO for a bad setting (a bad setting is an error, never
 * skipped), with the reason in err (may be NULL). Pointers borrowed.
 * Thread-safe; reads the environment and at most one small file. */
TH_API int th_client_endpoint(char *buf, const char *explicit_ep,
                              th_client_error_t *err);

/* Connect to a host and open a context. opts may be NULL (defaults).
 * Blocks until the host welcomed this context or connect_timeout_ms
 * passed. Returns 0 with *out returned owned (release with
 * th_client_close); TH_ECLOSED when nothing accepts connections at the
 * endpoint (after three refused attempts, about 0.3 s), TH_ETIMEDOUT when something accepted but no thespiand
 * answered, TH_EPERM when the host refused this client's key or the
 * CurveZMQ handshake failed (wrong host key), TH_ENOENT / TH_EFORMAT /
 * TH_EPERM for a missing, malformed or unsafe key file (tcp:// only),
 * TH_ELIMIT when the host refuses more contexts, TH_EINVAL for
 * a bad endpoint, TH_ENOMEM, TH_EIO. err (may be NULL) receives the
 * detail. opts and err are borrowed. Thread-safe. */
TH_API int th_client_connect(th_client_t **out, const th_client_opts_t *opts,
                             th_client_error_t *err);

/* Open another context on the same host (Thespian's private()): its own
 * connection and reply address, sharing the parent's options and I/O
 * thread. The parent stays usable and may be closed first. Blocks like
 * th_client_connect. Returns as th_client_connect; *out returned owned
 * (th_client_close). The detail of a failure is in the parent's
 * th_client_errmsg. Not thread-safe with other calls on `parent`. */
TH_API int th_client_private(th_client_t **out, th_client_t *parent);

/* Close a context: tells the host to drop its reply address (later
 * messages to it become dead letters), frees everything. Waits at most
 * 100 ms for the goodbye to leave. NULL-safe. */
TH_API void th_client_close(th_client_t *c);

/* The last error of `c` as one line ("" after a success). Borrowed: valid
 * until the next call on c. */
TH_API const char *th_client_errmsg(const th_client_t *c);

/* The endpoint this context is connected to. Borrowed, lives as c. */
TH_API const char *th_client_endpoint_of(const th_client_t *c);

/* This context's reply address (the sender of its tells and asks). */
TH_API void th_client_my_address(const th_client_t *c, th_addr_t *out);

/* The host's system address (Thespian_StatusReq goes there). */
TH_API void th_client_system_address(const th_client_t *c, th_addr_t *out);

/* Create a top-level actor of class "PLUGIN.CLASS". opts may be NULL.
 * Blocks until the host accepted or refused the creation (the actor's
 * init then runs in the host; messages sent meanwhile are kept for it).
 * Returns 0 with *out set; TH_EINVAL (InvalidActorSpecification: unknown
 * class, bad name or options), TH_ENOCOMPAT (NoCompatibleSystemForActor:
 * requirements not met), TH_ESOURCE (InvalidActorSourceHash),
 * TH_ETIMEDOUT, TH_ECLOSED. Pointers borrowed. Not thread-safe on c. */
TH_API int th_client_create(th_client_t *c, th_addr_t *out,
                            const char *class_name,
                            const th_client_create_opts_t *opts);

/* Look up the live actor with a global name. Returns 0, TH_ENOENT,
 * TH_ETIMEDOUT, TH_ECLOSED. Blocks for one request. */
TH_API int th_client_lookup(th_client_t *c, th_addr_t *out,
                            const char *global_name);

/* Send `len` bytes at `data` as a message of `type` to `to`; the sender
 * is this context. Does not wait for the host: a message the host cannot
 * deliver becomes a dead letter there, as in Thespian. Returns 0;
 * TH_EADDR (InvalidActorAddress) for a null or malformed address,
 * TH_EINVAL for a bad type name, TH_ERESERVED for a runtime type an
 * outside program may not send, TH_ETOOBIG, TH_ECLOSED when the host is
 * gone, TH_ETIMEDOUT when the host accepted nothing for
 * request_timeout_ms. data borrowed (copied). Not thread-safe on c. */
TH_API int th_client_tell(th_client_t *c, const th_addr_t *to, const char *type,
                          const void *data, size_t len);

/* Wait up to timeout_ms (< 0: no limit, 0: do not wait) for the next
 * message delivered to this context and not yet received (Thespian's
 * listen). Returns 0 with *out returned owned (th_client_msg_free);
 * TH_ETIMEDOUT, TH_ECLOSED (host gone: also during the wait).
 * Not thread-safe on c. */
TH_API int th_client_listen(th_client_t *c, th_client_msg_t **out,
                            int timeout_ms);

/* th_client_tell, then th_client_listen(timeout_ms) (Thespian's ask).
 * Returns as soon as a message arrives. As in Thespian the result is the
 * next message for this context, not necessarily the answer to this one:
 * a late reply to an earlier ask comes first. Returns as the two calls. */
TH_API int th_client_ask(th_client_t *c, th_client_msg_t **out,
                         const th_addr_t *to, const char *type,
                         const void *data, size_t len, int timeout_ms);

/* As th_client_tell / th_client_ask, to whoever holds the global name
 * when the host queues the message: the name is resolved in the host as
 * one step with the queueing, so a hot swap that moves the name (the
 * Director) never loses it. TH_EDEAD is not reported (tells are one-way);
 * a name nobody holds makes a dead letter in the host. Not thread-safe
 * on c. */
TH_API int th_client_tell_name(th_client_t *c, const char *name,
                               const char *type, const void *data,
                               size_t len);
TH_API int th_client_ask_name(th_client_t *c, th_client_msg_t **out,
                              const char *name, const char *type,
                              const void *data, size_t len, int timeout_ms);

/* The address of the actor that plays `role` (as a TLI names it) in the
 * active version of `group` (NULL: any group), asked of the host's
 * Director (the Director's RetrieveRole). Like an ask, it takes the next
 * message for this context as the answer. Returns 0, TH_ENOENT (no such
 * role, or no Director), TH_ETIMEDOUT. Not thread-safe on c. */
TH_API int th_client_role(th_client_t *c, th_addr_t *out, const char *role,
                          const char *group, int timeout_ms);

/* Free a received message. NULL-safe. */
TH_API void th_client_msg_free(th_client_msg_t *msg);

/* Set (value_json a JSON text) or remove (value_json NULL) one of the
 * host's capabilities (Thespian's updateCapability). Returns 0, TH_EINVAL
 * (bad name or JSON), TH_ETIMEDOUT, TH_ECLOSED. Blocks for one request. */
TH_API int th_client_update_capability(th_client_t *c, const char *name,
                                       const char *value_json);

/* The host's status as JSON text (docs/protocol.md "status"): system
 * counters and actors, capabilities, endpoint, pid, contexts. *out is
 * returned owned: release with th_client_free. Blocks for one request. */
TH_API int th_client_status(th_client_t *c, char **out);

/* Ask the host to shut down in order and wait until its actors have
 * exited (at most timeout_ms; < 0: the request timeout). Returns 0,
 * TH_ETIMEDOUT, TH_ECLOSED (already gone). Afterwards c only gives
 * TH_ECLOSED; close it. */
TH_API int th_client_shutdown(th_client_t *c, int timeout_ms);

/* Load a signed .tls bundle (Thespian's loadActorSource): the file is read
 * once and its bytes sent; the host's Source Authority checks the
 * signature, the host checks the archive against the signed manifest and
 * maps its code (docs/loading.md). Writes the source hash (64 hex digits
 * and NUL) into hash_out. Returns 0 (also when it was loaded already),
 * TH_EPERM (no authority in the host, or an older version than accepted
 * before), TH_EBADSIG, TH_EFORMAT, TH_EHASH, TH_ETIMEDOUT, TH_EIO (file).
 * _rollback accepts an older version (the host logs it). Pointers
 * borrowed. Blocks up to 30 s for the answer. */
TH_API int th_client_load(th_client_t *c, char hash_out[65],
                          const char *bundle_path);
TH_API int th_client_load_rollback(th_client_t *c, char hash_out[65],
                                   const char *bundle_path);

/* Unload a source by its hash or a unique prefix (unloadActorSource): no
 * new actors from it; its code goes when its last actor has exited.
 * Returns 0, TH_ESOURCE. Blocks for one request. */
TH_API int th_client_unload(th_client_t *c, const char *source_hash);

/* The loaded sources as JSON text: an array of {"hash", "group",
 * "version", "info", "key", "live_actors", "unloading"}. *out returned
 * owned: th_client_free. Blocks for one request. */
TH_API int th_client_sources(th_client_t *c, char **out);

/* Have the host read the trusted keys of its director directory again
 * (the operator's reload: keys added there are trusted from now on,
 * removed ones no longer). *out (returned owned: th_client_free) gets what
 * the host now trusts as JSON text: {"dir", "problem"?, "trusted":
 * [{"file", "fingerprint", "bits"}], "skipped": [{"file", "reason"}]}.
 * Blocks for one request. */
TH_API int th_client_reload_keys(th_client_t *c, char **out);

/* Print / parse addresses ("th1:..."). format needs TH_ADDR_STRLEN bytes;
 * returns 0 or TH_EINVAL. parse returns 0 or TH_EADDR. Thread-safe. */
TH_API int th_client_addr_format(const th_addr_t *addr, char *buf, size_t size);
TH_API int th_client_addr_parse(th_addr_t *out, const char *text);

/* Free memory this library returned (th_client_status text). NULL-safe. */
TH_API void th_client_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* TH_SDK_CLIENT_H */
