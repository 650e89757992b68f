/*
 * proto/curve.h — CurveZMQ keys for the admin endpoint (and, later, the
 * convention's peers), shared by the host and the client library: where
 * the key files live, making and reading them (secret files 0600, never a
 * symlink), the allow-list of client keys, a ZAP handler (ZeroMQ RFC 27)
 * that checks connecting keys against it, and the socket options of both
 * ends. Layout and rules: docs/security.md.
 */
#ifndef TH_PROTO_CURVE_H
#define TH_PROTO_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THI_CURVE_Z85 41  /* a Z85 key: 40 characters and the NUL */
#define THI_CURVE_WHY 512 /* bytes for a reason */
#define THI_CURVE_PATH 4096

/* Files under the key directory K (see thi_curve_key_dir). */
#define THI_CURVE_SUBDIR "curve"              /* K/curve, 0700 */
#define THI_CURVE_HOST_KEY "host.key"         /* the host's key pair, 0600 */
#define THI_CURVE_HOST_PUB "host.pub"         /* its public half */
#define THI_CURVE_OPERATOR_KEY "operator.key" /* made at first start */
#define THI_CURVE_CLIENTS "clients"           /* allow-list: NAME.pub */

/* A key pair or a public key, as Z85 text. sec is "" for a public key. */
typedef struct thi_curve_key {
    char pub[THI_CURVE_Z85];
    char sec[THI_CURVE_Z85];
} thi_curve_key_t;

/* The key directory K: `explicit_dir` when non-empty; else
 * $THESPIAN_KEY_DIR; else `director_dir` when non-empty; else
 * $THESPIAN_DIRECTOR_DIR; else $HOME/.thespian. Writes into buf
 * (THI_CURVE_PATH bytes). Returns 0, or TH_EINVAL (too long, no $HOME)
 * with a line in why. Thread-safe (reads the environment). */
int thi_curve_key_dir(char *buf, const char *explicit_dir,
                      const char *director_dir, char *why);

/* A new key pair (zmq_curve_keypair). Returns 0 or TH_EIO. */
int thi_curve_keygen(thi_curve_key_t *k, char *why);

/* Write a key pair to `path` (created, never replaced: O_EXCL, mode
 * 0600) or its public half to `path` (O_EXCL, 0644; `label` goes into a
 * comment line). Returns 0, TH_EEXIST, TH_EIO with a line in why; on
 * failure nothing is left at path. */
int thi_curve_write_secret(const char *path, const thi_curve_key_t *k,
                           char *why);
int thi_curve_write_public(const char *path, const char *pub, const char *label,
                           char *why);

/* Read a key pair. Refused (TH_EPERM) when path is a symlink, not a
 * regular file, not owned by this user, or readable or writable by group
 * or others; TH_ENOENT when missing; TH_EFORMAT when it holds no valid
 * secret key or a public key that does not match it. */
int thi_curve_load_secret(thi_curve_key_t *k, const char *path, char *why);

/* Read a public key file: a line "public Z85" or a bare 40-character Z85
 * line; '#' starts a comment line. TH_ENOENT, TH_EPERM (not a regular
 * file), TH_EFORMAT (no key, or a secret key in it). */
int thi_curve_load_public(char pub[THI_CURVE_Z85], const char *path, char *why);

/* The host's side: make sure K/curve exists (0700, ours, not group/world
 * accessible; created with K when missing) and holds the host's key pair
 * (made on first use, together with an operator key K/curve/operator.key
 * that is allow-listed as clients/operator.pub, so the user who starts
 * the host can talk to it at once). Refused (TH_EPERM) when anything
 * there is a symlink, owned by another user, or group/world accessible.
 * On success `key` is the host's key pair and *created tells whether it
 * was made now. Not thread-safe with itself on the same K. */
int thi_curve_host_init(thi_curve_key_t *key, bool *created, const char *kdir,
                        char *why);

/* Is the 32-byte public key in the allow-list directory `clients_dir`?
 * Each *.pub file that is a regular file owned by this user or root and
 * not group/world writable is read; others are skipped with a line
 * through `warn` (may be NULL). Writes the file's name without ".pub"
 * into name (64 bytes). Reads the directory on every call, so a removed
 * file takes effect at once. */
bool thi_curve_allowed(const char *clients_dir, const uint8_t key[32],
                       char name[64], void (*warn)(void *arg, const char *line),
                       void *arg);

/* ---- ZAP handler ------------------------------------------------------------
 * Serves inproc://zeromq.zap.01 in ZeroMQ context `zctx` on a thread of
 * its own: a CURVE client key is accepted when it is the host's own key
 * `own_pub` (the host probing itself) or in `clients_dir`; every other
 * request is refused with status 400. Refusals and skipped files are
 * reported through `event` (called on the handler's thread; kind
 * THI_ZAP_REFUSED or THI_ZAP_WARN, one line of text). Start it before
 * any CURVE server socket of the context binds: without a handler
 * libzmq would accept every key. */
typedef struct thi_zap thi_zap_t;
enum { THI_ZAP_REFUSED = 1, THI_ZAP_WARN = 2 };
typedef void (*thi_zap_event_fn)(void *arg, int kind, const char *line);

int thi_zap_start(thi_zap_t **out, void *zctx, const char *clients_dir,
                  const char *own_pub, thi_zap_event_fn event, void *arg,
                  char *why);
/* Stop the thread and close its sockets. NULL-safe. Call before the
 * context is terminated. */
void thi_zap_stop(thi_zap_t *z);

/* ---- Socket options ---------------------------------------------------------
 */

/* Make `sock` a CURVE server with `k` (ZMQ_CURVE_SERVER, SECRETKEY) and
 * the ZAP domain "thespian". Returns 0 or TH_EIO. */
int thi_curve_server(void *sock, const thi_curve_key_t *k, char *why);
/* Make `sock` a CURVE client with key pair `mine` of the server whose
 * public key is server_pub. Returns 0 or TH_EIO. */
int thi_curve_client(void *sock, const thi_curve_key_t *mine,
                     const char *server_pub, char *why);

/* The client's keys by the one rule (docs/security.md): the key pair
 * from `key_path`, else $THESPIAN_ADMIN_KEY, else K/curve/operator.key;
 * the host's public key from `server_path`, else $THESPIAN_SERVER_KEY,
 * else K/curve/host.pub (K from thi_curve_key_dir(NULL, NULL)). Returns
 * 0, or the loader's code with a line naming the file and how to fix it.
 * Thread-safe. */
int thi_curve_client_keys(thi_curve_key_t *mine, char server_pub[THI_CURVE_Z85],
                          const char *key_path, const char *server_path,
                          char *why);

/* True when `ep` is a tcp:// endpoint (the one kind that uses CURVE). */
bool thi_curve_needed(const char *ep);

/* The ipc:// rule: the directory holding the socket file of `ep` must be
 * ours and entered by no one else. Created (mode 0700, the last component
 * only) when missing; refused with TH_EPERM naming the directory when it
 * is a symlink, not a directory, owned by another user, or group/world
 * accessible. Returns 0 for other endpoints. */
int thi_curve_ipc_dir(const char *ep, char *why);

#endif /* TH_PROTO_CURVE_H */
