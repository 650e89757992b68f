/*
 * tests/unit/supervise.c — supervision strategies (docs/supervision.md)
 * through supactors.so, in threaded and synchronous mode: one-for-one and
 * all-for-one restart and stop, resume, escalate, the restart limit and
 * its window, backoff, the decider (and its source kept mapped), bad
 * input, and Thespian's default when no strategy was chosen. The tests
 * talk to a SupParent, which forwards to its children and relays
 * everything they send back.
 */
#include <stdarg.h>
#include <time.h>

#include "rt_util.h"
#include "source_fixture.h"

static const char *const plugins[] = {"supactors", NULL};

static th_system_t *
make_system(bool sync)
{
    th_system_opts_t o = {.synchronous = sync, .workers = sync ? 0 : 2};
    return rt_system(&o, plugins);
}

static void
send_json(th_inbox_t *in, const th_addr_t *to, const char *type,
          const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    CHECK_RC(th_inbox_send(in, to, type, body, strlen(body)), 0);
}

/* Make {...} -> Made; returns its "rc" after checking n children. */
static long long
make(th_inbox_t *in, const th_addr_t *p, int n, const char *extra)
{
    send_json(in, p, "Make", "{\"n\": %d%s%s}", n, extra ? ", " : "",
              extra ? extra : "");
    json_t *r = rt_expect(in, "Made", 5000);
    long long rc = rt_int(r, "rc");
    CHECK_EQ(rt_int(r, "n"), rc == 0 ? n : rt_int(r, "n"));
    json_decref(r);
    return rc;
}

static void
fwd(th_inbox_t *in, const th_addr_t *p, int i, const char *type,
    const char *body)
{
    send_json(in, p, "Fwd", "{\"i\": %d, \"type\": \"%s\", \"body\": %s}", i,
              type, body ? body : "{}");
}

/* The next message must be Relayed with inner `type` (from child i unless
 * i < -1); returns the inner body (new reference). */
static json_t *
relayed(th_inbox_t *in, const char *type, int i)
{
    json_t *r = rt_expect(in, "Relayed", 5000);
    CHECK_STREQ(rt_str(r, "type"), type);
    if (i >= -1)
        CHECK_EQ(rt_int(r, "i"), i);
    json_t *b = json_incref(json_object_get(r, "body"));
    json_decref(r);
    return b;
}

/* get on child i: returns its count; *restarts gets th_restart_count. */
static int
get(th_inbox_t *in, const th_addr_t *p, int i, int *restarts)
{
    fwd(in, p, i, "get", NULL);
    json_t *g = relayed(in, "Got", i);
    int c = (int)rt_int(g, "count");
    if (restarts)
        *restarts = (int)rt_int(g, "restarts");
    json_decref(g);
    return c;
}

static void
inc(th_inbox_t *in, const th_addr_t *p, int i, int times)
{
    for (int k = 0; k < times; k++)
        fwd(in, p, i, "inc", NULL);
}

/* The failed message comes back once as PoisonMessage; returns details. */
static void
expect_poison(th_inbox_t *in, int i, const char *type, const char *details)
{
    json_t *b = relayed(in, TH_MSG_POISON, i);
    CHECK_STREQ(rt_str(b, "type"), type);
    CHECK_CONTAINS(rt_str(b, "details"), details);
    json_decref(b);
}

struct env {
    th_system_t *sys;
    th_inbox_t *in;
    th_addr_t p;
};

static struct env
setup(bool sync)
{
    struct env e;
    e.sys = make_system(sync);
    CHECK_RC(th_inbox_create(e.sys, &e.in), 0);
    e.p = rt_create(e.sys, "supactors.SupParent");
    return e;
}

static void
teardown(struct env *e)
{
    th_inbox_destroy(e->in);
    th_system_destroy(e->sys);
}

/* ---- one-for-one restart ---- */
static void
one_for_one_restart(bool sync)
{
    struct env e = setup(sync);
    CHECK_EQ(make(e.in, &e.p, 2, "\"sup\": {\"directive\": 0}"), 0);
    inc(e.in, &e.p, 0, 3);
    inc(e.in, &e.p, 1, 2);
    fwd(e.in, &e.p, 0, "boom", "{\"n\": 1}");
    expect_poison(e.in, 0, "boom",
                  "boom requested; supervisor: restart (one-for-one)");
    int r;
    CHECK_EQ(get(e.in, &e.p, 0, &r), 0); /* state reset */
    CHECK_EQ(r, 1);
    CHECK_EQ(get(e.in, &e.p, 1, &r), 2); /* the sibling untouched */
    CHECK_EQ(r, 0);
    rt_expect_nothing(e.in, 100); /* no retry, no second PoisonMessage */
    teardown(&e);
}

TH_TEST(one_for_one_restart_threaded) { one_for_one_restart(false); }
TH_TEST(one_for_one_restart_sync) { one_for_one_restart(true); }

/* ---- all-for-one restart: the siblings restart too ---- */
static void
all_for_one_restart(bool sync, bool via_opts)
{
    struct env e;
    if (via_opts) { /* the parent's strategy from its creation options */
        e.sys = make_system(sync);
        CHECK_RC(th_inbox_create(e.sys, &e.in), 0);
        th_supervision_t s = {.size = sizeof s,
                              .strategy = TH_SUP_ALL_FOR_ONE,
                              .directive = TH_SUP_RESTART};
        th_create_opts_t o = {.size = sizeof o, .supervision = &s};
        CHECK_RC(th_system_create_actor(e.sys, &e.p, "supactors.SupParent",
                                        &o),
                 0);
        CHECK_EQ(make(e.in, &e.p, 3, NULL), 0);
    } else {
        e = setup(sync);
        CHECK_EQ(make(e.in, &e.p, 3,
                      "\"sup\": {\"strategy\": 1, \"directive\": 0}"),
                 0);
    }
    for (int i = 0; i < 3; i++)
        inc(e.in, &e.p, i, i + 1);
    int r;
    CHECK_EQ(get(e.in, &e.p, 2, &r), 3);
    fwd(e.in, &e.p, 1, "boom", NULL);
    expect_poison(e.in, 1, "boom", "supervisor: restart (all-for-one)");
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(get(e.in, &e.p, i, &r), 0);
        CHECK_EQ(r, 1);
    }
    /* again: every restart count goes up once more */
    inc(e.in, &e.p, 0, 5);
    fwd(e.in, &e.p, 2, "boom", NULL);
    expect_poison(e.in, 2, "boom", "restart (all-for-one)");
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(get(e.in, &e.p, i, &r), 0);
        CHECK_EQ(r, 2);
    }
    teardown(&e);
}

TH_TEST(all_for_one_restarts_siblings_threaded)
{
    all_for_one_restart(false, false);
}
TH_TEST(all_for_one_restarts_siblings_sync)
{
    all_for_one_restart(true, false);
}
TH_TEST(all_for_one_from_create_opts_threaded)
{
    all_for_one_restart(false, true);
}
TH_TEST(all_for_one_from_create_opts_sync)
{
    all_for_one_restart(true, true);
}

/* ---- stop ---- */
static void
stop_one_for_one(bool sync)
{
    struct env e = setup(sync);
    CHECK_EQ(make(e.in, &e.p, 2, "\"sup\": {\"directive\": 1}"), 0);
    inc(e.in, &e.p, 1, 4);
    fwd(e.in, &e.p, 0, "boom", NULL);
    expect_poison(e.in, 0, "boom", "supervisor: stop (one-for-one)");
    json_decref(relayed(e.in, TH_MSG_CHILD_EXITED, 0));
    CHECK_EQ(get(e.in, &e.p, 1, NULL), 4); /* the sibling lives on */
    teardown(&e);
}

TH_TEST(stop_one_for_one_threaded) { stop_one_for_one(false); }
TH_TEST(stop_one_for_one_sync) { stop_one_for_one(true); }

static void
stop_all_for_one(bool sync)
{
    struct env e = setup(sync);
    CHECK_EQ(make(e.in, &e.p, 3,
                  "\"sup\": {\"strategy\": 1, \"directive\": 1}"),
             0);
    fwd(e.in, &e.p, 1, "boom", NULL);
    expect_poison(e.in, 1, "boom", "supervisor: stop (all-for-one)");
    int seen = 0;
    for (int k = 0; k < 3; k++) {
        json_t *r = rt_expect(e.in, "Relayed", 5000);
        CHECK_STREQ(rt_str(r, "type"), TH_MSG_CHILD_EXITED);
        seen |= 1 << rt_int(r, "i");
        json_decref(r);
    }
    CHECK_EQ(seen, 7);
    json_t *st = rt_ask(e.in, &e.p, "Status", "", "ParentStatus");
    CHECK_EQ(rt_int(st, "restarts"), 0); /* the parent itself is fine */
    json_decref(st);
    teardown(&e);
}

TH_TEST(stop_all_for_one_threaded) { stop_all_for_one(false); }
TH_TEST(stop_all_for_one_sync) { stop_all_for_one(true); }

/* ---- resume ---- */
static void
resume(bool sync)
{
    struct env e = setup(sync);
    CHECK_EQ(make(e.in, &e.p, 1, "\"sup\": {\"directive\": 2}"), 0);
    inc(e.in, &e.p, 0, 3);
    fwd(e.in, &e.p, 0, "boom", NULL);
    expect_poison(e.in, 0, "boom", "supervisor: resume");
    int r;
    CHECK_EQ(get(e.in, &e.p, 0, &r), 3);
    CHECK_EQ(r, 0);
    teardown(&e);
}

TH_TEST(resume_keeps_state_threaded) { resume(false); }
TH_TEST(resume_keeps_state_sync) { resume(true); }

/* ---- escalate ---- */
static void
escalate_top_level(bool sync)
{
    struct env e = setup(sync);
    CHECK_EQ(make(e.in, &e.p, 2, "\"sup\": {\"directive\": 3}"), 0);
    fwd(e.in, &e.p, 0, "boom", NULL);
    /* the parent (top-level: its parent is the system) restarts */
    int64_t until = th_now_ms() + 5000;
    for (;;) {
        json_t *st = rt_ask(e.in, &e.p, "Status", "", "ParentStatus");
        long long restarts = rt_int(st, "restarts"), n = rt_int(st, "n");
        json_decref(st);
        if (restarts == 1) {
            CHECK_EQ(n, 0); /* its state was reset */
            break;
        }
        CHECK(th_now_ms() < until);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    teardown(&e);
}

TH_TEST(escalate_restarts_top_level_parent_threaded)
{
    escalate_top_level(false);
}
TH_TEST(escalate_restarts_top_level_parent_sync) { escalate_top_level(true); }

/* G stops its children; P escalates: C's failure stops P (and C). */
static void
escalate_to_grandparent(bool sync)
{
    struct env e = setup(sync); /* e.p is G */
    CHECK_EQ(make(e.in, &e.p, 1,
                  "\"cls\": \"supactors.SupParent\", "
                  "\"sup\": {\"directive\": 1}"),
             0);
    fwd(e.in, &e.p, 0, "Make", "{\"n\": 1, \"sup\": {\"directive\": 3}}");
    json_t *m = relayed(e.in, "Made", 0);
    CHECK_EQ(rt_int(m, "rc"), 0);
    json_decref(m);
    fwd(e.in, &e.p, 0, "Fwd", "{\"i\": 0, \"type\": \"boom\"}");
    json_decref(relayed(e.in, TH_MSG_CHILD_EXITED, 0));
    json_t *st = rt_ask(e.in, &e.p, "Status", "", "ParentStatus");
    CHECK_EQ(rt_int(st, "restarts"), 0);
    json_decref(st);
    teardown(&e);
}

TH_TEST(escalate_uses_grandparents_rule_threaded)
{
    escalate_to_grandparent(false);
}
TH_TEST(escalate_uses_grandparents_rule_sync)
{
    escalate_to_grandparent(true);
}

/* A child whose parent exited without it (adopted by the system) and
 * whose rule says escalate: nobody above decides, it restarts. */
static void
escalate_adopted(bool sync)
{
    struct env e = setup(sync);
    send_json(e.in, &e.p, "Make", "{\"n\": 1, \"sup\": {\"directive\": 3}}");
    json_t *m = rt_expect(e.in, "Made", 5000);
    th_addr_t c;
    CHECK_RC(th_addr_from_string(&c, json_string_value(json_array_get(
                                         json_object_get(m, "addrs"), 0))),
             0);
    json_decref(m);
    send_json(e.in, &e.p, TH_MSG_EXIT_REQUEST, "{\"notRecursive\": true}");
    if (sync)
        th_system_run(e.sys, 0);
    else
        rt_wait_dead(e.sys, &e.p);
    CHECK_RC(th_inbox_send(e.in, &c, "inc", "{}", 2), 0);
    json_t *p = rt_ask(e.in, &c, "boom", "{}", TH_MSG_POISON);
    CHECK_CONTAINS(rt_str(p, "details"),
                   "supervisor: restart (one-for-one) (escalated to the "
                   "system)");
    json_decref(p);
    json_t *g = rt_ask(e.in, &c, "get", "{}", "Got");
    CHECK_EQ(rt_int(g, "count"), 0);
    CHECK_EQ(rt_int(g, "restarts"), 1);
    json_decref(g);
    teardown(&e);
}

TH_TEST(escalate_from_adopted_child_restarts_it_threaded)
{
    escalate_adopted(false);
}
TH_TEST(escalate_from_adopted_child_restarts_it_sync)
{
    escalate_adopted(true);
}

/* ---- the restart limit ---- */
static void
max_restarts(bool sync)
{
    struct env e = setup(sync);
    CHECK_EQ(make(e.in, &e.p, 1,
                  "\"sup\": {\"directive\": 0, \"max_restarts\": 2}"),
             0);
    for (int k = 1; k <= 2; k++) {
        fwd(e.in, &e.p, 0, "boom", NULL);
        expect_poison(e.in, 0, "boom", "supervisor: restart");
        int r;
        CHECK_EQ(get(e.in, &e.p, 0, &r), 0);
        CHECK_EQ(r, k);
    }
    fwd(e.in, &e.p, 0, "boom", NULL);
    expect_poison(e.in, 0, "boom",
                  "supervisor: stop (one-for-one) (more than 2 restarts "
                  "within 10000 ms)");
    json_decref(relayed(e.in, TH_MSG_CHILD_EXITED, 0));
    teardown(&e);
}

TH_TEST(max_restarts_then_stop_threaded) { max_restarts(false); }
TH_TEST(max_restarts_then_stop_sync) { max_restarts(true); }

/* Restarts older than the window do not count. */
static void
window_slides(bool sync)
{
    struct env e = setup(sync);
    CHECK_EQ(make(e.in, &e.p, 1,
                  "\"sup\": {\"max_restarts\": 1, \"window_ms\": 100}"),
             0);
    fwd(e.in, &e.p, 0, "boom", NULL);
    expect_poison(e.in, 0, "boom", "supervisor: restart");
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    fwd(e.in, &e.p, 0, "boom", NULL);
    expect_poison(e.in, 0, "boom", "supervisor: restart");
    int r;
    CHECK_EQ(get(e.in, &e.p, 0, &r), 0);
    CHECK_EQ(r, 2);
    fwd(e.in, &e.p, 0, "boom", NULL); /* within 100 ms of the last: stop */
    expect_poison(e.in, 0, "boom", "more than 1 restarts within 100 ms");
    json_decref(relayed(e.in, TH_MSG_CHILD_EXITED, 0));
    teardown(&e);
}

TH_TEST(restart_window_slides_threaded) { window_slides(false); }
TH_TEST(restart_window_slides_sync) { window_slides(true); }

/* ---- backoff ---- */
static void
backoff(bool sync)
{
    struct env e = setup(sync);
    CHECK_EQ(make(e.in, &e.p, 1,
                  "\"sup\": {\"backoff_ms\": 100, \"max_backoff_ms\": 150}"),
             0);
    /* restart k waits 100, 150 (200 capped), 150 (400), 150 (800) ms */
    static const int64_t wait[] = {100, 150, 150, 150};
    int seq = 0;
    for (int k = 1; k <= 4; k++) {
        inc(e.in, &e.p, 0, 1);
        int64_t t0 = th_now_ms();
        fwd(e.in, &e.p, 0, "boom", NULL);
        for (int j = 0; j < 3; j++) {
            char b[32];
            snprintf(b, sizeof b, "{\"seq\": %d}", seq + j + 1);
            fwd(e.in, &e.p, 0, "get", b); /* queued during the backoff */
        }
        expect_poison(e.in, 0, "boom", "supervisor: restart");
        for (int j = 0; j < 3; j++) {
            json_t *g = relayed(e.in, "Got", 0);
            if (j == 0) {
                int64_t took = th_now_ms() - t0;
                if (took < wait[k - 1])
                    TH_FAIL_AT_("restart %d answered after %lld ms, "
                                "backoff is %lld ms",
                                k, (long long)took, (long long)wait[k - 1]);
                if (k == 4 && took >= 700)
                    TH_FAIL_AT_("max_backoff_ms ignored: %lld ms",
                                (long long)took);
            }
            CHECK_EQ(rt_int(g, "seq"), ++seq); /* in order */
            CHECK_EQ(rt_int(g, "count"), 0);
            CHECK_EQ(rt_int(g, "restarts"), k);
            json_decref(g);
        }
    }
    teardown(&e);
}

TH_TEST(backoff_delays_next_message_threaded) { backoff(false); }
TH_TEST(backoff_delays_next_message_sync) { backoff(true); }

/* A parked child still exits when the system shuts down. */
TH_TEST(shutdown_while_backing_off)
{
    struct env e = setup(false);
    CHECK_EQ(make(e.in, &e.p, 1,
                  "\"sup\": {\"backoff_ms\": 300, \"max_backoff_ms\": 300}"),
             0);
    fwd(e.in, &e.p, 0, "boom", NULL);
    expect_poison(e.in, 0, "boom", "supervisor: restart");
    int64_t t0 = th_now_ms();
    teardown(&e); /* waits for the park to end, then for the exits */
    CHECK(th_now_ms() - t0 < 5000);
}

/* ---- decider ---- */
static void
decider(bool sync)
{
    struct env e = setup(sync);
    CHECK_EQ(make(e.in, &e.p, 1,
                  "\"sup\": {\"directive\": 0, \"decider\": true}"),
             0);
    inc(e.in, &e.p, 0, 2);
    fwd(e.in, &e.p, 0, "odd", NULL);
    expect_poison(e.in, 0, "odd", "supervisor: resume");
    int r;
    CHECK_EQ(get(e.in, &e.p, 0, &r), 2);
    CHECK_EQ(r, 0);
    fwd(e.in, &e.p, 0, "boom", NULL);
    expect_poison(e.in, 0, "boom", "supervisor: restart");
    CHECK_EQ(get(e.in, &e.p, 0, &r), 0);
    CHECK_EQ(r, 1);
    fwd(e.in, &e.p, 0, "bad", NULL); /* 42: falls back to "directive" */
    expect_poison(e.in, 0, "bad", "supervisor: restart");
    fwd(e.in, &e.p, 0, "stop", NULL);
    expect_poison(e.in, 0, "stop", "supervisor: stop");
    json_decref(relayed(e.in, TH_MSG_CHILD_EXITED, 0));
    teardown(&e);
}

TH_TEST(decider_chooses_per_message_type_threaded) { decider(false); }
TH_TEST(decider_chooses_per_message_type_sync) { decider(true); }

/* A decider is the code of the plugin that set the strategy: its source
 * stays mapped while a child holding a copy lives, even after the parent
 * (the last actor of that source) is gone and the source was unloaded. */
TH_TEST(decider_source_stays_mapped)
{
    fixture_t f;
    fixture_init(&f);
    th_system_opts_t o = {.workers = 2, .state_dir = f.state,
                          .authority_timeout_ms = 5000};
    static const char *const with_authority[] = {"rtactors", "authority",
                                                 NULL};
    th_system_t *sys = rt_system(&o, with_authority);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t auth = rt_create(sys, "director.SourceAuthority");
    json_decref(rt_ask(in, &auth, "Status", "", "AuthorityStatus"));
    const char *const files[][4] = {
        {"supactors.so", "plugin", rt_plugin_path("supactors")}};
    size_t len;
    uint8_t *b = bundle_of(f.key, "sup", "1.0", files, 1, &len);
    char hash[65], full[65];
    th_diag_t d = {0};
    CHECK_RC(th_system_load_source(sys, b, len, "sup.tls", false, hash, &d),
             0);
    free(b);
    /* G from the source; its child is of a plugin loaded by path */
    th_create_opts_t co = {.size = sizeof co, .source_hash = hash};
    th_addr_t g, c;
    CHECK_RC(th_system_create_actor(sys, &g, "supactors.SupParent", &co), 0);
    send_json(in, &g, "Make",
              "{\"n\": 1, \"cls\": \"rtactors.FailOnce\", "
              "\"sup\": {\"directive\": 2, \"decider\": true}}");
    json_t *m = rt_expect(in, "Made", 5000);
    CHECK_EQ(rt_int(m, "n"), 1);
    CHECK_RC(th_addr_from_string(&c, json_string_value(json_array_get(
                                         json_object_get(m, "addrs"), 0))),
             0);
    json_decref(m);
    send_json(in, &g, TH_MSG_EXIT_REQUEST, "{\"notRecursive\": true}");
    rt_wait_dead(sys, &g);
    CHECK_RC(th_system_unload_source(sys, hash, full, &d), 0);
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    CHECK_EQ(count_sources(sys), 1); /* the child's decider holds it */
    /* FailOnce fails Job once: the decider answers 42 for it, so the
     * strategy's directive (resume) applies */
    json_t *p = rt_ask(in, &c, "Job", "{}", TH_MSG_POISON);
    CHECK_CONTAINS(rt_str(p, "details"), "supervisor: resume");
    json_decref(p);
    CHECK_RC(th_system_tell(sys, &c, TH_MSG_EXIT_REQUEST, "", 0), 0);
    int64_t until = th_now_ms() + 5000;
    while (count_sources(sys) != 0) { /* its last holder gone: unmapped */
        CHECK(th_now_ms() < until);
        nanosleep(&ts, NULL);
    }
    th_inbox_destroy(in);
    th_system_destroy(sys);
    fixture_fini(&f);
}

/* ---- bad input ---- */
static char log_path[64];

static void
log_to_file(void)
{
    snprintf(log_path, sizeof log_path, "/tmp/th_sup_log_%d", (int)getpid());
    unlink(log_path);
    setenv("THESPLOG_FILE", log_path, 1);
}

static char *
read_log(void)
{
    FILE *f = fopen(log_path, "r");
    CHECK(f != NULL);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(log_path);
    return buf;
}

static void
bad_input(bool sync)
{
    log_to_file();
    struct env e = setup(sync);
    static const struct {
        th_supervision_t s;
        const char *log;
    } bad[] = {
        {{.size = sizeof(th_supervision_t), .directive = 9},
         "supervision.directive: 9 is not a directive"},
        {{.size = sizeof(th_supervision_t), .strategy = 5},
         "supervision.strategy: 5 is not a strategy"},
        {{.size = 4}, "supervision.size: 4, need at least"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        th_create_opts_t o = {.size = sizeof o, .supervision = &bad[i].s};
        th_addr_t a;
        CHECK_RC(th_system_create_actor(e.sys, &a, "supactors.SupParent", &o),
                 TH_EINVAL);
    }
    /* th_supervise from the actor */
    CHECK_EQ(make(e.in, &e.p, 0, "\"sup\": {\"directive\": 7}"), TH_EINVAL);
    CHECK_EQ(make(e.in, &e.p, 0, "\"sup\": {\"strategy\": 2}"), TH_EINVAL);
    CHECK_EQ(make(e.in, &e.p, 0, "\"sup\": {\"size\": 8}"), TH_EINVAL);
    /* the system still answers, and a good strategy is taken */
    json_t *st = rt_ask(e.in, &e.p, "Status", "", "ParentStatus");
    json_decref(st);
    th_supervision_t good = {.size = sizeof good, .directive = TH_SUP_STOP};
    th_create_opts_t o = {.size = sizeof o, .supervision = &good};
    th_addr_t q;
    CHECK_RC(th_system_create_actor(e.sys, &q, "supactors.SupParent", &o), 0);
    CHECK_EQ(make(e.in, &q, 1, NULL), 0);
    fwd(e.in, &q, 0, "boom", NULL);
    expect_poison(e.in, 0, "boom", "supervisor: stop");
    teardown(&e);
    const char *log = read_log();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_CONTAINS(log, bad[i].log);
    CHECK_CONTAINS(log, "th_supervise: supervision.directive: 7");
    CHECK_CONTAINS(log, "th_supervise: supervision.strategy: 2");
    CHECK_CONTAINS(log, "th_supervise: supervision.size: 8");
}

TH_TEST(bad_input_refused_threaded) { bad_input(false); }
TH_TEST(bad_input_refused_sync) { bad_input(true); }

/* ---- Thespian's default without a strategy ---- */
static void
default_unchanged(bool sync)
{
    struct env e = setup(sync);
    /* a strategy set and then dropped: children made after keep the
     * default */
    CHECK_EQ(make(e.in, &e.p, 0, "\"sup\": {\"directive\": 1}"), 0);
    CHECK_EQ(make(e.in, &e.p, 1, "\"unset\": true"), 0);
    inc(e.in, &e.p, 0, 2);
    fwd(e.in, &e.p, 0, "boom", NULL); /* retry once, fail again */
    json_t *b = relayed(e.in, TH_MSG_POISON, 0);
    CHECK_STREQ(rt_str(b, "details"), "boom requested");
    json_decref(b);
    int r;
    CHECK_EQ(get(e.in, &e.p, 0, &r), 2); /* count kept: no restart */
    CHECK_EQ(r, 0);
    /* a top-level actor that supervises its children (opts.supervision)
     * is itself under Thespian's rule */
    th_supervision_t s = {.size = sizeof s, .directive = TH_SUP_STOP};
    th_create_opts_t o = {.size = sizeof o, .supervision = &s};
    th_addr_t c;
    CHECK_RC(th_system_create_actor(e.sys, &c, "supactors.SupChild", &o), 0);
    json_t *p = rt_ask(e.in, &c, "boom", "{}", TH_MSG_POISON);
    CHECK_STREQ(rt_str(p, "details"), "boom requested");
    json_decref(p);
    json_t *g = rt_ask(e.in, &c, "get", "{}", "Got");
    CHECK_EQ(rt_int(g, "restarts"), 0);
    json_decref(g);
    teardown(&e);
}

TH_TEST(default_rule_without_strategy_threaded) { default_unchanged(false); }
TH_TEST(default_rule_without_strategy_sync) { default_unchanged(true); }

TH_TEST_MAIN(TH_CASE(one_for_one_restart_threaded),
             TH_CASE(one_for_one_restart_sync),
             TH_CASE(all_for_one_restarts_siblings_threaded),
             TH_CASE(all_for_one_restarts_siblings_sync),
             TH_CASE(all_for_one_from_create_opts_threaded),
             TH_CASE(all_for_one_from_create_opts_sync),
             TH_CASE(stop_one_for_one_threaded),
             TH_CASE(stop_one_for_one_sync),
             TH_CASE(stop_all_for_one_threaded),
             TH_CASE(stop_all_for_one_sync),
             TH_CASE(resume_keeps_state_threaded),
             TH_CASE(resume_keeps_state_sync),
             TH_CASE(escalate_restarts_top_level_parent_threaded),
             TH_CASE(escalate_restarts_top_level_parent_sync),
             TH_CASE(escalate_uses_grandparents_rule_threaded),
             TH_CASE(escalate_uses_grandparents_rule_sync),
             TH_CASE(escalate_from_adopted_child_restarts_it_threaded),
             TH_CASE(escalate_from_adopted_child_restarts_it_sync),
             TH_CASE(max_restarts_then_stop_threaded),
             TH_CASE(max_restarts_then_stop_sync),
             TH_CASE(restart_window_slides_threaded),
             TH_CASE(restart_window_slides_sync),
             TH_CASE(backoff_delays_next_message_threaded),
             TH_CASE(backoff_delays_next_message_sync),
             TH_CASE(shutdown_while_backing_off),
             TH_CASE(decider_chooses_per_message_type_threaded),
             TH_CASE(decider_chooses_per_message_type_sync),
             TH_CASE(decider_source_stays_mapped),
             TH_CASE(bad_input_refused_threaded),
             TH_CASE(bad_input_refused_sync),
             TH_CASE(default_rule_without_strategy_threaded),
             TH_CASE(default_rule_without_strategy_sync))
