/*
 * tests/plugins/bad_troupe.c — bad_troupe.so: a well-formed descriptor
 * whose one class is a troupe of max_count 0 (no member could ever take a
 * message). The host must refuse the plugin with a diag naming max_count.
 */
#include "thespian/actor.h"

static int
bad_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return 0;
}

static const th_class_t empty_troupe = {
    .size = sizeof(th_class_t),
    .flags = TH_CLASS_TROUPE,
    .name = "EmptyTroupe",
    .receive = bad_receive,
    .troupe_max = 0,
};

TH_PLUGIN_DEFINE(bad_troupe, &empty_troupe);
