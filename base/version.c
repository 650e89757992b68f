/* base/version.c — version strings (see version.h). */
#include "base/version.h"

#include <stddef.h>
#include <string.h>

bool
thi_version_ok(const char *s)
{
    size_t n = 0;
    bool field = false;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= 64)
            return false;
        if (c == '.') {
            if (!field)
                return false;
            field = false;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '_' || c == '-') {
            field = true;
        } else {
            return false;
        }
    }
    return field;
}

static bool
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

int
thi_version_cmp(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    for (;;) {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        bool na = all_digits(a, la), nb = all_digits(b, lb);
        int c;
        if (na && nb) {
            while (la > 1 && *a == '0') { /* leading zeros do not count */
                a++;
                la--;
            }
            while (lb > 1 && *b == '0') {
                b++;
                lb--;
            }
            c = la != lb ? (la < lb ? -1 : 1) : memcmp(a, b, la);
        } else if (na != nb) {
            c = na ? -1 : 1;
        } else {
            size_t m = la < lb ? la : lb;
            c = memcmp(a, b, m);
            if (c == 0)
                c = (la > lb) - (la < lb);
        }
        if (c != 0)
            return c < 0 ? -1 : 1;
        a += la;
        b += lb;
        if (*a == '\0' || *b == '\0')
            return (*a != '\0') - (*b != '\0');
        a++;
        b++;
    }
}
