/*
 * loader/verify.h — a bundle's signature trailer checked on the raw bytes
 * (layout in loader/format.h), before anything parses the archive.
 */
#ifndef TH_LOADER_VERIFY_H
#define TH_LOADER_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "loader/keyring.h"

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

#endif /* TH_LOADER_VERIFY_H */
