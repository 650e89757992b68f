/*
 * tests/unit/host/runtime_test.c — the runtime's semantics through real
 * plugins (testactors, rtactors, hello), in threaded and synchronous mode:
 * creation and buffering, exit and children, restart and PoisonMessage,
 * dead letters, names, wakeups, status, shutdown, ordering, back-pressure.
 */
#include <pthread.h>
#include <unistd.h>
#include <sys/resource.h>
#include <time.h>

#include "rt_util.h"

static th_system_t *
threaded(void)
{
    th_system_opts_t o = {.workers = 2};
    return rt_system(&o, rt_all_plugins);
}

static th_system_t *
synchronous(void)
{
    th_system_opts_t o = {.synchronous = true};
    return rt_system(&o, rt_all_plugins);
}

static void
greet_three_times(th_system_t *sys)
{
    th_addr_t g = rt_create(sys, "hello.Greeter");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    for (int i = 1; i <= 3; i++) {
        json_t *r = rt_ask(in, &g, "Greet", "{\"name\":\"Ann\"}", "Greeting");
        CHECK_STREQ(rt_str(r, "text"), "Hello, Ann!");
        CHECK_EQ(rt_int(r, "count"), i);
        json_decref(r);
    }
    th_inbox_destroy(in);
}

/* The same plugin .so runs unchanged in both modes. */
TH_TEST(same_plugin_threaded_and_synchronous)
{
    th_system_t *a = threaded(), *b = synchronous();
    greet_three_times(a);
    greet_three_times(b);
    th_system_destroy(a);
    th_system_destroy(b);
}

/* The address is valid at once; messages wait until the actor started. */
TH_TEST(messages_buffered_until_started)
{
    th_system_t *sys = synchronous();
    th_addr_t c = rt_create(sys, "testactors.Counter");
    for (int i = 0; i < 100; i++)
        CHECK_RC(th_system_tell(sys, &c, "Tick", "", 0), 0);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    json_t *r = rt_ask(in, &c, "Get", "", "Count");
    CHECK_EQ(rt_int(r, "count"), 100);
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(failed_init_dead_letters_buffered_messages)
{
    /* queue-only: the five wait for the start rather than meet a dead
     * actor one by one */
    th_system_opts_t o = {.synchronous = true, .sync_queue_only = true};
    th_system_t *sys = rt_system(&o, rt_all_plugins);
    th_addr_t w = rt_create(sys, "rtactors.DLWatch");
    th_addr_t f = rt_create(sys, "rtactors.FailInit");
    for (int i = 0; i < 5; i++)
        CHECK_RC(th_system_tell(sys, &f, "Hello", "{}", 2), 0);
    th_system_run(sys, 0);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.dead_letters, 5);
    CHECK_EQ(st.live_actors, 1); /* only the watcher */
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    json_t *r = rt_ask(in, &w, "Get", "", "Dead");
    CHECK_EQ(rt_int(r, "count"), 5);
    CHECK_CONTAINS(rt_str(r, "last"), "\"type\":\"Hello\"");
    json_decref(r);
    /* the address stays dead */
    CHECK_RC(th_system_tell(sys, &f, "Hello", "{}", 2), TH_EDEAD);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

static void
make_tree(th_system_t *sys, th_inbox_t *in, th_addr_t *root, int n)
{
    th_addr_t me;
    th_inbox_address(in, &me);
    char a[TH_ADDR_STRLEN], body[200];
    rt_addr_str(&me, a);
    *root = rt_create(sys, "rtactors.Exiter");
    snprintf(body, sizeof body, "{\"watch\":\"%s\",\"name\":\"p\",\"n\":%d}", a,
             n);
    json_decref(rt_ask(in, root, "Make", body, "Made"));
}

/* Collect `n` reports of (type, name) in arrival order into out. */
static void
collect(th_inbox_t *in, int n, char out[][32])
{
    for (int i = 0; i < n; i++) {
        th_inmsg_t *m;
        if (th_inbox_recv(in, &m, 5000) != 0)
            TH_FAIL_AT_("only %d of %d reports arrived", i, n);
        json_t *o = json_loadb(m->data, m->len, 0, NULL);
        snprintf(out[i], 32, "%s:%s", m->type, rt_str(o, "name"));
        json_decref(o);
        th_inmsg_free(m);
    }
}

static int
index_of(char list[][32], int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return i;
    TH_FAIL_AT_("report %s missing", s);
}

/* ActorExitRequest is seen by the actor, goes to its children first, and
 * the parent completes only after them. */
static void
exit_recursive(th_system_t *sys)
{
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t p;
    make_tree(sys, in, &p, 3);
    CHECK_RC(th_system_tell(sys, &p, TH_MSG_EXIT_REQUEST, "", 0), 0);
    char got[7][32];
    collect(in, 7, got); /* Exiting x4, TornDown x4 minus... see below */
    /* parent: Exiting first; each child: Exiting then TornDown; parent's
     * TornDown last of all */
    CHECK_EQ(index_of(got, 7, "Exiting:p"), 0);
    for (int i = 0; i < 3; i++) {
        char e[32], t[32];
        snprintf(e, sizeof e, "Exiting:p.%d", i);
        snprintf(t, sizeof t, "TornDown:p.%d", i);
        CHECK(index_of(got, 7, e) < index_of(got, 7, t));
    }
    json_t *last = rt_expect(in, "TornDown", 5000);
    CHECK_STREQ(rt_str(last, "name"), "p");
    json_decref(last);
    rt_wait_dead(sys, &p);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.live_actors, 0);
    th_inbox_destroy(in);
}

TH_TEST(exit_request_recursive_children_first)
{
    th_system_t *a = threaded(), *b = synchronous();
    exit_recursive(a);
    exit_recursive(b);
    th_system_destroy(a);
    th_system_destroy(b);
}

/* notRecursive: the parent goes, its children stay, adopted by the system,
 * and an orderly shutdown still ends them. */
TH_TEST(exit_request_not_recursive_children_survive)
{
    th_system_t *sys = threaded();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t p;
    make_tree(sys, in, &p, 2);
    CHECK_RC(th_system_tell(sys, &p, TH_MSG_EXIT_REQUEST,
                            "{\"notRecursive\":true}", 21),
             0);
    json_t *r = rt_expect(in, "Exiting", 5000);
    CHECK_STREQ(rt_str(r, "name"), "p");
    json_decref(r);
    r = rt_expect(in, "TornDown", 5000);
    CHECK_STREQ(rt_str(r, "name"), "p");
    json_decref(r);
    rt_expect_nothing(in, 200);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.live_actors, 2);
    CHECK_RC(th_system_stop(sys, 5000), 0);
    char got[4][32];
    collect(in, 4, got);
    index_of(got, 4, "TornDown:p.0");
    index_of(got, 4, "TornDown:p.1");
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(child_exited_reaches_parent)
{
    th_system_t *sys = threaded();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t p = rt_create(sys, "testactors.Parent");
    json_decref(rt_ask(in, &p, "Watch", "", "Watching"));
    json_t *r = rt_ask(in, &p, "Spawn",
                       "{\"class\":\"testactors.Counter\",\"count\":1}",
                       "Spawned");
    const char *child_s = json_string_value(
        json_array_get(json_object_get(r, "children"), 0));
    th_addr_t child;
    CHECK_RC(th_addr_from_string(&child, child_s), 0);
    char child_copy[TH_ADDR_STRLEN];
    snprintf(child_copy, sizeof child_copy, "%s", child_s);
    json_decref(r);
    CHECK_RC(th_system_tell(sys, &child, TH_MSG_EXIT_REQUEST, "", 0), 0);
    r = rt_expect(in, "ChildExited", 5000);
    CHECK_STREQ(rt_str(r, "childAddress"), child_copy);
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* A failure retries the message once on the same actor and state
 * (Thespian's rule): no restart, no init again, the state as the failed
 * attempt left it. */
TH_TEST(failure_retried_once_on_same_state)
{
    th_system_t *sys = threaded();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t f = rt_create(sys, "rtactors.FailOnce");
    for (int i = 1; i <= 2; i++) {
        json_t *r = rt_ask(in, &f, "Job", "{}", "Handled");
        CHECK_EQ(rt_int(r, "restarts"), 0);
        CHECK_EQ(rt_int(r, "inits"), 1);
        CHECK_EQ(rt_int(r, "attempts"), 2 * i); /* the state was kept */
        json_decref(r);
    }
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* Failing twice returns the message to its sender; the actor serves on. */
TH_TEST(second_failure_returns_poison_message)
{
    th_system_t *sys = synchronous();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t f = rt_create(sys, "testactors.Failer");
    for (int i = 0; i < 2; i++) {
        json_t *r = rt_ask(in, &f, "Job", "{\"n\":7}", TH_MSG_POISON);
        CHECK_STREQ(rt_str(r, "type"), "Job");
        CHECK_CONTAINS(rt_str(r, "details"), "Failer fails every message");
        CHECK_EQ(rt_int(json_object_get(r, "body"), "n"), 7);
        json_decref(r);
    }
    json_t *st = rt_ask(in, &f, TH_MSG_STATUS_REQ, "", TH_MSG_ACTOR_STATUS);
    CHECK_EQ(rt_int(st, "restarts"), 0); /* retried, never restarted */
    json_decref(st);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(dead_letters_go_to_registered_handlers)
{
    th_system_t *sys = threaded();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t w = rt_create(sys, "rtactors.DLWatch");
    th_addr_t c = rt_create(sys, "testactors.Counter");
    json_decref(rt_ask(in, &w, "Get", "", "Dead")); /* watcher is running */
    CHECK_RC(th_system_tell(sys, &c, TH_MSG_EXIT_REQUEST, "", 0), 0);
    rt_wait_dead(sys, &c);
    CHECK_RC(th_system_tell(sys, &c, "Late", "{\"x\":1}", 7), TH_EDEAD);
    json_t *r = NULL;
    for (int i = 0; i < 100; i++) {
        r = rt_ask(in, &w, "Get", "", "Dead");
        if (rt_int(r, "count") > 0 &&
            strstr(rt_str(r, "last"), "\"type\":\"Late\""))
            break;
        json_decref(r);
        r = NULL;
    }
    CHECK(r != NULL);
    char a[TH_ADDR_STRLEN];
    rt_addr_str(&c, a);
    CHECK_CONTAINS(rt_str(r, "last"), a);
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

typedef struct {
    th_system_t *sys;
    th_addr_t got;
    int rc;
} named_arg_t;

static void *
create_named(void *arg)
{
    named_arg_t *a = arg;
    th_create_opts_t o = {.size = sizeof o, .global_name = "solo"};
    a->rc = th_system_create_actor(a->sys, &a->got, "hello.Greeter", &o);
    return NULL;
}

TH_TEST(named_actor_unique_under_concurrent_creates)
{
    th_system_t *sys = threaded();
    pthread_t t[8];
    named_arg_t args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (named_arg_t){.sys = sys};
        pthread_create(&t[i], NULL, create_named, &args[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++) {
        CHECK_RC(args[i].rc, 0);
        CHECK(th_addr_eq(&args[i].got, &args[0].got));
    }
    th_addr_t found;
    CHECK_RC(th_system_lookup_name(sys, "solo", &found), 0);
    CHECK(th_addr_eq(&found, &args[0].got));
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.live_actors, 1);
    /* after it exits the name is free again */
    CHECK_RC(th_system_tell(sys, &found, TH_MSG_EXIT_REQUEST, "", 0), 0);
    for (int i = 0; i < 400 && th_system_lookup_name(sys, "solo", &found) == 0;
         i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    CHECK_RC(th_system_lookup_name(sys, "solo", &found), TH_ENOENT);
    th_system_destroy(sys);
}

static void
wakeups_in_order(th_system_t *sys)
{
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t s = rt_create(sys, "testactors.Sleeper");
    const int ms[] = {60, 20, 40};
    for (int i = 0; i < 3; i++) {
        char body[40];
        snprintf(body, sizeof body, "{\"ms\":%d}", ms[i]);
        CHECK_RC(th_inbox_send(in, &s, "Wake", body, strlen(body)), 0);
    }
    json_t *st = rt_ask(in, &s, TH_MSG_STATUS_REQ, "", TH_MSG_ACTOR_STATUS);
    CHECK_EQ(rt_int(st, "wakeups"), 3);
    json_decref(st);
    const int order[] = {20, 40, 60};
    for (int i = 0; i < 3; i++) {
        json_t *r = rt_expect(in, "Woke", 5000);
        CHECK_EQ(rt_int(r, "ms"), order[i]);
        json_decref(r);
    }
    th_inbox_destroy(in);
}

/* A wakeup pending when its actor exits ends with it: no dead letter. */
static void
wakeup_ends_with_actor(th_system_t *sys)
{
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t s = rt_create(sys, "testactors.Sleeper");
    CHECK_RC(th_inbox_send(in, &s, "Wake", "{\"ms\":30}", 9), 0);
    json_t *st = rt_ask(in, &s, TH_MSG_STATUS_REQ, "", TH_MSG_ACTOR_STATUS);
    CHECK_EQ(rt_int(st, "wakeups"), 1);
    json_decref(st);
    CHECK_RC(th_system_tell(sys, &s, TH_MSG_EXIT_REQUEST, "{}", 2), 0);
    th_system_stats_t before, after;
    th_system_run(sys, 0);
    th_system_stats(sys, &before);
    struct timespec ts = {0, 80000000};
    nanosleep(&ts, NULL);
    th_system_run(sys, 0); /* synchronous: fires the due wakeup */
    th_system_stats(sys, &after);
    CHECK_EQ(after.pending_timers, 0);
    CHECK_EQ(after.dead_letters, before.dead_letters);
    rt_expect_nothing(in, 50);
    th_inbox_destroy(in);
}

TH_TEST(wakeup_of_an_exited_actor_is_dropped)
{
    th_system_t *a = threaded(), *b = synchronous();
    wakeup_ends_with_actor(a);
    wakeup_ends_with_actor(b);
    th_system_destroy(a);
    th_system_destroy(b);
}

TH_TEST(wakeups_arrive_in_due_order)
{
    th_system_t *a = threaded(), *b = synchronous();
    wakeups_in_order(a);
    wakeups_in_order(b);
    th_system_destroy(a);
    th_system_destroy(b);
}

TH_TEST(status_of_system_and_actor)
{
    th_system_t *sys = threaded();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t g = rt_create(sys, "hello.Greeter");
    th_create_opts_t o = {.size = sizeof o, .global_name = "greeter"};
    th_addr_t n;
    CHECK_RC(th_system_create_actor(sys, &n, "hello.Greeter", &o), 0);
    th_addr_t sa;
    th_system_address_of(sys, &sa);
    json_t *r = rt_ask(in, &sa, TH_MSG_STATUS_REQ, "", TH_MSG_SYSTEM_STATUS);
    CHECK_EQ(rt_int(r, "live_actors"), 2);
    CHECK_EQ(rt_int(r, "workers"), 2);
    CHECK_EQ(json_array_size(json_object_get(r, "actors")), 2);
    CHECK_STREQ(rt_str(json_array_get(json_object_get(r, "actors"), 0),
                       "class"),
                "hello.Greeter");
    char a[TH_ADDR_STRLEN];
    rt_addr_str(&n, a);
    CHECK_STREQ(rt_str(json_object_get(r, "names"), "greeter"), a);
    json_decref(r);
    r = rt_ask(in, &g, TH_MSG_STATUS_REQ, "", TH_MSG_ACTOR_STATUS);
    CHECK_STREQ(rt_str(r, "class"), "hello.Greeter");
    CHECK_EQ(rt_int(r, "mailbox"), 0);
    CHECK_EQ(rt_int(r, "children"), 0);
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(shutdown_requested_by_an_actor)
{
    th_system_t *sys = threaded();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t p;
    make_tree(sys, in, &p, 2);
    th_addr_t s = rt_create(sys, "rtactors.Stopper");
    CHECK(!th_system_is_stopping(sys));
    CHECK_RC(th_system_tell(sys, &s, "Stop", "", 0), 0);
    CHECK_RC(th_system_wait_stopping(sys, 5000), 0);
    CHECK_RC(th_system_stop(sys, 5000), 0);
    /* orderly: both children are torn down before their parent */
    char got[6][32];
    collect(in, 6, got);
    int parent = index_of(got, 6, "TornDown:p");
    CHECK(index_of(got, 6, "TornDown:p.0") < parent);
    CHECK(index_of(got, 6, "TornDown:p.1") < parent);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.live_actors, 0);
    CHECK_RC(th_system_create_actor(sys, &p, "hello.Greeter", NULL),
             TH_ECLOSED);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

typedef struct {
    th_system_t *sys;
    th_addr_t to;
    int from;
} relay_arg_t;

static void *
outside_sender(void *arg)
{
    relay_arg_t *a = arg;
    for (int i = 0; i < 20000; i++) {
        char body[64];
        int n = snprintf(body, sizeof body, "{\"from\":%d,\"seq\":%d}", a->from,
                         i);
        while (th_system_tell(a->sys, &a->to, "Seq", body, (size_t)n) ==
               TH_EFULL)
            ;
    }
    return NULL;
}

/* Messages from one sender to one target arrive in send order, with
 * several actors and threads sending at once. */
TH_TEST(order_preserved_per_sender)
{
    th_system_t *sys = threaded();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t rec = rt_create(sys, "rtactors.Recorder");
    char ra[TH_ADDR_STRLEN];
    rt_addr_str(&rec, ra);
    for (int k = 0; k < 4; k++) {
        th_addr_t r = rt_create(sys, "rtactors.Relay");
        char body[160];
        snprintf(body, sizeof body, "{\"to\":\"%s\",\"n\":20000,\"from\":%d}",
                 ra, k);
        CHECK_RC(th_inbox_send(in, &r, "Relay", body, strlen(body)), 0);
    }
    pthread_t t[2];
    relay_arg_t args[2] = {{sys, rec, 4}, {sys, rec, 5}};
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, outside_sender, &args[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int k = 0; k < 4; k++) {
        json_t *r = rt_expect(in, "Relayed", 10000);
        CHECK_EQ(rt_int(r, "rc"), 0);
        json_decref(r);
    }
    json_t *r = rt_ask(in, &rec, "Check", "", "Checked");
    CHECK(json_is_true(json_object_get(r, "ok")));
    CHECK_EQ(rt_int(r, "count"), 6 * 20000);
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* Bounded mailboxes: a full one refuses with TH_EFULL, nothing is lost,
 * and other actors are unaffected. */
TH_TEST(full_mailbox_refuses_then_recovers)
{
    th_system_opts_t o = {.synchronous = true, .mailbox_limit = 10,
                          .sync_queue_only = true};
    th_system_t *sys = rt_system(&o, rt_all_plugins);
    th_addr_t c = rt_create(sys, "testactors.Counter");
    th_addr_t other = rt_create(sys, "testactors.Counter");
    th_system_run(sys, 0); /* both started: START no longer queued */
    /* an actor sending into the full mailbox gets the same answer: queue
     * its request first, so it runs (FIFO) before the target drains */
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t s = rt_create(sys, "rtactors.Sender");
    th_system_run(sys, 0);
    char ca[TH_ADDR_STRLEN], body[160];
    rt_addr_str(&c, ca);
    snprintf(body, sizeof body, "{\"to\":\"%s\",\"type\":\"Tick\",\"size\":0}",
             ca);
    CHECK_RC(th_inbox_send(in, &s, "SendAs", body, strlen(body)), 0);
    for (int i = 0; i < 10; i++)
        CHECK_RC(th_system_tell(sys, &c, "Tick", "", 0), 0);
    CHECK_RC(th_system_tell(sys, &c, "Tick", "", 0), TH_EFULL);
    CHECK_RC(th_system_tell(sys, &other, "Tick", "", 0), 0);
    json_t *r = rt_expect(in, "SendResult", 5000);
    CHECK_EQ(rt_int(r, "rc"), TH_EFULL);
    json_decref(r);
    th_system_run(sys, 0); /* now the target drains */
    r = rt_ask(in, &c, "Get", "", "Count");
    CHECK_EQ(rt_int(r, "count"), 10); /* exactly the accepted ones */
    json_decref(r);
    CHECK_RC(th_system_tell(sys, &c, "Tick", "", 0), 0);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* A busy actor cannot keep a worker: with one worker, an actor with a long
 * queue still lets another actor answer long before it is done. The reply
 * order in one inbox shows it, whatever the test thread's own timing. */
TH_TEST(batch_limit_keeps_others_served)
{
    th_system_opts_t o = {.workers = 1, .batch = 16};
    th_system_t *sys = rt_system(&o, rt_all_plugins);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t busy = rt_create(sys, "rtactors.Busy");
    th_addr_t g = rt_create(sys, "hello.Greeter");
    /* the first spin holds the only worker while the rest is queued, so a
     * slow test thread cannot let Busy drain its queue before the Greet */
    CHECK_RC(th_inbox_send(in, &busy, "Spin", "{\"ms\":300}", 10), 0);
    for (int i = 0; i < 200; i++) /* 200 ms of queued work, 1 ms each */
        CHECK_RC(th_inbox_send(in, &busy, "Spin", "{\"ms\":1}", 9), 0);
    CHECK_RC(th_inbox_send(in, &g, "Greet", "{\"name\":\"B\"}", 12), 0);
    int spun_before = -1;
    for (int i = 0; i < 202; i++) {
        th_inmsg_t *m;
        CHECK_RC(th_inbox_recv(in, &m, 10000), 0);
        if (strcmp(m->type, "Greeting") == 0)
            spun_before = i;
        th_inmsg_free(m);
    }
    if (spun_before < 0 || spun_before > 100)
        TH_FAIL_AT_("the greeter answered after %d of Busy's 201 replies",
                    spun_before);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

static void
run_script(char out[][32], int n)
{
    th_system_t *sys = synchronous();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t p;
    make_tree(sys, in, &p, 3);
    CHECK_RC(th_system_tell(sys, &p, TH_MSG_EXIT_REQUEST, "", 0), 0);
    collect(in, n, out);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* Synchronous mode is deterministic: the same script, the same order. */
TH_TEST(synchronous_mode_is_deterministic)
{
    char a[8][32], b[8][32];
    run_script(a, 8);
    run_script(b, 8);
    for (int i = 0; i < 8; i++)
        CHECK_STREQ(a[i], b[i]);
}

TH_TEST(dispatch_table_super_and_fallback)
{
    th_system_t *sys = synchronous();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t d = rt_create(sys, "testactors.Dispatcher");
    static const char *const cases[][2] = {
        {"Direct", "Direct"}, {"Defer", "*"}, {"Unhandled", "receive"},
        {"Other", "*"}};
    for (int i = 0; i < 4; i++) {
        json_t *r = rt_ask(in, &d, cases[i][0], "{}", "Handled");
        CHECK_STREQ(rt_str(r, "by"), cases[i][1]);
        json_decref(r);
    }
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(become_switches_behaviour)
{
    th_system_t *sys = threaded();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t t = rt_create(sys, "hello.Toggler");
    const char *want[] = {"On", "Off", "On", "Off"};
    for (int i = 0; i < 4; i++) {
        json_t *r = rt_ask(in, &t, "Ping", "", want[i]);
        CHECK_EQ(rt_int(r, "pings"), i + 1);
        json_decref(r);
    }
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* Large payloads are forwarded without copying and arrive intact. */
TH_TEST(forward_large_payload_intact)
{
    th_system_t *sys = threaded();
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t e = rt_create(sys, "testactors.Echo");
    size_t n = 1 << 20;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 31 + 7);
    CHECK_RC(th_inbox_send(in, &e, "Blob", buf, n), 0);
    th_inmsg_t *m;
    CHECK_RC(th_inbox_recv(in, &m, 5000), 0);
    CHECK_STREQ(m->type, "Blob");
    CHECK_EQ(m->len, n);
    CHECK(memcmp(m->data, buf, n) == 0);
    th_inmsg_free(m);
    CHECK_RC(th_inbox_send(in, &e, "Empty", NULL, 0), 0); /* 0 bytes */
    CHECK_RC(th_inbox_recv(in, &m, 5000), 0);
    CHECK_EQ(m->len, 0);
    th_inmsg_free(m);
    free(buf);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

static double
cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Idle workers sleep: half a second of nothing costs (almost) no CPU. */
TH_TEST(idle_system_does_not_spin)
{
    th_system_t *sys = threaded();
    rt_create(sys, "hello.Greeter");
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    double before = cpu_seconds();
    ts.tv_nsec = 500000000;
    nanosleep(&ts, NULL);
    double used = cpu_seconds() - before;
    if (used > 0.05)
        TH_FAIL_AT_("idle system used %.3f s CPU in 0.5 s", used);
    th_system_destroy(sys);
}

typedef struct client_arg {
    th_system_t *sys;
    int sent, got, v1, v2;
    char *seen;        /* seen[count] = 1: every count appears once */
    pthread_mutex_t *lock;
    volatile int *stop;
} client_arg_t;

/* A client that keeps 8 requests in flight to the name "keeper". */
static void *
keeper_client(void *arg)
{
    client_arg_t *a = arg;
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(a->sys, &in), 0);
    int inflight = 0;
    while (!*a->stop || inflight > 0) {
        while (!*a->stop && inflight < 8) {
            CHECK_RC(th_inbox_send_name(in, "keeper", "Inc", "", 0), 0);
            a->sent++;
            inflight++;
        }
        th_inmsg_t *m;
        if (th_inbox_recv(in, &m, 5000) != 0)
            TH_FAIL_AT_("a request went unanswered (%d in flight)", inflight);
        json_t *o = json_loadb(m->data, m->len, 0, NULL);
        long long c = rt_int(o, "count");
        int v = (int)rt_int(o, "version");
        json_decref(o);
        th_inmsg_free(m);
        pthread_mutex_lock(a->lock);
        if (c < 1 || c > 1000000 || a->seen[c])
            TH_FAIL_AT_("count %lld twice or out of range", c);
        a->seen[c] = 1;
        pthread_mutex_unlock(a->lock);
        a->got++;
        a->v1 += v == 1;
        a->v2 += v == 2;
        inflight--;
    }
    th_inbox_destroy(in);
    return NULL;
}

/* Hot swap under a steady stream of requests by name: each request is
 * answered exactly once, by v1 or v2, the count carries over (counts
 * 1..N each seen once), and nothing becomes a dead letter. */
TH_TEST(handoff_under_load_loses_nothing)
{
    th_system_t *sys = threaded();
    th_create_opts_t o = {.size = sizeof o, .global_name = "keeper"};
    th_addr_t v1, v2;
    CHECK_RC(th_system_create_actor(sys, &v1, "rtactors.KeeperV1", &o), 0);
    th_addr_t sw = rt_create(sys, "rtactors.Swapper");
    static char seen[1000001];
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    volatile int stop = 0;
    client_arg_t a[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (client_arg_t){sys, 0, 0, 0, 0, seen, &lock, &stop};
        pthread_create(&t[i], NULL, keeper_client, &a[i]);
    }
    usleep(100000);
    v2 = rt_create(sys, "rtactors.KeeperV2");
    char f[TH_ADDR_STRLEN], to[TH_ADDR_STRLEN], body[200];
    rt_addr_str(&v1, f);
    rt_addr_str(&v2, to);
    snprintf(body, sizeof body,
             "{\"name\":\"keeper\",\"from\":\"%s\",\"to\":\"%s\"}", f, to);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    json_t *r = rt_ask(in, &sw, "Swap", body, "Swapped");
    CHECK(json_is_true(json_object_get(r, "exported")));
    CHECK_EQ(rt_int(r, "rebind"), 0);
    json_decref(r);
    usleep(100000);
    stop = 1;
    int sent = 0, got = 0, n1 = 0, n2 = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        sent += a[i].sent;
        got += a[i].got;
        n1 += a[i].v1;
        n2 += a[i].v2;
    }
    CHECK_EQ(got, sent);
    CHECK(n1 > 0 && n2 > 0); /* both versions answered */
    for (int c = 1; c <= got; c++)
        if (!seen[c])
            TH_FAIL_AT_("count %d never answered: state lost in the swap", c);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.dead_letters, 0);
    th_addr_t holder;
    CHECK_RC(th_system_lookup_name(sys, "keeper", &holder), 0);
    CHECK(th_addr_eq(&holder, &v2));
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* Thespian's createActor from outside: returns once the actor has started,
 * or says it failed to. */
static void
create_and_wait(th_system_t *sys)
{
    th_addr_t a;
    th_diag_t d = {0};
    CHECK_RC(th_system_create_actor_wait(sys, &a, "hello.Greeter", NULL, 5000,
                                         &d),
             0);
    CHECK_RC(th_system_create_actor_wait(sys, &a, "rtactors.FailInit", NULL,
                                         5000, &d),
             TH_EFAIL);
    CHECK_CONTAINS(d.msg, "rtactors.FailInit failed to start");
    CHECK_RC(th_system_tell(sys, &a, "Hello", "", 0), TH_EDEAD);
    CHECK_RC(th_system_create_actor_wait(sys, &a, "hello.Nobody", NULL, 5000,
                                         &d),
             TH_ENOENT);
    CHECK_CONTAINS(d.msg, "hello.Nobody");
    CHECK_RC(th_system_create_actor_wait(sys, &a, "hello.Greeter", NULL, 5000,
                                         NULL),
             0);
}

TH_TEST(create_waits_until_started_or_failed)
{
    th_system_t *a = threaded(), *b = synchronous();
    create_and_wait(a);
    create_and_wait(b);
    th_system_destroy(a);
    th_system_destroy(b);
}

TH_TEST_MAIN(TH_CASE(same_plugin_threaded_and_synchronous),
             TH_CASE(messages_buffered_until_started),
             TH_CASE(failed_init_dead_letters_buffered_messages),
             TH_CASE(exit_request_recursive_children_first),
             TH_CASE(exit_request_not_recursive_children_survive),
             TH_CASE(child_exited_reaches_parent),
             TH_CASE(failure_retried_once_on_same_state),
             TH_CASE(second_failure_returns_poison_message),
             TH_CASE(dead_letters_go_to_registered_handlers),
             TH_CASE(named_actor_unique_under_concurrent_creates),
             TH_CASE(wakeups_arrive_in_due_order),
             TH_CASE(wakeup_of_an_exited_actor_is_dropped),
             TH_CASE(status_of_system_and_actor),
             TH_CASE(shutdown_requested_by_an_actor),
             TH_CASE(order_preserved_per_sender),
             TH_CASE(full_mailbox_refuses_then_recovers),
             TH_CASE(batch_limit_keeps_others_served),
             TH_CASE(synchronous_mode_is_deterministic),
             TH_CASE(dispatch_table_super_and_fallback),
             TH_CASE(become_switches_behaviour),
             TH_CASE(forward_large_payload_intact),
             TH_CASE(idle_system_does_not_spin),
             TH_CASE(handoff_under_load_loses_nothing),
             TH_CASE(create_waits_until_started_or_failed))
