/*
 * tests/plugins/collide.c — plugin "collide", class "Probe": Value ->
 * Value {"value": collide_value()}, the number of whichever private
 * libcollide.so.1 this copy of the plugin bound to.
 */
#include <string.h>

#include "thespian/actor.h"
#include "thespian/json.h"

int collide_value(void);

static int
probe_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    if (strcmp(msg->type, "Value") != 0 || th_addr_is_null(&msg->sender))
        return 0;
    return th_send_json_new(ctx, &msg->sender, "Value",
                            json_pack("{s:i}", "value", collide_value()));
}

static const th_class_t probe = {
    .size = sizeof(th_class_t), .name = "Probe", .receive = probe_receive,
};

TH_PLUGIN_DEFINE(collide, &probe);
