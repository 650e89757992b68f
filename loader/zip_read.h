/*
 * loader/zip_read.h — reading a bundle whose signature verified: the zip
 * structure walked on the signed bytes, every entry read and checked
 * against the signed manifest.
 */
#ifndef TH_LOADER_ZIP_READ_H
#define TH_LOADER_ZIP_READ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

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

#endif /* TH_LOADER_ZIP_READ_H */
