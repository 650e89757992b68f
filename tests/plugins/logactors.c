/*
 * tests/plugins/logactors.c — logactors.so: an actor that logs on request,
 * for the logging tests (tests/unit/logging.c, tests/integration/
 * logging_test.c).
 *
 *   Logger  Log {"level": N, "text": S, "n": K} -> th_log at level N, K
 *           times (default 1) with S (and " #i" when K > 1), then replies
 *           Logged {"n": K} to the sender
 */
#include <stdio.h>
#include <string.h>

#include "thespian/actor.h"
#include "thespian/json.h"

static int
logger_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    if (strcmp(msg->type, "Log") != 0)
        return 0;
    json_t *o = th_msg_json(msg);
    int level = (int)json_integer_value(json_object_get(o, "level"));
    const char *text = json_string_value(json_object_get(o, "text"));
    json_int_t n = json_object_get(o, "n")
                       ? json_integer_value(json_object_get(o, "n"))
                       : 1;
    for (json_int_t i = 0; i < n; i++) {
        if (n > 1)
            th_log(ctx, level, "%s #%lld", text ? text : "", (long long)i);
        else
            th_log(ctx, level, "%s", text ? text : "");
    }
    json_decref(o);
    if (!th_addr_is_null(&msg->sender))
        th_send_json_new(ctx, &msg->sender, "Logged",
                         json_pack("{s:I}", "n", (json_int_t)n));
    return 0;
}

static const th_class_t logger = {
    .size = sizeof(th_class_t), .name = "Logger", .receive = logger_receive,
};

TH_PLUGIN_DEFINE(logactors, &logger);
