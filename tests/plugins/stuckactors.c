/*
 * tests/plugins/stuckactors.c — stuckactors.so: an actor whose handler
 * never returns, for the shutdown bound (docs/cli.md, thespiand exit
 * status 3).
 *   Stuck   Hang -> replies Hanging, then sleeps for ever in the handler
 *           anything else -> ignored
 */
#include <string.h>
#include <unistd.h>

#include "thespian/actor.h"

static int
stuck_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    if (strcmp(msg->type, "Hang") != 0)
        return 0;
    th_reply(ctx, msg, "Hanging", "{}", 2);
    for (;;)
        pause(); /* signals go to the host's signal thread, not here */
}

static const th_class_t stuck_class = {
    .size = sizeof(th_class_t),
    .name = "Stuck",
    .receive = stuck_receive,
};

TH_PLUGIN_DEFINE(stuckactors, &stuck_class);
