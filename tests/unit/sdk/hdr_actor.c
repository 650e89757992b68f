/*
 * tests/unit/sdk/hdr_actor.c — compiled with strict ISO C11 flags (see
 * meson.build) and including only thespian/actor.h, so the build fails if
 * that header stops compiling on its own. It also expands TH_PLUGIN_DEFINE
 * under those flags; abi_test reads the descriptor back.
 */
#include "thespian/actor.h"

const th_plugin_t *thi_hdr_actor_probe(void);

static int
probe_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return 0;
}

static const th_class_t probe_class = {
    .size = sizeof(th_class_t),
    .name = "Probe",
    .receive = probe_receive,
};

TH_PLUGIN_DEFINE(hdrcheck, &probe_class);

const th_plugin_t *
thi_hdr_actor_probe(void)
{
    return &th_plugin_v1;
}
