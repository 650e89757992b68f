/* base/base64.c — base64 through mbedTLS's documented encoder and decoder
 * (see base64.h). */
#include "base/base64.h"

#include <assert.h>
#include <stdlib.h>

#include <mbedtls/version.h> /* the build configuration, 2.x and 3.x */

#include <mbedtls/base64.h>

#if !defined(MBEDTLS_BASE64_C)
#error "mbedTLS is built without base64 (MBEDTLS_BASE64_C)"
#endif

#include "thespian/error.h"

int
thi_base64_encode(char **out, const void *data, size_t len)
{
    size_t need = 0;

    assert(out != NULL && (data != NULL || len == 0));
    *out = NULL;
    /* A NULL destination makes mbedTLS report the size it needs,
     * terminating NUL included, or SIZE_MAX when that would overflow. */
    int ret = mbedtls_base64_encode(NULL, 0, &need, data, len);
    if (ret != 0 && ret != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
        return TH_EIO;
    if (need == (size_t)-1)
        return TH_ETOOBIG;
    if (need == 0)
        need = 1;
    char *s = malloc(need);
    if (s == NULL)
        return TH_ENOMEM;
    size_t written = 0;
    s[0] = '\0';
    if (len > 0 && mbedtls_base64_encode((unsigned char *)s, need, &written,
                                         data, len) != 0) {
        free(s);
        return TH_EIO;
    }
    *out = s;
    return 0;
}

int
thi_base64_decode(uint8_t **out, size_t *out_len, const char *text,
                  size_t text_len)
{
    size_t need = 0;

    assert(out != NULL && out_len != NULL && (text != NULL || text_len == 0));
    *out = NULL;
    *out_len = 0;
    /* mbedTLS 2.28 silently drops a trailing partial group ("Zm9vY"
     * decodes to "foo"), so a truncated text would pass: insist on whole
     * 4-character groups, not counting the line breaks mbedTLS skips. */
    size_t chars = 0;
    for (size_t i = 0; i < text_len; i++)
        if (text[i] != '\n' && text[i] != '\r' && text[i] != ' ')
            chars++;
    if (chars % 4 != 0)
        return TH_EFORMAT;
    /* The sizing pass also validates every character and the padding. */
    int ret = mbedtls_base64_decode(NULL, 0, &need, (const unsigned char *)text,
                                    text_len);
    if (ret == MBEDTLS_ERR_BASE64_INVALID_CHARACTER)
        return TH_EFORMAT;
    if (ret != 0 && ret != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
        return TH_EIO;
    uint8_t *buf = malloc(need > 0 ? need : 1);
    if (buf == NULL)
        return TH_ENOMEM;
    size_t got = 0;
    if (need > 0) {
        ret = mbedtls_base64_decode(buf, need, &got,
                                    (const unsigned char *)text, text_len);
        if (ret != 0) {
            free(buf);
            return ret == MBEDTLS_ERR_BASE64_INVALID_CHARACTER ? TH_EFORMAT
                                                               : TH_EIO;
        }
    }
    *out = buf;
    *out_len = got;
    return 0;
}
