/*
 * tests/plugins/capactors.c — capactors.so: classes for the capability
 * tests. Every class answers the same messages (bodies are JSON):
 *
 *   Hello {"name": S}   remembers S and the sender (the watcher): Hi {"name"}
 *   Ping                -> Pong {"name"}
 *   Caps                -> Caps (the body is th_capabilities' text)
 *   Update {"name", "value"}  th_update_capability(name, value as JSON
 *                       text; a missing value removes) -> Updated {"rc"}
 *   ActorExitRequest    tells the watcher Exiting {"name"}
 *   Spawn {"class", "name", "requirements"?}  th_create a child (with the
 *                       requirements, JSON object) and name it with Hello
 *                       (this actor is its watcher) -> Spawned {"rc"}
 *   Exiting (a child's) -> the watcher gets ChildExiting {"name"}
 *   ChildActorExited    -> the watcher gets ChildGone {}
 *
 *   Checker   capability check: accepts only when capability "Color" is
 *             "blue", or the requirements ask for "Shade" and the
 *             capabilities have it
 *   Needy     declares requires "GPU" (truthy) and "Mem" == 16
 *   Plain     no check, no requirement
 *   Updater   declares requires "Updatable" (truthy): it can update that
 *             capability itself and be rejected
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thespian/actor.h"
#include "thespian/json.h"

typedef struct {
    char name[32];
    th_addr_t watcher;
} cap_state_t;

static int
reply(th_ctx_t *ctx, const th_addr_t *to, const char *type, json_t *body)
{
    if (!th_addr_is_null(to))
        th_send_json_new(ctx, to, type, body);
    else
        json_decref(body);
    return 0;
}

static int
update(th_ctx_t *ctx, const th_msg_t *msg)
{
    json_t *o = th_msg_json(msg);
    const char *name = json_string_value(json_object_get(o, "name"));
    json_t *v = json_object_get(o, "value");
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int rc = th_update_capability(ctx, name, text);
    free(text);
    json_decref(o);
    return reply(ctx, &msg->sender, "Updated", json_pack("{s:i}", "rc", rc));
}

static int
spawn(th_ctx_t *ctx, const th_msg_t *msg)
{
    json_t *o = th_msg_json(msg);
    const char *cls = json_string_value(json_object_get(o, "class"));
    json_t *reqs = json_object_get(o, "requirements");
    char *text = reqs ? json_dumps(reqs, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    th_create_opts_t opts = {.size = sizeof opts, .requirements_json = text};
    th_addr_t child;
    int rc = th_create(ctx, &child, cls ? cls : "", &opts);
    if (rc == 0)
        th_send_json_new(
            ctx, &child, "Hello",
            json_pack("{s:O}", "name", json_object_get(o, "name")));
    free(text);
    json_decref(o);
    return reply(ctx, &msg->sender, "Spawned", json_pack("{s:i}", "rc", rc));
}

static int
caps_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    cap_state_t *st = state;
    if (strcmp(msg->type, "Hello") == 0) {
        json_t *o = th_msg_json(msg);
        const char *n = json_string_value(json_object_get(o, "name"));
        snprintf(st->name, sizeof st->name, "%s", n ? n : "?");
        json_decref(o);
        st->watcher = msg->sender;
        return reply(ctx, &msg->sender, "Hi",
                     json_pack("{s:s}", "name", st->name));
    }
    if (strcmp(msg->type, "Ping") == 0)
        return reply(ctx, &msg->sender, "Pong",
                     json_pack("{s:s}", "name", st->name));
    if (strcmp(msg->type, "Caps") == 0) {
        char buf[4096];
        int rc = th_capabilities(ctx, buf, sizeof buf, NULL);
        if (rc != 0)
            snprintf(buf, sizeof buf, "{\"rc\":%d}", rc);
        return th_send(ctx, &msg->sender, "Caps", buf, strlen(buf));
    }
    if (strcmp(msg->type, "Update") == 0)
        return update(ctx, msg);
    if (strcmp(msg->type, "Spawn") == 0)
        return spawn(ctx, msg);
    if (strcmp(msg->type, "Exiting") == 0) {
        json_t *o = th_msg_json(msg);
        reply(ctx, &st->watcher, "ChildExiting",
              json_pack("{s:O}", "name", json_object_get(o, "name")));
        json_decref(o);
        return 0;
    }
    if (strcmp(msg->type, TH_MSG_CHILD_EXITED) == 0)
        return reply(ctx, &st->watcher, "ChildGone", json_object());
    if (strcmp(msg->type, TH_MSG_EXIT_REQUEST) == 0)
        return reply(ctx, &st->watcher, "Exiting",
                     json_pack("{s:s}", "name", st->name));
    return 0;
}

/* ---- Checker ---- */
static bool
checker_check(const char *caps_json, const char *requirements_json)
{
    json_t *caps = json_loads(caps_json, 0, NULL);
    json_t *reqs = json_loads(requirements_json, 0, NULL);
    const char *color = json_string_value(json_object_get(caps, "Color"));
    bool ok =
        (color && strcmp(color, "blue") == 0) ||
        (json_object_get(reqs, "Shade") && json_object_get(caps, "Shade"));
    json_decref(caps);
    json_decref(reqs);
    return ok;
}

static const th_class_t checker = {
    .size = sizeof(th_class_t),
    .name = "Checker",
    .state_size = sizeof(cap_state_t),
    .receive = caps_receive,
    .capability_check = checker_check,
};

/* ---- Needy ---- */
static const th_requirement_t needy_requires[] = {
    {"GPU", NULL},
    {"Mem", "16"},
};

static const th_class_t needy = {
    .size = sizeof(th_class_t),
    .name = "Needy",
    .state_size = sizeof(cap_state_t),
    .receive = caps_receive,
    .requires = needy_requires,
    .n_requires = 2,
};

/* ---- Plain ---- */
static const th_class_t plain = {
    .size = sizeof(th_class_t),
    .name = "Plain",
    .state_size = sizeof(cap_state_t),
    .receive = caps_receive,
};

/* ---- Updater ---- */
static const th_requirement_t updater_requires[] = {{"Updatable", NULL}};

static const th_class_t updater = {
    .size = sizeof(th_class_t),
    .name = "Updater",
    .state_size = sizeof(cap_state_t),
    .receive = caps_receive,
    .requires = updater_requires,
    .n_requires = 1,
};

TH_PLUGIN_DEFINE(capactors, &checker, &needy, &plain, &updater);
