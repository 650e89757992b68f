/*
 * tests/unit/host/troupe_test.c — troupes and transient actors (Thespian
 * §8.1, §8.2) through troupeactors.so: members really work in parallel,
 * every message is answered once, the troupe grows to max_count and
 * shrinks to idle_count, work in progress keeps work away, a failing
 * member stays usable, the leader's exit loses nothing silently; transient
 * actors exit on time and not before. Threaded and synchronous.
 */
#include <time.h>

#include "rt_util.h"

static const char *const plugins[] = {"troupeactors", NULL};

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static th_system_t *
make(bool sync, uint32_t workers)
{
    /* synchronous: sends only queue, so several messages wait for the
     * troupe at once, as they do under load in threaded mode */
    th_system_opts_t o = {.workers = workers, .synchronous = sync,
                          .sync_queue_only = sync};
    return rt_system(&o, plugins);
}

static void
send_json(th_inbox_t *in, const th_addr_t *to, const char *type,
          const char *fmt, long long a, long long b)
{
    char body[128];
    snprintf(body, sizeof body, fmt, a, b);
    CHECK_RC(th_inbox_send(in, to, type, body, strlen(body)), 0);
}

/* The leader's status: {"children": N, "troupe": {...}}. */
static json_t *
status_of(th_inbox_t *in, const th_addr_t *a)
{
    return rt_ask(in, a, TH_MSG_STATUS_REQ, "", TH_MSG_ACTOR_STATUS);
}

/* Two messages of 250 ms each to one address on two workers: returns
 * whether the handlers' [start, end] intervals overlapped, and whether two
 * distinct actors answered. */
static void
two_burns(th_system_t *sys, const char *cls, bool *overlap, bool *distinct)
{
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, cls);
    for (int i = 0; i < 2; i++)
        send_json(in, &a, "Burn", "{\"ms\": %lld, \"id\": %lld}", 250, i);
    json_t *r[2];
    for (int i = 0; i < 2; i++)
        r[i] = rt_expect(in, "Burned", 10000);
    long long s0 = rt_int(r[0], "start_us"), e0 = rt_int(r[0], "end_us");
    long long s1 = rt_int(r[1], "start_us"), e1 = rt_int(r[1], "end_us");
    *overlap = (s0 > s1 ? s0 : s1) < (e0 < e1 ? e0 : e1);
    *distinct = strcmp(rt_str(r[0], "member"), rt_str(r[1], "member")) != 0;
    CHECK(rt_int(r[0], "id") != rt_int(r[1], "id"));
    json_decref(r[0]);
    json_decref(r[1]);
    th_inbox_destroy(in);
}

TH_TEST(troupe_runs_in_parallel)
{
    th_system_t *sys = make(false, 2);
    bool overlap, distinct;
    two_burns(sys, "troupeactors.Worker", &overlap, &distinct);
    CHECK(distinct);
    CHECK(overlap);
    /* the same handler in one plain actor: one after the other */
    two_burns(sys, "troupeactors.Plain", &overlap, &distinct);
    CHECK(!distinct);
    CHECK(!overlap);
    th_system_destroy(sys);
}

TH_TEST(troupe_two_members_sync)
{
    th_system_t *sys = make(true, 0);
    bool overlap, distinct;
    two_burns(sys, "troupeactors.Worker", &overlap, &distinct);
    CHECK(distinct);   /* the second came while the first member was busy */
    CHECK(!overlap);   /* one thread */
    th_system_destroy(sys);
}

/* 24 messages: each answered once, by at most max_count (4) members, all
 * four used; then the troupe shrinks to idle_count (1). */
static void
once_and_bounded(bool sync)
{
    th_system_t *sys = make(sync, 2);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.Worker");
    enum { N = 24 };
    for (int i = 0; i < N; i++)
        send_json(in, &a, "Burn", "{\"ms\": %lld, \"id\": %lld}", 20, i);
    int seen[N] = {0};
    char members[8][TH_ADDR_STRLEN];
    int n_members = 0;
    for (int i = 0; i < N; i++) {
        json_t *r = rt_expect(in, "Burned", 10000);
        long long id = rt_int(r, "id");
        CHECK(id >= 0 && id < N);
        seen[id]++;
        const char *m = rt_str(r, "member");
        int k = 0;
        while (k < n_members && strcmp(members[k], m) != 0)
            k++;
        if (k == n_members) {
            CHECK(n_members < 4); /* never more than max_count */
            snprintf(members[n_members++], TH_ADDR_STRLEN, "%s", m);
        }
        json_decref(r);
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(seen[i], 1);
    CHECK_EQ(n_members, 4);
    rt_expect_nothing(in, 100);
    /* idle: back to idle_count members */
    long long children = -1;
    for (int i = 0; i < 200 && children != 1; i++) {
        json_t *st = status_of(in, &a);
        children = rt_int(st, "children");
        json_t *tr = json_object_get(st, "troupe");
        CHECK(tr != NULL);
        CHECK_EQ(rt_int(tr, "routed"), N);
        json_decref(st);
        if (children != 1)
            sleep_ms(10);
    }
    CHECK_EQ(children, 1);
    th_system_stats_t s;
    th_system_stats(sys, &s);
    CHECK_EQ(s.live_actors, 2); /* the leader and one member */
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(troupe_every_message_once_threaded) { once_and_bounded(false); }
TH_TEST(troupe_every_message_once_sync) { once_and_bounded(true); }

/* A member holding work in progress gets nothing new until it clears it;
 * with both members holding, messages wait in the leader. */
static void
wip(bool sync)
{
    th_system_t *sys = make(sync, 2);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.Holder");
    json_t *h = rt_ask(in, &a, "Hold", "{}", "Held");
    CHECK_EQ(rt_int(h, "rc"), 0);
    char held[TH_ADDR_STRLEN];
    snprintf(held, sizeof held, "%s", rt_str(h, "member"));
    json_decref(h);
    for (int i = 0; i < 3; i++) {
        json_t *p = rt_ask(in, &a, "Ping", "{}", "Pong");
        CHECK(strcmp(rt_str(p, "member"), held) != 0);
        json_decref(p);
    }
    /* the other member holds too: the next message waits */
    h = rt_ask(in, &a, "Hold", "{}", "Held");
    CHECK(strcmp(rt_str(h, "member"), held) != 0);
    json_decref(h);
    CHECK_RC(th_inbox_send(in, &a, "Ping", "{\"id\": 7}", 9), 0);
    rt_expect_nothing(in, 300);
    /* releasing the first member frees it for the waiting Ping */
    th_addr_t first;
    CHECK_RC(th_addr_from_string(&first, held), 0);
    json_t *r = rt_ask(in, &first, "Release", "{}", "Released");
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    json_t *p = rt_expect(in, "Pong", 5000);
    CHECK_EQ(rt_int(p, "id"), 7);
    CHECK_STREQ(rt_str(p, "member"), held);
    json_decref(p);
    /* outside a troupe member: TH_EINVAL */
    th_addr_t plain = rt_create(sys, "troupeactors.Plain");
    h = rt_ask(in, &plain, "Hold", "{}", "Held");
    CHECK_EQ(rt_int(h, "rc"), TH_EINVAL);
    json_decref(h);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(troupe_wip_threaded) { wip(false); }
TH_TEST(troupe_wip_sync) { wip(true); }

/* A member that fails a message (PoisonMessage to the sender) still
 * reports free: the one-member troupe answers the next message. */
TH_TEST(troupe_failing_member_stays_usable)
{
    th_system_t *sys = make(false, 2);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.Solo");
    json_t *pm = rt_ask(in, &a, "Fail", "{}", TH_MSG_POISON);
    json_decref(pm);
    json_t *p = rt_ask(in, &a, "Ping", "{\"id\": 3}", "Pong");
    CHECK_EQ(rt_int(p, "id"), 3);
    char leader[TH_ADDR_STRLEN];
    rt_addr_str(&a, leader);
    CHECK(strcmp(rt_str(p, "member"), leader) != 0); /* a member answered */
    json_decref(p);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* A member that dies (it exits on a failed message) is forgotten: the
 * one-member troupe makes a new member for the next message. */
TH_TEST(troupe_dead_member_replaced)
{
    th_system_t *sys = make(false, 2);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.Fragile");
    json_t *p = rt_ask(in, &a, "Ping", "{\"id\": 1}", "Pong");
    char first[TH_ADDR_STRLEN];
    snprintf(first, sizeof first, "%s", rt_str(p, "member"));
    json_decref(p);
    json_t *pm = rt_ask(in, &a, "Fail", "{}", TH_MSG_POISON);
    json_decref(pm);
    /* its exit request is queued after the failure: wait until the leader
     * has heard it is gone (a message routed to it meanwhile would meet
     * an exiting member) */
    long long children = -1;
    for (int i = 0; i < 500 && children != 0; i++) {
        json_t *st = status_of(in, &a);
        children = rt_int(st, "children");
        json_decref(st);
        if (children != 0)
            nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    CHECK_EQ(children, 0);
    p = rt_ask(in, &a, "Ping", "{\"id\": 2}", "Pong");
    CHECK_EQ(rt_int(p, "id"), 2);
    CHECK(strcmp(rt_str(p, "member"), first) != 0);
    json_decref(p);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* The leader exits while its member is busy and two messages wait: the
 * member finishes, the waiting ones become dead letters, all are gone. */
static void
leader_exit(bool sync)
{
    th_system_t *sys = make(sync, 2);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.Solo");
    send_json(in, &a, "Burn", "{\"ms\": %lld, \"id\": %lld}", 200, 0);
    send_json(in, &a, "Ping", "{\"id\": %lld%lld}", 1, 0);
    send_json(in, &a, "Ping", "{\"id\": %lld%lld}", 2, 0);
    CHECK_RC(th_inbox_send(in, &a, TH_MSG_EXIT_REQUEST, "", 0), 0);
    json_t *r = rt_expect(in, "Burned", 5000);
    json_decref(r);
    rt_expect_nothing(in, 200);
    if (sync)
        th_system_run(sys, 0);
    th_system_stats_t s = {0};
    for (int i = 0; i < 500; i++) {
        th_system_stats(sys, &s);
        if (s.live_actors == 0)
            break;
        sleep_ms(10);
    }
    CHECK_EQ(s.live_actors, 0);
    CHECK(s.dead_letters >= 2);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(troupe_leader_exit_threaded) { leader_exit(false); }
TH_TEST(troupe_leader_exit_sync) { leader_exit(true); }

/* A flood at a busy troupe: the messages waiting for a member are bounded
 * by mailbox_limit; the rest become dead letters, none vanish. */
TH_TEST(troupe_queue_bounded)
{
    th_system_opts_t o = {.workers = 2, .mailbox_limit = 4};
    th_system_t *sys = rt_system(&o, plugins);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.Solo");
    send_json(in, &a, "Burn", "{\"ms\": %lld, \"id\": %lld}", 300, 0);
    int efull = 0;
    for (int i = 0; i < 20; i++) {
        char body[32];
        snprintf(body, sizeof body, "{\"id\": %d}", i);
        int rc = th_inbox_send(in, &a, "Ping", body, strlen(body));
        CHECK(rc == 0 || rc == TH_EFULL);
        efull += rc == TH_EFULL;
        sleep_ms(2); /* let the leader move each into its queue */
    }
    json_t *r = rt_expect(in, "Burned", 5000);
    json_decref(r);
    int pongs = 0;
    th_inmsg_t *m;
    while (th_inbox_recv(in, &m, 500) == 0) {
        CHECK_STREQ(m->type, "Pong");
        pongs++;
        th_inmsg_free(m);
    }
    th_system_stats_t s;
    th_system_stats(sys, &s);
    CHECK(pongs >= 1 && pongs <= 4);
    CHECK(s.dead_letters > 0); /* the leader took them, then its queue was
                                  full: dead letters, not TH_EFULL */
    CHECK_EQ(pongs + efull + (int)s.dead_letters, 20);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(bad_troupe_refused)
{
    th_system_t *sys = make(false, 2);
    th_diag_t d = {0};
    CHECK_RC(th_system_load_plugin(sys, rt_plugin_path("bad_troupe"), &d),
             TH_EABI);
    CHECK_CONTAINS(d.msg, "max_count 0");
    CHECK_CONTAINS(d.msg, "EmptyTroupe");
    th_addr_t x;
    CHECK_RC(th_system_create_actor(sys, &x, "bad_troupe.EmptyTroupe", NULL),
             TH_ENOENT);
    /* the system still answers */
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.Worker");
    json_t *p = rt_ask(in, &a, "Ping", "{\"id\": 5}", "Pong");
    CHECK_EQ(rt_int(p, "id"), 5);
    json_decref(p);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* ---- Transient actors ---------------------------------------------------- */

static uint64_t
live(th_system_t *sys, bool sync)
{
    if (sync)
        th_system_run(sys, 0); /* fire what is due */
    th_system_stats_t s;
    th_system_stats(sys, &s);
    return s.live_actors;
}

/* Sleep until `until` (now_ms clock), then report liveness. */
static uint64_t
live_at(th_system_t *sys, bool sync, int64_t until)
{
    int64_t left = until - th_now_ms();
    if (left > 0)
        sleep_ms((int)left);
    return live(sys, sync);
}

/* `n` actors must still live at `until`, before a deadline no earlier
 * than `deadline`. A box so loaded that this thread wakes after the
 * deadline proves nothing either way: say so rather than fail. */
static void
check_alive_before(th_system_t *sys, bool sync, int64_t until,
                   int64_t deadline, uint64_t n)
{
    uint64_t got = live_at(sys, sync, until);
    int64_t late = th_now_ms();
    if (got != n && late >= deadline)
        printf("# woke %lld ms late: alive check skipped\n",
               (long long)(late - until));
    else
        CHECK_EQ(got, n);
}

/* Poll until the actor is gone; returns when (now_ms), or -1 past limit. */
static int64_t
gone_by(th_system_t *sys, bool sync, int64_t limit)
{
    while (th_now_ms() < limit) {
        if (live(sys, sync) == 0)
            return th_now_ms();
        sleep_ms(5);
    }
    return live(sys, sync) == 0 ? th_now_ms() : -1;
}

/* transient 200 ms: never messaged, it stays (2x the delay); after its
 * first message it is alive at delay-100 and gone by delay+300. */
static void
transient(bool sync)
{
    th_system_t *sys = make(sync, 2);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.Trans");
    if (sync)
        th_system_run(sys, 0);
    CHECK_EQ(live_at(sys, sync, th_now_ms() + 400), 1); /* never messaged */
    int64_t t0 = th_now_ms();
    json_t *p = rt_ask(in, &a, "Ping", "{}", "Pong");
    json_decref(p);
    check_alive_before(sys, sync, t0 + 100, t0 + 200, 1);
    int64_t gone = gone_by(sys, sync, t0 + 500);
    CHECK(gone >= 0);
    CHECK(gone - t0 >= 200);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* A transient troupe exits as a whole, members with it, after its first
 * message. */
static void
transient_troupe(bool sync)
{
    th_system_t *sys = make(sync, 2);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.TransTroupe");
    int64_t t0 = th_now_ms();
    json_t *p = rt_ask(in, &a, "Ping", "{}", "Pong");
    json_decref(p);
    check_alive_before(sys, sync, t0 + 100, t0 + 200, 2); /* + member */
    int64_t gone = gone_by(sys, sync, t0 + 500);
    CHECK(gone >= 0);
    CHECK(gone - t0 >= 200);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(transient_troupe_threaded) { transient_troupe(false); }
TH_TEST(transient_troupe_sync) { transient_troupe(true); }

TH_TEST(transient_threaded) { transient(false); }
TH_TEST(transient_sync) { transient(true); }

/* transient_idle 200 ms: pinged every 80 ms for 600 ms it stays; after the
 * last ping it is alive at delay-100 and gone by delay+300. */
static void
transient_idle(bool sync)
{
    th_system_t *sys = make(sync, 2);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "troupeactors.TransIdle");
    int64_t start = th_now_ms(), last = start;
    while (th_now_ms() - start < 600) {
        last = th_now_ms();
        json_t *p = rt_ask(in, &a, "Ping", "{}", "Pong");
        json_decref(p);
        sleep_ms(80);
        if (sync)
            th_system_run(sys, 0); /* its check may fire: it must re-arm */
    }
    CHECK_EQ(live(sys, sync), 1);
    check_alive_before(sys, sync, last + 100, last + 200, 1);
    int64_t gone = gone_by(sys, sync, last + 500);
    CHECK(gone >= 0);
    CHECK(gone - last >= 200);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(transient_idle_threaded) { transient_idle(false); }
TH_TEST(transient_idle_sync) { transient_idle(true); }

TH_TEST_MAIN(TH_CASE(troupe_runs_in_parallel), TH_CASE(troupe_two_members_sync),
             TH_CASE(troupe_every_message_once_threaded),
             TH_CASE(troupe_every_message_once_sync),
             TH_CASE(troupe_wip_threaded), TH_CASE(troupe_wip_sync),
             TH_CASE(troupe_failing_member_stays_usable),
             TH_CASE(troupe_dead_member_replaced),
             TH_CASE(troupe_leader_exit_threaded),
             TH_CASE(troupe_leader_exit_sync), TH_CASE(troupe_queue_bounded),
             TH_CASE(bad_troupe_refused),
             TH_CASE(transient_threaded), TH_CASE(transient_sync),
             TH_CASE(transient_idle_threaded), TH_CASE(transient_idle_sync),
             TH_CASE(transient_troupe_threaded),
             TH_CASE(transient_troupe_sync))
