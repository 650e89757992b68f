/*
 * base/text.c — escaping outside text for terminals and logs, and the
 * shared name rule (see text.h).
 */
#include "base/text.h"

#include <string.h>

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * form, no surrogate, nothing past U+10FFFF) and its code point, or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t avail, unsigned long *cp)
{
    unsigned char c = p[0];
    size_t n;
    unsigned long v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

static bool
is_control(unsigned long cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

/* Append `s` (n bytes) if it fits whole; *used counts what is needed. */
static void
put(char *out, size_t size, size_t *used, bool *full, const char *s,
    size_t n)
{
    if (!*full && *used + n < size)
        memcpy(out + *used, s, n);
    else
        *full = true; /* cut at a whole piece: nothing after it either */
    *used += n;
}

size_t
thi_text_escape(char *out, size_t size, const char *in, size_t len,
                unsigned flags)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)in;
    size_t used = 0, written = 0;
    bool full = false;
    for (size_t i = 0; i < len;) {
        unsigned long cp = 0;
        size_t n = utf8_seq(p + i, len - i, &cp);
        char esc[4 * 4];
        size_t en = 0;
        if (n == 0 || is_control(cp)) {
            /* each byte of an invalid or control sequence on its own */
            size_t k = n ? n : 1;
            for (size_t j = 0; j < k; j++) {
                unsigned char b = p[i + j];
                const char *named = b == '\n' ? "\\n"
                                    : b == '\r' ? "\\r"
                                    : b == '\t' ? "\\t"
                                                : NULL;
                if (named) {
                    memcpy(esc + en, named, 2);
                    en += 2;
                } else {
                    esc[en++] = '\\';
                    esc[en++] = 'x';
                    esc[en++] = hex[b >> 4];
                    esc[en++] = hex[b & 15];
                }
            }
            n = k;
        } else if ((flags & THI_TEXT_QUOTE) && (cp == '\\' || cp == '"')) {
            esc[0] = '\\';
            esc[1] = (char)cp;
            en = 2;
        } else {
            memcpy(esc, p + i, n);
            en = n;
        }
        put(out, size, &used, &full, esc, en);
        if (!full)
            written = used;
        i += n;
    }
    if (size > 0)
        out[written < size ? written : size - 1] = '\0';
    return used;
}

const char *
thi_text_esc(char *buf, size_t size, const char *s)
{
    if (s == NULL)
        s = "(null)";
    thi_text_escape(buf, size, s, strlen(s), THI_TEXT_QUOTE);
    return buf;
}

bool
thi_text_clean(const char *in, size_t len)
{
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < len;) {
        if (p[i] >= 0x20 && p[i] < 0x7f) { /* the common case */
            i++;
            continue;
        }
        unsigned long cp;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0 || is_control(cp))
            return false;
        i += n;
    }
    return true;
}

bool
thi_text_utf8_valid(const char *in, size_t len)
{
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < len;) {
        unsigned long cp;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

const char *
thi_text_name_problem(const char *s, size_t max)
{
    if (s == NULL || s[0] == '\0')
        return "is empty";
    size_t len = strlen(s);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned long cp;
        size_t n = utf8_seq(p + i, len - i, &cp);
        if (n == 0)
            return "is not valid UTF-8";
        if (is_control(cp))
            return "contains a control character";
        i += n;
    }
    if (max && len > max)
        return "is longer than the limit";
    return NULL;
}
