/*
 * tests/plugins/bad_class.c — bad_class.so: a well-formed descriptor whose
 * one class is invalid twice over: its name "bad name!" is not
 * [A-Za-z0-9_], and it asks for 1 TiB of state per actor. The host must
 * refuse the whole plugin (never register a half of it) with a diag that
 * names the class. huge_state.c isolates the state-size check.
 */
#include <stdint.h>

#include "thespian/actor.h"

#if SIZE_MAX <= 0xFFFFFFFFu
#error "bad_class needs a 64-bit size_t for its 1 TiB state_size"
#endif

static int
bad_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return 0;
}

static const th_class_t bad_class = {
    .size = sizeof(th_class_t),
    .name = "bad name!",
    .state_size = (size_t)1 << 40,
    .receive = bad_receive,
};

TH_PLUGIN_DEFINE(bad_class, &bad_class);
