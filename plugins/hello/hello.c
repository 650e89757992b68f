/*
 * plugins/hello/hello.c — the smallest useful thespian-c plugin and the
 * README demo. "hello.Greeter" shows a type-dispatch table with a fallback,
 * per-actor state, and a handler that fails on purpose (one retry, then
 * PoisonMessage); "hello.Toggler" shows behaviour switching (become).
 *
 * Protocol (bodies are JSON; every reply goes to the sender):
 *   Greeter  Greet {"name": S}   -> Greeting {"text": "Hello, S!", "count": N}
 *                                   N = greetings since this actor started
 *            Greet without a string "name"
 *                                -> Refused {"reason": "..."}
 *            Crash (any body)    -> the handler fails ("asked to crash"): the
 *                                   runtime retries it once on the same
 *                                   actor, then returns Crash to the sender
 *                                   as PoisonMessage. The state is kept:
 *                                   the next Greeting counts on.
 *            anything else       -> Unknown {"type": T}
 *   Toggler  Ping -> On {"pings": N}; the next Ping -> Off {"pings": N};
 *            and so on, alternating. N counts all Pings.
 *            anything else       -> Unknown {"type": T}
 * Runtime messages (ActorExitRequest, PoisonMessage, ...) get no reply.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "thespian/actor.h"
#include "thespian/json.h"

/* ---- Shared by both classes ---------------------------------------------- */


/* Reply with a JSON body (reference taken, NULL when building it failed).
 * A reply that cannot be delivered is not this actor's failure: returning
 * an error would retry the request and send the sender a PoisonMessage it
 * cannot take either. So log it and report the message as handled. */
static int
reply(th_ctx_t *ctx, const th_msg_t *msg, const char *type, json_t *body)
{
    if (th_addr_is_null(&msg->sender)) { /* told from outside: nobody */
        json_decref(body);
        return 0;
    }
    int rc = th_send_json_new(ctx, &msg->sender, type, body);
    if (rc != 0)
        th_log(ctx, TH_LOG_WARNING, "hello: %s reply not sent: %s", type,
               th_strerror(rc));
    return 0;
}

/* Fallback for messages no handler took: say which type was not
 * understood, so a client sees its mistake instead of a timeout. */
static int
unknown(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    if (th_msg_is_runtime(msg->type))
        return 0;
    return reply(ctx, msg, "Unknown", json_pack("{s:s}", "type", msg->type));
}

/* ---- hello.Greeter -------------------------------------------------------
 * Built twice: hello.so (version 1) and, with -DHELLO_VERSION=2, the
 * "new release" the README demo hot-swaps in. The greeting count survives
 * the swap through export_state / import_state. */
#ifndef HELLO_VERSION
#define HELLO_VERSION 1
#endif
#if HELLO_VERSION == 1
#define GREETING "Hello, %s!"
#else
#define GREETING "Hello again, %s (from version 2)!"
#endif

typedef struct greeter {
    uint64_t greetings; /* Greetings sent since this actor (re)started */
} greeter_t;

static int
greet(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    greeter_t *g = state;
    json_t *body = th_msg_json(msg); /* NULL when not JSON: name stays NULL */
    const char *name = json_string_value(json_object_get(body, "name"));
    if (name == NULL) {
        /* A client's mistake, not a broken actor: refuse (failing would
         * retry it and send the client a PoisonMessage). */
        json_decref(body);
        return reply(
            ctx, msg, "Refused",
            json_pack("{s:s}", "reason", "Greet needs {\"name\": string}"));
    }
    g->greetings++;
    /* "o" takes the json_sprintf result, and a NULL there makes json_pack
     * fail, which reply() logs. */
    json_t *out =
        json_pack("{s:o, s:I, s:i}", "text", json_sprintf(GREETING, name),
                  "count", (json_int_t)g->greetings, "version",
                  HELLO_VERSION);
    json_decref(body); /* after json_sprintf: `name` points into it */
    return reply(ctx, msg, "Greeting", out);
}

static int
crash(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    (void)msg;
    return th_fail(ctx, "asked to crash");
}

/* Handed-over state, format 1: "G1" and the count, 8 bytes little endian.
 * Every later version must still read format 1. */
static int
greeter_export(th_ctx_t *ctx, void *state, th_buf_t **out)
{
    const greeter_t *g = state;
    void *data;
    int rc = th_buf_alloc(ctx, out, 10, &data);
    if (rc != 0)
        return rc;
    unsigned char *p = data;
    p[0] = 'G';
    p[1] = '1';
    for (int i = 0; i < 8; i++)
        p[2 + i] = (unsigned char)(g->greetings >> (8 * i));
    return 0;
}

static int
greeter_import(th_ctx_t *ctx, void *state, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len != 10 || p[0] != 'G' || p[1] != '1')
        return th_fail(ctx, "unknown Greeter state format");
    greeter_t *g = state;
    g->greetings = 0;
    for (int i = 0; i < 8; i++)
        g->greetings |= (uint64_t)p[2 + i] << (8 * i);
    return 0;
}

static const th_dispatch_t greeter_dispatch[] = {
    {"Greet", greet},
    {"Crash", crash},
};

static const th_class_t greeter_class = {
    .size = sizeof(th_class_t),
    .name = "Greeter",
    .state_size = sizeof(greeter_t),
    .receive = unknown,
    .dispatch = greeter_dispatch,
    .n_dispatch = sizeof greeter_dispatch / sizeof greeter_dispatch[0],
    .export_state = greeter_export,
    .import_state = greeter_import,
};

/* ---- hello.Toggler ---------------------------------------------------------
 * The class's own handling is the "off" behaviour: a Ping answers On and
 * switches to toggled_on. There a Ping answers Off and th_become(NULL)
 * returns to the class's table. The state (the Ping count) is the same in
 * both behaviours; only the code that handles the next message changes. */

typedef struct toggler {
    uint64_t pings;
} toggler_t;

static int
toggled_on(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    toggler_t *t = state;
    /* A behaviour replaces the whole table, so it needs its own fallback. */
    if (strcmp(msg->type, "Ping") != 0)
        return unknown(ctx, state, msg);
    /* Switch before replying: if the switch fails the handler fails and
     * nobody has been told a state that did not happen. */
    int rc = th_become(ctx, NULL);
    if (rc != 0)
        return rc;
    t->pings++;
    return reply(ctx, msg, "Off",
                 json_pack("{s:I}", "pings", (json_int_t)t->pings));
}

static int
ping_off(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    toggler_t *t = state;
    int rc = th_become(ctx, toggled_on);
    if (rc != 0)
        return rc;
    t->pings++;
    return reply(ctx, msg, "On",
                 json_pack("{s:I}", "pings", (json_int_t)t->pings));
}

static const th_dispatch_t toggler_dispatch[] = {
    {"Ping", ping_off},
};

static const th_class_t toggler_class = {
    .size = sizeof(th_class_t),
    .name = "Toggler",
    .state_size = sizeof(toggler_t),
    .receive = unknown,
    .dispatch = toggler_dispatch,
    .n_dispatch = sizeof toggler_dispatch / sizeof toggler_dispatch[0],
};

TH_PLUGIN_DEFINE(hello, &greeter_class, &toggler_class);
