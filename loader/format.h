/*
 * loader/format.h — the .tls bundle format: a zip archive (MANIFEST.json
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
#ifndef TH_LOADER_FORMAT_H
#define TH_LOADER_FORMAT_H

#include <stdint.h>

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

/* Bytes of the trailer but the signature; of a zip end-of-central-directory
 * record without comment. */
#define THI_TRAILER_FIXED 52u
#define THI_EOCD_LEN 22u

/* Room for a name escaped for a diag: 255 bytes, each up to \xHH. */
#define THI_ESC_NAME (4 * 255 + 1)

/* Little-endian fields of the trailer and the zip records. */
static inline uint16_t
thi_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
thi_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void
thi_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void
thi_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#endif /* TH_LOADER_FORMAT_H */
