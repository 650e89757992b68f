/*
 * tests/unit/host/timers_test.c — timers with ids (th_timer_start /
 * th_timer_cancel / th_timer_id) through timeractors.Timed, threaded and
 * synchronous: one-shot, periodic, cancel mid-run with a tick already
 * queued, bad input, timers ending with their actor.
 */
#include "log_capture.h"
#include "rt_util.h"

static const char *const plugins[] = {"timeractors", NULL};

static th_system_t *
make(bool sync)
{
    th_system_opts_t o = {.workers = 2, .synchronous = sync};
    return rt_system(&o, plugins);
}

static json_t *
start(th_inbox_t *in, const th_addr_t *a, const char *body)
{
    return rt_ask(in, a, "Start", body, "Started");
}

static void
one_shot(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "timeractors.Timed");
    json_t *r = start(in, &a, "{\"delay\":20,\"period\":0,\"data\":\"abc\"}");
    CHECK_EQ(rt_int(r, "rc"), 0);
    long long id = rt_int(r, "id");
    CHECK(id != 0);
    json_decref(r);
    r = rt_expect(in, "Tick", 2000);
    CHECK_EQ(rt_int(r, "id"), id);
    CHECK_STREQ(rt_str(r, "data"), "abc");
    json_decref(r);
    rt_expect_nothing(in, 150);
    /* fired and delivered: no longer known */
    char body[64];
    snprintf(body, sizeof body, "{\"id\":%lld}", id);
    r = rt_ask(in, &a, "Cancel", body, "Cancelled");
    CHECK_EQ(rt_int(r, "rc"), TH_ENOENT);
    json_decref(r);
    /* th_timer_id is 0 outside a TimerMessage */
    r = rt_ask(in, &a, "Probe", NULL, "Pong");
    CHECK_EQ(rt_int(r, "timer_id"), 0);
    json_decref(r);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.pending_timers, 0);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(one_shot_arrives_once_with_data_and_id) { one_shot(false); }
TH_TEST(one_shot_synchronous) { one_shot(true); }

static void
periodic(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "timeractors.Timed");
    int64_t t0 = th_now_ms();
    json_t *r = start(in, &a, "{\"delay\":30,\"period\":30,\"data\":\"p\"}");
    long long id = rt_int(r, "id");
    json_decref(r);
    for (int i = 1; i <= 5; i++) {
        r = rt_expect(in, "Tick", 2000);
        CHECK_EQ(rt_int(r, "id"), id);
        CHECK_EQ(rt_int(r, "n"), i);
        CHECK_STREQ(rt_str(r, "data"), "p");
        json_decref(r);
    }
    int64_t took = th_now_ms() - t0;
    /* 5 ticks at 30 ms: due at 150 ms, no drift accumulation */
    CHECK(took >= 148);
    CHECK(took < 1500);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.pending_timers, 1);
    char body[64];
    snprintf(body, sizeof body, "{\"id\":%lld}", id);
    /* ticks may arrive before the answer: skip them */
    CHECK_RC(th_inbox_send(in, &a, "Cancel", body, strlen(body)), 0);
    for (;;) {
        th_inmsg_t *m;
        CHECK_RC(th_inbox_recv(in, &m, 2000), 0);
        bool done = strcmp(m->type, "Cancelled") == 0;
        if (done)
            CHECK(m->len == 8 && memcmp(m->data, "{\"rc\":0}", 8) == 0);
        th_inmsg_free(m);
        if (done)
            break;
    }
    rt_expect_nothing(in, 100);
    th_system_stats(sys, &st);
    CHECK_EQ(st.pending_timers, 0);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(periodic_fires_at_its_period) { periodic(false); }
TH_TEST(periodic_synchronous) { periodic(true); }

/* Cancelled from within its 3rd tick, while the 4th is already due (the
 * handler is slow, the period short) and, threaded, already queued: no
 * further tick. */
static void
cancel_mid_run(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "timeractors.Timed");
    json_t *r = start(in, &a,
                      "{\"delay\":5,\"period\":5,\"data\":\"x\","
                      "\"cancel_after\":3,\"slow_ms\":40}");
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    for (int i = 1; i <= 3; i++) {
        r = rt_expect(in, "Tick", 2000);
        CHECK_EQ(rt_int(r, "n"), i);
        json_decref(r);
    }
    r = rt_expect(in, "Cancelled", 2000);
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    rt_expect_nothing(in, 200);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.pending_timers, 0);
    CHECK_EQ(st.dead_letters, 0);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(periodic_cancelled_mid_run) { cancel_mid_run(false); }
TH_TEST(periodic_cancelled_mid_run_synchronous) { cancel_mid_run(true); }

static void
bad_input(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "timeractors.Timed");
    th_addr_t b = rt_create(sys, "timeractors.Timed");
    lc_t lc;
    lc_begin(&lc);
    json_t *r = start(in, &a, "{\"delay\":-1,\"period\":0}");
    char *log = lc_end(&lc);
    CHECK_CONTAINS(log, "timer_start: delay_ms -1 / period_ms 0");
    free(log);
    CHECK_EQ(rt_int(r, "rc"), TH_EINVAL);
    CHECK_EQ(rt_int(r, "id"), 0);
    json_decref(r);
    r = start(in, &a, "{\"delay\":10,\"period\":-5}");
    CHECK_EQ(rt_int(r, "rc"), TH_EINVAL);
    json_decref(r);
    r = rt_ask(in, &a, "Cancel", "{\"id\":123456}", "Cancelled");
    CHECK_EQ(rt_int(r, "rc"), TH_ENOENT);
    json_decref(r);
    /* only the owner may cancel */
    r = start(in, &b, "{\"delay\":60000,\"period\":0}");
    long long id = rt_int(r, "id");
    json_decref(r);
    char body[64];
    snprintf(body, sizeof body, "{\"id\":%lld}", id);
    r = rt_ask(in, &a, "Cancel", body, "Cancelled");
    CHECK_EQ(rt_int(r, "rc"), TH_ENOENT);
    json_decref(r);
    r = rt_ask(in, &b, "Cancel", body, "Cancelled");
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    r = rt_ask(in, &a, "Probe", NULL, "Pong"); /* still answering */
    json_decref(r);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.pending_timers, 0);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(bad_input_is_refused_system_keeps_running) { bad_input(false); }
TH_TEST(bad_input_synchronous) { bad_input(true); }

static void
end_with_actor(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "timeractors.Timed");
    json_t *r = start(in, &a, "{\"delay\":60000,\"period\":0}");
    json_decref(r);
    r = start(in, &a, "{\"delay\":2,\"period\":2}");
    json_decref(r);
    json_decref(rt_expect(in, "Tick", 2000));
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.pending_timers, 2);
    uint64_t dl = st.dead_letters;
    /* a slow message, then the exit: a tick falls due during the sleep and
     * is queued behind the exit request */
    CHECK_RC(th_system_tell(sys, &a, "Sleep", "{\"ms\":30}", 9), 0);
    CHECK_RC(th_system_tell(sys, &a, TH_MSG_EXIT_REQUEST, "", 0), 0);
    /* gone: no live actor left (no probe, which would be a dead letter) */
    for (int i = 0; i < 500; i++) {
        if (sync)
            th_system_run(sys, 10);
        th_system_stats(sys, &st);
        if (st.live_actors == 0)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ(st.live_actors, 0);
    CHECK_EQ(st.pending_timers, 0);
    /* ticks queued at the exit are dropped, none comes later */
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    if (sync)
        th_system_run(sys, 100);
    th_system_stats(sys, &st);
    CHECK_EQ(st.dead_letters, dl);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(timers_end_with_the_actor) { end_with_actor(false); }
TH_TEST(timers_end_with_the_actor_synchronous) { end_with_actor(true); }

/* Many timers cancelled long before they are due (the heap drops them in
 * bulk): the others stay, and a short timer still comes first. */
TH_TEST(mass_cancel_keeps_the_rest)
{
    th_system_t *sys = make(false);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "timeractors.Timed");
    json_t *r = rt_ask(in, &a, "Many", "{\"n\":20000,\"keep\":10}", "Many");
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.pending_timers, 2000);
    r = start(in, &a, "{\"delay\":10,\"period\":0,\"data\":\"soon\"}");
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    r = rt_expect(in, "Tick", 2000);
    CHECK_STREQ(rt_str(r, "data"), "soon");
    json_decref(r);
    th_system_stats(sys, &st);
    CHECK_EQ(st.pending_timers, 2000);
    CHECK_RC(th_system_tell(sys, &a, TH_MSG_EXIT_REQUEST, "", 0), 0);
    rt_wait_dead(sys, &a);
    th_system_stats(sys, &st);
    CHECK_EQ(st.pending_timers, 0);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST_MAIN(TH_CASE(mass_cancel_keeps_the_rest),
             TH_CASE(one_shot_arrives_once_with_data_and_id),
             TH_CASE(one_shot_synchronous),
             TH_CASE(periodic_fires_at_its_period),
             TH_CASE(periodic_synchronous),
             TH_CASE(periodic_cancelled_mid_run),
             TH_CASE(periodic_cancelled_mid_run_synchronous),
             TH_CASE(bad_input_is_refused_system_keeps_running),
             TH_CASE(bad_input_synchronous),
             TH_CASE(timers_end_with_the_actor),
             TH_CASE(timers_end_with_the_actor_synchronous))
