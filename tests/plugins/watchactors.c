/*
 * tests/plugins/watchactors.c — watchactors.so: an actor using
 * th_watch_fds for tests/unit/host/watch_test.c. Replies go to the sender
 * of the last Watch.
 *
 *   Watcher  Watch {"fds": [FD...]} -> Watching {"rc": RC}; from then on
 *            every callback renews the watch with the same fds (Thespian
 *            style), until Stop -> Stopped {} (a callback without a
 *            renewal: the watch ends)
 *            WatchMessage -> Ready {"ready": [...]} (its body), after
 *            reading what is waiting on each ready fd
 *            Probe -> Pong {"rc": RC of the renewal}
 */
#include <string.h>
#include <unistd.h>

#include "thespian/actor.h"
#include "thespian/json.h"

#define MAX_FDS 8

typedef struct {
    th_addr_t watcher;
    int fds[MAX_FDS];
    size_t n;
} watcher_t;

static int
watcher_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    watcher_t *st = state;
    if (strcmp(msg->type, "Watch") == 0) {
        json_t *o = th_msg_json(msg);
        json_t *a = json_object_get(o, "fds");
        st->n = 0;
        for (size_t i = 0; i < json_array_size(a) && i < MAX_FDS; i++)
            st->fds[st->n++] = (int)json_integer_value(json_array_get(a, i));
        json_decref(o);
        st->watcher = msg->sender;
        int rc = th_watch_fds(ctx, st->fds, st->n);
        th_send_json_new(ctx, &st->watcher, "Watching",
                         json_pack("{s:i}", "rc", rc));
        return 0;
    }
    if (strcmp(msg->type, "Stop") == 0) {
        st->n = 0;
        th_send_json_new(ctx, &msg->sender, "Stopped", json_object());
        return 0;
    }
    int rc = st->n ? th_watch_fds(ctx, st->fds, st->n) : 0;
    if (strcmp(msg->type, TH_MSG_WATCH) == 0) {
        json_t *o = th_msg_json(msg);
        json_t *ready = json_object_get(o, "ready");
        for (size_t i = 0; i < json_array_size(ready); i++) {
            char buf[256];
            int fd = (int)json_integer_value(json_array_get(ready, i));
            if (read(fd, buf, sizeof buf) < 0)
                json_object_set_new(o, "read_failed", json_integer(fd));
        }
        th_send_json_new(ctx, &st->watcher, "Ready", o);
    } else if (strcmp(msg->type, "Probe") == 0) {
        th_send_json_new(ctx, &msg->sender, "Pong",
                         json_pack("{s:i}", "rc", rc));
    }
    return 0;
}

static const th_class_t watcher = {
    .size = sizeof(th_class_t), .name = "Watcher",
    .state_size = sizeof(watcher_t), .receive = watcher_receive,
};

TH_PLUGIN_DEFINE(watchactors, &watcher);
