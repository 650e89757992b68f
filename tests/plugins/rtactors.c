/*
 * tests/plugins/rtactors.c — rtactors.so: actor classes that probe runtime
 * semantics the runtime tests assert on. Bodies are JSON; replies go to the
 * sender.
 *
 *   FailOnce  fails every other Job (its state counts the attempts), so
 *             a retry on the same state handles it: Handled {"restarts":
 *             N, "inits": I, "attempts": A}
 *   FailInit  init fails: the actor never starts
 *   Sender    SendAs {"to": ADDR, "type": T, "size": N} -> SendResult
 *             {"rc": RC} after th_send of N bytes of type T to ADDR
 *   Recorder  Seq {"from": K, "seq": N}: checks N is the next number from K
 *             (ordering per sender); Check -> Checked {"ok": B, "count": C}
 *   Relay     Relay {"to": ADDR, "n": N}: sends Seq {"from": 0..., "seq"}
 *             N times to ADDR, all in one turn
 *   Busy      Spin {"ms": N}: busy-loops N ms, replies Spun {}
 *   DLWatch   registers for dead letters in init; DeadEnvelope bodies are
 *             kept; Get -> Dead {"count": N, "last": BODY}
 *   Exiter    on ActorExitRequest replies (to a watcher set with Watch)
 *             Exiting {"name": S}; Make {"n": N, "name": S, "watch": ADDR}
 *             creates N Exiter children that report to the same watcher
 *   Stopper   Stop -> asks the whole system to shut down
 *   SourceWatch  Watch {"to": ADDR}: registers for source availability and
 *             forwards each LoadedSource / UnloadedSource body to ADDR as
 *             Loaded / Unloaded
 *   SilentAuthority  registers as Source Authority and never answers
 *   HashLineAuthority  registers as Source Authority; accepts a
 *             ValidateSource whose payload starts with the source hash line
 *             (TH_VALIDATE_SOURCE_HEADER), naming that hash, and refuses
 *             (naming no source) one without it
 *   KeeperV1, KeeperV2  Inc -> Count {"count": N, "version": 1|2}; the count
 *             survives a handoff (export_state / import_state)
 *   Loader    Load (payload: a bundle's bytes) -> LoadStarted {"rc", "hash"}
 *             through th_load_source; Unload {"hash"} -> Unloaded {"rc"}
 *   FakeValidator  Forge {"sourceHash": H} sends the system a
 *             ValidatedSource {"valid": true} for H (not being the
 *             authority, it must be ignored)
 *   Swapper   Swap {"name", "from", "to"}: hands `from`'s role to `to`,
 *             rebinds the name on Thespian_HandoffDone, asks `from` to exit
 *             and replies Swapped {"exported": B}
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "thespian/actor.h"
#include "thespian/json.h"

static int
reply(th_ctx_t *ctx, const th_addr_t *to, const char *type, json_t *body)
{
    if (!th_addr_is_null(to))
        th_send_json_new(ctx, to, type, body);
    else
        json_decref(body);
    return 0;
}

/* ---- FailOnce ---- */
typedef struct { int inits, attempts; } failonce_t;

static int
failonce_init(th_ctx_t *ctx, void *state)
{
    ((failonce_t *)state)->inits++;
    return 0;
}

static int
failonce_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    if (strcmp(msg->type, "Job") != 0)
        return 0;
    failonce_t *st = state;
    if (st->attempts++ % 2 == 0)
        return th_fail(ctx, "first attempt fails");
    return reply(ctx, &msg->sender, "Handled",
                 json_pack("{s:i, s:i, s:i}", "restarts",
                           (int)th_restart_count(ctx), "inits", st->inits,
                           "attempts", st->attempts));
}

static const th_class_t failonce = {
    .size = sizeof(th_class_t), .name = "FailOnce",
    .state_size = sizeof(failonce_t), .init = failonce_init,
    .receive = failonce_receive,
};

/* ---- FailInit ---- */
static int
failinit_init(th_ctx_t *ctx, void *state)
{
    return th_fail(ctx, "init refuses");
}

static int
noop_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    return 0;
}

static const th_class_t failinit = {
    .size = sizeof(th_class_t), .name = "FailInit",
    .init = failinit_init, .receive = noop_receive,
};

/* ---- Sender ---- */
static int
sender_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    if (strcmp(msg->type, "SendAs") != 0)
        return 0;
    json_t *o = th_msg_json(msg);
    const char *to = json_string_value(json_object_get(o, "to"));
    const char *type = json_string_value(json_object_get(o, "type"));
    json_int_t size = json_integer_value(json_object_get(o, "size"));
    th_addr_t addr;
    int rc = to ? th_addr_parse(ctx, &addr, to) : TH_EADDR;
    if (rc == 0) {
        char *buf = calloc(1, size > 0 ? (size_t)size : 1);
        rc = buf ? th_send(ctx, &addr, type, buf, (size_t)size) : TH_ENOMEM;
        free(buf);
    }
    json_decref(o);
    return reply(ctx, &msg->sender, "SendResult", json_pack("{s:i}", "rc", rc));
}

static const th_class_t sender = {
    .size = sizeof(th_class_t), .name = "Sender", .receive = sender_receive,
};

/* ---- Recorder ---- */
#define REC_SENDERS 16
typedef struct {
    long next[REC_SENDERS];
    long count;
    bool bad;
} recorder_t;

static int
recorder_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    recorder_t *st = state;
    if (strcmp(msg->type, "Seq") == 0) {
        json_t *o = th_msg_json(msg);
        json_int_t from = json_integer_value(json_object_get(o, "from"));
        json_int_t seq = json_integer_value(json_object_get(o, "seq"));
        json_decref(o);
        if (from < 0 || from >= REC_SENDERS || seq != st->next[from])
            st->bad = true;
        else
            st->next[from]++;
        st->count++;
        return 0;
    }
    if (strcmp(msg->type, "Check") == 0)
        return reply(ctx, &msg->sender, "Checked",
                     json_pack("{s:b, s:I}", "ok", !st->bad, "count",
                               (json_int_t)st->count));
    return 0;
}

static const th_class_t recorder = {
    .size = sizeof(th_class_t), .name = "Recorder",
    .state_size = sizeof(recorder_t), .receive = recorder_receive,
};

/* ---- Relay ---- */
static int
relay_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    if (strcmp(msg->type, "Relay") != 0)
        return 0;
    json_t *o = th_msg_json(msg);
    const char *to = json_string_value(json_object_get(o, "to"));
    json_int_t n = json_integer_value(json_object_get(o, "n"));
    json_int_t from = json_integer_value(json_object_get(o, "from"));
    th_addr_t addr;
    int rc = to ? th_addr_parse(ctx, &addr, to) : TH_EADDR;
    for (json_int_t i = 0; rc == 0 && i < n; i++) {
        char body[64];
        int len = snprintf(body, sizeof body, "{\"from\":%lld,\"seq\":%lld}",
                           (long long)from, (long long)i);
        rc = th_send(ctx, &addr, "Seq", body, (size_t)len);
    }
    json_decref(o);
    return reply(ctx, &msg->sender, "Relayed", json_pack("{s:i}", "rc", rc));
}

static const th_class_t relay = {
    .size = sizeof(th_class_t), .name = "Relay", .receive = relay_receive,
};

/* ---- Busy ---- */
static int
busy_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    if (strcmp(msg->type, "Spin") != 0)
        return 0;
    json_t *o = th_msg_json(msg);
    json_int_t ms = json_integer_value(json_object_get(o, "ms"));
    json_decref(o);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 <
           ms);
    return reply(ctx, &msg->sender, "Spun", json_object());
}

static const th_class_t busy = {
    .size = sizeof(th_class_t), .name = "Busy", .receive = busy_receive,
};

/* ---- DLWatch ---- */
typedef struct {
    long count;
    char last[512];
} dlwatch_t;

static int
dlwatch_init(th_ctx_t *ctx, void *state)
{
    return th_handle_dead_letters(ctx, true);
}

static int
dlwatch_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    dlwatch_t *st = state;
    if (strcmp(msg->type, TH_MSG_DEAD_ENVELOPE) == 0) {
        st->count++;
        snprintf(st->last, sizeof st->last, "%.*s", (int)msg->len,
                 (const char *)msg->data);
        return 0;
    }
    if (strcmp(msg->type, "Get") == 0)
        return reply(ctx, &msg->sender, "Dead",
                     json_pack("{s:I, s:s}", "count", (json_int_t)st->count,
                               "last", st->last));
    return 0;
}

static const th_class_t dlwatch = {
    .size = sizeof(th_class_t), .name = "DLWatch",
    .state_size = sizeof(dlwatch_t), .init = dlwatch_init,
    .receive = dlwatch_receive,
};

/* ---- Exiter ---- */
typedef struct {
    th_addr_t watch;
    char name[32];
} exiter_t;

static int
exiter_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    exiter_t *st = state;
    if (strcmp(msg->type, "Make") == 0) {
        json_t *o = th_msg_json(msg);
        const char *watch = json_string_value(json_object_get(o, "watch"));
        const char *name = json_string_value(json_object_get(o, "name"));
        json_int_t n = json_integer_value(json_object_get(o, "n"));
        if (watch)
            th_addr_parse(ctx, &st->watch, watch);
        snprintf(st->name, sizeof st->name, "%s", name ? name : "?");
        for (json_int_t i = 0; i < n; i++) {
            th_addr_t child;
            if (th_create(ctx, &child, "rtactors.Exiter", NULL) != 0)
                break;
            char cname[64];
            snprintf(cname, sizeof cname, "%s.%lld", st->name, (long long)i);
            th_send_json_new(ctx, &child, "Make",
                             json_pack("{s:s, s:s, s:i}", "watch", watch,
                                       "name", cname, "n", 0));
        }
        json_decref(o);
        return reply(ctx, &msg->sender, "Made", json_object());
    }
    if (strcmp(msg->type, TH_MSG_EXIT_REQUEST) == 0)
        return reply(ctx, &st->watch, "Exiting",
                     json_pack("{s:s}", "name", st->name));
    if (strcmp(msg->type, TH_MSG_CHILD_EXITED) == 0)
        return reply(ctx, &st->watch, "ChildGone",
                     json_pack("{s:s}", "name", st->name));
    return 0;
}

static void
exiter_teardown(th_ctx_t *ctx, void *state)
{
    exiter_t *st = state;
    reply(ctx, &st->watch, "TornDown", json_pack("{s:s}", "name", st->name));
}

static const th_class_t exiter = {
    .size = sizeof(th_class_t), .name = "Exiter",
    .state_size = sizeof(exiter_t), .receive = exiter_receive,
    .teardown = exiter_teardown,
};

/* ---- Stopper ---- */
static int
stopper_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    return strcmp(msg->type, "Stop") == 0 ? th_system_shutdown(ctx) : 0;
}

static const th_class_t stopper = {
    .size = sizeof(th_class_t), .name = "Stopper", .receive = stopper_receive,
};

/* ---- SourceWatch ---- */
typedef struct {
    th_addr_t to;
} srcwatch_t;

static int
srcwatch_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    srcwatch_t *st = state;
    if (strcmp(msg->type, "Watch") == 0) {
        json_t *o = th_msg_json(msg);
        const char *to = json_string_value(json_object_get(o, "to"));
        if (to)
            th_addr_parse(ctx, &st->to, to);
        json_decref(o);
        return th_notify_source_availability(ctx, true);
    }
    const char *fwd = strcmp(msg->type, TH_MSG_LOADED_SOURCE) == 0 ? "Loaded"
                      : strcmp(msg->type, TH_MSG_UNLOADED_SOURCE) == 0
                          ? "Unloaded"
                          : NULL;
    if (fwd && !th_addr_is_null(&st->to))
        th_send(ctx, &st->to, fwd, msg->data, msg->len);
    return 0;
}

static const th_class_t srcwatch = {
    .size = sizeof(th_class_t), .name = "SourceWatch",
    .state_size = sizeof(srcwatch_t), .receive = srcwatch_receive,
};

/* ---- SilentAuthority ---- */
static int
silent_init(th_ctx_t *ctx, void *state)
{
    return th_register_source_authority(ctx);
}

static const th_class_t silent = {
    .size = sizeof(th_class_t), .name = "SilentAuthority",
    .init = silent_init, .receive = noop_receive,
};

/* ---- HashLineAuthority ---- */
static int
hashline_validate(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    const char *b = msg->data;
    bool named = msg->len >= TH_VALIDATE_SOURCE_HEADER && b[64] == '\n';
    for (size_t i = 0; named && i < 64; i++)
        named = strchr("0123456789abcdef", b[i]) != NULL && b[i] != '\0';
    char hex[65] = "";
    if (named)
        memcpy(hex, b, 64);
    return reply(ctx, &msg->sender, TH_MSG_VALIDATED_SOURCE,
                 json_pack("{s:s, s:b, s:s}", "sourceHash", hex, "valid",
                           named, "reason",
                           named ? "" : "no source hash line"));
}

static const th_dispatch_t hashline_dispatch[] = {
    {TH_MSG_VALIDATE_SOURCE, hashline_validate},
};

static const th_class_t hashline = {
    .size = sizeof(th_class_t), .name = "HashLineAuthority",
    .init = silent_init, .receive = noop_receive,
    .dispatch = hashline_dispatch, .n_dispatch = 1,
};

/* ---- KeeperV1 / KeeperV2 ---- */
typedef struct {
    int64_t count;
} keeper_t;

static int
keeper_reply(th_ctx_t *ctx, keeper_t *st, const th_msg_t *msg, int version)
{
    if (strcmp(msg->type, "Inc") != 0)
        return 0;
    st->count++;
    char body[80];
    int n = snprintf(body, sizeof body, "{\"count\":%lld,\"version\":%d}",
                     (long long)st->count, version);
    if (!th_addr_is_null(&msg->sender))
        th_send(ctx, &msg->sender, "Count", body, (size_t)n);
    return 0;
}

static int
keeper1_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    return keeper_reply(ctx, state, msg, 1);
}

static int
keeper2_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    return keeper_reply(ctx, state, msg, 2);
}

/* The handed-over format, version 1: "K1" then the count, 8 bytes LE. */
static int
keeper_export(th_ctx_t *ctx, void *state, th_buf_t **out)
{
    keeper_t *st = state;
    void *data;
    int rc = th_buf_alloc(ctx, out, 10, &data);
    if (rc != 0)
        return rc;
    unsigned char *p = data;
    p[0] = 'K';
    p[1] = '1';
    for (int i = 0; i < 8; i++)
        p[2 + i] = (unsigned char)((uint64_t)st->count >> (8 * i));
    return 0;
}

static int
keeper_import(th_ctx_t *ctx, void *state, const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len != 10 || p[0] != 'K' || p[1] != '1')
        return th_fail(ctx, "unknown state format");
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[2 + i] << (8 * i);
    ((keeper_t *)state)->count = (int64_t)v;
    return 0;
}

static const th_class_t keeper1 = {
    .size = sizeof(th_class_t), .name = "KeeperV1",
    .state_size = sizeof(keeper_t), .receive = keeper1_receive,
    .export_state = keeper_export, .import_state = keeper_import,
};
static const th_class_t keeper2 = {
    .size = sizeof(th_class_t), .name = "KeeperV2",
    .state_size = sizeof(keeper_t), .receive = keeper2_receive,
    .export_state = keeper_export, .import_state = keeper_import,
};

/* ---- Swapper ---- */
typedef struct {
    th_addr_t requester;
    char name[64];
} swapper_t;

static int
swapper_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    swapper_t *st = state;
    if (strcmp(msg->type, "Swap") == 0) {
        json_t *o = th_msg_json(msg);
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *from = json_string_value(json_object_get(o, "from"));
        const char *to = json_string_value(json_object_get(o, "to"));
        th_addr_t f, t;
        int rc = (name && from && to && th_addr_parse(ctx, &f, from) == 0 &&
                  th_addr_parse(ctx, &t, to) == 0)
                     ? th_handoff(ctx, &f, &t)
                     : TH_EINVAL;
        snprintf(st->name, sizeof st->name, "%s", name ? name : "");
        st->requester = msg->sender;
        json_decref(o);
        return rc == 0 ? 0 : th_fail(ctx, "bad Swap request");
    }
    if (strcmp(msg->type, TH_MSG_HANDOFF_DONE) == 0) {
        json_t *o = th_msg_json(msg);
        th_addr_t f, t;
        th_addr_parse(ctx, &f, json_string_value(json_object_get(o, "from")));
        th_addr_parse(ctx, &t, json_string_value(json_object_get(o, "to")));
        int rc = th_rebind_name(ctx, st->name, &t);
        th_exit_request(ctx, &f, true);
        reply(ctx, &st->requester, "Swapped",
              json_pack("{s:b, s:i}", "exported",
                        json_is_true(json_object_get(o, "exported")), "rebind",
                        rc));
        json_decref(o);
    }
    return 0;
}

static const th_class_t swapper = {
    .size = sizeof(th_class_t), .name = "Swapper",
    .state_size = sizeof(swapper_t), .receive = swapper_receive,
};

/* ---- Loader ---- */
static int
loader_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    if (strcmp(msg->type, "Load") == 0) {
        char hash[65] = "";
        int rc = th_load_source(ctx, msg->data, msg->len, hash);
        return reply(ctx, &msg->sender, "LoadStarted",
                     json_pack("{s:i, s:s}", "rc", rc, "hash", hash));
    }
    if (strcmp(msg->type, "Unload") == 0) {
        json_t *o = th_msg_json(msg);
        int rc = th_unload_source(ctx, json_string_value(json_object_get(o,
                                                                         "hash")));
        json_decref(o);
        return reply(ctx, &msg->sender, "Unloaded", json_pack("{s:i}", "rc", rc));
    }
    return 0;
}

static const th_class_t loader = {
    .size = sizeof(th_class_t), .name = "Loader", .receive = loader_receive,
};

/* ---- FakeValidator ---- */
static int
fake_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    if (strcmp(msg->type, "Forge") != 0)
        return 0;
    json_t *o = th_msg_json(msg);
    json_object_set_new(o, "valid", json_true());
    json_object_set_new(o, "key", json_string("forged"));
    th_addr_t sys = th_system_address(ctx);
    th_send_json_new(ctx, &sys, TH_MSG_VALIDATED_SOURCE, o);
    return reply(ctx, &msg->sender, "Forged", json_object());
}

static const th_class_t fake = {
    .size = sizeof(th_class_t), .name = "FakeValidator",
    .receive = fake_receive,
};

TH_PLUGIN_DEFINE(rtactors, &failonce, &failinit, &sender, &recorder, &relay,
                 &busy, &dlwatch, &exiter, &stopper, &srcwatch,
                 &silent, &keeper1, &keeper2, &swapper, &loader,
                 &fake, &hashline);
