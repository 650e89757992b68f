/*
 * loader/verify.c — the one trailer parser (see verify.h). The trailer and
 * signature are checked on the raw bytes before libarchive sees any of
 * them, so a parser bug cannot be reached by an unsigned file.
 */
#include "loader/verify.h"

#include <stdio.h>
#include <string.h>

#include "loader/crypto.h"
#include "loader/format.h"
#include "thespian/error.h"

int
thi_bundle_verify(thi_verified_t *out, const uint8_t *buf, size_t len,
                  const thi_keyring_t *kr, const char *what, th_diag_t *d)
{
    memset(out, 0, sizeof *out);
    /* secure by default: with no key there is nothing to verify against,
     * and the reason is the operator's to fix, not the bundle's */
    if (thi_keyring_count(kr) == 0)
        return thi_diag_set(d, TH_EPERM, "%s: no trusted key: %s", what,
                            thi_keyring_problem(kr));
    if (len > THI_BUNDLE_MAX_BYTES)
        return thi_diag_set(d, TH_ETOOBIG,
                            "%s: %zu bytes is over the bundle limit of %zu",
                            what, len, THI_BUNDLE_MAX_BYTES);
    if (len < THI_EOCD_LEN + THI_TRAILER_FIXED + 256)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: unsigned or truncated: too short for a "
                            "signature trailer",
                            what);
    uint32_t tlen = thi_le32(buf + len - 4);
    if (tlen < THI_TRAILER_FIXED + 256 || tlen > THI_TRAILER_FIXED + 1024 ||
        tlen > len - THI_EOCD_LEN)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: unsigned or malformed: trailer length %u is "
                            "out of bounds",
                            what, tlen);
    size_t start = len - tlen;
    const uint8_t *t = buf + start;
    if (memcmp(t, THI_BUNDLE_MAGIC, 8) != 0)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: unsigned: no signature trailer magic", what);
    if (thi_le16(t + 8) != THI_BUNDLE_FORMAT || thi_le16(t + 10) != 0)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: trailer format %u is not supported", what,
                            thi_le16(t + 8));
    uint32_t slen = thi_le32(t + 44);
    if (slen + THI_TRAILER_FIXED != tlen)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: signature length %u does not match the "
                            "trailer length %u",
                            what, slen, tlen);
    /* the zip's end record must end exactly where the trailer begins and
     * claim it as its comment: nothing can hide between the two */
    const uint8_t *eocd = buf + start - THI_EOCD_LEN;
    if (thi_le32(eocd) != 0x06054b50u || thi_le16(eocd + 20) != tlen)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: the archive's end record does not enclose "
                            "the signature trailer",
                            what);
    const char *key_name = NULL;
    const thi_key_t *key = thi_keyring_find(kr, t + 12, &key_name);
    if (key == NULL) {
        char hex[65];
        thi_hex(hex, t + 12, 32);
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: signed by an unknown key sha256:%.16s (%zu "
                            "trusted keys)",
                            what, hex, thi_keyring_count(kr));
    }
    /* one pass over the signed part gives both digests' common prefix */
    uint8_t digest[32];
    thi_sha256_t s;
    thi_sha256_init(&s);
    thi_sha256_update(&s, buf, start);
    thi_sha256_t whole = s;
    int rc = thi_sha256_final(digest, &s);
    thi_sha256_update(&whole, buf + start, tlen);
    if (rc == 0)
        rc = thi_sha256_final(out->source_hash, &whole);
    else
        thi_sha256_fini(&whole);
    if (rc != 0)
        return thi_diag_set(d, TH_EIO, "%s: hashing failed", what);
    th_diag_t vd = {0};
    if (thi_verify(key, digest, t + 48, slen, &vd) != 0)
        return thi_diag_set(d, TH_EBADSIG,
                            "%s: signature does not verify with key %s: %s",
                            what, key_name, vd.msg);
    out->signed_len = start;
    memcpy(out->fingerprint, t + 12, 32);
    snprintf(out->key_name, sizeof out->key_name, "%s", key_name);
    thi_hex(out->source_hex, out->source_hash, 32);
    return 0;
}
