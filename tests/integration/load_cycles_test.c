/*
 * tests/integration/load_cycles_test.c — loading has no ceiling (issue 11,
 * docs/loading.md), through a real thespiand: LOAD_CYCLES (1,000; 450
 * under sanitizers, set by meson) load / create / ask / exit / unload
 * cycles of distinct versions, with RSS, open descriptors and mappings
 * flat between cycle LOAD_BASE (10; 250) and the end and each unloaded
 * plugin gone from /proc/PID/maps; 200 sources loaded at once, each answering; a bundle
 * whose private library keeps its plain soname, or whose tagged soname is
 * already loaded, refused before anything of it is mapped.
 */
#include <dirent.h>

#include "host_util.h"
#include "loader/bundle.h"
#include "loader/privatize.h"
#include "th_test.h"

typedef struct fixture {
    hu_host_t h;
    char dd[300];
    thi_key_t *key, *key2;
    uint8_t *hello;
    size_t hello_len;
    th_client_t *c;
} fixture_t;

static void
trust(fixture_t *f, thi_key_t **key, const char *name)
{
    th_diag_t d = {0};
    CHECK_RC(thi_key_generate(key, 2048, &d), 0);
    char *pem = NULL, path[400];
    CHECK_RC(thi_key_write_public_pem(*key, &pem, &d), 0);
    snprintf(path, sizeof path, "%s/%s_tls.key", f->dd, name);
    CHECK_RC(thi_write_file_atomic(path, (uint8_t *)pem, strlen(pem), &d), 0);
    free(pem);
}

static void
fixture_start(fixture_t *f)
{
    hu_scratch(f->h.dir, sizeof f->h.dir);
    snprintf(f->dd, sizeof f->dd, "%s/director", f->h.dir);
    CHECK(mkdir(f->dd, 0700) == 0);
    trust(f, &f->key, "t");
    trust(f, &f->key2, "u");
    /* under AddressSanitizer, freed memory waits in a quarantine of up to
     * 256 MiB before reuse: RSS would measure the tool, not the host */
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan == NULL || !strstr(asan, "quarantine_size_mb")) {
        char opts[1024];
        snprintf(opts, sizeof opts, "%s%squarantine_size_mb=0",
                 asan ? asan : "", asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
    }
    th_diag_t d = {0};
    CHECK_RC(thi_read_file(&f->hello, &f->hello_len, getenv("HELLO_SO"),
                           64 << 20, &d),
             0);
    const char *extra[] = {"--director-dir", f->dd, NULL};
    hu_start(&f->h, extra);
    f->c = hu_connect(&f->h);
}

static void
fixture_end(fixture_t *f)
{
    th_client_close(f->c);
    CHECK(hu_finish(&f->h));
    thi_key_destroy(f->key);
    thi_key_destroy(f->key2);
    free(f->hello);
}

/* Sign `n` inputs as GROUP-VERSION into the director directory. */
static void
sign_to(fixture_t *f, const thi_key_t *key, const char *group,
        const char *version, const thi_bundle_input_t *in, size_t n,
        char *path, size_t size)
{
    uint8_t *b = NULL;
    size_t blen;
    th_diag_t d = {0};
    if (thi_bundle_build(&b, &blen, group, version, "cycles", NULL, in, n,
                         key, &d))
        TH_FAIL_AT_("sign: %s", d.msg);
    snprintf(path, size, "%s/%s-%s.tls", f->dd, group, version);
    CHECK_RC(thi_write_file_atomic(path, b, blen, &d), 0);
    free(b);
}

static void
sign_hello(fixture_t *f, const char *group, const char *version, char *path,
           size_t size)
{
    thi_bundle_input_t in = {"hello.so", "plugin", f->hello, f->hello_len,
                             "hello",
                             (const char *[]){"Greeter", "Toggler", NULL}};
    sign_to(f, f->key, group, version, &in, 1, path, size);
}

/* A Greeter of the source answers a Greet; the actor is returned. */
static th_addr_t
greet(fixture_t *f, const char *hash)
{
    th_client_create_opts_t o = {.size = sizeof o, .source_hash = hash};
    th_addr_t a;
    if (th_client_create(f->c, &a, "hello.Greeter", &o) != 0)
        TH_FAIL_AT_("create from %.12s: %s", hash, th_client_errmsg(f->c));
    th_client_msg_t *m = NULL;
    const char *body = "{\"name\":\"cycle\"}";
    if (th_client_ask(f->c, &m, &a, "Greet", body, strlen(body), 10000))
        TH_FAIL_AT_("ask %.12s: %s", hash, th_client_errmsg(f->c));
    CHECK_STREQ(m->type, "Greeting");
    th_client_msg_free(m);
    return a;
}

static bool
source_listed(fixture_t *f, const char *hash)
{
    char *text = NULL;
    CHECK_RC(th_client_sources(f->c, &text), 0);
    bool in = strstr(text, hash) != NULL;
    th_client_free(text);
    return in;
}

/* Stop the actor, unload its source, wait until the source is unmapped. */
static void
retire(fixture_t *f, const th_addr_t *a, const char *hash)
{
    if (a)
        CHECK_RC(th_client_tell(f->c, a, "ActorExitRequest", "{}", 2), 0);
    CHECK_RC(th_client_unload(f->c, hash), 0);
    for (int i = 0; i < 5000 && source_listed(f, hash); i++)
        hu_sleep_ms(1);
    if (source_listed(f, hash))
        TH_FAIL_AT_("source %.12s still listed after unload", hash);
}

typedef struct usage {
    long rss_kb;
    int fds, maps;
} usage_t;

static usage_t
usage_of(pid_t pid)
{
    usage_t u = {0};
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL);
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "VmRSS: %ld", &u.rss_kb) == 1)
            break;
    fclose(fp);
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    fp = fopen(path, "r");
    CHECK(fp != NULL);
    while (fgets(line, sizeof line, fp))
        u.maps++;
    fclose(fp);
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(path);
    CHECK(dir != NULL);
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        u.fds += e->d_name[0] != '.';
    closedir(dir);
    return u;
}

/* Usage once the host is quiet: the fewest descriptors and mappings of a
 * few samples 50 ms apart, each counted on its own, so a file or a thread
 * stack the host has for a moment (the version record's writer, a load
 * thread, an unmap's memfd about to close) is not counted; what every
 * cycle leaves behind shows in every sample. */
static usage_t
settled_usage_of(pid_t pid)
{
    usage_t best = usage_of(pid);
    for (int i = 0; i < 5; i++) {
        hu_sleep_ms(50);
        usage_t u = usage_of(pid);
        if (u.fds < best.fds)
            best.fds = u.fds;
        if (u.maps < best.maps)
            best.maps = u.maps;
        best.rss_kb = u.rss_kb;
    }
    return best;
}

/* Does the host's /proc/PID/maps name `needle`? */
static bool
maps_have(pid_t pid, const char *needle)
{
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL);
    bool found = false;
    while (!found && fgets(line, sizeof line, fp))
        found = strstr(line, needle) != NULL;
    fclose(fp);
    return found;
}

/* The memfd name a source's hello.so is mapped under. */
static void
memfd_name(char *out, size_t n, const char *hash)
{
    snprintf(out, n, "/memfd:th-%.12s-hello.so", hash);
}

TH_TEST(load_unload_cycles_leave_nothing_behind)
{
    fixture_t f = {0};
    fixture_start(&f);
    int cycles = getenv("LOAD_CYCLES") ? atoi(getenv("LOAD_CYCLES")) : 1000;
    /* the cycle whose usage is the baseline: 10, later under sanitizers,
     * whose allocators keep growing their size-class regions for a while
     * (a plateau, not a leak: LSan checks leaks at the host's exit) */
    int base = getenv("LOAD_BASE") ? atoi(getenv("LOAD_BASE")) : 10;
    CHECK(base >= 10 && cycles >= base + 100);
    usage_t at10 = {0};
    char first[65] = "";
    for (int i = 0; i < cycles; i++) {
        char version[32], path[400], hash[65], name[80];
        snprintf(version, sizeof version, "1.%d", i);
        sign_hello(&f, "cycles", version, path, sizeof path);
        if (th_client_load(f.c, hash, path) != 0)
            TH_FAIL_AT_("cycle %d: load: %s", i, th_client_errmsg(f.c));
        memfd_name(name, sizeof name, hash);
        CHECK(maps_have(f.h.pid, name));
        th_addr_t a = greet(&f, hash);
        retire(&f, &a, hash);
        /* really unmapped (just after the source left the list) */
        for (int k = 0; k < 2000 && maps_have(f.h.pid, name); k++)
            hu_sleep_ms(1);
        CHECK(!maps_have(f.h.pid, name));
        unlink(path);
        if (i == 0)
            memcpy(first, hash, 65);
        if (i == base - 1)
            at10 = settled_usage_of(f.h.pid);
    }
    usage_t end = settled_usage_of(f.h.pid);
    char name[80];
    memfd_name(name, sizeof name, first);
    CHECK(!maps_have(f.h.pid, name));
    fprintf(stderr,
            "# cycles %d..%d: RSS %ld -> %ld KiB, fds %d -> %d, maps %d -> "
            "%d\n",
            base, cycles, at10.rss_kb, end.rss_kb, at10.fds, end.fds, at10.maps,
           end.maps);
    CHECK(end.rss_kb * 100 <= at10.rss_kb * 105);
    CHECK_EQ(end.fds, at10.fds);
    /* an allocator may add a region; a mapping left per cycle would show
     * as hundreds */
    CHECK(end.maps <= at10.maps + 3);
    CHECK(!hu_log_has(&f.h, "could not be unmapped"));
    fixture_end(&f);
}

TH_TEST(two_hundred_sources_at_once_each_answer)
{
    fixture_t f = {0};
    fixture_start(&f);
    enum { N = 200 };
    static char hashes[N][65];
    static th_addr_t actors[N];
    usage_t before = usage_of(f.h.pid);
    for (int i = 0; i < N; i++) {
        char version[32], path[400];
        snprintf(version, sizeof version, "2.%d", i);
        sign_hello(&f, "many", version, path, sizeof path);
        if (th_client_load(f.c, hashes[i], path) != 0)
            TH_FAIL_AT_("source %d: load: %s", i, th_client_errmsg(f.c));
        unlink(path);
    }
    for (int i = 0; i < N; i++)
        actors[i] = greet(&f, hashes[i]);
    char name[80];
    memfd_name(name, sizeof name, hashes[N - 1]);
    CHECK(maps_have(f.h.pid, name));
    for (int i = 0; i < N; i++)
        retire(&f, &actors[i], hashes[i]);
    for (int k = 0; k < 2000 && maps_have(f.h.pid, name); k++)
        hu_sleep_ms(1);
    CHECK(!maps_have(f.h.pid, name));
    usage_t after = usage_of(f.h.pid);
    CHECK(after.fds <= before.fds + 2); /* one memfd per mapped file */
    fixture_end(&f);
}

/* collide.so + its private libcollide.so.1, as given or privatized. */
static void
collide_inputs(thi_bundle_input_t in[2], uint8_t *data[2])
{
    th_diag_t d = {0};
    size_t len[2];
    CHECK_RC(thi_read_file(&data[0], &len[0], getenv("TH_PLUGIN_collide_v1"),
                           64 << 20, &d),
             0);
    CHECK_RC(thi_read_file(&data[1], &len[1],
                           getenv("TH_PLUGIN_libcollide_v1"), 64 << 20, &d),
             0);
    static const char *const classes[] = {"Probe", NULL};
    in[0] = (thi_bundle_input_t){"collide.so", "plugin", data[0], len[0],
                                 "collide", classes};
    in[1] = (thi_bundle_input_t){"libcollide.so.1", "library", data[1],
                                 len[1], NULL, NULL};
}

TH_TEST(private_sonames_that_could_bind_elsewhere_are_refused)
{
    fixture_t f = {0};
    fixture_start(&f);
    thi_bundle_input_t in[2];
    uint8_t *data[2];
    collide_inputs(in, data);
    char path[400], hash[65];
    /* the plain soname: signed, but the host refuses it before mapping */
    sign_to(&f, f.key, "collide", "1", in, 2, path, sizeof path);
    CHECK(th_client_load(f.c, hash, path) != 0);
    CHECK_CONTAINS(th_client_errmsg(f.c),
                   "library libcollide.so.1 keeps the plain soname "
                   "libcollide.so.1");
    CHECK(!maps_have(f.h.pid, "/memfd:th-"));
    CHECK(!maps_have(f.h.pid, "libcollide"));
    /* renamed: loads, binds to its own copy */
    uint8_t **owned = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_privatize(in, 2, "collide", "2", &owned, NULL, &d), 0);
    sign_to(&f, f.key, "collide", "2", in, 2, path, sizeof path);
    if (th_client_load(f.c, hash, path) != 0)
        TH_FAIL_AT_("load: %s", th_client_errmsg(f.c));
    /* the same contents signed by another key: another source hash, the
     * same tagged soname, already loaded: refused */
    char path2[400], hash2[65];
    sign_to(&f, f.key2, "collide", "2", in, 2, path2, sizeof path2);
    CHECK(th_client_load(f.c, hash2, path2) != 0);
    CHECK_CONTAINS(th_client_errmsg(f.c), "is already loaded in this process");
    th_client_create_opts_t o = {.size = sizeof o, .source_hash = hash};
    th_addr_t a;
    CHECK_RC(th_client_create(f.c, &a, "collide.Probe", &o), 0);
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(f.c, &m, &a, "Value", "{}", 2, 10000), 0);
    json_t *r = json_loadb(m->data, m->len, 0, NULL);
    CHECK_EQ(json_integer_value(json_object_get(r, "value")), 1);
    json_decref(r);
    th_client_msg_free(m);
    retire(&f, &a, hash);
    for (int k = 0; k < 2000 && maps_have(f.h.pid, "libcollide"); k++)
        hu_sleep_ms(1);
    CHECK(!maps_have(f.h.pid, "libcollide"));
    CHECK(!maps_have(f.h.pid, "/memfd:th-"));
    /* once it is gone, the other signature's copy may load */
    if (th_client_load(f.c, hash2, path2) != 0)
        TH_FAIL_AT_("load after unload: %s", th_client_errmsg(f.c));
    thi_privatize_free(owned, 2);
    free(data[0]);
    free(data[1]);
    fixture_end(&f);
}

TH_TEST_MAIN(TH_CASE(private_sonames_that_could_bind_elsewhere_are_refused),
             TH_CASE(two_hundred_sources_at_once_each_answer),
             TH_CASE(load_unload_cycles_leave_nothing_behind))
