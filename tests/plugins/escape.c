/*
 * tests/plugins/escape.c — a well-formed plugin that reaches outside its
 * bundle: built with an RPATH/RUNPATH of /tmp and a NEEDED library
 * (libthescape.so) no bundle carries (tests/plugins/meson.build). The
 * host and gensrc must refuse it before it is mapped. Also built with an
 * RPATH of $ORIGIN/../lib, which leaves a bundle from its top directory.
 */
#include "thespian/actor.h"

int thescape_value(void);

static int
escape_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    (void)msg;
#ifdef ESCAPE_NEEDS_LIB
    return thescape_value() == 42 ? 0 : TH_EFAIL; /* keeps the NEEDED */
#else
    (void)ctx;
    return 0;
#endif
}

static const th_class_t escape_class = {
    .size = sizeof(th_class_t),
    .name = "Escape",
    .receive = escape_receive,
};

TH_PLUGIN_DEFINE(escape, &escape_class);
