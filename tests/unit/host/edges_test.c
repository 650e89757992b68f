/*
 * tests/unit/host/edges_test.c — the edges of an actor's life: a global
 * name is published only once START is queued (no send by name is lost to
 * a fresh actor), a create that cannot queue START undoes everything,
 * status readers never see the class of an unmapped source, and shutdown
 * is bounded even when a handler never returns.
 *
 * Built from the runtime's sources with THI_FAULT_INJECTION (host/core/runtime.h):
 * thi_fault_start_fail makes the next START fail to queue, and
 * thi_fault_finalize_delay_ms holds each exiting actor just before it
 * clears its class, which makes an early source release visible to ASan;
 * thi_fault_versions_write_delay_ms holds each write of the version
 * record, so a load that waited for it would show.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/core/runtime.h"
#include "log_capture.h"
#include "rt_util.h"
#include "source_fixture.h"

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
dead_letters(th_system_t *sys)
{
    th_system_stats_t st;
    th_system_stats(sys, &st);
    return st.dead_letters;
}

static uint64_t
live_actors(th_system_t *sys)
{
    th_system_stats_t st;
    th_system_stats(sys, &st);
    return st.live_actors;
}

/* ---- names published after START ------------------------------------------ */

#define RACE_ROUNDS 500
#define RACE_SENDS 40 /* per round: 20,000 sends that returned 0 */

typedef struct race {
    th_system_t *sys;
    atomic_int round;      /* the round the sender spins on */
    atomic_int ready;      /* the sender is spinning on `ready - 1` */
    long sent;
    int bad_rc;
} race_t;

static void *
race_sender(void *arg)
{
    race_t *r = arg;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        char name[32];
        snprintf(name, sizeof name, "race-%d", i);
        while (atomic_load(&r->round) != i)
            sched_yield();
        atomic_store(&r->ready, i + 1);
        /* the first send the moment the name is bound: the lookup takes
         * the names lock the create publishes under */
        th_addr_t a;
        while (th_system_lookup_name(r->sys, name, &a) != 0)
            ;
        int ok = 0;
        while (ok < RACE_SENDS) {
            int rc = th_system_tell_name(r->sys, name, "Tick", "", 0);
            if (rc == 0)
                ok++;
            else
                r->bad_rc = rc;
        }
        r->sent += ok;
    }
    return NULL;
}

/* Sends by name racing the create that names the actor, from the moment
 * the name is bound: every send that returned 0 reaches the actor, no
 * dead letter. */
TH_TEST(names_published_after_start)
{
    th_system_opts_t o = {.workers = 2};
    race_t r = {.sys = rt_system(&o, rt_all_plugins)};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, race_sender, &r), 0);
    th_addr_t addrs[RACE_ROUNDS];
    for (int i = 0; i < RACE_ROUNDS; i++) {
        char name[32];
        snprintf(name, sizeof name, "race-%d", i);
        atomic_store(&r.round, i);
        while (atomic_load(&r.ready) != i + 1)
            sched_yield();
        th_create_opts_t co = {.size = sizeof co, .global_name = name};
        CHECK_RC(th_system_create_actor(r.sys, &addrs[i],
                                        "testactors.Counter", &co), 0);
    }
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(r.bad_rc, 0);
    CHECK_EQ(r.sent, (long)RACE_ROUNDS * RACE_SENDS);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(r.sys, &in), 0);
    long got = 0;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        json_t *j = rt_ask(in, &addrs[i], "Get", "", "Count");
        got += (long)rt_int(j, "count");
        json_decref(j);
    }
    CHECK_EQ(got, (long)RACE_ROUNDS * RACE_SENDS);
    CHECK_EQ(dead_letters(r.sys), 0);
    th_inbox_destroy(in);
    CHECK_RC(th_system_destroy(r.sys), 0);
}

/* ---- a create that cannot queue START ---------------------------------- */

static th_system_t *
fixture_system(fixture_t *f)
{
    th_system_opts_t o = {.workers = 2, .state_dir = f->state,
                          .authority_timeout_ms = 5000};
    static const char *const plugins[] = {"testactors", "rtactors", NULL};
    return rt_system(&o, plugins);
}

static uint8_t *
testactors_bundle(const thi_key_t *key, size_t *len)
{
    const char *const files[][4] = {
        {"testactors.so", "plugin", rt_plugin_path("testactors")}};
    return bundle_of(key, "tests", "1.0", files, 1, len);
}

static void
wait_sources(th_system_t *sys, size_t n)
{
    for (int i = 0; i < 1000 && count_sources(sys) != n; i++)
        usleep(5000);
    CHECK_EQ(count_sources(sys), n);
}

static long long
status_children(th_inbox_t *in, const th_addr_t *a)
{
    json_t *j = rt_ask(in, a, TH_MSG_STATUS_REQ, "", TH_MSG_ACTOR_STATUS);
    long long n = rt_int(j, "children");
    json_decref(j);
    return n;
}

/* Nothing of a failed create stays: not the name, not the parent's child
 * entry (the root's: shutdown would wait for it; an actor's: its status),
 * not the live count, and the source hold is released exactly once (the
 * source unmaps when its last real actor exits, not before, not never). */
TH_TEST(failed_create_rolls_back)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, &len);
    char hash[65];
    th_diag_t d = {0};
    if (th_system_load_source(sys, b, len, "t.tls", false, hash, &d) != 0)
        TH_FAIL_AT_("load: %s", d.msg);
    th_create_opts_t so = {.size = sizeof so, .source_hash = hash};
    th_addr_t keep, parent;
    CHECK_RC(th_system_create_actor(sys, &keep, "testactors.Counter", &so), 0);
    CHECK_RC(th_system_create_actor(sys, &parent, "testactors.Parent", &so),
             0);
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    json_decref(rt_ask(in, &keep, "Get", "", "Count")); /* both started */
    CHECK_EQ(status_children(in, &parent), 0);
    uint64_t live = live_actors(sys);

    /* from outside, with a global name: the root is the parent */
    th_create_opts_t no = {.size = sizeof no, .global_name = "rolled-back",
                           .source_hash = hash};
    th_addr_t a;
    atomic_store(&thi_fault_start_fail, 1);
    CHECK_RC(th_system_create_actor(sys, &a, "testactors.Counter", &no),
             TH_ENOMEM);
    CHECK_EQ(atomic_load(&thi_fault_start_fail), 0); /* the hook was hit */
    CHECK_RC(th_system_lookup_name(sys, "rolled-back", &a), TH_ENOENT);
    CHECK_EQ(live_actors(sys), live);
    char *text = NULL;
    CHECK_RC(th_system_status_json(sys, &text), 0);
    CHECK(strstr(text, "rolled-back") == NULL);
    json_t *st = json_loads(text, 0, NULL);
    free(text);
    CHECK_EQ(json_array_size(json_object_get(st, "actors")), live);
    json_decref(st);

    /* from inside an actor: the actor is the parent */
    atomic_store(&thi_fault_start_fail, 1);
    json_t *j = rt_ask(in, &parent, "Spawn",
                       "{\"class\":\"testactors.Counter\"}", "SpawnFailed");
    CHECK_EQ(rt_int(j, "code"), TH_ENOMEM);
    json_decref(j);
    CHECK_EQ(status_children(in, &parent), 0);
    CHECK_EQ(live_actors(sys), live);

    /* the name is free again */
    th_addr_t named;
    CHECK_RC(th_system_create_actor(sys, &named, "testactors.Counter", &no),
             0);
    CHECK_RC(th_system_lookup_name(sys, "rolled-back", &a), 0);
    CHECK(th_addr_eq(&a, &named));
    CHECK_RC(th_system_tell(sys, &named, TH_MSG_EXIT_REQUEST, "", 0), 0);
    CHECK_RC(th_system_tell(sys, &parent, TH_MSG_EXIT_REQUEST, "", 0), 0);

    /* holds: `keep` still holds the source after unload ... */
    char full[65];
    CHECK_RC(th_system_unload_source(sys, hash, full, &d), 0);
    usleep(100000);
    CHECK_EQ(count_sources(sys), 1);
    j = rt_ask(in, &keep, "Get", "", "Count");
    json_decref(j);
    /* ... and its exit is the last release */
    CHECK_RC(th_system_tell(sys, &keep, TH_MSG_EXIT_REQUEST, "", 0), 0);
    wait_sources(sys, 0);
    th_inbox_destroy(in);
    /* the root holds no child entry of the failed create: in order */
    CHECK_RC(th_system_stop(sys, 5000), 0);
    CHECK_RC(th_system_destroy(sys), 0);
    free(b);
    fixture_fini(&f);
}

/* ---- status readers during unload cycles ------------------------------- */

/* Load/unload cycles of distinct versions in one system (issue 11: 1,000
 * in the ASan build); TH_EDGES_UNLOAD_CYCLES sets another count. */
static int
unload_cycles(void)
{
    const char *e = getenv("TH_EDGES_UNLOAD_CYCLES");
    int n = e ? atoi(e) : 1000;
    return n > 0 ? n : 1000;
}

typedef struct reader {
    th_system_t *sys;
    atomic_bool stop;
    long dumps;
} reader_t;

/* Both status views, in turn, in a loop: each walks the actors (their
 * classes) or the sources. A short pause between dumps leaves the two
 * cores to the loads (one dump takes about 0.1 ms under ASan), while
 * several dumps still fall in every 2 ms finalize window below. */
static void *
status_reader(void *arg)
{
    reader_t *r = arg;
    for (long i = 0; !atomic_load(&r->stop); i++) {
        char *text = NULL;
        if ((i % 2 ? th_system_sources_json(r->sys, &text)
                   : th_system_status_json(r->sys, &text)) == 0)
            r->dumps++;
        free(text);
        usleep(200);
    }
    return NULL;
}

/* "testactors:CLASS,CLASS,..." as the plugin describes itself (once: it
 * forks, so before any thread starts), for bundle_of's descriptor column
 * so that signing a bundle per cycle forks nothing. */
static char *
testactors_descriptor(void)
{
    th_diag_t d = {0};
    uint8_t *data = NULL;
    size_t sz = 0;
    CHECK_RC(thi_read_file(&data, &sz, rt_plugin_path("testactors"), 64 << 20,
                           &d), 0);
    thi_bundle_input_t in = {.path = "testactors.so", .kind = "plugin",
                             .data = data, .size = sz};
    json_t *desc = NULL;
    if (thi_plugins_describe(&desc, &in, NULL, 1, &d) != 0)
        TH_FAIL_AT_("describe: %s", d.msg);
    json_t *pd = json_object_get(desc, "testactors.so");
    char buf[1024];
    size_t used = (size_t)snprintf(buf, sizeof buf, "%s:",
                                   json_string_value(json_object_get(pd,
                                                                     "plugin")));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(pd, "classes"), i, c)
        if (i < 15)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
                                     i ? "," : "", json_string_value(c));
    CHECK(used < sizeof buf);
    json_decref(desc);
    free(data);
    return strdup(buf);
}

/* Signing a bundle per version (RSA, deflate) costs about as much as
 * loading it; a thread signs ahead, a few bundles in advance, so that
 * work overlaps the cycles' waits instead of adding to them. */
#define SIGN_AHEAD 4

typedef struct signer {
    const thi_key_t *key;
    const char *descriptor;
    int cycles;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint8_t *bundle[SIGN_AHEAD];
    size_t len[SIGN_AHEAD];
    int made, taken; /* bundles signed / handed out so far */
} signer_t;

static void *
signer_run(void *arg)
{
    signer_t *g = arg;
    const char *const files[][4] = {{"testactors.so", "plugin",
                                     rt_plugin_path("testactors"),
                                     g->descriptor}};
    for (int c = 0; c < g->cycles; c++) {
        pthread_mutex_lock(&g->lock);
        while (g->made - g->taken == SIGN_AHEAD)
            pthread_cond_wait(&g->cond, &g->lock);
        pthread_mutex_unlock(&g->lock);
        char version[32];
        snprintf(version, sizeof version, "1.%d", c + 1);
        size_t len;
        uint8_t *b = bundle_of(g->key, "tests", version, files, 1, &len);
        pthread_mutex_lock(&g->lock);
        g->bundle[c % SIGN_AHEAD] = b;
        g->len[c % SIGN_AHEAD] = len;
        g->made++;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
    }
    return NULL;
}

/* The bundle of cycle `c` (taken: free it), waiting for it if need be. */
static uint8_t *
signer_take(signer_t *g, int c, size_t *len)
{
    pthread_mutex_lock(&g->lock);
    while (g->made <= c)
        pthread_cond_wait(&g->cond, &g->lock);
    uint8_t *b = g->bundle[c % SIGN_AHEAD];
    *len = g->len[c % SIGN_AHEAD];
    g->taken++;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    return b;
}

/* Status dumps run all through load / create / unload / exit cycles of
 * distinct versions; each exiting actor lingers just before it clears its
 * class. A source released before that (and so unmapped, its classes
 * freed) is read by the dumping thread: a heap-use-after-free for ASan
 * (or a fault on the unmapped code). */
TH_TEST(status_during_unload_cycles)
{
    fixture_t f;
    fixture_init(&f);
    char *descriptor = testactors_descriptor();
    th_system_t *sys = fixture_system(&f);
    uint64_t base_live = live_actors(sys);
    reader_t r = {.sys = sys};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, status_reader, &r), 0);
    int cycles = unload_cycles();
    signer_t g = {.key = f.key, .descriptor = descriptor, .cycles = cycles,
                  .lock = PTHREAD_MUTEX_INITIALIZER,
                  .cond = PTHREAD_COND_INITIALIZER};
    pthread_t gt;
    CHECK_EQ(pthread_create(&gt, NULL, signer_run, &g), 0);
    int64_t t0 = now_ms();
    /* where the time goes: waiting for a signed bundle, loading it,
     * create to unmapped */
    int64_t sign_ms = 0, load_ms = 0, exit_ms = 0;
    for (int c = 0; c < cycles; c++) {
        char hash[65], full[65];
        size_t len;
        int64_t p0 = now_ms();
        uint8_t *b = signer_take(&g, c, &len);
        int64_t p1 = now_ms();
        th_diag_t d = {0};
        if (th_system_load_source(sys, b, len, "t.tls", false, hash, &d) != 0)
            TH_FAIL_AT_("cycle %d: load: %s", c, d.msg);
        free(b);
        int64_t p2 = now_ms();
        th_create_opts_t so = {.size = sizeof so, .source_hash = hash};
        th_addr_t a[3];
        for (int i = 0; i < 3; i++)
            CHECK_RC(th_system_create_actor(sys, &a[i], "testactors.Counter",
                                            &so), 0);
        CHECK_RC(th_system_unload_source(sys, hash, full, &d), 0);
        /* long enough for many dumps (one takes microseconds) */
        atomic_store(&thi_fault_finalize_delay_ms, 2);
        for (int i = 0; i < 3; i++)
            CHECK_RC(th_system_tell(sys, &a[i], TH_MSG_EXIT_REQUEST, "", 0),
                     0);
        /* the source goes with the last actor; its finalize (delay
         * included) is over once the live count is back */
        for (int i = 0; i < 10000 && (count_sources(sys) != 0 ||
                                      live_actors(sys) != base_live);
             i++)
            usleep(500);
        CHECK_EQ(count_sources(sys), 0);
        CHECK_EQ(live_actors(sys), base_live);
        atomic_store(&thi_fault_finalize_delay_ms, 0);
        sign_ms += p1 - p0;
        load_ms += p2 - p1;
        exit_ms += now_ms() - p2;
    }
    int64_t ms = now_ms() - t0;
    CHECK_EQ(pthread_join(gt, NULL), 0);
    atomic_store(&r.stop, true);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(r.dumps > cycles);
    fprintf(stderr, "# %d cycles of distinct versions in %lld ms (%.2f ms "
            "each: waiting for signing %lld ms, load %lld ms, create to "
            "unmapped %lld ms), %ld status dumps\n",
            cycles, (long long)ms, (double)ms / cycles, (long long)sign_ms,
            (long long)load_ms, (long long)exit_ms, r.dumps);
    CHECK_RC(th_system_destroy(sys), 0);
    free(descriptor);
    fixture_fini(&f);
}

/* ---- limits are named ------------------------------------------------ */

/* A source whose code needs more of a process resource than is left (here
 * static TLS: the dynamic linker cannot map it): the load says TH_ELIMIT
 * and names the resource, never ABIMismatch; nothing is half-loaded, and
 * the next load works. */
TH_TEST(an_exhausted_resource_is_a_named_limit)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f);
    th_diag_t d = {0};
    /* the descriptor is given: describing it would fail the same way */
    const char *const hog[][4] = {
        {"tlshog.so", "plugin", rt_plugin_path("tlshog"), "tlshog:Hog"}};
    const char *const good[][4] = {
        {"testactors.so", "plugin", rt_plugin_path("testactors")}};
    size_t hlen = 0, glen = 0;
    uint8_t *hb = bundle_of(f.key, "hogs", "1", hog, 1, &hlen);
    uint8_t *gb = bundle_of(f.key, "tests", "1", good, 1, &glen);
    char hash[65];
    int rc = th_system_load_source(sys, hb, hlen, "hog.tls", false, hash, &d);
    fprintf(stderr, "# %s: %s\n", th_strerror(rc), d.msg);
    CHECK_RC(rc, TH_ELIMIT);
    CHECK_CONTAINS(d.msg, "limit reached: ");
    CHECK_CONTAINS(d.msg, "static TLS");
    CHECK_EQ(count_sources(sys), 0); /* none half-loaded */
    thi_diag_clear(&d);
    CHECK_RC(th_system_load_source(sys, gb, glen, "good.tls", false, hash, &d),
             0);
    int loads = 1;
    free(hb);
    free(gb);
    /* status counts them */
    char *text = NULL;
    CHECK_RC(th_system_status_json(sys, &text), 0);
    json_t *st = json_loads(text, 0, NULL);
    free(text);
    CHECK_EQ(rt_int(st, "sources"), loads);
    json_decref(st);
    /* the host lives */
    th_addr_t c = rt_create(sys, "testactors.Counter");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    json_decref(rt_ask(in, &c, "Get", "", "Count"));
    th_inbox_destroy(in);
    CHECK_RC(th_system_destroy(sys), 0);
    fixture_fini(&f);
}

/* ---- bounded shutdown ----------------------------------------------- */

/* A handler that never returns: destroy returns within the bound plus a
 * small margin, says actors were left running, and the log names the
 * actor, its class and the message it is stuck in. */
TH_TEST(destroy_is_bounded)
{
    th_system_opts_t o = {.workers = 2};
    static const char *const plugins[] = {"stuckactors", "testactors", NULL};
    th_system_t *sys = rt_system(&o, plugins);
    th_addr_t s = rt_create(sys, "stuckactors.Stuck");
    th_addr_t c = rt_create(sys, "testactors.Counter");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    json_decref(rt_ask(in, &s, "Hang", "", "Hanging"));
    json_decref(rt_ask(in, &c, "Get", "", "Count"));
    th_inbox_destroy(in);
    char sa[TH_ADDR_STRLEN];
    th_addr_to_string(&s, sa, sizeof sa);
    lc_t lc;
    lc_begin(&lc);
    int64_t t0 = now_ms();
    int rc = th_system_destroy_within(sys, 1000);
    int64_t took = now_ms() - t0;
    char *log = lc_end(&lc);
    CHECK_RC(rc, TH_ETIMEDOUT);
    CHECK(took >= 1000);
    CHECK(took < 1000 + 1500);
    char want[300];
    snprintf(want, sizeof want,
             "shutdown: actor %s (stuckactors.Stuck) still running: its "
             "handler for Hang has not returned", sa);
    if (strstr(log, want) == NULL)
        TH_FAIL_AT_("the log does not say \"%s\"", want);
    CHECK(strstr(log, "testactors.Counter") == NULL); /* it exited */
    free(log);
}

/* The bound counts from when shutdown began: a stop that already waited
 * leaves destroy only the margin. */
TH_TEST(destroy_bound_counts_from_shutdown)
{
    th_system_opts_t o = {.workers = 2};
    static const char *const plugins[] = {"stuckactors", NULL};
    th_system_t *sys = rt_system(&o, plugins);
    th_addr_t s = rt_create(sys, "stuckactors.Stuck");
    th_inbox_t *in;
    CHECK_RC(th_inbox_create(sys, &in), 0);
    json_decref(rt_ask(in, &s, "Hang", "", "Hanging"));
    th_inbox_destroy(in);
    CHECK_RC(th_system_stop(sys, 800), TH_ETIMEDOUT);
    int64_t t0 = now_ms();
    CHECK_RC(th_system_destroy_within(sys, 800), TH_ETIMEDOUT);
    CHECK(now_ms() - t0 < 1500);
}

/* Every actor exits in time: 0, as before. */
TH_TEST(destroy_in_order_returns_zero)
{
    th_system_opts_t o = {.workers = 2};
    th_system_t *sys = rt_system(&o, rt_all_plugins);
    rt_create(sys, "testactors.Counter");
    CHECK_RC(th_system_destroy_within(sys, 5000), 0);
    th_system_opts_t so = {.synchronous = true};
    sys = rt_system(&so, rt_all_plugins);
    rt_create(sys, "testactors.Counter");
    CHECK_RC(th_system_destroy(sys), 0);
}

/* The version record rises in memory at once and goes to disk on its own
 * thread: a load is answered without waiting for the disk (held here for
 * 1.5 s), a later older version is refused at once, and destroy waits for
 * the write, so a new system on the state directory remembers. */
TH_TEST(load_does_not_wait_for_the_version_record)
{
    fixture_t f;
    fixture_init(&f);
    th_system_t *sys = fixture_system(&f);
    const char *const files[][4] = {
        {"testactors.so", "plugin", rt_plugin_path("testactors")}};
    size_t l1, l2;
    uint8_t *v1 = bundle_of(f.key, "tests", "1.9", files, 1, &l1);
    uint8_t *v2 = bundle_of(f.key, "tests", "1.10", files, 1, &l2);
    char hash[65];
    th_diag_t d = {0};
    atomic_store(&thi_fault_versions_write_delay_ms, 1500);
    int64_t t0 = now_ms();
    CHECK_RC(th_system_load_source(sys, v2, l2, "v2.tls", false, hash, &d), 0);
    CHECK(now_ms() - t0 < 1000);
    CHECK_RC(th_system_load_source(sys, v1, l1, "v1.tls", false, hash, &d),
             TH_EPERM);
    CHECK_RC(th_system_destroy(sys), 0);
    atomic_store(&thi_fault_versions_write_delay_ms, 0);
    sys = fixture_system(&f);
    thi_diag_clear(&d);
    CHECK_RC(th_system_load_source(sys, v1, l1, "v1.tls", false, hash, &d),
             TH_EPERM);
    CHECK_CONTAINS(d.msg, "older than 1.10");
    CHECK_RC(th_system_destroy(sys), 0);
    free(v1);
    free(v2);
    fixture_fini(&f);
}

/* ---- signals ------------------------------------------------------------ */

/* Every thread the runtime starts (workers, timers, fd watches, the
 * version writer, the status dump) blocks the asynchronous signals: they
 * belong to the embedding program, and a handler run in the middle of a
 * runtime call could cut it short. Read from /proc: the main thread is the
 * test's own and may take them. */
TH_TEST(runtime_threads_take_no_signals)
{
    fixture_t f;
    fixture_init(&f);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    th_system_t *sys = fixture_system(&f);
    size_t len;
    uint8_t *b = testactors_bundle(f.key, &len);
    char hash[65];
    th_diag_t d = {0};
    CHECK_RC(th_system_load_source(sys, b, len, "t.tls", false, hash, &d), 0);
    int checked = 0;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%ld/task", (long)getpid());
    DIR *dp = opendir(dir);
    CHECK(dp != NULL);
    for (struct dirent *e; (e = readdir(dp)) != NULL;) {
        if (e->d_name[0] == '.' || atol(e->d_name) == (long)getpid())
            continue;
        char path[400], line[256], comm[32] = "?";
        snprintf(path, sizeof path, "%s/%s/comm", dir, e->d_name);
        FILE *fp = fopen(path, "r");
        if (fp && fgets(comm, sizeof comm, fp))
            comm[strcspn(comm, "\n")] = '\0';
        if (fp)
            fclose(fp);
        snprintf(path, sizeof path, "%s/%s/status", dir, e->d_name);
        fp = fopen(path, "r");
        if (fp == NULL)
            continue; /* the thread ended meanwhile */
        unsigned long long blk = 0;
        bool found = false;
        while (fgets(line, sizeof line, fp))
            if (sscanf(line, "SigBlk: %llx", &blk) == 1)
                found = true;
        fclose(fp);
        CHECK(found);
        unsigned long long want = (1ull << (SIGUSR1 - 1)) |
                                  (1ull << (SIGTERM - 1)) |
                                  (1ull << (SIGHUP - 1)) |
                                  (1ull << (SIGINT - 1));
        if ((blk & want) != want)
            TH_FAIL_AT_("thread %s (%s) takes signals: SigBlk %llx",
                        e->d_name, comm, blk);
        checked++;
    }
    closedir(dp);
    CHECK(checked >= 4); /* two workers, timers, watches at the least */
    CHECK_RC(th_system_destroy(sys), 0);
    free(b);
    fixture_fini(&f);
}

TH_TEST_MAIN(TH_CASE(names_published_after_start),
             TH_CASE(load_does_not_wait_for_the_version_record),
             TH_CASE(failed_create_rolls_back),
             TH_CASE(status_during_unload_cycles),
             TH_CASE(an_exhausted_resource_is_a_named_limit),
             TH_CASE(destroy_is_bounded),
             TH_CASE(destroy_bound_counts_from_shutdown),
             TH_CASE(destroy_in_order_returns_zero),
             TH_CASE(runtime_threads_take_no_signals))
