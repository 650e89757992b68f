/*
 * loader/keyring.h — the public keys a verifier trusts, and the policy a
 * key directory must meet before any of its keys is trusted. A host reads
 * its keyring from the operator's director directory at start and on an
 * explicit reload; nothing a message says can add, remove or replace a key.
 */
#ifndef TH_LOADER_KEYRING_H
#define TH_LOADER_KEYRING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "loader/crypto.h"
#include "base/diag.h"

typedef struct thi_keyring thi_keyring_t;

/* Load every "*_tls.key" file of `dir` under the key policy:
 *  - the directory: not a symbolic link, a directory, not group/world-
 *    writable, owned by this process's effective user or root. Otherwise no
 *    key is trusted, and thi_keyring_problem says why;
 *  - each key file, opened without following links: a regular file, not
 *    group/world-writable, owned by this user or root, at most
 *    THI_KEY_FILE_MAX bytes, an RSA public key of THI_KEY_MIN_BITS..
 *    THI_KEY_MAX_BITS bits with exponent THI_KEY_EXPONENT (crypto.h).
 *    Anything else is skipped and listed with its reason.
 * Each problem also adds one line to `warnings` (may be NULL; appended,
 * caller frees) naming the file and why. Returns 0 with *out owned
 * (thi_keyring_destroy) — a directory that fails the policy or cannot be
 * read gives an empty keyring, not an error — or TH_ENOMEM. Blocks on
 * file I/O. Thread-safe. */
int thi_keyring_load_dir(thi_keyring_t **out, const char *dir,
                         char **warnings, th_diag_t *d);

/* An empty keyring to add keys to (tests, tools). Returns 0 or TH_ENOMEM. */
int thi_keyring_create(thi_keyring_t **out);

/* Add a key (taken on success: *key becomes NULL) under a display name
 * (copied). Returns 0 or TH_ENOMEM (the caller still owns the key). */
int thi_keyring_add(thi_keyring_t *kr, thi_key_t **key, const char *name);

/* Number of trusted keys; 0 for NULL. */
size_t thi_keyring_count(const thi_keyring_t *kr);

/* The trusted key whose fingerprint is `fp`, or NULL; *name (may be NULL)
 * gets its display name. Both borrowed from kr. Thread-safe (read-only). */
const thi_key_t *thi_keyring_find(const thi_keyring_t *kr,
                                  const uint8_t fp[THI_SHA256_LEN],
                                  const char **name);

/* Why no key is trusted, for a "no trusted key: ..." refusal: the
 * directory's policy failure, "no *_tls.key file in DIR" or "every key
 * file in DIR was skipped (...)", or "the keyring is empty". Borrowed;
 * "" when keys are trusted. NULL kr: "no key directory is configured". */
const char *thi_keyring_problem(const thi_keyring_t *kr);

/* {"dir": D, "problem": S?, "trusted": [{"file", "fingerprint", "bits"}],
 * "skipped": [{"file", "reason"}]} (new reference, NULL on ENOMEM). The
 * fingerprint is the hex SHA-256 of the DER SubjectPublicKeyInfo
 * (thi_key_fingerprint). NULL kr gives an empty listing. */
json_t *thi_keyring_json(const thi_keyring_t *kr);

/* NULL-safe. */
void thi_keyring_destroy(thi_keyring_t *kr);

#endif /* TH_LOADER_KEYRING_H */
