/*
 * director/cli_tls.c — the director directory as the CLI sees it: its
 * signed bundles scanned, verified against its trusted keys, ordered by
 * group and version, the newest of a group picked (load, refresh, avail,
 * list); and those keys as a host reads them (keys, config).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "director/cli.h"
#include "director/cli_tls.h"
#include "director/config.h"
#include "loader/bundle.h"
#include "loader/keyring.h"
#include "thespian/error.h"

static void
tls_fini(cli_tls_t *t)
{
    free(t->file);
    free(t->path);
    free(t->group);
    free(t->version);
    free(t->reason);
}

void
cli_tls_scan_fini(cli_tls_scan_t *s)
{
    for (size_t i = 0; s && s->items && i < s->n; i++)
        tls_fini(&s->items[i]);
    if (s) {
        free(s->items);
        s->items = NULL;
        s->n = 0;
    }
}

/* Verify and read one bundle; any failure becomes t->reason. Returns
 * TH_ENOMEM only (everything else is a property of the file). */
static int
tls_check(cli_tls_t *t, const thi_keyring_t *kr)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    th_diag_t d = {0};
    thi_bundle_t *b = NULL;
    thi_verified_t v;
    if (thi_read_file(&buf, &len, t->path, THI_BUNDLE_MAX_BYTES, &d) == 0) {
        uint8_t h[32];
        thi_sha256(h, buf, len);
        thi_hex(t->hash, h, 32);
        if (thi_bundle_verify(&v, buf, len, kr, t->file, &d) == 0)
            thi_bundle_read(&b, buf, v.signed_len, t->file, &d);
    }
    free(buf);
    if (b == NULL)
        return (t->reason = strdup(d.msg)) ? 0 : TH_ENOMEM;
    t->group = strdup(b->group);
    t->version = b->version ? strdup(b->version) : NULL;
    bool ok = t->group && (t->version || !b->version);
    thi_bundle_free(b);
    return ok ? 0 : TH_ENOMEM;
}

static int
tls_order(const void *pa, const void *pb)
{
    const cli_tls_t *a = pa, *b = pb;
    if ((a->group == NULL) != (b->group == NULL))
        return a->group ? -1 : 1;
    int c = a->group ? strcmp(a->group, b->group) : 0;
    if (c == 0 && a->group)
        c = thi_version_cmp(b->version, a->version);
    return c ? c : strcmp(a->file, b->file);
}

static int
scan_files(cli_tls_scan_t *out, char **names, size_t n,
           const thi_keyring_t *kr)
{
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (out->items == NULL)
        return TH_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        cli_tls_t *t = &out->items[out->n++];
        t->file = strdup(names[i]);
        if (t->file == NULL ||
            asprintf(&t->path, "%s/%s", out->dir, names[i]) < 0) {
            t->path = NULL;
            return TH_ENOMEM;
        }
        int rc = tls_check(t, kr);
        if (rc != 0)
            return rc;
    }
    qsort(out->items, out->n, sizeof *out->items, tls_order);
    return 0;
}

int
cli_tls_scan(const cli_cmd_t *cmd, cli_tls_scan_t *out)
{
    memset(out, 0, sizeof *out);
    cli_director_dir(out->dir, sizeof out->dir);
    th_diag_t d = {0};
    char **names = NULL, *warnings = NULL;
    size_t n = 0;
    thi_keyring_t *kr = NULL;
    if (thi_dir_names(&names, &n, out->dir, ".tls", &d) != 0)
        return cli_fail(cmd, "director directory %s", d.msg);
    int rc = CLI_OK;
    if (thi_keyring_load_dir(&kr, out->dir, &warnings, &d) != 0) {
        rc = cli_fail(cmd, "%s", d.msg);
        goto out_names;
    }
    if (warnings)
        fputs(warnings, stderr);
    if (scan_files(out, names, n, kr) != 0) {
        cli_tls_scan_fini(out);
        rc = cli_fail(cmd, "%s: out of memory", out->dir);
    }
    free(warnings);
    thi_keyring_destroy(kr);
out_names:
    thi_names_free(names, n);
    return rc;
}

const cli_tls_t *
cli_tls_newest(const cli_tls_scan_t *s, const char *group)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].group && strcmp(s->items[i].group, group) == 0)
            return &s->items[i];
    return NULL;
}

int
cli_tls_pick(const cli_cmd_t *cmd, const char *group, char *path, size_t n)
{
    cli_tls_scan_t s;
    if (cli_tls_scan(cmd, &s) != CLI_OK)
        return CLI_FAIL;
    const cli_tls_t *t = cli_tls_newest(&s, group);
    int rc = CLI_OK;
    if (t == NULL)
        rc = cli_fail(cmd,
                      "group %s: no verified bundle of it in %s (see "
                      "thespian avail)",
                      group, s.dir);
    else if ((size_t)snprintf(path, n, "%s", t->path) >= n)
        rc = cli_fail(cmd, "%s: path too long", t->path);
    else
        fprintf(cli_json_out ? stderr : stdout,
                "chose %s (%s %s, the newest verified in %s)\n",
               cli_safe(t->file), cli_safe(group),
               t->version ? cli_safe(t->version) : "unversioned",
               cli_safe(s.dir));
    cli_tls_scan_fini(&s);
    return rc;
}

/* ---- the trusted keys ---------------------------------------------------- */

void
cli_print_keys(FILE *f, const json_t *keys)
{
    const char *dir = json_string_value(json_object_get(keys, "dir"));
    const char *problem = json_string_value(json_object_get(keys, "problem"));
    fprintf(f, "trusted keys (%s):\n", dir && *dir ? dir : "no key directory");
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(keys, "trusted"), i, k)
        fprintf(f, "  %-24s sha256:%s (%lld bits)\n",
                json_string_value(json_object_get(k, "file")),
                json_string_value(json_object_get(k, "fingerprint")),
                (long long)json_integer_value(json_object_get(k, "bits")));
    json_array_foreach(json_object_get(keys, "skipped"), i, k)
        fprintf(f, "  %-24s SKIPPED: %s\n",
                json_string_value(json_object_get(k, "file")),
                json_string_value(json_object_get(k, "reason")));
    if (problem)
        fprintf(f, "  no trusted key: %s (every load is refused)\n", problem);
}

json_t *
cli_local_keys(void)
{
    char dir[4096];
    cli_director_dir(dir, sizeof dir);
    thi_keyring_t *kr = NULL;
    th_diag_t d = {0};
    if (thi_keyring_load_dir(&kr, dir, NULL, &d) != 0)
        return NULL;
    json_t *o = thi_keyring_json(kr);
    thi_keyring_destroy(kr);
    return o;
}
