/*
 * tests/unit/loader/describe_test.c — thi_plugins_describe reads plugin
 * descriptors in a child process: the answer names each plugin and its
 * classes, the constructor runs (once, in the child) and nothing of the
 * plugin is ever mapped in the caller; refusals name the file.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loader/bundle.h"
#include "loader/describe.h"
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

/* Is anything whose path contains `needle` mapped in this process? */
static bool
mapped_here(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

TH_TEST(describes_in_a_child_and_maps_nothing_here)
{
    char marker[] = "/tmp/th-describe-XXXXXX";
    int fd = mkstemp(marker);
    CHECK(fd >= 0);
    close(fd);
    unlink(marker);
    setenv("TH_TEST_MARKER", marker, 1);
    size_t len;
    uint8_t *so = file_of("TH_PLUGIN_ctor_marker", &len);
    thi_bundle_input_t in[] = {
        {.path = "p/ctor_marker.so", .kind = "plugin", .data = so,
         .size = len},
        {.path = "readme", .kind = "data", .data = (const uint8_t *)"x",
         .size = 1}};
    json_t *out = NULL;
    th_diag_t d = {0};
    CHECK_RC(thi_plugins_describe(&out, in, NULL, 2, &d), 0);
    json_t *p = json_object_get(out, "p/ctor_marker.so");
    CHECK_STREQ(json_string_value(json_object_get(p, "plugin")),
                "ctor_marker");
    CHECK_EQ(json_array_size(json_object_get(p, "classes")), 1);
    CHECK_STREQ(json_string_value(
                    json_array_get(json_object_get(p, "classes"), 0)),
                "Marker");
    CHECK_EQ(json_object_size(out), 1); /* data is not described */
    /* the constructor ran once, in the child; nothing is mapped here */
    FILE *f = fopen(marker, "r");
    CHECK(f != NULL);
    char line[64] = "";
    CHECK(fgets(line, sizeof line, f) != NULL);
    CHECK(fgets(line, sizeof line, f) == NULL);
    fclose(f);
    unlink(marker);
    CHECK(!mapped_here("ctor_marker"));
    CHECK(!mapped_here("thespian-describe-"));
    json_decref(out);
    free(so);
}

TH_TEST(refusals_name_the_file)
{
    size_t len;
    uint8_t *so = file_of("TH_PLUGIN_no_descriptor", &len);
    thi_bundle_input_t in = {.path = "nd.so", .kind = "plugin", .data = so,
                             .size = len};
    json_t *out = NULL;
    th_diag_t d = {0};
    const char *const names[] = {"src/nd.so"};
    CHECK_RC(thi_plugins_describe(&out, &in, names, 1, &d), TH_EABI);
    CHECK_CONTAINS(d.msg, "src/nd.so: not a thespian-c plugin");
    free(so);
    so = file_of("TH_PLUGIN_bad_major", &len);
    in = (thi_bundle_input_t){.path = "bm.so", .kind = "plugin", .data = so,
                              .size = len};
    thi_diag_clear(&d);
    CHECK_RC(thi_plugins_describe(&out, &in, NULL, 1, &d), TH_EABI);
    CHECK_CONTAINS(d.msg, "bm.so");
    CHECK_CONTAINS(d.msg, "major");
    in.path = "../bm.so";
    thi_diag_clear(&d);
    CHECK_RC(thi_plugins_describe(&out, &in, NULL, 1, &d), TH_EABI);
    CHECK_CONTAINS(d.msg, "not a relative bundle path");
    free(so);
}

/* Is a describe staging directory left in $TMPDIR? */
static bool
staging_left(void)
{
    const char *t = getenv("TMPDIR");
    DIR *dir = opendir(t && *t ? t : "/tmp");
    CHECK(dir != NULL);
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(dir)) != NULL)
        found = strncmp(e->d_name, "thespian-describe-", 18) == 0;
    closedir(dir);
    return found;
}

/* A plugin whose constructor never returns: the check gives up at its
 * bound, kills the child and says why, instead of hanging gensrc. */
TH_TEST(a_constructor_that_never_returns_is_bounded)
{
    char tmp[] = "/tmp/th-describe-tmp-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    setenv("TMPDIR", tmp, 1); /* a directory of its own to look into */
    setenv("TH_TEST_HANG", "1", 1);
    setenv("THESPIAN_CHECK_TIMEOUT_MS", "300", 1);
    size_t len;
    uint8_t *so = file_of("TH_PLUGIN_ctor_marker", &len);
    thi_bundle_input_t in = {.path = "hang.so", .kind = "plugin", .data = so,
                             .size = len};
    json_t *out = NULL;
    th_diag_t d = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_RC(thi_plugins_describe(&out, &in, NULL, 1, &d), TH_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(s < 10.0);
    CHECK(out == NULL);
    CHECK_CONTAINS(d.msg, "did not finish within 300 ms");
    CHECK(!staging_left());
    unsetenv("TH_TEST_HANG");
    unsetenv("THESPIAN_CHECK_TIMEOUT_MS");
    unsetenv("TMPDIR");
    rmdir(tmp);
    free(so);
}

TH_TEST_MAIN(TH_CASE(describes_in_a_child_and_maps_nothing_here),
             TH_CASE(refusals_name_the_file),
             TH_CASE(a_constructor_that_never_returns_is_bounded))
