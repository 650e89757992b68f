/*
 * tests/integration/bundle_policy_test.c — everything about a bundle is
 * checked before any byte of it is mapped, through a real thespiand with a
 * director directory: validly signed plugins that reach outside their
 * bundle (RPATH or RUNPATH /tmp and a NEEDED library that lives only
 * there), of another ELF machine or class, or whose TLI names a class the
 * bundle does not declare, are refused with the reason and never run
 * (I1: constructor probes write $TH_TEST_MARKER, inherited by the host);
 * the host keeps serving (I3). And the version record moves only when a
 * version runs: a version that fails to activate leaves versions.json as
 * it was, so the older version still loads after a restart.
 * Bundles are signed here with the loader API (gensrc would refuse them).
 */
#include <glob.h>

#include "bundle_gen.h"
#include "host_util.h"
#include "loader/bundle.h"
#include "loader/describe.h"
#include "th_test.h"

typedef struct fixture {
    hu_host_t h;
    char dd[300];
    char marker[320];
    thi_key_t *key;
} fixture_t;

static void
fixture_start(fixture_t *f)
{
    hu_scratch(f->h.dir, sizeof f->h.dir);
    snprintf(f->dd, sizeof f->dd, "%s/director", f->h.dir);
    snprintf(f->marker, sizeof f->marker, "%s/marker", f->h.dir);
    CHECK(mkdir(f->dd, 0700) == 0);
    th_diag_t d = {0};
    CHECK_RC(thi_key_generate(&f->key, 2048, &d), 0);
    char *pem = NULL, path[400];
    CHECK_RC(thi_key_write_public_pem(f->key, &pem, &d), 0);
    snprintf(path, sizeof path, "%s/t_tls.key", f->dd);
    CHECK_RC(thi_write_file_atomic(path, (uint8_t *)pem, strlen(pem), &d), 0);
    free(pem);
    setenv("TH_TEST_MARKER", f->marker, 1); /* the host inherits it */
    const char *extra[] = {"--director-dir", f->dd, NULL};
    hu_start(&f->h, extra);
}

static uint8_t *
read_env_file(const char *var, size_t *len)
{
    const char *p = getenv(var);
    if (p == NULL)
        TH_FAIL_AT_("environment variable %s is not set", var);
    uint8_t *b = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_read_file(&b, len, p, 64 << 20, &d), 0);
    return b;
}

/* Write a bundle to the director directory; returns its path (static). */
static const char *
put(fixture_t *f, const char *name, const uint8_t *b, size_t len)
{
    static char path[600];
    th_diag_t d = {0};
    snprintf(path, sizeof path, "%s/%s.tls", f->dd, name);
    CHECK_RC(thi_write_file_atomic(path, b, len, &d), 0);
    return path;
}

/* A signed bundle of one plugin file (bytes given) under `path`. */
static const char *
sign_one(fixture_t *f, const char *name, const char *group,
         const char *version, const json_t *tli, const char *path,
         const uint8_t *so, size_t so_len, const char *plugin,
         const char *const *classes)
{
    thi_bundle_input_t in = {path, "plugin", so, so_len, plugin, classes};
    uint8_t *b = NULL;
    size_t blen = 0;
    th_diag_t d = {0};
    if (thi_bundle_build(&b, &blen, group, version, "policy test", tli, &in, 1,
                         f->key, &d))
        TH_FAIL_AT_("sign %s: %s", name, d.msg);
    const char *p = put(f, name, b, blen);
    free(b);
    return p;
}

/* Load must fail with `code` and a message containing `why`; nothing of
 * the bundle ran, nothing is listed, and the host still answers. */
static void
refused(fixture_t *f, th_client_t *c, const char *path, int code,
        const char *why)
{
    char hash[65];
    CHECK_RC(th_client_load(c, hash, path), code);
    CHECK_CONTAINS(th_client_errmsg(c), why);
    CHECK(access(f->marker, F_OK) != 0); /* I1: no constructor ran */
    char *text = NULL;
    CHECK_RC(th_client_sources(c, &text), 0); /* I3 + I6 */
    CHECK_STREQ(text, "[]");
    th_client_free(text);
}

static const char *const escape_classes[] = {"Escape", NULL};
static const char *const marker_classes[] = {"Marker", NULL};

TH_TEST(rpath_and_runpath_to_tmp_are_refused_before_mapping)
{
    fixture_t f = {0};
    fixture_start(&f);
    /* the library the plugins need, where their RPATH/RUNPATH points */
    size_t llen;
    uint8_t *lib = read_env_file("ESCAPE_LIB", &llen);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/libthescape.so.%ld", (long)getpid());
    th_diag_t d = {0};
    CHECK_RC(thi_write_file_atomic(tmp, lib, llen, &d), 0);
    CHECK(rename(tmp, "/tmp/libthescape.so") == 0);
    th_client_t *c = hu_connect(&f.h);
    const char *vars[] = {"ESCAPE_RUNPATH_SO", "ESCAPE_RPATH_SO"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        uint8_t *so = read_env_file(vars[i], &len);
        const char *p = sign_one(&f, vars[i], "escape", "1.0", NULL,
                                 "escape.so", so, len, "escape",
                                 escape_classes);
        refused(&f, c, p, TH_EPERM,
                "plugin escape.so: RPATH/RUNPATH entry \"/tmp\" is not "
                "$ORIGIN-relative");
        free(so);
    }
    th_client_close(c);
    unlink("/tmp/libthescape.so");
    free(lib);
    CHECK(hu_finish(&f.h));
    thi_key_destroy(f.key);
}

/* A plugin with an STB_GNU_UNIQUE symbol could never be unmapped: the
 * host refuses it (signed by a trusted key, so only the ELF policy
 * stands in the way) before anything of it is mapped. */
TH_TEST(gnu_unique_symbols_are_refused_before_mapping)
{
    static const char *const unique_classes[] = {"Unique", NULL};
    fixture_t f = {0};
    fixture_start(&f);
    th_client_t *c = hu_connect(&f.h);
    size_t len;
    uint8_t *so = read_env_file("GNU_UNIQUE_SO", &len);
    const char *p = sign_one(&f, "unique", "unique", "1.0", NULL,
                             "gnu_unique.so", so, len, "gnu_unique",
                             unique_classes);
    refused(&f, c, p, TH_EABI,
            "plugin gnu_unique.so: defines the STB_GNU_UNIQUE symbol "
            "th_test_unique_count");
    free(so);
    th_client_close(c);
    CHECK(hu_finish(&f.h));
    thi_key_destroy(f.key);
}

TH_TEST(another_elf_machine_or_class_is_refused_naming_it)
{
    fixture_t f = {0};
    fixture_start(&f);
    th_client_t *c = hu_connect(&f.h);
    size_t len;
    uint8_t *so = read_env_file("CTOR_MARKER_SO", &len);
    so[18] = 183; /* e_machine = EM_AARCH64 (little endian) */
    so[19] = 0;
    const char *p = sign_one(&f, "arm", "marker", "1.0", NULL,
                             "ctor_marker.so", so, len, "ctor_marker",
                             marker_classes);
    refused(&f, c, p, TH_EABI,
            "plugin ctor_marker.so: ELF machine AArch64, host x86-64");
    free(so);
    so = read_env_file("CTOR_MARKER_SO", &len);
    so[4] = 1; /* EI_CLASS = ELFCLASS32 */
    p = sign_one(&f, "cls32", "marker", "1.0", NULL, "ctor_marker.so", so, len,
                 "ctor_marker", marker_classes);
    refused(&f, c, p, TH_EABI,
            "plugin ctor_marker.so: ELF class 32-bit, host 64-bit");
    free(so);
    th_client_close(c);
    CHECK(hu_finish(&f.h));
    thi_key_destroy(f.key);
}

/* The signed manifest (crafted: the loader's builder refuses this one)
 * declares ctor_marker's class Marker; the TLI names Ghost. */
TH_TEST(tli_naming_an_undeclared_class_runs_nothing)
{
    fixture_t f = {0};
    fixture_start(&f);
    th_client_t *c = hu_connect(&f.h);
    size_t len;
    uint8_t *so = read_env_file("CTOR_MARKER_SO", &len);
    gen_entry_t e[] = {{"ctor_marker.so", so, len, 0, 0755}};
    json_t *m = gen_manifest_obj(e, 1, "ghosts", "1.0");
    json_t *f0 = json_array_get(json_object_get(m, "files"), 0);
    json_object_set_new(f0, "kind", json_string("plugin"));
    json_object_set_new(f0, "plugin", json_string("ctor_marker"));
    json_object_set_new(f0, "classes", json_pack("[s]", "Marker"));
    json_object_set_new(m, "tli",
                        json_pack("{s:{s:{s:s}}}", "Actors",
                                  "ctor_marker.Ghost", "Role", "ghost"));
    char *mt = json_dumps(m, JSON_COMPACT);
    gen_entry_t all[] = {{THI_MANIFEST_NAME, mt, strlen(mt), 0, 0},
                         {"ctor_marker.so", so, len, 0, 0755}};
    size_t zlen, blen;
    uint8_t *zip = gen_zip(all, 2, &zlen);
    uint8_t *b = gen_seal(zip, zlen, f.key, &blen);
    const char *p = put(&f, "ghosts-1.0", b, blen);
    refused(&f, c, p, TH_EFORMAT,
            "the TLI names class ctor_marker.Ghost, which no plugin of the "
            "bundle declares");
    /* the same plugin with the class it declares: it loads (and runs) */
    json_object_set_new(m, "tli",
                        json_pack("{s:{s:{s:s}}}", "Actors",
                                  "ctor_marker.Marker", "Role", "marker"));
    free(mt);
    free(zip);
    free(b);
    mt = json_dumps(m, JSON_COMPACT);
    all[0] = (gen_entry_t){THI_MANIFEST_NAME, mt, strlen(mt), 0, 0};
    zip = gen_zip(all, 2, &zlen);
    b = gen_seal(zip, zlen, f.key, &blen);
    p = put(&f, "ghosts-1.1", b, blen);
    char hash[65];
    CHECK_RC(th_client_load(c, hash, p), 0);
    CHECK(access(f.marker, F_OK) == 0);
    json_decref(m);
    free(mt);
    free(zip);
    free(b);
    free(so);
    th_client_close(c);
    CHECK(hu_finish(&f.h));
    thi_key_destroy(f.key);
}

static json_t *
director_group(th_client_t *c, const char *group)
{
    th_client_msg_t *m = NULL;
    const char *op = "{\"DirectorOp\":\"RetrieveAll\"}";
    CHECK_RC(th_client_ask_name(c, &m, "Director", "DirectorOp", op,
                                strlen(op), 5000),
             0);
    json_t *r = json_loadb(m->data, m->len, 0, NULL);
    th_client_msg_free(m);
    json_t *g = json_incref(
        json_object_get(json_object_get(r, "groups"), group));
    json_decref(r);
    return g;
}

/* The group's record in the host's versions.json, or NULL. */
static char *
recorded(fixture_t *f, const char *group)
{
    char pat[400];
    snprintf(pat, sizeof pat, "%s/state-*/versions.json", f->dd);
    glob_t g;
    char *v = NULL;
    if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1) {
        json_t *o = json_load_file(g.gl_pathv[0], 0, NULL);
        const char *s = json_string_value(json_object_get(o, group));
        v = s ? strdup(s) : NULL;
        json_decref(o);
    }
    globfree(&g);
    return v;
}

static bool
wait_recorded(fixture_t *f, const char *group, const char *want)
{
    for (int i = 0; i < 500; i++) {
        char *v = recorded(f, group);
        bool ok = v && !strcmp(v, want);
        free(v);
        if (ok)
            return true;
        hu_sleep_ms(10);
    }
    return false;
}

TH_TEST(failed_activation_leaves_the_version_record)
{
    fixture_t f = {0};
    fixture_start(&f);
    th_client_t *c = hu_connect(&f.h);
    /* v1: hello's Greeter, which starts */
    size_t len;
    uint8_t *so = read_env_file("HELLO_SO", &len);
    json_t *tli1 = json_pack("{s:{s:{s:s}}}", "Actors", "hello.Greeter",
                             "Role", "greeter");
    const char *const hello_classes[] = {"Greeter", "Toggler", NULL};
    char v1[600];
    snprintf(v1, sizeof v1, "%s",
             sign_one(&f, "hello-1.0", "hello", "1.0", tli1, "hello.so", so,
                      len, "hello", hello_classes));
    free(so);
    /* v2: rtactors' FailInit as the role: its init fails */
    so = read_env_file("RTACTORS_SO", &len);
    thi_bundle_input_t rin = {.path = "rtactors.so", .kind = "plugin",
                              .data = so, .size = len};
    json_t *desc = NULL;
    th_diag_t d = {0};
    if (thi_plugins_describe(&desc, &rin, NULL, 1, &d) != 0)
        TH_FAIL_AT_("describe: %s", d.msg);
    json_t *pd = json_object_get(desc, "rtactors.so");
    const char *rcls[64] = {0};
    size_t k;
    json_t *cv;
    json_array_foreach(json_object_get(pd, "classes"), k, cv)
        if (k < 63)
            rcls[k] = json_string_value(cv);
    json_t *tli2 = json_pack("{s:{s:{s:s}}}", "Actors", "rtactors.FailInit",
                             "Role", "greeter");
    char v2[600];
    snprintf(v2, sizeof v2, "%s",
             sign_one(&f, "hello-2.0", "hello", "2.0", tli2, "rtactors.so", so,
                      len, "rtactors", rcls));
    json_decref(desc);
    free(so);

    char h1[65], h2[65];
    CHECK_RC(th_client_load(c, h1, v1), 0);
    CHECK(wait_recorded(&f, "hello", "1.0")); /* v1 ran */
    CHECK_RC(th_client_load(c, h2, v2), 0);  /* it loads, then fails */
    json_t *g = NULL;
    for (int i = 0; i < 500; i++) { /* the Director gives up on v2 */
        json_decref(g);
        g = director_group(c, "hello");
        if (json_string_value(json_object_get(g, "error")))
            break;
        hu_sleep_ms(10);
    }
    CHECK(json_string_value(json_object_get(g, "error")) != NULL);
    CHECK_STREQ(json_string_value(json_object_get(g, "active")), h1);
    json_decref(g);
    char *text = NULL;
    for (int i = 0; i < 500; i++) { /* and v2 is unloaded */
        th_client_free(text);
        CHECK_RC(th_client_sources(c, &text), 0);
        if (strstr(text, h2) == NULL)
            break;
        hu_sleep_ms(10);
    }
    CHECK(strstr(text, h2) == NULL);
    th_client_free(text);
    char *rec = recorded(&f, "hello");
    CHECK_STREQ(rec, "1.0"); /* v2 never ran: the record did not move */
    free(rec);
    th_client_close(c);
    /* a restart on the same state: v1 is not a rollback */
    CHECK_EQ(hu_stop(&f.h), 0);
    const char *extra[] = {"--director-dir", f.dd, NULL};
    hu_start(&f.h, extra);
    c = hu_connect(&f.h);
    CHECK_RC(th_client_load(c, h1, v1), 0);
    g = NULL;
    for (int i = 0; i < 500; i++) {
        json_decref(g);
        g = director_group(c, "hello");
        if (json_string_value(json_object_get(g, "active")))
            break;
        hu_sleep_ms(10);
    }
    CHECK_STREQ(json_string_value(json_object_get(g, "active")), h1);
    json_decref(g);
    json_decref(tli1);
    json_decref(tli2);
    th_client_close(c);
    CHECK(hu_finish(&f.h));
    thi_key_destroy(f.key);
}

TH_TEST_MAIN(TH_CASE(rpath_and_runpath_to_tmp_are_refused_before_mapping),
             TH_CASE(gnu_unique_symbols_are_refused_before_mapping),
             TH_CASE(another_elf_machine_or_class_is_refused_naming_it),
             TH_CASE(tli_naming_an_undeclared_class_runs_nothing),
             TH_CASE(failed_activation_leaves_the_version_record))
