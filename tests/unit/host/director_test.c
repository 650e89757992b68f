/*
 * tests/unit/host/director_test.c — the Director actor on real signed
 * bundles: TLI activation, a version swap under a steady stream of
 * requests addressed by name (each answered exactly once, by v1 or v2, the
 * state carried over, the old source unloaded), a new version that fails
 * to start (the old one stays active), reactivation after unloading the
 * active version, and the RetrieveAll / RetrieveRole operations.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "loader/bundle.h"
#include "loader/describe.h"
#include "rt_util.h"
#include "th_clock.h"

typedef struct fx {
    char dir[64], state[96];
    thi_key_t *key;
    th_system_t *sys;
    th_addr_t director;
} fx_t;

static void
fx_init(fx_t *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/th-dir-XXXXXX");
    CHECK(mkdtemp(f->dir) != NULL);
    snprintf(f->state, sizeof f->state, "%s/state", f->dir);
    th_diag_t d = {0};
    CHECK_RC(thi_key_generate(&f->key, 2048, &d), 0);
    char *pem = NULL, path[128];
    CHECK_RC(thi_key_write_public_pem(f->key, &pem, &d), 0);
    snprintf(path, sizeof path, "%s/t_tls.key", f->dir);
    CHECK_RC(thi_write_file_atomic(path, (uint8_t *)pem, strlen(pem), &d), 0);
    free(pem);
    setenv("THESPIAN_DIRECTOR_DIR", f->dir, 1);
    th_system_opts_t o = {.workers = 2, .state_dir = f->state};
    static const char *const plugins[] = {"authority", NULL};
    f->sys = rt_system(&o, plugins);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(f->sys, &in), 0);
    th_addr_t a = rt_create(f->sys, "director.SourceAuthority");
    json_decref(rt_ask(in, &a, "Status", "", "AuthorityStatus"));
    th_create_opts_t co = {.size = sizeof co, .global_name = "Director"};
    CHECK_RC(th_system_create_actor(f->sys, &f->director, "director.Director",
                                    &co),
             0);
    json_decref(rt_ask(in, &f->director, "DirectorOp",
                       "{\"DirectorOp\":\"RetrieveAll\"}", "DirectorResult"));
    th_inbox_destroy(in);
}

static void
fx_fini(fx_t *f)
{
    th_system_destroy(f->sys);
    thi_key_destroy(f->key);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    CHECK_EQ(system(cmd), 0);
}

/* A bundle of rtactors.so whose TLI runs `cls` as role "keeper". */
static char *
load_version(fx_t *f, const char *version, const char *cls, bool autounload)
{
    uint8_t *so;
    size_t so_len, len;
    th_diag_t d = {0};
    CHECK_RC(thi_read_file(&so, &so_len, rt_plugin_path("rtactors"), 64 << 20,
                           &d),
             0);
    json_t *tli = json_pack("{s:{s:{s:s, s:s}}, s:b}", "Actors", cls, "Role",
                            "keeper", "GlobalName", "keeper", "AutoUnload",
                            autounload);
    thi_bundle_input_t in = {.path = "rtactors.so", .kind = "plugin",
                             .data = so, .size = so_len};
    /* the manifest names the plugin's classes: read them from it */
    json_t *desc = NULL;
    if (thi_plugins_describe(&desc, &in, NULL, 1, &d) != 0)
        TH_FAIL_AT_("describe: %s", d.msg);
    json_t *pd = json_object_get(desc, "rtactors.so");
    const char *classes[64] = {0};
    size_t k;
    json_t *c;
    json_array_foreach(json_object_get(pd, "classes"), k, c)
        if (k < 63)
            classes[k] = json_string_value(c);
    in.plugin = json_string_value(json_object_get(pd, "plugin"));
    in.classes = classes;
    uint8_t *b = NULL;
    if (thi_bundle_build(&b, &len, "keepers", version, "keeper group", tli,
                         &in, 1, f->key, &d))
        TH_FAIL_AT_("build: %s", d.msg);
    json_decref(desc);
    json_decref(tli);
    free(so);
    char *hash = malloc(65);
    if (th_system_load_source(f->sys, b, len, version, false, hash, &d))
        TH_FAIL_AT_("load %s: %s", version, d.msg);
    free(b);
    return hash;
}

static json_t *
retrieve_all(fx_t *f)
{
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(f->sys, &in), 0);
    json_t *r = rt_ask(in, &f->director, "DirectorOp",
                       "{\"DirectorOp\":\"RetrieveAll\"}", "DirectorResult");
    th_inbox_destroy(in);
    return r;
}

/* Wait until the group's active hash is `hash` (or, with hash NULL, until
 * it has any). */
static json_t *
wait_active(fx_t *f, const char *hash)
{
    /* a bound in time, not in rounds: on a loaded box a round is slow */
    for (int64_t end = th_now_ms() + 30000; th_now_ms() < end;) {
        json_t *r = retrieve_all(f);
        json_t *g = json_object_get(json_object_get(r, "groups"), "keepers");
        const char *a = json_string_value(json_object_get(g, "active"));
        if (a && (!hash || !strcmp(a, hash)) &&
            json_array_size(json_object_get(g, "actors")) > 0)
            return r;
        json_decref(r);
        usleep(10000);
    }
    TH_FAIL_AT_("%.12s never became active", hash ? hash : "a version");
}

typedef struct client {
    th_system_t *sys;
    volatile int *stop;
    int sent, got, v1, v2;
    long long last;
} client_t;

static void *
client_main(void *arg)
{
    client_t *c = arg;
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(c->sys, &in), 0);
    while (!*c->stop) { /* requests by name, one at a time */
        CHECK_RC(th_inbox_send_name(in, "keeper", "Inc", "", 0), 0);
        c->sent++;
        th_inmsg_t *m;
        if (th_inbox_recv(in, &m, 5000) != 0)
            TH_FAIL_AT_("request %d unanswered during the swap", c->sent);
        json_t *o = json_loadb(m->data, m->len, 0, NULL);
        long long n = rt_int(o, "count");
        int v = (int)rt_int(o, "version");
        json_decref(o);
        th_inmsg_free(m);
        if (n <= c->last) /* one client at a time: the count only grows */
            TH_FAIL_AT_("count went from %lld to %lld", c->last, n);
        c->last = n;
        c->got++;
        c->v1 += v == 1;
        c->v2 += v == 2;
    }
    th_inbox_destroy(in);
    return NULL;
}

TH_TEST(version_swap_under_load_loses_nothing)
{
    fx_t f;
    fx_init(&f);
    char *h1 = load_version(&f, "1.0", "rtactors.KeeperV1", true);
    json_decref(wait_active(&f, h1));
    volatile int stop = 0;
    client_t c = {f.sys, &stop, 0, 0, 0, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, client_main, &c);
    usleep(100000);
    char *h2 = load_version(&f, "2.0", "rtactors.KeeperV2", true);
    json_t *r = wait_active(&f, h2);
    json_decref(r);
    usleep(100000);
    stop = 1;
    pthread_join(t, NULL);
    CHECK_EQ(c.got, c.sent);
    CHECK(c.v1 > 0 && c.v2 > 0);
    CHECK_EQ(c.last, c.got); /* the count carried over: 1..N, no reset */
    th_system_stats_t st;
    th_system_stats(f.sys, &st);
    CHECK_EQ(st.dead_letters, 0);
    /* AutoUnload: v1's source goes once its actor has exited */
    char *text = NULL;
    for (int i = 0; i < 300; i++) {
        free(text);
        CHECK_RC(th_system_sources_json(f.sys, &text), 0);
        if (strstr(text, h1) == NULL)
            break;
        usleep(10000);
    }
    CHECK(strstr(text, h1) == NULL);
    CHECK(strstr(text, h2) != NULL);
    free(text);
    /* RetrieveRole names the v2 actor */
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(f.sys, &in), 0);
    r = rt_ask(in, &f.director, "DirectorOp",
               "{\"DirectorOp\":\"RetrieveRole\",\"role\":\"keeper\"}",
               "DirectorResult");
    th_addr_t holder;
    CHECK_RC(th_system_lookup_name(f.sys, "keeper", &holder), 0);
    char ha[TH_ADDR_STRLEN];
    rt_addr_str(&holder, ha);
    CHECK_STREQ(rt_str(r, "address"), ha);
    json_decref(r);
    th_inbox_destroy(in);
    free(h1);
    free(h2);
    fx_fini(&f);
}

TH_TEST(failing_new_version_leaves_the_old_one_active)
{
    fx_t f;
    fx_init(&f);
    char *h1 = load_version(&f, "1.0", "rtactors.KeeperV1", true);
    json_decref(wait_active(&f, h1));
    char *h2 = load_version(&f, "2.0", "rtactors.FailInit", true);
    json_t *r = NULL;
    for (int i = 0; i < 300; i++) { /* until the Director gave up on v2 */
        json_decref(r);
        r = retrieve_all(&f);
        if (json_is_string(json_object_get(
                json_object_get(json_object_get(r, "groups"), "keepers"),
                "error")))
            break;
        usleep(10000);
    }
    json_t *g = json_object_get(json_object_get(r, "groups"), "keepers");
    if (!json_is_string(json_object_get(g, "error"))) {
        char *t = json_dumps(r, 0);
        TH_FAIL_AT_("no error recorded: %s", t);
    }
    CHECK_CONTAINS(rt_str(g, "error"), "failed to start");
    CHECK_STREQ(rt_str(g, "active"), h1);
    json_decref(r);
    /* the old version still answers by name */
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(f.sys, &in), 0);
    CHECK_RC(th_inbox_send_name(in, "keeper", "Inc", "", 0), 0);
    r = rt_expect(in, "Count", 5000);
    CHECK_EQ(rt_int(r, "version"), 1);
    json_decref(r);
    th_inbox_destroy(in);
    free(h1);
    free(h2);
    fx_fini(&f);
}

TH_TEST(unloading_the_active_version_reactivates_the_previous)
{
    fx_t f;
    fx_init(&f);
    char *h1 = load_version(&f, "1.0", "rtactors.KeeperV1", false);
    json_decref(wait_active(&f, h1));
    char *h2 = load_version(&f, "2.0", "rtactors.KeeperV2", false);
    json_decref(wait_active(&f, h2));
    /* the Director's unload: v2's actors are asked to exit, v2's source
     * goes, v1 runs again */
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(f.sys, &in), 0);
    char body[120];
    snprintf(body, sizeof body, "{\"DirectorOp\":\"Unload\",\"hash\":\"%.10s\"}",
             h2);
    json_t *u = rt_ask(in, &f.director, "DirectorOp", body, "DirectorResult");
    CHECK_STREQ(rt_str(u, "hash"), h2);
    CHECK_EQ(rt_int(u, "rc"), 0);
    json_decref(u);
    json_decref(wait_active(&f, h1));
    json_t *r = NULL;
    for (int i = 0; i < 300; i++) { /* the name follows the reactivation */
        CHECK_RC(th_inbox_send_name(in, "keeper", "Inc", "", 0) == 0 ||
                     true,
                 1);
        th_inmsg_t *m;
        if (th_inbox_recv(in, &m, 200) == 0) {
            r = json_loadb(m->data, m->len, 0, NULL);
            th_inmsg_free(m);
            if (rt_int(r, "version") == 1)
                break;
            json_decref(r);
            r = NULL;
        }
    }
    CHECK(r != NULL);
    json_decref(r);
    th_inbox_destroy(in);
    free(h1);
    free(h2);
    fx_fini(&f);
}

/* An actor of the active version that dies is started again (after a
 * pause, not in a tight loop) and takes its global name back. */
TH_TEST(dead_active_actor_is_restarted)
{
    fx_t f;
    fx_init(&f);
    char *h1 = load_version(&f, "1.0", "rtactors.KeeperV1", true);
    json_decref(wait_active(&f, h1));
    th_addr_t first, again;
    CHECK_RC(th_system_lookup_name(f.sys, "keeper", &first), 0);
    CHECK_RC(th_system_tell(f.sys, &first, TH_MSG_EXIT_REQUEST, "", 0), 0);
    int64_t t0 = th_now_ms();
    int i = 0;
    for (; i < 500; i++) {
        if (th_system_lookup_name(f.sys, "keeper", &again) == 0 &&
            !th_addr_eq(&again, &first))
            break;
        usleep(10000);
    }
    int64_t waited = th_now_ms() - t0;
    CHECK(i < 500);
    CHECK(waited >= 900); /* a pause before the restart */
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(f.sys, &in), 0);
    CHECK_RC(th_inbox_send_name(in, "keeper", "Inc", "", 0), 0);
    json_t *r = rt_expect(in, "Count", 5000);
    CHECK_EQ(rt_int(r, "version"), 1);
    json_decref(r);
    th_inbox_destroy(in);
    free(h1);
    fx_fini(&f);
}

/* Bad DirectorOp messages: each gets an error answer naming what is wrong,
 * nothing changes, and the Director keeps serving. */
TH_TEST(bad_director_ops_are_answered_with_errors)
{
    fx_t f;
    fx_init(&f);
    char *h1 = load_version(&f, "1.0", "rtactors.KeeperV1", true);
    json_decref(wait_active(&f, h1));
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(f.sys, &in), 0);
    static const struct {
        const char *body, *error;
    } cases[] = {
        {"not json at all", "unknown DirectorOp"},
        {"{\"DirectorOp\":\"Explode\"}", "unknown DirectorOp"},
        {"{\"DirectorOp\":42}", "unknown DirectorOp"},
        {"{\"DirectorOp\":\"RetrieveRole\"}", "no active actor"},
        {"{\"DirectorOp\":\"RetrieveRole\",\"role\":\"ghost\"}",
         "no active actor"},
        {"{\"DirectorOp\":\"Unload\"}", "no loaded source"},
        {"{\"DirectorOp\":\"Unload\",\"hash\":\"ffffffffffff\"}",
         "no loaded source"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *r = rt_ask(in, &f.director, "DirectorOp", cases[i].body,
                           "DirectorResult");
        CHECK_CONTAINS(rt_str(r, "error"), cases[i].error);
        json_decref(r);
    }
    /* nothing changed: v1 still active, still answering by name */
    json_decref(wait_active(&f, h1));
    CHECK_RC(th_inbox_send_name(in, "keeper", "Inc", "", 0), 0);
    json_decref(rt_expect(in, "Count", 5000));
    th_inbox_destroy(in);
    free(h1);
    fx_fini(&f);
}

TH_TEST_MAIN(TH_CASE(version_swap_under_load_loses_nothing),
             TH_CASE(failing_new_version_leaves_the_old_one_active),
             TH_CASE(unloading_the_active_version_reactivates_the_previous),
             TH_CASE(dead_active_actor_is_restarted),
             TH_CASE(bad_director_ops_are_answered_with_errors))
