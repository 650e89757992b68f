/*
 * tests/unit/sdk/hdr_error.c — compiled with strict ISO C11 flags (see
 * meson.build) and including only thespian/error.h, so the build fails if
 * that header stops compiling on its own. abi_test compares its answers
 * with its own copy of the inline functions.
 */
#include "thespian/error.h"

const char *thi_hdr_error_name(int rc);
const char *thi_hdr_error_text(int rc);

const char *
thi_hdr_error_name(int rc)
{
    return th_errname(rc);
}

const char *
thi_hdr_error_text(int rc)
{
    return th_strerror(rc);
}
