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
#include "loader/describe.h"
#include "loader/privatize.h"
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

/* A bundle of real plugin files: (path in bundle, kind, file on disk,
 * descriptor). The descriptor column ("PLUGIN:CLASS,CLASS") goes into the
 * manifest as the plugin's name and classes; NULL reads it from the plugin
 * itself in a child process (thi_plugins_describe) with TH_TEST_MARKER
 * unset, so describing a constructor probe does not count as running it. */
static uint8_t *
bundle_of(const thi_key_t *key, const char *group, const char *version,
          const char *const files[][4], size_t n, size_t *len)
{
    thi_bundle_input_t in[8];
    uint8_t *data[8];
    char *names[8] = {0};
    const char *classes[8][16];
    th_diag_t d = {0};
    bool describe = false;
    for (size_t i = 0; i < n; i++) {
        size_t sz;
        CHECK_RC(thi_read_file(&data[i], &sz, files[i][2], 64 << 20, &d), 0);
        in[i] = (thi_bundle_input_t){.path = files[i][0], .kind = files[i][1],
                                     .data = data[i], .size = sz};
        if (strcmp(files[i][1], "plugin"))
            continue;
        if (files[i][3] == NULL) {
            describe = true;
            continue;
        }
        names[i] = strdup(files[i][3]);
        char *colon = strchr(names[i], ':'), *save = NULL;
        CHECK(colon != NULL);
        *colon = '\0';
        size_t k = 0;
        for (char *c = strtok_r(colon + 1, ",", &save); c && k < 15;
             c = strtok_r(NULL, ",", &save))
            classes[i][k++] = c;
        classes[i][k] = NULL;
        in[i].plugin = names[i];
        in[i].classes = classes[i];
    }
    /* private libraries renamed NAME.th-TAG, as gensrc does */
    uint8_t **renamed = NULL;
    if (thi_privatize(in, n, group, version, &renamed, NULL, &d) != 0)
        TH_FAIL_AT_("privatize: %s", d.msg);
    json_t *desc = NULL;
    if (describe) {
        char *marker = getenv("TH_TEST_MARKER")
                           ? strdup(getenv("TH_TEST_MARKER"))
                           : NULL;
        unsetenv("TH_TEST_MARKER");
        if (thi_plugins_describe(&desc, in, NULL, n, &d) != 0)
            TH_FAIL_AT_("describe: %s", d.msg);
        if (marker)
            setenv("TH_TEST_MARKER", marker, 1);
        free(marker);
        for (size_t i = 0; i < n; i++) {
            json_t *pd = json_object_get(desc, files[i][0]);
            if (pd == NULL || in[i].plugin)
                continue;
            size_t k;
            json_t *c;
            json_array_foreach(json_object_get(pd, "classes"), k, c)
                if (k < 15)
                    classes[i][k] = json_string_value(c);
            classes[i][k < 15 ? k : 15] = NULL;
            in[i].plugin = json_string_value(json_object_get(pd, "plugin"));
            in[i].classes = classes[i];
        }
    }
    uint8_t *out = NULL;
    if (thi_bundle_build(&out, len, group, version, "test bundle", NULL, in,
                         n, key, &d) != 0)
        TH_FAIL_AT_("build: %s", d.msg);
    json_decref(desc);
    thi_privatize_free(renamed, n);
    for (size_t i = 0; i < n; i++) {
        free(data[i]);
        free(names[i]);
    }
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
