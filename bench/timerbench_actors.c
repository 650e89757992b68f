/*
 * bench/timerbench_actors.c — timerbench.so: the actor bench/timer_bench.c
 * drives. Load: Schedule {"n": N, "in_ms": D} starts N one-shot timers all
 * due at one instant D ms after the message arrives (each delay computed
 * from the clock) and answers Scheduled {"ns": time spent in th_timer_start
 * calls, "due_ns": the instant}; when the N-th TimerMessage is handled it
 * sends Fired {"at_ns": now}. Clock: CLOCK_MONOTONIC, same process.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "thespian/actor.h"
#include "thespian/json.h"

typedef struct {
    th_addr_t watcher;
    int64_t expected, fired;
} load_t;

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
load_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    load_t *st = state;
    if (strcmp(msg->type, TH_MSG_TIMER) == 0) {
        if (++st->fired == st->expected)
            th_send_json_new(ctx, &st->watcher, "Fired",
                             json_pack("{s:I}", "at_ns", (json_int_t)now_ns()));
        return 0;
    }
    if (strcmp(msg->type, "Schedule") != 0)
        return 0;
    json_t *o = th_msg_json(msg);
    int64_t n = json_integer_value(json_object_get(o, "n"));
    int64_t in_ms = json_integer_value(json_object_get(o, "in_ms"));
    json_decref(o);
    st->watcher = msg->sender;
    st->expected += n;
    int64_t t0 = now_ns(), due = t0 + in_ms * 1000000;
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0; i++) {
        int64_t left = due - now_ns();
        uint64_t id;
        rc = th_timer_start(ctx, &id, left > 0 ? (left + 999999) / 1000000 : 0,
                            0, NULL, 0);
    }
    int64_t spent = now_ns() - t0;
    th_send_json_new(ctx, &st->watcher, "Scheduled",
                     json_pack("{s:i, s:I, s:I}", "rc", rc, "ns",
                               (json_int_t)spent, "due_ns", (json_int_t)due));
    return 0;
}

static const th_class_t load_class = {
    .size = sizeof(th_class_t), .name = "Load",
    .state_size = sizeof(load_t), .receive = load_receive,
};

TH_PLUGIN_DEFINE(timerbench, &load_class);
