/*
 * tests/plugins/troupeactors.c — troupeactors.so: classes for the troupe
 * and transient tests (tests/unit/host/troupe_test.c). Every class shares
 * one handler; bodies are JSON, replies go to the sender and name the
 * actor that answered ("member": its address).
 *
 *   Burn {"ms": N, "id": I} busy-loops N ms -> Burned {"member", "id",
 *        "start_us", "end_us"} (CLOCK_MONOTONIC)
 *   Ping {"id": I} -> Pong {"member", "id"}
 *   Work {"iters": N, "id": I} N rounds of xorshift (CPU-bound, a fixed
 *        amount of work whatever the clock) -> Worked {"member", "id", "x"}
 *   Fail  fails every time (retry, PoisonMessage to the sender)
 *   Hold  th_work_in_progress(true) -> Held {"member", "rc"}
 *   Release  th_work_in_progress(false) -> Released {"member", "rc"}
 *
 *   Worker     troupe, max 4, idle 1
 *   Solo       troupe, max 1, idle 1
 *   Holder     troupe, max 2, idle 2
 *   Crew       troupe, max 2, idle 2 (bench/troupe_bench.c)
 *   Fragile    troupe, max 1, idle 1: a member that fails a message asks
 *              itself to exit (it dies)
 *   TransTroupe  troupe (max 2, idle 1), transient 200 ms as a whole
 *   Plain      an ordinary actor (Hold answers TH_EINVAL there)
 *   Trans      transient, 200 ms after the first message
 *   TransIdle  transient_idle, 200 ms after the latest message
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "thespian/actor.h"
#include "thespian/json.h"

static int64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
answer(th_ctx_t *ctx, const th_msg_t *msg, const char *type, json_t *body)
{
    char me[TH_ADDR_STRLEN];
    th_addr_t self = th_my_address(ctx);
    th_addr_format(ctx, &self, me, sizeof me);
    json_object_set_new(body, "member", json_string(me));
    if (th_addr_is_null(&msg->sender))
        json_decref(body);
    else
        th_send_json_new(ctx, &msg->sender, type, body);
}

static int
work_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    json_t *in = th_msg_json(msg);
    json_int_t id = json_integer_value(json_object_get(in, "id"));
    int rc = 0;
    if (strcmp(msg->type, "Burn") == 0) {
        int64_t ms = json_integer_value(json_object_get(in, "ms"));
        int64_t start = now_us(), end = start;
        volatile uint64_t x = 0;
        while ((end = now_us()) - start < ms * 1000)
            for (int i = 0; i < 1000; i++)
                x += (uint64_t)i;
        answer(ctx, msg, "Burned",
               json_pack("{s:I, s:I, s:I}", "id", id, "start_us",
                         (json_int_t)start, "end_us", (json_int_t)end));
    } else if (strcmp(msg->type, "Work") == 0) {
        json_int_t n = json_integer_value(json_object_get(in, "iters"));
        uint64_t x = 88172645463325252ull + (uint64_t)id;
        for (json_int_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        answer(ctx, msg, "Worked",
               json_pack("{s:I, s:I}", "id", id, "x", (json_int_t)(x >> 2)));
    } else if (strcmp(msg->type, "Ping") == 0) {
        answer(ctx, msg, "Pong", json_pack("{s:I}", "id", id));
    } else if (strcmp(msg->type, "Fail") == 0) {
        rc = th_fail(ctx, "Fail always fails");
    } else if (strcmp(msg->type, "Hold") == 0) {
        answer(ctx, msg, "Held",
               json_pack("{s:i}", "rc", th_work_in_progress(ctx, true)));
    } else if (strcmp(msg->type, "Release") == 0) {
        answer(ctx, msg, "Released",
               json_pack("{s:i}", "rc", th_work_in_progress(ctx, false)));
    }
    json_decref(in);
    return rc;
}

static int
fragile_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    bool *dying = state;
    if (strcmp(msg->type, "Fail") == 0 && !*dying) { /* once: it is retried */
        *dying = true;
        th_addr_t self = th_my_address(ctx);
        th_exit_request(ctx, &self, true);
    }
    return work_receive(ctx, state, msg);
}

#define CLASS_RECV(var, nm, fl, max, idle, ms, recv)                         \
    static const th_class_t var = {                                          \
        .size = sizeof(th_class_t),                                          \
        .flags = (fl),                                                       \
        .name = nm,                                                          \
        .state_size = sizeof(bool),                                          \
        .receive = (recv),                                                   \
        .troupe_max = (max),                                                 \
        .troupe_idle = (idle),                                               \
        .transient_ms = (ms),                                                \
    }
#define CLASS(var, nm, fl, max, idle, ms)                                    \
    CLASS_RECV(var, nm, fl, max, idle, ms, work_receive)

CLASS(worker, "Worker", TH_CLASS_TROUPE, 4, 1, 0);
CLASS(solo, "Solo", TH_CLASS_TROUPE, 1, 1, 0);
CLASS(holder, "Holder", TH_CLASS_TROUPE, 2, 2, 0);
CLASS(crew, "Crew", TH_CLASS_TROUPE, 2, 2, 0);
CLASS_RECV(fragile, "Fragile", TH_CLASS_TROUPE, 1, 1, 0, fragile_receive);
CLASS(trans_troupe, "TransTroupe", TH_CLASS_TROUPE | TH_CLASS_TRANSIENT, 2,
      1, 200);
CLASS(plain, "Plain", 0, 0, 0, 0);
CLASS(trans, "Trans", TH_CLASS_TRANSIENT, 0, 0, 200);
CLASS(trans_idle, "TransIdle", TH_CLASS_TRANSIENT_IDLE, 0, 0, 200);

TH_PLUGIN_DEFINE(troupeactors, &worker, &solo, &holder, &crew, &fragile,
                 &trans_troupe, &plain, &trans, &trans_idle);
