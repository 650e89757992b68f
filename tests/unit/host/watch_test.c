/*
 * tests/unit/host/watch_test.c — fd watches (th_watch_fds, WatchMessage)
 * through watchactors.Watcher on socket pairs, threaded and synchronous:
 * the ready subset, the end of a watch not renewed, bad fds, an fd closed
 * while watched.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log_capture.h"
#include "rt_util.h"

static const char *const plugins[] = {"watchactors", NULL};

static th_system_t *
make(bool sync)
{
    th_system_opts_t o = {.workers = 2, .synchronous = sync};
    return rt_system(&o, plugins);
}

static void
pair(int sv[2])
{
    CHECK_RC(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

static json_t *
watch(th_inbox_t *in, const th_addr_t *a, const int *fds, int n)
{
    char body[128];
    int k = snprintf(body, sizeof body, "{\"fds\":[");
    for (int i = 0; i < n; i++)
        k += snprintf(body + k, sizeof body - (size_t)k, "%s%d",
                      i ? "," : "", fds[i]);
    snprintf(body + k, sizeof body - (size_t)k, "]}");
    return rt_ask(in, a, "Watch", body, "Watching");
}

/* The Ready body names exactly `fd`. */
static void
expect_ready(th_inbox_t *in, int fd)
{
    json_t *r = rt_expect(in, "Ready", 3000);
    json_t *ready = json_object_get(r, "ready");
    CHECK_EQ(json_array_size(ready), 1);
    CHECK_EQ(json_integer_value(json_array_get(ready, 0)), fd);
    CHECK(json_object_get(r, "read_failed") == NULL);
    json_decref(r);
}

static void
socketpair_ready_subset(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "watchactors.Watcher");
    int p1[2], p2[2];
    pair(p1);
    pair(p2);
    int fds[2] = {p1[0], p2[0]};
    json_t *r = watch(in, &a, fds, 2);
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    rt_expect_nothing(in, 100); /* nothing readable yet */
    CHECK_EQ(write(p2[1], "x", 1), 1);
    expect_ready(in, p2[0]);
    CHECK_EQ(write(p1[1], "yy", 2), 2);
    expect_ready(in, p1[0]);
    /* drained and renewed: quiet until the next write, then again */
    rt_expect_nothing(in, 100);
    CHECK_EQ(write(p2[1], "z", 1), 1);
    expect_ready(in, p2[0]);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    for (int i = 0; i < 2; i++)
        close(p1[i]), close(p2[i]);
}

TH_TEST(watch_on_a_socketpair_gives_the_ready_subset)
{
    socketpair_ready_subset(false);
}
TH_TEST(watch_on_a_socketpair_synchronous) { socketpair_ready_subset(true); }

static void
not_renewed(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "watchactors.Watcher");
    int p[2];
    pair(p);
    json_t *r = watch(in, &a, &p[0], 1);
    json_decref(r);
    r = rt_ask(in, &a, "Stop", NULL, "Stopped");
    json_decref(r);
    /* Stopped is sent inside that callback: its end is certain once the
     * next callback answered */
    json_decref(rt_ask(in, &a, "Probe", NULL, "Pong"));
    CHECK_EQ(write(p[1], "x", 1), 1);
    rt_expect_nothing(in, 200);
    /* the system still answers, and a new watch works */
    r = watch(in, &a, &p[0], 1);
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    expect_ready(in, p[0]);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    close(p[0]), close(p[1]);
}

TH_TEST(no_message_after_a_callback_without_renewal) { not_renewed(false); }
TH_TEST(no_message_after_no_renewal_synchronous) { not_renewed(true); }

static void
bad_fds(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "watchactors.Watcher");
    int p[2];
    pair(p);
    /* a number far above the ones in use: no open() during the test
     * (the log capture's file) can get it */
    int dead[1] = {900};
    CHECK(fcntl(dead[0], F_GETFD) == -1);
    int fds[2] = {-1, p[0]};
    lc_t lc;
    lc_begin(&lc);
    json_t *r = watch(in, &a, fds, 2);
    char *log = lc_end(&lc);
    CHECK_CONTAINS(log, "watch_fds: fd -1: negative");
    free(log);
    CHECK_EQ(rt_int(r, "rc"), TH_EINVAL);
    json_decref(r);
    CHECK_EQ(write(p[1], "x", 1), 1);
    expect_ready(in, p[0]); /* the valid fd is watched anyway */
    int fds2[2] = {dead[0], p[0]};
    lc_begin(&lc);
    r = watch(in, &a, fds2, 2);
    log = lc_end(&lc);
    char want[64];
    snprintf(want, sizeof want, "watch_fds: fd %d: not open", dead[0]);
    CHECK_CONTAINS(log, want);
    free(log);
    CHECK_EQ(rt_int(r, "rc"), TH_EIO);
    json_decref(r);
    CHECK_EQ(write(p[1], "x", 1), 1);
    expect_ready(in, p[0]);
    r = rt_ask(in, &a, "Probe", NULL, "Pong");
    CHECK_EQ(rt_int(r, "rc"), TH_EIO);
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    close(p[0]), close(p[1]);
}

TH_TEST(negative_and_closed_fds_refused_others_watched) { bad_fds(false); }
TH_TEST(bad_fds_synchronous) { bad_fds(true); }

static void
closed_while_watched(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "watchactors.Watcher");
    int p[2], q[2];
    pair(p);
    pair(q);
    int fds[2] = {p[0], q[0]};
    json_t *r = watch(in, &a, fds, 2);
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    close(p[0]); /* under the watch */
    close(p[1]);
    rt_expect_nothing(in, 150);
    r = rt_ask(in, &a, "Probe", NULL, "Pong");
    CHECK_EQ(rt_int(r, "rc"), TH_EIO); /* the renewal names it gone */
    json_decref(r);
    CHECK_EQ(write(q[1], "x", 1), 1);
    expect_ready(in, q[0]);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    close(q[0]), close(q[1]);
}

TH_TEST(fd_closed_while_watched_is_dropped) { closed_while_watched(false); }
TH_TEST(fd_closed_while_watched_synchronous) { closed_while_watched(true); }

/* The actor's end removes its fds: a later write reaches nobody, and the
 * fd can be watched by another actor. */
TH_TEST(watch_ends_with_the_actor)
{
    th_system_t *sys = make(false);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "watchactors.Watcher");
    int p[2];
    pair(p);
    json_decref(watch(in, &a, &p[0], 1));
    CHECK_RC(th_system_tell(sys, &a, TH_MSG_EXIT_REQUEST, "", 0), 0);
    rt_wait_dead(sys, &a);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    uint64_t dl = st.dead_letters;
    CHECK_EQ(write(p[1], "x", 1), 1);
    rt_expect_nothing(in, 150);
    th_system_stats(sys, &st);
    CHECK_EQ(st.dead_letters, dl);
    th_addr_t b = rt_create(sys, "watchactors.Watcher");
    json_t *r = watch(in, &b, &p[0], 1);
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    expect_ready(in, p[0]);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    close(p[0]), close(p[1]);
}

/* One fd, one watcher: a second actor asking for it gets TH_EEXIST. */
TH_TEST(an_fd_has_one_watcher)
{
    th_system_t *sys = make(false);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "watchactors.Watcher");
    th_addr_t b = rt_create(sys, "watchactors.Watcher");
    int p[2];
    pair(p);
    json_t *r = watch(in, &a, &p[0], 1);
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    /* "Watching" is sent from inside a's callback; the watch takes effect
     * when that callback returns. A second callback (which renews it)
     * answering proves the first has returned. */
    r = rt_ask(in, &a, "Probe", "{}", "Pong");
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    r = watch(in, &b, &p[0], 1);
    CHECK_EQ(rt_int(r, "rc"), TH_EEXIST);
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    close(p[0]), close(p[1]);
}

TH_TEST_MAIN(TH_CASE(watch_on_a_socketpair_gives_the_ready_subset),
             TH_CASE(watch_on_a_socketpair_synchronous),
             TH_CASE(no_message_after_a_callback_without_renewal),
             TH_CASE(no_message_after_no_renewal_synchronous),
             TH_CASE(negative_and_closed_fds_refused_others_watched),
             TH_CASE(bad_fds_synchronous),
             TH_CASE(fd_closed_while_watched_is_dropped),
             TH_CASE(fd_closed_while_watched_synchronous),
             TH_CASE(watch_ends_with_the_actor),
             TH_CASE(an_fd_has_one_watcher))
