/*
 * tests/plugins/huge_state.c — huge_state.so: a valid class "Huge" whose
 * only defect is a state_size of 1 TiB per actor. The host must refuse the
 * plugin at load time (not fail later at the first create) and name the
 * class and the limit. bad_class.c combines this with a bad name.
 */
#include <stdint.h>

#include "thespian/actor.h"

#if SIZE_MAX <= 0xFFFFFFFFu
#error "huge_state needs a 64-bit size_t for its 1 TiB state_size"
#endif

static int
huge_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return 0;
}

static const th_class_t huge_class = {
    .size = sizeof(th_class_t),
    .name = "Huge",
    .state_size = (size_t)1 << 40,
    .receive = huge_receive,
};

TH_PLUGIN_DEFINE(huge_state, &huge_class);
