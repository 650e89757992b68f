/*
 * tests/plugins/thespactors.c — thespactors.so: classes for the behaviours
 * taken from Thespian's own test suite (tests/unit/host/thespian_test.c,
 * tests/integration/thespian_test.c). Bodies are JSON; replies go to the
 * sender.
 *
 *   Tool          Ping -> Pong {"wakeups": N}; Wake {"ms"} -> Armed (a
 *                 WakeupMessage after ms); SendExit -> an ActorExitRequest
 *                 to the sender, then Done; Relay {"to", "type", "body"}
 *                 sends body as `type` to `to`; Set {"v"} / Get -> Value
 *                 {"v"}; Who -> Me {"name", "name_rc", "small_rc",
 *                 "needed", "requirements"}; Register -> Registered (a
 *                 dead-letter handler whose DeadEnvelopes go to the
 *                 registering sender as GotDead, body unchanged)
 *   Intermittent  Work fails every other attempt (its state counts them),
 *                 else -> Done {"attempts"} (test_badmessage test03)
 *   Sour          Kick {"to"} sends Bad to `to`; Count -> Counted {"n"};
 *                 fails on everything else, PoisonMessage included
 *   Trans         a Tool, transient: exits 150 ms after its first message
 *   HueCheck      a Tool whose capability check accepts exactly the
 *                 requirements {"hue": "red"}, whatever the capabilities
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "thespian/actor.h"
#include "thespian/json.h"

typedef struct {
    int wakeups;
    json_int_t v;
    int attempts;
    int seen;
    th_addr_t dl_watcher;
} thesp_state_t;

static int
reply(th_ctx_t *ctx, const th_msg_t *msg, const char *type, json_t *body)
{
    if (th_addr_is_null(&msg->sender)) {
        json_decref(body);
        return 0;
    }
    return th_send_json_new(ctx, &msg->sender, type, body);
}

static int
who(th_ctx_t *ctx, const th_msg_t *msg)
{
    char name[300], small[2], reqs[512];
    size_t needed = 0, small_needed = 0;
    int name_rc = th_global_name(ctx, name, sizeof name, &needed);
    int small_rc = th_global_name(ctx, small, sizeof small, &small_needed);
    int req_rc = th_requirements(ctx, reqs, sizeof reqs, NULL);
    json_t *r = json_loads(req_rc == 0 ? reqs : "null", JSON_DECODE_ANY,
                           NULL);
    return reply(ctx, msg, "Me",
                 json_pack("{s:s?, s:i, s:i, s:I, s:o}", "name",
                           name_rc == 0 ? name : NULL, "name_rc", name_rc,
                           "small_rc", small_rc, "needed",
                           (json_int_t)small_needed, "requirements",
                           r ? r : json_null()));
}

static int
relay(th_ctx_t *ctx, const th_msg_t *msg)
{
    json_t *o = th_msg_json(msg);
    th_addr_t to;
    const char *type = json_string_value(json_object_get(o, "type"));
    int rc = th_addr_parse(ctx, &to,
                           json_string_value(json_object_get(o, "to")));
    if (rc == 0 && type)
        rc = th_send_json(ctx, &to, type, json_object_get(o, "body"));
    json_decref(o);
    return rc < 0 ? th_fail(ctx, "Relay: bad target or type") : 0;
}

static int
tool_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    thesp_state_t *st = state;
    const char *t = msg->type;
    if (strcmp(t, "Ping") == 0)
        return reply(ctx, msg, "Pong", json_pack("{s:i}", "wakeups",
                                                  st->wakeups));
    if (strcmp(t, TH_MSG_WAKEUP) == 0) {
        st->wakeups++;
        return 0;
    }
    if (strcmp(t, "Wake") == 0) {
        json_t *o = th_msg_json(msg);
        int ms = (int)json_integer_value(json_object_get(o, "ms"));
        json_decref(o);
        int rc = th_wakeup_after(ctx, (uint32_t)ms, "w", 1);
        return reply(ctx, msg, "Armed", json_pack("{s:i}", "rc", rc));
    }
    if (strcmp(t, "SendExit") == 0) {
        th_exit_request(ctx, &msg->sender, true);
        return reply(ctx, msg, "Done", json_object());
    }
    if (strcmp(t, "Relay") == 0)
        return relay(ctx, msg);
    if (strcmp(t, "Set") == 0) {
        json_t *o = th_msg_json(msg);
        st->v = json_integer_value(json_object_get(o, "v"));
        json_decref(o);
        return 0;
    }
    if (strcmp(t, "Get") == 0)
        return reply(ctx, msg, "Value", json_pack("{s:I}", "v", st->v));
    if (strcmp(t, "Who") == 0)
        return who(ctx, msg);
    if (strcmp(t, "Register") == 0) {
        st->dl_watcher = msg->sender;
        int rc = th_handle_dead_letters(ctx, true);
        return reply(ctx, msg, "Registered", json_pack("{s:i}", "rc", rc));
    }
    if (strcmp(t, TH_MSG_DEAD_ENVELOPE) == 0)
        return th_send(ctx, &st->dl_watcher, "GotDead", msg->data, msg->len);
    return 0;
}

static int
intermittent_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    thesp_state_t *st = state;
    if (strcmp(msg->type, "Work") != 0)
        return 0;
    if (st->attempts++ % 2 == 0)
        return th_fail(ctx, "intermittently bad");
    return reply(ctx, msg, "Done", json_pack("{s:i}", "attempts",
                                              st->attempts));
}

static int
sour_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    thesp_state_t *st = state;
    if (strcmp(msg->type, "Kick") == 0) {
        json_t *o = th_msg_json(msg);
        th_addr_t to;
        int rc = th_addr_parse(ctx, &to,
                               json_string_value(json_object_get(o, "to")));
        json_decref(o);
        return rc == 0 ? th_send_str(ctx, &to, "Bad", "{}") : rc;
    }
    if (strcmp(msg->type, "Count") == 0)
        return reply(ctx, msg, "Counted", json_pack("{s:i}", "n", st->seen));
    st->seen++;
    return th_fail(ctx, "Sour fails on everything");
}

static bool
hue_check(const char *caps_json, const char *requirements_json)
{
    (void)caps_json;
    json_t *r = json_loads(requirements_json, 0, NULL);
    const char *hue = json_string_value(json_object_get(r, "hue"));
    bool ok = hue && strcmp(hue, "red") == 0 && json_object_size(r) == 1;
    json_decref(r);
    return ok;
}

static const th_class_t tool = {
    .size = sizeof(th_class_t), .name = "Tool",
    .state_size = sizeof(thesp_state_t), .receive = tool_receive,
};
static const th_class_t intermittent = {
    .size = sizeof(th_class_t), .name = "Intermittent",
    .state_size = sizeof(thesp_state_t), .receive = intermittent_receive,
};
static const th_class_t sour = {
    .size = sizeof(th_class_t), .name = "Sour",
    .state_size = sizeof(thesp_state_t), .receive = sour_receive,
};
static const th_class_t trans = {
    .size = sizeof(th_class_t), .flags = TH_CLASS_TRANSIENT, .name = "Trans",
    .state_size = sizeof(thesp_state_t), .receive = tool_receive,
    .transient_ms = 150,
};
static const th_class_t huecheck = {
    .size = sizeof(th_class_t), .name = "HueCheck",
    .state_size = sizeof(thesp_state_t), .receive = tool_receive,
    .capability_check = hue_check,
};

TH_PLUGIN_DEFINE(thespactors, &tool, &intermittent, &sour, &trans,
                 &huecheck);
