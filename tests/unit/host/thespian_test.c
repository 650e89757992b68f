/*
 * tests/unit/host/thespian_test.c — behaviours taken from Thespian's own
 * test suite (thespian/test/: test_badmessage, test_deadLettering,
 * test_wakeup, test_transient, test_globalName, TestUnitRequireRequirements,
 * test_systemMessages, simpleSystemBase), each named after the Thespian
 * test it comes from and run in threaded and in synchronous mode through
 * the real runtime and real plugins (thespactors, hello). docs/thespian.md
 * compares the two systems.
 */
#include <time.h>

#include "rt_util.h"

static const char *const plugins[] = {"thespactors", "hello", NULL};

static th_system_t *
make(bool sync)
{
    th_system_opts_t o = {.workers = 2, .synchronous = sync};
    return rt_system(&o, plugins);
}

static th_addr_t
create_opts(th_system_t *sys, const char *cls, const char *gname,
            const char *reqs)
{
    th_create_opts_t o = {.size = sizeof o, .global_name = gname,
                          .requirements_json = reqs};
    th_addr_t a;
    int rc = th_system_create_actor(sys, &a, cls, &o);
    if (rc != 0)
        TH_FAIL_AT_("create %s: %s", cls, th_strerror(rc));
    return a;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int
count_of(th_inbox_t *in, const th_addr_t *a)
{
    json_t *r = rt_ask(in, a, "Count", "{}", "Counted");
    int n = (int)rt_int(r, "n");
    json_decref(r);
    return n;
}

/* ---- test_badmessage ---------------------------------------------------- */

/* test03_intermittentlyBad: a handler that fails every other time answers
 * on the retry, and the actor keeps its state across the failures. */
static void
intermittently_bad(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "thespactors.Intermittent");
    for (int i = 1; i <= 4; i++) {
        json_t *r = rt_ask(in, &a, "Work", "{}", "Done");
        CHECK_EQ(rt_int(r, "attempts"), 2 * i);
        json_decref(r);
    }
    rt_expect_nothing(in, 50);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(badmessage_test03_intermittently_bad)
{
    intermittently_bad(false);
    intermittently_bad(true);
}

/* A message that fails twice comes back as PoisonMessage and the actor
 * serves on with what it held: the Greeter's count survives a Crash. */
static void
bad_message_keeps_state(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t g = rt_create(sys, "hello.Greeter");
    for (int i = 1; i <= 2; i++)
        json_decref(rt_ask(in, &g, "Greet", "{\"name\":\"Ann\"}",
                           "Greeting"));
    json_t *p = rt_ask(in, &g, "Crash", "{}", TH_MSG_POISON);
    CHECK_STREQ(rt_str(p, "type"), "Crash");
    CHECK_CONTAINS(rt_str(p, "details"), "asked to crash");
    json_decref(p);
    json_t *r = rt_ask(in, &g, "Greet", "{\"name\":\"Ann\"}", "Greeting");
    CHECK_EQ(rt_int(r, "count"), 3);
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(badmessage_test02_bad_message_keeps_state)
{
    bad_message_keeps_state(false);
    bad_message_keeps_state(true);
}

/* No recursion on Poison: two actors that fail on everything exchange one
 * message and its PoisonMessage, then nothing more. */
static void
poison_not_recursive(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "thespactors.Sour");
    th_addr_t b = rt_create(sys, "thespactors.Sour");
    char bs[TH_ADDR_STRLEN], body[128];
    rt_addr_str(&b, bs);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", bs);
    CHECK_RC(th_inbox_send(in, &a, "Kick", body, strlen(body)), 0);
    rt_expect_nothing(in, 300); /* returns: the exchange has ended */
    CHECK_EQ(count_of(in, &b), 2); /* Bad, tried twice */
    CHECK_EQ(count_of(in, &a), 2); /* its PoisonMessage, tried twice */
    sleep_ms(100);
    CHECK_EQ(count_of(in, &a), 2);
    CHECK_EQ(count_of(in, &b), 2);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(badmessage_poison_not_recursive)
{
    poison_not_recursive(false);
    poison_not_recursive(true);
}

/* A tell from outside (no sender) that fails twice: its PoisonMessage is
 * a dead letter, so dead-letter handlers see it. */
static void
tell_poison_dead_lettered(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t h = rt_create(sys, "thespactors.Tool");
    json_t *r = rt_ask(in, &h, "Register", "{}", "Registered");
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    th_addr_t s = rt_create(sys, "thespactors.Sour");
    CHECK_RC(th_system_tell(sys, &s, "Job", "{\"n\":3}", 7), 0);
    json_t *d = rt_expect(in, "GotDead", 5000);
    CHECK_STREQ(rt_str(d, "type"), TH_MSG_POISON);
    CHECK_CONTAINS(rt_str(d, "details"), "no sender");
    json_t *pm = json_object_get(d, "body");
    CHECK_STREQ(rt_str(pm, "type"), "Job");
    CHECK_EQ(rt_int(json_object_get(pm, "body"), "n"), 3);
    json_decref(d);
    rt_expect_nothing(in, 50);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(badmessage_tell_poison_is_dead_letter)
{
    tell_poison_dead_lettered(false);
    tell_poison_dead_lettered(true);
}

/* ---- test_deadLettering ------------------------------------------------- */

/* Every registered handler gets each dead letter, however many there are
 * (Thespian keeps no limit). */
static void
every_handler(bool sync)
{
    enum { N = 20 };
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    for (int i = 0; i < N; i++) {
        th_addr_t h = rt_create(sys, "thespactors.Tool");
        json_decref(rt_ask(in, &h, "Register", "{}", "Registered"));
    }
    th_addr_t dead = rt_create(sys, "thespactors.Tool");
    dead.opaque[2] ^= 1; /* same slot, another incarnation: nobody */
    CHECK_RC(th_system_tell(sys, &dead, "Lost", "{}", 2), TH_EDEAD);
    for (int i = 0; i < N; i++) {
        json_t *d = rt_expect(in, "GotDead", 5000);
        CHECK_STREQ(rt_str(d, "type"), "Lost");
        json_decref(d);
    }
    rt_expect_nothing(in, 50);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(deadlettering_every_handler)
{
    every_handler(false);
    every_handler(true);
}

/* ---- test_wakeup, test_transient --------------------------------------- */

/* A due wakeup is delivered while the caller keeps asking (synchronous
 * mode ran only what was runnable while answers kept coming). */
static void
wakeup_while_asked(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "thespactors.Tool");
    json_t *r = rt_ask(in, &a, "Wake", "{\"ms\":100}", "Armed");
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    int64_t t0 = th_now_ms();
    int wakeups = 0;
    while (th_now_ms() - t0 < 400) {
        r = rt_ask(in, &a, "Ping", "{}", "Pong");
        wakeups = (int)rt_int(r, "wakeups");
        json_decref(r);
        sleep_ms(5);
    }
    CHECK_EQ(wakeups, 1);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(wakeup_test_wakeup_while_asked)
{
    wakeup_while_asked(false);
    wakeup_while_asked(true);
}

/* A transient actor exits on time even while it is kept busy. */
static void
transient_while_asked(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "thespactors.Trans");
    int64_t t0 = th_now_ms(), gone = -1;
    while (th_now_ms() - t0 < 1500) {
        th_inmsg_t *m = NULL;
        if (th_inbox_send(in, &a, "Ping", "{}", 2) != 0 ||
            th_inbox_recv(in, &m, 100) != 0) {
            gone = th_now_ms() - t0;
            break;
        }
        th_inmsg_free(m);
        sleep_ms(5);
    }
    CHECK(gone >= 140);  /* transient_ms 150, counted from the first */
    CHECK(gone < 600);
    rt_wait_dead(sys, &a);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(transient_test_exits_while_asked)
{
    transient_while_asked(false);
    transient_while_asked(true);
}

/* ---- test_globalName ----------------------------------------------------- */

/* testGlobalNameOverridesClass: createActor with a global name that is
 * taken returns the running actor, whatever class or requirements the
 * call names (even an unknown class, even unmet requirements). */
static void
global_name_overrides_class(bool sync)
{
    th_system_t *sys = make(sync);
    th_addr_t a = create_opts(sys, "thespactors.Tool", "Global", NULL);
    th_addr_t b = create_opts(sys, "thespactors.NoSuchClass", "Global", NULL);
    CHECK(th_addr_eq(&a, &b));
    b = create_opts(sys, "thespactors.HueCheck", "Global", "{\"hue\":\"no\"}");
    CHECK(th_addr_eq(&a, &b));
    b = create_opts(sys, "nosuchplugin.X", "Global", "{not json");
    CHECK(th_addr_eq(&a, &b));
    /* without the name, the same calls are refused */
    th_addr_t c;
    CHECK_RC(th_system_create_actor(sys, &c, "thespactors.NoSuchClass", NULL),
             TH_ENOENT);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    json_t *r = rt_ask(in, &b, "Who", "{}", "Me");
    CHECK_STREQ(rt_str(r, "name"), "Global");
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(globalname_test_global_name_overrides_class)
{
    global_name_overrides_class(false);
    global_name_overrides_class(true);
}

/* An actor reads the global name and the requirements it was created
 * with (ABI 1.2: th_global_name, th_requirements). */
static void
reads_own_name(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = create_opts(sys, "thespactors.HueCheck", "Named.One",
                              "{\"hue\":\"red\"}");
    json_t *r = rt_ask(in, &a, "Who", "{}", "Me");
    CHECK_STREQ(rt_str(r, "name"), "Named.One");
    CHECK_EQ(rt_int(r, "name_rc"), 0);
    CHECK_EQ(rt_int(r, "small_rc"), TH_ELIMIT);
    CHECK_EQ(rt_int(r, "needed"), strlen("Named.One") + 1);
    CHECK_STREQ(rt_str(json_object_get(r, "requirements"), "hue"), "red");
    json_decref(r);
    th_addr_t b = rt_create(sys, "thespactors.Tool");
    r = rt_ask(in, &b, "Who", "{}", "Me");
    CHECK(json_is_null(json_object_get(r, "name")));
    CHECK_EQ(rt_int(r, "name_rc"), TH_ENOENT);
    CHECK_EQ(rt_int(r, "needed"), 0);
    CHECK_EQ(json_object_size(json_object_get(r, "requirements")), 0);
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(globalname_actor_reads_own_name)
{
    reads_own_name(false);
    reads_own_name(true);
}

/* ---- TestUnitRequireRequirements, test_updateSystemCapabilities --------- */

/* createActor's requirements are the class check's business: {"hue":
 * "red"} need not be a capability of the system. */
static void
requirements_reach_check(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = create_opts(sys, "thespactors.HueCheck", NULL,
                              "{\"hue\":\"red\"}");
    json_t *r = rt_ask(in, &a, "Who", "{}", "Me");
    CHECK_STREQ(rt_str(json_object_get(r, "requirements"), "hue"), "red");
    json_decref(r);
    th_create_opts_t o = {.size = sizeof o,
                          .requirements_json = "{\"hue\":\"blue\"}"};
    th_addr_t b;
    CHECK_RC(th_system_create_actor(sys, &b, "thespactors.HueCheck", &o),
             TH_ENOCOMPAT);
    CHECK_RC(th_system_create_actor(sys, &b, "thespactors.HueCheck", NULL),
             TH_ENOCOMPAT);
    /* a capability change asks the check again, with the same
     * requirements: it still accepts */
    CHECK_RC(th_system_update_capability(sys, "Zone", "\"eu\"", NULL), 0);
    sleep_ms(50);
    json_decref(rt_ask(in, &a, "Ping", "{}", "Pong"));
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(requirerequirements_requirements_reach_check)
{
    requirements_reach_check(false);
    requirements_reach_check(true);
}

/* ---- test_systemMessages ----------------------------------------------- */

/* Runtime messages sent to an outside program's address are filtered in
 * process as they are by the admin endpoint: the caller sees Done only;
 * status replies and PoisonMessage still come through. */
static void
inbox_filters_runtime(bool sync)
{
    th_system_t *sys = make(sync);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a = rt_create(sys, "thespactors.Tool");
    json_decref(rt_ask(in, &a, "SendExit", "{}", "Done"));
    rt_expect_nothing(in, 50);
    json_decref(rt_ask(in, &a, TH_MSG_STATUS_REQ, "", TH_MSG_ACTOR_STATUS));
    th_addr_t s = rt_create(sys, "thespactors.Sour");
    json_decref(rt_ask(in, &s, "Job", "{}", TH_MSG_POISON));
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(systemmessages_inbox_filters_runtime)
{
    inbox_filters_runtime(false);
    inbox_filters_runtime(true);
}

/* ---- simpleSystemBase ---------------------------------------------------- */

/* Synchronous mode runs the system on a send from outside, as
 * simpleSystemBase does on tell: the Relay's Set lands before the Get
 * that follows it. With sync_queue_only the Get overtakes it. */
static void
tell_runs(bool queue_only, json_int_t want)
{
    th_system_opts_t o = {.synchronous = true,
                          .sync_queue_only = queue_only};
    th_system_t *sys = rt_system(&o, plugins);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t r = rt_create(sys, "thespactors.Tool");
    th_addr_t s = rt_create(sys, "thespactors.Tool");
    char ss[TH_ADDR_STRLEN], body[200];
    rt_addr_str(&s, ss);
    snprintf(body, sizeof body,
             "{\"to\":\"%s\",\"type\":\"Set\",\"body\":{\"v\":5}}", ss);
    CHECK_RC(th_system_tell(sys, &r, "Relay", body, strlen(body)), 0);
    json_t *v = rt_ask(in, &s, "Get", "{}", "Value");
    CHECK_EQ(rt_int(v, "v"), want);
    json_decref(v);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(simplesystembase_tell_runs_system)
{
    tell_runs(false, 5);
    tell_runs(true, 0);
}

TH_TEST_MAIN(TH_CASE(badmessage_test03_intermittently_bad),
             TH_CASE(badmessage_test02_bad_message_keeps_state),
             TH_CASE(badmessage_poison_not_recursive),
             TH_CASE(badmessage_tell_poison_is_dead_letter),
             TH_CASE(deadlettering_every_handler),
             TH_CASE(wakeup_test_wakeup_while_asked),
             TH_CASE(transient_test_exits_while_asked),
             TH_CASE(globalname_test_global_name_overrides_class),
             TH_CASE(globalname_actor_reads_own_name),
             TH_CASE(requirerequirements_requirements_reach_check),
             TH_CASE(systemmessages_inbox_filters_runtime),
             TH_CASE(simplesystembase_tell_runs_system))
