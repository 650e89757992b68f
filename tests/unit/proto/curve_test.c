/*
 * tests/unit/proto/curve_test.c — proto/curve.c: key files (made 0600 and
 * never replaced; refused when open to others, a symlink, malformed, or a
 * public key that is not the secret key's), the allow-list (a removed
 * file stops matching at once; unsafe files are skipped with a warning),
 * the key directory rule, and the ipc:// directory rule.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "proto/curve.h"
#include "th_test.h"
#include "thespian/error.h"

static char dir[128];

static int
rm_one(const char *p, const struct stat *st, int f, struct FTW *w)
{
    (void)st;
    (void)f;
    (void)w;
    return remove(p);
}

static void
scratch(void)
{
    snprintf(dir, sizeof dir, "/tmp/th-curve-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

static void
cleanup(void)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void
put(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(fchmod(fd, mode) == 0);
    close(fd);
}

TH_TEST(key_files_round_trip_and_are_private)
{
    scratch();
    char sec[256], pub[256], why[THI_CURVE_WHY];
    snprintf(sec, sizeof sec, "%s/a.key", dir);
    snprintf(pub, sizeof pub, "%s/a.pub", dir);
    thi_curve_key_t k, back;
    CHECK_RC(thi_curve_keygen(&k, why), 0);
    CHECK_RC(thi_curve_write_secret(sec, &k, why), 0);
    CHECK_RC(thi_curve_write_public(pub, k.pub, "a", why), 0);
    struct stat st;
    CHECK_RC(stat(sec, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_RC(thi_curve_load_secret(&back, sec, why), 0);
    CHECK_STREQ(back.pub, k.pub);
    CHECK_STREQ(back.sec, k.sec);
    char p[THI_CURVE_Z85];
    CHECK_RC(thi_curve_load_public(p, pub, why), 0);
    CHECK_STREQ(p, k.pub);
    /* never replaced */
    CHECK_RC(thi_curve_write_secret(sec, &k, why), TH_EEXIST);
    /* a public key file is not a secret key, and the reverse */
    CHECK_RC(thi_curve_load_secret(&back, pub, why), TH_EPERM); /* 0644 */
    CHECK_RC(thi_curve_load_public(p, sec, why), TH_EFORMAT);
    CHECK_CONTAINS(why, "secret key");
    cleanup();
}

TH_TEST(unsafe_or_malformed_secret_files_are_refused)
{
    scratch();
    char sec[256], link[256], why[THI_CURVE_WHY], text[256];
    snprintf(sec, sizeof sec, "%s/a.key", dir);
    snprintf(link, sizeof link, "%s/l.key", dir);
    thi_curve_key_t k, other, back;
    CHECK_RC(thi_curve_keygen(&k, why), 0);
    CHECK_RC(thi_curve_keygen(&other, why), 0);
    CHECK_RC(thi_curve_load_secret(&back, sec, why), TH_ENOENT);
    CHECK_RC(thi_curve_write_secret(sec, &k, why), 0);
    CHECK_RC(chmod(sec, 0640), 0);
    CHECK_RC(thi_curve_load_secret(&back, sec, why), TH_EPERM);
    CHECK_CONTAINS(why, "a.key");
    CHECK_RC(chmod(sec, 0604), 0);
    CHECK_RC(thi_curve_load_secret(&back, sec, why), TH_EPERM);
    CHECK_RC(chmod(sec, 0600), 0);
    CHECK_RC(symlink(sec, link), 0);
    CHECK_RC(thi_curve_load_secret(&back, link, why), TH_EPERM);
    CHECK_CONTAINS(why, "symbolic link");
    /* a public line that is not the secret key's */
    snprintf(text, sizeof text, "public %s\nsecret %s\n", other.pub, k.sec);
    put(sec, text, 0600);
    CHECK_RC(thi_curve_load_secret(&back, sec, why), TH_EFORMAT);
    CHECK_CONTAINS(why, "does not belong");
    put(sec, "secret tooshort\n", 0600);
    CHECK_RC(thi_curve_load_secret(&back, sec, why), TH_EFORMAT);
    CHECK_CONTAINS(why, "line 1");
    snprintf(text, sizeof text, "# only a public key\npublic %s\n", k.pub);
    put(sec, text, 0600);
    CHECK_RC(thi_curve_load_secret(&back, sec, why), TH_EFORMAT);
    cleanup();
}

static int warnings;

static void
count_warn(void *arg, const char *line)
{
    (void)arg;
    (void)line;
    warnings++;
}

TH_TEST(allow_list_is_read_at_every_call)
{
    scratch();
    char path[256], bad[256], why[THI_CURVE_WHY], name[64];
    thi_curve_key_t a, b;
    CHECK_RC(thi_curve_keygen(&a, why), 0);
    CHECK_RC(thi_curve_keygen(&b, why), 0);
    uint8_t abin[32], bbin[32];
    CHECK(zmq_z85_decode(abin, a.pub) != NULL);
    CHECK(zmq_z85_decode(bbin, b.pub) != NULL);
    CHECK(!thi_curve_allowed(dir, abin, name, count_warn, NULL));
    snprintf(path, sizeof path, "%s/alice.pub", dir);
    CHECK_RC(thi_curve_write_public(path, a.pub, "alice", why), 0);
    CHECK(thi_curve_allowed(dir, abin, name, count_warn, NULL));
    CHECK_STREQ(name, "alice");
    CHECK(!thi_curve_allowed(dir, bbin, name, count_warn, NULL));
    /* a group-writable file is skipped, with a warning */
    snprintf(bad, sizeof bad, "%s/bob.pub", dir);
    CHECK_RC(thi_curve_write_public(bad, b.pub, "bob", why), 0);
    CHECK_RC(chmod(bad, 0664), 0);
    warnings = 0;
    CHECK(!thi_curve_allowed(dir, bbin, name, count_warn, NULL));
    CHECK(warnings >= 1);
    /* a malformed file does not hide the others */
    put(bad, "garbage\n", 0644);
    CHECK(thi_curve_allowed(dir, abin, name, count_warn, NULL));
    /* an allow-list others may write to allows nobody */
    CHECK_RC(chmod(dir, 0777), 0);
    warnings = 0;
    CHECK(!thi_curve_allowed(dir, abin, name, count_warn, NULL));
    CHECK_EQ(warnings, 1);
    CHECK_RC(chmod(dir, 0700), 0);
    /* removed: refused at once */
    CHECK_RC(unlink(path), 0);
    CHECK(!thi_curve_allowed(dir, abin, name, count_warn, NULL));
    cleanup();
}

TH_TEST(key_directory_rule)
{
    char buf[THI_CURVE_PATH], why[THI_CURVE_WHY];
    setenv("HOME", "/home/x", 1);
    unsetenv("THESPIAN_KEY_DIR");
    unsetenv("THESPIAN_DIRECTOR_DIR");
    CHECK_RC(thi_curve_key_dir(buf, NULL, NULL, why), 0);
    CHECK_STREQ(buf, "/home/x/.thespian");
    setenv("THESPIAN_DIRECTOR_DIR", "/dd", 1);
    CHECK_RC(thi_curve_key_dir(buf, NULL, NULL, why), 0);
    CHECK_STREQ(buf, "/dd");
    CHECK_RC(thi_curve_key_dir(buf, NULL, "/opt", why), 0);
    CHECK_STREQ(buf, "/opt");
    setenv("THESPIAN_KEY_DIR", "/k", 1);
    CHECK_RC(thi_curve_key_dir(buf, NULL, "/opt", why), 0);
    CHECK_STREQ(buf, "/k");
    CHECK_RC(thi_curve_key_dir(buf, "/e", "/opt", why), 0);
    CHECK_STREQ(buf, "/e");
}

TH_TEST(host_init_makes_keys_once_and_refuses_open_directories)
{
    scratch();
    char kdir[256], why[THI_CURVE_WHY], path[512];
    snprintf(kdir, sizeof kdir, "%s/k", dir);
    thi_curve_key_t k1, k2;
    bool created;
    CHECK_RC(thi_curve_host_init(&k1, &created, kdir, why), 0);
    CHECK(created);
    CHECK_RC(thi_curve_host_init(&k2, &created, kdir, why), 0);
    CHECK(!created);
    CHECK_STREQ(k1.pub, k2.pub);
    /* the operator key is allow-listed */
    thi_curve_key_t op;
    snprintf(path, sizeof path, "%s/curve/operator.key", kdir);
    CHECK_RC(thi_curve_load_secret(&op, path, why), 0);
    uint8_t bin[32];
    char name[64];
    CHECK(zmq_z85_decode(bin, op.pub) != NULL);
    snprintf(path, sizeof path, "%s/curve/clients", kdir);
    CHECK(thi_curve_allowed(path, bin, name, NULL, NULL));
    CHECK_STREQ(name, "operator");
    snprintf(path, sizeof path, "%s/curve", kdir);
    CHECK_RC(chmod(path, 0755), 0);
    CHECK_RC(thi_curve_host_init(&k2, &created, kdir, why), TH_EPERM);
    CHECK_CONTAINS(why, "open to group or others");
    cleanup();
}

TH_TEST(ipc_directory_rule)
{
    scratch();
    char ep[300], sub[256], link[256], why[THI_CURVE_WHY];
    snprintf(sub, sizeof sub, "%s/run", dir);
    snprintf(ep, sizeof ep, "ipc://%s/a.sock", sub);
    CHECK_RC(thi_curve_ipc_dir(ep, why), 0);
    struct stat st;
    CHECK_RC(lstat(sub, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0700);
    CHECK_RC(chmod(sub, 0711), 0);
    CHECK_RC(thi_curve_ipc_dir(ep, why), TH_EPERM);
    CHECK_CONTAINS(why, sub);
    CHECK_RC(chmod(sub, 0700), 0);
    snprintf(link, sizeof link, "%s/ln", dir);
    CHECK_RC(symlink(sub, link), 0);
    snprintf(ep, sizeof ep, "ipc://%s/a.sock", link);
    CHECK_RC(thi_curve_ipc_dir(ep, why), TH_EPERM);
    CHECK_CONTAINS(why, "symbolic link");
    CHECK_RC(thi_curve_ipc_dir("tcp://127.0.0.1:1", why), 0);
    cleanup();
}

TH_TEST_MAIN(TH_CASE(key_files_round_trip_and_are_private),
             TH_CASE(unsafe_or_malformed_secret_files_are_refused),
             TH_CASE(allow_list_is_read_at_every_call),
             TH_CASE(key_directory_rule),
             TH_CASE(host_init_makes_keys_once_and_refuses_open_directories),
             TH_CASE(ipc_directory_rule))
