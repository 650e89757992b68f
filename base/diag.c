/* base/diag.c — filling th_diag_t (see diag.h). */
#include "base/diag.h"

#include <stdarg.h>
#include <stdio.h>

void
thi_diag_clear(th_diag_t *d)
{
    if (d == NULL)
        return;
    d->code = 0;
    d->msg[0] = '\0';
}

int
thi_diag_set(th_diag_t *d, int code, const char *fmt, ...)
{
    if (d == NULL || d->code != 0)
        return code;
    d->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    return code;
}
