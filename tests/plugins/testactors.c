/*
 * tests/plugins/testactors.c — testactors.so: small, correct actor classes
 * that the runtime's integration tests drive. Each class does one thing
 * the tests need to observe; bodies are JSON, replies go to the sender.
 *
 *   Echo        any message -> the same type and payload back to the
 *               sender, through th_forward (the zero-copy path)
 *   Failer      every message fails (th_fail "Failer fails every message"):
 *               restart, one retry, then PoisonMessage to the sender
 *   Parent      Spawn {"class": C, "count": N (1..1000, default 1),
 *                      "global_name": S (optional)}
 *                 -> Spawned {"children": [ADDR, ...]}
 *                 | SpawnFailed {"error": NAME, "code": RC, "children": [...]}
 *               Watch -> Watching {}; from then on each ChildActorExited
 *                 is re-sent to the watcher as ChildExited with the same
 *                 body (the runtime's own type is reserved)
 *   Sleeper     Wake {"ms": N, ...} -> after N ms, Woke with the
 *                 WakeupMessage payload: the Wake body plus "reply_to"
 *               Get -> Recorded {"messages": M, "wakeups": W}
 *   Counter     Get -> Count {"count": N}, N = messages other than Get
 *   Dispatcher  type-dispatch semantics, every reply is Handled {"by", "type"}:
 *               Direct -> by "Direct"; Defer -> its entry returns TH_SUPER,
 *               so by "*"; Unhandled -> "*" returns TH_SUPER, so by
 *               "receive" (the fallback); any other type -> by "*"
 *
 * Every class leaves runtime messages (ActorExitRequest, ...) alone.
 *
 * There is no "FailOnce" (fail a message the first time, succeed on the
 * retry) here: the state is zeroed on every restart, so only the host can
 * tell a retry from a first delivery; rtactors.FailOnce does it with
 * th_restart_count. Failer covers the fail-twice path.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thespian/actor.h"
#include "thespian/json.h"

#define SPAWN_MAX 1000


/* Send a JSON reply (body taken). Delivery problems are logged, not
 * failed: the tests watch failures, so only deliberate ones may happen. */
static int
reply(th_ctx_t *ctx, const th_addr_t *to, const char *type, json_t *body)
{
    if (th_addr_is_null(to)) {
        json_decref(body);
        return 0;
    }
    int rc = th_send_json_new(ctx, to, type, body);
    if (rc != 0)
        th_log(ctx, TH_LOG_WARNING, "testactors: %s not sent: %s", type,
               th_strerror(rc));
    return 0;
}

/* ---- Echo ---------------------------------------------------------------- */

static int
echo_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    /* Echoing an ActorExitRequest would ask the sender to exit. */
    if (th_msg_is_runtime(msg->type) || th_addr_is_null(&msg->sender))
        return 0;
    int rc = th_forward(ctx, &msg->sender, msg);
    if (rc != 0)
        th_log(ctx, TH_LOG_WARNING, "Echo: %s not echoed: %s", msg->type,
               th_strerror(rc));
    return 0;
}

static const th_class_t echo_class = {
    .size = sizeof(th_class_t),
    .name = "Echo",
    .receive = echo_receive,
};

/* ---- Failer -------------------------------------------------------------- */

static int
failer_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    if (th_msg_is_runtime(msg->type)) /* so that it can still be stopped */
        return 0;
    return th_fail(ctx, "Failer fails every message");
}

static const th_class_t failer_class = {
    .size = sizeof(th_class_t),
    .name = "Failer",
    .receive = failer_receive,
};

/* ---- Parent -------------------------------------------------------------- */

typedef struct parent {
    th_addr_t watcher; /* null: nobody watches */
} parent_t;

static int
parent_spawn(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    json_t *req = th_msg_json(msg);
    const char *cls = json_string_value(json_object_get(req, "class"));
    json_t *count_v = json_object_get(req, "count");
    json_int_t count = count_v ? json_integer_value(count_v) : 1;
    th_create_opts_t opts = {.size = sizeof opts};
    opts.global_name = json_string_value(json_object_get(req, "global_name"));
    json_t *children = json_array();
    int rc = 0;

    if (cls == NULL || count < 1 || count > SPAWN_MAX)
        rc = TH_EINVAL;
    for (json_int_t i = 0; rc == 0 && i < count; i++) {
        th_addr_t child;
        char text[TH_ADDR_STRLEN];
        rc = th_create(ctx, &child, cls, &opts);
        if (rc == 0)
            rc = th_addr_format(ctx, &child, text, sizeof text);
        if (rc == 0)
            rc = json_array_append_new(children, json_string(text)) == 0
                     ? 0
                     : TH_ENOMEM;
    }
    if (rc == 0)
        reply(ctx, &msg->sender, "Spawned",
              json_pack("{s:o}", "children", children));
    else
        reply(ctx, &msg->sender, "SpawnFailed",
              json_pack("{s:s, s:i, s:o}", "error", th_errname(rc), "code", rc,
                        "children", children));
    json_decref(req);
    return 0;
}

static int
parent_watch(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    parent_t *p = state;
    p->watcher = msg->sender;
    return reply(ctx, &msg->sender, "Watching", json_object());
}

static int
parent_child_exited(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    parent_t *p = state;
    if (th_addr_is_null(&p->watcher))
        return 0;
    int rc = th_send(ctx, &p->watcher, "ChildExited", msg->data, msg->len);
    if (rc != 0)
        th_log(ctx, TH_LOG_WARNING, "Parent: ChildExited not sent: %s",
               th_strerror(rc));
    return 0;
}

static const th_dispatch_t parent_dispatch[] = {
    {"Spawn", parent_spawn},
    {"Watch", parent_watch},
    {TH_MSG_CHILD_EXITED, parent_child_exited},
};

static const th_class_t parent_class = {
    .size = sizeof(th_class_t),
    .name = "Parent",
    .state_size = sizeof(parent_t),
    .dispatch = parent_dispatch,
    .n_dispatch = sizeof parent_dispatch / sizeof parent_dispatch[0],
};

/* ---- Sleeper ------------------------------------------------------------- */

typedef struct sleeper {
    uint64_t messages; /* every message received, runtime ones included */
    uint64_t wakeups;
} sleeper_t;

/* The timer payload carries whom to answer, so any number of Wakes from
 * any senders can be pending without a table in the state. */
static int
sleeper_wake(th_ctx_t *ctx, sleeper_t *s, const th_msg_t *msg)
{
    (void)s;
    json_t *req = th_msg_json(msg);
    json_t *ms = json_object_get(req, "ms");
    char to[TH_ADDR_STRLEN] = "";
    if (!json_is_integer(ms) || json_integer_value(ms) < 0 ||
        json_integer_value(ms) > UINT32_MAX) {
        json_decref(req);
        return reply(
            ctx, &msg->sender, "Refused",
            json_pack("{s:s}", "reason", "Wake needs {\"ms\": 0..4294967295}"));
    }
    if (!th_addr_is_null(&msg->sender))
        th_addr_format(ctx, &msg->sender, to, sizeof to);
    json_object_set_new(req, "reply_to", json_string(to));
    char *data = json_dumps(req, JSON_COMPACT);
    int rc = data ? th_wakeup_after(ctx, (uint32_t)json_integer_value(ms), data,
                                    strlen(data))
                  : TH_ENOMEM;
    free(data);
    json_decref(req);
    if (rc != 0)
        return reply(ctx, &msg->sender, "Refused",
                     json_pack("{s:s}", "reason", th_strerror(rc)));
    return 0;
}

static int
sleeper_woken(th_ctx_t *ctx, sleeper_t *s, const th_msg_t *msg)
{
    s->wakeups++;
    json_t *body = th_msg_json(msg);
    const char *text = json_string_value(json_object_get(body, "reply_to"));
    th_addr_t to;
    if (text != NULL && text[0] != '\0' && th_addr_parse(ctx, &to, text) == 0) {
        int rc = th_send(ctx, &to, "Woke", msg->data, msg->len);
        if (rc != 0)
            th_log(ctx, TH_LOG_WARNING, "Sleeper: Woke not sent: %s",
                   th_strerror(rc));
    }
    json_decref(body);
    return 0;
}

static int
sleeper_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    sleeper_t *s = state;
    s->messages++;
    if (strcmp(msg->type, "Wake") == 0)
        return sleeper_wake(ctx, s, msg);
    if (strcmp(msg->type, TH_MSG_WAKEUP) == 0)
        return sleeper_woken(ctx, s, msg);
    if (strcmp(msg->type, "Get") == 0)
        return reply(ctx, &msg->sender, "Recorded",
                     json_pack("{s:I, s:I}", "messages",
                               (json_int_t)s->messages, "wakeups",
                               (json_int_t)s->wakeups));
    return 0;
}

static const th_class_t sleeper_class = {
    .size = sizeof(th_class_t),
    .name = "Sleeper",
    .state_size = sizeof(sleeper_t),
    .receive = sleeper_receive,
};

/* ---- Counter ------------------------------------------------------------- */

typedef struct counter {
    uint64_t count;
} counter_t;

static int
counter_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    counter_t *c = state;
    if (th_msg_is_runtime(msg->type))
        return 0;
    if (strcmp(msg->type, "Get") != 0) {
        c->count++;
        return 0;
    }
    return reply(ctx, &msg->sender, "Count",
                 json_pack("{s:I}", "count", (json_int_t)c->count));
}

static const th_class_t counter_class = {
    .size = sizeof(th_class_t),
    .name = "Counter",
    .state_size = sizeof(counter_t),
    .receive = counter_receive,
};

/* ---- Dispatcher ---------------------------------------------------------- */

static int
handled(th_ctx_t *ctx, const th_msg_t *msg, const char *by)
{
    return reply(ctx, &msg->sender, "Handled",
                 json_pack("{s:s, s:s}", "by", by, "type", msg->type));
}

static int
dispatch_direct(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    return handled(ctx, msg, "Direct");
}

static int
dispatch_defer(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return TH_SUPER;
}

static int
dispatch_star(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    if (strcmp(msg->type, "Unhandled") == 0 || th_msg_is_runtime(msg->type))
        return TH_SUPER;
    return handled(ctx, msg, "*");
}

static int
dispatch_fallback(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    if (th_msg_is_runtime(msg->type))
        return 0;
    return handled(ctx, msg, "receive");
}

static const th_dispatch_t dispatcher_dispatch[] = {
    {"Direct", dispatch_direct},
    {"Defer", dispatch_defer},
    {"*", dispatch_star},
};

static const th_class_t dispatcher_class = {
    .size = sizeof(th_class_t),
    .name = "Dispatcher",
    .receive = dispatch_fallback,
    .dispatch = dispatcher_dispatch,
    .n_dispatch = sizeof dispatcher_dispatch / sizeof dispatcher_dispatch[0],
};

TH_PLUGIN_DEFINE(testactors, &echo_class, &failer_class, &parent_class,
                 &sleeper_class, &counter_class, &dispatcher_class);
