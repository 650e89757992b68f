/*
 * loader/bundle.h — the .tls bundle format: a zip archive (MANIFEST.json
 * plus payload files) whose zip comment is a fixed-format signature trailer
 * over every byte before it. Building, verifying (on the raw bytes, before
 * anything parses the archive), reading against the manifest, extracting.
 *
 * The format for people (verifying with openssl alone): docs/bundle-format.md.
 * Trailer layout (permanent, little endian), the last bytes of the file:
 *   0  8  magic "THSPSIG1"
 *   8  2  trailer format version (1)
 *  10  2  reserved, 0
 *  12 32  SHA-256 fingerprint of the signing key (DER SubjectPublicKeyInfo)
 *  44  4  signature length S (the key's modulus length, 256..1024)
 *  48  S  RSA PKCS#1 v1.5 signature over SHA-256 of bytes [0, start)
 *  48+S 4 trailer length (48 + S + 4)
 * The zip's end-of-central-directory record ends just before the trailer
 * and its comment length equals the trailer length, so zip tools list the
 * bundle as an ordinary archive with a binary comment.
 */
#ifndef TH_LOADER_BUNDLE_H
#define TH_LOADER_BUNDLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loader/crypto.h"
#include "loader/diag.h"
#include "loader/keyring.h"

#define THI_BUNDLE_MAGIC "THSPSIG1"
#define THI_BUNDLE_FORMAT 1
#define THI_MANIFEST_NAME "MANIFEST.json"

/* Limits (hostile input): bytes of a bundle file, entries, one file's
 * size, total uncompressed bytes, and the compression ratio. */
#define THI_BUNDLE_MAX_BYTES ((size_t)256 << 20)
#define THI_BUNDLE_MAX_FILES 1000
#define THI_BUNDLE_MAX_FILE ((size_t)256 << 20)
#define THI_BUNDLE_MAX_TOTAL ((size_t)1 << 30)
#define THI_BUNDLE_MAX_RATIO 200
#define THI_MANIFEST_MAX ((size_t)1 << 20)

/* ---- Verification: raw bytes only ---------------------------------------- */

typedef struct thi_verified {
    size_t signed_len;          /* bytes covered by the signature */
    uint8_t fingerprint[32];    /* key that verified it */
    char key_name[256];         /* its file name in the keyring */
    uint8_t source_hash[32];    /* SHA-256 of the whole file */
    char source_hex[65];
} thi_verified_t;

/* The one trailer parser (host, CLI and tests all use it): check the
 * trailer strictly (exact lengths, bounds, known key) and the signature on
 * the raw bytes. Nothing parses the archive before this returns 0; read it
 * only up to out->signed_len. Returns TH_EPERM "no trusted key: ..." when
 * `kr` holds no key (NULL included), TH_EBADSIG (unsigned, malformed
 * trailer, unknown key, bad signature), TH_ETOOBIG. `what` names the
 * bundle in the diag. Pure: thread-safe. */
int thi_bundle_verify(thi_verified_t *out, const uint8_t *buf, size_t len,
                      const thi_keyring_t *kr, const char *what,
                      th_diag_t *d);

/* ---- Reading a verified bundle ----------------------------------------------- */

typedef struct thi_bundle_file {
    char *path;                 /* relative path inside the bundle */
    char *kind;                 /* "plugin", "library" or "data" */
    uint8_t *data;              /* exact bytes, hash-checked; NULL when
                                   skipped (THI_READ_SKIP_DATA) */
    size_t size;
    uint8_t sha256[32];
    const char *plugin;         /* plugins: the descriptor's plugin name
                                   (borrowed from the manifest), else NULL */
    const json_t *classes;      /* plugins: its class names (borrowed) */
    bool skipped;               /* a data file not read: size is the
                                   manifest's, sha256 unset */
} thi_bundle_file_t;

typedef struct thi_bundle {
    json_t *manifest;           /* the parsed manifest (owned) */
    uint8_t *manifest_text;     /* MANIFEST.json's bytes as stored (owned) */
    size_t manifest_len;
    const char *group;          /* borrowed from manifest */
    const char *version;        /* NULL: unversioned */
    const char *info;
    json_t *tli;                /* borrowed; NULL when absent */
    size_t n_files;
    thi_bundle_file_t *files;   /* sorted by path */
} thi_bundle_t;

/* Parse a bundle whose signature thi_bundle_verify accepted: walk the zip
 * structure (stored/deflate only, no encryption, local and central names
 * equal), read every entry with libarchive's seekable zip reader (regular
 * files only; ARCHIVE_WARN is fatal), count and hash the bytes, and require
 * the set of entries — names, sizes, hashes, types — to equal the manifest
 * exactly. Returns 0 with *out owned (thi_bundle_free); TH_EFORMAT,
 * TH_EHASH, TH_ETOOBIG, TH_EINVAL with a diag naming the entry or field. */
int thi_bundle_read(thi_bundle_t **out, const uint8_t *buf, size_t signed_len,
                    const char *what, th_diag_t *d);

/* As thi_bundle_read; with THI_READ_SKIP_DATA, entries the manifest
 * (the archive's first entry, as thi_bundle_build writes it) lists as
 * "data" are neither inflated nor hashed (skipped, data NULL): for a
 * caller that uses only code, such as the host, which maps plugins and
 * libraries and nothing else. The signature still covers their bytes. */
#define THI_READ_SKIP_DATA 1u
int thi_bundle_read_flags(thi_bundle_t **out, const uint8_t *buf,
                          size_t signed_len, unsigned flags, const char *what,
                          th_diag_t *d);

void thi_bundle_free(thi_bundle_t *b);

/* Validate a manifest object (types, names, unknown fields, limits).
 * A "plugin" file entry must carry "plugin" (the descriptor's plugin name)
 * and "classes" (its class names, unique, at least one); other kinds must
 * not. Plugin names are unique in a bundle, and the TLI's "Actors" may
 * name only "PLUGIN.CLASS" pairs the entries declare, so what a bundle
 * will run is known before anything of it is mapped. Exposed for tests
 * and for gensrc. */
int thi_manifest_check(const json_t *m, const char *what, th_diag_t *d);

/* Check a group name / version string for well-formedness. */
bool thi_group_name_ok(const char *s);
/* NULL when `s` is a valid group name, else why not ("contains a control
 * character", "is not valid UTF-8", ...), for a diag. */
const char *thi_group_name_problem(const char *s);
bool thi_version_ok(const char *s);

/* Compare versions field by field on '.': numeric fields numerically,
 * others bytewise; a numeric field sorts before a non-numeric one; a prefix
 * sorts first. NULL (unversioned) sorts before every version. */
int thi_version_cmp(const char *a, const char *b);

/* ---- Building ---------------------------------------------------------------- */

typedef struct thi_bundle_input {
    const char *path;           /* path inside the bundle */
    const char *kind;           /* plugin | library | data */
    const uint8_t *data;        /* borrowed */
    size_t size;
    /* plugins only: the descriptor's plugin name and its class names
     * (NULL-terminated), recorded in the signed manifest; borrowed */
    const char *plugin;
    const char *const *classes;
} thi_bundle_input_t;

/* Build a signed bundle: MANIFEST.json (from the fields given plus the
 * files' paths, sizes, hashes and kinds) and the files, sorted, with fixed
 * timestamps, owners and modes, deflated; then the signed trailer. The same
 * inputs give the same bytes. `tli` may be NULL; `version` NULL means an
 * unversioned bundle. Returns 0 with *out (malloc'd, caller frees). */
int thi_bundle_build(uint8_t **out, size_t *out_len, const char *group,
                     const char *version, const char *info,
                     const json_t *tli, const thi_bundle_input_t *files,
                     size_t n_files, const thi_key_t *key, th_diag_t *d);

/* Turn a finished zip (ending in an end record without comment) into a
 * bundle: the signed trailer becomes its comment. Used by
 * thi_bundle_build, and by tests that sign archives they crafted. */
int thi_bundle_seal(uint8_t **out, size_t *out_len, const uint8_t *zip,
                    size_t zlen, const thi_key_t *key, th_diag_t *d);

/* ---- Files ------------------------------------------------------------------- */

/* Read a whole regular file of at most `max` bytes (refuses directories,
 * FIFOs, devices, larger files) into *out (malloc'd). */
int thi_read_file(uint8_t **out, size_t *len, const char *path, size_t max,
                  th_diag_t *d);

/* Write `len` bytes to `path` atomically: a temporary file in the same
 * directory, fsync, rename. Mode 0644. */
int thi_write_file_atomic(const char *path, const uint8_t *data, size_t len,
                          th_diag_t *d);

#endif /* TH_LOADER_BUNDLE_H */
