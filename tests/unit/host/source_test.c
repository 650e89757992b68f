/*
 * tests/unit/host/source_test.c — signed bundles loaded into a running
 * system through the Director's Source Authority plugin: load and use,
 * no-op reload, no authority (the keyring alone) / no trusted key /
 * silent authority, unknown key with a
 * constructor probe (nothing runs), rollback protection persisted, two
 * versions side by side with colliding private libraries, unload with
 * live actors and pending timers, availability notifications.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rt_util.h"
#include "source_fixture.h"

static th_system_t *
fixture_system(fixture_t *f, bool with_authority)
{
    th_system_opts_t o = {.workers = 2, .state_dir = f->state,
                          .authority_timeout_ms = 5000};
    static const char *const plugins[] = {"testactors", "rtactors",
                                          "authority", NULL};
    th_system_t *sys = rt_system(&o, plugins);
    if (with_authority) {
        /* its answer shows init, and so its registration, is done */
        th_addr_t a = rt_create(sys, "director.SourceAuthority");
        th_inbox_t *in;
        CHECK_RC(th_inbox_create(sys, &in), 0);
        json_decref(rt_ask(in, &a, "Status", "", "AuthorityStatus"));
        th_inbox_destroy(in);
    }
    return sys;
}

static uint8_t *
testactors_bundle(const thi_key_t *key, const char *version, size_t *len)
{
    const char *const files[][4] = {
        {"testactors.so", "plugin", rt_plugin_path("testactors")}};
    return bundle_of(key, "tests", version, files, 1, len);
}

static int
load(th_system_t *sys, const uint8_t *b, size_t len, bool rollback,
     char hash[65], th_diag_t *d)
{
    return th_system_load_source(sys, b, len, "test.tls", rollback, hash, d);
}

static int
entries_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") &&
                                     strcmp(e->d_name, ".."));
    closedir(d);
    return n;
}

TH_TEST(load_create_and_talk)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    char hash[65];
    th_diag_t d = {0};
    if (load(sys, b, len, false, hash, &d) != 0)
        TH_FAIL_AT_("load: %s", d.msg);
    uint8_t h[32];
    char hex[65];
    thi_sha256(h, b, len);
    thi_hex(hex, h, 32);
    CHECK_STREQ(hash, hex); /* the source hash is sha256 of the file */
    /* the same bundle again: a no-op */
    CHECK_RC(load(sys, b, len, false, hash, &d), 0);
    CHECK_EQ(count_sources(sys), 1);
    /* create from the source by a hash prefix */
    char prefix[13];
    snprintf(prefix, sizeof prefix, "%.12s", hash);
    th_create_opts_t o = {.size = sizeof o, .source_hash = prefix};
    th_addr_t c;
    CHECK_RC(th_system_create_actor(sys, &c, "testactors.Counter", &o), 0);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    CHECK_RC(th_system_tell(sys, &c, "Tick", "", 0), 0);
    json_t *r = rt_ask(in, &c, "Get", "", "Count");
    CHECK_EQ(rt_int(r, "count"), 1);
    json_decref(r);
    /* unknown hash and bad prefix */
    o.source_hash = "ffffffffffff";
    CHECK_RC(th_system_create_actor(sys, &c, "testactors.Counter", &o),
             TH_ESOURCE);
    o.source_hash = "not-hex";
    CHECK_RC(th_system_create_actor(sys, &c, "testactors.Counter", &o),
             TH_ESOURCE);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

/* No authority registered: the keyring's verification alone decides. */
TH_TEST(no_authority_loads_on_the_keyring_alone)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, false);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    char hash[65];
    th_diag_t d = {0};
    if (load(sys, b, len, false, hash, &d) != 0)
        TH_FAIL_AT_("load: %s", d.msg);
    CHECK_EQ(count_sources(sys), 1);
    /* and an unknown key is refused the same way */
    thi_key_t *other = NULL;
    CHECK_RC(thi_key_generate(&other, 2048, &d), 0);
    size_t len2;
    uint8_t *b2 = testactors_bundle(other, "2.0", &len2);
    thi_diag_clear(&d);
    CHECK_RC(load(sys, b2, len2, false, hash, &d), TH_EBADSIG);
    CHECK_CONTAINS(d.msg, "unknown key");
    CHECK_EQ(count_sources(sys), 1);
    thi_key_destroy(other);
    th_system_destroy(sys);
    free(b2);
    free(b);
    fixture_fini(&f);
}

/* A system given no key directory trusts nothing: every load is refused
 * with the reason, before anything reads the archive. */
TH_TEST(no_trusted_key_refuses_loads)
{
    fixture_t f;
    fixture_init(&f);
    th_system_opts_t o = {.workers = 2, .state_dir = f.state,
                          .authority_timeout_ms = 5000, .key_dir = ""};
    static const char *const plugins[] = {"authority", NULL};
    th_system_t *sys = rt_system(&o, plugins);
    rt_create(sys, "director.SourceAuthority");
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    char hash[65];
    th_diag_t d = {0};
    CHECK_RC(load(sys, b, len, false, hash, &d), TH_EPERM);
    CHECK_CONTAINS(d.msg, "no trusted key: no key directory is configured");
    CHECK_EQ(count_sources(sys), 0);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

TH_TEST(silent_authority_times_out)
{
    fixture_t f;
    fixture_init(&f);
    th_system_opts_t o = {.workers = 2, .state_dir = f.state,
                          .authority_timeout_ms = 300,
                          .authority_class = "rtactors.SilentAuthority"};
    static const char *const plugins[] = {"rtactors", NULL};
    th_system_t *sys = rt_system(&o, plugins);
    rt_create(sys, "rtactors.SilentAuthority");
    usleep(50000); /* let it register */
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    char hash[65];
    th_diag_t d = {0};
    CHECK_RC(load(sys, b, len, false, hash, &d), TH_ETIMEDOUT);
    CHECK_CONTAINS(d.msg, "did not answer");
    CHECK_EQ(count_sources(sys), 0);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

/* I1, I2, I6: a bundle from an unknown key, carrying a plugin whose
 * constructor writes a marker: refused, the marker never appears, nothing
 * is left under the state directory, nothing is registered. */
TH_TEST(unknown_key_runs_nothing)
{
    fixture_t f;
    fixture_init(&f);
    char marker[128];
    snprintf(marker, sizeof marker, "%s/marker", f.dir);
    setenv("TH_TEST_MARKER", marker, 1);
    th_system_t *sys = fixture_system(&f, true);
    thi_key_t *other = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_key_generate(&other, 2048, &d), 0);
    const char *const files[][4] = {
        {"ctor_marker.so", "plugin", rt_plugin_path("ctor_marker")}};
    size_t len;
    uint8_t *b = bundle_of(other, "evil", "1.0", files, 1, &len);
    char hash[65];
    CHECK_RC(load(sys, b, len, false, hash, &d), TH_EBADSIG);
    CHECK_CONTAINS(d.msg, "unknown key");
    CHECK(access(marker, F_OK) != 0);
    char sources[160];
    /* nothing written: code is mapped from memfds, no directory exists */
    snprintf(sources, sizeof sources, "%s", f.state);
    CHECK_EQ(entries_in(sources), 0);
    CHECK_EQ(count_sources(sys), 0);
    th_addr_t a;
    CHECK_RC(th_system_create_actor(sys, &a, "ctor_marker.Marker", NULL),
             TH_ENOENT);
    /* a flipped byte: refused the same way */
    free(b);
    b = testactors_bundle(f.key, "1.0", &len);
    b[len / 2] ^= 1;
    CHECK_RC(load(sys, b, len, false, hash, &d), TH_EBADSIG);
    CHECK_EQ(entries_in(sources), 0);
    /* I3: the system still works */
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t c = rt_create(sys, "testactors.Counter");
    json_decref(rt_ask(in, &c, "Get", "", "Count"));
    th_inbox_destroy(in);
    thi_key_destroy(other);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

static int
open_fds(void)
{
    return entries_in("/proc/self/fd");
}

/* A load from outside prepares the source (archive, ELF policy, sealed
 * memfds) on its caller's thread while the Source Authority decides, and
 * commits it there: the plugin's constructor runs on the caller's thread,
 * and only after the yes. When no answer comes, nothing of the prepared
 * source stays: no descriptor, no code run, nothing listed. */
TH_TEST(outside_load_prepares_while_the_authority_decides)
{
    fixture_t f;
    fixture_init(&f);
    char marker[128], tidf[128];
    snprintf(marker, sizeof marker, "%s/marker", f.dir);
    snprintf(tidf, sizeof tidf, "%s/tid", f.dir);
    setenv("TH_TEST_MARKER", marker, 1);
    setenv("TH_TEST_MARKER_TID", tidf, 1);
    const char *const files[][4] = {
        {"ctor_marker.so", "plugin", rt_plugin_path("ctor_marker")}};
    size_t len;
    uint8_t *b = bundle_of(f.key, "marker", "1.0", files, 1, &len);
    char hash[65];
    th_diag_t d = {0};

    /* an authority that never answers */
    th_system_opts_t o = {.workers = 2, .state_dir = f.state,
                          .authority_timeout_ms = 300,
                          .authority_class = "rtactors.SilentAuthority"};
    static const char *const silent[] = {"rtactors", NULL};
    th_system_t *sys = rt_system(&o, silent);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t s = rt_create(sys, "rtactors.SilentAuthority");
    /* its status answer comes after its init, which registered it */
    json_decref(rt_ask(in, &s, TH_MSG_STATUS_REQ, "", TH_MSG_ACTOR_STATUS));
    th_inbox_destroy(in);
    int fds_before = open_fds();
    CHECK_RC(load(sys, b, len, false, hash, &d), TH_ETIMEDOUT);
    CHECK_EQ(open_fds(), fds_before);
    CHECK(access(marker, F_OK) != 0);
    CHECK_EQ(count_sources(sys), 0);
    th_system_destroy(sys);

    /* the real authority: committed on this thread */
    sys = fixture_system(&f, true);
    CHECK_RC(load(sys, b, len, false, hash, &d), 0);
    uint8_t *t;
    size_t tl;
    CHECK_RC(thi_read_file(&t, &tl, tidf, 64, &d), 0);
    CHECK_EQ(strtol((const char *)t, NULL, 10), (long)syscall(SYS_gettid));
    free(t);
    CHECK(access(marker, F_OK) == 0);
    CHECK_EQ(count_sources(sys), 1);
    th_system_destroy(sys);
    unsetenv("TH_TEST_MARKER");
    unsetenv("TH_TEST_MARKER_TID");
    free(b);
    fixture_fini(&f);
}

TH_TEST(rollback_refused_and_remembered)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true);
    size_t l1, l2;
    uint8_t *v1 = testactors_bundle(f.key, "1.9", &l1);
    uint8_t *v2 = testactors_bundle(f.key, "1.10", &l2);
    char hash[65];
    th_diag_t d = {0};
    CHECK_RC(load(sys, v2, l2, false, hash, &d), 0);
    thi_diag_clear(&d);
    CHECK_RC(load(sys, v1, l1, false, hash, &d), TH_EPERM);
    CHECK_CONTAINS(d.msg, "older than 1.10");
    th_system_destroy(sys);
    /* a new system on the same state directory remembers */
    sys = fixture_system(&f, true);
    thi_diag_clear(&d);
    CHECK_RC(load(sys, v1, l1, false, hash, &d), TH_EPERM);
    /* the operator's override */
    thi_diag_clear(&d);
    CHECK_RC(load(sys, v1, l1, true, hash, &d), 0);
    th_system_destroy(sys);
    free(v1);
    free(v2);
    fixture_fini(&f);
}

/* Two versions of a group whose plugins use private libraries with the
 * same soname and symbol: each binds to its own. */
TH_TEST(side_by_side_with_colliding_private_libraries)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true);
    char hashes[2][65];
    for (int v = 0; v < 2; v++) {
        char plugin[16], lib[16];
        snprintf(plugin, sizeof plugin, "collide_v%d", v + 1);
        snprintf(lib, sizeof lib, "libcollide_v%d", v + 1);
        const char *const files[][4] = {
            {"collide.so", "plugin", rt_plugin_path(plugin)},
            {"libcollide.so.1", "library", rt_plugin_path(lib)}};
        size_t len;
        uint8_t *b = bundle_of(f.key, "collide", v ? "2" : "1", files, 2, &len);
        th_diag_t d = {0};
        if (load(sys, b, len, false, hashes[v], &d) != 0)
            TH_FAIL_AT_("load v%d: %s", v + 1, d.msg);
        free(b);
    }
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    for (int v = 0; v < 2; v++) {
        th_create_opts_t o = {.size = sizeof o, .source_hash = hashes[v]};
        th_addr_t p;
        CHECK_RC(th_system_create_actor(sys, &p, "collide.Probe", &o), 0);
        json_t *r = rt_ask(in, &p, "Value", "", "Value");
        CHECK_EQ(rt_int(r, "value"), v + 1);
        json_decref(r);
    }
    /* without a hash the class is ambiguous: refused, not guessed */
    th_addr_t p;
    CHECK_RC(th_system_create_actor(sys, &p, "collide.Probe", NULL),
             TH_ESOURCE);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    fixture_fini(&f);
}

TH_TEST(unload_waits_for_live_actors_and_timers)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t me, w = rt_create(sys, "rtactors.SourceWatch");
    th_inbox_address(in, &me);
    char ma[TH_ADDR_STRLEN], body[128];
    rt_addr_str(&me, ma);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", ma);
    CHECK_RC(th_system_tell(sys, &w, "Watch", body, strlen(body)), 0);
    usleep(50000);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    char hash[65];
    th_diag_t d = {0};
    CHECK_RC(load(sys, b, len, false, hash, &d), 0);
    json_t *r = rt_expect(in, "Loaded", 5000);
    CHECK_STREQ(rt_str(r, "sourceHash"), hash);
    CHECK_STREQ(rt_str(r, "info"), "test bundle");
    json_decref(r);
    th_create_opts_t o = {.size = sizeof o, .source_hash = hash};
    th_addr_t s;
    CHECK_RC(th_system_create_actor(sys, &s, "testactors.Sleeper", &o), 0);
    CHECK_RC(th_inbox_send(in, &s, "Wake", "{\"ms\":300}", 10), 0);
    char full[65];
    CHECK_RC(th_system_unload_source(sys, hash, full, &d), 0);
    CHECK_STREQ(full, hash);
    /* no new actors from it at once */
    CHECK_RC(th_system_create_actor(sys, &s, "testactors.Sleeper", &o),
             TH_ESOURCE);
    /* the live actor and its timer still work: its code is mapped */
    json_decref(rt_expect(in, "Woke", 5000));
    CHECK_EQ(count_sources(sys), 1);
    /* its last actor exits: now the code goes */
    CHECK_RC(th_system_tell(sys, &s, TH_MSG_EXIT_REQUEST, "", 0), 0);
    r = rt_expect(in, "Unloaded", 5000);
    CHECK_STREQ(rt_str(r, "sourceHash"), hash);
    json_decref(r);
    CHECK_EQ(count_sources(sys), 0);
    /* its code is unmapped: no memfd of the source left in our maps */
    char name[64], line[4096];
    snprintf(name, sizeof name, "/memfd:th-%.12s-", hash);
    FILE *maps = fopen("/proc/self/maps", "r");
    CHECK(maps != NULL);
    bool mapped = false;
    while (fgets(line, sizeof line, maps))
        mapped = mapped || strstr(line, name) != NULL;
    fclose(maps);
    CHECK(!mapped);
    CHECK_RC(th_system_unload_source(sys, hash, full, &d), TH_ESOURCE);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

TH_TEST(watcher_hears_of_sources_loaded_before)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "3.1", &len);
    char hash[65];
    th_diag_t d = {0};
    CHECK_RC(load(sys, b, len, false, hash, &d), 0);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t me, w = rt_create(sys, "rtactors.SourceWatch");
    th_inbox_address(in, &me);
    char ma[TH_ADDR_STRLEN], body[128];
    rt_addr_str(&me, ma);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", ma);
    CHECK_RC(th_system_tell(sys, &w, "Watch", body, strlen(body)), 0);
    json_t *r = rt_expect(in, "Loaded", 5000);
    CHECK_STREQ(rt_str(r, "sourceHash"), hash);
    CHECK_STREQ(rt_str(r, "version"), "3.1");
    json_decref(r);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

typedef struct load_arg {
    th_system_t *sys;
    const uint8_t *b;
    size_t len;
    int rc;
    char hash[65];
} load_arg_t;

static void *
load_thread(void *arg)
{
    load_arg_t *a = arg;
    th_diag_t d = {0};
    a->rc = load(a->sys, a->b, a->len, false, a->hash, &d);
    return NULL;
}

/* The same bundle loaded from four threads at once: one source, and every
 * caller told either "loaded" or "already being loaded". */
TH_TEST(concurrent_loads_of_one_bundle)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    pthread_t t[4];
    load_arg_t a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (load_arg_t){sys, b, len, -1, ""};
        pthread_create(&t[i], NULL, load_thread, &a[i]);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(a[i].rc == 0 || a[i].rc == TH_EEXIST);
        ok += a[i].rc == 0;
    }
    CHECK(ok >= 1);
    CHECK_EQ(count_sources(sys), 1);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

/* Unload while loads and creations race: no crash, no actor of an unloaded
 * source left behind, and the source can be loaded again once gone. */
TH_TEST(load_racing_unload)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    char hash[65], full[65];
    th_diag_t d = {0};
    for (int round = 0; round < 20; round++) {
        int rc = load(sys, b, len, false, hash, &d);
        CHECK(rc == 0 || rc == TH_ESOURCE); /* ESOURCE: still unloading */
        if (rc != 0) {
            usleep(2000);
            continue;
        }
        th_create_opts_t o = {.size = sizeof o, .source_hash = hash};
        th_addr_t c;
        rc = th_system_create_actor(sys, &c, "testactors.Counter", &o);
        th_system_unload_source(sys, hash, full, &d);
        if (rc == 0)
            CHECK_RC(th_system_tell(sys, &c, TH_MSG_EXIT_REQUEST, "", 0), 0);
    }
    for (int i = 0; i < 500 && count_sources(sys) > 0; i++)
        usleep(10000);
    CHECK_EQ(count_sources(sys), 0);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    CHECK_EQ(st.live_actors, 1); /* the authority */
    CHECK_RC(load(sys, b, len, false, hash, &d), 0);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

static long long
live_of(th_system_t *sys, const char *hash)
{
    char *text = NULL;
    CHECK_RC(th_system_sources_json(sys, &text), 0);
    json_t *a = json_loads(text, 0, NULL);
    free(text);
    long long n = -1;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) if (!strcmp(rt_str(e, "hash"), hash)) n =
        rt_int(e, "live_actors");
    json_decref(a);
    return n;
}

/* Inside an actor, PLUGIN.CLASS means its own source's class first, even
 * when a plugin of that name is also loaded by path. */
TH_TEST(actor_creates_from_its_own_source_first)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true); /* testactors by path too */
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    char hash[65];
    th_diag_t d = {0};
    CHECK_RC(load(sys, b, len, false, hash, &d), 0);
    th_create_opts_t o = {.size = sizeof o, .source_hash = hash};
    th_addr_t p;
    CHECK_RC(th_system_create_actor(sys, &p, "testactors.Parent", &o), 0);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    json_decref(rt_ask(in, &p, "Spawn",
                       "{\"class\":\"testactors.Counter\",\"count\":1}",
                       "Spawned"));
    CHECK_EQ(live_of(sys, hash), 2); /* the parent and its child */
    /* from outside without a hash: the plugin loaded by path */
    th_addr_t c;
    CHECK_RC(th_system_create_actor(sys, &c, "testactors.Counter", NULL), 0);
    CHECK_EQ(live_of(sys, hash), 2);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

/* The actor API: an actor loads and unloads a source. */
TH_TEST(actor_loads_and_unloads_a_source)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t l = rt_create(sys, "rtactors.Loader");
    CHECK_RC(th_inbox_send(in, &l, "Load", b, len), 0);
    json_t *r = rt_expect(in, "LoadStarted", 5000);
    CHECK_EQ(rt_int(r, "rc"), 0);
    char hash[65];
    snprintf(hash, sizeof hash, "%s", rt_str(r, "hash"));
    json_decref(r);
    for (int i = 0; i < 300 && count_sources(sys) == 0; i++)
        usleep(10000);
    CHECK_EQ(count_sources(sys), 1);
    CHECK(live_of(sys, hash) == 0);
    char body[100];
    snprintf(body, sizeof body, "{\"hash\":\"%.16s\"}", hash);
    r = rt_ask(in, &l, "Unload", body, "Unloaded");
    CHECK_EQ(rt_int(r, "rc"), 0);
    json_decref(r);
    for (int i = 0; i < 300 && count_sources(sys) > 0; i++)
        usleep(10000);
    CHECK_EQ(count_sources(sys), 0);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

typedef struct bg_load {
    th_system_t *sys;
    const uint8_t *b;
    size_t len;
    int rc;
} bg_load_t;

static void *
bg_load_main(void *arg)
{
    bg_load_t *a = arg;
    char hash[65];
    th_diag_t d = {0};
    a->rc = load(a->sys, a->b, a->len, false, hash, &d);
    return NULL;
}

/* Only the system's authority class registers, and only once: a second
 * actor of it, or one of another class, gets TH_EPERM (its init fails);
 * only the registered authority's ValidatedSource counts: a forged one is
 * ignored. */
TH_TEST(one_authority_and_forgeries_are_ignored)
{
    fixture_t f;
    fixture_init(&f);
    th_system_opts_t o = {.workers = 2, .state_dir = f.state,
                          .authority_timeout_ms = 600,
                          .authority_class = "rtactors.SilentAuthority"};
    static const char *const plugins[] = {"rtactors", "authority", NULL};
    th_system_t *sys = rt_system(&o, plugins);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t a;
    th_diag_t d = {0};
    CHECK_RC(th_system_create_actor_wait(sys, &a, "rtactors.SilentAuthority",
                                         NULL, 5000, &d),
             0);
    CHECK_RC(th_system_create_actor_wait(sys, &a, "rtactors.SilentAuthority",
                                         NULL, 5000, &d),
             TH_EFAIL); /* a second one */
    CHECK_RC(th_system_create_actor_wait(sys, &a, "director.SourceAuthority",
                                         NULL, 5000, &d),
             TH_EFAIL); /* not the configured class */
    th_addr_t fake = rt_create(sys, "rtactors.FakeValidator");
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    uint8_t h[32];
    char hex[65], body[120];
    thi_sha256(h, b, len);
    thi_hex(hex, h, 32);
    bg_load_t bl = {sys, b, len, 0};
    pthread_t t;
    pthread_create(&t, NULL, bg_load_main, &bl);
    usleep(100000); /* the load waits for the silent authority */
    snprintf(body, sizeof body, "{\"sourceHash\":\"%s\"}", hex);
    json_decref(rt_ask(in, &fake, "Forge", body, "Forged"));
    pthread_join(t, NULL);
    CHECK_RC(bl.rc, TH_ETIMEDOUT); /* the forgery did not load it */
    CHECK_EQ(count_sources(sys), 0);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

/* ValidateSource names the source by the host's hash in its first line,
 * so an authority need not hash the bundle again (the Director's does
 * not): an authority that reads only that line loads the bundle, under
 * the hash of its bytes. */
TH_TEST(authority_is_told_the_source_hash)
{
    fixture_t f;
    fixture_init(&f);
    th_system_opts_t o = {.workers = 2, .state_dir = f.state,
                          .authority_timeout_ms = 2000,
                          .authority_class = "rtactors.HashLineAuthority"};
    static const char *const plugins[] = {"testactors", "rtactors", NULL};
    th_system_t *sys = rt_system(&o, plugins);
    th_addr_t a;
    th_diag_t d = {0};
    CHECK_RC(th_system_create_actor_wait(sys, &a, "rtactors.HashLineAuthority",
                                         NULL, 5000, &d),
             0);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, "1.0", &len);
    uint8_t h[32];
    char hex[65], hash[65];
    thi_sha256(h, b, len);
    thi_hex(hex, h, 32);
    CHECK_RC(load(sys, b, len, false, hash, &d), 0);
    CHECK_STREQ(hash, hex);
    CHECK_EQ(count_sources(sys), 1);
    th_system_destroy(sys);
    free(b);
    fixture_fini(&f);
}

/* A validly signed bundle whose plugin is not loadable: refused at
 * mapping, nothing registered, nothing left on disk. */
TH_TEST(bad_plugins_in_signed_bundles_are_refused)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f, true);
    char text[128];
    snprintf(text, sizeof text, "%s/notelf.so", f.dir);
    th_diag_t d = {0};
    CHECK_RC(thi_write_file_atomic(text, (const uint8_t *)"not an ELF file", 15,
                                   &d),
             0);
    struct {
        const char *file, *desc, *why;
        int code;
    } cases[] = {{text, "x:X", "not an ELF file", TH_EFORMAT},
                 {rt_plugin_path("bad_major"), "x:X", "major version differs",
                  TH_EABI},
                 {rt_plugin_path("no_descriptor"), "x:X", "descriptor",
                  TH_EABI},
                 /* a descriptor unlike its signed manifest entry */
                 {rt_plugin_path("testactors"), "other:Echo",
                  "descriptor names plugin testactors, the manifest says "
                  "other",
                  TH_EABI},
                 {rt_plugin_path("testactors"), "testactors:Echo",
                  "classes are not those the manifest declares", TH_EABI}};
    char sources[160];
    /* nothing written: code is mapped from memfds, no directory exists */
    snprintf(sources, sizeof sources, "%s", f.state);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const files[][4] = {
            {"x.so", "plugin", cases[i].file, cases[i].desc}};
        size_t len;
        uint8_t *b = bundle_of(f.key, "bad", "1.0", files, 1, &len);
        char hash[65];
        thi_diag_clear(&d);
        CHECK_RC(load(sys, b, len, false, hash, &d), cases[i].code);
        CHECK_CONTAINS(d.msg, cases[i].why);
        CHECK_EQ(count_sources(sys), 0);
        CHECK_EQ(entries_in(sources), 0);
        free(b);
    }
    th_inbox_t *in; /* the host lives */
    CHECK_RC(th_inbox_create(sys, &in), 0);
    th_addr_t c = rt_create(sys, "testactors.Counter");
    json_decref(rt_ask(in, &c, "Get", "", "Count"));
    th_inbox_destroy(in);
    th_system_destroy(sys);
    fixture_fini(&f);
}

TH_TEST_MAIN(TH_CASE(load_create_and_talk),
             TH_CASE(outside_load_prepares_while_the_authority_decides),
             TH_CASE(no_authority_loads_on_the_keyring_alone),
             TH_CASE(no_trusted_key_refuses_loads),
             TH_CASE(silent_authority_times_out),
             TH_CASE(unknown_key_runs_nothing),
             TH_CASE(rollback_refused_and_remembered),
             TH_CASE(side_by_side_with_colliding_private_libraries),
             TH_CASE(unload_waits_for_live_actors_and_timers),
             TH_CASE(watcher_hears_of_sources_loaded_before),
             TH_CASE(concurrent_loads_of_one_bundle),
             TH_CASE(load_racing_unload),
             TH_CASE(actor_creates_from_its_own_source_first),
             TH_CASE(actor_loads_and_unloads_a_source),
             TH_CASE(one_authority_and_forgeries_are_ignored),
             TH_CASE(authority_is_told_the_source_hash),
             TH_CASE(bad_plugins_in_signed_bundles_are_refused))
