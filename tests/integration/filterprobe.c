/*
 * tests/integration/filterprobe.c — filterprobe.so: one actor class for
 * the admin endpoint's filter test. An actor may send an outside context
 * only the runtime types user code may send (ActorExitRequest,
 * Thespian_StatusReq, ValidatedSource); the host must not show those to
 * the client, while PoisonMessage and status replies do pass.
 *
 *   Sender  Send {"type": T}  -> a message of type T (body {}) to the
 *                               sender, then Sent {"type": T, "rc": RC}
 *                               (RC: what th_send returned for T)
 */
#include <string.h>

#include "thespian/actor.h"
#include "thespian/json.h"

static int
sender_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    if (strcmp(msg->type, "Send") != 0 || th_addr_is_null(&msg->sender))
        return 0; /* runtime messages and the rest: nothing to say */
    json_t *req = th_msg_json(msg);
    const char *type = json_string_value(json_object_get(req, "type"));
    int rc = type ? th_send(ctx, &msg->sender, type, "{}", 2) : TH_EINVAL;
    json_t *out = json_pack("{s:s, s:i}", "type", type ? type : "", "rc", rc);
    json_decref(req);
    rc = th_send_json_new(ctx, &msg->sender, "Sent", out);
    if (rc != 0)
        th_log(ctx, TH_LOG_WARNING, "filterprobe: Sent not sent: %s",
               th_strerror(rc));
    return 0;
}

static const th_class_t sender_class = {
    .size = sizeof(th_class_t),
    .name = "Sender",
    .receive = sender_receive,
};

TH_PLUGIN_DEFINE(filterprobe, &sender_class);
