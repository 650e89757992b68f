/*
 * tests/unit/host/caps_test.c — capabilities: the common read-only ones,
 * admission by capability check, declared requires and createActor
 * requirements, updateCapability re-checking live actors (from outside and
 * from an actor), bad input. Each case runs threaded and synchronous.
 * Classes: tests/plugins/capactors.c.
 */

#include "rt_util.h"

static const char *const plugins[] = {"capactors", NULL};

static th_system_t *
caps_system(bool sync, const char *caps)
{
    th_system_opts_t o = {
        .synchronous = sync, .name = "capsys", .capabilities_json = caps};
    return rt_system(&o, plugins);
}

static int
create_req(th_system_t *sys, th_addr_t *out, const char *cls, const char *reqs)
{
    th_create_opts_t o = {.size = sizeof o, .requirements_json = reqs};
    return th_system_create_actor(sys, out, cls, reqs ? &o : NULL);
}

/* Create `cls` and name it through Hello (the inbox becomes its watcher). */
static th_addr_t
named(th_system_t *sys, th_inbox_t *in, const char *cls, const char *reqs,
      const char *name)
{
    th_addr_t a;
    int rc = create_req(sys, &a, cls, reqs);
    if (rc != 0)
        TH_FAIL_AT_("create %s %s: %s", cls, reqs ? reqs : "", th_strerror(rc));
    char body[64];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    json_decref(rt_ask(in, &a, "Hello", body, "Hi"));
    return a;
}

static void
ping(th_inbox_t *in, const th_addr_t *a, const char *name)
{
    json_t *o = rt_ask(in, a, "Ping", "", "Pong");
    CHECK_STREQ(rt_str(o, "name"), name);
    json_decref(o);
}

/* Collect `n` Exiting messages; each name must be one of `names`. */
static void
expect_exits(th_inbox_t *in, size_t n, const char *const *names)
{
    bool seen[8] = {false};
    for (size_t i = 0; i < n; i++) {
        json_t *o = rt_expect(in, "Exiting", 5000);
        const char *got = rt_str(o, "name");
        size_t k = 0;
        while (k < n && strcmp(names[k], got) != 0)
            k++;
        if (k == n || seen[k])
            TH_FAIL_AT_("unexpected exit of %s", got);
        seen[k] = true;
        json_decref(o);
    }
}

/* Log lines at INFO and above go to a file the case reads back. */
static char log_path[64];

static void
capture_log(void)
{
    snprintf(log_path, sizeof log_path, "/tmp/caps_test_%ld.log",
             (long)getpid());
    unlink(log_path);
    setenv("THESPLOG_FILE", log_path, 1);
    setenv("THESPLOG_THRESHOLD", "INFO", 1);
}

static char *
read_log(void)
{
    static char buf[65536];
    FILE *f = fopen(log_path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static int
count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* ---- Cases ----------------------------------------------------------------
 */

static void
common_caps(bool sync)
{
    th_system_t *sys = caps_system(sync, "{\"Color\":\"blue\"}");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t p = named(sys, in, "capactors.Plain", NULL, "p");
    json_t *c = rt_ask(in, &p, "Caps", "", "Caps");
    CHECK_STREQ(rt_str(c, "Color"), "blue");
    CHECK_STREQ(rt_str(c, "Thespian Version"), TH_HOST_VERSION);
    CHECK_STREQ(rt_str(c, "Thespian ActorSystem Name"), "capsys");
    CHECK(json_is_true(json_object_get(c, "Thespian Watch Supported")));
    json_t *gen = json_object_get(c, "Thespian Generation");
    CHECK_EQ(json_array_size(gen), 2);
    CHECK_EQ(json_integer_value(json_array_get(gen, 0)), TH_ABI_MAJOR);
    CHECK_EQ(json_integer_value(json_array_get(gen, 1)), TH_ABI_MINOR);
    json_decref(c);

    /* read-only: from the actor and from outside, set or remove */
    json_t *u =
        rt_ask(in, &p, "Update",
               "{\"name\":\"Thespian Version\",\"value\":\"9\"}", "Updated");
    CHECK_EQ(rt_int(u, "rc"), TH_EPERM);
    json_decref(u);
    th_diag_t d = {0};
    CHECK_RC(
        th_system_update_capability(sys, "Thespian Generation", "[2,0]", &d),
        TH_EPERM);
    CHECK_CONTAINS(d.msg, "Thespian Generation");
    CHECK_RC(
        th_system_update_capability(sys, "Thespian Watch Supported", NULL, &d),
        TH_EPERM);
    char *text = NULL;
    CHECK_RC(th_system_capabilities_json(sys, &text), 0);
    CHECK_CONTAINS(text, "\"Thespian Generation\":[1,2]");
    free(text);

    /* an update is visible to actors and to the host API */
    CHECK_RC(th_system_update_capability(sys, "Zone", "\"eu\"", &d), 0);
    c = rt_ask(in, &p, "Caps", "", "Caps");
    CHECK_STREQ(rt_str(c, "Zone"), "eu");
    json_decref(c);
    CHECK_RC(th_system_update_capability(sys, "Zone", "null", &d), 0);
    CHECK_RC(th_system_capabilities_json(sys, &text), 0);
    CHECK(strstr(text, "Zone") == NULL);
    free(text);
    ping(in, &p, "p");
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(common_caps_visible_and_read_only)
{
    common_caps(false);
    common_caps(true);
}

static void
create_refused(bool sync)
{
    capture_log();
    th_system_t *sys = caps_system(sync, "{\"Color\":\"red\",\"GPU\":0,"
                                         "\"Mem\":16,\"Shade\":\"dark\"}");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a;
    /* by the class's check */
    CHECK_RC(create_req(sys, &a, "capactors.Checker", NULL), TH_ENOCOMPAT);
    /* ... which sees the requirements too */
    named(sys, in, "capactors.Checker", "{\"Shade\":\"dark\"}", "c");
    /* by the declared requires: GPU is there but 0 (false) */
    CHECK_RC(create_req(sys, &a, "capactors.Needy", NULL), TH_ENOCOMPAT);
    /* by the requirements */
    CHECK_RC(create_req(sys, &a, "capactors.Plain", "{\"Color\":\"blue\"}"),
             TH_ENOCOMPAT);
    CHECK_RC(create_req(sys, &a, "capactors.Plain", "{\"GPU\":true}"),
             TH_ENOCOMPAT);
    CHECK_RC(create_req(sys, &a, "capactors.Plain", "{\"Nowhere\":1}"),
             TH_ENOCOMPAT);
    /* a requirement of the wrong JSON type: named with both types */
    CHECK_RC(create_req(sys, &a, "capactors.Plain", "{\"Mem\":\"16\"}"),
             TH_ENOCOMPAT);
    CHECK_RC(create_req(sys, &a, "capactors.Plain", "[1]"), TH_EINVAL);
    CHECK_RC(create_req(sys, &a, "capactors.Plain", "{nope"), TH_EINVAL);
    /* matching requirements: equal value, true for truthy, 16.0 == 16 */
    named(sys, in, "capactors.Plain", "{\"Color\":\"red\"}", "p1");
    th_addr_t p2 = named(sys, in, "capactors.Plain",
                         "{\"Color\":true,\"Mem\":16.0}", "p2");
    ping(in, &p2, "p2"); /* the system keeps serving after the refusals */

    const char *log = read_log();
    CHECK_CONTAINS(log, "capability check of class capactors.Checker");
    CHECK_CONTAINS(log, "requires capability \"GPU\" to be true");
    CHECK_CONTAINS(log, "capability \"Color\" does not have the required");
    CHECK_CONTAINS(log, "capability \"Nowhere\" is not present");
    CHECK_CONTAINS(log, "capability \"Mem\" is a number here, the "
                        "requirement is a string");
    CHECK_CONTAINS(log, "capability \"GPU\" is not true");
    CHECK_CONTAINS(log, "requirements: not a JSON object");
    th_inbox_destroy(in);
    th_system_destroy(sys);

    /* the declared requires met: GPU truthy and Mem 16 */
    sys = caps_system(sync, "{\"GPU\":\"yes\",\"Mem\":16}");
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t n = named(sys, in, "capactors.Needy", NULL, "n");
    ping(in, &n, "n");
    th_inbox_destroy(in);
    th_system_destroy(sys);
    sys = caps_system(sync, "{\"GPU\":true,\"Mem\":8}");
    CHECK_RC(create_req(sys, &a, "capactors.Needy", NULL), TH_ENOCOMPAT);
    th_system_destroy(sys);
}

TH_TEST(create_refused_by_check_requires_requirements)
{
    create_refused(false);
}

TH_TEST(create_refused_synchronous)
{
    create_refused(true);
}

static void
update_kills_rejecting(bool sync)
{
    th_system_t *sys =
        caps_system(sync, "{\"Color\":\"blue\",\"GPU\":true,\"Mem\":16}");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t c1 = named(sys, in, "capactors.Checker", NULL, "c1");
    th_addr_t n1 = named(sys, in, "capactors.Needy", NULL, "n1");
    th_addr_t p1 = named(sys, in, "capactors.Plain", NULL, "p1");
    th_addr_t p2 =
        named(sys, in, "capactors.Plain", "{\"Color\":\"blue\"}", "p2");
    th_addr_t p3 = named(sys, in, "capactors.Plain", "{\"Mem\":16}", "p3");

    /* Color changes: the checker and the actor that required blue go */
    CHECK_RC(th_system_update_capability(sys, "Color", "\"green\"", NULL), 0);
    const char *const first[] = {"c1", "p2"};
    expect_exits(in, 2, first);
    rt_expect_nothing(in, 200);
    if (sync)
        th_system_run(sys, 0);
    rt_wait_dead(sys, &c1);
    rt_wait_dead(sys, &p2);
    ping(in, &n1, "n1");
    ping(in, &p1, "p1");
    ping(in, &p3, "p3");

    /* GPU removed: only the actor that requires it goes */
    CHECK_RC(th_system_update_capability(sys, "GPU", NULL, NULL), 0);
    const char *const second[] = {"n1"};
    expect_exits(in, 1, second);
    rt_expect_nothing(in, 200);
    ping(in, &p1, "p1");
    ping(in, &p3, "p3");
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(update_exits_exactly_the_rejecting_actors)
{
    update_kills_rejecting(false);
}

TH_TEST(update_exits_exactly_the_rejecting_actors_synchronous)
{
    update_kills_rejecting(true);
}

static void
updater_itself(bool sync)
{
    th_system_t *sys = caps_system(sync, "{\"Updatable\":1}");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t u = named(sys, in, "capactors.Updater", NULL, "u");
    th_addr_t p = named(sys, in, "capactors.Plain", NULL, "p");
    json_t *o = rt_ask(in, &u, "Update",
                       "{\"name\":\"Updatable\",\"value\":false}", "Updated");
    CHECK_EQ(rt_int(o, "rc"), 0);
    json_decref(o);
    const char *const names[] = {"u"};
    expect_exits(in, 1, names);
    if (sync)
        th_system_run(sys, 0);
    rt_wait_dead(sys, &u);
    ping(in, &p, "p");
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(updating_actor_rejected_gets_exit_request)
{
    updater_itself(false);
    updater_itself(true);
}

static void
no_change(bool sync)
{
    capture_log();
    th_system_t *sys = caps_system(sync, "{\"Color\":\"blue\",\"Gone\":0}");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t c = named(sys, in, "capactors.Checker", NULL, "c");
    CHECK_RC(th_system_update_capability(sys, "Color", "\"blue\"", NULL), 0);
    CHECK_RC(th_system_update_capability(sys, "Missing", NULL, NULL), 0);
    json_t *o = rt_ask(in, &c, "Update",
                       "{\"name\":\"Color\",\"value\":\"blue\"}", "Updated");
    CHECK_EQ(rt_int(o, "rc"), 0);
    json_decref(o);
    rt_expect_nothing(in, 200);
    ping(in, &c, "c");
    CHECK_EQ(count_of(read_log(), "capability \"Color\" updated"), 0);
    CHECK_EQ(count_of(read_log(), "capability \"Missing\""), 0);
    /* a real change is logged once */
    CHECK_RC(th_system_update_capability(sys, "Gone", NULL, NULL), 0);
    CHECK_RC(th_system_update_capability(sys, "Gone", NULL, NULL), 0);
    ping(in, &c, "c");
    CHECK_EQ(count_of(read_log(), "capability \"Gone\" removed"), 1);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(update_without_change_has_no_effect)
{
    no_change(false);
}

TH_TEST(update_without_change_synchronous)
{
    no_change(true);
}

/* createActor with requirements from inside an actor; the child that
 * no longer fits exits and its parent gets ChildActorExited. */
static void
child_with_requirements(bool sync)
{
    th_system_t *sys = caps_system(sync, "{\"Zone\":\"eu\"}");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t par = named(sys, in, "capactors.Plain", NULL, "parent");
    static const struct {
        const char *body;
        int rc;
    } spawns[] = {
        {"{\"class\":\"capactors.Plain\",\"name\":\"kid\","
         "\"requirements\":{\"Zone\":\"eu\"}}",
         0},
        {"{\"class\":\"capactors.Plain\",\"name\":\"kid2\"}", 0},
        {"{\"class\":\"capactors.Plain\",\"name\":\"no\","
         "\"requirements\":{\"Zone\":\"us\"}}",
         TH_ENOCOMPAT},
        {"{\"class\":\"capactors.Plain\",\"name\":\"no\","
         "\"requirements\":[1]}",
         TH_EINVAL},
    };
    for (size_t i = 0; i < sizeof spawns / sizeof *spawns; i++) {
        json_t *o = rt_ask(in, &par, "Spawn", spawns[i].body, "Spawned");
        CHECK_EQ(rt_int(o, "rc"), spawns[i].rc);
        json_decref(o);
    }
    CHECK_RC(th_system_update_capability(sys, "Zone", "\"us\"", NULL), 0);
    json_t *o = rt_expect(in, "ChildExiting", 5000);
    CHECK_STREQ(rt_str(o, "name"), "kid");
    json_decref(o);
    json_decref(rt_expect(in, "ChildGone", 5000));
    rt_expect_nothing(in, 200);
    ping(in, &par, "parent");
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(child_created_with_requirements_exits_parent_told)
{
    child_with_requirements(false);
    child_with_requirements(true);
}

static void
bad_update(bool sync)
{
    th_system_t *sys = caps_system(sync, NULL);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t p = named(sys, in, "capactors.Plain", NULL, "p");
    th_diag_t d = {0};
    CHECK_RC(th_system_update_capability(sys, "Zone", "not json", &d),
             TH_EINVAL);
    CHECK_CONTAINS(d.msg, "\"Zone\"");
    CHECK_CONTAINS(d.msg, "not JSON");
    CHECK_RC(th_system_update_capability(sys, "", "1", &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "name");
    CHECK_RC(th_system_update_capability(sys, NULL, "1", &d), TH_EINVAL);
    CHECK_RC(th_system_update_capability(sys, "\xff\xfe", "1", &d), TH_EINVAL);
    CHECK_CONTAINS(d.msg, "UTF-8");
    json_t *o = rt_ask(in, &p, "Update", "{\"name\":\"Zone\",\"value\":\"x\"}",
                       "Updated");
    CHECK_EQ(rt_int(o, "rc"), 0);
    json_decref(o);
    CHECK_RC(th_system_capabilities_json(sys, NULL), TH_EINVAL);
    ping(in, &p, "p");
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

/* An update that lands after createActor admitted an actor but before it
 * started still reaches it (synchronous mode makes the order exact). */
TH_TEST(update_between_create_and_start_is_seen)
{
    th_system_t *sys = caps_system(true, "{\"Zone\":\"eu\"}");
    th_create_opts_t o = {.size = sizeof o,
                          .requirements_json = "{\"Zone\":\"eu\"}"};
    th_addr_t a, b;
    CHECK_RC(th_system_create_actor(sys, &a, "capactors.Plain", &o), 0);
    CHECK_RC(th_system_create_actor(sys, &b, "capactors.Plain", NULL), 0);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.live_actors, 2);
    CHECK_RC(th_system_update_capability(sys, "Zone", "\"us\"", NULL), 0);
    th_system_run(sys, 0); /* both start now; only `a` no longer fits */
    th_system_stats(sys, &st);
    CHECK_EQ(st.live_actors, 1);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    ping(in, &b, "");
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

TH_TEST(bad_update_refused_system_keeps_running)
{
    bad_update(false);
    bad_update(true);
}

TH_TEST(start_capabilities_must_be_an_object)
{
    static const char *const bad[] = {"[1]", "\"x\"", "{nope",
                                      "{\"Thespian Version\":\"9\"}",
                                      "{\"Thespian ActorSystem Name\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        for (int sync = 0; sync < 2; sync++) {
            th_system_opts_t o = {.synchronous = sync,
                                  .capabilities_json = bad[i]};
            th_system_t *sys = NULL;
            CHECK_RC(th_system_create(&sys, &o), TH_EINVAL);
            CHECK(sys == NULL);
        }
    th_system_opts_t o = {.capabilities_json = "{}"};
    th_system_t *sys = NULL;
    CHECK_RC(th_system_create(&sys, &o), 0);
    char *text = NULL;
    CHECK_RC(th_system_capabilities_json(sys, &text), 0);
    CHECK_CONTAINS(text, "\"Thespian ActorSystem Name\":\"thespian\"");
    free(text);
    th_system_destroy(sys);
}

TH_TEST_MAIN(TH_CASE(common_caps_visible_and_read_only),
             TH_CASE(create_refused_by_check_requires_requirements),
             TH_CASE(create_refused_synchronous),
             TH_CASE(update_exits_exactly_the_rejecting_actors),
             TH_CASE(update_exits_exactly_the_rejecting_actors_synchronous),
             TH_CASE(updating_actor_rejected_gets_exit_request),
             TH_CASE(update_without_change_has_no_effect),
             TH_CASE(update_without_change_synchronous),
             TH_CASE(child_created_with_requirements_exits_parent_told),
             TH_CASE(update_between_create_and_start_is_seen),
             TH_CASE(bad_update_refused_system_keeps_running),
             TH_CASE(start_capabilities_must_be_an_object))
