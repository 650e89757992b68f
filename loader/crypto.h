/*
 * loader/crypto.h — the one wrapper over mbedTLS that the rest of thespian-c
 * uses for SHA-256, RSA keys (load, generate, write, fingerprint), bundle
 * signatures (RSA PKCS#1 v1.5 over SHA-256, fixed in code). Base64 is in
 * base/base64.h.
 * Callers never see mbedTLS types or error codes: only TH_E* codes and diags.
 */
#ifndef TH_LOADER_CRYPTO_H
#define TH_LOADER_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#include "base/diag.h"

/* Length of a SHA-256 digest, and so of a key fingerprint, in bytes. */
#define THI_SHA256_LEN 32

/* RSA modulus limits for every key we load or generate. The minimum is
 * policy (DESIGN.md §6); the maximum bounds the cost of one verify and is
 * mbedTLS's default MBEDTLS_MPI_MAX_BITS. */
#define THI_KEY_MIN_BITS 2048u
#define THI_KEY_MAX_BITS 8192u

/* The only RSA public exponent accepted or generated. */
#define THI_KEY_EXPONENT 65537u

/* Largest signature any accepted key makes: modulus bytes at the maximum. */
#define THI_SIG_MAX_LEN (THI_KEY_MAX_BITS / 8u)

/* Key files larger than this are refused unread: a 8192-bit private key in
 * PEM is under 7 KiB. */
#define THI_KEY_FILE_MAX (64u * 1024u)

/* ------------------------------------------------------------------------ */
/* SHA-256                                                                   */

/* Streaming SHA-256 state, allocated by the caller (stack or inside another
 * struct). Treat the fields as private: use only the functions below. */
typedef struct thi_sha256 {
    struct sha256_ctx ctx_; /* Nettle's: a plain struct, copyable */
    int err_;               /* kept for the API: Nettle cannot fail */
} thi_sha256_t;

/* thi_sha256: one-shot SHA-256 of `len` bytes at `data` into `out`.
 * `data` may be NULL when `len` is 0. Returns 0 (TH_EIO is reserved for a
 * backend that can fail; Nettle's cannot).
 * All pointers borrowed. Thread-safe, does not block. */
int thi_sha256(uint8_t out[THI_SHA256_LEN], const void *data, size_t len);

/* thi_sha256_init: start a new hash in `s`. Cannot fail (a backend failure
 * is remembered and returned by thi_sha256_final). Pair with
 * thi_sha256_final, or thi_sha256_fini to abandon the hash. */
void thi_sha256_init(thi_sha256_t *s);

/* thi_sha256_update: feed `len` bytes at `data` (may be NULL when `len` is
 * 0). Chunks may have any size; the result equals the one-shot hash of the
 * concatenation. Pointers borrowed. `s` must not be shared between threads
 * without a lock; distinct states are independent. */
void thi_sha256_update(thi_sha256_t *s, const void *data, size_t len);

/* thi_sha256_final: write the digest to `out` and release `s` (it must be
 * re-initialised before reuse). Returns 0, or TH_EIO if any step failed in
 * the backend; `out` is then zeroed. */
int thi_sha256_final(uint8_t out[THI_SHA256_LEN], thi_sha256_t *s);

/* thi_sha256_fini: release `s` without producing a digest (error paths).
 * Safe on NULL and on a state already finalised. */
void thi_sha256_fini(thi_sha256_t *s);

/* thi_hex: write the lowercase hex of `n` bytes to `out`, which must hold
 * 2n+1 chars; always NUL-terminates. Pointers borrowed. Thread-safe. */
void thi_hex(char *out, const uint8_t *bytes, size_t n);

/* ------------------------------------------------------------------------ */
/* RSA keys                                                                  */

/* An RSA key, public or private, of THI_KEY_MIN_BITS..THI_KEY_MAX_BITS bits.
 * Immutable once created: any number of threads may use one key at once for
 * thi_verify, thi_sign and the accessors (signing is serialised per key
 * internally). Heap object: release with thi_key_destroy. */
typedef struct thi_key thi_key_t;

/* thi_key_destroy: free `key` and wipe its secret material. NULL is a no-op.
 * The caller must ensure no other thread still uses the key. */
void thi_key_destroy(thi_key_t *key);

/* thi_key_generate: make a new RSA private key of `bits` bits, public
 * exponent 65537, from a CTR-DRBG seeded by the system entropy source.
 * Returns 0 with *out set (returned owned: thi_key_destroy), or
 *   TH_EINVAL  bits < THI_KEY_MIN_BITS, > THI_KEY_MAX_BITS, or odd;
 *   TH_ENOMEM  out of memory;
 *   TH_EIO     entropy or key generation failed.
 * On failure *out is NULL and `d` says why. Blocks for the generation
 * (0.1 s to a few seconds for 2048 bits). Thread-safe. */
int thi_key_generate(thi_key_t **out, unsigned bits, th_diag_t *d);

/* thi_key_write_private_pem: PEM text of a private key, PKCS#1
 * ("-----BEGIN RSA PRIVATE KEY-----"), NUL-terminated, in *out_pem
 * (returned owned: free(); it is secret, so wipe it first).
 * Returns 0, TH_EINVAL if `key` has no private part, TH_ENOMEM, or TH_EIO if
 * mbedTLS cannot encode it. `key` borrowed. Thread-safe. */
int thi_key_write_private_pem(const thi_key_t *key, char **out_pem,
                              th_diag_t *d);

/* thi_key_write_public_pem: the public part of `key` (public or private) as
 * a SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----", what
 * `openssl rsa -pubout` writes), NUL-terminated, in *out_pem (returned
 * owned: free()). Returns 0, TH_ENOMEM or TH_EIO. Thread-safe. */
int thi_key_write_public_pem(const thi_key_t *key, char **out_pem,
                             th_diag_t *d);

/* thi_key_load_public: parse `len` bytes of PEM text at `pem` (a trailing
 * NUL is allowed, none is needed) holding exactly an RSA public key:
 * "BEGIN PUBLIC KEY" (SubjectPublicKeyInfo) or "BEGIN RSA PUBLIC KEY".
 * `name` (may be NULL) names the input in the diag, e.g. the file path.
 * Returns 0 with *out set (returned owned: thi_key_destroy), or
 *   TH_EFORMAT  empty, not PEM, malformed or truncated PEM / DER;
 *   TH_EINVAL   a private key, a non-RSA key, a key outside
 *               THI_KEY_MIN_BITS..THI_KEY_MAX_BITS bits, or a public
 *               exponent other than THI_KEY_EXPONENT;
 *   TH_ENOMEM   out of memory.
 * On failure *out is NULL and `d` names `name` and the reason. Pointers
 * borrowed. Thread-safe, does not block. */
int thi_key_load_public(thi_key_t **out, const char *pem, size_t len,
                        const char *name, th_diag_t *d);

/* thi_key_load_private: as thi_key_load_public, for an unencrypted RSA
 * private key in PKCS#1 ("BEGIN RSA PRIVATE KEY", older `openssl genrsa`)
 * or PKCS#8 ("BEGIN PRIVATE KEY", OpenSSL 3) PEM. The key's consistency is
 * checked. TH_EINVAL also covers a public key and an encrypted private key.
 * Internal copies of the text are wiped before they are freed. */
int thi_key_load_private(thi_key_t **out, const char *pem, size_t len,
                         const char *name, th_diag_t *d);

/* thi_key_load_public_file / thi_key_load_private_file: read the file at
 * `path` and load it as above, naming `path` in the diag. Only regular files
 * of at most THI_KEY_FILE_MAX bytes are read (a FIFO is never opened for
 * blocking reads). Extra codes:
 *   TH_ENOENT  no such file;
 *   TH_EINVAL  a directory, FIFO, device or socket;
 *   TH_ETOOBIG larger than THI_KEY_FILE_MAX;
 *   TH_EIO     open or read failed otherwise (strerror text in the diag).
 * Blocks on file I/O. Thread-safe. */
int thi_key_load_public_file(thi_key_t **out, const char *path, th_diag_t *d);
int thi_key_load_private_file(thi_key_t **out, const char *path, th_diag_t *d);

/* thi_key_bits: size of the RSA modulus in bits. Thread-safe. */
unsigned thi_key_bits(const thi_key_t *key);

/* thi_key_sig_len: size of the modulus in bytes, which is the exact length
 * of every signature this key makes or accepts. Thread-safe. */
size_t thi_key_sig_len(const thi_key_t *key);

/* thi_key_has_private: whether `key` can sign. Thread-safe. */
bool thi_key_has_private(const thi_key_t *key);

/* thi_key_fingerprint: SHA-256 of the DER SubjectPublicKeyInfo of the
 * public part of `key` (computed once at load), so a private key and its
 * public key have the same fingerprint, and it equals
 * `openssl pkey -pubin -outform DER | sha256sum`. Cannot fail. Thread-safe. */
void thi_key_fingerprint(uint8_t out[THI_SHA256_LEN], const thi_key_t *key);

/* ------------------------------------------------------------------------ */
/* Signatures: RSA PKCS#1 v1.5 over SHA-256 only                             */

/* thi_sign: sign the SHA-256 digest `hash` with the private key `priv`,
 * writing thi_key_sig_len(priv) bytes to `sig` and that length to *sig_len.
 * PKCS#1 v1.5 is deterministic: the same key and hash always give the same
 * bytes (RNG-driven blinding inside mbedTLS does not change the output).
 * Returns 0, or
 *   TH_EINVAL  `priv` has no private part, or sig_cap < thi_key_sig_len;
 *   TH_EIO     RNG seeding or the RSA operation failed;
 *   TH_ENOMEM  out of memory.
 * Pointers borrowed. Thread-safe; concurrent signs with one key are
 * serialised on that key. Does not block beyond the RSA computation. */
int thi_sign(uint8_t *sig, size_t sig_cap, size_t *sig_len,
             const thi_key_t *priv, const uint8_t hash[THI_SHA256_LEN],
             th_diag_t *d);

/* thi_verify: check that `sig` (sig_len bytes; may be NULL when sig_len is
 * 0) is a PKCS#1 v1.5 SHA-256 signature of the digest `hash` by `pub` (a
 * public or private key). The algorithm is fixed here, never taken from
 * input. A signature whose length is not exactly thi_key_sig_len(pub) is
 * refused before any RSA arithmetic. Returns 0, TH_EBADSIG (with a diag
 * naming the key's fingerprint and the reason), or TH_ENOMEM. Pointers
 * borrowed. Thread-safe, also on one shared key: the only state a public
 * operation caches in the key is filled in when the key is created. */
int thi_verify(const thi_key_t *pub, const uint8_t hash[THI_SHA256_LEN],
               const uint8_t *sig, size_t sig_len, th_diag_t *d);

#endif /* TH_LOADER_CRYPTO_H */
