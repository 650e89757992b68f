/*
 * tests/unit/sdk/hdr_client.c — compiled with strict ISO C11 flags (see
 * meson.build), including only thespian/client.h: the client header
 * compiles on its own, and its error type is the common th_diag_t, so one
 * diagnostic passes between host-side and client-side code (assigning the
 * pointers below does not compile when they are two types).
 */
#include <string.h>

#include "thespian/client.h"

int thi_hdr_client_diag(void);

int
thi_hdr_client_diag(void)
{
    th_client_error_t e;
    memset(&e, 0, sizeof e);
    th_diag_t *d = &e;                /* the same type ... */
    th_client_error_t *back = d;
    back->code = TH_EINVAL;
    strcpy(e.message, "bad endpoint"); /* ... and the old field name */
    return d->code == TH_EINVAL && strcmp(d->msg, "bad endpoint") == 0 &&
           sizeof e == sizeof(th_diag_t);
}
