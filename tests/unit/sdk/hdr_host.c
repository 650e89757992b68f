/*
 * tests/unit/sdk/hdr_host.c — compiled with strict ISO C11 flags and only
 * the SDK's include directory (see meson.build), including only the
 * embeddable runtime's header, so the build fails if host.h needs anything
 * but the public headers (it is installed as <thespian/host.h>).
 */
#include "../../../host/host.h"

int thi_hdr_host_diag_size(void);

int
thi_hdr_host_diag_size(void)
{
    th_diag_t d = {0};
    return (int)sizeof d.msg;
}
