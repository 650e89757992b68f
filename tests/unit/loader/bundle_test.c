/*
 * tests/unit/loader/bundle_test.c — the bundle format: build, verify, read
 * back; reproducibility; standard zip tools can list it; keyrings from a
 * directory with bad key files; version ordering.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle_gen.h"
#include "loader/plugin.h"

static thi_key_t *
new_key(void)
{
    thi_key_t *k = NULL;
    th_diag_t d = {0};
    if (thi_key_generate(&k, 2048, &d) != 0)
        TH_FAIL_AT_("keygen: %s", d.msg);
    return k;
}

static thi_keyring_t *
ring_of(const thi_key_t *k)
{
    /* a keyring owns its keys: add a public copy */
    char *pem = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_key_write_public_pem(k, &pem, &d), 0);
    thi_key_t *pub = NULL;
    CHECK_RC(thi_key_load_public(&pub, pem, strlen(pem), "test", &d), 0);
    free(pem);
    thi_keyring_t *kr;
    CHECK_RC(thi_keyring_create(&kr), 0);
    CHECK_RC(thi_keyring_add(kr, &pub, "test_tls.key"), 0);
    return kr;
}

static uint8_t *
build(const thi_key_t *k, size_t *len)
{
    static const char so[] = "\x7f" "ELF pretend plugin bytes";
    static const char data[] = "some data\n";
    thi_bundle_input_t in[] = {
        {"lib/hello.so", "plugin", (const uint8_t *)so, sizeof so, "hello",
         (const char *[]){"Greeter", NULL}},
        {"data/readme.txt", "data", (const uint8_t *)data, sizeof data - 1,
         NULL, NULL},
    };
    json_t *tli = json_pack("{s:{}, s:b}", "Actors", "AutoUnload", 1);
    uint8_t *out = NULL;
    th_diag_t d = {0};
    if (thi_bundle_build(&out, len, "hello", "1.2.3", "hello group", tli, in,
                         2, k, &d) != 0)
        TH_FAIL_AT_("build: %s", d.msg);
    json_decref(tli);
    return out;
}

TH_TEST(build_verify_read_round_trip)
{
    thi_key_t *k = new_key();
    thi_keyring_t *kr = ring_of(k);
    size_t len;
    uint8_t *b = build(k, &len);
    thi_verified_t v;
    th_diag_t d = {0};
    CHECK_RC(thi_bundle_verify(&v, b, len, kr, "t.tls", &d), 0);
    CHECK_STREQ(v.key_name, "test_tls.key");
    uint8_t h[32];
    char hex[65];
    thi_sha256(h, b, len);
    thi_hex(hex, h, 32);
    CHECK_STREQ(v.source_hex, hex); /* = sha256sum of the file */
    thi_bundle_t *bd = NULL;
    CHECK_RC(thi_bundle_read(&bd, b, v.signed_len, "t.tls", &d), 0);
    CHECK_STREQ(bd->group, "hello");
    CHECK_STREQ(bd->version, "1.2.3");
    CHECK_STREQ(bd->info, "hello group");
    CHECK(json_is_true(json_object_get(bd->tli, "AutoUnload")));
    CHECK_EQ(bd->n_files, 2);
    CHECK_STREQ(bd->files[0].path, "data/readme.txt");
    CHECK_STREQ(bd->files[0].kind, "data");
    CHECK_EQ(bd->files[0].size, 10);
    CHECK(memcmp(bd->files[0].data, "some data\n", 10) == 0);
    CHECK_STREQ(bd->files[1].kind, "plugin");
    CHECK_STREQ(bd->files[1].plugin, "hello"); /* from the signed manifest */
    CHECK_EQ(json_array_size(bd->files[1].classes), 1);
    CHECK_STREQ(json_string_value(json_array_get(bd->files[1].classes, 0)),
                "Greeter");
    CHECK(bd->files[0].plugin == NULL && bd->files[0].classes == NULL);
    thi_bundle_free(bd);
    free(b);
    thi_keyring_destroy(kr);
    thi_key_destroy(k);
}

/* The host's reading: data entries skipped (not inflated, not hashed),
 * code entries read and checked as always. */
TH_TEST(read_skipping_data_reads_only_code)
{
    thi_key_t *k = new_key();
    size_t len;
    uint8_t *b = build(k, &len);
    size_t signed_len = len - (48 + thi_key_sig_len(k) + 4);
    thi_bundle_t *bd = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_bundle_read_flags(&bd, b, signed_len, THI_READ_SKIP_DATA,
                                   "t.tls", &d),
             0);
    CHECK_EQ(bd->n_files, 2);
    CHECK_STREQ(bd->files[0].kind, "data");
    CHECK(bd->files[0].skipped && bd->files[0].data == NULL);
    CHECK_EQ(bd->files[0].size, 10); /* the manifest's */
    CHECK(!bd->files[1].skipped && bd->files[1].data != NULL);
    CHECK(memcmp(bd->files[1].data, "\x7f" "ELF", 4) == 0);
    thi_bundle_free(bd);
    free(b);
    thi_key_destroy(k);
}

/* The zip method of each member, from the central directory. */
static int
member_method(const uint8_t *b, size_t len, const char *name)
{
    for (long c = gen_find(b, len, "PK\x01\x02", 4, 0); c >= 0;
         c = gen_find(b, len, "PK\x01\x02", 4, (size_t)c + 4)) {
        size_t nl = (size_t)b[c + 28] | (size_t)b[c + 29] << 8;
        if (nl == strlen(name) && memcmp(b + c + 46, name, nl) == 0)
            return b[c + 10] | b[c + 11] << 8;
    }
    return -1;
}

/* Code and the manifest are stored (a host reads them at every load:
 * inflating cost more than hashing the larger member, and a load with
 * nothing to inflate sets up no inflater), data is deflated; a bundle whose
 * code and manifest are deflated, as older builders wrote them, still
 * reads. */
TH_TEST(code_stored_data_deflated_and_deflated_code_still_reads)
{
    thi_key_t *k = new_key();
    size_t len;
    uint8_t *b = build(k, &len);
    CHECK_EQ(member_method(b, len, "lib/hello.so"), 0);
    CHECK_EQ(member_method(b, len, "data/readme.txt"), 8);
    CHECK_EQ(member_method(b, len, THI_MANIFEST_NAME), 0);
    free(b);

    /* every member deflated, code included */
    char so[4096];
    for (size_t i = 0; i < sizeof so; i++)
        so[i] = (char)("\x7f" "ELF plugin"[i % 11]);
    gen_entry_t e[] = {{"hello.so", so, sizeof so, 0, 0755}};
    json_t *m = gen_manifest_obj(e, 1, "hello", "1.0");
    json_t *f0 = json_array_get(json_object_get(m, "files"), 0);
    json_object_set_new(f0, "kind", json_string("plugin"));
    json_object_set_new(f0, "plugin", json_string("hello"));
    json_object_set_new(f0, "classes", json_pack("[s]", "Greeter"));
    char *mt = json_dumps(m, JSON_COMPACT);
    gen_entry_t all[] = {{THI_MANIFEST_NAME, mt, strlen(mt), 0, 0}, e[0]};
    size_t zlen;
    uint8_t *zip = gen_zip(all, 2, &zlen);
    b = gen_seal(zip, zlen, k, &len);
    CHECK_EQ(member_method(b, len, "hello.so"), 8);
    CHECK_EQ(member_method(b, len, THI_MANIFEST_NAME), 8);
    thi_bundle_t *bd = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_bundle_read_flags(&bd, b, len - (48 + thi_key_sig_len(k) + 4),
                                   THI_READ_SKIP_DATA, "old.tls", &d),
             0);
    CHECK_EQ(bd->n_files, 1);
    CHECK_EQ(bd->files[0].size, sizeof so);
    CHECK(memcmp(bd->files[0].data, so, sizeof so) == 0);
    thi_bundle_free(bd);
    free(b);
    free(zip);
    free(mt);
    json_decref(m);
    thi_key_destroy(k);
}

TH_TEST(build_is_reproducible)
{
    thi_key_t *k = new_key();
    size_t l1, l2;
    uint8_t *a = build(k, &l1);
    uint8_t *b = build(k, &l2);
    CHECK_EQ(l1, l2);
    CHECK(memcmp(a, b, l1) == 0);
    free(a);
    free(b);
    thi_key_destroy(k);
}

TH_TEST(zip_tools_list_a_bundle)
{
    thi_key_t *k = new_key();
    size_t len;
    uint8_t *b = build(k, &len);
    char dir[] = "/tmp/th-bundle-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/hello-1.2.3.tls", dir);
    th_diag_t d = {0};
    CHECK_RC(thi_write_file_atomic(path, b, len, &d), 0);
    snprintf(cmd, sizeof cmd,
             "unzip -l %s | grep -q lib/hello.so && unzip -l %s | grep -q "
             "MANIFEST.json && unzip -tq %s >/dev/null",
             path, path, path);
    CHECK_EQ(system(cmd), 0);
    unlink(path);
    rmdir(dir);
    free(b);
    thi_key_destroy(k);
}

TH_TEST(keyring_skips_unusable_key_files)
{
    char dir[] = "/tmp/th-keys-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    thi_key_t *k = new_key();
    char *pem = NULL, *priv = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_key_write_public_pem(k, &pem, &d), 0);
    CHECK_RC(thi_key_write_private_pem(k, &priv, &d), 0);
    char p[300];
    struct { const char *name; const char *text; } files[] = {
        {"good_tls.key", pem}, {"empty_tls.key", ""},
        {"garbage_tls.key", "-----BEGIN PUBLIC KEY-----\nxx\n"},
        {"private_tls.key", priv}, {"ignored.pem", priv}};
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i].name);
        CHECK_RC(thi_write_file_atomic(p, (const uint8_t *)files[i].text,
                                       strlen(files[i].text), &d),
                 0);
    }
    thi_keyring_t *kr = NULL;
    char *warn = NULL;
    CHECK_RC(thi_keyring_load_dir(&kr, dir, &warn, &d), 0);
    CHECK_EQ(thi_keyring_count(kr), 1);
    CHECK_CONTAINS(warn, "empty_tls.key");
    CHECK_CONTAINS(warn, "garbage_tls.key");
    CHECK_CONTAINS(warn, "private_tls.key");
    CHECK(strstr(warn, "good_tls.key") == NULL);
    /* the good key still verifies */
    size_t len;
    uint8_t *b = build(k, &len);
    thi_verified_t v;
    CHECK_RC(thi_bundle_verify(&v, b, len, kr, "t.tls", &d), 0);
    CHECK_STREQ(v.key_name, "good_tls.key");
    free(b);
    free(warn);
    free(pem);
    free(priv);
    thi_keyring_destroy(kr);
    thi_key_destroy(k);
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i].name);
        unlink(p);
    }
    rmdir(dir);
}

TH_TEST(version_order)
{
    CHECK(thi_version_cmp("1.2", "1.10") < 0);
    CHECK(thi_version_cmp("1.10", "1.9") > 0);
    CHECK(thi_version_cmp("2", "1.99") > 0);
    CHECK(thi_version_cmp("1.0", "1.0.1") < 0);
    CHECK(thi_version_cmp("1.01", "1.1") == 0);
    CHECK(thi_version_cmp("202611220930", "202611221015") < 0);
    CHECK(thi_version_cmp("1.2", "1.2a") < 0);  /* numeric before text */
    CHECK(thi_version_cmp("1.beta", "1.alpha") > 0);
    CHECK(thi_version_cmp(NULL, "0") < 0);      /* unversioned is oldest */
    CHECK(thi_version_cmp(NULL, NULL) == 0);
    CHECK(thi_version_ok("1.2.3") && thi_version_ok("2.0-rc1"));
    CHECK(!thi_version_ok("") && !thi_version_ok("1..2") &&
          !thi_version_ok(".1") && !thi_version_ok("1.") &&
          !thi_version_ok("1 2") && !thi_version_ok("1/2"));
    CHECK(thi_group_name_ok("hello_world-2"));
    CHECK(!thi_group_name_ok("") && !thi_group_name_ok("a.b") &&
          !thi_group_name_ok("../x") && !thi_group_name_ok("a b"));
}

/* Names with control characters or invalid UTF-8 are refused at signing
 * and by the manifest check, the diag naming the field and showing the
 * name escaped (never the raw bytes). */
static void
no_raw_control(const char *msg)
{
    for (const char *p = msg; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p != 0x7f &&
              (unsigned char)*p < 0x80);
}

TH_TEST(names_with_control_characters_are_refused_at_signing)
{
    thi_key_t *k = new_key();
    static const struct {
        const char *path, *shown;
    } bad[] = {
        {"evil\x1b[31m.so", "evil\\x1b[31m.so"},
        {"cr\rx", "cr\\rx"},
        {"lf\nFORGED", "lf\\nFORGED"},
        {"bell\a", "bell\\x07"},
        {"bad\xff\xfe", "bad\\xff\\xfe"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        thi_bundle_input_t in = {.path = bad[i].path, .kind = "data",
                                 .data = (const uint8_t *)"x", .size = 1};
        uint8_t *out = NULL;
        size_t len = 0;
        th_diag_t d = {0};
        CHECK_RC(thi_bundle_build(&out, &len, "g", "1", "", NULL, &in, 1, k,
                                  &d),
                 TH_EINVAL);
        CHECK(out == NULL);
        CHECK_CONTAINS(d.msg, "file path");
        CHECK_CONTAINS(d.msg, bad[i].shown);
        no_raw_control(d.msg);
    }
    static const char *const groups[] = {"g\x1b", "g\r", "g\n", "g\a",
                                         "g\xff"};
    for (size_t i = 0; i < 5; i++) {
        thi_bundle_input_t in = {.path = "ok", .kind = "data",
                                 .data = (const uint8_t *)"x", .size = 1};
        uint8_t *out = NULL;
        size_t len = 0;
        th_diag_t d = {0};
        CHECK_RC(thi_bundle_build(&out, &len, groups[i], "1", "", NULL, &in,
                                  1, k, &d),
                 TH_EINVAL);
        CHECK_CONTAINS(d.msg, "group name");
        CHECK_CONTAINS(d.msg, i == 4 ? "not valid UTF-8" : "control character");
        no_raw_control(d.msg);
    }
    /* info is free text, but JSON carries only UTF-8 */
    thi_bundle_input_t in = {.path = "ok", .kind = "data",
                             .data = (const uint8_t *)"x", .size = 1};
    uint8_t *out = NULL;
    size_t len = 0;
    th_diag_t d = {0};
    CHECK_RC(thi_bundle_build(&out, &len, "g", "1", "bad\xff", NULL, &in, 1,
                              k, &d),
             TH_EINVAL);
    CHECK_CONTAINS(d.msg, "info");
    no_raw_control(d.msg);
    thi_key_destroy(k);
}

TH_TEST(manifest_check_shows_bad_names_escaped)
{
    gen_entry_t f = {"lf\nFORGED", "x", 1, 0, 0};
    char *text = gen_manifest(&f, 1, "ok", "1");
    json_t *m = json_loads(text, 0, NULL);
    free(text);
    th_diag_t d = {0};
    CHECK_RC(thi_manifest_check(m, "t.tls", &d), TH_EFORMAT);
    CHECK_CONTAINS(d.msg, "files[0].path (\"lf\\nFORGED\")");
    CHECK_CONTAINS(d.msg, "control character");
    no_raw_control(d.msg);
    json_decref(m);
    gen_entry_t g = {"ok", "x", 1, 0, 0};
    text = gen_manifest(&g, 1, "g\x1b[2J", "1");
    m = json_loads(text, 0, NULL);
    free(text);
    thi_diag_clear(&d);
    CHECK_RC(thi_manifest_check(m, "t.tls", &d), TH_EFORMAT);
    CHECK_CONTAINS(d.msg, "\"group\" (\"g\\x1b[2J\")");
    no_raw_control(d.msg);
    json_decref(m);
}

TH_TEST(plugin_and_type_name_rules)
{
    CHECK(thi_plugin_name_problem("Greeter_2") == NULL);
    CHECK_STREQ(thi_plugin_name_problem("a\x1b"),
                "contains a control character");
    CHECK_STREQ(thi_plugin_name_problem("a\xff"), "is not valid UTF-8");
    CHECK_STREQ(thi_plugin_name_problem("a.b"),
                "has a character outside the allowed set");
    CHECK_STREQ(thi_plugin_name_problem(""), "is empty");
    CHECK(thi_type_name_problem("th.my-type:2") == NULL);
    CHECK_STREQ(thi_type_name_problem("T\nX"), "contains a control character");
    CHECK_STREQ(thi_type_name_problem(
                    "x234567890123456789012345678901234567890123456789012345678"
                    "9012345"),
                "is longer than 64 bytes");
}

/* Plugin entries name their plugin and classes; the TLI names only
 * declared classes: each defect refused with the field it concerns. */
TH_TEST(manifest_plugin_fields_and_tli_classes)
{
    const char *base =
        "{\"format\": 1, \"group\": \"g\", \"version\": \"1\", "
        "\"info\": \"\", \"abi\": {\"major\": 1, \"minor\": 0}, "
        "\"platform\": {\"arch\": \"x86_64\", \"libc\": \"glibc\"}, "
        "\"tli\": %s, \"files\": [%s]}";
    const char *h = "\"sha256\": \"00000000000000000000000000000000"
                    "00000000000000000000000000000000\", \"size\": 1";
    struct {
        const char *tli, *files, *why;
    } cases[] = {
        {"null", "{\"path\": \"p.so\", \"kind\": \"plugin\", %s}",
         "files[0].plugin (p.so) is missing"},
        {"null",
         "{\"path\": \"p.so\", \"kind\": \"plugin\", \"plugin\": "
         "\"p\", \"classes\": [], %s}",
         "files[0].classes (p.so) must be an array of 1 to"},
        {"null",
         "{\"path\": \"p.so\", \"kind\": \"plugin\", \"plugin\": "
         "\"p\", \"classes\": [\"A b\"], %s}",
         "files[0].classes[0] (p.so) is not a valid class name"},
        {"null",
         "{\"path\": \"p.so\", \"kind\": \"plugin\", \"plugin\": "
         "\"p\", \"classes\": [\"A\", \"A\"], %s}",
         "lists A twice"},
        {"null",
         "{\"path\": \"d\", \"kind\": \"data\", \"plugin\": \"p\", "
         "%s}",
         "belong to plugin entries only"},
        {"null",
         "{\"path\": \"p.so\", \"kind\": \"plugin\", \"plugin\": "
         "\"p\", \"classes\": [\"A\"], %s}, {\"path\": \"q.so\", "
         "\"kind\": \"plugin\", \"plugin\": \"p\", \"classes\": "
         "[\"B\"], %s}",
         "declares plugin p twice"},
        {"{\"Actors\": {\"p.B\": {}}}",
         "{\"path\": \"p.so\", \"kind\": \"plugin\", \"plugin\": "
         "\"p\", \"classes\": [\"A\"], %s}",
         "the TLI names class p.B, which no plugin of the bundle declares"},
        {"{\"Actors\": {\"p.A\": {}}}",
         "{\"path\": \"p.so\", \"kind\": \"plugin\", \"plugin\": "
         "\"p\", \"classes\": [\"A\"], %s}",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char files[1024], text[2048];
        snprintf(files, sizeof files, cases[i].files, h, h);
        snprintf(text, sizeof text, base, cases[i].tli, files);
        json_error_t je;
        json_t *m = json_loads(text, 0, &je);
        if (m == NULL)
            TH_FAIL_AT_("case %zu: %s", i, je.text);
        th_diag_t d = {0};
        int rc = thi_manifest_check(m, "b", &d);
        if (cases[i].why) {
            CHECK_RC(rc, TH_EFORMAT);
            CHECK_CONTAINS(d.msg, cases[i].why);
        } else {
            CHECK_RC(rc, 0);
        }
        json_decref(m);
    }
}

TH_TEST_MAIN(TH_CASE(build_verify_read_round_trip),
             TH_CASE(read_skipping_data_reads_only_code),
             TH_CASE(code_stored_data_deflated_and_deflated_code_still_reads),
             TH_CASE(build_is_reproducible), TH_CASE(zip_tools_list_a_bundle),
             TH_CASE(keyring_skips_unusable_key_files), TH_CASE(version_order),
             TH_CASE(names_with_control_characters_are_refused_at_signing),
             TH_CASE(manifest_check_shows_bad_names_escaped),
             TH_CASE(plugin_and_type_name_rules),
             TH_CASE(manifest_plugin_fields_and_tli_classes))
