/*
 * base/base64.h — base64 (RFC 4648, standard alphabet, with padding) of
 * bytes, by mbedTLS's encoder and decoder; for payloads shown as text
 * (dead letters, poison messages) and anything else that needs it.
 */
#ifndef TH_BASE_BASE64_H
#define TH_BASE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* thi_base64_encode: NUL-terminated base64 of `len` bytes at `data` (may be
 * NULL when `len` is 0) in *out (returned owned: free()). Returns 0,
 * TH_ENOMEM, or TH_ETOOBIG if the encoding would not fit in a size_t.
 * Thread-safe. */
int thi_base64_encode(char **out, const void *data, size_t len);

/* thi_base64_decode: decode `text_len` chars of base64 at `text` into *out
 * (returned owned: free(); never NULL on success, even for 0 bytes) and
 * *out_len. Line breaks between groups are tolerated (mbedTLS's rule).
 * Returns 0, TH_EFORMAT for an invalid character, bad padding or length, or
 * TH_ENOMEM. On failure *out is NULL. Thread-safe. */
int thi_base64_decode(uint8_t **out, size_t *out_len, const char *text,
                      size_t text_len);

#endif /* TH_BASE_BASE64_H */
