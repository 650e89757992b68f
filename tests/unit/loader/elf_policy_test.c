/*
 * tests/unit/loader/elf_policy_test.c — the ELF policy (loader/elf_policy.c)
 * on real plugins built by meson and on copies patched to another machine
 * or class: what is refused, with which code, and what the diag names.
 */
#include <stdlib.h>
#include <string.h>

#include "loader/bundle.h"
#include "loader/elf_policy.h"
#include "loader/privatize.h"
#include "th_test.h"
#include "thespian/error.h"

static uint8_t *
file_of(const char *var, size_t *len)
{
    const char *path = getenv(var);
    if (path == NULL)
        TH_FAIL_AT_("environment variable %s is not set", var);
    uint8_t *b = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_read_file(&b, len, path, 64 << 20, &d), 0);
    return b;
}

static int
check1(const char *path, const char *kind, const uint8_t *b, size_t len,
       th_diag_t *d)
{
    thi_bundle_input_t in = {.path = path, .kind = kind, .data = b,
                             .size = len};
    thi_diag_clear(d);
    return thi_elf_check_bundle(&in, 1, "b", d);
}

TH_TEST(a_plain_plugin_passes)
{
    size_t len;
    uint8_t *b = file_of("TH_PLUGIN_testactors", &len);
    th_diag_t d;
    CHECK_RC(check1("testactors.so", "plugin", b, len, &d), 0);
    /* a private library needs a soname its users can find it by */
    CHECK_RC(check1("deep/dir/testactors.so", "library", b, len, &d),
             TH_EPERM);
    CHECK_CONTAINS(d.msg, "library deep/dir/testactors.so has no SONAME");
    free(b);
}

TH_TEST(another_machine_or_class_is_named)
{
    size_t len;
    uint8_t *b = file_of("TH_PLUGIN_testactors", &len);
    th_diag_t d;
    uint8_t save[2] = {b[18], b[19]};
    b[18] = 183; /* EM_AARCH64, little endian */
    b[19] = 0;
    CHECK_RC(check1("x.so", "plugin", b, len, &d), TH_EABI);
    CHECK_CONTAINS(d.msg, "plugin x.so: ELF machine AArch64, host x86-64");
    b[18] = 0x34; /* an unknown machine is named by number */
    b[19] = 0x12;
    CHECK_RC(check1("x.so", "plugin", b, len, &d), TH_EABI);
    CHECK_CONTAINS(d.msg, "ELF machine machine 4660");
    b[18] = save[0];
    b[19] = save[1];
    b[4] = 1; /* ELFCLASS32 */
    CHECK_RC(check1("y.so", "library", b, len, &d), TH_EABI);
    CHECK_CONTAINS(d.msg, "library y.so: ELF class 32-bit, host 64-bit");
    b[4] = 2;
    b[5] = 2; /* big endian */
    CHECK_RC(check1("y.so", "plugin", b, len, &d), TH_EABI);
    CHECK_CONTAINS(d.msg, "byte order big-endian");
    free(b);
}

TH_TEST(not_elf_or_truncated_is_malformed)
{
    th_diag_t d;
    const char text[] = "#!/bin/sh\necho hi\n";
    CHECK_RC(check1("x.so", "plugin", (const uint8_t *)text, sizeof text, &d),
             TH_EFORMAT);
    CHECK_CONTAINS(d.msg, "plugin x.so: not an ELF file");
    size_t len;
    uint8_t *b = file_of("TH_PLUGIN_testactors", &len);
    CHECK(check1("x.so", "plugin", b, 64, &d) != 0); /* header only */
    CHECK(check1("x.so", "plugin", b, 0, &d) != 0);
    /* data files are not ELF-checked */
    CHECK_RC(check1("x.txt", "data", (const uint8_t *)text, sizeof text, &d),
             0);
    free(b);
}

TH_TEST(rpath_and_runpath_outside_the_bundle_are_refused)
{
    const char *vars[] = {"TH_PLUGIN_escape_runpath", "TH_PLUGIN_escape_rpath"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        uint8_t *b = file_of(vars[i], &len);
        th_diag_t d;
        CHECK_RC(check1("escape.so", "plugin", b, len, &d), TH_EPERM);
        CHECK_CONTAINS(d.msg, "plugin escape.so: RPATH/RUNPATH entry \"/tmp\" "
                              "is not $ORIGIN-relative");
        free(b);
    }
    /* $ORIGIN/../lib leaves the bundle from its top, not from a subdir */
    size_t len;
    uint8_t *b = file_of("TH_PLUGIN_escape_origin", &len);
    th_diag_t d;
    CHECK_RC(check1("escape.so", "plugin", b, len, &d), TH_EPERM);
    CHECK_CONTAINS(d.msg, "\"$ORIGIN/../lib\" leaves the bundle");
    /* from a subdirectory it stays inside, but code is mapped from sealed
     * memfds, where $ORIGIN is /proc/self/fd: only $ORIGIN itself */
    CHECK_RC(check1("plugins/escape.so", "plugin", b, len, &d), TH_EPERM);
    CHECK_CONTAINS(d.msg, "names a directory other than $ORIGIN");
    free(b);
}

TH_TEST(needed_libraries_come_from_the_bundle_or_the_system)
{
    size_t plen, llen;
    uint8_t *p = file_of("TH_PLUGIN_collide_v1", &plen);
    uint8_t *l = file_of("TH_PLUGIN_libcollide_v1", &llen);
    th_diag_t d;
    /* alone: libcollide.so.1 is nowhere trusted */
    CHECK_RC(check1("collide.so", "plugin", p, plen, &d), TH_EPERM);
    CHECK_CONTAINS(d.msg, "plugin collide.so: NEEDED libcollide.so.1 is "
                          "neither a library of the bundle nor in the "
                          "system's trusted library directories");
    /* with the library under its plain soname: refused, it could bind
     * to another source's libcollide.so.1 or be bound by its plugins */
    thi_bundle_input_t in[2] = {
        {.path = "collide.so", .kind = "plugin", .data = p, .size = plen},
        {.path = "lib/x.so", .kind = "library", .data = l, .size = llen}};
    thi_diag_clear(&d);
    CHECK_RC(thi_elf_check_bundle(in, 2, "b", &d), TH_EPERM);
    CHECK_CONTAINS(d.msg, "library lib/x.so keeps the plain soname "
                          "libcollide.so.1");
    /* renamed (by SONAME, under any path): accepted */
    uint8_t **owned = NULL;
    char tag[17];
    CHECK_RC(thi_privatize(in, 2, "g", "1", &owned, tag, &d), 0);
    char so[256], want[64];
    CHECK_RC(thi_elf_soname(in[1].data, in[1].size, so, sizeof so, "b", &d),
             0);
    snprintf(want, sizeof want, "libcollide.so.1.th-%s", tag);
    CHECK_STREQ(so, want);
    thi_diag_clear(&d);
    CHECK_RC(thi_elf_check_bundle(in, 2, "b", &d), 0);
    /* a data file in the library's place: refused, data is never code */
    thi_bundle_input_t lib = in[1];
    in[1].kind = "data";
    thi_diag_clear(&d);
    CHECK_RC(thi_elf_check_bundle(in, 2, "b", &d), TH_EPERM);
    CHECK_CONTAINS(d.msg, "is neither a library of the bundle");
    /* another version gets another tag; privatizing again renames anew */
    in[1] = lib;
    char tag2[17];
    uint8_t **owned2 = NULL;
    CHECK_RC(thi_privatize(in, 2, "g", "2", &owned2, tag2, &d), 0);
    CHECK(strcmp(tag, tag2) != 0);
    thi_diag_clear(&d);
    CHECK_RC(thi_elf_check_bundle(in, 2, "b", &d), 0);
    CHECK_RC(thi_elf_soname(in[1].data, in[1].size, so, sizeof so, "b", &d),
             0);
    CHECK(strstr(so, tag2) != NULL && strstr(so, tag) == NULL);
    thi_privatize_free(owned2, 2);
    thi_privatize_free(owned, 2);
    free(p);
    free(l);
}

/* An STB_GNU_UNIQUE symbol would keep the object mapped for good: refused,
 * naming the symbol and the build flag, whichever hash table the object
 * has (GNU: the default; SysV); a plugin without one passes. */
TH_TEST(gnu_unique_symbols_are_refused)
{
    const char *const vars[] = {"TH_PLUGIN_gnu_unique",
                                "TH_PLUGIN_gnu_unique_sysv"};
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        uint8_t *b = file_of(vars[i], &len);
        th_diag_t d;
        CHECK_RC(check1("u.so", "plugin", b, len, &d), TH_EABI);
        CHECK_CONTAINS(d.msg, "plugin u.so: defines the STB_GNU_UNIQUE "
                              "symbol th_test_unique_count");
        CHECK_CONTAINS(d.msg, "-fno-gnu-unique");
        CHECK_RC(check1("lib/libu.so", "library", b, len, &d), TH_EABI);
        CHECK_CONTAINS(d.msg, "library lib/libu.so: defines the "
                              "STB_GNU_UNIQUE symbol");
        free(b);
    }
}

TH_TEST(trusted_directories)
{
    CHECK(thi_elf_trusted_lib("libc.so.6"));
    CHECK(!thi_elf_trusted_lib("libthescape.so"));
    CHECK(!thi_elf_trusted_lib("../lib/libc.so.6"));
    CHECK(!thi_elf_trusted_lib("/lib/x86_64-linux-gnu/libc.so.6"));
    CHECK(!thi_elf_trusted_lib(""));
    char buf[32];
    CHECK_STREQ(thi_elf_machine_name(62, buf, sizeof buf), "x86-64");
    CHECK_STREQ(thi_elf_machine_name(9999, buf, sizeof buf), "machine 9999");
}

TH_TEST_MAIN(TH_CASE(a_plain_plugin_passes),
             TH_CASE(gnu_unique_symbols_are_refused),
             TH_CASE(another_machine_or_class_is_named),
             TH_CASE(not_elf_or_truncated_is_malformed),
             TH_CASE(rpath_and_runpath_outside_the_bundle_are_refused),
             TH_CASE(needed_libraries_come_from_the_bundle_or_the_system),
             TH_CASE(trusted_directories))
