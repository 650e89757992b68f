/*
 * tests/unit/loader/keyring_test.c — the key policy (loader/keyring.h):
 * weak exponent, symlinked, non-regular, group/world-writable and
 * foreign-owned key files are skipped with a reason naming the file while
 * the good key keeps verifying; a directory that is a symlink, writable by
 * others or foreign-owned trusts no key and says why; the listing gives
 * each key's fingerprint; an empty keyring refuses "no trusted key".
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle_gen.h"

typedef struct keydir {
    char dir[64];
    thi_key_t *key; /* the good key, private: signs */
} keydir_t;

static void
put(const char *dir, const char *name, const char *text, mode_t mode)
{
    char p[300];
    th_diag_t d = {0};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CHECK_RC(thi_write_file_atomic(p, (const uint8_t *)text, strlen(text),
                                   &d),
             0);
    CHECK_EQ(chmod(p, mode), 0);
}

static void
keydir_init(keydir_t *k)
{
    snprintf(k->dir, sizeof k->dir, "/tmp/th-kr-XXXXXX");
    CHECK(mkdtemp(k->dir) != NULL);
    th_diag_t d = {0};
    CHECK_RC(thi_key_generate(&k->key, 2048, &d), 0);
    char *pem = NULL;
    CHECK_RC(thi_key_write_public_pem(k->key, &pem, &d), 0);
    put(k->dir, "good_tls.key", pem, 0644);
    free(pem);
}

static void
keydir_fini(keydir_t *k)
{
    thi_key_destroy(k->key);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", k->dir);
    CHECK_EQ(system(cmd), 0);
}

/* A bundle signed by k->key verifies with kr. */
static void
good_key_verifies(keydir_t *k, const thi_keyring_t *kr)
{
    static const char *const classes[] = {"A", NULL};
    thi_bundle_input_t in[] = {{.path = "a.so", .kind = "plugin",
                                .data = (const uint8_t *)"x", .size = 1,
                                .plugin = "a", .classes = classes}};
    size_t len;
    uint8_t *b = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_bundle_build(&b, &len, "g", "1", "", NULL, in, 1, k->key,
                              &d),
             0);
    thi_verified_t v;
    CHECK_RC(thi_bundle_verify(&v, b, len, kr, "t.tls", &d), 0);
    CHECK_STREQ(v.key_name, "good_tls.key");
    free(b);
}

static const char *
skipped_reason(const json_t *list, const char *file)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(list, "skipped"), i, s)
        if (strcmp(json_string_value(json_object_get(s, "file")), file) == 0)
            return json_string_value(json_object_get(s, "reason"));
    return NULL;
}

TH_TEST(weak_exponent_is_skipped)
{
    keydir_t k;
    keydir_init(&k);
    char cmd[400];
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
             "-pkeyopt rsa_keygen_pubexp:3 2>/dev/null | openssl pkey "
             "-pubout -out %s/e3_tls.key 2>/dev/null",
             k.dir);
    CHECK_EQ(system(cmd), 0);
    thi_keyring_t *kr = NULL;
    char *warn = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_keyring_load_dir(&kr, k.dir, &warn, &d), 0);
    CHECK_EQ(thi_keyring_count(kr), 1);
    CHECK_CONTAINS(warn, "e3_tls.key");
    CHECK_CONTAINS(warn, "exponent");
    json_t *list = thi_keyring_json(kr);
    CHECK_CONTAINS(skipped_reason(list, "e3_tls.key"), "exponent is not 65537");
    json_decref(list);
    good_key_verifies(&k, kr);
    free(warn);
    thi_keyring_destroy(kr);
    keydir_fini(&k);
}

TH_TEST(unsafe_key_files_are_skipped)
{
    keydir_t k;
    keydir_init(&k);
    th_diag_t d = {0};
    thi_key_t *other = NULL;
    CHECK_RC(thi_key_generate(&other, 2048, &d), 0);
    char *pem = NULL;
    CHECK_RC(thi_key_write_public_pem(other, &pem, &d), 0);
    /* each a valid key, placed unsafely */
    put(k.dir, "world_tls.key", pem, 0646);
    put(k.dir, "group_tls.key", pem, 0664);
    put(k.dir, "owned_tls.key", pem, 0644);
    char p[300], target[300];
    snprintf(p, sizeof p, "%s/owned_tls.key", k.dir);
    bool as_root = geteuid() == 0;
    if (as_root)
        CHECK_EQ(chown(p, 65534, 65534), 0);
    snprintf(target, sizeof target, "%s/target.pem", k.dir);
    put(k.dir, "target.pem", pem, 0644);
    snprintf(p, sizeof p, "%s/link_tls.key", k.dir);
    CHECK_EQ(symlink(target, p), 0);
    snprintf(p, sizeof p, "%s/fifo_tls.key", k.dir);
    CHECK_EQ(mkfifo(p, 0600), 0);
    snprintf(p, sizeof p, "%s/dir_tls.key", k.dir);
    CHECK_EQ(mkdir(p, 0700), 0);
    thi_keyring_t *kr = NULL;
    char *warn = NULL;
    CHECK_RC(thi_keyring_load_dir(&kr, k.dir, &warn, &d), 0);
    CHECK_EQ(thi_keyring_count(kr), as_root ? 1 : 2);
    json_t *list = thi_keyring_json(kr);
    CHECK_CONTAINS(skipped_reason(list, "world_tls.key"), "world-writable");
    CHECK_CONTAINS(skipped_reason(list, "group_tls.key"), "group-writable");
    CHECK_CONTAINS(skipped_reason(list, "link_tls.key"), "symbolic link");
    CHECK_CONTAINS(skipped_reason(list, "fifo_tls.key"), "a FIFO");
    CHECK_CONTAINS(skipped_reason(list, "dir_tls.key"), "a directory");
    if (as_root)
        CHECK_CONTAINS(skipped_reason(list, "owned_tls.key"),
                       "owned by uid 65534");
    CHECK_CONTAINS(warn, "world_tls.key");
    CHECK_CONTAINS(warn, "link_tls.key");
    /* the listing names the good key with its fingerprint */
    uint8_t fp[32];
    char hex[65];
    thi_key_fingerprint(fp, k.key);
    thi_hex(hex, fp, 32);
    json_t *t0 = json_array_get(json_object_get(list, "trusted"), 0);
    CHECK_STREQ(json_string_value(json_object_get(t0, "file")),
                "good_tls.key");
    CHECK_STREQ(json_string_value(json_object_get(t0, "fingerprint")), hex);
    CHECK(json_object_get(list, "problem") == NULL);
    json_decref(list);
    good_key_verifies(&k, kr);
    free(warn);
    free(pem);
    thi_key_destroy(other);
    thi_keyring_destroy(kr);
    keydir_fini(&k);
}

/* warned: the directory failed the policy (a warning line says so);
 * otherwise the reason is only the keyring's problem. */
static void
expect_no_key(const char *dir, const char *why, bool warned)
{
    thi_keyring_t *kr = NULL;
    char *warn = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_keyring_load_dir(&kr, dir, &warn, &d), 0);
    CHECK_EQ(thi_keyring_count(kr), 0);
    if (warned) {
        CHECK_CONTAINS(warn, why);
        CHECK_CONTAINS(warn, "no key is trusted");
    }
    CHECK_CONTAINS(thi_keyring_problem(kr), why);
    /* a bundle that would verify is refused with the reason */
    uint8_t junk[600] = {0};
    thi_verified_t v;
    CHECK_RC(thi_bundle_verify(&v, junk, sizeof junk, kr, "t.tls", &d),
             TH_EPERM);
    CHECK_CONTAINS(d.msg, "no trusted key: ");
    CHECK_CONTAINS(d.msg, why);
    free(warn);
    thi_keyring_destroy(kr);
}

TH_TEST(unsafe_directory_trusts_no_key)
{
    keydir_t k;
    keydir_init(&k);
    CHECK_EQ(chmod(k.dir, 0777), 0);
    expect_no_key(k.dir, "world-writable", true);
    CHECK_EQ(chmod(k.dir, 0770), 0);
    expect_no_key(k.dir, "group-writable", true);
    CHECK_EQ(chmod(k.dir, 0700), 0);
    char link[128];
    snprintf(link, sizeof link, "%s-link", k.dir);
    CHECK_EQ(symlink(k.dir, link), 0);
    expect_no_key(link, "is a symbolic link", true);
    unlink(link);
    if (geteuid() == 0) {
        CHECK_EQ(chown(k.dir, 65534, 65534), 0);
        expect_no_key(k.dir, "owned by uid 65534", true);
        CHECK_EQ(chown(k.dir, 0, 0), 0);
    }
    char file[128];
    snprintf(file, sizeof file, "%s/good_tls.key", k.dir);
    expect_no_key(file, "not a directory", true);
    /* the same directory, made safe again, trusts its key */
    thi_keyring_t *kr = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_keyring_load_dir(&kr, k.dir, NULL, &d), 0);
    CHECK_EQ(thi_keyring_count(kr), 1);
    thi_keyring_destroy(kr);
    keydir_fini(&k);
}

TH_TEST(empty_directory_and_empty_ring_say_so)
{
    char dir[] = "/tmp/th-kr-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    expect_no_key(dir, "no *_tls.key file in", false);
    put(dir, "bad_tls.key", "not a key", 0644);
    expect_no_key(dir, "every key file in", false);
    char p[300];
    snprintf(p, sizeof p, "%s/bad_tls.key", dir);
    unlink(p);
    rmdir(dir);
    thi_keyring_t *kr = NULL;
    CHECK_RC(thi_keyring_create(&kr), 0);
    CHECK_STREQ(thi_keyring_problem(kr), "the keyring is empty");
    CHECK_STREQ(thi_keyring_problem(NULL), "no key directory is configured");
    thi_keyring_destroy(kr);
}

TH_TEST_MAIN(TH_CASE(weak_exponent_is_skipped),
             TH_CASE(unsafe_key_files_are_skipped),
             TH_CASE(unsafe_directory_trusts_no_key),
             TH_CASE(empty_directory_and_empty_ring_say_so))
