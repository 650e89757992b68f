/*
 * tests/plugins/timeractors.c — timeractors.so: an actor driving
 * th_timer_start / th_timer_cancel for tests/unit/host/timers_test.c.
 * Replies go to the sender of the last Start (the watcher).
 *
 *   Timed  Start {"delay": D, "period": P, "data": S, "cancel_after": K,
 *                 "slow_ms": M} -> Started {"rc": RC, "id": ID}
 *          TimerMessage -> Tick {"id": th_timer_id, "data": payload text,
 *                 "n": ticks so far}; on the K-th tick (K > 0) it sleeps
 *                 M ms (so the next tick is due, even queued), cancels the
 *                 timer and sends Cancelled {"rc": RC}
 *          Cancel {"id": ID} -> Cancelled {"rc": RC}
 *          Probe -> Pong {"timer_id": th_timer_id (0 outside a tick)}
 *          Sleep {"ms": N} sleeps N ms (no reply)
 *          Many {"n": N, "keep": K} starts N timers an hour away and
 *                 cancels all but every K-th -> Many {"rc": first error}
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "thespian/actor.h"
#include "thespian/json.h"

typedef struct {
    th_addr_t watcher;
    long ticks;
    long cancel_after;
    long slow_ms;
} timed_t;

static void
tell(th_ctx_t *ctx, timed_t *st, const char *type, json_t *body)
{
    th_send_json_new(ctx, &st->watcher, type, body);
}

static int
timed_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    timed_t *st = state;
    if (strcmp(msg->type, "Start") == 0) {
        json_t *o = th_msg_json(msg);
        st->watcher = msg->sender;
        st->ticks = 0;
        st->cancel_after =
            (long)json_integer_value(json_object_get(o, "cancel_after"));
        st->slow_ms = (long)json_integer_value(json_object_get(o, "slow_ms"));
        const char *data = json_string_value(json_object_get(o, "data"));
        uint64_t id = 0;
        int rc = th_timer_start(
            ctx, &id, (int64_t)json_integer_value(json_object_get(o, "delay")),
            (int64_t)json_integer_value(json_object_get(o, "period")),
            data ? data : "", data ? strlen(data) : 0);
        json_decref(o);
        tell(ctx, st, "Started",
             json_pack("{s:i, s:I}", "rc", rc, "id", (json_int_t)id));
    } else if (strcmp(msg->type, TH_MSG_TIMER) == 0) {
        uint64_t id = th_timer_id(ctx);
        st->ticks++;
        tell(ctx, st, "Tick",
             json_pack("{s:I, s:s%, s:i}", "id", (json_int_t)id, "data",
                       (const char *)msg->data, msg->len, "n", (int)st->ticks));
        if (st->cancel_after > 0 && st->ticks == st->cancel_after) {
            struct timespec ts = {st->slow_ms / 1000,
                                  (st->slow_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
            tell(ctx, st, "Cancelled",
                 json_pack("{s:i}", "rc", th_timer_cancel(ctx, id)));
        }
    } else if (strcmp(msg->type, "Cancel") == 0) {
        json_t *o = th_msg_json(msg);
        uint64_t id = (uint64_t)json_integer_value(json_object_get(o, "id"));
        json_decref(o);
        th_send_json_new(ctx, &msg->sender, "Cancelled",
                         json_pack("{s:i}", "rc", th_timer_cancel(ctx, id)));
    } else if (strcmp(msg->type, "Many") == 0) {
        json_t *o = th_msg_json(msg);
        long n = (long)json_integer_value(json_object_get(o, "n"));
        long keep = (long)json_integer_value(json_object_get(o, "keep"));
        json_decref(o);
        int rc = 0;
        for (long i = 0; i < n && rc == 0; i++) {
            uint64_t id;
            rc = th_timer_start(ctx, &id, 3600000, 0, NULL, 0);
            if (rc == 0 && (keep <= 0 || i % keep != 0))
                rc = th_timer_cancel(ctx, id);
        }
        th_send_json_new(ctx, &msg->sender, "Many",
                         json_pack("{s:i}", "rc", rc));
    } else if (strcmp(msg->type, "Sleep") == 0) {
        json_t *o = th_msg_json(msg);
        long ms = (long)json_integer_value(json_object_get(o, "ms"));
        json_decref(o);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    } else if (strcmp(msg->type, "Probe") == 0) {
        th_send_json_new(ctx, &msg->sender, "Pong",
                         json_pack("{s:I}", "timer_id",
                                   (json_int_t)th_timer_id(ctx)));
    }
    return 0;
}

static const th_class_t timed = {
    .size = sizeof(th_class_t), .name = "Timed",
    .state_size = sizeof(timed_t), .receive = timed_receive,
};

TH_PLUGIN_DEFINE(timeractors, &timed);
