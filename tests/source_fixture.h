/*
 * tests/source_fixture.h — what tests loading signed bundles share: a
 * temporary director directory with a fresh signing key the Source
 * Authority trusts (THESPIAN_DIRECTOR_DIR), and bundles of real plugin
 * files signed with it.
 */
#ifndef TH_TESTS_SOURCE_FIXTURE_H
#define TH_TESTS_SOURCE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "loader/bundle.h"
#include "rt_util.h"

typedef struct fixture {
    char dir[64];       /* director directory: keys */
    char state[96];     /* system state: sources, versions.json */
    thi_key_t *key;
} fixture_t;

static void
fixture_init(fixture_t *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/th-src-XXXXXX");
    CHECK(mkdtemp(f->dir) != NULL);
    snprintf(f->state, sizeof f->state, "%s/state", f->dir);
    th_diag_t d = {0};
    CHECK_RC(thi_key_generate(&f->key, 2048, &d), 0);
    char *pem = NULL;
    CHECK_RC(thi_key_write_public_pem(f->key, &pem, &d), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/test_tls.key", f->dir);
    CHECK_RC(thi_write_file_atomic(path, (uint8_t *)pem, strlen(pem), &d), 0);
    free(pem);
    setenv("THESPIAN_DIRECTOR_DIR", f->dir, 1);
}

static void
fixture_fini(fixture_t *f)
{
    thi_key_destroy(f->key);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    CHECK_EQ(system(cmd), 0);
}

/* A bundle of real plugin files: (path in bundle, kind, file on disk). */
static uint8_t *
bundle_of(const thi_key_t *key, const char *group, const char *version,
          const char *const files[][3], size_t n, size_t *len)
{
    thi_bundle_input_t in[8];
    uint8_t *data[8];
    th_diag_t d = {0};
    for (size_t i = 0; i < n; i++) {
        size_t sz;
        CHECK_RC(thi_read_file(&data[i], &sz, files[i][2], 64 << 20, &d), 0);
        in[i] = (thi_bundle_input_t){files[i][0], files[i][1], data[i], sz};
    }
    uint8_t *out = NULL;
    if (thi_bundle_build(&out, len, group, version, "test bundle", NULL, in,
                         n, key, &d) != 0)
        TH_FAIL_AT_("build: %s", d.msg);
    for (size_t i = 0; i < n; i++)
        free(data[i]);
    return out;
}

/* How many sources the system holds (mapped or still unloading). */
static size_t
count_sources(th_system_t *sys)
{
    char *text = NULL;
    CHECK_RC(th_system_sources_json(sys, &text), 0);
    json_t *a = json_loads(text, 0, NULL);
    free(text);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

#endif /* TH_TESTS_SOURCE_FIXTURE_H */
