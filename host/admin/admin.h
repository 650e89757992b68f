/*
 * host/admin/admin.h — the admin endpoint: a ZeroMQ ROUTER socket through
 * which outside programs (libthespian-client, the thespian CLI) talk to
 * one actor system. Each client context is a session holding one runtime
 * inbox, the sender address of its tells, whose messages are pushed back
 * to that context only. Protocol: docs/protocol.md. thespiand runs it on
 * its main thread. Built on the host's public API (host/host.h) only.
 *
 * Threads: an admin is owned by one thread, which calls create, run and
 * destroy in that order. Inside, load requests run on detached threads
 * of their own and the ZAP handler on its thread; both end before
 * thi_admin_run / thi_admin_destroy return.
 */
#ifndef TH_HOST_ADMIN_ADMIN_H
#define TH_HOST_ADMIN_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "host/host.h"
#include "proto/curve.h"

typedef struct thi_admin thi_admin_t;

/* Options of thi_admin_create; every pointer is borrowed for the call
 * (strings and the plugin list are copied). */
typedef struct thi_admin_opts {
    const char *endpoint;       /* tcp://HOST:PORT or ipc://PATH */
    uint32_t max_sessions;      /* client contexts; 0 = 4096 */
    int stop_timeout_ms;        /* orderly shutdown bound; 0 = 10000 */
    size_t max_payload;         /* per message; 0 = 16 MiB (should equal
                                   the system's max_payload) */
    const char *const *plugins; /* paths loaded, for status; may be NULL */
    size_t n_plugins;
    /* tcp:// endpoints are CurveZMQ servers (docs/security.md): the
     * host's key pair (see thi_curve_host_init) and the allow-list
     * directory of client keys. Required for tcp://, unused for ipc://
     * (whose directory is checked by thi_curve_ipc_dir). The key is
     * borrowed until thi_admin_destroy (the ZAP handler reads it). */
    const thi_curve_key_t *curve_key;
    const char *clients_dir;
} thi_admin_opts_t;

/* Bind the admin endpoint for `sys` (borrowed; must outlive the admin).
 * A tcp:// endpoint accepts only CurveZMQ clients whose key is allowed
 * (refusals are logged, at most one line per kind every 10 s); an ipc://
 * endpoint's directory must be private (thi_curve_ipc_dir).
 * Returns 0 with *out returned owned (thi_admin_destroy); TH_EINVAL (bad
 * endpoint, or tcp:// without keys), TH_EPERM (ipc directory open to
 * others), TH_EEXIST (endpoint in use), TH_EIO, TH_ENOMEM, with a line in
 * d (caller-owned) naming the endpoint or setting; nothing is left bound
 * on failure. Blocking only briefly (bind); call from the thread that
 * will run it. */
int thi_admin_create(thi_admin_t **out, th_system_t *sys,
                     const thi_admin_opts_t *opts, th_diag_t *d);

/* The endpoint actually bound (a "*" port resolved). Borrowed: valid
 * until thi_admin_destroy. Any thread (it does not change). */
const char *thi_admin_endpoint(const thi_admin_t *a);

/* The embedder's own fd in the admin loop (thespiand: its signalfd). The
 * admin gives it no meaning: whenever `fd` is readable, thi_admin_run
 * calls fn(a, fd, arg) on the admin thread, between frames. fn must read
 * what made fd readable (else it is called again on the next turn), must
 * not block for long (no frame is served meanwhile), and may call
 * thi_admin_stop or any th_system_* function. fd and arg are borrowed
 * until thi_admin_run returns; fd is read by fn, never closed. */
typedef void thi_admin_wake_fn(thi_admin_t *a, int fd, void *arg);
typedef struct thi_admin_wake {
    int fd; /* -1: none */
    thi_admin_wake_fn *fn;
    void *arg;
} thi_admin_wake_t;

/* Serve until the system is asked to shut down (by a client's shutdown
 * request, an actor, or thi_admin_stop), then shut the system down in
 * order (bounded by stop_timeout_ms), answer the shutdown requests and
 * tell every context that the host is closing. `wake` (borrowed for the
 * call; NULL: none) adds the embedder's fd to the loop. Returns 0, or
 * TH_ETIMEDOUT when actors were still running at the bound. Blocking;
 * call once, from the thread that created the admin. */
int thi_admin_run(thi_admin_t *a, const thi_admin_wake_t *wake);

/* Begin the orderly shutdown that thi_admin_run drives to its end; `why`
 * (borrowed for the call) goes to the log line. Once: later calls do
 * nothing. Admin thread only: from a wake_fn (any other thread asks the
 * system instead, th_system_stop, which the loop notices). */
void thi_admin_stop(thi_admin_t *a, const char *why);

/* Close every session (their inboxes), the socket and the ZeroMQ context,
 * waiting up to 500 ms for the last frames to leave. Call before
 * th_system_destroy, from the thread that created the admin (not while
 * thi_admin_run runs). NULL-safe. */
void thi_admin_destroy(thi_admin_t *a);

#endif /* TH_HOST_ADMIN_ADMIN_H */
